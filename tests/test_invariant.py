"""FI that does not depend on units (``invariant="data"|"model"``), against independent computations.

* the invariance properties: a random change of feature units (refit, no
  penalty) and a random invertible J applied to omega (the same fitted model
  written in other coordinates, with a penalty) leave the invariant FI and the
  invariance defect unchanged to 1e-8, while the paper's FI moves;
* the definition written out densely for one row: whiten by a Cholesky factor
  of G_ref built here from the model's probabilities (the Fisher information by
  autograd of our own softmax, the covariance by numpy), then the
  Moore-Penrose pseudo-inverse;
* the equality case: where G_i is invertible (softmax with K - 1 >= d) the
  invariant FI equals the paper's FI and the defect is 0.
"""

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import jacobian

import localinf as li
from localinf.exceptions import BudgetError, InputError


def _data(seed, n=150, d=3, K=2, scale=(1.0, 5.0, 0.2, 2.0)):
    rng = np.random.default_rng(seed)
    s = np.asarray(scale[:d])
    B = rng.normal(size=(d, K))
    make = lambda m: rng.normal(size=(m, d)) * s
    lab = lambda Z: np.argmax(Z / s @ B + rng.gumbel(size=(Z.shape[0], K)), axis=1)
    X, Xv = make(n), make(60)
    return X, lab(X), Xv, lab(Xv)


def _model(K, l2):
    return li.LogisticRegression(l2=l2) if K == 2 else li.SoftmaxRegression(l2=l2)


def _rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("K,d", [(2, 3), (3, 4)])
@pytest.mark.parametrize("seed", [0, 1])
def test_unit_change_leaves_invariant_fi_unchanged(K, d, seed):
    X, y, Xv, yv = _data(seed, d=d, K=K)
    rng = np.random.default_rng(100 + seed)
    A = rng.normal(size=(d, d)) + 2 * np.eye(d)  # invertible change of units, and a shift
    shift = rng.normal(size=d) * 10
    unit = lambda Z: Z @ A.T + shift
    m1, m2 = _model(K, 0.0).fit(X, y), _model(K, 0.0).fit(unit(X), y)
    res = {}
    for inv in (None, "data", "model"):
        b1 = li.LocalInfluence(m1, X, y, invariant=inv).against(Xv, yv)
        b2 = li.LocalInfluence(m2, unit(X), y, invariant=inv).against(unit(Xv), yv)
        res[inv] = _rel(b2.fi_util(), b1.fi_util())
        if inv is not None:
            assert _rel(b2.invariance_defect(), b1.invariance_defect()) < 1e-8
    assert res["data"] < 1e-8 and res["model"] < 1e-8
    assert res[None] > 1e-3  # the paper's FI moves with the units (K - 1 < d)


