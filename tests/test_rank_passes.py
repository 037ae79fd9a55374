"""Exact order statistics in passes (FI_active on dask): against numpy on the values held at once.

The values are split into blocks and read only through passes, as on dask;
every aggregation must equal :func:`localinf.measures.aggregate.aggregate` on
all the values (``np.percentile``, ``np.median``, ``np.quantile`` and the
trimmed mean), with ties, zeros, frequency weights and the search forced to
many passes by tiny histograms and gathers.
"""

import numpy as np
import pytest

from localinf.exceptions import NumericalError
from localinf.measures import rank_partials as parts
from localinf.measures import rank_passes as rp
from localinf.measures.aggregate import aggregate

HOWS = [("trimmed_mean", None), ("median", None), ("quantile", 0.37), ("quantile", 0.0),
        ("quantile", 1.0), ("mean", None)]


def in_passes(V, w, how, q=None, block=137, passes=None, sets=None):
    """Aggregate V (m, n) row-wise, reading its columns block by block in each pass (and its
    rows ``sets`` at a time, when given)."""
    m, n = V.shape
    blocks = [slice(i, min(i + block, n)) for i in range(0, n, block)]
    groups = [slice(i, min(i + (sets or m), m)) for i in range(0, m, sets or m)]

    def one_block(plan, sl):
        out = {}
        for ps in groups:
            parts.accumulate(plan, V[ps, sl], None if w is None else w[sl], out, sets=ps, m=m)
        return out

    def run(plan):
        if passes is not None:
            passes.append(plan)
        return parts.merge_partials([one_block(plan, sl) for sl in blocks])

    return rp.aggregate_in_passes(run, m, n if w is None else int(w.sum()), how, q)


