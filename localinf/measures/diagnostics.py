"""Classic deletion diagnostics of logistic and softmax regression, in closed form.

What statisticians compute first (R's ``influence.measures``, statsmodels'
``GLMInfluence``): leverage, Pearson, deviance, standardised and studentised
residuals, the one-step and exact change of the parameters when one
observation is deleted, Cook's distance, DFFITS and a Bonferroni outlier test.

Notation for row i (``N = sum_j w_j``, n without weights; K classes):

* ``A = N H`` (p, p): the Hessian of the summed objective
  ``sum_j w_j L_j + N l2 ||coef||^2`` (the observed = expected information);
* ``Z_i`` (p, K-1): column a is ``grad_theta eta_a(x_i)``, eta_a = log P_a - log P_0
  (for the logit ``xt_i`` in parameter block a);
* ``e_i = e_y - pi_i`` (K-1,): one-hot label minus the probabilities of classes 1..K-1;
* ``S_i = diag(pi_i) - pi_i pi_i^T``, ``Q_i = Z_i^T A^{-1} Z_i`` ((K-1) x (K-1));
* ``u_i = (I - S_i Q_i)^{-1} e_i``.

Deleting one observation of row i and taking one Newton step from theta_hat
gives ``theta_hat - theta_(i) = A^{-1} Z_i u_i`` (Sherman-Morrison-Woodbury on
``A - Z_i S_i Z_i^T``); for K = 2 this is Pregibon's (1981)
``A^{-1} xt_i (y_i - mu_i) / (1 - h_i)``. Everything else follows:

* leverage ``h_i = tr(S_i Q_i)``, the trace of the multinomial hat block
  ``S^{1/2} Q S^{1/2}`` (Lesaffre & Albert 1989); K = 2: ``mu(1-mu) xt^T A^{-1} xt``;
* Pearson ``X_i^2 = e^T S^{-1} e = sum_c (y_c - P_c)^2 / P_c = (1 - P_y) / P_y``;
* deviance ``d_i^2 = -2 log P(y_i|x_i)``;
* standardised Pearson ``s_i^2 = e^T (S - S Q S)^{-1} e = X_i^2 + e^T Q u`` (the
  residual over its covariance; K = 2: ``r_P / sqrt(1 - h)``);
* studentised ``r_i^2 = d_i^2 + e^T Q u`` (Williams' 1987 approximation of the
  deletion change in deviance, R's ``rstudent.glm``; K = 2:
  ``d^2 + h r_P^2 / (1 - h)``);
* Cook's distance ``D_i = Delta_i^T A Delta_i / p = u^T Q u / p``;
* ``dffits_internal = sqrt(u^T Q u)``: the one-step change of row i's fitted
  linear predictors in units of their standard error (statsmodels'
  ``d_fittedvalues_scaled`` for K = 2), ``dffits = dffits_internal r_i / s_i``.

For K = 2 the residuals and DFFITS carry the sign of ``y - mu``; for K > 2
they are the non-negative square roots. The penalty is held fixed on deletion
(the summed objective keeps ``N l2 ||coef||^2``); with frequency weights each
value is that of deleting ONE of row i's w_i observations.
"""

import numpy as np
from scipy.stats import chi2

from .._core.budget import check_cost
from .._core.checks import check_finite_result, check_rows
from ..exceptions import InputError, LocalInfluenceError, NumericalError
from ..models import multinomial as mn
from ..models.autograd_model import AutogradModel
from ..models.glm import MultinomialLogit, SoftmaxRegression


def _rows_arg(rows, n):
    """Row indices (k,): all for None, else checked."""
    return np.arange(n) if rows is None else check_rows(rows, n)


