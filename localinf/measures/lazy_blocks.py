"""The in-memory measures, run on one block of training rows at a time (for dask).

Every per-row measure of :class:`~localinf.LocalInfluence` depends on the
whole training set only through the fitted parameters, ``H^{-1}``, the number
of observations N and, against a validation set, ``u = H^{-1} gbar_V``. So a
block of rows is scored by the very classes the in-memory object is built
from (:class:`~.classic.ClassicMeasures`, :class:`~.diagnostics.DeletionDiagnostics`,
:class:`~.table.SummaryTable`, :class:`~.bound.ValidationInfluence`), given
those shared quantities and the block's rows: :class:`BlockInfluence` is that
object for one block. The functions below are the dask tasks: each reads one
block (:func:`~localinf.models.dask_data.block_arrays`) and returns its rows'
values.
"""

import numpy as np
import pandas as pd

from .._core.checks import check_finite_result
from .._core.chunks import row_chunks
from ..models.dask_data import block_arrays, one_blas_thread
from ..models.glm_risk import risk_derivatives
from .bound import ValidationInfluence
from .classic import ClassicMeasures
from .cook import cook_local_influence
from .diagnostics import DeletionDiagnostics
from .overlap import shared_rows
from .pairwise import TrainingSide, per_row_bytes, pool_layout, projected_route
from .pinv import pinv_factor
from .rank_partials import accumulate
from .table import SummaryTable

# The per-row measures a block task can return, by name: the method of BlockInfluence
# (or of its ValidationInfluence) and the name of the values.
VECTORS = {"self_influence": "self_influence", "leverage": "leverage", "cooks_d": "cooks_distance",
           "resid_pearson": "resid_pearson", "resid_deviance": "resid_deviance",
           "standard_resid": "resid_standardized", "student_resid": "resid_studentized",
           "dffits": "dffits", "dffits_internal": "dffits_internal",
           "cook_local": "cook_local_influence"}
VALIDATION = {"fi_util": "fi_util", "iv": "influence_value"}


class Shared:
    """What every block task needs: the backend, the model and the row offsets.

    Parameters
    ----------
    backend : Backend
        Built from the whole training set's H and N.
    model : LogisticRegression or SoftmaxRegression
    spec : tuple
        How a block is read (:meth:`~localinf.models.dask_data.DaskRows.spec`).
    offsets : ndarray of int (nblocks + 1,)
        Global position of each block's first row.
    rtol, atol : float
        The metric's rank cut-off.
    feature_names : list of str
        Column names for parameter labels (empty: x0, x1, ...).
    """

    def __init__(self, backend, model, spec, offsets, rtol, atol, feature_names):
        self.backend, self.model, self.spec, self.offsets = backend, model, spec, offsets
        self.rtol, self.atol, self.feature_names = rtol, atol, list(feature_names or ())


