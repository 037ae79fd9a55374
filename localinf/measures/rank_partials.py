"""Pass partials of the exact order-statistic search (:mod:`.rank_passes`).

A pass reads every block of values once: :func:`accumulate` adds a block to
the block's partial (histograms of keys, gathered values, sums and flags) and
:func:`merge_partials` combines the partials of all blocks.
"""

import numpy as np

KEY_END = np.int64(0x7FF0000000000000)  # the key of +inf: finite non-negative values lie below


def accumulate(plan, values, weight, out=None, sets=None, m=None):
    """Add one block of values to a pass partial.

    Parameters
    ----------
    plan : dict
        :meth:`.rank_passes.RankSearch.plan`, or None for the first checks only.
    values : ndarray (ms, c)
        The values of sets ``sets`` on c rows.
    weight : ndarray of int (c,) or None
        The rows' frequency weights.
    out : dict, optional
        The partial to add to.
    sets : slice, optional
        Which of the m sets the rows of ``values`` are (default: all, m = ms).
    m : int, optional
        The number of sets (default ms).

    Returns
    -------
    dict
        Arrays over all m sets: ``bad`` (a value not finite), ``total`` (the
        weighted sum), per histogram group g ``count{g}``, ``sum{g}`` and, with
        weights, ``rows{g}`` (m, bins); lists of gathered ``pool``, ``value``, ``weight``.
    """
    values = values + 0.0  # -0.0 as +0.0, for the keys and the gathered values alike
    ms, c = values.shape
    sets = slice(0, ms) if sets is None else sets
    m = ms if m is None else m
    k = values.view(np.int64)
    w = np.ones(c, dtype=np.int64) if weight is None else weight
    out = {} if out is None else out

    def add(name, new, dtype=np.float64):  # into the rows of these sets of an (m, ...) array
        if name not in out:
            out[name] = np.zeros((m,) + new.shape[1:], dtype=dtype)
        out[name][sets] += new

    counted = w > 0  # rows of weight 0 are no observation: left out, as in memory
    add("bad", (((k < 0) | (k >= KEY_END)) & counted).any(axis=1), bool)
    with np.errstate(invalid="ignore", over="ignore"):
        add("total", values[:, counted] @ w[counted].astype(np.float64))
    if plan is None:
        return out
    bins = plan["bins"]
    for g, (_, lo, hi, shift) in enumerate(plan["groups"]):
        lo, hi, shift = lo[sets], hi[sets], shift[sets]
        r, col = np.nonzero((k >= lo[:, None]) & (k < hi[:, None]))
        idx = r * bins + ((k[r, col] - lo[r]) >> shift[r])
        wsel = w[col]
        add(f"count{g}", np.bincount(idx, weights=wsel, minlength=ms * bins).reshape(ms, bins)
            .astype(np.int64), np.int64)
        add(f"sum{g}", np.bincount(idx, weights=values[r, col] * wsel, minlength=ms * bins)
            .reshape(ms, bins))
        if weight is not None:  # rows, for the size of a gather
            add(f"rows{g}", np.bincount(idx[wsel > 0], minlength=ms * bins).reshape(ms, bins), np.int64)
    glo, ghi = (a[sets] for a in plan["gather"])
    if (ghi > glo).any():
        sel = np.zeros(k.shape, dtype=bool)
        for t in range(glo.shape[1]):
            sel |= (k >= glo[:, t, None]) & (k < ghi[:, t, None])
        sel &= counted[None, :]
        r, col = np.nonzero(sel)
        for name, new in (("pool", r + sets.start), ("value", values[r, col]), ("weight", w[col])):
            out.setdefault(name, []).append(new)
    return out


def merge_partials(parts):
    """Combine pass partials: counts and sums add, flags or, gathered values join.

    Parameters
    ----------
    parts : list of dict

    Returns
    -------
    dict
    """
    out = {}
    for part in parts:
        for name, value in part.items():
            if name in ("pool", "value", "weight"):
                out.setdefault(name, []).extend(value)
            elif name == "bad":
                out[name] = out[name] | value if name in out else value
            else:
                out[name] = out.get(name, 0) + value
    return out


def gathered(part):
    """The values a pass gathered: set index (int), value, weight (int), each one array."""
    return tuple(np.concatenate(part.get(k, []) + [np.zeros(0, dtype)])
                 for k, dtype in (("pool", np.int64), ("value", np.float64), ("weight", np.int64)))
