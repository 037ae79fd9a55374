"""Exact order statistics of values recomputed in every pass (FI_active on dask).

FI_active (eq. 4.1) aggregates, for each pool point, the N values FI(z_u, z_j)
over the training observations (row j counted w_j times under integer
frequency weights). On a dask collection these values are recomputed block by
block in each pass and never held together, so the percentiles are found by
narrowing, for every order statistic needed, an interval known to hold it:

* A non-negative float64 orders as the integer of its bits (``v.view(int64)``),
  its *key*. Intervals and bins are ranges of keys: counts are exact, no
  min/max pass is needed and no bin edge rounds.
* Target rank r (0-based, over the N values sorted with multiplicity) keeps
  ``[lo, hi)``, the count ``below`` of values with keys under lo and their sum
  ``sbelow``. A histogram pass splits ``[lo, hi)`` into bins of ``2^s`` keys,
  counting and summing the values in each; the bin holding rank r becomes the
  interval. The first pass's bins are half a binade wide for pools of up to
  256 points, wider for larger pools (a partial holds about MAX_CELLS cells).
* An interval holding few values is gathered in the next pass and x_(r) read
  off exactly; an interval of one key needs no further pass.

Each resolved rank also gives the sum of the r + 1 smallest values and the
counts of values below and up to x_(r): the trimmed mean's band sum follows
from these with no further pass (:meth:`RankSearch.trimmed_mean`). Between
passes the counts are checked against the previous pass: values that change
between passes (a worker with another BLAS) are refused, not mixed.
"""

import numpy as np

from ..exceptions import NumericalError
from .aggregate import aggregate, lerp, percentile_positions
from .rank_partials import KEY_END, gathered

# Histogram cells (pool points x intervals x bins) in one pass partial, aimed at: each
# histogram has MIN_BINS..MAX_BINS bins, so very large pools (over 65,536 points) pass it.
MAX_CELLS = 1 << 20
# Values gathered in one pass, over all pool points, aimed at: at least 16 per order
# statistic; a set is gathered whole (one pass) when N x (pool points) is at most this.
MAX_GATHER = 1 << 21
MIN_BINS, MAX_BINS = 16, 4096
HIST, GATHER, DONE = 0, 1, 2


