"""Matrix-free curvature: ``(H + damping I)^{-1} b`` from Hessian-vector products."""

import warnings

import numpy as np
from scipy.sparse.linalg import LinearOperator, cg

from .._core.budget import check_cost
from .._core.checks import check_nonneg_float, check_positive_int, check_seed
from ..exceptions import InputError, SingularHessianError
from .base import InverseOperator


class CGInverse(InverseOperator):
    """``(H + damping I)^{-1} b`` by conjugate gradients on Hessian-vector products.

    Parameters
    ----------
    hvp : callable (p,) -> (p,)
    p : int
    damping : float, default 0
    tol : float, default 1e-10
        Relative residual ``||(H + damping) x - b|| <= tol ||b||``.
    maxiter : int, default 10 p
    preconditioner : LinearOperator (p, p), optional
        A symmetric positive definite approximation of ``(H + damping I)^{-1}``
        (e.g. K-FAC). It changes how fast CG converges, not what it converges
        to: the stopping rule is on the residual of the exact H.

    Attributes
    ----------
    n_hvp : int
        Hessian-vector products used so far.
    """

    def __init__(self, hvp, p, damping=0.0, tol=1e-10, maxiter=None, preconditioner=None):
        p = _check_hvp(hvp, p)
        self._hvp, self.damping = hvp, check_nonneg_float(damping, "damping")
        self.tol = check_nonneg_float(tol, "tol")
        if self.tol == 0:
            raise InputError("tol must be a finite number > 0; got 0")
        self.maxiter = 10 * p if maxiter is None else check_positive_int(maxiter, "maxiter")
        if preconditioner is not None and getattr(preconditioner, "shape", None) != (p, p):
            raise InputError(f"preconditioner must be a ({p}, {p}) LinearOperator")
        self.preconditioner = preconditioner
        self.n_hvp = 0
        self._negative = np.inf  # least curvature met by CG's directions in the last solve
        super().__init__(p)

    def _op(self, v):
        self.n_hvp += 1
        Av = _product(self._hvp, v, self.shape[0]) + self.damping * v
        # CG multiplies its search directions: v^T A v <= 0 is a direction of non-positive
        # curvature, proof that H + damping I is not positive definite (one dot product).
        curvature = float(v @ Av)
        if not curvature > 0 and np.any(v):
            self._negative = min(self._negative, curvature / float(v @ v))
        return Av

    def _matvec(self, b):
        b = np.asarray(b, dtype=np.float64).ravel()
        if not np.any(b):
            return np.zeros_like(b)
        A = LinearOperator(self.shape, matvec=self._op, dtype=np.float64)
        self._negative = np.inf
        x, info = cg(A, b, rtol=self.tol, atol=0.0, maxiter=self.maxiter, M=self.preconditioner)
        if self._negative <= 0:
            raise SingularHessianError(
                f"CG met a direction of non-positive curvature (v^T (H + damping I) v / v^T v = "
                f"{self._negative:.3g}): H + damping I is not positive definite, so theta_hat is "
                "not a strict minimum; add damping, or use curvature='exact' (damped pseudo-inverse)")
        if info != 0:
            warnings.warn(f"CG did not reach rtol={self.tol} in {self.maxiter} iterations "
                          "(H may be indefinite or ill-conditioned; add damping)", RuntimeWarning,
                          stacklevel=2)
        return x


class LissaInverse(InverseOperator):
    """``(H + damping I)^{-1} b`` by the LiSSA recursion (Agarwal et al. 2017).

    ``v_0 = b``, ``v_{j+1} = b + (I - (H + damping I) / scale) v_j``; then
    ``v_J / scale -> (H + damping I)^{-1} b`` when ``scale`` exceeds the largest
    eigenvalue of ``H + damping I``. This full-batch form is deterministic; the
    error after J steps is at most ``(1 - lambda_min / scale)^J`` relative.

    Parameters
    ----------
    hvp : callable
        ``hvp(v) -> H v`` for v of shape (p,).
    p : int
    damping : float, default 0
    scale : float, optional
        Default: 1.1 times a power-iteration estimate of lambda_max.
    depth : int, default 1000
    seed : int, default 0
        Start of the power iteration for ``scale``.
    """

    def __init__(self, hvp, p, damping=0.0, scale=None, depth=1000, seed=0):
        p = _check_hvp(hvp, p)
        self._hvp, self.damping = hvp, check_nonneg_float(damping, "damping")
        self.depth = check_positive_int(depth, "depth")
        seed = check_seed(seed)
        # each step is one Hessian-vector product, at least a pass over p numbers
        check_cost(f"LiSSA with depth {self.depth} on {p} parameters",
                   "use a smaller depth, or curvature='cg'", flops=4.0 * self.depth * p)
        if scale is None:
            scale = 1.1 * self._largest_eigenvalue(np.random.default_rng(seed).normal(size=p))
        elif check_nonneg_float(scale, "scale") == 0:
            raise InputError("scale must be a finite number > 0; got 0")
        self.scale = float(scale)
        super().__init__(p)

    def _largest_eigenvalue(self, v):
        """Power-iteration estimate of lambda_max(H + damping I) (50 products)."""
        lam = 0.0
        for _ in range(50):
            w = _product(self._hvp, v, v.size) + self.damping * v
            size, norm_w = np.linalg.norm(v), np.linalg.norm(w)
            if not (np.isfinite(norm_w) and norm_w > 0):
                break
            lam, v = norm_w / size, w / norm_w
        if not (np.isfinite(lam) and lam > 0 and np.isfinite(1.1 * lam)):
            raise SingularHessianError(
                f"LiSSA cannot estimate the scale: the power iteration on H + damping I gave "
                f"{lam!r}; H must be positive definite and finite (add damping, or pass scale=)")
        return lam

    def _matvec(self, b):
        b = np.asarray(b, dtype=np.float64).ravel()
        v = b.copy()
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging recursion: caught below
            for _ in range(self.depth):
                v = b + v - (_product(self._hvp, v, b.size) + self.damping * v) / self.scale
                if not np.isfinite(v).all():
                    break
        return v / self.scale


def _check_hvp(hvp, p):
    """``p`` as an int after checking ``hvp`` is callable."""
    if not callable(hvp):
        raise InputError(f"hvp must be a callable v -> H v; got {type(hvp).__name__}")
    return check_positive_int(p, "p")


def _product(hvp, v, p):
    """``hvp(v)`` as a float array of shape (p,), or InputError naming what came back."""
    try:
        out = np.asarray(hvp(v))
    except (TypeError, ValueError) as exc:
        raise InputError(f"hvp(v) must return real numbers of shape ({p},): {exc}") from None
    if out.dtype.kind not in "biuf":
        raise InputError(f"hvp(v) must return real numbers; got dtype {out.dtype}")
    out = out.astype(np.float64, copy=False)
    if out.shape != (p,):
        raise InputError(f"hvp(v) must return an array of shape ({p},); got shape {out.shape}")
    return out
