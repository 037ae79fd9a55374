"""One table per training point, as statsmodels' ``get_influence().summary_frame()``."""

import numpy as np

from ..exceptions import InputError


class SummaryTable:
    """``summary_frame`` and ``classic_frame`` of :class:`~localinf.LocalInfluence` (a base
    class: uses its classic diagnostics, measures and ``against``)."""

    def summary_frame(self, X_val=None, y_val=None, *, index=None, flag_top=0.05, dfbetas=None):
        """One row per training point, as statsmodels' ``get_influence().summary_frame()``.

        Without validation data: the classic deletion diagnostics under
        statsmodels' column names (:meth:`classic_frame`: ``dfb_*``,
        ``cooks_d``, ``standard_resid``, ``hat_diag``, ``dffits_internal``, then
        ``student_resid``, ``dffits``, ``resid_pearson``, ``resid_deviance``,
        ``cook_local``, ``self_influence``). FI_util and IV measure the effect
        on a validation loss, so their columns are absent then (the frame's
        ``attrs["note"]`` says so); with ``X_val, y_val`` they are added
        (:meth:`ValidationInfluence.summary_frame`).

        Parameters
        ----------
        X_val, y_val : array_like (m, d) and (m,), optional
            Validation data for FI_util and IV.
        index : array_like, optional
            Row labels (default: those of a DataFrame X, else 0..n-1).
        flag_top : float or int, default 0.05
            With validation data: see :meth:`ValidationInfluence.summary_frame`.
        dfbetas : bool, optional
            Include the ``dfb_<param>`` columns (default: when p <= 64).

        Returns
        -------
        pandas.DataFrame (n, k)
        """
        if (X_val is None) != (y_val is None):
            raise InputError("X_val, y_val: give both (FI_util and IV columns) or neither (the "
                             "classic diagnostics alone)")
        if X_val is not None:
            return self.against(X_val, y_val).summary_frame(index=index, flag_top=flag_top,
                                                            dfbetas=dfbetas)
        frame = self.classic_frame(self._index_arg(index), dfbetas)
        frame.attrs["note"] = ("no validation data: fi_util and iv columns absent; "
                               "summary_frame(X_val, y_val) adds them")
        return frame

    def _index_arg(self, index):
        """Row labels for a table: ``index`` checked against n, or None (the default)."""
        if index is None:
            return None
        import pandas as pd
        idx = pd.Index(index)
        if len(idx) != self.n_:
            raise InputError(f"index has {len(idx)} labels for {self.n_} training rows")
        return idx

    def classic_frame(self, index=None, dfbetas=None):
        """The classic columns of ``summary_frame``, statsmodels' names first.

        Parameters
        ----------
        index : pandas.Index, optional
            Row labels (default those of X, else 0..n-1).
        dfbetas : bool, optional
            Include the ``dfb_<param>`` columns (default: when p <= 64).

        Returns
        -------
        pandas.DataFrame (n, k)
            GLMs: ``dfb_*``, ``cooks_d``, ``standard_resid``, ``hat_diag``,
            ``dffits_internal``, ``student_resid``, ``dffits``,
            ``resid_pearson``, ``resid_deviance``, ``cook_local``,
            ``self_influence``. Other models: ``hat_diag``, ``cook_local``,
            ``self_influence`` (the deletion formulas are the GLM's);
            ``cook_local`` only with the exact curvature.
        """
        import pandas as pd
        index = self._labels() if index is None else index
        arr = lambda f: np.asarray(f())
        cols = {}
        if self._is_glm():
            if dfbetas or dfbetas is None and self.p_ <= 64:
                D = np.asarray(self.dfbetas())
                cols.update({f"dfb_{name}": D[:, j] for j, name in enumerate(self.param_names_)})
            cols.update(cooks_d=arr(self.cooks_distance), standard_resid=arr(self.resid_standardized),
                        hat_diag=arr(self.leverage), dffits_internal=arr(self.dffits_internal),
                        student_resid=arr(self.resid_studentized), dffits=arr(self.dffits),
                        resid_pearson=arr(self.resid_pearson),
                        resid_deviance=arr(self.resid_deviance))
        else:
            cols.update(hat_diag=arr(self.leverage))
        if self.H_inv_.hessian is not None:  # Cook's local influence needs the dense Hessian
            cols.update(cook_local=arr(self.cook_local_influence))
        cols.update(self_influence=arr(self.self_influence))
        return pd.DataFrame(cols, index=index)

