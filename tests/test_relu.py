"""ReLU networks trained by Adam, end to end (issue 16): the fit, its exact last layer,
and last-layer influence against finite differences of refits with the features frozen."""

import numpy as np
import pytest

import localinf as li
from localinf.validation.refits import refit_derivatives


def moons(seed=0, n=200):
    from sklearn.datasets import make_moons
    return make_moons(n, noise=0.3, random_state=seed)


def three_classes(seed=0, n=150):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (np.arctan2(X[:, 1], X[:, 0]) // (2 * np.pi / 3)).astype(int) % 3
    flip = rng.random(n) < 0.1
    y[flip] = rng.integers(0, 3, flip.sum())
    return X, y


RELU = dict(hidden=(8, 8), activation="relu", l2=1e-3, epochs=40, batch_size=32, learning_rate=1e-2)


def test_relu_fit_defaults_to_adam_and_an_exact_last_layer_reproducibly():
    X, y = moons()
    a, b = li.fit_mlp(X, y, seed=3, **RELU), li.fit_mlp(X, y, seed=3, **RELU)
    assert (a.method_, a.finish_) == ("adam", "last_layer")
    np.testing.assert_array_equal(a.theta_, b.theta_)
    full = a.risk_on(X, y).grad()
    assert a.grad_norm_ == pytest.approx(np.max(np.abs(full)), rel=1e-12)
    assert a.grad_norm_ > 1e-5  # Adam leaves the hidden layers short of a minimiser ...
    last = li.last_layer(a).free_
    assert np.max(np.abs(full[last])) < 1e-12  # ... and the last layer exactly at its own
    assert (a.predict(X) == y).mean() > 0.8
    inf = li.LocalInfluence(li.last_layer(a), X, y)  # the exact route needs no loosened check
    assert np.isfinite(inf.fi_util(*moons(1, 60))).all()
    assert li.fit_mlp(X, y, hidden=(3,), l2=1e-2).method_ == "lbfgs"  # smooth: L-BFGS + Newton


def test_fit_last_layer_only_moves_the_last_layer_to_a_strict_minimum():
    X, y = moons(2)
    net = li.fit_mlp(X, y, finish="none", seed=1, **RELU)
    before = net.theta_.copy()
    li.fit_last_layer(net, X, y)
    free = li.last_layer(net).free_
    frozen = np.setdiff1d(np.arange(before.size), free)
    np.testing.assert_array_equal(net.theta_[frozen], before[frozen])
    assert not np.allclose(net.theta_[free], before[free])
    H = li.last_layer(net).risk_on(X, y).hessian()  # Hessian of the restricted risk, by autograd
    assert np.linalg.eigvalsh(H).min() > 0
    assert np.max(np.abs(net.risk_on(X, y).grad()[free])) < 1e-12


def test_fit_last_layer_with_free_biases_and_three_classes():
    X, y = three_classes()
    net = li.fit_mlp(X, y, penalize_bias=False, seed=2, **RELU)
    free = li.last_layer(net).free_
    assert np.max(np.abs(net.risk_on(X, y).grad()[free])) < 1e-12


def test_finish_and_method_choices_are_checked():
    X, y = moons()
    with pytest.raises(li.InputError, match="finish"):
        li.fit_mlp(X, y, finish="polish")
    with pytest.raises(li.InputError, match="method"):
        li.fit_mlp(X, y, method="sgd")
    with pytest.raises(li.InputError, match="fit_last_layer needs a network"):
        li.fit_last_layer(li.LogisticRegression().fit(X, y), X, y)
    net = li.fit_mlp(X, y, hidden=(3,), l2=1e-2, finish=True)
    assert net.finish_ == "minimiser" and net.grad_norm_ < 1e-6
    assert li.fit_mlp(X, y, hidden=(3,), l2=1e-2, finish=False, maxiter=3).finish_ == "none"
    with pytest.raises(li.InputError, match="X"):
        li.fit_last_layer(net, X[:, :1], y)
    with pytest.raises(li.InputError, match="finish must be one of .* or True/False"):
        li.fit_mlp(X, y, finish=1)
    X3, y3 = three_classes()
    net3 = li.fit_mlp(X3, y3, hidden=(4,), activation="relu", l2=1e-2, epochs=3)
    with pytest.raises(li.InputError, match="y"):  # every class present, as in the fit
        li.fit_last_layer(net3, X3, np.where(y3 == 2, 0, y3))


def test_degenerate_last_layer_without_penalty_names_the_model():
    X, y = moons(3)
    params = li.init_mlp((2, 3, 1), seed=0)
    params[0][0][:, 0] = 0.0
    params[0][1][0] = -1.0  # unit 0 is zero on every row
    net = li.MLP((2, 3, 1), "relu", params, l2=0.0)
    with pytest.raises((li.SingularHessianError, li.PerfectSeparationError), match="model: .*l2 > 0"):
        li.fit_last_layer(net, X, y)
    net.l2 = 1e-3  # the penalty makes it unique: the dead unit's weight is exactly 0
    li.fit_last_layer(net, X, y)
    assert li.last_layer(net).unflatten(li.last_layer(net).theta_) is not None
    assert abs(net.unflatten(net.theta_)[-1][0][0, 0]) < 1e-12


def _frozen_features_refit(net):
    """refit(X, y): the same hidden layers, the last layer refitted exactly on (X, y)."""
    hidden = net.unflatten(net.theta_)

    def fit(X, y):
        model = li.MLP(net.layer_sizes_, net.activation_, hidden, l2=net.l2)
        return li.last_layer(li.fit_last_layer(model, X, y))

    return fit


@pytest.mark.parametrize("data", ["moons", "three"])
def test_last_layer_influence_matches_refits_with_the_features_frozen(data):
    """D_i, g_i and G_i, and FI = g_i^T G_i^+ g_i built from their finite-difference
    estimates, against Richardson-extrapolated central differences of exact last-layer
    refits (the rows chosen have every ReLU pre-activation away from its kink)."""
    X, y = moons(4, 150) if data == "moons" else three_classes(4, 150)
    Xv, yv = moons(5, 80) if data == "moons" else three_classes(5, 80)
    net = li.fit_mlp(X, y, seed=0, **RELU)
    fit = _frozen_features_refit(net)
    params = net.unflatten(net.theta_)
    pre = X @ params[0][0] + params[0][1]
    pre2 = np.maximum(pre, 0) @ params[1][0] + params[1][1]
    margin = np.minimum(np.abs(pre).min(axis=1), np.abs(pre2).min(axis=1))
    inf = li.LocalInfluence(fit(X, y), X, y)
    for i in np.argsort(-margin)[:2]:
        checks = refit_derivatives(X, y, fit, int(i), Xv=Xv, yv=yv, tol=1e-5)
        assert len(checks) == 3 and all(c.passed for c in checks), [c.detail for c in checks]
        g_fd, G_fd = checks[1].extra["estimate"], checks[2].extra["estimate"]
        lam, V = np.linalg.eigh(G_fd)
        keep = lam > 1e-6 * lam.max()
        fi_fd = float(np.sum((V[:, keep].T @ g_fd) ** 2 / lam[keep]))
        fi = float(inf.against(Xv, yv).fi_util(rows=[int(i)])[0])
        assert abs(fi - fi_fd) <= 1e-5 * abs(fi_fd)


def test_last_layer_chunks_are_sized_for_the_parents_per_row_gradients():
    """A restricted model's per-row gradients are the parent network's (K x p_parent per
    row) before restriction: the row chunks must keep those within the 64 MiB budget."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 20))
    y = np.argmax(X[:, :5], axis=1)
    net = li.fit_mlp(X, y, hidden=(40, 40), activation="relu", epochs=1, l2=1e-2)
    inf = li.LocalInfluence(li.last_layer(net), X, y)
    assert inf.backend_.chunk_size * net.n_classes_ * net.theta_.size <= 1 << 23
    assert np.isfinite(inf.influence_value(X[:30], y[:30])).all()
