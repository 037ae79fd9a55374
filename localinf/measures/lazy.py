"""Local influence on dask collections: training sets larger than memory, lazy results.

:class:`DaskLocalInfluence` is :class:`~localinf.LocalInfluence` for a fitted
logistic or softmax regression whose training rows are a dask array or a dask
DataFrame. Building it costs one pass over the rows: each block adds its part
of the gradient and the Hessian of the risk at the fitted parameters, the
gradient must vanish there (the same minimiser check as in memory), and the
reference backend is built from H (:mod:`localinf.backends.from_hessian`).
Every per-row result is then a lazy dask collection with the input's blocks,
computed block by block by the in-memory code itself
(:mod:`.lazy_blocks`): a dask array for array input, a dask Series or
DataFrame with the row labels for DataFrame input. Nothing is computed until
``.compute()`` (or ``.to_parquet(...)``), and a worker holds one block at a time.

Against a validation set (:meth:`DaskLocalInfluence.against`), ``gbar_V`` and
``u = H^{-1} gbar_V`` are formed once (one pass if the validation set is a
dask collection too); ``top(k)`` finds the k rows of highest FI_util by a
per-block selection and a merge, without sorting n values.
"""

import numpy as np

from .._core.budget import check_inverse
from .._core.checks import (NonnegativeNumber, check_choice, check_finite_result, check_matrix,
                            check_minimiser, check_nonneg_float, row_labels)
from ..backends.from_hessian import reference_from_hessian
from ..exceptions import InputError
from ..models import multinomial as mn
from ..models.dask_data import DaskRows, is_dask_collection, merge_sums, run_pass
from ..models.glm import MultinomialLogit
from ..models.glm_dask import risk_block
from .aggregate import check_aggregation
from .lazy_blocks import (VECTORS, BlockInfluence, Shared, active_block, construct_block, frame_block,
                          vector_block)
from .lazy_bound import DaskValidationInfluence
from .rank_partials import merge_partials
from .rank_passes import aggregate_in_passes

_SCALINGS = ("derived", "algorithm1")


def _refuse(name, value, default, why):
    if value is not default and value != default:
        raise InputError(f"{name}: {why} on dask collections; got {value!r}")


