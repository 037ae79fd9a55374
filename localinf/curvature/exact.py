"""Exact curvature: ``H^{-1}`` from a dense Hessian (Cholesky, or a damped pseudo-inverse)."""

import contextlib
import warnings

import numpy as np
import scipy.linalg as sla
from threadpoolctl import threadpool_limits

from .._core.checks import check_hessian, check_nonneg_float
from ..exceptions import SingularHessianError
from .base import InverseOperator


# OpenBLAS's multi-threaded Cholesky (dpotrf) was seen to crash the process
# (segmentation fault) at p ~ 17,000 on a 2-core machine, while the same call
# on one thread, and the threaded triangular solves afterwards, run fine.
# Above this size the factorisation therefore runs on one BLAS thread.
_THREADED_CHOLESKY_MAX_P = 10_000


def _single_threaded_blas(active):
    """Context limiting BLAS to one thread when ``active`` (needs threadpoolctl)."""
    if not active:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class InverseHessian(InverseOperator):
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
        self.hessian = check_hessian(H)
        rtol = check_nonneg_float(rtol, "rtol")
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
        super().__init__(p)

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

    def todense(self):
        """Explicit ``H^{-1}``.

        Returns
        -------
        ndarray (p, p)
        """
        return self._matmat(np.eye(self.shape[0]))


class DampedInverse(InverseOperator):
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
        self.hessian = check_hessian(H)
        self.damping = check_nonneg_float(damping, "damping")
        rtol = check_nonneg_float(rtol, "rtol")
        lam, V = np.linalg.eigh(self.hessian)
        self.eigenvalues = lam
        lam_d = lam + self.damping
        keep = lam_d > rtol * max(lam_d[-1], 0.0)
        if not keep.any():
            raise SingularHessianError("H + damping has no positive eigenvalue; increase damping")
        self._V, self._inv = V[:, keep], 1.0 / lam_d[keep]
        self.rank = int(keep.sum())
        self.condition_number = float(lam_d[keep][-1] / lam_d[keep][0])
        super().__init__(self.hessian.shape[0])

    def _matmat(self, B):
        B = np.asarray(B, dtype=np.float64)
        return self._V @ (self._inv[:, None] * (self._V.T @ B))

    def todense(self):
        """Explicit ``(H + damping I)^+``.

        Returns
        -------
        ndarray (p, p)
        """
        return self._matmat(np.eye(self.shape[0]))


def inverse_of_dense(H, damping=0.0, rtol=1e-12):
    """The exact operator for a dense Hessian: Cholesky when H is positive definite and
    there is no damping, else the damped pseudo-inverse, with a warning when H itself
    is not positive definite.

    Parameters
    ----------
    H : ndarray (p, p)
    damping : float, default 0
    rtol : float, default 1e-12
        Relative eigenvalue level treated as zero: below it H counts as singular
        (no Cholesky), and the pseudo-inverse drops those directions.

    Returns
    -------
    InverseHessian or DampedInverse
    """
    H = check_hessian(H)
    if check_nonneg_float(damping, "damping") == 0.0:
        try:
            return InverseHessian(H, rtol=rtol)
        except SingularHessianError:
            pass
    lam = np.linalg.eigvalsh(H)
    if lam[0] <= 0:
        warnings.warn(
            f"the Hessian at theta_hat is not positive definite (eigenvalues {lam[0]:.3e} .. "
            f"{lam[-1]:.3e}); theta_hat is not a strict local minimum, so D_i is not unique. Using "
            "the damped pseudo-inverse; results depend on the damping and the cut-off.",
            RuntimeWarning, stacklevel=4)
    return DampedInverse(H, damping=damping, rtol=rtol)


