"""Curvature of the empirical risk as linear operators.

Every measure in localinf needs products with ``H^{-1}``, the inverse Hessian
of the penalised empirical risk at ``theta_hat``. Curvature choices are
interchangeable :class:`scipy.sparse.linalg.LinearOperator` objects, so a
measure never needs to know how the solve is done.
"""

import numpy as np
import scipy.linalg as sla
from scipy.sparse.linalg import LinearOperator

from .exceptions import SingularHessianError


class InverseHessian(LinearOperator):
    """Exact ``H^{-1}`` from a Cholesky factorisation of a dense Hessian.

    Parameters
    ----------
    H : ndarray (p, p)
        Symmetric Hessian of R at theta_hat.
    rtol : float, default 1e-12
        ``H`` counts as singular when its smallest eigenvalue is below
        ``rtol`` times its largest (then :class:`SingularHessianError`).

    Attributes
    ----------
    hessian : ndarray (p, p)
        H itself (``LinearOperator.H`` is the adjoint, so the name differs).
    eigenvalues : ndarray (p,)
        Eigenvalues of H in ascending order (for diagnostics).
    """

    def __init__(self, H, rtol=1e-12):
        H = np.asarray(H, dtype=np.float64)
        self.hessian = 0.5 * (H + H.T)
        self.eigenvalues = np.linalg.eigvalsh(self.hessian)
        lo, hi = self.eigenvalues[0], self.eigenvalues[-1]
        if not hi > 0 or lo <= rtol * hi:
            raise SingularHessianError(
                f"the Hessian at theta_hat is singular or not positive definite "
                f"(eigenvalues from {lo:.3e} to {hi:.3e}); the design probably has linearly "
                "dependent columns. Drop redundant features or fit with l2 > 0")
        self._cho = sla.cho_factor(self.hessian, lower=True)
        super().__init__(dtype=np.float64, shape=self.hessian.shape)

    @property
    def condition_number(self):
        return float(self.eigenvalues[-1] / self.eigenvalues[0])

    def _matvec(self, b):
        return sla.cho_solve(self._cho, np.asarray(b, dtype=np.float64).ravel())

    def _matmat(self, B):
        return sla.cho_solve(self._cho, np.asarray(B, dtype=np.float64))

    def _adjoint(self):
        return self

    def todense(self):
        """Explicit ``H^{-1}`` (p, p)."""
        return self._matmat(np.eye(self.shape[0]))
