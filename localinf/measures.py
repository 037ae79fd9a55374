"""Local influence measures, written once on a backend's primitives.

Notation (the paper's; shapes for n training rows, d features, p parameters,
K classes):

* perturbation of one training input ``x_i -> x_i + omega``, omega in R^d, omega_0 = 0;
* ``M_i = d/dx d/dtheta L(y_i, x_i; theta_hat)`` (p, d), the mixed partial;
* ``D_i = d theta_hat / d omega = -(1/n) H^{-1} M_i`` (p, d)            (eq. 2.2, App. A.7)
* ``g_i(z') = D_i^T grad_theta L(z')`` (d,)                              (eq. 2.2)
* ``v_ic = D_i^T grad_theta log P(c|x_i) + grad_x log P(c|x_i)`` (d,)     (eq. 2.3)
* ``G_i = sum_c P(c|x_i) v_ic v_ic^T`` (d, d), rank <= K - 1;
* ``FI(z', z_i) = g_i^T G_i^+ g_i``                                      (eq. 2.1)

``H`` is the Hessian of the penalised empirical risk
``R(theta) = (1/n) sum_i L_i + l2 ||coef||^2`` at theta_hat. We keep the factor
1/n of the derivation (App. A.7); Algorithm 1 of the paper drops it, which
would change the weight of the indirect term in v_ic (refits confirm 1/n).
"""

import numbers

import numpy as np

from ._aggregate import aggregate
from ._checks import check_index, check_labels, check_matrix, check_nonneg_float
from ._linalg import metric_eig, pinv_quadratic
from .exceptions import InputError
from .reference import ReferenceBackend

# Budget in bytes for the (rows, k, queries) intermediates of pairwise FI.
_PAIR_BYTES = 1 << 26


