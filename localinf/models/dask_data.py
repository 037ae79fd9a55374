"""Training data held in dask collections: aligned row blocks and passes over them.

A dask array or dask DataFrame larger than memory is read block by block:
each pass runs one task per block (a chunk of rows of a dask array, a
partition of a dask DataFrame) that returns a few partial sums, and the
partial results are combined pairwise in a tree (a handful at a time), so no
task ever holds more than one block and a few (p, p) matrices. Results with one
value per training row are built lazily with the same blocks, so they line up
with the input's chunks or partitions.

dask is optional: nothing here imports it until a dask collection is given
(:func:`is_dask_collection` answers False without importing it).
"""

import functools
import sys
import threading

import numpy as np
from threadpoolctl import threadpool_limits

from .._core.checks import align_columns, check_matrix, encode_labels
from .._core.chunks import row_chunks
from ..exceptions import InputError

# Partial results of a pass are combined this many at a time.
SPLIT_EVERY = 8


def is_dask_collection(obj):
    """Whether ``obj`` is a dask collection (array, DataFrame, Series), without importing dask.

    Parameters
    ----------
    obj : object

    Returns
    -------
    bool
    """
    if "dask" not in sys.modules or obj is None:
        return False
    return bool(sys.modules["dask"].is_dask_collection(obj))


_BLAS = {"tasks": 0, "limiter": None}
_BLAS_LOCK = threading.Lock()


def one_blas_thread(task):
    """Run a dask task with BLAS on one thread.

    dask runs blocks in parallel threads; each calling a multi-threaded BLAS
    oversubscribes the cores (seen: passes ten times slower on two cores). The
    limit is process-wide, so it is set when the first concurrent task starts
    and lifted when the last one ends.

    Parameters
    ----------
    task : callable

    Returns
    -------
    callable
        ``task`` with the limit around it.
    """
    @functools.wraps(task)
    def limited(*args, **kwargs):
        with _BLAS_LOCK:
            if _BLAS["tasks"] == 0:
                _BLAS["limiter"] = threadpool_limits(limits=1, user_api="blas")
            _BLAS["tasks"] += 1
        try:
            return task(*args, **kwargs)
        finally:
            with _BLAS_LOCK:
                _BLAS["tasks"] -= 1
                if _BLAS["tasks"] == 0:
                    _BLAS["limiter"].restore_original_limits()
    return limited


@one_blas_thread
def _limited(task, *args):
    """``task(*args)`` with BLAS on one thread (a module-level function: tasks pickle by name)."""
    return task(*args)


def _kind(obj, name):
    """``"array"``, ``"frame"`` (DataFrame or Series) or refuse another dask collection."""
    import dask.array as da
    import dask.dataframe as dd
    if isinstance(obj, da.Array):
        return "array"
    if isinstance(obj, (dd.DataFrame, dd.Series)):
        return "frame"
    if not is_dask_collection(obj):
        raise InputError(f"{name}: a {type(obj).__name__} with the other inputs in dask collections; "
                         f"pass {name} as a dask collection too (a dask array or DataFrame), in "
                         "the same row blocks")
    raise InputError(f"{name}: a dask collection of type {type(obj).__name__} is not supported; "
                     "pass a dask array or a dask DataFrame/Series")


