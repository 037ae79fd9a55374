"""A validation set bound to a :class:`~localinf.measures.lazy.DaskLocalInfluence`.

As :class:`~localinf.ValidationInfluence` binds one in memory: the mean
validation gradient ``gbar_V`` and ``u = H^{-1} gbar_V`` are formed once, and
FI_util, IV and the summary frame of the training rows are lazy dask
collections built from them. ``top(k)`` selects the k rows of highest FI_util
block by block and merges the selections, so no sort of all n values is needed.
"""

import types

import numpy as np

from .._core.checks import check_query
from ..exceptions import InputError, NumericalError
from ..models.dask_data import DaskRows, is_dask_collection, merge_sums, one_blas_thread, run_pass
from .bound import ValidationInfluence, _flag_count
from .lazy_blocks import block_of_rows, gradient_block, merge_top, overlap_block, top_block


class DaskValidationInfluence:
    """A validation set bound to a :class:`DaskLocalInfluence`: ``u = H^{-1} gbar_V`` once.

    Parameters
    ----------
    influence : DaskLocalInfluence
    X_val, y_val : array_like or dask collections (m, d) and (m,)
        In memory, the validation rows equal to training rows are found (one
        pass over the training rows) and an InSampleWarning is issued when they
        are the majority, as in memory; a dask validation set is not checked.

    Attributes
    ----------
    influence : DaskLocalInfluence
    gbar_ : ndarray (p,)
        The mean validation gradient.
    u_ : ndarray (p,)
        ``H^{-1} gbar_V``.
    in_sample_ : ndarray of bool (m,) or None
    """

    def __init__(self, influence, X_val, y_val):
        inf, b = influence, influence.backend_
        self.influence = inf
        classes = inf.model.classes_
        self.in_sample_ = None
        if is_dask_collection(X_val) or is_dask_collection(y_val):
            rows = DaskRows(X_val, y_val, feature_names=inf.model._names())
            if rows.d != inf.d_:
                raise InputError(f"X_val has {rows.d} columns but the model was fitted with "
                                 f"{inf.d_} features")
            parts = run_pass(rows, gradient_block, merge_sums, b, classes)
            if not parts["m"]:
                raise InputError("X_val is empty: it has no rows")
            self.gbar_ = parts["grad"] / parts["m"]
        else:
            y = inf.model._codes(y_val, "y_val", None)
            Xv, yv = check_query(X_val, y, inf.d_, inf.K_, "X_val", "y_val", inf.model._names())
            self.gbar_ = b.mean_loss_grad(Xv, yv)
            self.in_sample_ = run_pass(inf.rows_, overlap_block, merge_sums, classes, Xv, yv)["shared"]
            vi = ValidationInfluence.__new__(ValidationInfluence)
            vi.influence = types.SimpleNamespace(n_=inf.n_, backend_=b)
            vi.X_val, vi.y_val, vi.gbar_, vi.in_sample_ = Xv, yv, self.gbar_, self.in_sample_
            vi._warn_in_sample()
        if not np.isfinite(self.gbar_).all():
            raise NumericalError("X_val: the mean validation gradient overflows (features above "
                                 "~1e150 in absolute value?); rescale the features")
        self.u_ = inf.H_inv_query_.matvec(self.gbar_)

    def fi_util(self):
        """Lazy FI_util of eq. 3.1, one value per training row, >= 0.

        Returns
        -------
        dask.array.Array (n,) or dask.dataframe.Series
        """
        return self.influence._vector("fi_util", (self.gbar_, self.u_))

    def influence_value(self):
        """Lazy IV ``gbar_V^T H^{-1} grad L(z_i)``; negative marks a harmful row.

        Returns
        -------
        dask.array.Array (n,) or dask.dataframe.Series
        """
        return self.influence._vector("iv", (self.gbar_, self.u_))

    def top(self, k=10, dfbetas=None):
        """The k training rows of highest FI_util with their summary columns, computed now.

        Each block keeps its k best rows and the blocks' lists are merged (no
        sort of all n values); then only the blocks holding them are read again
        for their other columns.

        Parameters
        ----------
        k : int, default 10
        dfbetas : bool, optional

        Returns
        -------
        pandas.DataFrame (min(k, n), columns)
            In order of decreasing FI_util (ties: earlier rows first): the
            row's ``label``, the columns of :meth:`summary_frame` and ``rank`` 1..k.
        """
        import pandas as pd
        inf = self.influence
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 0:
            raise InputError(f"k must be a whole number of rows >= 0; got {k!r}")
        k = min(int(k), inf.n_)
        if k == 0:
            return self.summary_frame(flag_top=0, dfbetas=dfbetas).head(0)
        fi, pos = self._best(k)
        shared = inf._shared()
        block_of = np.searchsorted(inf.offsets_, pos, side="right") - 1
        import dask
        frames, blocks = [], inf.rows_.blocks()
        for blk in np.unique(block_of):
            local = pos[block_of == blk] - inf.offsets_[blk]
            xb, yb, _ = blocks[blk]
            frames.append(dask.delayed(_rows_frame)(xb, yb, shared, blk, local,
                                                    (self.gbar_, self.u_), dfbetas))
        table = pd.concat(dask.compute(*frames))
        order = {p: j for j, p in enumerate(pos.tolist())}
        table = table.iloc[np.argsort([order[p] for p in table.pop("_pos")])]
        table.insert(table.columns.get_loc("iv") + 1, "rank", np.arange(1, len(table) + 1))
        return table.assign(flagged=True)

    def _best(self, k):
        inf = self.influence
        part = run_pass(inf.rows_, top_block, merge_top, inf._shared(), (self.gbar_, self.u_), k)
        return part["top"]

    def summary_frame(self, flag_top=0.05, dfbetas=None):
        """The summary frame, lazily: classic columns, ``fi_util``, ``iv``, ``flagged`` and
        the stability columns (:meth:`~localinf.ValidationInfluence.summary_frame`).

        ``rank`` is left out: it is a sort of all n rows (use :meth:`top` for the
        highest ones). ``flagged`` marks the ``flag_top`` rows of highest FI_util;
        the threshold is found now, by one pass (:meth:`top`'s selection).

        Parameters
        ----------
        flag_top : float in [0, 1) or int, default 0.05
        dfbetas : bool, optional

        Returns
        -------
        dask.dataframe.DataFrame (n, k)
        """
        inf = self.influence
        count = _flag_count(flag_top, inf.n_)
        threshold = (np.inf, -1)
        if count:
            fi, pos = self._best(count)
            threshold = (float(fi[-1]), int(pos[-1]))
        return inf._frame((self.gbar_, self.u_), dfbetas, threshold)


@one_blas_thread
def _rows_frame(Xb, yb, shared, block, local, validation, dfbetas):
    """Summary rows of a few rows of one block, with their global positions (``_pos``)."""
    b = block_of_rows(shared, Xb, yb, block, rows=local)
    table = b.bound(*validation).summary_frame(flag_top=0, dfbetas=dfbetas).drop(columns="rank")
    table.insert(0, "label", np.asarray(shared.model.classes_)[b.y_])
    return table.assign(_pos=local + int(shared.offsets[block]))
