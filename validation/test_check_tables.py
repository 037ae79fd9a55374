"""The trimming tables' quick modes, run in-process: their files, their baselines and
the properties their seed-paired statistics and approximations must have.

test_check_experiments.py runs the scripts as subprocesses and checks that
they finish and write files; these tests look inside the results.
"""

import os
import re
import sys

import numpy as np
import pytest

HERE = os.path.join(os.path.dirname(__file__), "experiments")
sys.path.insert(0, HERE)

CELL = re.compile(r"(\d+)/(\d+)/(\d+), [+-]\d")  # a paired cell: wins/ties/losses, difference


@pytest.fixture
def out(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALINF_EXPERIMENT_OUT", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


def paired_counts(text):
    """Every wins/ties/losses triple of a results file."""
    return [tuple(map(int, m.groups())) for m in CELL.finditer(text)]


def assert_counts_add_up(text, seeds):
    counts = paired_counts(text)
    assert counts, "no paired cells in the table"
    assert all(sum(c) == seeds for c in counts), counts


def test_table2_quick_softplus_and_relu_both_routes(out):
    import localinf as li
    import table2_moons as t2
    results, text = t2.run(2, quick=True)
    path = out / "table2.md"
    assert path.exists() and path.read_text() == text
    assert "nan" not in text.lower()
    assert_counts_add_up(text, 2)
    # the three networks, each with untrimmed, FI, IV and random rows
    for net in ("softplus", "relu", "relu_ggn"):
        assert t2.ROWS[net] in text
        res = results[net]
        assert len(res) == 2 and all(set(r) >= {"none", ("fi", 5), ("iv", 5), ("random", 5)} for r in res)
    assert "## ReLU: whole network (damped GGN) against last layer" in text
    # ReLU, last layer: influence over the last layer only (16 weights + 1 bias) of 337;
    # the other two over every parameter
    assert all(r["p_free"] == 17 and r["p_all"] == 337 for r in results["relu"])
    assert all(r["p_free"] == r["p_all"] == 337 for r in results["softplus"])
    assert all(r["p_free"] == r["p_all"] == 337 for r in results["relu_ggn"])
    # the two ReLU rows share the fitted networks and the refit recipe: their untrimmed and
    # random-removal accuracies are the same numbers, only FI's and IV's choices differ
    for a, b in zip(results["relu"], results["relu_ggn"]):
        assert a["none"] == b["none"] and a[("random", 5)] == b[("random", 5)]
        assert a["grad_norm"] == b["grad_norm"] > 1e-6  # the hidden layers are not at a minimiser
        assert not np.allclose(a["scores"]["fi"], b["scores"]["fi"])
    # the no-removal row is the untrimmed model's accuracy, and the recipe refitted on all
    # rows (b = 0) reproduces it, so differences come from the removal, not the recipe
    none = np.array([r["none"] for r in results["relu"]])
    assert f"| 0 | no removal | {t2.pct(none)} |" in text
    X, y, Xv, yv, Xt, yt = t2.moons(0)
    fit, influence = t2.recipe("relu", 0, quick=True)
    m0, m1 = fit(X, y), fit(X, y)
    assert np.array_equal(m0.predict(Xt), m1.predict(Xt))
    assert np.mean(m0.predict(Xt) == yt) == results["relu"][0]["none"]
    # the last layer is at its exact minimiser (the rest of the network is not)
    inf = influence(m0, X, y)  # accepted as a minimiser (the default at_minimiser=True)
    assert inf.p_ == 17 and inf.at_minimiser_
    ll = li.last_layer(m0)
    p = m0.theta_.size
    assert np.array_equal(ll.free_, np.arange(p - 17, p))
    assert np.array_equal(ll.theta_, m0.theta_[-17:])
    g_last = np.max(np.abs(ll.risk_on(X, y).grad()))
    assert g_last < 1e-8 < m0.grad_norm_
    # the whole-network route: every parameter, damped GGN, at a non-minimiser, and the
    # FI scores it gave in the run are those of this network
    _, influence_ggn = t2.recipe("relu_ggn", 0, quick=True)
    inf_ggn = influence_ggn(m0, X, y)
    assert inf_ggn.p_ == p and not inf_ggn.at_minimiser_ and inf_ggn.damping_ == t2.GGN_DAMPING
    assert inf_ggn.grad_norm_ == pytest.approx(m0.grad_norm_, rel=1e-12)
    np.testing.assert_allclose(inf_ggn.fi_util(Xv, yv), results["relu_ggn"][0]["scores"]["fi"],
                               rtol=1e-10, atol=0)


@pytest.mark.parametrize("K, penalize_bias", [(2, True), (3, True), (3, False)])
def test_fit_last_layer_solves_the_restricted_risk(K, penalize_bias):
    """After localinf.fit_last_layer, no step of the last layer alone lowers R: its gradient
    is at round-off, and a direct minimisation of the restricted risk by scipy's L-BFGS
    (on autograd's gradient, not the GLM's Newton solver the library uses) finds the same
    point. Binary and three-class networks, biases penalised or not."""
    import localinf as li
    import table2_moons as t2
    from autograd import grad
    from scipy.optimize import minimize
    if K == 2:
        X, y, *_ = t2.moons(1)
    else:
        rng = np.random.default_rng(3)
        X = rng.normal(size=(240, 2))
        y = (np.digitize(X[:, 0] + 0.5 * X[:, 1] ** 2 + 0.3 * rng.normal(size=240), [-0.3, 0.8]))
    m = li.fit_mlp(X, y, hidden=(16, 16), activation="relu", l2=1e-3, seed=1, method="adam",
                   finish="none", penalize_bias=penalize_bias, **t2.ADAM_QUICK)
    before = m.theta_.copy()
    assert m.finish_ == "none"
    out = li.fit_last_layer(m, X, y)
    assert out is m
    q = 17 * (K - 1)  # (16 weights + 1 bias) per output unit
    assert np.array_equal(m.theta_[:-q], before[:-q])  # hidden layers untouched
    ll = li.last_layer(m)
    f = lambda t: ll.loss_sum_fn(t, X, y) / len(y) + ll.penalty_fn(t)
    g = np.asarray(grad(f)(ll.theta_))
    assert np.max(np.abs(g)) < 1e-9
    res = minimize(lambda t: (float(f(t)), np.asarray(grad(f)(t))), before[-q:], jac=True,
                   method="L-BFGS-B", options=dict(gtol=1e-12, ftol=0.0, maxiter=5000))
    assert f(ll.theta_) <= res.fun + 1e-12
    np.testing.assert_allclose(ll.theta_, res.x, atol=1e-5)
    # small steps of the last layer in random directions all raise R (a strict minimum)
    rng = np.random.default_rng(0)
    for v in rng.normal(size=(5, q)):
        assert f(ll.theta_ + 1e-3 * v / np.linalg.norm(v)) > f(ll.theta_)
    # grad_norm_ is the whole network's gradient, which the hidden layers keep away from 0
    full = np.max(np.abs(m.risk_on(X, y).grad()))
    assert m.grad_norm_ == pytest.approx(full, rel=1e-12) and full > 1e-6
    # fit_mlp's finish="last_layer" is Adam followed by this function
    m2 = li.fit_mlp(X, y, hidden=(16, 16), activation="relu", l2=1e-3, seed=1,
                    penalize_bias=penalize_bias, **t2.ADAM_QUICK)
    assert m2.method_ == "adam" and m2.finish_ == "last_layer"
    np.testing.assert_array_equal(m2.theta_, m.theta_)


def test_trimming_real_quick(out):
    import trimming_real as tr
    res = tr.main(["--quick"])
    for name in ("trimming_curves.md", "trimming_curves.png", "table7.md", "table8.md"):
        assert (out / name).stat().st_size > 0, name
    curves = (out / "trimming_curves.md").read_text()
    for text in (curves, (out / "table7.md").read_text(), (out / "table8.md").read_text()):
        assert_counts_add_up(text, 2)
        assert "nan" not in text.lower()
    # b = 0 removes nothing: every method's accuracy is the untrimmed one, seed by seed
    acc = tr.per_seed(res["curves"])
    zero = acc.xs(0, level="budget")
    assert np.allclose(zero.sub(zero["fi"], axis=0).to_numpy(), 0.0)
    # the untrimmed rows: in the curve table and the paired table, the b = 0 accuracy
    for data in ("clean", "noisy"):
        none = zero.xs(data, level="data")["fi"]
        assert f"| {data} | none (untrimmed) | {none.mean():.4f} | {none.mean():.4f} |" in curves
        assert f"| {data} | 0 | no removal | {tr.pct(none)} |" in curves
    # Table 7's unperturbed model is the clean curves' untrimmed model (same splits and fit)
    clean = zero.xs("clean", level="data")["fi"]
    assert f"Accuracy without perturbation: {tr.pct(clean)} %" in res["table7"]
    for label in ("top-b against bottom-b", "top-b against random b", "random b against no perturbation"):
        assert label in res["table7"]
    for label in ("no removal", "random", "Algorithm 6 against exact"):
        assert f"| {label} |" in res["table8"]


def test_table8_kfac_quick(out):
    import table8_kfac as t8
    res, text = t8.run(2, quick=True)
    assert (out / "table8_kfac.md").read_text() == text
    assert_counts_add_up(text, 2)
    assert "nan" not in text.lower()
    b = t8.QUICK["b"]
    for r in res:
        assert r["spearman"]["exact"] == pytest.approx(1.0) and r["overlap"]["exact"] == b
        # the approximations rank the rows like exact FI_util, far better than chance
        for name in ("kfac", "kfac+cg", "kfsvd"):
            assert r["spearman"][name] > 0.4, (name, r["spearman"])
        assert abs(r["spearman"]["random"]) < 0.3
        # the exact validation solve is what K-FAC gets most wrong (docs/curvature.md)
        assert r["spearman"]["kfac+cg"] > r["spearman"]["kfac"]
        assert set(r["acc"]) == {"exact", "kfac", "kfac+cg", "kfsvd", "random", "none"}
    # the untrimmed row is the untrimmed model's accuracy
    none = np.array([r["acc"]["none"] for r in res])
    assert f"| no removal | {100 * none.mean():.2f} ± {100 * none.std():.2f} |" in text