class RankSearch:
    """The state of the search for the order statistics ``ranks`` of m value sets.

    Parameters
    ----------
    m : int
        Number of value sets (pool points).
    N : int
        Values in each set (observations, with multiplicity).
    ranks : ndarray of int (T,)
        0-based ranks wanted, the same for every set.

    Attributes
    ----------
    value_ : ndarray (m, T)
        ``x_(r)`` once resolved.
    prefix_ : ndarray (m, T)
        Sum of the r + 1 smallest values.
    less_, upto_ : ndarray of int (m, T)
        Number of values < x_(r) and <= x_(r).
    """

    def __init__(self, m, N, ranks):
        self.m, self.N, self.ranks = m, int(N), np.asarray(ranks, dtype=np.int64)
        shape = (m, self.ranks.size)
        self.lo, self.hi = np.zeros(shape, np.int64), np.full(shape, KEY_END)
        self.below, self.count = np.zeros(shape, np.int64), np.full(shape, self.N, np.int64)
        self.entries = self.count.copy()  # rows (not observations) in the interval: what a gather holds
        self.sbelow = np.zeros(shape)
        self.state = np.full(shape, HIST)
        self.value_, self.prefix_ = np.zeros(shape), np.zeros(shape)
        self.less_, self.upto_ = np.zeros(shape, np.int64), np.zeros(shape, np.int64)

    @property
    def done(self):
        """Whether every order statistic is resolved."""
        return bool((self.state == DONE).all())

    def plan(self):
        """What the next pass computes for each block of values (:func:`accumulate`).

        Returns
        -------
        dict
            ``groups``: a list of ``(columns, lo, hi, shift)``, one histogram per
            distinct interval (lo = hi for sets not searched there); ``bins``;
            ``gather``: (lo, hi) (m, T) of the intervals to gather (lo = hi elsewhere).
        """
        hist = self.state == HIST
        groups = []
        for t in np.flatnonzero(hist.any(axis=0)):
            for cols, lo, hi, _ in groups:
                s = cols[0]
                if (np.array_equal(hist[:, s], hist[:, t]) and np.array_equal(self.lo[:, s], self.lo[:, t])
                        and np.array_equal(self.hi[:, s], self.hi[:, t])):
                    cols.append(t)
                    break
            else:
                lo, hi = np.where(hist[:, t], self.lo[:, t], 0), np.where(hist[:, t], self.hi[:, t], 0)
                groups.append(([t], lo, hi, None))
        bins = int(np.clip(1 << int(np.log2(max(MAX_CELLS // max(self.m * len(groups), 1), 1))),
                           MIN_BINS, MAX_BINS))
        groups = [(cols, lo, hi, _shift(hi - lo, bins)) for cols, lo, hi, _ in groups]
        gather = self.state == GATHER
        return dict(groups=groups, bins=bins, gather=(np.where(gather, self.lo, 0),
                                                      np.where(gather, self.hi, 0)))

    def update(self, plan, part):
        """Narrow the intervals with a pass's merged partial (:func:`merge_partials`).

        Parameters
        ----------
        plan : dict
            The pass's :meth:`plan`.
        part : dict
            Its merged partial.
        """
        cap = max(MAX_GATHER // max(self.m * self.ranks.size, 1), 16)
        for g, (cols, lo, hi, shift) in enumerate(plan["groups"]):
            counts, sums = part[f"count{g}"], part[f"sum{g}"]  # (m, bins)
            entries = part.get(f"rows{g}", counts)  # (with weights, rows counted apart)
            active = hi > lo
            for t in cols:
                self._check_counts(counts.sum(axis=1)[active], self.count[active, t])
                rows, j = self._narrow(t, active, counts, sums, shift)
                self.entries[rows, t] = entries[rows, j]
        gather = self.state == GATHER
        if gather.any():
            self._resolve_gathered(gather, *gathered(part))
        narrowed = self.state == HIST
        single = narrowed & (self.hi - self.lo == 1)
        self._resolve_single(single)
        self.state[narrowed & ~single & (self.entries <= cap)] = GATHER

    def _narrow(self, t, active, counts, sums, shift):
        r = self.ranks[t]
        cum = self.below[:, t, None] + np.cumsum(counts, axis=1)
        j = np.minimum((cum <= r).sum(axis=1), counts.shape[1] - 1)[active]
        rows = np.flatnonzero(active)
        before = _exclusive_cumsum(counts)
        sbefore = _exclusive_cumsum(sums)  # not cumsum - sums: a large bin j would cancel the rest
        lo = self.lo[rows, t] + (j.astype(np.int64) << shift[rows])
        self.below[rows, t] += before[rows, j]
        self.sbelow[rows, t] += sbefore[rows, j]
        self.count[rows, t] = counts[rows, j]
        # hi = min(lo + 2^s, hi), written so that no sum passes 2^63
        self.hi[rows, t] = lo + np.minimum(self.hi[rows, t] - lo, np.int64(1) << shift[rows])
        self.lo[rows, t] = lo
        return rows, j

    def _resolve_single(self, where):
        """Intervals of one key: every value there equals it."""
        x = self.lo[where].view(np.float64)
        below = self.below[where]
        r = np.broadcast_to(self.ranks, self.state.shape)[where]
        self.value_[where] = x
        self.prefix_[where] = self.sbelow[where] + (r - below + 1) * x
        self.less_[where], self.upto_[where] = below, below + self.count[where]
        self.state[where] = DONE

    def _resolve_gathered(self, gather, pool, value, weight):
        order = np.lexsort((value, pool))
        pool, value, weight = pool[order], value[order], weight[order]
        key = value.view(np.int64)
        for t in np.flatnonzero(gather.any(axis=0)):
            rows = np.flatnonzero(gather[:, t])
            inside = (gather[pool, t] & (key >= self.lo[pool, t]) & (key < self.hi[pool, t]))
            p, v, w = pool[inside], value[inside], weight[inside]
            start, stop = np.searchsorted(p, rows, "left"), np.searchsorted(p, rows, "right")
            cw = np.concatenate([[0], np.cumsum(w)])  # integer counts: exact
            self._check_counts(cw[stop] - cw[start], self.count[rows, t])
            r_in = self.ranks[t] - self.below[rows, t]
            e = np.searchsorted(cw, cw[start] + r_in, side="right") - 1  # the element at rank r
            x = v[e]
            first, last = _tie_runs(p, v)
            first, last = first[e], last[e]
            self.value_[rows, t] = x
            self.prefix_[rows, t] = (self.sbelow[rows, t] + _run_sums(v * w, start, e)
                                     + (r_in - (cw[e] - cw[start]) + 1) * x)
            self.less_[rows, t] = self.below[rows, t] + cw[first] - cw[start]
            self.upto_[rows, t] = self.below[rows, t] + cw[last] - cw[start]
        self.state[gather] = DONE

    @staticmethod
    def _check_counts(got, want):
        if not np.array_equal(got, want):
            raise NumericalError(
                "fi_active: the FI values differ between two passes over the same rows (the "
                "workers compute them differently, e.g. another BLAS), so their percentiles "
                "cannot be found exactly; run on workers with the same numerical libraries")

    def quantile(self, below, above, gamma):
        """numpy's linear-rule quantile from resolved ranks (positions in ``ranks``).

        Parameters
        ----------
        below, above : int
            Columns of the two ranks.
        gamma : float

        Returns
        -------
        ndarray (m,)
        """
        return lerp(self.value_[:, below], self.value_[:, above], gamma)

    def trimmed_mean(self, a, a_up, b, b_up, gammas):
        """The mean of the values between two percentiles, inclusive (as
        :func:`~localinf.measures.aggregate.trimmed_mean`), from resolved ranks.

        The values at sorted positions a+1..b sum to ``prefix_b - prefix_a``; a
        value at or below position a is in the band only if it equals the lower
        percentile (then x_(a) does), one above b only if it equals the upper.

        Parameters
        ----------
        a, a_up, b, b_up : int
            Columns of the ranks floor(h) and above of the two percentiles.
        gammas : tuple of two float

        Returns
        -------
        ndarray (m,)
        """
        lo, hi = self.quantile(a, a_up, gammas[0]), self.quantile(b, b_up, gammas[1])
        ra, rb = self.ranks[a], self.ranks[b]
        total = self.prefix_[:, b] - self.prefix_[:, a]
        count = np.full(self.m, rb - ra, dtype=np.int64)
        low = self.value_[:, a] == lo
        ties = np.where(low, ra + 1 - self.less_[:, a], 0)
        count += ties
        total += ties * lo
        if self.ranks[b_up] > rb:
            high = self.value_[:, b_up] == hi
            ties = np.where(high, self.upto_[:, b_up] - (rb + 1), 0)
            count += ties
            total += ties * hi
        return total / np.maximum(count, 1)


def _exclusive_cumsum(a):
    """Sums of the entries before each one along the last axis."""
    out = np.zeros_like(a)
    np.cumsum(a[..., :-1], axis=-1, out=out[..., 1:])
    return out


def _shift(width, bins):
    """Smallest s with every width split into at most ``bins`` bins of 2^s keys."""
    shift = np.zeros(width.shape, dtype=np.int64)
    over = (width - 1) >> shift >= bins
    while over.any():
        shift[over] += 1
        over = (width - 1) >> shift >= bins
    return shift


def _tie_runs(p, v):
    """For pairs sorted by set p then value v: where each element's run of equal
    (p, v) starts, and where it ends (exclusive)."""
    n = p.size
    new = np.ones(n, dtype=bool)
    new[1:] = (p[1:] != p[:-1]) | (v[1:] != v[:-1])
    idx = np.arange(n)
    first = np.maximum.accumulate(np.where(new, idx, 0))
    end = np.ones(n, dtype=bool)
    end[:-1] = new[1:]
    last = np.minimum.accumulate(np.where(end, idx, n)[::-1])[::-1] + 1
    return first, last


def _run_sums(x, start, stop):
    """``x[start_i:stop_i].sum()`` for each i (0 for empty runs)."""
    if x.size == 0:
        return np.zeros(start.size)
    idx = np.column_stack([start, np.maximum(stop, start)]).ravel()
    sums = np.add.reduceat(np.append(x, 0.0), np.minimum(idx, x.size))[::2]
    return np.where(stop > start, sums, 0.0)


def aggregate_in_passes(run, m, N, how, q=None):
    """Aggregate each of m sets of N values as :func:`~localinf.measures.aggregate.aggregate`
    does, reading the values only through passes.

    ``"mean"`` takes one pass; sets small enough to hold (N m values) one pass
    that gathers them all and the in-memory aggregation; otherwise
    :class:`RankSearch` finds the order statistics needed, usually in three
    passes (two histograms and a gather).

    Parameters
    ----------
    run : callable
        ``run(plan) -> partial``: one pass of :func:`accumulate` over every
        block, merged with :func:`merge_partials`.
    m, N : int
    how : {"trimmed_mean", "mean", "median", "quantile"}
    q : float, optional
        The quantile level (checked by the caller).

    Returns
    -------
    ndarray (m,)
    """
    if how == "mean":
        return run(None)["total"] / N
    if N * m <= MAX_GATHER or N < 16:
        return _aggregate_all(run, m, N, how, q)
    if how == "trimmed_mean":
        below, above, gamma = percentile_positions(N, np.true_divide((10.0, 90.0), 100))
        wanted = [below[0], above[0], below[1], above[1]]
    elif how == "median":
        wanted = [(N - 1) // 2, N // 2]
    else:
        below, above, gamma = percentile_positions(N, [q])
        wanted = [below[0], above[0]]
    ranks = np.unique(wanted)
    col = [int(np.searchsorted(ranks, r)) for r in wanted]
    search = RankSearch(m, N, ranks)
    while not search.done:
        plan = search.plan()
        search.update(plan, run(plan))
    if how == "trimmed_mean":
        return search.trimmed_mean(*col, gamma)
    if how == "median":  # np.median: the mean of the two middle values for even N
        return (search.value_[:, col[0]] + search.value_[:, col[1]]) / 2 if N % 2 == 0 \
            else search.value_[:, col[0]]
    return search.quantile(col[0], col[1], gamma[0])


def _aggregate_all(run, m, N, how, q):
    """One pass gathering every value, then the in-memory aggregation."""
    plan = dict(groups=[], bins=0, gather=(np.zeros((m, 1), np.int64), np.full((m, 1), KEY_END)))
    pool, value, weight = gathered(run(plan))
    order = np.argsort(pool, kind="stable")
    values = np.repeat(value[order], weight[order].astype(np.int64))
    RankSearch._check_counts(np.array([values.size]), np.array([m * N]))
    return aggregate(values.reshape(m, N), how, q, axis=1)