class DaskLocalInfluence:
    """Local influence of the training rows of a GLM held in a dask collection.

    Parameters
    ----------
    model : LogisticRegression or SoftmaxRegression
        Fitted on (X, y): its parameters must minimise the penalised risk there (checked).
    X : dask.array.Array (n, d) or dask.dataframe.DataFrame
        Training inputs; a DataFrame is matched to the model's columns by name.
    y : dask.array.Array (n,) or dask.dataframe.Series
        Labels from ``model.classes_``, in the same row blocks as X.
    rtol, atol : float
        Rank cut-off of the pseudo-inverse (:class:`~localinf.LocalInfluence`).
    chunk_size : int, optional
        Rows per chunk within a block.
    backend, curvature, curvature_options, svd_rank, svd_options, query_curvature, \
query_curvature_options, invariant, at_minimiser
        Only the defaults (the reference backend, the exact Hessian, the paper's
        FI at the minimiser) are available on dask collections; others are refused.
    grad_rtol : float, default 1e-6
        The minimiser check, as in memory.
    scaling : {"derived", "algorithm1"}, default "derived"
    sample_weight : dask collection (n,), optional
        The frequency weights the model was fitted with.

    Attributes
    ----------
    model, backend_, H_inv_, H_inv_query_
    n_, d_, p_, K_ : int
    n_obs_ : float
    rows_ : DaskRows
        The training blocks.
    offsets_ : ndarray of int (nblocks + 1,)
        Global position of each block's first row.
    feature_names_ : list of str
    grad_norm_ : float
        ``max|grad R|`` at the model's parameters on (X, y).
    """

    rtol = NonnegativeNumber("Relative rank cut-off of ``G_i^+`` (may be changed; later results follow).")
    atol = NonnegativeNumber("Absolute rank cut-off of ``G_i^+`` (may be changed; later results follow).")

    def __init__(self, model, X, y, *, rtol=1e-10, atol=0.0, chunk_size=None, backend="auto",
                 curvature="exact", curvature_options=None, grad_rtol=1e-6, svd_rank=None,
                 svd_options=None, query_curvature=None, query_curvature_options=None,
                 scaling="derived", invariant=None, sample_weight=None, at_minimiser=True):
        if not isinstance(model, MultinomialLogit) or not model.is_fitted():
            raise InputError("model: on dask collections LocalInfluence needs a fitted "
                             "LogisticRegression or SoftmaxRegression")
        if not (isinstance(backend, str) and backend in ("auto", "reference")):
            raise InputError(f"backend: dask collections use the reference backend; got {backend!r}")
        why = "only the default is available (the exact closed forms)"
        for name, value, default in (("curvature", curvature, "exact"), ("invariant", invariant, None),
                                     ("at_minimiser", at_minimiser, True), ("svd_rank", svd_rank, None),
                                     ("curvature_options", curvature_options, None),
                                     ("svd_options", svd_options, None),
                                     ("query_curvature", query_curvature, None),
                                     ("query_curvature_options", query_curvature_options, None)):
            _refuse(name, value, default, why)
        self.rtol, self.atol = rtol, atol
        self.scaling_ = check_choice(scaling, "scaling", _SCALINGS)
        grad_rtol = check_nonneg_float(grad_rtol, "grad_rtol")
        self.model = model
        names = model._names()
        self.rows_ = rows = DaskRows(X, y, sample_weight, feature_names=names)
        theta, K, p = model.checked_theta(), model.n_classes_, model.theta_.size
        if rows.d != model.n_features_in_:
            raise InputError(f"X has {rows.d} columns but the model was fitted with "
                             f"{model.n_features_in_} features")
        check_inverse(p)
        parts = run_pass(rows, construct_block, merge_sums, model)
        rows.set_lengths([parts["counts"][i] for i in range(rows.nblocks)])
        n, N = rows.n, float(parts["N"])
        if n == 0:
            raise InputError("X is empty: it has no rows")
        if not N > 0:
            raise InputError("sample_weight sums to 0: no observation is left")
        mask = mn.penalty_mask(K, p // (K - 1), rows.d)
        l2 = float(model.l2_)
        grad = parts["grad"] / N + 2.0 * l2 * mask * theta
        H = parts["H"] / N
        H[np.diag_indices(p)] += 2.0 * l2 * mask
        check_minimiser(grad, parts["max_x"], grad_rtol)
        b = reference_from_hessian(model, n, H, n_obs=N, chunk_size=chunk_size)
        b.D_divisor = N if self.scaling_ == "derived" else 1.0
        self._check_newton_step(theta, b.H_inv.matvec(grad), parts["max_row"], grad_rtol)
        self.backend_, self.H_inv_ = b, b.H_inv
        self.H_inv_query_ = b.H_inv_query
        self.n_, self.d_, self.p_, self.K_, self.n_obs_ = n, rows.d, p, K, N
        self.offsets_ = rows.offsets
        self.feature_names_ = rows.names if rows.names is not None else list(names)
        self.sample_weight_ = sample_weight
        self.integer_weights_ = bool(parts["max_frac"] == 0.0)
        self.grad_norm_ = float(np.max(np.abs(grad)))

    def _check_newton_step(self, theta, step, max_row, grad_rtol):
        """The in-memory Newton-step check: the step ``H^{-1} grad R`` may change no training
        log-probability by more than sqrt(grad_rtol). ``2 max_i ||xt_i|| max_k ||step_k||``
        bounds that change, so the pass that measures it runs only when the bound does not
        decide."""
        K, bound = self.model.n_classes_, float(np.sqrt(grad_rtol))
        q = step.size // (K - 1)
        if 2.0 * max_row * float(np.max(np.linalg.norm(step.reshape(K - 1, q), axis=1))) <= bound:
            return
        change = run_pass(self.rows_, risk_block, merge_sums, self.model.classes_, K,
                          self.model.fit_intercept_, [], (theta, step))["max_change"]
        if not change <= bound:
            raise InputError(
                f"model: its parameters do not minimise the penalised risk on (X, y): the Newton "
                f"step H^-1 grad R would still change a training log-probability by {change:.1e} "
                f"> sqrt(grad_rtol) = {bound:.1e}; refit to the minimiser, set a larger l2, or "
                "loosen grad_rtol")

    # -- lazy per-row results ---------------------------------------------------------
    def _shared(self):
        return Shared(self.backend_, self.model, self.rows_.spec(), self.offsets_, self.rtol,
                      self.atol, self.feature_names_)

    def _vector(self, name, validation=None):
        """A per-row measure as a lazy dask array (n,) or Series (dfbetas: (n, p))."""
        import dask.array as da
        import dask.dataframe as dd
        import pandas as pd
        r, kw = self.rows_, dict(shared=self._shared(), measure=name, validation=validation)
        if r.kind == "frame":
            meta = pd.DataFrame({c: [] for c in self._param_names()}, dtype=float) \
                if name == "dfbetas" else pd.Series([], dtype=float, name=name)
            return dd.map_partitions(vector_block, *r.inputs(), frame=True, meta=meta,
                                     align_dataframes=False, **kw)
        if name == "dfbetas":
            return da.map_blocks(vector_block, *r.inputs(), dtype=float,
                                 chunks=(r.X.chunks[0], (self.p_,)), **kw)
        return da.map_blocks(vector_block, *r.inputs(), dtype=float, drop_axis=1,
                             chunks=(r.X.chunks[0],), **kw)

    def _param_names(self):
        import pandas as pd
        empty = BlockInfluence(self._shared(), np.zeros((0, self.d_)), np.zeros(0, np.int64),
                               pd.RangeIndex(0))
        return empty.param_names_

    def _frame(self, validation=None, dfbetas=None, threshold=None):
        """``classic_frame`` or the summary frame as a lazy dask DataFrame, one partition per block."""
        import dask
        import dask.dataframe as dd
        r, shared = self.rows_, self._shared()
        kw = dict(validation=validation, dfbetas=dfbetas, threshold=threshold)
        meta = self._meta(shared, kw)
        if r.kind == "frame":
            return dd.map_partitions(frame_block, *r.inputs(), shared=shared, meta=meta,
                                     align_dataframes=False, **kw)
        parts = [dask.delayed(frame_block)(xb, yb, shared, block=i, **kw)
                 for i, (xb, yb, _) in enumerate(r.blocks())]
        counts = np.diff(self.offsets_)
        divisions = tuple(self.offsets_[:-1]) + (self.n_ - 1,) if (counts > 0).all() else None
        return dd.from_delayed(parts, meta=meta, divisions=divisions)

    def _meta(self, shared, kw):
        """The frame's columns and dtypes, from the same code on one synthetic row."""
        X, y = np.zeros((1, self.d_)), np.asarray(self.model.classes_)[:1]
        if self.rows_.kind == "frame":
            X, y = self.rows_.X._meta.iloc[:0].copy(), None
            X.loc[0] = [0.0] * self.d_ + [self.model.classes_[0]] + [1.0] * (X.shape[1] - self.d_ - 1)
        meta = frame_block(X, y, shared, **{**kw, "threshold": None}, block=0)
        if kw["threshold"] is not None:
            meta["flagged"] = meta["flagged"].astype(bool)
        return meta.iloc[:0]

    def classic_frame(self, dfbetas=None):
        """The classic deletion diagnostics, lazily (:meth:`~localinf.LocalInfluence.classic_frame`).

        Parameters
        ----------
        dfbetas : bool, optional
            Include the ``dfb_<param>`` columns (default: when p <= 64).

        Returns
        -------
        dask.dataframe.DataFrame (n, k)
            Indexed by the row labels of a DataFrame X, else by 0..n-1.
        """
        return self._frame(dfbetas=dfbetas)

    def summary_frame(self, X_val=None, y_val=None, *, flag_top=0.05, dfbetas=None):
        """The summary frame, lazily (:meth:`~localinf.LocalInfluence.summary_frame`).

        Parameters
        ----------
        X_val, y_val : array_like or dask collections (m, d) and (m,), optional
            With them, the FI_util, IV and stability columns and ``flagged``
            (:meth:`DaskValidationInfluence.summary_frame`).
        flag_top : float or int, default 0.05
        dfbetas : bool, optional

        Returns
        -------
        dask.dataframe.DataFrame (n, k)
        """
        if (X_val is None) != (y_val is None):
            raise InputError("X_val, y_val: give both (FI_util and IV columns) or neither")
        if X_val is None:
            return self.classic_frame(dfbetas)
        return self.against(X_val, y_val).summary_frame(flag_top=flag_top, dfbetas=dfbetas)

    def against(self, X_val, y_val):
        """Bind a validation set: ``gbar_V`` and ``u = H^{-1} gbar_V`` formed once.

        Parameters
        ----------
        X_val, y_val : array_like or dask collections (m, d) and (m,)

        Returns
        -------
        DaskValidationInfluence
        """
        return DaskValidationInfluence(self, X_val, y_val)

    def fi_util(self, X_val, y_val):
        """Lazy FI_util of eq. 3.1 (:meth:`~localinf.LocalInfluence.fi_util`).

        Parameters
        ----------
        X_val, y_val : array_like or dask collections (m, d) and (m,)

        Returns
        -------
        dask.array.Array (n,) or dask.dataframe.Series
        """
        return self.against(X_val, y_val).fi_util()

    def influence_value(self, X_val, y_val):
        """Lazy IV (:meth:`~localinf.LocalInfluence.influence_value`).

        Parameters
        ----------
        X_val, y_val : array_like or dask collections (m, d) and (m,)

        Returns
        -------
        dask.array.Array (n,) or dask.dataframe.Series
        """
        return self.against(X_val, y_val).influence_value()

    def fi_active(self, X_pool, agg="trimmed_mean", q=None):
        """FI_active of eq. 4.1, exactly as in memory, in a few passes over the training rows.

        Each pool point gets the model's predicted label and FI(z_u, z_j) against
        every training observation j (row j counted w_j times under integer
        frequency weights); the N values are aggregated as
        :meth:`~localinf.LocalInfluence.fi_active` does. They are recomputed
        block by block in every pass and never held: ``"mean"`` takes one pass,
        the percentiles are found exactly by :mod:`~localinf.measures.rank_passes`
        (usually two or three passes: histograms of the values' bit patterns, then
        one gathering the few values left around each percentile).

        Parameters
        ----------
        X_pool : array_like (m, d) or a dask collection
            The pool; a dask collection is computed (FI_active keeps
            ``H^{-1} grad L`` of every pool point, p x m numbers).
        agg : {"trimmed_mean", "mean", "median", "quantile"}, default "trimmed_mean"
        q : float, optional
            Quantile level for ``agg="quantile"``.

        Returns
        -------
        ndarray (m,) or pandas.Series
            As in memory: non-negative, larger means the pool point's prediction
            is more sensitive to perturbations of the training data. An FI value
            that overflows is refused (in memory it may fall outside the trimmed band).
        """
        if not self.integer_weights_:  # the in-memory order of checks
            raise InputError("sample_weight: fi_active aggregates FI over the observations "
                             "(percentiles), which needs integer frequency weights")
        q = check_aggregation(agg, q)
        if is_dask_collection(X_pool):
            X_pool = X_pool.compute()
        labels = row_labels(X_pool)
        Xp = check_matrix(X_pool, "X_pool", self.d_, feature_names=self.feature_names_)
        b = self.backend_
        W = self.H_inv_query_.matmat(b.rows(Xp, np.argmax(b.proba(Xp), axis=1)).loss_grad.T)
        N = self.n_ if self.sample_weight_ is None else int(round(self.n_obs_))
        shared, m = self._shared(), Xp.shape[0]

        def run(plan):
            part = run_pass(self.rows_, active_block, merge_partials, shared, W, plan)
            check_finite_result(np.where(part.get("bad", np.zeros(m, bool)), np.nan, 0.0),
                                "an FI value of pool point", labels=labels)
            return part

        out = check_finite_result(aggregate_in_passes(run, m, N, agg, q), "fi_active", labels=labels)
        if labels is not None:
            import pandas as pd
            return pd.Series(out, index=labels, name="fi_active")
        return out

    def cook_local_influence(self, perturbation="case-weight", kind="total", covariate=None):
        """Lazy Cook's (1986) local influence, case-weight perturbation, ``kind="total"``.

        The other perturbations scale by spreads of the whole training set and
        ``kind="local"`` is an eigenvector over all rows; they are not offered here.

        Parameters
        ----------
        perturbation : {"case-weight"}
        kind : {"total"}
        covariate : None

        Returns
        -------
        dask.array.Array (n,) or dask.dataframe.Series
        """
        if perturbation != "case-weight" or kind != "total" or covariate is not None:
            raise InputError("perturbation, kind: on dask collections Cook's local influence is "
                             "offered for perturbation='case-weight', kind='total' (per row) only")
        return self._vector("cook_local")

    def dfbetas(self):
        """Lazy one-step DFBETAS (:meth:`~localinf.LocalInfluence.dfbetas`).

        Returns
        -------
        dask.array.Array (n, p) or dask.dataframe.DataFrame
        """
        return self._vector("dfbetas")


def _per_row_method(key, method):
    def measure(self):
        return self._vector(key)
    measure.__name__ = method
    measure.__doc__ = (f"Lazy ``{method}`` (:meth:`~localinf.LocalInfluence.{method}`), one value "
                       "per training row.\n\n        Returns\n        -------\n        "
                       "dask.array.Array (n,) or dask.dataframe.Series\n        ")
    return measure


for _key, _method in VECTORS.items():
    setattr(DaskLocalInfluence, _method, _per_row_method(_key, _method))


def _not_offered(method, why):
    def refuse(self, *args, **kwargs):
        raise InputError(f"{method} is not offered on dask collections ({why}); compute it on an "
                         "in-memory sample (LocalInfluence(model, X.compute(), y.compute())) or "
                         "see docs/dask.md")
    refuse.__name__ = method
    refuse.__doc__ = (f"Not offered on dask collections ({why}): raises :class:`InputError`.\n\n"
                      "        Parameters\n        ----------\n        *args, **kwargs\n"
                      "            Those of the in-memory method (not used).\n\n"
                      "        Returns\n        -------\n        None\n        ")
    return refuse


# In-memory methods whose result needs all n rows at once: a localinf error, not an AttributeError.
for _method, _why in {"fi": "an (n, m) table of pairs", "influence": "an (n, m) table of pairs",
                      "loo_params": "exact leave-one-out refits"}.items():
    setattr(DaskLocalInfluence, _method, _not_offered(_method, _why))