class BlockInfluence(ClassicMeasures, DeletionDiagnostics, SummaryTable):
    """The in-memory measures on one block of training rows, with the whole set's H and N.

    Parameters
    ----------
    shared : Shared
    X : ndarray (m, d)
    y : ndarray of int (m,)
        Labels coded 0..K-1.
    labels : pandas.Index (m,)
        The rows' labels (global positions, or a DataFrame's row labels).
    """

    intercept_name_ = "const"

    def __init__(self, shared, X, y, labels):
        b = shared.backend
        self.backend_, self.model = b, shared.model
        self.H_inv_ = self.H_inv_query_ = b.H_inv
        self.X_, self.y_, self.index_ = X, y, labels
        self.n_, self.d_, self.p_, self.K_ = X.shape[0], b.d, b.p, b.K
        self.n_obs_, self.sample_weight_ = b.N, None
        self.rtol, self.atol = shared.rtol, shared.atol
        self.feature_names_ = shared.feature_names
        self.at_minimiser_, self.reference_, self.design_ = True, None, None
        self._cache = {}

    # the plumbing LocalInfluence gives its measures, for one block computed once
    def _chunks(self, size=None):
        return row_chunks(self.n_, size or self.backend_.chunk_size)

    def _rows(self, rows):
        return self.backend_.rows(self.X_[rows], self.y_[rows])

    def _state(self):
        return (self.rtol, self.atol, self.H_inv_, self.H_inv_query_)

    def _is_current(self, state):
        return True

    def _per_row(self, values, name, rows=None):
        labels = self.index_ if rows is None else self.index_[np.asarray(rows)]
        return check_finite_result(values, name, labels=labels)

    def _row_measure(self, name, per_chunk, dtype=float):
        values = np.empty(self.n_, dtype=dtype)
        for sl in self._chunks():
            values[sl] = per_chunk(self._rows(sl))
        return self._per_row(values, name)

    def _basis(self, rows, F):
        U, w, _ = pinv_factor(F, self.rtol, self.atol)
        return None, U, w

    def cook_local_influence(self, perturbation="case-weight", kind="total", covariate=None):
        """Cook's local influence of the block's rows (case-weight, total: per row).

        Parameters
        ----------
        perturbation, kind, covariate
            See :func:`~localinf.measures.cook.cook_local_influence`; only the
            per-row ``"case-weight"``, ``"total"`` is a property of the row alone.

        Returns
        -------
        ndarray (m,)
        """
        return self._per_row(cook_local_influence(self, perturbation, kind, covariate), "cook_local")

    def bound(self, gbar, u):
        """The block's :class:`ValidationInfluence`, with the whole set's ``gbar_V`` and ``u``.

        Parameters
        ----------
        gbar, u : ndarray (p,)

        Returns
        -------
        ValidationInfluence
        """
        vi = ValidationInfluence.__new__(ValidationInfluence)
        vi.influence, vi.gbar_ = self, gbar
        vi._u, vi._fi_util, vi._iv = (self.H_inv_query_, u), (None, None), (None, None)
        return vi


def block_of_rows(shared, Xb, yb, block, rows=None, wb=None):
    """``BlockInfluence`` of block ``block`` (only ``rows`` of it, positions within the block).

    Parameters
    ----------
    shared : Shared
    Xb, yb : the block's data
    block : int
    rows : ndarray of int, optional
    wb : the block's weights, optional
        Kept as the block's ``weights_`` (a DataFrame block carries its own).

    Returns
    -------
    BlockInfluence
    """
    if shared.spec[0] == "array":
        yb = np.asarray(yb).reshape(-1)  # dask arrays hand y over as a column
    X, y, w, labels = block_arrays(shared.spec, Xb, yb, wb, block, shared.model.classes_)
    if labels is None:
        start = int(shared.offsets[block])
        labels = pd.RangeIndex(start, start + X.shape[0])
    if rows is not None:
        X, y, labels = X[rows], y[rows], labels[rows]
        w = None if w is None else w[rows]
    b = BlockInfluence(shared, X, y, labels)
    b.weights_ = w
    return b


def _shape(values, labels, name, frame):
    """A block's values as the output collection wants them: arrays, or pandas with labels."""
    if not frame:
        return values
    if values.ndim == 1:
        return pd.Series(values, index=labels, name=name)
    return pd.DataFrame(values, index=labels)


@one_blas_thread
def vector_block(Xb, yb, shared, measure, validation=None, frame=False, block_id=None,
                 partition_info=None):
    """One per-row measure on one block (a dask task).

    Parameters
    ----------
    Xb, yb : the block's data
    shared : Shared
    measure : str
        A key of :data:`VECTORS` or :data:`VALIDATION`, or ``"dfbetas"`` (m, p).
    validation : tuple (gbar, u), optional
        For the measures against a validation set.
    frame : bool
        Return pandas with the block's row labels (dask DataFrame input).
    block_id, partition_info
        Filled in by dask: which block this is.

    Returns
    -------
    ndarray (m,) or (m, p), or pandas.Series / DataFrame
    """
    block = partition_info["number"] if partition_info is not None else block_id[0]
    b = block_of_rows(shared, Xb, yb, block)
    if measure in VALIDATION:
        values = getattr(b.bound(*validation), VALIDATION[measure])()
    elif measure == "dfbetas":
        values = np.asarray(b.dfbetas())
    else:
        values = getattr(b, VECTORS[measure])()
    values = np.asarray(values)
    if frame and values.ndim == 2:
        return pd.DataFrame(values, index=b.index_, columns=b.param_names_)
    return _shape(values, b.index_, measure, frame)


