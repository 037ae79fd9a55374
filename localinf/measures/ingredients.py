"""The ingredients of eq. 2.1-2.3 for one training point at a time: M_i, D_i, G_i, g_i.

For teaching and for checking: each is what the measures use internally in
vectorised form, returned for a single row so it can be compared with a
derivation, a finite difference or another library.
"""

import numpy as np

from .._core.checks import check_index
from .pinv import metric_eig


class Ingredients:
    """Per-point ingredients of :class:`~localinf.LocalInfluence` (its base class).

    Uses the influence object's ``backend_``, training rows and ``H_inv_``.
    """

    def mixed_partial(self, i):
        """``M_i = d/dx d/dtheta L(y_i, x_i; theta_hat)``.

        Parameters
        ----------
        i : int
            Training row.

        Returns
        -------
        ndarray (p, d)
        """
        i = check_index(i, self.n_)
        return self._rows(slice(i, i + 1)).mixed(np.eye(self.d_)[None])[0].T

    def dtheta_domega(self, i):
        """``D_i = d theta_hat(x_i + omega)/d omega at 0 = -(1/n) H^{-1} M_i``, eq. 2.2.

        Parameters
        ----------
        i : int
            Training row whose input is perturbed.

        Returns
        -------
        ndarray (p, d)
        """
        return -self.H_inv_.matmat(self.mixed_partial(i)) / self.backend_.D_divisor

    def metric(self, i):
        """The metric tensor ``G_i = sum_c P(c|x_i) v_ic v_ic^T``.

        Parameters
        ----------
        i : int
            Training row; G_i is the Fisher information of its predictive
            distribution under the perturbation.

        Returns
        -------
        ndarray (d, d)
        """
        i = check_index(i, self.n_)
        F = self._rows(slice(i, i + 1)).metric_factor()[0]
        return F @ F.T

    def gradient(self, i, X_query, y_query):
        """``g_i(z'_q) = D_i^T grad_theta L(z'_q)`` for each query.

        Parameters
        ----------
        i : int
        X_query, y_query : array_like (m, d) and (m,)
            The query points z'_q.

        Returns
        -------
        ndarray (m, d)
        """
        Xq, yq = self._query(X_query, y_query)
        return self.backend_.rows(Xq, yq).loss_grad @ self.dtheta_domega(i)

    def metric_rank(self):
        """Number of eigenvalues of G_i kept by the rank cut-off.

        Returns
        -------
        ndarray of int (n,)
        """
        kept = lambda rows: (metric_eig(rows.metric_factor(), self.rtol, self.atol)[2] > 0).sum(axis=1)
        return self._row_measure("metric_rank", kept, dtype=np.int64)
