"""Trimming procedures: selection, scores, FI of pairs, Data Shapley, Algorithm 6."""

import numpy as np
import pytest
from autograd import jacobian

import localinf as li
from helpers import make_problem


@pytest.fixture(scope="module")
def problem():
    X, y = make_problem(11, 40, 2, 2)
    Xv, yv = make_problem(12, 30, 2, 2)
    model = li.LogisticRegression(l2=0.05).fit(X, y)
    return X, y, Xv, yv, model


def test_select_takes_the_highest_scores():
    assert list(li.select(np.array([0.1, 5.0, 3.0, -1.0]), 2)) == [1, 2]
    assert li.select(np.zeros(3), 0).size == 0
    with pytest.raises(li.InputError, match="budget"):
        li.select(np.zeros(3), 4)


def test_scores_are_the_measures_oriented_for_removal(problem):
    X, y, Xv, yv, model = problem
    inf = li.LocalInfluence(model, X, y)
    assert np.array_equal(li.trimming_scores("fi", model, X, y, Xv, yv), inf.fi_util(Xv, yv))
    assert np.array_equal(li.trimming_scores("iv", model, X, y, Xv, yv), -inf.influence_value(Xv, yv))
    r1 = li.trimming_scores("random", model, X, y, Xv, yv, seed=3)
    assert np.array_equal(r1, li.trimming_scores("random", model, X, y, Xv, yv, seed=3))
    with pytest.raises(li.InputError, match="method"):
        li.trimming_scores("best", model, X, y, Xv, yv)


def test_fi_of_a_pair_matches_its_definition(problem):
    """For a pair (i, j): omega = (omega_i, omega_j), D = [D_i, D_j], g = D^T gbar and G the
    Fisher information of both points' predictive distributions, with the tangents built
    here from autograd Jacobians of log P in theta and in x (not from the backend)."""
    X, y, Xv, yv, model = problem
    inf = li.LocalInfluence(model, X, y)
    iu, ju, fi = li.fi_pairs(inf, Xv, yv)
    am = li.from_glm(model)
    theta = am.theta_
    gbar = inf.backend_.rows(Xv, yv).loss_grad.mean(axis=0)
    for pos in (0, 17, len(fi) - 1):
        i, j = iu[pos], ju[pos]
        D = np.hstack([inf.dtheta_domega(i), inf.dtheta_domega(j)])  # (p, 2d)
        g = D.T @ gbar
        G = np.zeros((4, 4))
        for k, block in ((i, 0), (j, 2)):
            P = np.exp(am.log_proba_fn(theta, X[k:k + 1]))[0]
            a = jacobian(lambda t: am.log_proba_fn(t, X[k:k + 1])[0])(theta)  # (K, p)
            b = jacobian(lambda x: am.log_proba_fn(theta, x[None])[0])(X[k])  # (K, d)
            for c in range(2):
                v = D.T @ a[c]
                v[block:block + 2] += b[c]
                G += P[c] * np.outer(v, v)
        want = g @ np.linalg.pinv(G, rcond=inf.rtol, hermitian=True) @ g
        assert fi[pos] == pytest.approx(want, rel=1e-8)
    scores = li.fi_paired_scores(inf, Xv, yv)
    top = np.argmax(fi)
    assert set(li.select(scores, 2)) == {iu[top], ju[top]}


def test_shapley_values_add_up_without_truncation(problem):
    """Efficiency: with no truncation each permutation's marginal gains telescope to
    v(all) - v(empty), so the values sum to it exactly."""
    X, y, Xv, yv, _ = problem
    fit = lambda X, y: li.LogisticRegression(l2=0.05).fit(X, y)
    phi = li.tmc_shapley(fit, X[:12], y[:12], Xv, yv, n_permutations=3, truncation=0.0, seed=1)
    full = np.mean(fit(X[:12], y[:12]).predict(Xv) == yv)
    assert phi.sum() == pytest.approx(full - 0.0, abs=1e-12)


def test_approximate_trimming_with_alpha_one_is_exact(problem):
    X, y, Xv, yv, model = problem
    scores, info = li.approximate_fi_util(model, X, y, Xv, yv, alpha=1.0)
    fi = li.LocalInfluence(model, X, y).fi_util(Xv, yv)
    assert np.array_equal(np.argsort(scores, kind="stable"), np.argsort(fi, kind="stable"))
    sub, info = li.approximate_fi_util(model, X, y, Xv, yv, alpha=0.3, seed=2)
    assert np.allclose(info["fi"], fi[info["rows"]], rtol=1e-12)  # exact on the subsample
    with pytest.raises(li.InputError, match="alpha"):
        li.approximate_fi_util(model, X, y, Xv, yv, alpha=0.0)


def test_trim_removes_the_budget_and_refits(problem):
    X, y, Xv, yv, _ = problem
    fit = lambda X, y: li.LogisticRegression(l2=0.05).fit(X, y)
    model, removed = li.trim(fit, X, y, Xv, yv, 5, method="fi")
    assert removed.size == 5 and model.n_train_ == len(y) - 5
    df = li.trimming_curve(fit, X, y, Xv, yv, Xv, yv, [0, 3], methods=("fi", "random"), random_seeds=2)
    assert len(df) == 2 + 2 * 2 and df.accuracy.between(0, 1).all()
    assert df[df.budget == 0].accuracy.nunique() == 1  # nothing removed: same model