@one_blas_thread
def frame_block(Xb, yb, shared, validation=None, dfbetas=None, threshold=None, block=0,
                partition_info=None):
    """``classic_frame`` (no validation) or the summary frame of one block (a dask task).

    Parameters
    ----------
    Xb, yb : the block's data
    shared : Shared
    validation : tuple (gbar, u), optional
        With it, the FI_util and IV columns and the stability columns are added.
    dfbetas : bool, optional
    threshold : tuple (value, position), optional
        The last flagged row in the order of decreasing FI_util (then position):
        rows before it are ``flagged``.
    block : int
        The block's number (dask arrays); ``partition_info`` for DataFrames.
    partition_info : dict, optional

    Returns
    -------
    pandas.DataFrame (m, k)
    """
    if partition_info is not None:
        block = partition_info["number"]
    b = block_of_rows(shared, Xb, yb, block)
    if validation is None:
        return b.classic_frame(None, dfbetas)
    table = b.bound(*validation).summary_frame(flag_top=0, dfbetas=dfbetas).drop(columns="rank")
    if threshold is not None:
        pos = np.arange(b.n_) + int(shared.offsets[block])
        fi = table["fi_util"].to_numpy()
        table["flagged"] = (fi > threshold[0]) | ((fi == threshold[0]) & (pos <= threshold[1]))
    return table


def top_block(spec, Xb, yb, wb, block, shared, validation, k):
    """The k rows of one block with the highest FI_util, best first (ties: lower position
    first), as a pass partial.

    Parameters
    ----------
    spec : tuple
        How a block is read.
    Xb, yb, wb : the block's data
    block : int
        The block's number.
    shared : Shared
    validation : tuple (gbar, u)
    k : int

    Returns
    -------
    dict
        ``top``: (fi (k,), global positions (k,)) and ``k``.
    """
    b = block_of_rows(shared, Xb, yb, block)
    fi = np.asarray(b.bound(*validation).fi_util())
    pos = np.arange(b.n_, dtype=np.int64) + int(shared.offsets[block])
    keep = np.lexsort((pos, -fi))[:k]
    return dict(top=(fi[keep], pos[keep]), k=k)


def merge_top(parts):
    """Combine :func:`top_block` partials: the k best of all, in order.

    Parameters
    ----------
    parts : list of dict

    Returns
    -------
    dict
    """
    k = parts[0]["k"]
    fi = np.concatenate([p["top"][0] for p in parts])
    pos = np.concatenate([p["top"][1] for p in parts])
    keep = np.lexsort((pos, -fi))[:k]
    return dict(top=(fi[keep], pos[keep]), k=k)


# active_block: pool points whose FI values are formed by one product, and FI values binned at once
ACTIVE_POOL, ACTIVE_VALUES = 4096, 1 << 22
_KEPT_BYTES = 1 << 27  # training sides kept across the pool blocks of one group of rows