class DeletionDiagnostics:
    """Classic deletion diagnostics of :class:`~localinf.LocalInfluence` (a base class:
    uses its backend, ``H_inv_``, sizes, weights and ``_per_row``)."""

    def _is_glm(self):
        """Whether each row's Hessian equals its Fisher information, as the formulas need."""
        model = self.model
        return isinstance(model, MultinomialLogit) or isinstance(model, AutogradModel) and \
            model.linear_in_params

    def _check_glm(self):
        if not self.at_minimiser_:
            raise InputError("at_minimiser=False: the classic diagnostics (residuals scaled by the "
                             "hat matrix, deletion formulas, and the tables that hold them) are "
                             "closed forms at the minimiser; refit the model to its minimiser first")
        if self._is_glm():
            return
        raise InputError("model: the classic deletion diagnostics are closed forms for logistic and "
                         "softmax regression (LogisticRegression, SoftmaxRegression); for a network "
                         "use FI, IV or self_influence")

    def _deletion(self):
        """Per-row ``(h, e^T Q u, u^T Q u, log P_y, sign)`` (n,) each and the one-step
        ``theta_hat - theta_(i)`` (n, p), computed once per operator."""
        state, values = self._cache.get("_deletion", (None, None))
        if state is not None and self._is_current(state):
            return values
        self._check_glm()
        p, k1 = self.p_, self.K_ - 1
        out = {k: np.empty(self.n_) for k in ("h", "eQu", "uQu", "logpy", "sign")}
        dfbeta = np.empty((self.n_, p))
        for sl in self._chunks():
            rows = self._rows(sl)
            m = rows.m
            A = rows.logp_grad
            Z = A[:, 1:] - A[:, :1]  # (m, K-1, p): grad_theta eta_a
            AZ = self.H_inv_.matmat(Z.reshape(m * k1, p).T).T.reshape(m, k1, p) / self.n_obs_
            Q = np.einsum("iap,ibp->iab", Z, AZ)
            Q = 0.5 * (Q + np.swapaxes(Q, 1, 2))
            S = mn.covariance(rows.proba)
            e = -mn.residual(rows.proba, rows.y)  # e_y - pi
            SQ = S @ Q
            lev = np.einsum("iaa->i", SQ)
            det = np.linalg.det(np.eye(k1)[None] - SQ)
            if not (det > 1e-12).all():
                i = sl.start + int(np.flatnonzero(~(det > 1e-12))[0])
                raise NumericalError(
                    f"row {self._labels()[i]}: its leverage ({lev[i - sl.start]:.3g}) leaves nothing "
                    "to fit after deleting one observation of it (I - S_i Q_i is singular), so the "
                    "deletion diagnostics do not exist there. With sample_weight this happens when "
                    f"the observations are few (N = {self.n_obs_:g}) or the row's weight is below 1; "
                    "otherwise the row alone determines some parameter")
            u = np.linalg.solve(np.eye(k1)[None] - SQ, e[:, :, None])[:, :, 0]
            Qu = np.einsum("iab,ib->ia", Q, u)
            out["h"][sl] = lev
            out["eQu"][sl] = np.einsum("ia,ia->i", e, Qu)
            out["uQu"][sl] = np.einsum("ia,ia->i", u, Qu)
            out["logpy"][sl] = rows.log_proba[np.arange(m), rows.y]
            out["sign"][sl] = np.sign(e[:, 0]) if k1 == 1 else 1.0
            dfbeta[sl] = np.einsum("ia,iap->ip", u, AZ)
        values = (out, dfbeta)
        self._cache["_deletion"] = (self._state(), values)
        return values

    def _named(self, values, name):
        return self._per_row(np.asarray(values, dtype=float), name)

    # -- residuals -------------------------------------------------------------
    def resid_pearson(self):
        """Pearson residuals.

        ``X_i^2 = sum_c (y_ic - P_ic)^2 / P_ic = (1 - P_y) / P_y`` (the row's
        Pearson chi-square contribution); for K = 2 signed as ``y - mu``, i.e.
        ``(y - mu) / sqrt(mu (1 - mu))`` (R ``residuals(type="pearson")``,
        statsmodels ``resid_pearson``); for K > 2 ``sqrt(X_i^2) >= 0``.

        Returns
        -------
        ndarray (n,)
        """
        out, _ = self._deletion()
        return self._named(out["sign"] * np.sqrt(np.expm1(-out["logpy"])), "resid_pearson")

    def resid_deviance(self):
        """Deviance residuals ``sign(y - mu) sqrt(-2 log P(y_i|x_i))`` (K = 2; R and
        statsmodels ``resid_deviance``); for K > 2 the non-negative root.

        Returns
        -------
        ndarray (n,)
        """
        out, _ = self._deletion()
        return self._named(out["sign"] * np.sqrt(-2.0 * out["logpy"]), "resid_deviance")

    def resid_standardized(self):
        """Standardised Pearson residuals ``s_i``.

        ``s_i^2 = e_i^T (S_i - S_i Q_i S_i)^{-1} e_i``: the residual against its
        covariance at the fit. K = 2: ``r_P / sqrt(1 - h)`` (R
        ``rstandard(type="pearson")``, statsmodels ``resid_studentized`` and the
        ``standard_resid`` column). For K = 2, above about 2 in absolute value
        marks a row the model fits poorly; for K > 2, ``s_i^2`` is roughly
        chi-square with K - 1 degrees of freedom, so compare with its quantiles
        (:meth:`outlier_test` does, for the studentized residual).

        Returns
        -------
        ndarray (n,)
        """
        out, _ = self._deletion()
        s2 = np.expm1(-out["logpy"]) + out["eQu"]
        return self._named(out["sign"] * np.sqrt(s2), "standard_resid")

    def resid_studentized(self):
        """Studentised (deletion) residuals ``r_i``, R's ``rstudent`` for a glm.

        ``r_i^2 = d_i^2 + e_i^T Q_i u_i``, Williams' (1987) one-step approximation
        of the drop in deviance when row i is given its own parameter; K = 2:
        ``sign(y - mu) sqrt(d^2 + h r_P^2 / (1 - h))``. Under the model
        ``r_i^2`` is about chi-square with K - 1 degrees of freedom
        (:meth:`outlier_test`).

        Returns
        -------
        ndarray (n,)
        """
        out, _ = self._deletion()
        return self._named(out["sign"] * np.sqrt(-2.0 * out["logpy"] + out["eQu"]), "student_resid")

    # -- deletion effects ------------------------------------------------------
    def dfbeta(self, method="one-step", rows=None):
        """Change of the parameters when one observation of row i is deleted:
        ``theta_hat - theta_hat_(i)`` (R's and statsmodels' sign).

        Parameters
        ----------
        method : {"one-step", "exact"}, default "one-step"
            ``"one-step"``: one Newton step from theta_hat on the data without
            the observation, ``A^{-1} Z_i u_i`` in closed form (Pregibon's
            for K = 2; statsmodels ``GLMInfluence.d_params``; R's ``dfbeta`` on a
            glm uses deviance instead of Pearson residuals and differs).
            ``"exact"``: the difference to the exact refit (:meth:`loo_params`).
        rows : array_like of int, optional
            Rows for ``"exact"`` (default all; each is a refit).

        Returns
        -------
        ndarray (n, p) or (len(rows), p)
            A DataFrame with ``param_names_`` as columns when X had row labels.
        """
        if method == "one-step":
            _, D = self._deletion()
            idx = None if rows is None else _rows_arg(rows, self.n_)
            return self._param_frame(D if idx is None else D[idx], "dfbeta", idx)
        if method != "exact":
            raise InputError(f"method must be 'one-step' or 'exact'; got {method!r}")
        idx = _rows_arg(rows, self.n_)
        return self._param_frame(self.backend_.theta[None] - self._refits(idx), "dfbeta", idx)

    def dfbetas(self):
        """One-step DFBETA over the standard errors ``sqrt(diag(A^{-1}))``
        (statsmodels ``dfbetas``, the ``dfb_<param>`` columns of ``summary_frame``).

        Returns
        -------
        ndarray (n, p)
        """
        _, D = self._deletion()
        return self._param_frame(D / self.bse_, "dfbetas", None)

    @property
    def bse_(self):
        """Standard errors ``sqrt(diag(A^{-1}))`` (p,) of the parameters (the inverse
        information; the penalised Hessian when l2 > 0)."""
        return np.sqrt(np.diag(self.H_inv_.matmat(np.eye(self.p_))) / self.n_obs_)

    def cooks_distance(self):
        """Cook's distance ``D_i = Delta_i^T A Delta_i / p`` of the one-step DFBETA.

        K = 2: ``r_P^2 h / (p (1 - h)^2)``, R's ``cooks.distance`` and statsmodels'
        ``cooks_distance[0]`` (column ``cooks_d``). Not Cook's 1986 *local*
        influence (:meth:`cook_local_influence`). A common rule of thumb looks
        at rows above 4 / n; a large value says deleting the row moves the
        fitted parameters, not that the row is wrong.

        Returns
        -------
        ndarray (n,)
        """
        out, _ = self._deletion()
        return self._named(out["uQu"] / self.p_, "cooks_d")

    def dffits_internal(self):
        """``sqrt(u^T Q u)``: the one-step change of row i's fitted linear predictors
        over their standard error (K = 2, signed: statsmodels ``dffits_internal``,
        ``standard_resid * sqrt(h / (1 - h))``).

        Returns
        -------
        ndarray (n,)
        """
        out, _ = self._deletion()
        return self._named(out["sign"] * np.sqrt(out["uQu"]), "dffits_internal")

    def dffits(self):
        """``dffits_internal * student_resid / standard_resid`` (K = 2:
        ``student_resid * sqrt(h / (1 - h))``, Belsley's form with the
        studentised residual).

        Returns
        -------
        ndarray (n,)
        """
        out, _ = self._deletion()
        s2 = np.expm1(-out["logpy"]) + out["eQu"]
        r2 = -2.0 * out["logpy"] + out["eQu"]
        return self._named(out["sign"] * np.sqrt(out["uQu"] * r2 / s2), "dffits")

    def outlier_test(self):
        """Bonferroni outlier test on the studentised residuals (car's ``outlierTest``
        for a binomial glm).

        Returns
        -------
        pandas.DataFrame (n, 3)
            ``student_resid``; ``unadj_p = P(chi2_{K-1} > r^2)`` (K = 2:
            ``2 Phi(-|r|)``); ``bonf(p) = min(1, N unadj_p)`` with N the number
            of observations. Rows in the training order, labelled.
        """
        import pandas as pd
        r = np.asarray(self.resid_studentized())
        unadj = chi2.sf(r ** 2, self.K_ - 1)
        return pd.DataFrame({"student_resid": r, "unadj_p": unadj,
                             "bonf(p)": np.minimum(1.0, self.n_obs_ * unadj)}, index=self._labels())

    # -- exact refits ------------------------------------------------------------
    def loo_params(self, rows=None):
        """Exact leave-one-out parameters ``theta_hat_(i)``, refitted by Newton's method.

        One observation of row i is deleted (its weight lowered by 1) and the
        penalty held fixed in the summed objective, i.e. the refit uses
        ``l2 N / (N - 1)``; Newton starts from the one-step estimate.

        Parameters
        ----------
        rows : array_like of int, optional
            Rows to refit (default all: n fits, each O(n p^2); ask for the rows
            you need at large n).

        Returns
        -------
        ndarray (len(rows), p)
        """
        idx = _rows_arg(rows, self.n_)
        return self._param_frame(self._refits(idx), "loo_params", idx)

    def _refits(self, idx):
        model = self.model
        if not isinstance(model, MultinomialLogit):
            raise InputError("model: exact leave-one-out refits need a LogisticRegression or "
                             "SoftmaxRegression")
        w = self.sample_weight_
        if w is not None and (w[idx] < 1).any():
            bad = idx[w[idx] < 1][:5].tolist()
            raise InputError(f"sample_weight: rows {bad} have weight < 1, so no whole observation "
                             "can be deleted from them")
        N, n, p, K = self.n_obs_, self.n_, self.p_, self.K_
        if N <= 1:
            raise InputError("sample_weight: one observation in all; nothing is left after deleting it")
        q = p // (K - 1)
        check_cost(f"{idx.size} leave-one-out refits ({n} rows, {p} parameters)",
                   "pass rows= with the rows you need",
                   nbytes=8.0 * (3 * p * p + 2 * n),
                   flops=idx.size * 3.0 * (2.0 * n * q * q * (K - 1) ** 2 + p ** 3 / 3))
        refit = type(model)(l2=float(model.l2_) * N / (N - 1), fit_intercept=model.fit_intercept_,
                            tol=model.tol, max_iter=model.max_iter, step_tol=model.step_tol)
        _, start = self._deletion()
        base = np.ones(n) if w is None else w
        out = np.empty((idx.size, p))
        for j, i in enumerate(idx):  # one Newton refit per requested row
            wi = base.copy()
            wi[i] -= 1.0
            try:
                refit._fit_arrays(self.X_, self.y_, K, wi, theta0=self.backend_.theta - start[i])
            except LocalInfluenceError as exc:
                raise InputError(f"rows: the refit without one observation of row "
                                 f"{self._labels()[i] if self.index_ is not None else i} failed: {exc}") from None
            out[j] = refit.theta_
        return check_finite_result(out, "loo_params")

    # -- naming ------------------------------------------------------------------
    def _labels(self):
        return self.index_ if self.index_ is not None else np.arange(self.n_)

    @property
    def param_names_(self):
        """Names of the p parameters in theta's order: the features then ``const``
        (statsmodels' exog names when built by ``from_statsmodels``); for
        SoftmaxRegression (even with K = 2) ``name[class]`` for classes 1..K-1,
        class by class.

        Returns
        -------
        list of str
        """
        names = list(self.feature_names_) or [f"x{j}" for j in range(self.d_)]
        q = self.p_ // (self.K_ - 1)
        if q == self.d_ + 1:
            names = names + [self.intercept_name_]
        if len(names) != q:  # an autograd model with another parameterisation
            return [f"theta{j}" for j in range(self.p_)]
        if self.K_ == 2 and not isinstance(self.model, SoftmaxRegression):
            return names
        classes = np.asarray(getattr(self.model, "classes_", np.arange(self.K_)))
        return [f"{name}[{c}]" for c in classes[1:] for name in names]

    intercept_name_ = "const"

    def _param_frame(self, values, name, idx):
        values = check_finite_result(np.asarray(values, dtype=float), name)
        if self.index_ is None:
            return values
        import pandas as pd
        index = self.index_ if idx is None else self.index_[idx]
        return pd.DataFrame(values, index=index, columns=self.param_names_)

