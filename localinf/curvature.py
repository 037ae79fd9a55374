"""Curvature of the empirical risk as linear operators.

Every measure in localinf needs products with ``H^{-1}``, the inverse Hessian
of the penalised empirical risk at ``theta_hat``. Curvature choices are
interchangeable :class:`scipy.sparse.linalg.LinearOperator` objects, so a
measure never needs to know how the solve is done.
"""

import numpy as np
import scipy.linalg as sla
from scipy.sparse.linalg import LinearOperator

from .exceptions import InputError, SingularHessianError


# OpenBLAS's multi-threaded Cholesky (dpotrf) was seen to crash the process
# (segmentation fault) at p ~ 17,000 on a 2-core machine, while the same call
# on one thread, and the threaded triangular solves afterwards, run fine.
# Above this size the factorisation therefore runs on one BLAS thread.
_THREADED_CHOLESKY_MAX_P = 10_000


def _single_threaded_blas(active):
    """Context limiting BLAS to one thread when ``active`` (needs threadpoolctl)."""
    import contextlib
    if not active:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class InverseHessian(LinearOperator):
    """Exact ``H^{-1}`` from a Cholesky factorisation of a dense Hessian.

    Parameters
    ----------
    H : ndarray (p, p)
        Symmetric Hessian of R at theta_hat.
    rtol : float, default 1e-12
        ``H`` counts as singular (then :class:`SingularHessianError`) when the
        Cholesky factorisation fails or its reciprocal condition number is at
        or below ``rtol``: exactly ``lambda_min / lambda_max`` for
        ``p <= 2000``; above that LAPACK's O(p^2) estimate from the factor
        (1-norm, within a factor p of the 2-norm value), so that no O(p^3)
        eigen-decomposition is needed besides the factorisation.

    Attributes
    ----------
    hessian : ndarray (p, p)
        H itself (``LinearOperator.H`` is the adjoint, so the name differs).
    eigenvalues : ndarray (p,)
        Eigenvalues of H in ascending order (computed on first use).
    condition_number : float
        ``lambda_max / lambda_min`` (p <= 2000) or the 1-norm estimate.
    """

    _EXACT_EIG_MAX_P = 2000

    def __init__(self, H, rtol=1e-12):
        H = np.asarray(H, dtype=np.float64)
        self.hessian = 0.5 * (H + H.T)
        p = self.hessian.shape[0]
        self._eigenvalues = None
        try:
            with _single_threaded_blas(p > _THREADED_CHOLESKY_MAX_P):
                self._cho = sla.cho_factor(self.hessian, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            self._cho = None
        if p <= self._EXACT_EIG_MAX_P or self._cho is None:
            lam = self.eigenvalues if p <= self._EXACT_EIG_MAX_P else None
            rcond = lam[0] / lam[-1] if lam is not None and lam[-1] > 0 else -np.inf
            desc = (f"eigenvalues from {lam[0]:.3e} to {lam[-1]:.3e}" if lam is not None
                    else "the Cholesky factorisation failed")
        else:
            anorm = float(np.max(np.sum(np.abs(self.hessian), axis=0)))
            rcond, info = sla.lapack.dpocon(self._cho[0], anorm, uplo="L")
            desc = f"estimated reciprocal condition number {rcond:.1e}"
        self._rcond = float(rcond)
        if self._cho is None or not self._rcond > rtol:
            raise SingularHessianError(
                f"the Hessian at theta_hat is singular or not positive definite ({desc}); the "
                "design probably has linearly dependent columns. Drop redundant features or fit "
                "with l2 > 0")
        super().__init__(dtype=np.float64, shape=self.hessian.shape)

    @property
    def eigenvalues(self):
        if self._eigenvalues is None:
            self._eigenvalues = np.linalg.eigvalsh(self.hessian)
        return self._eigenvalues

    @property
    def condition_number(self):
        return float(1.0 / self._rcond)

    def _matvec(self, b):
        return sla.cho_solve(self._cho, np.asarray(b, dtype=np.float64).ravel())

    def _matmat(self, B):
        return sla.cho_solve(self._cho, np.asarray(B, dtype=np.float64))

    def _adjoint(self):
        return self

    def todense(self):
        """Explicit ``H^{-1}`` (p, p)."""
        return self._matmat(np.eye(self.shape[0]))


class DampedInverse(LinearOperator):
    """``(H + damping I)^+`` from an eigen-decomposition, for Hessians that need care.

    Non-convex models (networks) can have a Hessian at theta_hat that is not
    positive definite. Eigenvalues of ``H + damping I`` at or below
    ``rtol * lambda_max`` are dropped (pseudo-inverse); a warning says when
    H itself had non-positive eigenvalues.

    Parameters
    ----------
    H : ndarray (p, p)
    damping : float, default 0
    rtol : float, default 1e-12
    """

    def __init__(self, H, damping=0.0, rtol=1e-12):
        H = np.asarray(H, dtype=np.float64)
        self.hessian = 0.5 * (H + H.T)
        self.damping = float(damping)
        lam, V = np.linalg.eigh(self.hessian)
        self.eigenvalues = lam
        lam_d = lam + self.damping
        keep = lam_d > rtol * max(lam_d[-1], 0.0)
        if not keep.any():
            raise SingularHessianError("H + damping has no positive eigenvalue; increase damping")
        self._V, self._inv = V[:, keep], 1.0 / lam_d[keep]
        self.rank = int(keep.sum())
        self.condition_number = float(lam_d[keep][-1] / lam_d[keep][0])
        super().__init__(dtype=np.float64, shape=self.hessian.shape)

    def _matmat(self, B):
        B = np.asarray(B, dtype=np.float64)
        return self._V @ (self._inv[:, None] * (self._V.T @ B))

    def _matvec(self, b):
        return self._matmat(np.asarray(b, dtype=np.float64).reshape(-1, 1)).ravel()

    def _adjoint(self):
        return self


class CGInverse(LinearOperator):
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
        self._hvp, self.damping, self.tol = hvp, float(damping), float(tol)
        self.maxiter = maxiter or 10 * p
        if preconditioner is not None and getattr(preconditioner, "shape", None) != (p, p):
            raise InputError(f"preconditioner must be a ({p}, {p}) LinearOperator")
        self.preconditioner = preconditioner
        self.n_hvp = 0
        super().__init__(dtype=np.float64, shape=(p, p))

    def _op(self, v):
        self.n_hvp += 1
        return self._hvp(v) + self.damping * v

    def _matvec(self, b):
        from scipy.sparse.linalg import LinearOperator as LO, cg
        b = np.asarray(b, dtype=np.float64).ravel()
        if not np.any(b):
            return np.zeros_like(b)
        A = LO(self.shape, matvec=self._op, dtype=np.float64)
        x, info = cg(A, b, rtol=self.tol, atol=0.0, maxiter=self.maxiter, M=self.preconditioner)
        if info != 0:
            import warnings
            warnings.warn(f"CG did not reach rtol={self.tol} in {self.maxiter} iterations "
                          "(H may be indefinite or ill-conditioned; add damping)", RuntimeWarning,
                          stacklevel=2)
        return x

    def _adjoint(self):
        return self


class LissaInverse(LinearOperator):
    """``(H + damping I)^{-1} b`` by the LiSSA recursion (Agarwal et al. 2017).

    ``v_0 = b``, ``v_{j+1} = b + (I - (H + damping I) / scale) v_j``; then
    ``v_J / scale -> (H + damping I)^{-1} b`` when ``scale`` exceeds the largest
    eigenvalue of ``H + damping I``. This full-batch form is deterministic; the
    error after J steps is at most ``(1 - lambda_min / scale)^J`` relative.

    Parameters
    ----------
    hvp : callable, p : int
    damping : float, default 0
    scale : float, optional
        Default: 1.1 times a power-iteration estimate of lambda_max.
    depth : int, default 1000
    """

    def __init__(self, hvp, p, damping=0.0, scale=None, depth=1000, seed=0):
        self._hvp, self.damping, self.depth = hvp, float(damping), int(depth)
        if scale is None:
            v = np.random.default_rng(seed).normal(size=p)
            for _ in range(50):
                w = hvp(v) + self.damping * v
                lam = np.linalg.norm(w) / np.linalg.norm(v)
                v = w / np.linalg.norm(w)
            scale = 1.1 * lam
        self.scale = float(scale)
        super().__init__(dtype=np.float64, shape=(p, p))

    def _matvec(self, b):
        b = np.asarray(b, dtype=np.float64).ravel()
        v = b.copy()
        for _ in range(self.depth):
            v = b + v - (self._hvp(v) + self.damping * v) / self.scale
        return v / self.scale

    def _adjoint(self):
        return self


CURVATURES = ("exact", "cg", "lissa", "kfac")


def make_curvature(kind, backend, **options):
    """The inverse-Hessian operator for a backend with ``hessian()`` and ``hvp(v)``.

    ``"exact"``: dense autograd Hessian (p up to a few thousand); Cholesky when
    it is positive definite and ``damping`` is 0, else :class:`DampedInverse`
    with a warning. ``"cg"``: :class:`CGInverse`. ``"lissa"``:
    :class:`LissaInverse`. ``"kfac"``: :class:`localinf.kfac.KFACInverse`
    (networks from :func:`localinf.fit_mlp`). A ready LinearOperator is used as given.
    """
    if isinstance(kind, LinearOperator):
        return kind
    if kind == "exact":
        H = backend.hessian()
        damping = float(options.get("damping", 0.0))
        if damping == 0.0:
            try:
                return InverseHessian(H)
            except SingularHessianError:
                pass
        lam = np.linalg.eigvalsh(0.5 * (H + H.T))
        if lam[0] <= 0:
            from .autodiff import warn_if_not_pd
            warn_if_not_pd(lam)
        return DampedInverse(H, damping=damping, rtol=options.get("rtol", 1e-12))
    if kind == "cg":
        pre = options.get("preconditioner")
        if isinstance(pre, str):
            if pre not in ("kfac",):
                raise InputError(f"curvature_options['preconditioner'] must be 'kfac' or a "
                                 f"LinearOperator; got {pre!r}")
            options = dict(options, preconditioner=make_curvature(pre, backend))
        return CGInverse(backend.hvp, backend.p, **options)
    if kind == "lissa":
        return LissaInverse(backend.hvp, backend.p, **options)
    if kind == "kfac":
        from .kfac import KFACInverse
        return KFACInverse(backend.model, backend.X, backend.y, **options)
    raise InputError(f"curvature must be one of {CURVATURES} or a LinearOperator; got {kind!r}")
