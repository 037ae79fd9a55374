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


def test_table2_quick_softplus_and_relu_last_layer(out):
    import localinf as li
    import table2_moons as t2
    results, text = t2.run(2, quick=True)
    path = out / "table2.md"
    assert path.exists() and path.read_text() == text
    assert "nan" not in text.lower()
    assert_counts_add_up(text, 2)
    # both networks, each with untrimmed, FI, IV and random rows
    for act in ("softplus", "relu"):
        assert t2.ROWS[act] in text
        res = results[act]
        assert len(res) == 2 and all(set(r) >= {"none", ("fi", 5), ("iv", 5), ("random", 5)} for r in res)
    # ReLU: influence over the last layer only (16 weights + 1 bias), the whole net has 337
    assert all(r["p_free"] == 17 and r["p_all"] == 337 for r in results["relu"])
    assert all(r["p_free"] == r["p_all"] == 337 for r in results["softplus"])
    # the no-removal row is the untrimmed model's accuracy, and the recipe refitted on all
    # rows (b = 0) reproduces it, so differences come from the removal, not the recipe
    none = np.array([r["none"] for r in results["relu"]])
    assert f"| 0 | no removal | {t2.pct(none)} |" in text
    X, y, Xv, yv, Xt, yt = t2.moons(0)
    fit, restrict = t2.recipe("relu", 0, quick=True)
    m0, m1 = fit(X, y), fit(X, y)
    assert np.array_equal(m0.predict(Xt), m1.predict(Xt))
    assert np.mean(m0.predict(Xt) == yt) == results["relu"][0]["none"]
    # the last layer is at its exact minimiser (the rest of the network is not)
    ll = restrict(m0)
    p = m0.theta_.size
    assert np.array_equal(ll.free_, np.arange(p - 17, p))
    assert np.array_equal(ll.theta_, m0.theta_[-17:])
    g_last = np.max(np.abs(ll.risk_on(X, y).grad()))
    assert g_last < 1e-8 < m0.grad_norm_
    li.LocalInfluence(ll, X, y)  # accepted as a minimiser


def test_refit_last_layer_solves_the_restricted_risk(out):
    """After refit_last_layer, no step of the last layer alone lowers R (checked against a
    direct minimisation of the restricted risk by scipy)."""
    import localinf as li
    import table2_moons as t2
    from autograd import grad
    from scipy.optimize import minimize
    X, y, *_ = t2.moons(1)
    m = li.fit_mlp(X, y, hidden=(16, 16), activation="relu", l2=1e-3, seed=1, method="adam",
                   finish=False, **t2.ADAM_QUICK)
    before = m.theta_.copy()
    t2.refit_last_layer(m, X, y)
    assert np.array_equal(m.theta_[:-17], before[:-17])  # hidden layers untouched
    ll = li.last_layer(m)
    f = lambda t: ll.loss_sum_fn(t, X, y) / len(y) + ll.penalty_fn(t)
    res = minimize(lambda t: (float(f(t)), np.asarray(grad(f)(t))), before[-17:], jac=True,
                   method="L-BFGS-B", options=dict(gtol=1e-12, ftol=0.0, maxiter=5000))
    assert f(ll.theta_) <= res.fun + 1e-12
    np.testing.assert_allclose(ll.theta_, res.x, atol=1e-5)


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
