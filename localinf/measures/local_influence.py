"""Local influence measures, written once on the backend protocol.

Notation (the paper's; shapes for n training rows, d features, p parameters,
K classes):

* perturbation of one training input ``x_i -> x_i + omega``, omega in R^d, omega_0 = 0;
* ``M_i = d/dx d/dtheta L(y_i, x_i; theta_hat)`` (p, d), the mixed partial;
* ``D_i = d theta_hat / d omega = -(1/n) H^{-1} M_i`` (p, d)            (eq. 2.2, App. A.7)
* ``g_i(z') = D_i^T grad_theta L(z')`` (d,)                              (eq. 2.2)
* ``v_ic = D_i^T grad_theta log P(c|x_i) + grad_x log P(c|x_i)`` (d,)     (eq. 2.3)
* ``G_i = sum_c P(c|x_i) v_ic v_ic^T`` (d, d), rank <= K - 1;
* ``FI(z', z_i) = g_i^T G_i^+ g_i``                                      (eq. 2.1)

``H`` is the Hessian of ``R(theta) = (1/n) sum_i L_i + l2 ||coef||^2`` at
theta_hat. ``scaling="algorithm1"`` drops D_i's 1/n, as the paper's Algorithm 1 does.
"""

import inspect

import numpy as np

from .._core.budget import check_inverse, check_table
from .._core.checks import (UNNAMED, NonnegativeNumber, align_columns, check_choice,
                            check_finite_result, check_matrix, check_nonneg_float, check_query,
                            row_labels)
from .._core.chunks import row_chunks
from ..backends.factory import make_backend
from ..exceptions import InputError
from ..models.classifier import Classifier
from ..models.dask_data import is_dask_collection
from .aggregate import aggregate
from .bound import ValidationInfluence
from .cook import cook_local_influence
from .classic import ClassicMeasures
from .diagnostics import DeletionDiagnostics
from .ingredients import Ingredients
from .lazy import DaskLocalInfluence
from .pairwise import TrainingSide, fi_columns, per_row_bytes, projected_route
from .pinv import pinv_factor, reference_eig
from .reference import make_reference
from .table import SummaryTable

# Budget in bytes for the (rows, k, queries) intermediates of pairwise FI.
_PAIR_BYTES = 1 << 26
SCALINGS = ("derived", "algorithm1")


