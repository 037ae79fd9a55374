"""Seed-paired comparison of two methods' test accuracies (one pair per seed)."""

import numpy as np
from scipy import stats


def paired(a, b):
    """Wins, ties and losses of ``a`` against ``b``, the mean difference with its 95 % t
    interval, and the two-sided sign-test p-value (ties dropped).

    Parameters
    ----------
    a, b : array_like (s,)
        Accuracies of the two methods on the same s seeds.

    Returns
    -------
    dict
        ``wins``, ``ties``, ``losses``, ``mean``, ``low``, ``high``, ``p_sign``.
    """
    diff = np.asarray(a, float) - np.asarray(b, float)
    wins, losses = int(np.sum(diff > 0)), int(np.sum(diff < 0))
    s = diff.size
    half = stats.t.ppf(0.975, s - 1) * diff.std(ddof=1) / np.sqrt(s) if s > 1 else np.nan
    p = stats.binomtest(wins, wins + losses).pvalue if wins + losses else 1.0
    return dict(wins=wins, ties=s - wins - losses, losses=losses, mean=float(diff.mean()),
                low=float(diff.mean() - half), high=float(diff.mean() + half), p_sign=float(p))


def describe(r, scale=100.0):
    """``"W/T/L, +0.12 [-0.05, +0.29], p = 0.31"`` (differences in points of ``scale``)."""
    return (f"{r['wins']}/{r['ties']}/{r['losses']}, {scale * r['mean']:+.2f} "
            f"[{scale * r['low']:+.2f}, {scale * r['high']:+.2f}], p = {r['p_sign']:.2g}")


def cell(a, b):
    """The seed-paired cell of ``a`` against ``b``: :func:`describe` of :func:`paired`, or with
    one seed (no interval) only ``"W/T/L, +diff (1 seed)"``.

    Parameters
    ----------
    a, b : array_like (s,)
        Accuracies on the same s seeds.

    Returns
    -------
    str
        In accuracy points.
    """
    r = paired(a, b)
    if len(a) > 1:
        return describe(r)
    return f"{r['wins']}/{r['ties']}/{r['losses']}, {100 * r['mean']:+.2f} (1 seed)"
