"""Influence against one validation set, with its solve ``u = H^{-1} gbar_V`` done once.

As statsmodels binds an influence object to a fit, :meth:`LocalInfluence.against`
binds a validation set: FI_util (eq. 3.1), the influence value IV and the
summary frame all use ``u``, which is solved once and kept.
"""

import numbers
import warnings

import numpy as np

from .._core.checks import check_rows
from .._core.chunks import row_chunks
from .._core.scalars import finite_float
from ..exceptions import InputError, InSampleWarning, NumericalError
from .overlap import shared_rows
from .pinv import pinv_quadratic, reference_eig
from .rank_one import rank_one_quadratic
from .reference import invariance_defect, solve_parts
from .stability import stability_rows


class ValidationInfluence:
    """Measures of a :class:`~localinf.LocalInfluence` against one validation set.

    Parameters
    ----------
    influence : LocalInfluence
    X_val, y_val : array_like (m, d) and (m,)
        The validation set V.

    Attributes
    ----------
    influence : LocalInfluence
    X_val : ndarray (m, d)
    y_val : ndarray (m,)
    gbar_ : ndarray (p,)
        Mean validation gradient ``gbar_V`` (the mean, not the sum: IV and
        FI_util do not grow with the size of the validation set).
    in_sample_ : ndarray of bool (m,)
        Validation rows equal to a training row (features and label); when
        they are the majority an :class:`~localinf.exceptions.InSampleWarning`
        is issued.
    u_ : ndarray (p,)
        ``H^{-1} gbar_V``, with the query-side operator; solved once, and again
        only if the influence object's operator is replaced.

    Notes
    -----
    Results are cached until the influence object's cut-off (``rtol``,
    ``atol``) or operators change; each call returns a copy.
    """

    def __init__(self, influence, X_val, y_val):
        self.influence = influence
        self.X_val, self.y_val = influence._query(X_val, y_val, "X_val", "y_val")
        self.gbar_ = influence.backend_.mean_loss_grad(self.X_val, self.y_val)
        if not np.isfinite(self.gbar_).all():
            raise NumericalError("X_val: the mean validation gradient overflows (features above "
                                 "~1e150 in absolute value?); rescale the features")
        self.in_sample_ = shared_rows(influence.X_, influence.y_, self.X_val, self.y_val)
        self._warn_in_sample()
        self._u = self._fi_util = self._iv = (None, None)
        _ = self.u_  # the one solve happens here, when the set is bound

    def _warn_in_sample(self):
        """Warn when most validation rows are training rows (:class:`InSampleWarning`)."""
        shared, m = int(self.in_sample_.sum()), self.in_sample_.size
        if shared < 0.5 * m:
            return
        inf = self.influence
        head = (f"X_val: {shared} of {m} validation rows are training rows (in-sample validation)")
        if shared == m and m >= inf.n_:
            per_row = np.abs(inf.backend_.rows(self.X_val[:256], self.y_val[:256]).loss_grad).max()
            tiny = np.abs(self.gbar_).max() <= 1e-8 * max(per_row, np.finfo(float).tiny)
            what = ("so gbar_V is round-off and FI_util and IV are round-off, ranked all the same"
                    if tiny else "so FI_util and IV measure the penalty's pull, not held-out loss")
            text = (f"{head}: at the fitted minimiser the mean training-loss gradient is minus the "
                    f"penalty's gradient (zero without a penalty), {what}.")
        else:
            text = (f"{head}: FI_util and IV then describe the loss on rows the model was fitted "
                    "on, not held-out loss.")
        warnings.warn(text + " Validate on rows the model was not fitted on.", InSampleWarning,
                      stacklevel=4)

    @property
    def u_(self):
        op, u = self._u
        if op is not self.influence.H_inv_query_:
            op = self.influence.H_inv_query_
            self._u = op, op.matvec(self.gbar_)
        return self._u[1]

    def parts(self, rows):
        """The per-row pieces of FI_util before the pseudo-inverse.

        ``G_i = F_i F_i^T`` and ``g_i = -(1/n) M_i^T u``, sharing one set of
        per-row passes; FI_util at any rank cut-off follows from them in
        O(d K^2) per row (:mod:`localinf.measures.pinv`).

        Parameters
        ----------
        rows : slice or array of int
            Training rows.

        Returns
        -------
        F : ndarray (m, d, r)
        g : ndarray (m, d)
        """
        return self._parts(rows)[1:]

    def _parts(self, rows):
        """``(Rows, F, g)``: :meth:`parts` with the chunk's backend rows."""
        inf = self.influence
        R = inf._rows(rows)
        F = R.metric_factor()
        g = R.mixed_T(self.u_)
        g *= -1.0 / inf.backend_.D_divisor
        return R, F, g

    def _fi_util_rows(self, idx):
        inf = self.influence
        out = np.empty(idx.size if idx is not None else inf.n_)
        b = inf.backend_
        if inf._closed_rank_one() and inf.reference_ is None:  # a few numbers per row
            kernel, u = b.rank_one(), self.u_
            V = kernel.columns(u)
            for sl in row_chunks(out.size, b.chunk_size):
                rows = sl if idx is None else idx[sl]
                lam, proj = kernel.parts(inf.X_[rows], inf.y_[rows], V, u)
                out[sl] = rank_one_quadratic(lam, proj / b.D_divisor, inf.rtol, inf.atol)
            return out
        for sl in row_chunks(out.size, inf.backend_.chunk_size):
            R, F, g = self._parts(sl if idx is None else idx[sl])
            lam, U, inv = inf._basis(R, F)
            out[sl] = pinv_quadratic(U, inv, g)
        return out

    def fi_util(self, rows=None):
        """FI_util of eq. 3.1 (see :meth:`LocalInfluence.fi_util`).

        Parameters
        ----------
        rows : array_like of int, optional
            Training rows to score (default: all, computed once and cached).

        Returns
        -------
        ndarray (n,) or (len(rows),)
            Non-negative; large marks a point to which the validation loss is
            sensitive, not necessarily a harmful one.
        """
        inf = self.influence
        if rows is None:
            state, values = self._fi_util
            if state is None or not inf._is_current(state):
                values = self._fi_util_rows(None)
                self._fi_util = (inf._state(), values)
            return inf._per_row(values.copy(), "fi_util")
        idx = check_rows(rows, inf.n_)
        return inf._per_row(self._fi_util_rows(idx), "fi_util", idx)

    def invariance_defect(self, reference=None):
        """How far each row's FI_util is from Theorem 1's invariance, in [0, 1].

        ``eta_i = 1 - sum_j (g_i . u_j)^2 / (g_i^T G_ref^{-1} g_i)``: the share
        of g_i, in the reference metric's norm, outside the kept eigenspace of
        G_i (:mod:`localinf.measures.reference`). 0 exactly where g_i lies in
        range(G_i), so that the paper's FI_util does not depend on the units of
        x; near 1, the paper's FI_util of the row is mostly decided by the
        coordinates. Unchanged by any invertible J applied to omega for
        ``"model"``, by any linear change of feature units for ``"data"``
        (when the fit is). An extension beyond the paper.

        Parameters
        ----------
        reference : {None, "data", "model"}
            None: the influence object's ``invariant`` if set, else ``"model"``.

        Returns
        -------
        ndarray (n,)
        """
        inf = self.influence
        ref = inf._reference(reference if reference is not None else (inf.invariant_ or "model"))
        out = np.empty(inf.n_)
        for sl in inf._chunks():
            R, F, g = self._parts(sl)
            RF, Rg = solve_parts(ref, R, F, g)
            out[sl] = invariance_defect(reference_eig(F, RF, inf.rtol, inf.atol)[1], g, Rg)
        return inf._per_row(out, "invariance_defect")

    def influence_value(self):
        """IV (see :meth:`LocalInfluence.influence_value`), computed once and cached.

        Returns
        -------
        ndarray (n,)
            Negative marks a point whose deletion lowers the validation loss
            (to first order): ``+IV_i / n`` is the predicted change.
        """
        inf = self.influence
        u = self.u_
        state, values = self._iv
        if state is not u:
            values = np.empty(inf.n_)
            for sl in inf._chunks():
                values[sl] = inf._rows(sl).loss_grad @ u
            self._iv = (u, values)
        return inf._per_row(values.copy(), "iv")

    def summary_frame(self, index=None, flag_top=0.05, dfbetas=None):
        """One row per training point, as statsmodels' influence ``summary_frame``.

        Parameters
        ----------
        index : array_like, optional
            Row labels (default: those of a DataFrame passed as X, else 0..n-1).
        flag_top : float in [0, 1) or int in 0..n, default 0.05
            Share (or number) of rows with the highest FI_util marked
            ``flagged``; a positive share flags at least one row, 0 none.
        dfbetas : bool, optional
            Include the ``dfb_<param>`` columns (default: when p <= 64).

        Returns
        -------
        pandas.DataFrame (n, k)
            The classic diagnostics of :meth:`LocalInfluence.classic_frame`
            (``cooks_d``, ``hat_diag``, ``student_resid``, ..., ``cook_local``,
            ``self_influence``), then ``fi_util``, ``iv``, ``rank`` (1 = highest
            FI_util) and ``flagged``.
            ``flagged`` marks sensitivity, not harm: check ``iv`` (or refit)
            before removing a row. Stability (:mod:`localinf.measures.stability`):
            ``fi_util_coarse`` (cut-offs 100 times coarser, ``rtol`` at least 1e-6),
            ``cutoff_sensitive`` (the two differ by more than a factor 2) and
            ``range_residual`` in [0, 1] (0 exactly where Theorem 1 makes the
            row's FI independent of feature units). With ``invariant`` set,
            ``fi_util`` is the invariant FI_util and the column
            ``invariance_defect`` (:meth:`invariance_defect`) is added.
        """
        inf = self.influence
        fi = np.asarray(self.fi_util())
        rank = np.empty(inf.n_, dtype=np.int64)
        rank[np.argsort(-fi, kind="stable")] = np.arange(1, inf.n_ + 1)
        top = _flag_count(flag_top, inf.n_)
        coarse, resid, eta = stability_rows(self)
        extra = {} if eta is None else {"invariance_defect": eta}
        idx = inf._index_arg(index)
        classic = inf.classic_frame(idx, dfbetas)
        return classic.assign(**{"fi_util": fi, "iv": np.asarray(self.influence_value()),
                             "rank": rank, "flagged": rank <= top,
                             "fi_util_coarse": coarse,
                             "cutoff_sensitive": (coarse > 2 * fi) | (2 * coarse < fi),
                             "range_residual": resid, **extra})


def _flag_count(flag_top, n):
    """Rows to flag: an int in 0..n is a count, a float in [0, 1) a share (at least one row if > 0)."""
    if isinstance(flag_top, numbers.Integral) and not isinstance(flag_top, (bool, np.bool_)):
        if not 0 <= flag_top <= n:
            raise InputError(f"flag_top must be a count in 0..{n}; got {flag_top!r}")
        return int(flag_top)
    share = finite_float(flag_top)
    if share is None or not 0 <= share < 1:
        raise InputError(f"flag_top must be a share in [0, 1) or a count in 0..{n}; got {flag_top!r}")
    return 0 if share == 0 else max(1, int(round(share * n)))
