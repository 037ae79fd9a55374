"""Measures that do not involve the perturbation's D_i: IV, classic influence,
self-influence and leverage.

They use ``H^{-1}`` and loss gradients alone, so they are the same under either
``scaling`` or ``invariant`` of :class:`~localinf.LocalInfluence`.
"""

import numpy as np

from .._core.budget import check_table
from .._core.checks import check_finite_result, row_labels


class ClassicMeasures:
    """IV, influence, self-influence and leverage of :class:`~localinf.LocalInfluence` (a base
    class: uses its ``_row_measure``, ``_query``, ``_solved``, ``H_inv_`` and sizes)."""

    def influence_value(self, X_val, y_val):
        """IV baseline: ``IV_i = gbar_V^T H^{-1} grad_theta L(z_i)``.

        ``gbar_V`` is the MEAN validation gradient (a sum would scale IV by |V|).
        Sign: up-weighting z_i by eps changes the mean validation loss by about
        ``-eps * IV_i``, and deleting z_i (eps = -1/n) by about ``+IV_i / n``.
        So a negative IV marks a harmful point (deleting it lowers the
        validation loss); IV trimming removes the b lowest values.

        Parameters
        ----------
        X_val, y_val : array_like (m, d) and (m,)
            The validation set; ``gbar_V`` is the mean of its loss gradients.

        Returns
        -------
        ndarray (n,)
        """
        return self.against(X_val, y_val).influence_value()

    def influence(self, X_test, y_test):
        """Classic influence of up-weighting each training point on each test loss.

        ``I(z_i, z_t) = -grad L(z_t)^T H^{-1} grad L(z_i)`` (Koh & Liang 2017),
        the derivative of L(z_t) when z_i's weight in the risk grows by eps.
        Positive: up-weighting z_i raises the test loss (z_i is harmful to z_t);
        deleting z_i changes the test loss by about ``-I / n``.

        Parameters
        ----------
        X_test : array_like (m, d)
            Test inputs x_t.
        y_test : array_like (m,)
            Their labels 0..K-1.

        Returns
        -------
        ndarray (n, m)
            Column t: the influence of every training row on the loss at z_t.
        """
        Xt, yt = self._query(X_test, y_test, "X_test", "y_test")
        check_table("influence", self.n_, Xt.shape[0], self.p_)
        W = self._solved(Xt, yt)
        out = np.empty((self.n_, Xt.shape[0]))
        for sl in self._chunks():
            out[sl] = -(self._rows(sl).loss_grad @ W)
        check_finite_result(out.T, "influence on test row", labels=row_labels(X_test))
        return self._per_row(out, "influence")

    def self_influence(self):
        """Self-influence ``grad L(z_i)^T H^{-1} grad L(z_i)``, >= 0.

        Large values flag points the model fits poorly and leans on heavily,
        the usual ranking for likely mislabeled points.

        Returns
        -------
        ndarray (n,)
        """
        if self._closed_rank_one():  # grad L = r xt: r^2 xt^T H^{-1} xt
            def per_chunk(rows):
                s, r, t = self.backend_.rank_one().hat_terms(rows.X, rows.y)
                return r * r * t
        else:
            def per_chunk(rows):
                Gr = rows.loss_grad
                return np.einsum("ij,ji->i", Gr, self.H_inv_.matmat(Gr.T))
        return self._row_measure("self_influence", per_chunk)

    def _closed_rank_one(self):
        """Whether the backend's binary closed forms apply (its own exact operator in use)."""
        return self.backend_.rank_one_metric and self.H_inv_ is self.backend_.H_inv

    def leverage(self):
        """Generalised leverage ``h_i = (1/N) sum_c P(c|x_i) a_ic^T H^{-1} a_ic`` (N = n unweighted).

        ``a_ic = grad_theta log P(c|x_i)``: the trace of H^{-1} times row i's
        share of the Fisher information. For logistic regression without a
        penalty this is the GLM hat value ``s_i xt_i^T (X^T S X)^{-1} xt_i``
        (statsmodels' ``hat_matrix_diag``); for softmax regression it is the
        trace of the multinomial hat block of row i.

        Returns
        -------
        ndarray (n,)
        """
        if self._closed_rank_one():  # sum_c P_c a_c a_c^T = s xt xt^T
            def per_chunk(rows):
                s, r, t = self.backend_.rank_one().hat_terms(rows.X, rows.y)
                return s * t / self.n_obs_
            return self._row_measure("leverage", per_chunk)

        def per_chunk(rows):
            A = rows.logp_grad  # (m, K, p)
            HA = self.H_inv_.matmat(A.reshape(rows.m * self.K_, self.p_).T).T.reshape(A.shape)
            return np.einsum("ic,icp,icp->i", rows.proba, A, HA) / self.n_obs_
        return self._row_measure("leverage", per_chunk)
