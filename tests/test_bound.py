"""A validation set bound once: ``u = H^{-1} gbar_V`` is solved once and every
measure of that set (FI_util, IV, the summary frame) uses it."""

import numpy as np

import localinf as li
from helpers import make_problem


class CountingSolve(li.curvature.InverseOperator):
    """The exact ``H^{-1}``, counting its single right-hand-side solves (matvec)."""

    def __init__(self, inner):
        self.inner, self.solves, self.hessian = inner, 0, inner.hessian
        super().__init__(inner.shape[0])

    def _matvec(self, b):
        self.solves += 1
        return self.inner.matvec(b)

    def _matmat(self, B):
        return self.inner.matmat(B)


def setup():
    X, y = make_problem(4, 60, 3, 3)
    Xv, yv = make_problem(5, 25, 3, 3)
    model = li.SoftmaxRegression(l2=0.02).fit(X, y)
    exact = li.LocalInfluence(model, X, y)
    counting = CountingSolve(exact.H_inv_)
    inf = li.LocalInfluence(model, X, y, backend="autograd", curvature=counting)
    return X, y, Xv, yv, exact, inf, counting


def test_the_summary_frame_solves_once():
    X, y, Xv, yv, exact, inf, counting = setup()
    frame = inf.summary_frame(Xv, yv)
    assert counting.solves == 1
    assert np.allclose(frame["fi_util"], exact.fi_util(Xv, yv), rtol=1e-10, atol=0)
    assert np.allclose(frame["iv"], exact.influence_value(Xv, yv), rtol=1e-10, atol=0)


def test_a_bound_set_reuses_its_solve_and_caches_its_measures():
    X, y, Xv, yv, exact, inf, counting = setup()
    bound = inf.against(Xv, yv)
    first = (bound.fi_util(), bound.influence_value(), bound.fi_util(rows=[3, 1]))
    again = (bound.fi_util(), bound.influence_value(), bound.fi_util(rows=[3, 1]))
    assert counting.solves == 1
    for a, b in zip(first, again):
        assert np.array_equal(a, b)
    assert np.array_equal(first[2], first[0][[3, 1]])
    first[0][:] = -1.0  # a caller writing into the result does not change the cache
    assert np.array_equal(bound.fi_util(), again[0])
    assert np.allclose(bound.u_, exact.H_inv_.matvec(bound.gbar_), rtol=1e-12, atol=0)


def test_the_one_shot_methods_equal_the_bound_ones():
    X, y, Xv, yv, exact, inf, counting = setup()
    bound = exact.against(Xv, yv)
    assert np.array_equal(exact.fi_util(Xv, yv), bound.fi_util())
    assert np.array_equal(exact.influence_value(Xv, yv), bound.influence_value())
    # gbar_V is the mean validation gradient, computed here from the definition
    G = exact.backend_.rows(Xv, yv).loss_grad
    assert np.allclose(bound.gbar_, G.mean(axis=0), rtol=1e-13, atol=1e-15)


def test_cached_results_follow_later_changes_of_the_cut_off_and_the_operators():
    """rtol, atol and the operators are public attributes; a cached measure must not
    outlive a change of the quantities it was computed from."""
    X, y = make_problem(6, 60, 3, 3)
    model = li.SoftmaxRegression(l2=0.02).fit(X, y)
    inf = li.LocalInfluence(model, X, y)
    bound = inf.against(X[:20], y[:20])
    first = (inf.metric_rank(), bound.fi_util(), inf.self_influence())
    inf.rtol = 0.9
    fresh = li.LocalInfluence(model, X, y, rtol=0.9)
    assert np.array_equal(inf.metric_rank(), fresh.metric_rank())
    assert not np.array_equal(inf.metric_rank(), first[0])
    assert np.array_equal(bound.fi_util(), fresh.fi_util(X[:20], y[:20]))
    inf.rtol = fresh.rtol = 1e-10
    H = inf.H_inv_.hessian * 2.0
    inf.H_inv_ = inf.H_inv_query_ = li.InverseHessian(H)
    assert np.allclose(inf.self_influence(), first[2] / 2, rtol=1e-12, atol=0)
    assert np.allclose(bound.influence_value(), fresh.influence_value(X[:20], y[:20]) / 2,
                       rtol=1e-12, atol=0)
