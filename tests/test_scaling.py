"""``scaling="algorithm1"``: D_i without the 1/n of eq. 2.2, as the paper's Algorithm 1 prints it.

Checked two independent ways: against the brute-force definitions (autograd, one
row at a time) with D_i = -H^{-1} M_i, and against central differences of full
refits multiplied by n. The derived scaling is the derivative itself: the same
refits match it without the factor n.
"""

import numpy as np
import pytest

import localinf as li
from bruteforce import BruteForce
from helpers import make_problem


class Algorithm1(BruteForce):
    """The definitions with the 1/n of D_i removed (Algorithm 1, line 7)."""

    def D(self, i):
        return -self.Hinv @ self.M(i)


def _model(K, l2=0.1):
    X, y = make_problem(7 + K, 24, 3, K)
    cls = li.LogisticRegression if K == 2 else li.SoftmaxRegression
    return X, y, cls(l2=l2).fit(X, y)


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("backend", ["reference", "autograd"])
def test_algorithm1_matches_the_definitions_without_the_1_over_n(K, backend):
    X, y, model = _model(K)
    Xv, yv = make_problem(40 + K, 10, 3, K)
    inf = li.LocalInfluence(model, X, y, backend=backend, scaling="algorithm1")
    bf = Algorithm1(X, y, K, 0.1, True, model.theta_)
    np.testing.assert_allclose(np.asarray(inf.fi_util(Xv, yv)), bf.fi_util(Xv, yv), rtol=1e-8)
    np.testing.assert_allclose(np.asarray(inf.fi(Xv[:3], yv[:3])), bf.fi_pairs(Xv[:3], yv[:3]), rtol=1e-8)
    np.testing.assert_allclose(inf.dtheta_domega(0), bf.D(0), rtol=1e-8, atol=1e-12)
    for i in (0, 5):
        np.testing.assert_allclose(inf.metric(i), bf.metric(i), rtol=1e-8, atol=1e-14)


def _refit_D(X, y, i, l2, K, h=1e-4):
    """d theta_hat / d omega for x_i -> x_i + omega by central differences of full refits."""
    cls = li.LogisticRegression if K == 2 else li.SoftmaxRegression
    cols = []
    for j in range(X.shape[1]):
        thetas = []
        for s in (h, -h):
            Xp = X.copy()
            Xp[i, j] += s
            thetas.append(cls(l2=l2, tol=1e-14).fit(Xp, y).theta_)
        cols.append((thetas[0] - thetas[1]) / (2 * h))
    return np.column_stack(cols)


@pytest.mark.parametrize("K", [2, 3])
def test_refits_confirm_derived_and_algorithm1_is_n_times_it(K):
    X, y, model = _model(K)
    n = len(y)
    derived = li.LocalInfluence(model, X, y)
    alg1 = li.LocalInfluence(model, X, y, scaling="algorithm1")
    for i in (0, 9):
        D_fd = _refit_D(X, y, i, 0.1, K)
        np.testing.assert_allclose(derived.dtheta_domega(i), D_fd, rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(alg1.dtheta_domega(i), n * D_fd, rtol=1e-5, atol=1e-8 * n)
        # and the FI of Algorithm 1 is the FI of the refit derivative with the 1/n removed
        bf = Algorithm1(X, y, K, 0.1, True, model.theta_)
        bf.D = lambda k, D_fd=D_fd: n * D_fd
        Xv, yv = make_problem(50, 8, 3, K)
        gbar = np.mean([bf.grad_theta(Xv[j], yv[j]) for j in range(len(yv))], axis=0)
        expected = bf.fi_value(bf.metric(i), bf.g(i, gbar))
        np.testing.assert_allclose(np.asarray(alg1.fi_util(Xv, yv))[i], expected, rtol=1e-4)


def test_measures_without_D_are_the_same_under_both_scalings():
    X, y, model = _model(2)
    Xv, yv = make_problem(60, 10, 3, 2)
    a = li.LocalInfluence(model, X, y)
    b = li.LocalInfluence(model, X, y, scaling="algorithm1")
    for name in ("self_influence", "leverage", "cook_local_influence"):
        np.testing.assert_array_equal(getattr(a, name)(), getattr(b, name)())
    np.testing.assert_array_equal(a.influence_value(Xv, yv), b.influence_value(Xv, yv))
    # while FI changes: the 1/n weighs the metric's indirect term against the direct one
    assert not np.allclose(a.fi_util(Xv, yv), b.fi_util(Xv, yv), rtol=1e-3)


@pytest.mark.parametrize("bad", ["Algorithm1", "paper", None, 1, np.array(["derived"])])
def test_unknown_scaling_is_refused(bad):
    X, y, model = _model(2)
    with pytest.raises(li.InputError, match="scaling"):
        li.LocalInfluence(model, X, y, scaling=bad)
