"""Active learning: strategies, reproducibility and resuming from a checkpoint."""

import json

import numpy as np
import pytest

import localinf as li
from helpers import make_problem


def setup():
    X, y = make_problem(21, 160, 2, 3)
    fit = lambda X, y: li.SoftmaxRegression(l2=0.05).fit(X, y)
    lab = np.r_[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    return fit, (X[lab], y[lab]), (X[10:110], y[10:110]), (X[110:140], y[110:140]), (X[140:], y[140:])


@pytest.mark.parametrize("strategy", li.selection.STRATEGIES)
def test_rounds_grow_the_labeled_pool(strategy):
    fit, (Xl, yl), (Xp, yp), (Xv, yv), (Xt, yt) = setup()
    df = li.active_learning(fit, Xl, yl, Xp, yp, Xt, yt, strategy=strategy, rounds=3,
                            acquisition_size=5, X_val=Xv, y_val=yv, seed=1)
    assert list(df.n_labeled) == [10, 15, 20, 25]
    again = li.active_learning(fit, Xl, yl, Xp, yp, Xt, yt, strategy=strategy, rounds=3,
                               acquisition_size=5, X_val=Xv, y_val=yv, seed=1)
    assert np.array_equal(df.accuracy, again.accuracy)  # reproducible from the seed


def test_fi_active_strategy_labels_the_top_scores():
    fit, (Xl, yl), (Xp, yp), (Xv, yv), (Xt, yt) = setup()
    model = fit(Xl, yl)
    s = li.acquisition_scores("fi_active", model, Xl, yl, Xp)
    assert np.allclose(s, li.LocalInfluence(model, Xl, yl).fi_active(Xp))
    bald = li.acquisition_scores("bald", model, Xl, yl, Xp, seed=0)
    assert np.all(bald >= -1e-12) and np.isfinite(bald).all()  # mutual information
    with pytest.raises(li.InputError, match="validation"):
        li.acquisition_scores("iv", model, Xl, yl, Xp)


def test_interrupted_run_resumes_to_the_same_result(tmp_path):
    fit, (Xl, yl), (Xp, yp), (Xv, yv), (Xt, yt) = setup()
    kw = dict(strategy="iv", rounds=3, acquisition_size=4, X_val=Xv, y_val=yv, seed=2)
    full = li.active_learning(fit, Xl, yl, Xp, yp, Xt, yt, **kw)
    ck = tmp_path / "run.json"
    li.active_learning(fit, Xl, yl, Xp, yp, Xt, yt, checkpoint=str(ck), **kw)
    state = json.loads(ck.read_text())
    # simulate a crash after round 1: keep round 0 and 1 results and the points chosen by then
    state["results"], state["chosen"] = state["results"][:2], state["chosen"][:8]
    ck.write_text(json.dumps(state))
    resumed = li.active_learning(fit, Xl, yl, Xp, yp, Xt, yt, checkpoint=str(ck), **kw)
    assert np.array_equal(resumed.accuracy, full.accuracy)
    assert np.array_equal(resumed.n_labeled, full.n_labeled)
    with pytest.raises(li.InputError, match="other settings"):
        li.active_learning(fit, Xl, yl, Xp, yp, Xt, yt, checkpoint=str(ck), **dict(kw, seed=3))
    with pytest.raises(li.InputError, match="exceeds the pool"):
        li.active_learning(fit, Xl, yl, Xp, yp, Xt, yt, **dict(kw, rounds=40))


def test_bald_on_a_network_uses_its_laplace_posterior():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] ** 2 + X[:, 1] > 0.5).astype(int)
    y[:2] = [0, 1]
    net = li.fit_mlp(X, y, hidden=(3,), activation="tanh", l2=0.02)
    pool = rng.normal(size=(15, 2))
    a = li.acquisition_scores("bald", net, X, y, pool, seed=4)
    b = li.acquisition_scores("bald", net, X, y, pool, seed=4)
    assert np.array_equal(a, b) and np.all(a >= -1e-12)  # seeded; mutual information >= 0
    assert np.ptp(a) > 0  # it ranks the pool
    # the posterior draws are N(theta_hat, H^{-1}/n): their mean and covariance match it
    inf = li.LocalInfluence(net, X, y)
    L = np.linalg.cholesky(inf.H_inv_.hessian)
    Z = np.random.default_rng(0).standard_normal((net.theta_.size, 4000))
    draws = np.linalg.solve(L.T, Z) / np.sqrt(len(y))
    cov = np.cov(draws)
    assert np.allclose(cov, inf.H_inv_.todense() / len(y), atol=0.1 * np.abs(cov).max())