def values(kind, rng, m=4, n=3000):
    V = rng.lognormal(0.0, 3.0, size=(m, n))
    if kind == "ties":
        V = np.round(V, 1)
    elif kind == "zeros":
        V[:, : n // 2] = 0.0
    elif kind == "narrow":  # many distinct values within a few ulps: the search goes to single keys
        V = 1.0 + rng.integers(0, 5, size=(m, n)) * np.finfo(float).eps
    return V


@pytest.mark.parametrize("kind", ["spread", "ties", "zeros", "narrow"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("small", [False, True])
def test_every_aggregation_equals_numpy_on_all_values(kind, weighted, small, monkeypatch):
    rng = np.random.default_rng(hash((kind, weighted, small)) % 2**32)
    if small:  # force the histogram passes, the gathers and single-key intervals
        monkeypatch.setattr(rp, "MAX_CELLS", 16)
        monkeypatch.setattr(rp, "MAX_GATHER", 16)
    V = values(kind, rng)
    w = rng.integers(0, 4, V.shape[1]) if weighted else None
    held = V if w is None else np.repeat(V, w, axis=1)
    for how, q in HOWS:
        got, want = in_passes(V, w, how, q, sets=3), aggregate(held, how, q, axis=1)
        if how in ("median", "quantile"):  # order statistics and numpy's interpolation: bitwise
            np.testing.assert_array_equal(got, want)
        else:  # sums in another order
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)


def test_percentiles_are_numpys_bitwise_and_the_search_narrows():
    rng = np.random.default_rng(1)
    V = rng.lognormal(0.0, 2.0, size=(3, 800_000))  # too many to gather whole
    plans = []
    got = in_passes(V, None, "quantile", 0.1, block=100_000, passes=plans)
    np.testing.assert_array_equal(got, np.quantile(V, 0.1, axis=1))
    assert 2 <= len(plans) <= 4, len(plans)  # histograms, then one gather
    assert plans[0]["groups"] and not plans[-1]["groups"]
    assert (plans[-1]["gather"][1] > plans[-1]["gather"][0]).all()


def test_small_sets_are_gathered_whole_in_one_pass():
    rng = np.random.default_rng(2)
    for n in (1, 2, 3, 15):
        V = rng.normal(size=(5, n)) ** 2
        plans = []
        for how, q in HOWS:
            got = in_passes(V, None, how, q, block=2, passes=plans)
            np.testing.assert_allclose(got, aggregate(V, how, q, axis=1), rtol=1e-15, atol=0)
    assert all(not plan or not plan["groups"] for plan in plans)


def test_the_trimmed_band_counts_ties_at_both_edges():
    # h = 0.1 * 19 = 1.9 and 0.9 * 19 = 17.1: each edge lies between two equal values.
    V = np.array([[0.0, 1.0, 1.0, 1.0] + list(np.arange(2.0, 14.0)) + [20.0, 20.0, 20.0, 30.0]])
    for small in (False, True):
        rp_cells = (16, 16) if small else (rp.MAX_CELLS, rp.MAX_GATHER)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(rp, "MAX_CELLS", rp_cells[0])
            mp.setattr(rp, "MAX_GATHER", rp_cells[1])
            V20 = np.repeat(V, 1000, axis=1)  # large enough for the search
            want = np.mean(V20[(V20 >= 1.0) & (V20 <= 20.0)])
            np.testing.assert_allclose(in_passes(V20, None, "trimmed_mean"), [want], rtol=1e-14)


@pytest.mark.parametrize("gather", [16, rp.MAX_GATHER])
def test_values_that_change_between_passes_are_refused(gather, monkeypatch):
    monkeypatch.setattr(rp, "MAX_GATHER", gather)
    rng = np.random.default_rng(3)
    V = rng.lognormal(size=(2, (1 << 20) + 1))  # too many to gather whole
    calls = []

    def run(plan):
        calls.append(plan)
        W = V ** (1.0 if len(calls) == 1 else 1.1)  # later passes see other values
        return parts.accumulate(plan, W, None)

    with pytest.raises(NumericalError, match="differ between two passes"):
        rp.aggregate_in_passes(run, 2, V.shape[1], "trimmed_mean")
    # the same values in another order each pass are the same multiset: no refusal
    orders = iter([rng.permutation(V.shape[1]) for _ in range(8)])
    got = rp.aggregate_in_passes(lambda plan: parts.accumulate(plan, V[:, next(orders)], None), 2,
                                 V.shape[1], "median")
    np.testing.assert_array_equal(got, np.median(V, axis=1))


def test_non_finite_values_are_flagged_per_set():
    V = np.ones((3, 40))
    V[1, 7], V[2, 3] = np.inf, np.nan
    part = parts.accumulate(None, V, None)
    assert part["bad"].tolist() == [False, True, True]


def test_negative_zeros_are_zeros(monkeypatch):
    monkeypatch.setattr(rp, "MAX_GATHER", 16)  # the search, with a gather of the zeros
    V = np.array([[-0.0] * 8 + [1.0] * 9])
    for how, q in HOWS:
        np.testing.assert_array_equal(in_passes(V, None, how, q), aggregate(V, how, q, axis=1))


def test_intervals_near_the_largest_keys_do_not_overflow(monkeypatch):
    monkeypatch.setattr(rp, "MAX_GATHER", 16)
    monkeypatch.setattr(rp, "MAX_CELLS", 64)  # 16 bins of 2^59 keys: the last ends past 2^63
    V = np.full((3, 16), 1e300)
    for w in (None, np.full(16, 2)):
        np.testing.assert_array_equal(in_passes(V, w, "median"), [1e300] * 3)


def test_wide_bins_do_not_cancel_the_sums_below(monkeypatch):
    monkeypatch.setattr(rp, "MAX_GATHER", 64)
    monkeypatch.setattr(rp, "MAX_CELLS", 32)  # 16 bins of 256 binades (as for very large pools)
    V = np.exp(np.random.default_rng(1).normal(0.0, 8.0, size=(2, 4000)))
    np.testing.assert_allclose(in_passes(V, None, "trimmed_mean", block=500),
                               aggregate(V, "trimmed_mean", axis=1), rtol=1e-13, atol=0)


def test_rows_of_weight_zero_are_left_out_even_when_not_finite():
    V = np.ones((2, 40))
    V[:, 3] = np.inf
    V[1, 5] = np.nan
    w = np.ones(40, dtype=np.int64)
    w[[3, 5]] = 0
    part = parts.accumulate(None, V, w)
    assert not part["bad"].any() and np.array_equal(part["total"], [38.0, 38.0])
    for how, q in HOWS:
        np.testing.assert_array_equal(in_passes(V, w, how, q), [1.0, 1.0])


def test_large_weights_on_few_rows_are_gathered_by_rows_not_observations():
    rng = np.random.default_rng(4)
    V = rng.lognormal(size=(8, 3000))
    w = rng.integers(300, 600, V.shape[1])  # N ~ 1.35e6 observations on 3000 rows
    plans = []
    got = in_passes(V, w, "median", passes=plans)
    np.testing.assert_array_equal(got, aggregate(np.repeat(V, w, axis=1), "median", axis=1))
    assert len(plans) == 2, len(plans)  # a histogram, then a gather of a few hundred rows