class LocalInfluence:
    """Exact local influence of each training point of a fitted classifier.

    Results with one value per training row (``fi_util``, ``influence_value``,
    ``self_influence``, ``cook_local_influence``, ``leverage``, ``metric_rank``,
    and the rows of ``fi`` and ``influence``) are numpy arrays, or pandas
    Series / DataFrames indexed by the row labels when X is a DataFrame.

    Parameters
    ----------
    model : LogisticRegression or SoftmaxRegression
        Fitted on ``(X, y)``; its parameters must minimise the penalised risk
        there (checked), since every formula is a derivative at the minimiser.
    X : array_like (n, d)
    y : array_like (n,)
        Training data, labels 0..K-1.
    rtol : float, default 1e-10
        Rank cut-off of the pseudo-inverse ``G_i^+``: eigenvalues of G_i at or
        below ``max(atol, rtol * lambda_max(G_i))`` count as zero. FI is not a
        continuous function of this choice (an eigenvalue just above the cut-off
        can contribute a large term), so it is explicit.
    atol : float, default 0
        Absolute eigenvalue cut-off (Shu & Zhu's code uses 1e-3 on singular
        values of the d x K factor, i.e. 1e-6 here). When every eigenvalue is
        cut, FI is 0.
    chunk_size : int, optional
        Training rows per chunk; memory stays O(chunk_size * p * K).
    backend : {"auto", "reference", "autograd"}
        ``"reference"``: exact closed forms for logistic/softmax regression
        (the default for those models). ``"autograd"``: any
        :class:`~localinf.AutogradModel` (the default for one), or a GLM
        routed through autograd to check one backend against the other.
    curvature : {"exact", "cg", "lissa", "kfac"} or LinearOperator, default "exact"
        How the autograd backend applies ``H^{-1}`` (see
        :func:`localinf.curvature.make_curvature`); ``curvature_options`` are
        passed on (``damping``, ``tol``, ``depth``, ``preconditioner``, ...).
    query_curvature : {"exact", "cg", "lissa", "kfac"} or LinearOperator, optional
        Autograd backend only: the operator for solves against query and
        validation gradients (``u = H^{-1} gbar_V`` of FI_util, one per query
        of ``fi``, ``fi_active``, ``influence_value``, ``influence``); the
        per-row solves of the metric G_i, of D_i and of self-influence keep
        ``curvature``. Default: ``curvature``. ``"cg"`` with
        ``curvature="kfac"`` is preconditioned by K-FAC: the few query solves
        become exact (to CG's tolerance) at the cost of some Hessian-vector
        products, while the n (K - 1) metric solves stay cheap. Options in
        ``query_curvature_options``.
    svd_rank : int, optional
        Autograd backend only: replace every mixed partial M_i by its rank-k
        truncated SVD computed from matrix-vector products (the paper's KFSVD
        with ``curvature="kfac"``, Algorithms 5 and 7). None: exact M_i.
    svd_options : dict, optional
        For ``svd_rank``: ``oversample`` (default 5) extra sketch columns,
        ``n_iter`` (default 1) power iterations, ``seed`` (default 0) of the
        Gaussian sketch. See :meth:`AutogradBackend.truncated_mixed`; when
        ``svd_rank + oversample >= d`` the truncation is exact (no randomness).
        ``exact_input_layer`` (default False; fit_mlp networks): keep the
        input layer's term of M_i, which has d equal singular values, exactly
        and truncate only the rest (docs/curvature.md).
    grad_rtol : float, default 1e-6
        The parameters must satisfy ``max|grad R| <= grad_rtol * max(1, max|X|)``
        on (X, y); influence formulas are derivatives at the minimiser.

    Attributes
    ----------
    n_, d_, p_, K_ : int
        Training rows, features, parameters, classes.
    H_inv_ : scipy.sparse.linalg.LinearOperator (p, p)
        Inverse Hessian of R at theta_hat (``H_inv_.hessian`` is H itself).
    H_inv_query_ : scipy.sparse.linalg.LinearOperator (p, p)
        The operator for query-side solves (``H_inv_`` unless
        ``query_curvature`` was given).
    """

    def __init__(self, model, X, y, *, rtol=1e-10, atol=0.0, chunk_size=None, backend="auto",
                 curvature="exact", curvature_options=None, grad_rtol=1e-6, svd_rank=None,
                 svd_options=None, query_curvature=None, query_curvature_options=None):
        from .autodiff import AutogradBackend, AutogradModel, check_autograd_inputs, from_glm
        X_in = X
        if backend not in ("auto", "reference", "autograd"):
            raise InputError(f"backend must be 'auto', 'reference' or 'autograd'; got {backend!r}")
        self.rtol = check_nonneg_float(rtol, "rtol")
        self.atol = check_nonneg_float(atol, "atol")
        if chunk_size is not None and (not isinstance(chunk_size, numbers.Integral) or chunk_size < 1):
            raise InputError(f"chunk_size must be a positive integer; got {chunk_size!r}")
        if isinstance(model, AutogradModel):
            if backend == "reference":
                raise InputError("backend='reference' needs a LogisticRegression or SoftmaxRegression")
            backend = "autograd"
        elif not hasattr(model, "theta_"):
            raise InputError("model must be a fitted LogisticRegression, SoftmaxRegression or "
                             "AutogradModel; call fit first")
        if backend == "autograd":
            if not isinstance(model, AutogradModel):
                X = check_matrix(X, "X", n_features=model.n_features_in_)
                model = from_glm(model)
            X, y = check_autograd_inputs(model, X, y)
            self.backend_ = AutogradBackend(model, X, y, curvature=curvature,
                                            curvature_options=curvature_options,
                                            chunk_size=chunk_size, grad_rtol=grad_rtol,
                                            svd_rank=svd_rank, svd_options=svd_options,
                                            query_curvature=query_curvature,
                                            query_curvature_options=query_curvature_options)
        else:
            if svd_rank is not None:
                raise InputError("svd_rank (KFSVD) needs backend='autograd'")
            if curvature != "exact" or query_curvature is not None:
                raise InputError("the reference backend solves with the exact Hessian; "
                                 "use backend='autograd' for other curvature choices")
            X = check_matrix(X, "X", n_features=model.n_features_in_)
            y, _ = check_labels(y, "y", X.shape[0], n_classes=model.n_classes_)
            self.backend_ = ReferenceBackend(model, X, y, chunk_size=chunk_size, grad_rtol=grad_rtol)
        b = self.backend_
        self.model = model
        self.index_ = getattr(X_in, "index", None)  # row labels of a DataFrame X
        cols = getattr(X_in, "columns", None)
        self.feature_names_ = [str(c) for c in cols] if cols is not None else None
        self.X_, self.y_ = X, y
        self.n_, self.d_, self.p_, self.K_ = b.n, b.d, b.p, b.K
        self.H_inv_ = b.H_inv
        self.H_inv_query_ = getattr(b, "H_inv_query", b.H_inv)

    # -- helpers -----------------------------------------------------------
    def _per_row(self, values, name, rows=None):
        """Per-training-row results keep the row labels of a DataFrame X: a Series
        (n,) or a DataFrame (n, m); plain arrays otherwise."""
        if self.index_ is None:
            return values
        import pandas as pd
        index = self.index_ if rows is None else self.index_[np.asarray(rows)]
        if values.ndim == 1:
            return pd.Series(values, index=index, name=name)
        return pd.DataFrame(values, index=index)

    def _chunks(self, size=None):
        size = size or self.backend_.chunk_size
        for start in range(0, self.n_, size):
            yield slice(start, min(self.n_, start + size))

    def _query(self, X, y, name="X_query", yname="y_query"):
        X = check_matrix(X, name, n_features=self.d_)
        y, _ = check_labels(y, yname, X.shape[0], n_classes=self.K_)
        return X, y

    def _metric_eig(self, sl, pieces=None):
        F = self.backend_.metric_factor(self.X_[sl], self.y_[sl], pieces=pieces)
        return metric_eig(F, self.rtol, self.atol)

    def _scaled_mixed(self, sl):
        """Rows ``c_ij = sqrt(w_ij) M_i u_ij / n`` (m, k, p): FI(z_q, z_i) = sum_j (c_ij . w_q)^2.

        With ``G_i^+ = sum_j w_ij u_ij u_ij^T`` and ``g_i = -(1/n) M_i^T w``,
        ``u_ij . g_i = -(1/n) (M_i u_ij) . w``: the pseudo-inverse only needs these.
        """
        pcs = self.backend_.pieces(self.X_[sl], self.y_[sl])
        lam, U, inv = self._metric_eig(sl, pcs)
        C = self.backend_.mixed(self.X_[sl], self.y_[sl], U, pieces=pcs)
        return C * (np.sqrt(inv) / self.n_)[:, :, None]

    def _fi_from_w(self, W, C_all=None):
        """FI for every training row and every column of W = H^{-1} grad L(z') (p, m).

        ``C_all`` (n, k, p), if given, holds the precomputed ``_scaled_mixed`` rows.
        """
        m = W.shape[1]
        out = np.empty((self.n_, m))
        k = min(self.K_, self.d_)  # columns of the metric eigenbasis
        rows = max(1, min(self.backend_.chunk_size, _PAIR_BYTES // (8 * k * max(m, self.p_))))
        for sl in self._chunks(rows):
            C = C_all[sl] if C_all is not None else self._scaled_mixed(sl)
            CW = C @ W  # (rows, k, m)
            out[sl] = np.einsum("ikq,ikq->iq", CW, CW)
        return out

    # -- the measure and its uses --------------------------------------------
    def fi(self, X_query, y_query):
        """FI(z'_q, z_i) of eq. 2.1 for every training row i and query z'_q.

        Parameters
        ----------
        X_query : array_like (m, d)
        y_query : array_like (m,)

        Returns
        -------
        ndarray (n, m)
            Non-negative. Large values mark training points whose small input
            perturbation changes the loss at z'_q most, per unit of change of
            their own predictive distribution (Fisher-Rao length). Units: squared
            loss per unit squared geodesic length on the perturbation manifold.
        """
        Xq, yq = self._query(X_query, y_query)
        W = self.H_inv_query_.matmat(self.backend_.loss_grad(Xq, yq).T)
        return self._per_row(self._fi_from_w(W), "fi")

    def fi_util(self, X_val, y_val, rows=None):
        """FI_util of eq. 3.1: FI with the mean validation loss.

        ``g_i = -(1/n) M_i^T u`` with ``u = H^{-1} gbar_V`` solved once, so the
        cost is one factorisation of H plus O(n p K^2) products.

        Parameters
        ----------
        X_val : array_like (m, d)
        y_val : array_like (m,)
        rows : array_like of int, optional
            Training rows to score (default: all). The model, H and the
            validation gradient are those of the full training set; only the
            per-row work is restricted (the subsampling of Algorithm 6).

        Returns
        -------
        ndarray (n,) or (len(rows),)
            Non-negative. Larger means more harmful: a small change of x_i moves
            the mean validation loss most (the paper trims the top b).
        """
        Xv, yv = self._query(X_val, y_val, "X_val", "y_val")
        gbar = self._mean_grad(Xv, yv)
        u = self.H_inv_query_.matvec(gbar)
        if rows is None:
            idx, blocks = None, list(self._chunks())
        else:
            idx = np.asarray(rows)
            if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer) \
                    or idx.min() < 0 or idx.max() >= self.n_:
                raise InputError(f"rows must be a non-empty 1-D array of row indices in 0..{self.n_ - 1}")
            size = self.backend_.chunk_size
            blocks = [slice(s, min(idx.size, s + size)) for s in range(0, idx.size, size)]
        out = np.empty(self.n_ if idx is None else idx.size)
        for sl in blocks:
            F, g = self._util_parts(sl if idx is None else idx[sl], u)
            lam, U, inv = metric_eig(F, self.rtol, self.atol)
            out[sl] = pinv_quadratic(U, inv, g)
        return self._per_row(out, "fi_util", rows)

    def _util_parts(self, rows, u):
        """``(F, g)`` for the given rows: ``G_i = F_i F_i^T`` (m, d, r) and
        ``g_i = -(1/n) M_i^T u`` (m, d), sharing one set of per-row passes."""
        b = self.backend_
        Xc, yc = self.X_[rows], self.y_[rows]
        pcs = b.pieces(Xc, yc)
        F = b.metric_factor(Xc, yc, pieces=pcs)
        g = b.mixed_T(Xc, yc, u, pieces=pcs)
        g *= -1.0 / self.n_
        return F, g

    def fi_active(self, X_pool, agg="trimmed_mean", q=None):
        """FI_active of eq. 4.1 for unlabeled points.

        Each pool point gets the model's predicted label, FI(z_u, z_j) is formed
        for every labeled (training) point j, and the n values are aggregated.

        Parameters
        ----------
        X_pool : array_like (m, d)
        agg : {"trimmed_mean", "mean", "median", "quantile"}, default "trimmed_mean"
            ``"trimmed_mean"`` (the paper's) averages the values between the
            10th and 90th percentiles.
        q : float, optional
            Quantile level for ``agg="quantile"``.

        Returns
        -------
        ndarray (m,)
            Non-negative; larger means the pool point's prediction is more
            sensitive to perturbations of the training data (label it first).
        """
        pool_index = getattr(X_pool, "index", None)
        Xp = check_matrix(X_pool, "X_pool", n_features=self.d_)
        yp = np.argmax(self.backend_.proba(Xp), axis=1)
        W = self.H_inv_query_.matmat(self.backend_.loss_grad(Xp, yp).T)
        # Each block of pool columns needs all n FI values at once (percentiles);
        # the training-side rows are computed once when they fit in the budget.
        cols = max(1, _PAIR_BYTES * 4 // (8 * self.n_))
        C_all = None
        k = min(self.K_, self.d_)  # columns of the metric eigenbasis
        if Xp.shape[0] > cols and 8 * self.n_ * k * self.p_ <= _PAIR_BYTES * 4:
            C_all = np.concatenate([self._scaled_mixed(sl) for sl in self._chunks()])
        out = np.empty(Xp.shape[0])
        for start in range(0, Xp.shape[0], cols):
            sl = slice(start, min(Xp.shape[0], start + cols))
            out[sl] = aggregate(self._fi_from_w(W[:, sl], C_all), agg, q, axis=0)
        if pool_index is not None:  # a DataFrame pool keeps its row labels
            import pandas as pd
            return pd.Series(out, index=pool_index, name="fi_active")
        return out

    # -- baselines -----------------------------------------------------------
    def _mean_grad(self, X, y):
        gbar = np.zeros(self.p_)
        size = self.backend_.chunk_size
        for start in range(0, X.shape[0], size):
            gbar += self.backend_.loss_grad(X[start:start + size], y[start:start + size]).sum(axis=0)
        return gbar / X.shape[0]

    def _train_grads(self, sl):
        return self.backend_.loss_grad(self.X_[sl], self.y_[sl])

    def influence_value(self, X_val, y_val):
        """IV baseline: ``IV_i = gbar_V^T H^{-1} grad_theta L(z_i)``.

        ``gbar_V`` is the MEAN validation gradient (a sum would scale IV by |V|).
        Sign: up-weighting z_i by eps changes the mean validation loss by about
        ``-eps * IV_i``, and deleting z_i (eps = -1/n) by about ``+IV_i / n``.
        So a negative IV marks a harmful point (deleting it lowers the
        validation loss); IV trimming removes the b lowest values.

        Returns
        -------
        ndarray (n,)
        """
        Xv, yv = self._query(X_val, y_val, "X_val", "y_val")
        u = self.H_inv_query_.matvec(self._mean_grad(Xv, yv))
        out = np.empty(self.n_)
        for sl in self._chunks():
            out[sl] = self._train_grads(sl) @ u
        return self._per_row(out, "iv")

    def influence(self, X_test, y_test):
        """Classic influence of up-weighting each training point on each test loss.

        ``I(z_i, z_t) = -grad L(z_t)^T H^{-1} grad L(z_i)`` (Koh & Liang 2017),
        the derivative of L(z_t) when z_i's weight in the risk grows by eps.
        Positive: up-weighting z_i raises the test loss (z_i is harmful to z_t);
        deleting z_i changes the test loss by about ``-I / n``.

        Returns
        -------
        ndarray (n, m)
        """
        Xt, yt = self._query(X_test, y_test, "X_test", "y_test")
        W = self.H_inv_query_.matmat(self.backend_.loss_grad(Xt, yt).T)
        out = np.empty((self.n_, Xt.shape[0]))
        for sl in self._chunks():
            out[sl] = -(self._train_grads(sl) @ W)
        return self._per_row(out, "influence")

    def self_influence(self):
        """Self-influence ``grad L(z_i)^T H^{-1} grad L(z_i)`` (n,), >= 0.

        Large values flag points the model fits poorly and leans on heavily,
        the usual ranking for likely mislabeled points.
        """
        out = np.empty(self.n_)
        for sl in self._chunks():
            Gr = self._train_grads(sl)
            out[sl] = np.einsum("ij,ji->i", Gr, self.H_inv_.matmat(Gr.T))
        return self._per_row(out, "self_influence")

    def leverage(self):
        """Generalised leverage ``h_i = (1/n) sum_c P(c|x_i) a_ic^T H^{-1} a_ic`` (n,).

        ``a_ic = grad_theta log P(c|x_i)``: the trace of H^{-1} times row i's
        share of the Fisher information. For logistic regression without a
        penalty this is the GLM hat value ``s_i xt_i^T (X^T S X)^{-1} xt_i``
        (statsmodels' ``hat_matrix_diag``); for softmax regression it is the
        trace of the multinomial hat block of row i.
        """
        from .autodiff import AutogradModel, PieceSource, from_glm
        if isinstance(self.model, AutogradModel):
            b = self.backend_
        else:  # per-class gradients of the same GLM, traced by autograd
            b = PieceSource(from_glm(self.model))
        out = np.empty(self.n_)
        for sl in self._chunks():
            pcs = b.pieces(self.X_[sl], self.y_[sl])
            A = pcs.dlogP_dtheta  # (m, K, p)
            m = A.shape[0]
            HA = self.H_inv_.matmat(A.reshape(m * self.K_, self.p_).T).T.reshape(A.shape)
            out[sl] = np.einsum("ic,icp,icp->i", np.exp(pcs.logP), A, HA) / self.n_
        return self._per_row(out, "leverage")

    def summary_frame(self, X_val, y_val, index=None, flag_top=0.05):
        """One row per training point, as statsmodels' influence ``summary_frame``.

        Parameters
        ----------
        X_val, y_val : validation data for FI_util and IV
        index : array_like, optional
            Row labels (default: those of a DataFrame passed as X, else 0..n-1).
        flag_top : float in (0, 1) or int
            Share (or number) of rows with the highest FI_util marked ``flagged``.

        Returns
        -------
        pandas.DataFrame with columns ``fi_util``, ``iv``, ``self_influence``,
        ``cook``, ``leverage``, ``rank`` (1 = highest FI_util) and ``flagged``.
        """
        import pandas as pd
        fi = np.asarray(self.fi_util(X_val, y_val))
        rank = np.empty(self.n_, dtype=np.int64)
        rank[np.argsort(-fi, kind="stable")] = np.arange(1, self.n_ + 1)
        top = int(flag_top) if flag_top >= 1 else max(1, int(round(flag_top * self.n_)))
        idx = index if index is not None else getattr(self, "index_", None)
        return pd.DataFrame({"fi_util": fi, "iv": self.influence_value(X_val, y_val),
                             "self_influence": self.self_influence(),
                             "cook": self.cook_local_influence(), "leverage": self.leverage(),
                             "rank": rank, "flagged": rank <= top},
                            index=idx)

    def cook_local_influence(self, perturbation="case-weight", kind="total", covariate=None):
        """Cook's (1986) local influence with the Euclidean metric (not invariant).

        See :func:`localinf.cook.cook_local_influence`.
        """
        from .cook import cook_local_influence
        return self._per_row(cook_local_influence(self, perturbation=perturbation, kind=kind,
                                                  covariate=covariate), "cook")

    # -- ingredients, one training point at a time -----------------------------
    def mixed_partial(self, i):
        """``M_i = d/dx d/dtheta L(y_i, x_i; theta_hat)``, shape (p, d)."""
        i = check_index(i, self.n_)
        sl = slice(i, i + 1)
        return self.backend_.mixed(self.X_[sl], self.y_[sl], np.eye(self.d_)[None])[0].T

    def dtheta_domega(self, i):
        """``D_i = d theta_hat(x_i + omega)/d omega at 0 = -(1/n) H^{-1} M_i`` (p, d), eq. 2.2."""
        return -self.H_inv_.matmat(self.mixed_partial(i)) / self.n_

    def metric(self, i):
        """The metric tensor ``G_i = sum_c P(c|x_i) v_ic v_ic^T`` (d, d)."""
        i = check_index(i, self.n_)
        F = self.backend_.metric_factor(self.X_[i:i + 1], self.y_[i:i + 1])[0]
        return F @ F.T

    def gradient(self, i, X_query, y_query):
        """``g_i(z'_q) = D_i^T grad_theta L(z'_q)`` for each query, shape (m, d)."""
        Xq, yq = self._query(X_query, y_query)
        return self.backend_.loss_grad(Xq, yq) @ self.dtheta_domega(i)

    def metric_rank(self):
        """Number of eigenvalues of G_i kept by the rank cut-off, shape (n,)."""
        out = np.empty(self.n_, dtype=np.int64)
        for sl in self._chunks():
            out[sl] = (self._metric_eig(sl)[2] > 0).sum(axis=1)
        return self._per_row(out, "metric_rank")