def _reparametrised(m, A, l2):
    """The fitted logistic model ``eta = (A x) . beta + c`` of inputs x: perturbing x by omega
    perturbs ``z = A x`` by ``A omega`` -- the same model with J = A on omega."""
    d = A.shape[0]
    logits = lambda params, X: anp.dot(anp.dot(X, A.T), params[0]) + params[1]
    return li.AutogradModel(logits, [m.coef_.copy(), np.array([m.intercept_])], n_classes=2,
                            l2=l2, penalty_mask=np.r_[np.ones(d), 0.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_J_on_omega_leaves_invariant_fi_unchanged(seed):
    # with a penalty: the same minimiser in both coordinates, two different backends
    l2 = 1e-2
    Z, y, Zv, yv = _data(seed)
    rng = np.random.default_rng(200 + seed)
    A = rng.normal(size=(3, 3)) + 2 * np.eye(3)
    X, Xv = np.linalg.solve(A, Z.T).T, np.linalg.solve(A, Zv.T).T  # z = A x
    m = li.LogisticRegression(l2=l2).fit(Z, y)
    ag = _reparametrised(m, A, l2)
    res = {}
    for inv in (None, "data", "model"):
        bz = li.LocalInfluence(m, Z, y, invariant=inv).against(Zv, yv)
        bx = li.LocalInfluence(ag, X, y, invariant=inv).against(Xv, yv)
        res[inv] = _rel(bx.fi_util(), bz.fi_util())
        if inv is not None:
            assert _rel(bx.invariance_defect(), bz.invariance_defect()) < 1e-8
            assert _rel(bx.invariance_defect("model"), bz.invariance_defect("model")) < 1e-8
    assert res["data"] < 1e-8 and res["model"] < 1e-8
    assert res[None] > 1e-3


def _log_proba(theta, X, K):
    """Our own softmax regression, class 0 the reference, theta = [coef_k, intercept_k] for k >= 1."""
    d = X.shape[1]
    W = anp.reshape(theta, (K - 1, d + 1))
    eta = anp.dot(X, W[:, :d].T) + W[:, d]
    eta = anp.concatenate([anp.zeros((X.shape[0], 1)), eta], axis=1)
    return eta - anp.log(anp.sum(anp.exp(eta), axis=1, keepdims=True))


def _fisher_rows(theta, X, K):
    """Per-row Fisher information ``sum_c P_c a_c a_c^T`` (n, p, p) by autograd."""
    out = []
    for x in X:  # a test, not the library: a loop over rows is fine here
        J = jacobian(lambda t: _log_proba(t, x[None], K)[0])(theta)  # (K, p)
        P = np.exp(_log_proba(theta, x[None], K)[0])
        out.append(J.T @ (P[:, None] * J))
    return np.array(out)


@pytest.mark.parametrize("K,d", [(2, 3), (3, 4)])
@pytest.mark.parametrize("invariant", ["data", "model"])
def test_against_dense_definition(K, d, invariant):
    X, y, Xv, yv = _data(7, n=80, d=d, K=K)
    m = _model(K, 1e-2).fit(X, y)
    inf = li.LocalInfluence(m, X, y, invariant=invariant)
    bound = inf.against(Xv, yv)
    fi, eta = bound.fi_util(), bound.invariance_defect()
    if invariant == "model":
        Fj = _fisher_rows(m.theta_, X, K)
        Ftot = Fj.sum(axis=0)
    else:
        Gref_data = np.linalg.inv(np.cov(X.T))
    for i in (0, 5, 33):
        G = inf.metric(i)
        D = inf.dtheta_domega(i)
        g = D.T @ inf.backend_.mean_loss_grad(*inf._query(Xv, yv))
        Gref = G + D.T @ (Ftot - Fj[i]) @ D if invariant == "model" else Gref_data
        L = np.linalg.cholesky(Gref)
        gt = np.linalg.solve(L, g)
        Gt = np.linalg.solve(L, np.linalg.solve(L, G).T)
        Gt_pinv = np.linalg.pinv(Gt, rcond=1e-10, hermitian=True)
        assert fi[i] == pytest.approx(gt @ Gt_pinv @ gt, rel=1e-8)
        inside = Gt @ Gt_pinv @ gt  # projection of gt onto range(Gt)
        assert eta[i] == pytest.approx(1 - inside @ inside / (gt @ gt), abs=1e-9)
        # the binary closed form: FI_inv = (a^T R^{-1} g)^2 / (s (a^T R^{-1} a)^2)
        if K == 2:
            F = inf._rows(slice(i, i + 1)).metric_factor()[0][:, 0]  # G = f f^T
            Rf, Rg = np.linalg.solve(Gref, F), np.linalg.solve(Gref, g)
            assert fi[i] == pytest.approx((F @ Rg) ** 2 / (F @ Rf) ** 2, rel=1e-8)


@pytest.mark.parametrize("K,d", [(4, 2), (3, 2), (2, 1)])
def test_equals_paper_fi_where_metric_invertible(K, d):
    X, y, Xv, yv = _data(3, d=d, K=K)
    m = _model(K, 1e-2).fit(X, y)
    paper = li.LocalInfluence(m, X, y).fi_util(Xv, yv)
    for inv in ("data", "model"):
        b = li.LocalInfluence(m, X, y, invariant=inv).against(Xv, yv)
        assert _rel(b.fi_util(), paper) < 1e-8
        assert np.max(b.invariance_defect()) < 1e-8


def test_defect_in_unit_interval_and_positive_where_theorem_fails():
    X, y, Xv, yv = _data(4)
    b = li.LocalInfluence(li.LogisticRegression(l2=1e-2).fit(X, y), X, y).against(Xv, yv)
    for ref in ("data", "model"):
        eta = np.asarray(b.invariance_defect(ref))
        assert np.all((eta >= 0) & (eta <= 1)) and np.median(eta) > 1e-3


def test_pairwise_and_active_follow_invariant():
    X, y, Xv, yv = _data(5)
    m = li.LogisticRegression(l2=1e-2).fit(X, y)
    for inv in ("data", "model"):
        inf = li.LocalInfluence(m, X, y, invariant=inv)
        one = inf.fi_util(Xv[:1], yv[:1])
        assert _rel(inf.fi(Xv[:3], yv[:3])[:, 0], one) < 1e-10
        assert np.all(np.isfinite(inf.fi_active(Xv[:5])))
    paper = li.LocalInfluence(m, X, y).fi(Xv[:3], yv[:3])
    assert _rel(li.LocalInfluence(m, X, y, invariant="model").fi(Xv[:3], yv[:3]), paper) > 1e-3


def test_summary_frame_columns():
    X, y, Xv, yv = _data(6)
    m = li.LogisticRegression(l2=1e-2).fit(X, y)
    plain = li.LocalInfluence(m, X, y).summary_frame(Xv, yv)
    assert "invariance_defect" not in plain
    inf = li.LocalInfluence(m, X, y, invariant="data")
    sf = inf.summary_frame(Xv, yv)
    assert np.allclose(sf.fi_util, inf.fi_util(Xv, yv), rtol=1e-12)
    assert sf.invariance_defect.between(0, 1).all()
    # coarser cut-off of the invariant FI: equal where no eigenvalue sits between the cut-offs
    assert np.allclose(sf.fi_util_coarse, sf.fi_util, rtol=1e-8)


@pytest.mark.parametrize("bad", ["x", "Data", 1, True, ["data"]])
def test_bad_invariant_is_refused(bad):
    X, y, _, _ = _data(0)
    with pytest.raises(InputError, match="invariant"):
        li.LocalInfluence(li.LogisticRegression().fit(X, y), X, y, invariant=bad)


def test_singular_covariance_is_refused_by_name():
    import pandas as pd
    X, y, _, _ = _data(0)
    df = pd.DataFrame(np.c_[X, 2 * X[:, 1]], columns=["a", "b", "c", "twice_b"])
    m = li.LogisticRegression(l2=1e-2).fit(df, y)
    with pytest.raises(InputError, match=r"invariant='data'.*(b|twice_b)"):
        li.LocalInfluence(m, df, y, invariant="data")
    li.LocalInfluence(m, df, y, invariant="model")  # the model metric needs no such thing


def test_model_reference_respects_flops_budget():
    X, y, _, _ = _data(0)
    m = li.LogisticRegression(l2=1e-2).fit(X, y)
    try:
        li.set_budget(flops=1e3)
        with pytest.raises(BudgetError, match="invariant='model'"):
            li.LocalInfluence(m, X, y, invariant="model")
    finally:
        li.set_budget()


def test_rows_predicted_with_certainty_stay_invariant():
    # raw breast-cancer units (spreads from 1e-3 to 1e3) and rows with P(y|x) within 1e-10 of 1:
    # there G_i exceeds the other rows' part of the model metric by ~1e16, and forming G_ref
    # directly loses it; the Woodbury route must keep FI and the defect invariant under J
    from sklearn.datasets import load_breast_cancer
    X, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(y))
    tr, va = idx[:200], idx[200:300]
    Z, Zv = X[tr], X[va]
    m = li.LogisticRegression(l2=1e-3).fit(Z, y[tr])
    assert np.max(np.abs(m.predict_proba(Z)[:, 1] - 0.5)) > 0.5 - 1e-10  # the case in question
    d = Z.shape[1]
    A = np.diag(np.exp(rng.uniform(-1, 1, d)) / Z.std(axis=0))  # units; see reference.py on mixing
    X_, Xv_ = np.linalg.solve(A, Z.T).T, np.linalg.solve(A, Zv.T).T
    ag = _reparametrised(m, A, 1e-3)
    bz = li.LocalInfluence(m, Z, y[tr], invariant="model").against(Zv, y[va])
    bx = li.LocalInfluence(ag, X_, y[tr], invariant="model", grad_rtol=1e-4).against(Xv_, y[va])
    assert _rel(bx.fi_util(), bz.fi_util()) < 1e-8
    assert np.max(np.abs(np.asarray(bx.invariance_defect()) - bz.invariance_defect())) < 1e-8


def test_ill_conditioned_model_metric_is_refused_not_wrong():
    # the same breast-cancer model in rotated standardised coordinates: the scaled Q_i has
    # condition ~1e14 there, where an answer would carry few correct digits
    from sklearn.datasets import load_breast_cancer
    from localinf.exceptions import NumericalError
    X, y = load_breast_cancer(return_X_y=True)
    Z, yz = X[:200], y[:200]
    m = li.LogisticRegression(l2=1e-3).fit(Z, yz)
    rng = np.random.default_rng(1)
    A = np.diag(1.0 / Z.std(axis=0)) @ np.linalg.qr(rng.normal(size=(30, 30)))[0]
    ag = _reparametrised(m, A, 1e-3)
    inf = li.LocalInfluence(ag, np.linalg.solve(A, Z.T).T, yz, invariant="model", grad_rtol=1e-4)
    with pytest.raises(NumericalError, match="ill-conditioned"):
        inf.fi_util(np.linalg.solve(A, X[200:260].T).T, y[200:260])


def test_cli_diagnose_invariant(tmp_path, capsys):
    import json
    import pandas as pd
    from localinf import cli
    X, y, _, _ = _data(8)
    path = tmp_path / "d.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y}).to_csv(path, index=False)
    for inv in ("data", "model"):
        out = tmp_path / inv
        assert cli.main(["diagnose", str(path), "--target", "y", "--invariant", inv, "--json",
                         "--out", str(out)]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["invariant"] == inv and summary["fi_depends_on_units"] is False
        table = pd.read_csv(out / "influence.csv", index_col="row")
        assert table.invariance_defect.between(0, 1).all()
    assert cli.main(["diagnose", str(path), "--target", "y", "--json", "--out", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["invariant"] is None and summary["fi_depends_on_units"] is True
    assert cli.main(["diagnose", str(path), "--target", "y", "--invariant", "x"]) == 2