class LocalInfluence(Ingredients, ClassicMeasures, DeletionDiagnostics, SummaryTable):
    """Exact local influence of each training point of a fitted classifier.

    Results with one value per training row (``fi_util``, ``influence_value``,
    ``self_influence``, ``cook_local_influence``, ``leverage``, ``metric_rank``,
    and the rows of ``fi`` and ``influence``) are numpy arrays, or pandas
    Series / DataFrames indexed by the row labels when X is a DataFrame.

    Parameters
    ----------
    model : LogisticRegression, SoftmaxRegression or AutogradModel
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
    backend : {"auto", "reference", "autograd"} or Backend, default "auto"
        ``"reference"``: exact closed forms for logistic/softmax regression
        (the default for those models). ``"autograd"``: any
        :class:`~localinf.AutogradModel` (the default for one), or a GLM
        routed through autograd to check one backend against the other. A
        :class:`~localinf.backends.Backend` instance is used as given
        (docs/architecture.md: adding a backend).
    curvature : {"exact", "cg", "lissa", "kfac", "ggn"} or LinearOperator, default "exact"
        How the autograd backend applies ``H^{-1}``
        (:func:`localinf.curvature.make_curvature`).
    curvature_options : dict or options dataclass, optional
        The curvature's options (:class:`~localinf.curvature.ExactOptions`,
        :class:`~localinf.curvature.CGOptions`,
        :class:`~localinf.curvature.LissaOptions`,
        :class:`~localinf.curvature.KFACOptions`,
        :class:`~localinf.curvature.GGNOptions`): ``damping``, ``tol``,
        ``depth``, ``preconditioner``, ... An unknown option is an error.
    grad_rtol : float, default 1e-6
        The parameters must satisfy ``max|grad R| <= grad_rtol * max(1, max|X|)``
        on (X, y); influence formulas are derivatives at the minimiser.
    at_minimiser : bool, default True
        False (autograd backend, ``curvature="ggn"`` or ``"kfac"``): accept
        parameters that do not minimise R (a network stopped early by Adam).
        Every ``H^{-1}`` is then ``(C + damping I)^{-1}`` for that positive
        semi-definite curvature C, and the values are the response of one
        damped Gauss-Newton step from the given parameters, not derivatives of
        a minimiser (docs/curvature.md); an :class:`ApproximateFitWarning`
        says so, with ``max|grad R|`` and the damping (``grad_norm_``,
        ``damping_``). The gradient check is then skipped, and with it the
        check that (X, y, sample_weight) are the data the model was fitted
        on; ``grad_rtol`` is not used.
    svd_rank : int, optional
        Autograd backend only: replace every mixed partial M_i by its rank-k
        truncated SVD computed from matrix-vector products (the paper's KFSVD
        with ``curvature="kfac"``, Algorithms 5 and 7). None: exact M_i.
    svd_options : dict or KFSVDOptions, optional
        For ``svd_rank`` (:class:`~localinf.backends.KFSVDOptions`):
        ``oversample`` (default 5) extra sketch columns, ``n_iter`` (default 1)
        power iterations, ``seed`` (default 0) of the Gaussian sketch; when
        ``svd_rank + oversample >= d`` the truncation is exact (no randomness).
        ``exact_input_layer`` (default False; fit_mlp networks): keep the
        input layer's term of M_i, which has d equal singular values, exactly
        and truncate only the rest (docs/curvature.md).
    query_curvature : {"exact", "cg", "lissa", "kfac", "ggn"} or LinearOperator, optional
        Autograd backend only: the operator for solves against query and
        validation gradients (FI_util's ``u = H^{-1} gbar_V``, one per query
        of ``fi``, ``fi_active``, ``influence_value``, ``influence``); the
        per-row solves of G_i, D_i and self-influence keep ``curvature``
        (default). ``"cg"`` next to ``curvature="kfac"`` is K-FAC
        preconditioned: exact query solves, cheap metric solves.
    query_curvature_options : dict or options dataclass, optional
    scaling : {"derived", "algorithm1"}, default "derived"
        ``D_i = d theta_hat / d omega = -H^{-1} M_i / n`` (eq. 2.2, the
        derivative: refits confirm it) or, for ``"algorithm1"``, without the
        1/n, as the paper's Algorithms 1, 2, 5 and 7 print it. FI's scalar
        invariance cancels a common factor of g_i and G_i, but not the 1/n:
        it weighs the indirect term ``D_i^T grad_theta log P`` of the metric
        against the direct ``grad_x log P``, so the two rank rows differently
        (docs/conventions.md). IV, self-influence, Cook and leverage do not
        involve D_i and are the same under both. Fixed at construction.
    invariant : {None, "data", "model"}, default None
        None: the paper's FI, whose pseudo-inverse ``G_i^+`` depends on the
        units of x wherever g_i lies outside range(G_i) (binary models with
        d >= 2). ``"data"`` or ``"model"`` (an extension beyond the paper,
        :mod:`localinf.measures.reference`, docs/invariance.md): the same
        formula in coordinates whitened by a reference metric -- the training
        inputs' covariance (unchanged by any linear change of feature units
        when the fit is) or the Fisher metric of all n predictions (unchanged
        by any invertible J applied to omega). Equal to the paper's FI where
        Theorem 1's range condition holds. The rank cut-off then applies to
        the generalised eigenvalues of G_i against the reference. Fixed at
        construction; ``fi``, ``fi_util`` and ``fi_active`` follow it.
    sample_weight : array_like (n,), optional
        The frequency weights the model was fitted with (row i stands for w_i
        identical observations; ``fit(X, y, sample_weight=w)``). Every
        per-row value is then per observation: that of one of the w_i copies
        (for integer weights, exactly the value of a copy in the data with
        row i repeated w_i times), and ``D_i = -H^{-1} M_i / N`` with
        ``N = sum_i w_i``. Not taken by ``curvature="kfac"``.

    Attributes
    ----------
    backend_ : Backend
        The primitives every measure is computed from.
    n_, d_, p_, K_ : int
        Training rows, features, parameters, classes.
    X_ : ndarray (n, d)
    y_ : ndarray (n,)
    index_ : pandas.Index or None
        Row labels of a DataFrame X (per-row results carry them).
    feature_names_ : list of str or None
        The model's training columns (``feature_names_in_``) or those of a
        DataFrame X: every DataFrame given later is aligned to them by name.
    design_ : callable or None
        A raw frame's design (a statsmodels formula model's own coding).
    H_inv_ : LinearOperator (p, p)
        Inverse Hessian of R at theta_hat (``H_inv_.hessian`` is H itself
        for the exact curvature, None for matrix-free ones).
    H_inv_query_ : LinearOperator (p, p)
        The operator for query-side solves (``H_inv_`` unless
        ``query_curvature`` was given).
    scaling_ : str
    sample_weight_ : ndarray (n,) or None
        The frequency weights (None: all one).
    n_obs_ : float
        Observations ``N = sum_i w_i`` (n without weights).
    invariant_ : {None, "data", "model"}
    reference_ : ReferenceMetric or None
        The reference metric of ``invariant`` (None for the paper's FI).
    at_minimiser_ : bool
    grad_norm_ : float
        ``max|grad R|`` at the model's parameters on (X, y).
    damping_ : float
        The damping of ``H_inv_`` (0 for the undamped exact operators).
    """

    rtol = NonnegativeNumber("Relative rank cut-off of ``G_i^+`` (may be changed; cached results follow).")
    atol = NonnegativeNumber("Absolute rank cut-off of ``G_i^+`` (may be changed; cached results follow).")

    def __new__(cls, model=None, X=None, y=None, *args, **kwargs):  # dask data: the lazy counterpart
        if cls is LocalInfluence and (is_dask_collection(X) or is_dask_collection(y)):
            return DaskLocalInfluence(model, X, y, *args, **kwargs)
        return super().__new__(cls)

    def __init__(self, model, X, y, *, rtol=1e-10, atol=0.0, chunk_size=None, backend="auto",
                 curvature="exact", curvature_options=None, grad_rtol=1e-6, svd_rank=None,
                 svd_options=None, query_curvature=None, query_curvature_options=None,
                 scaling="derived", invariant=None, sample_weight=None, at_minimiser=True):
        # a training frame may name the columns of a model fitted on an array (kept for later)
        model_names = (model._names() or None) if isinstance(model, Classifier) else None
        X_in = X = align_columns(X, "X", model_names)
        self.rtol, self.atol = rtol, atol
        grad_rtol = check_nonneg_float(grad_rtol, "grad_rtol")
        if isinstance(curvature, str) and curvature == "exact":
            check_inverse(np.size(getattr(model, "theta_", ())))
        y = y if getattr(model, "classes_", None) is None else model._codes(y, "y", None)  # labels -> 0..K-1
        self.backend_, X, y = make_backend(
            model, X, y, backend=backend, curvature=curvature, curvature_options=curvature_options,
            chunk_size=chunk_size, grad_rtol=grad_rtol, svd_rank=svd_rank, svd_options=svd_options,
            query_curvature=query_curvature, query_curvature_options=query_curvature_options,
            sample_weight=sample_weight, at_minimiser=at_minimiser)
        b = self.backend_
        self.at_minimiser_, self.grad_norm_ = at_minimiser, b.grad_norm
        self.damping_ = float(getattr(b.H_inv, "damping", 0.0))
        self.scaling_ = check_choice(scaling, "scaling", SCALINGS)  # fixed: results are cached
        b.D_divisor = b.N if scaling == "derived" else 1.0
        self.sample_weight_, self.n_obs_ = b.weights, b.N
        self.model = model
        self.index_ = row_labels(X_in)  # row labels of a DataFrame X
        cols = getattr(X_in, "columns", None)
        self.feature_names_ = model_names or ([str(c) for c in cols] if cols is not None else UNNAMED)
        self.X_, self.y_ = X, y
        self.n_, self.d_, self.p_, self.K_ = b.n, b.d, b.p, b.K
        self.H_inv_ = b.H_inv
        self.H_inv_query_ = b.H_inv_query
        self.design_ = None  # from_statsmodels sets a formula model's own design
        self._cache = {}
        self.invariant_ = invariant
        self.reference_ = make_reference(invariant, self)  # None: the paper's pseudo-inverse
        self._references = {invariant: self.reference_}

    def _reference(self, name):
        """The reference metric ``name`` ("data" or "model"), built once ("model" forms a (p, p) F)."""
        if name not in self._references:
            self._references[name] = make_reference(name, self)
        return self._references[name]

    def _state(self):
        """What a cached result depends on: the cut-off and the two operators."""
        return (self.rtol, self.atol, self.H_inv_, self.H_inv_query_)

    def _is_current(self, state):
        now = self._state()
        return state[:2] == now[:2] and all(a is b for a, b in zip(state[2:], now[2:]))

    # -- helpers -----------------------------------------------------------
    def _per_row(self, values, name, rows=None):
        """Per-row results keep a DataFrame X's row labels: Series (n,) / DataFrame (n, m)."""
        index = None if self.index_ is None else \
            (self.index_ if rows is None else self.index_[np.asarray(rows)])
        check_finite_result(values, name, labels=index)
        if index is None:
            return values
        import pandas as pd
        if values.ndim == 1:
            return pd.Series(values, index=index, name=name)
        return pd.DataFrame(values, index=index)

    def _chunks(self, size=None):
        return row_chunks(self.n_, size or self.backend_.chunk_size)

    def _rows(self, rows):
        """The backend's per-row quantities for training rows (a slice or indices)."""
        return self.backend_.rows(self.X_[rows], self.y_[rows])

    def _query(self, X, y, name="X_query", yname="y_query"):
        y = y if getattr(self.model, "classes_", None) is None else self.model._codes(y, yname, None)
        return check_query(X, y, self.d_, self.K_, name, yname, self.feature_names_, self.design_)

    def _solved(self, X, y):
        """``H^{-1} grad_theta L(z'_q)`` (p, m) for query rows, with the query-side operator."""
        return self.H_inv_query_.matmat(self.backend_.rows(X, y).loss_grad.T)

    def _row_measure(self, name, per_chunk, dtype=float):
        """A per-row measure ``per_chunk(rows) -> (m,)``, kept until the cut-off or an operator changes."""
        state, values = self._cache.get(name, (None, None))
        if state is None or not self._is_current(state):
            values = np.empty(self.n_, dtype=dtype)
            for sl in self._chunks():
                values[sl] = per_chunk(self._rows(sl))
            self._cache[name] = (self._state(), values)
        return self._per_row(values.copy(), name)

    def _basis(self, rows, F):
        """``(lam, U, w)`` with ``G_i^+ = U_i diag(w_i) U_i^T``: the paper's (pinv_factor, lam None) or
        the kept eigenpairs against ``invariant``'s reference metric. (F may be overwritten.)"""
        if self.reference_ is None:
            U, w, _ = pinv_factor(F, self.rtol, self.atol)
            return None, U, w
        return reference_eig(F, self.reference_.solve(rows, F, F), self.rtol, self.atol)

    def _pair_chunk(self, m):
        """Training rows per chunk of pairwise FI against m query vectors (intermediates
        of about ``_PAIR_BYTES``)."""
        per_row = 8 * min(self.K_, self.d_) * max(m, self.p_)
        return max(1, min(self.backend_.chunk_size, _PAIR_BYTES // per_row))

    def _fi_from_w(self, W):
        """FI for every training row and every column of W = H^{-1} grad L(z') (p, m): (n, m)."""
        projected = projected_route(self)
        return fi_columns(self, W, self._pair_chunk(W.shape[1]), projected=projected).T

    # -- the measure and its uses --------------------------------------------
    def fi(self, X_query, y_query):
        """FI(z'_q, z_i) of eq. 2.1 for every training row i and query z'_q.

        Parameters
        ----------
        X_query : array_like (m, d)
            Query inputs x'_q.
        y_query : array_like (m,)
            Their labels; FI measures the loss at (x'_q, y'_q).

        Returns
        -------
        ndarray (n, m)
            Non-negative. Large values mark training points whose small input
            perturbation changes the loss at z'_q most, per unit of change of
            their own predictive distribution (Fisher-Rao length). Units: squared
            loss per unit squared geodesic length on the perturbation manifold.
        """
        Xq, yq = self._query(X_query, y_query)
        check_table("fi", self.n_, Xq.shape[0], self.p_)
        values = self._fi_from_w(self._solved(Xq, yq))
        check_finite_result(values.T, "fi of query row", labels=row_labels(X_query))
        return self._per_row(values, "fi")

    def against(self, X_val, y_val):
        """Bind a validation set: its measures share one solve ``u = H^{-1} gbar_V``.

        Parameters
        ----------
        X_val, y_val : array_like (m, d) and (m,)
            The validation set V, checked against the training columns and classes.

        Returns
        -------
        ValidationInfluence
            With ``fi_util``, ``influence_value`` and ``summary_frame``, each
            computed once and cached.
        """
        return ValidationInfluence(self, X_val, y_val)

    def fi_util(self, X_val, y_val, rows=None):
        """FI_util of eq. 3.1: FI with the mean validation loss.

        ``g_i = -(1/n) M_i^T u`` with ``u = H^{-1} gbar_V`` solved once, so the
        cost is one factorisation of H plus O(n p K^2) products. To reuse the
        solve for other measures of the same validation set, use :meth:`against`.

        Parameters
        ----------
        X_val, y_val : array_like (m, d) and (m,)
            The validation set; eq. 3.1 uses its mean loss.
        rows : array_like of int, optional
            Training rows to score (default: all). The model, H and the
            validation gradient are those of the full training set; only the
            per-row work is restricted (the subsampling of Algorithm 6).

        Returns
        -------
        ndarray (n,) or (len(rows),)
            Non-negative. Larger means a small change of x_i moves the mean
            validation loss more, per unit of change of x_i's own predictive
            distribution: a *sensitive* point. It does not say in which
            direction the loss moves, nor that removing the point helps.
        """
        return self.against(X_val, y_val).fi_util(rows)

    def fi_active(self, X_pool, agg="trimmed_mean", q=None):
        """FI_active of eq. 4.1 for unlabeled points.

        Each pool point gets the model's predicted label, FI(z_u, z_j) is formed
        for every labeled (training) point j, and the n values are aggregated
        (with integer ``sample_weight``, over the N observations: row j's value
        counted w_j times; non-integer weights are refused here).

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

        Notes
        -----
        Memory: the FI values of a block of pool points against all n rows
        (at most 512 MiB: 335 points at n = 2 * 10^5); each training row's side
        is computed once per block, and once for all blocks when it fits in
        256 MiB, else again for every block.
        """
        pool_index = row_labels(X_pool)
        Xp = check_matrix(X_pool, "X_pool", self.d_, feature_names=self.feature_names_, design=self.design_)
        w = self.sample_weight_
        if w is not None and not np.array_equal(w, np.round(w)):
            raise InputError("sample_weight: fi_active aggregates FI over the observations "
                             "(percentiles), which needs integer frequency weights")
        counts = None if w is None else w.astype(np.int64)
        yp = np.argmax(self.backend_.proba(Xp), axis=1)
        W = self._solved(Xp, yp)
        out = np.empty(Xp.shape[0])
        for sl, FT in self._pool_blocks(W):  # FT: (pool columns, n), every row's FI at once
            out[sl] = aggregate(FT if counts is None else np.repeat(FT, counts, axis=1), agg, q, axis=1)
        check_finite_result(out, "fi_active", labels=pool_index)
        if pool_index is not None:  # a DataFrame pool keeps its row labels
            import pandas as pd
            return pd.Series(out, index=pool_index, name="fi_active")
        return out

    def _pool_blocks(self, W):
        """``(slice, FI^T)`` for blocks of the pool vectors W (p, m), FI^T (block, n): at most
        ``8 _PAIR_BYTES`` of FI values a block (percentiles need all n at once), the training
        side kept across blocks when it fits in ``4 _PAIR_BYTES``, else recomputed."""
        m = W.shape[1]
        cols = max(1, _PAIR_BYTES * 8 // (8 * max(self.n_, int(self.n_obs_))))
        blocks = list(row_chunks(m, -(-m // -(-m // cols))))  # balanced blocks
        projected = projected_route(self)
        chunk = self._pair_chunk(blocks[0].stop)
        sides = None
        if len(blocks) > 1 and self.n_ * per_row_bytes(self, projected) <= _PAIR_BYTES * 4:
            sides = [TrainingSide(self, sl, projected) for sl in self._chunks(chunk)]
        for sl in blocks:
            yield sl, fi_columns(self, W[:, sl], chunk, sides, projected)

    def cook_local_influence(self, perturbation="case-weight", kind="total", covariate=None):
        """Cook's (1986) local influence with the Euclidean metric (not invariant).

        Parameters
        ----------
        perturbation : {"case-weight", "response", "covariate"}
            ``"response"`` (binary models, GLM or network) perturbs y_i in the
            Bernoulli log-likelihood; see :mod:`localinf.measures.cook`.
        kind : {"total", "local"}
        covariate : int, optional
            Column perturbed by ``perturbation="covariate"``.

        Returns
        -------
        ndarray (n,)
            See :func:`localinf.measures.cook.cook_local_influence`.
        """
        return self._per_row(cook_local_influence(self, perturbation=perturbation, kind=kind,
                                                  covariate=covariate), "cook_local")


# __new__ only routes dask inputs: the class's signature is __init__'s (keyword checks read it)
LocalInfluence.__signature__ = inspect.signature(LocalInfluence.__init__).replace(
    parameters=list(inspect.signature(LocalInfluence.__init__).parameters.values())[1:])