def active_block(spec, Xb, yb, wb, block, shared, W, plan):
    """One block's contribution to a pass of FI_active's aggregation (a pass partial).

    Parameters
    ----------
    spec : tuple
        How a block is read.
    Xb, yb, wb : the block's data
    block : int
        The block's number.
    shared : Shared
    W : ndarray (p, m)
        ``H^{-1} grad_theta L`` of the m pool points at their predicted labels.
    plan : dict or None
        :meth:`~localinf.measures.rank_passes.RankSearch.plan` (None: sums only).

    Returns
    -------
    dict
        :func:`~localinf.measures.rank_passes.accumulate`'s partial.
    """
    b = block_of_rows(shared, Xb, yb, block, wb=wb)
    counts = None if b.weights_ is None else b.weights_.astype(np.int64)
    out = {}
    if not b.n_:
        return out
    projected, m = projected_route(b), W.shape[1]
    pools = [(ps, np.ascontiguousarray(W[:, ps])) for ps in row_chunks(m, ACTIVE_POOL)]
    pools = [(ps, Wp, pool_layout(b, Wp, projected)) for ps, Wp in pools]
    # rows binned at once: enough that the histograms (pool x bins) cost less than the values
    cells = 0 if plan is None else plan["bins"] * len(plan["groups"])
    step = max(ACTIVE_VALUES // min(m, ACTIVE_POOL), 4 * cells)
    step = min(step, max(b.backend_.chunk_size, _KEPT_BYTES // per_row_bytes(b, projected)))
    for rows in row_chunks(b.n_, step):
        parts = list(row_chunks(rows.stop - rows.start, b.backend_.chunk_size))  # within rows
        sides = [TrainingSide(b, slice(rows.start + sl.start, rows.start + sl.stop), projected)
                 for sl in parts]
        w = None if counts is None else counts[rows]
        for ps, Wp, layout in pools:
            fi = np.empty((ps.stop - ps.start, rows.stop - rows.start))  # FI(z_u, z_j)
            for sl, side in zip(parts, sides):
                fi[:, sl] = side.fi(Wp, layout).T
            accumulate(plan, fi, w, out, sets=ps, m=m)
    return out


def construct_block(spec, Xb, yb, wb, block, model):
    """The first pass of a dask influence object over one block: checked inputs, label
    codes, and the block's sums of the risk's gradient and Hessian at the model's theta.

    Parameters
    ----------
    spec : tuple
        How a block is read.
    Xb, yb, wb : the block's data
    block : int
        The block's number.
    model : LogisticRegression or SoftmaxRegression

    Returns
    -------
    dict
        ``counts``, ``N``, ``grad`` (p,), ``H`` (p, p), ``max_x``, ``max_row`` and
        ``max_frac``, the largest distance of a weight from an integer.
    """
    X, y, w, _ = block_arrays(spec, Xb, yb, wb, block, model.classes_, check=True)
    m = X.shape[0]
    p = model.theta_.size
    N = float(m if w is None else w.sum())
    out = dict(counts={block: m}, N=N, grad=np.zeros(p), H=np.zeros((p, p)), max_x=0.0, max_row=0.0,
               max_frac=0.0 if w is None or not m else float(np.max(np.abs(w - np.round(w)))))
    if m and N > 0:
        _, g, H, _, max_x = risk_derivatives(X, y, model.theta_, model.n_classes_,
                                             model.fit_intercept_, 0.0, weights=w)
        out.update(grad=g * N, H=H * N, max_x=max_x)
    elif m:
        out.update(max_x=float(np.max(np.abs(X))))
    if m:  # max_i ||(x_i, 1)||, for the bound on the Newton step's effect
        sq = float(np.max(np.einsum("ij,ij->i", X, X)))
        out.update(max_row=float(np.sqrt(sq + float(model.fit_intercept_))))
    return out


def gradient_block(spec, Xb, yb, wb, block, backend, classes):
    """Sum of the loss gradients of one block of validation rows (a pass partial).

    Parameters
    ----------
    spec : tuple
        How a block is read.
    Xb, yb, wb : the block's data
    block : int
        The block's number.
    backend : Backend
    classes : ndarray (K,)

    Returns
    -------
    dict
        ``grad`` (p,) and the rows ``m``.
    """
    X, y, _, _ = block_arrays(spec, Xb, yb, None, block, classes, check=True)
    g = backend.rows(X, y).loss_grad.sum(axis=0) if X.shape[0] else np.zeros(backend.p)
    return dict(grad=g, m=X.shape[0])


def overlap_block(spec, Xb, yb, wb, block, classes, X_val, y_val):
    """Which validation rows equal a row of this training block (a pass partial).

    Parameters
    ----------
    spec : tuple
        How a block is read.
    Xb, yb, wb : the block's data
    block : int
        The block's number.
    classes : ndarray (K,)
    X_val, y_val : ndarray (m, d) and (m,)

    Returns
    -------
    dict
        ``shared``: bool (m,).
    """
    X, y, _, _ = block_arrays(spec, Xb, yb, None, block, classes)
    if not X.shape[0]:
        return dict(shared=np.zeros(y_val.size, dtype=bool))
    return dict(shared=shared_rows(X, y, X_val, y_val))
