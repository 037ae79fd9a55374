"""The exact effect of deleting a training row on the validation loss, by refitting.

FI_util ranks rows by how *sensitive* the validation loss is to a small change
of their inputs; it does not say whether removing a row helps. IV's sign
predicts that to first order; this module measures it: refit without the row
and compare the mean validation log-loss.
"""

import numpy as np

from .._core.checks import check_index
from .data import held_out, refit, training_data


def _mean_log_loss(model, X, y):
    logP = np.asarray(model.predict_log_proba(X))
    return float(-np.mean(logP[np.arange(len(y)), y]))


def deletion_effect(fit, X, y, X_val, y_val, rows):
    """Change of the mean validation log-loss when each row is deleted and the model refitted.

    Parameters
    ----------
    fit : callable
        ``fit(X, y) -> model`` with ``predict_log_proba``.
    X : array_like or pandas.DataFrame (n, d)
    y : array_like (n,)
    X_val : array_like or pandas.DataFrame (m, d)
        Aligned to X's columns by name when both are frames.
    y_val : array_like (m,)
    rows : sequence of int (k,)
        Row positions in X; one refit each (k refits in all).

    Returns
    -------
    ndarray (k,)
        ``loss(refit without row) - loss(full fit)``: negative means deleting the
        row lowers the validation loss, positive that it raises it.
    """
    X, y, K, names = training_data(X, y)
    X_val, y_val = held_out(X_val, y_val, "X_val", "y_val", X.shape[1], K, names)
    rows = [check_index(i, len(y), "rows") for i in rows]
    base = _mean_log_loss(refit(fit, X, y), X_val, y_val)
    out = np.empty(len(rows))
    for k, i in enumerate(rows):  # k refits, not a loop over n
        keep = np.ones(len(y), dtype=bool)
        keep[i] = False
        out[k] = _mean_log_loss(refit(fit, X[keep], y[keep]), X_val, y_val) - base
    return out
