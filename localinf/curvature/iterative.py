"""Matrix-free curvature: ``(H + damping I)^{-1} b`` from Hessian-vector products."""

import warnings

import numpy as np
from scipy.sparse.linalg import LinearOperator, cg

from ..exceptions import InputError
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
        self._hvp, self.damping, self.tol = hvp, float(damping), float(tol)
        self.maxiter = maxiter or 10 * p
        if preconditioner is not None and getattr(preconditioner, "shape", None) != (p, p):
            raise InputError(f"preconditioner must be a ({p}, {p}) LinearOperator")
        self.preconditioner = preconditioner
        self.n_hvp = 0
        super().__init__(p)

    def _op(self, v):
        self.n_hvp += 1
        return self._hvp(v) + self.damping * v

    def _matvec(self, b):
        b = np.asarray(b, dtype=np.float64).ravel()
        if not np.any(b):
            return np.zeros_like(b)
        A = LinearOperator(self.shape, matvec=self._op, dtype=np.float64)
        x, info = cg(A, b, rtol=self.tol, atol=0.0, maxiter=self.maxiter, M=self.preconditioner)
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
        self._hvp, self.damping, self.depth = hvp, float(damping), int(depth)
        if scale is None:
            v = np.random.default_rng(seed).normal(size=p)
            for _ in range(50):
                w = hvp(v) + self.damping * v
                lam = np.linalg.norm(w) / np.linalg.norm(v)
                v = w / np.linalg.norm(w)
            scale = 1.1 * lam
        self.scale = float(scale)
        super().__init__(p)

    def _matvec(self, b):
        b = np.asarray(b, dtype=np.float64).ravel()
        v = b.copy()
        for _ in range(self.depth):
            v = b + v - (self._hvp(v) + self.damping * v) / self.scale
        return v / self.scale
