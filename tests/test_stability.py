"""The stability columns of summary_frame, against independent computations.

``range_residual`` against check_invariance's (explicit G_i = F_i F_i^T and its
eigen-decomposition); ``fi_util_coarse`` against FI_util recomputed with the
cut-offs 100 times coarser; and the meaning of the residual: 0 exactly where a
random invertible J leaves FI unchanged.
"""

import numpy as np
import pytest

import localinf as li
from helpers import make_problem


def _inf(K, d, seed=0, **kw):
    X, y = make_problem(seed, 60, d, K)
    cls = li.LogisticRegression if K == 2 else li.SoftmaxRegression
    return X, y, li.LocalInfluence(cls(l2=0.05).fit(X, y), X, y, **kw)


@pytest.mark.parametrize("K, d", [(2, 3), (3, 2), (4, 2), (3, 4)])
def test_range_residual_matches_check_invariance(K, d):
    X, y, inf = _inf(K, d)
    Xv, yv = make_problem(9, 30, d, K)
    frame = inf.summary_frame(Xv, yv)
    # FI_util's g_i is g_i(z') averaged over V; check_invariance takes one query at a time, so
    # compare on a validation set of one row
    one = inf.summary_frame(Xv[:1], yv[:1])
    res = li.check_invariance(inf, np.eye(d), Xv[:1], yv[:1])
    np.testing.assert_allclose(one["range_residual"], res.range_residual[:, 0], atol=1e-8)
    assert ((frame["range_residual"] >= 0) & (frame["range_residual"] <= 1)).all()
    if K - 1 >= d:  # G_i generically full rank: Theorem 1 holds on every row
        assert frame["range_residual"].max() < 1e-8


@pytest.mark.parametrize("K, d", [(2, 3), (3, 4)])
def test_residual_zero_exactly_where_fi_is_unit_free(K, d):
    X, y, inf = _inf(K, d, seed=2)
    Xv, yv = make_problem(11, 10, d, K)
    Xv, yv = Xv[:1], yv[:1]
    J = np.diag(np.random.default_rng(0).uniform(0.1, 10.0, d))  # a change of units
    res = li.check_invariance(inf, J, Xv, yv)
    resid = np.asarray(inf.summary_frame(Xv, yv)["range_residual"])
    holds = resid < 1e-8
    assert np.all(res.rel_diff[holds, 0] < 1e-7)
    assert np.all(res.rel_diff[resid > 1e-3, 0] > 1e-8)
    assert (~holds).any()  # binary with d = 3 / softmax K - 1 < d: the condition fails somewhere


def test_coarse_column_is_fi_util_at_coarser_cut_offs():
    X, y, inf = _inf(3, 4, rtol=1e-6, atol=1e-9)
    Xv, yv = make_problem(5, 30, 4, 3)
    frame = inf.summary_frame(Xv, yv)
    coarse = li.LocalInfluence(inf.model, X, y, rtol=1e-4, atol=1e-7).fi_util(Xv, yv)
    np.testing.assert_allclose(frame["fi_util_coarse"], coarse, rtol=1e-12)
    changed = (coarse > 2 * frame["fi_util"]) | (2 * coarse < frame["fi_util"])
    np.testing.assert_array_equal(frame["cutoff_sensitive"], changed)
