"""Per-row measures that do not involve the perturbation's D_i: self-influence and leverage.

Both use ``H^{-1}`` alone, so they are the same under either ``scaling`` of
:class:`~localinf.LocalInfluence`.
"""

import numpy as np


class ClassicMeasures:
    """Self-influence and generalised leverage of :class:`~localinf.LocalInfluence` (a base
    class: uses its ``_row_measure``, ``H_inv_``, ``n_``, ``p_`` and ``K_``)."""

    def self_influence(self):
        """Self-influence ``grad L(z_i)^T H^{-1} grad L(z_i)``, >= 0.

        Large values flag points the model fits poorly and leans on heavily,
        the usual ranking for likely mislabeled points.

        Returns
        -------
        ndarray (n,)
        """
        def per_chunk(rows):
            Gr = rows.loss_grad
            return np.einsum("ij,ji->i", Gr, self.H_inv_.matmat(Gr.T))
        return self._row_measure("self_influence", per_chunk)

    def leverage(self):
        """Generalised leverage ``h_i = (1/n) sum_c P(c|x_i) a_ic^T H^{-1} a_ic``.

        ``a_ic = grad_theta log P(c|x_i)``: the trace of H^{-1} times row i's
        share of the Fisher information. For logistic regression without a
        penalty this is the GLM hat value ``s_i xt_i^T (X^T S X)^{-1} xt_i``
        (statsmodels' ``hat_matrix_diag``); for softmax regression it is the
        trace of the multinomial hat block of row i.

        Returns
        -------
        ndarray (n,)
        """
        def per_chunk(rows):
            A = rows.logp_grad  # (m, K, p)
            HA = self.H_inv_.matmat(A.reshape(rows.m * self.K_, self.p_).T).T.reshape(A.shape)
            return np.einsum("ic,icp,icp->i", rows.proba, A, HA) / self.n_
        return self._row_measure("leverage", per_chunk)
