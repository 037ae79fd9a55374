"""Models fitted by statsmodels and scikit-learn: carried over exactly, or refused."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from sklearn.linear_model import LogisticRegression as SkLogistic

import localinf as li
from helpers import make_problem


def test_statsmodels_formula_logit_keeps_names_and_rows():
    X, y = make_problem(1, 120, 2, 2)
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y}, index=[f"p{i}" for i in range(120)])
    res = smf.logit("y ~ a + b", data=df).fit(disp=0)
    inf = li.from_statsmodels(res)
    assert inf.feature_names_ == ["a", "b"]
    assert list(inf.index_) == list(df.index)
    direct = li.LocalInfluence(li.LogisticRegression().fit(X, y), X, y)
    assert np.allclose(inf.fi_util(X, y), direct.fi_util(X, y), rtol=1e-8)
    assert list(inf.summary_frame(X, y).index[:2]) == ["p0", "p1"]


def test_statsmodels_mnlogit_and_glm():
    X, y = make_problem(2, 150, 2, 3)
    res = sm.MNLogit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12)
    inf = li.from_statsmodels(res)
    direct = li.LocalInfluence(li.SoftmaxRegression().fit(X, y), X, y)
    assert np.allclose(inf.influence_value(X, y), direct.influence_value(X, y), rtol=1e-8)
    Xb, yb = make_problem(3, 100, 2, 2)
    glm = sm.GLM(yb, sm.add_constant(Xb), family=sm.families.Binomial()).fit()
    assert li.from_statsmodels(glm).n_ == 100
    with pytest.raises(li.InputError, match="binomial"):
        li.from_statsmodels(sm.GLM(yb, sm.add_constant(Xb), family=sm.families.Poisson()).fit())
    bad = sm.Logit(yb, sm.add_constant(Xb)).fit(disp=0, maxiter=1, warn_convergence=False)
    with pytest.raises(li.InputError, match="cannot reproduce"):
        li.from_statsmodels(bad)


def test_sklearn_C_is_l2_over_2Cn():
    """scikit-learn minimises C sum loss + ||w||^2/2; dividing by C n gives mean loss +
    ||w||^2 / (2 C n): the same minimiser as localinf with l2 = 1/(2 C n)."""
    X, y = make_problem(4, 200, 3, 2)
    for C in (0.05, 1.0, 20.0):
        est = SkLogistic(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
        inf = li.from_sklearn(est, X, y)
        assert inf.model.l2 == pytest.approx(1 / (2 * C * 200))
        assert np.allclose(inf.model.theta_[:3], est.coef_.ravel(), rtol=1e-5, atol=1e-7)
    X3, y3 = make_problem(5, 150, 2, 3)
    with pytest.raises(li.InputError, match="symmetric"):
        li.from_sklearn(SkLogistic(C=1.0).fit(X3, y3), X3, y3)
    est = SkLogistic(C=np.inf, tol=1e-10, max_iter=10_000).fit(X3, y3)
    inf = li.from_sklearn(est, X3, y3)
    assert np.allclose(inf.model.predict_proba(X3), est.predict_proba(X3), atol=1e-6)
    with pytest.raises(li.InputError, match="cannot reproduce"):
        li.from_sklearn(SkLogistic(C=1.0).fit(X, y), X[::-1] * 2, y)


def test_statsmodels_formula_model_takes_the_raw_validation_frame():
    """The model's own design (dummy coding, transforms) is applied to a raw frame."""
    rng = np.random.default_rng(5)
    n = 200
    df = pd.DataFrame({"sex": rng.choice(["f", "m"], n), "bmi": rng.normal(25, 4, n)})
    df["y"] = (rng.random(n) < 1 / (1 + np.exp(-0.15 * (df.bmi - 25) - 0.5 * (df.sex == "m")))).astype(int)
    res = smf.logit("y ~ C(sex) + np.log(bmi)", data=df).fit(disp=0, tol=1e-12, maxiter=100)
    inf = li.from_statsmodels(res)
    val = pd.DataFrame({"bmi": rng.normal(25, 4, 30), "sex": "m"})  # one level only, columns reordered
    yv = rng.integers(0, 2, 30)
    by_hand = pd.DataFrame({"C(sex)[T.m]": 1.0, "np.log(bmi)": np.log(val.bmi)})
    np.testing.assert_allclose(np.asarray(inf.fi_util(val, yv)), np.asarray(inf.fi_util(by_hand, yv)),
                               rtol=1e-12)
    np.testing.assert_allclose(inf.model.predict_proba(by_hand)[:, 1], res.predict(val), rtol=1e-6)
    with pytest.raises(li.InputError, match="bmi"):
        inf.fi_util(val.drop(columns="bmi"), yv)
    with pytest.raises(li.InputError, match="rows"):
        inf.fi_util(val.assign(bmi=val.bmi.where(val.index > 2)), yv)  # NaN rows would be dropped
