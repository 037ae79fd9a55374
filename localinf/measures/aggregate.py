"""Aggregation of FI over the labeled set for FI_active (eq. 4.1's g)."""

import numpy as np

from .._core.checks import check_choice, check_fraction
from ..exceptions import InputError

AGGREGATIONS = ("trimmed_mean", "mean", "median", "quantile")


def aggregate(values, how="trimmed_mean", q=None, axis=0):
    """Aggregate FI values along ``axis`` (the g of eq. 4.1).

    Parameters
    ----------
    values : array_like (n, m)
        FI values, one row per labeled point (with ``axis=0``).
    how : {"trimmed_mean", "mean", "median", "quantile"}
        ``"trimmed_mean"`` (the paper's choice) is the mean of the values that
        lie between the 10th and 90th percentiles (inclusive, linear
        interpolation; the median when no value lies in that band, possible
        below 10 values); ``"quantile"`` takes the ``q``-quantile.
    q : float in [0, 1], optional
        For ``how="quantile"``.
    axis : int, default 0

    Returns
    -------
    ndarray (m,)
    """
    check_choice(how, "agg", AGGREGATIONS)
    values = np.asarray(values, dtype=np.float64)
    if how == "mean":
        return values.mean(axis=axis)
    if how == "median":
        return np.median(values, axis=axis)
    if how == "quantile":
        q = check_fraction(q, "q", low_open=False, high_open=False)  # agg='quantile' needs it
        return np.quantile(values, q, axis=axis)
    if how == "trimmed_mean":
        lo, hi = np.percentile(values, [10.0, 90.0], axis=axis, keepdims=True)
        inside = (values >= lo) & (values <= hi)
        count = inside.sum(axis=axis)
        total = np.where(inside, values, 0.0).sum(axis=axis)
        # With fewer than ~10 values the band can hold none of them: use the median.
        return np.where(count > 0, total / np.maximum(count, 1), np.median(values, axis=axis))
    raise InputError(f"agg must be one of {AGGREGATIONS}; got {how!r}")