class DaskRows:
    """Training rows (X, y, weights) as aligned dask blocks.

    Parameters
    ----------
    X : dask.array.Array (n, d) or dask.dataframe.DataFrame
        Training inputs. A dask array needs known chunk sizes; a DataFrame's
        columns are matched to ``feature_names`` by name (when given).
    y : dask.array.Array (n,), dask.dataframe.Series, or ndarray (n,) with a dask array X
        Labels, split into the same row blocks as X.
    sample_weight : same kinds as y, optional
        Frequency weights.
    feature_names : list of str, optional
        The model's training columns (a DataFrame X is aligned to them).

    Attributes
    ----------
    kind : {"array", "frame"}
    names : list of str or None
        Column names of a DataFrame X, in the order used (None for an array).
    d : int
        Features.
    nblocks : int
    X, y, w : dask collections
        Aligned (w is None without weights); an array X has one column chunk.
    """

    def __init__(self, X, y, sample_weight=None, feature_names=None):
        self.kind = _kind(X, "X")
        if self.kind == "array":
            self._init_array(X, y, sample_weight)
        else:
            self._init_frame(X, y, sample_weight, feature_names)
        self.nblocks = len(self._xblocks)

    def _init_array(self, X, y, w):
        import dask.array as da
        if X.ndim != 2:
            raise InputError(f"X must be 2-D of shape (n_samples, n_features); got {X.ndim}-D")
        if any(np.isnan(c) for c in X.chunks[0]) or np.isnan(X.shape[1]):
            raise InputError("X has unknown chunk sizes (e.g. after boolean indexing); call "
                             "X.compute_chunk_sizes() first, or pass a dask DataFrame")
        self.X = X.rechunk({1: -1}) if len(X.chunks[1]) > 1 else X
        self.names, self.d = None, int(X.shape[1])
        rows = X.chunks[0]

        def aligned(v, name):
            if v is None:
                return None
            if is_dask_collection(v):
                if _kind(v, name) != "array":
                    raise InputError(f"{name}: X is a dask array, so {name} must be a dask or "
                                     "numpy array (not a dask Series)")
                if any(np.isnan(c) for c in v.chunks[0]):
                    raise InputError(f"{name} has unknown chunk sizes; call "
                                     f"{name}.compute_chunk_sizes() first")
            else:
                v = da.from_array(np.asarray(v), chunks=-1)
            if v.ndim == 2 and v.shape[1] == 1:
                v = v[:, 0]
            if v.ndim != 1 or v.shape[0] != X.shape[0]:
                raise InputError(f"{name} must have shape ({X.shape[0]},), one entry per row of X; "
                                 f"got shape {v.shape}")
            return v.rechunk((rows,)) if v.chunks[0] != rows else v

        self.y, self.w = aligned(y, "y"), aligned(w, "sample_weight")
        self._xblocks = list(self.X.to_delayed().ravel())
        self._yblocks = list(self.y.to_delayed().ravel())
        self._wblocks = None if self.w is None else list(self.w.to_delayed().ravel())
        self.offsets = np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)

    def _init_frame(self, X, y, w, feature_names):
        import dask.dataframe as dd
        if not isinstance(X, dd.DataFrame):
            raise InputError("X must be 2-D: a dask DataFrame, not a Series (use X.to_frame())")
        names = [str(c) for c in X.columns]
        if feature_names is not None:
            align_columns(X._meta, "X", feature_names)  # by name: missing or extra columns
            names = list(feature_names) or names  # none: a model fitted on an array
        self.X, self.names, self.d = X, names, len(names)

        def aligned(v, name):
            if v is None:
                return None
            if not is_dask_collection(v) or _kind(v, name) != "frame":
                raise InputError(f"{name}: X is a dask DataFrame, so {name} must be a dask Series "
                                 "with the same partitions (e.g. a column of the same frame)")
            if v.npartitions != X.npartitions:
                raise InputError(f"{name} has {v.npartitions} partitions but X has "
                                 f"{X.npartitions}; take both from the same frame")
            if isinstance(v, dd.DataFrame):
                if len(v.columns) != 1:
                    raise InputError(f"{name} must be one column; got {len(v.columns)}")
                v = v[v.columns[0]]
            return v

        self.y, self.w = aligned(y, "y"), aligned(w, "sample_weight")
        # one frame holding X's columns, y and the weights: its partitions are the blocks, so a
        # query optimiser cannot split X and y differently (narrow reads are combined)
        parts = [X, self.y] + ([] if self.w is None else [self.w])
        meta = _join_partition(names, *(v._meta for v in parts))
        self.X = dd.map_partitions(_join_partition, names, *parts, meta=meta,
                                   align_dataframes=False)
        self._xblocks = list(self.X.to_delayed())
        self._yblocks = [None] * len(self._xblocks)
        self._wblocks = None
        self.offsets = None  # partition lengths are found by the first pass (set_lengths)

    def set_lengths(self, counts):
        """Record the rows of each block (from a pass) and the global row offsets.

        Parameters
        ----------
        counts : sequence of int (nblocks,)

        Returns
        -------
        None
        """
        counts = np.asarray(counts, dtype=np.int64)
        if self.offsets is None:
            self.offsets = np.concatenate([[0], np.cumsum(counts)])

    @property
    def n(self):
        """Training rows (known for arrays, and for frames after the first pass)."""
        return None if self.offsets is None else int(self.offsets[-1])

    def blocks(self):
        """``(X_block, y_block, w_block)`` delayed objects, one triple per block.

        Returns
        -------
        list of tuple
        """
        w = self._wblocks or [None] * self.nblocks
        return list(zip(self._xblocks, self._yblocks, w))

    def inputs(self):
        """``(X, y)`` for a per-block map over the rows: a dask array and y as a column, or
        the joined frame (holding y) and None.

        Returns
        -------
        tuple
        """
        return (self.X, self.y[:, None]) if self.kind == "array" else (self.X, None)

    def spec(self):
        """What a task needs to read a block: ``(kind, names, d)``.

        Returns
        -------
        tuple
        """
        return self.kind, self.names, self.d


_Y, _W = "__localinf_y__", "__localinf_w__"


