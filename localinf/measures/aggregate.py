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
    q = check_aggregation(how, q)
    values = np.asarray(values, dtype=np.float64)
    if how == "mean":
        return values.mean(axis=axis)
    if how == "median":
        return np.median(values, axis=axis)
    if how == "quantile":
        return np.quantile(values, q, axis=axis)
    if how == "trimmed_mean":
        return trimmed_mean(values, axis)
    raise InputError(f"agg must be one of {AGGREGATIONS}; got {how!r}")


def check_aggregation(how, q=None):
    """Check ``agg`` (and ``q`` for ``agg="quantile"``, which needs it) as :func:`aggregate` does.

    Parameters
    ----------
    how : str
    q : float, optional

    Returns
    -------
    float or None
        The checked ``q``.
    """
    check_choice(how, "agg", AGGREGATIONS)
    if how == "quantile":
        return check_fraction(q, "q", low_open=False, high_open=False)
    return q


def trimmed_mean(values, axis=0, band=(10.0, 90.0)):
    """Mean of the values between two percentiles (inclusive), along ``axis``.

    The percentiles follow numpy's default ("linear") rule: with N values
    sorted ``x_(0) <= ... <= x_(N-1)`` and ``h = (N - 1) p / 100``, the
    p-th percentile is ``x_(a) + (h - a)(x_(a+1) - x_(a))``, ``a = floor(h)``
    (numpy's two-sided form of that interpolation; ``x_(N-1)`` when
    ``h >= N - 1``). One partial sort (``np.partition`` at the four order
    statistics involved) gives them; no full sort and no median. Since
    ``x_(a) <= lo <= x_(a+1)`` and ``x_(b) <= hi <= x_(b+1)``, the values at sorted
    positions ``a+1..b`` are all inside the band, and the others only where
    they equal lo or hi. With no value in the band (possible below 10
    values) the result is the median.

    Parameters
    ----------
    values : ndarray (..., N, ...)
    axis : int
    band : tuple of two floats, default (10, 90)
        Percentiles in [0, 100].

    Returns
    -------
    ndarray
        ``values`` without ``axis``.
    """
    v = np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1)
    part, (lo, hi), (a, b) = band_edges(v, band)
    total = part[..., a + 1:b + 1].sum(axis=-1)
    count = np.full(total.shape, max(b - a, 0), dtype=np.intp)
    for edge, side in ((lo, part[..., :a + 1]), (hi, part[..., max(b, a) + 1:])):
        ties = (side == edge[..., None]).sum(axis=-1)
        count += ties
        total += ties * edge
    out = total / np.maximum(count, 1)
    empty = count == 0
    if empty.any():
        out[empty] = np.median(v[empty], axis=-1)
    return out


def band_edges(v, band):
    """The two percentiles of :func:`trimmed_mean` along the last axis of v.

    Returns
    -------
    part : ndarray
        A copy of v partitioned at the order statistics used.
    edges : tuple of two ndarray
        The percentiles (equal to ``np.percentile(v, band, axis=-1)``).
    below : ndarray of int (2,)
        ``floor(h)`` of each (``N - 1`` at the top).
    """
    below, above, gamma = percentile_positions(v.shape[-1], np.true_divide(band, 100))
    part = np.array(v, order="C")
    part.partition(np.unique(np.concatenate([below, above])), axis=-1)
    edges = tuple(lerp(part[..., below[j]], part[..., above[j]], gamma[j]) for j in range(2))
    return part, edges, below


def percentile_positions(N, fractions):
    """Sorted positions and weights of numpy's linear-rule quantiles of N values.

    ``h = (N - 1) f``; the quantile is ``x_(a) + (h - a)(x_(a+1) - x_(a))``,
    ``a = floor(h)``, both positions ``N - 1`` when ``h >= N - 1`` (as
    ``np.quantile``).

    Parameters
    ----------
    N : int
    fractions : array_like (k,)
        In [0, 1].

    Returns
    -------
    below, above : ndarray of int (k,)
    gamma : ndarray (k,)
    """
    h = (N - 1) * np.asarray(fractions, dtype=np.float64)
    below = np.floor(h).astype(np.intp)
    above = below + 1
    top = h >= N - 1
    below[top] = above[top] = N - 1
    return below, above, h - below


def lerp(a, b, t):
    """numpy's linear interpolation for percentiles: ``a + (b - a) t``, written from b for t >= 0.5."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t