def _join_partition(names, X, y, w=None):
    """One partition of X (columns ``names``) with y and the weights as two more columns."""
    if len(y) != len(X) or w is not None and len(w) != len(X):
        what, v = ("y", y) if len(y) != len(X) else ("sample_weight", w)
        raise InputError(f"{what}: a partition has {len(v)} rows where X has {len(X)}; take X "
                         f"and {what} from the same frame")
    out = X.copy()
    out.columns = [str(c) for c in X.columns]
    out = out[names]
    out[_Y] = np.asarray(y)
    if w is not None:
        out[_W] = np.asarray(w)
    return out


def block_arrays(spec, Xb, yb, wb, block, classes=None, check=False):
    """One block as ``(X (m, d) float64, y, w (m,) or None, labels)``.

    Parameters
    ----------
    spec : tuple
        :meth:`DaskRows.spec`.
    Xb, yb, wb : the block's data (ndarray, or pandas DataFrame/Series for frames)
    block : int
        The block's number, for the messages.
    classes : ndarray (K,), optional
        Code the labels 0..K-1 by their position here; None: labels as given.
    check : bool, default False
        Check that X holds finite numbers (every block is checked once, by the
        first pass over it).

    Returns
    -------
    X : ndarray (m, d)
    y : ndarray (m,)
    w : ndarray (m,) or None
    labels : pandas.Index or None
        The partition's row labels (frames).
    """
    kind, names, d = spec
    labels = None
    if kind == "frame":  # one partition of the joined frame
        labels = Xb.index
        yb, wb = Xb[_Y], (Xb[_W] if _W in Xb.columns else None)
        Xb = Xb[names]
    where = f"X (block {block})"
    if check:
        Xa = check_matrix(Xb, where, n_features=d, allow_empty=True)
    else:
        Xa = np.ascontiguousarray(np.asarray(Xb, dtype=np.float64))
    m = Xa.shape[0]
    ya = np.asarray(yb)
    if ya.ndim != 1 or ya.shape[0] != m:
        raise InputError(f"y (block {block}) has {ya.shape[0] if ya.ndim else 1} entries but X has "
                         f"{m} rows there; y must be split into the same blocks as X")
    if classes is not None:
        ya = encode_labels(ya, classes, f"y (block {block})", m)
    wa = None
    if wb is not None:
        wa = np.asarray(wb)
        if wa.ndim != 1 or wa.shape[0] != m or wa.dtype.kind not in "biuf":
            raise InputError(f"sample_weight (block {block}) must hold one number per row of X "
                             f"({m} there); got shape {wa.shape}, dtype {wa.dtype}")
        wa = wa.astype(np.float64)
        if check and not (np.isfinite(wa).all() and (wa >= 0).all()):
            raise InputError(f"sample_weight (block {block}) has NaN, inf or negative weights; "
                             "frequency weights count observations and are finite and >= 0")
    return Xa, ya, wa, labels


def merge_sums(parts):
    """Combine partial pass results (dicts): sums add, ``max*`` keys take the maximum,
    ``counts`` (block -> rows) join, ``classes`` with their ``totals`` are united.

    Parameters
    ----------
    parts : list of dict

    Returns
    -------
    dict
    """
    out = dict(parts[0])
    for part in parts[1:]:
        for key, value in part.items():
            if key.startswith("max"):
                out[key] = np.maximum(out[key], value)
            elif key == "counts":
                out[key] = {**out[key], **value}
            elif key == "classes":
                classes = np.concatenate([out[key], value])
                totals = np.concatenate([out["totals"], part["totals"]])
                try:
                    out[key], inv = np.unique(classes, return_inverse=True)
                except TypeError:
                    raise InputError("y mixes labels of types that cannot be sorted against each "
                                     "other; use labels of one type") from None
                out["totals"] = np.bincount(inv.ravel(), weights=totals, minlength=out[key].size)
            elif key != "totals":
                out[key] = out[key] + value
    return out


def run_pass(rows, per_block, combine, *args):
    """One pass: ``per_block(spec, X, y, w, block, *args)`` on every block, tree-combined.

    Parameters
    ----------
    rows : DaskRows
    per_block : callable
        Returns a partial result for one block (runs on a dask worker).
    combine : callable
        ``combine(list of partials) -> partial``, associative.
    *args
        Passed to every task (parameters, the inverse Hessian, ...).

    Returns
    -------
    object
        The combined result, computed with dask's current scheduler (a
        ``distributed.Client`` when one is active).
    """
    import dask
    spec = rows.spec()
    # large arrays enter the graph once, not hashed and shipped again for every block
    args = [dask.delayed(a, pure=True) if isinstance(a, np.ndarray) and a.nbytes > 1 << 20 else a
            for a in args]
    parts = [dask.delayed(_limited, pure=True)(per_block, spec, xb, yb, wb, i, *args)
             for i, (xb, yb, wb) in enumerate(rows.blocks())]
    while len(parts) > 1:
        parts = [dask.delayed(combine, pure=True)(parts[sl])
                 for sl in row_chunks(len(parts), SPLIT_EVERY)]
    return dask.compute(parts[0])[0]
