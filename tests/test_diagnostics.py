"""The classic deletion diagnostics as a user meets them: the table, names, refusals,
and the two backends against each other. (Agreement with statsmodels, R's formulas
and refits: tests/test_classic_checks.py.)"""

import numpy as np
import pandas as pd
import pytest

import localinf as li
from localinf.exceptions import InputError

CLASSIC = ["cooks_d", "standard_resid", "hat_diag", "dffits_internal", "student_resid", "dffits",
           "resid_pearson", "resid_deviance", "cook_local", "self_influence"]


def _frame(K=2, n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 2)), columns=["age", "dose"],
                     index=[f"r{i}" for i in range(n)])
    eta = X["age"] - X["dose"] + rng.logistic(size=n)
    y = (eta > 0).astype(int) if K == 2 else np.digitize(eta, [-1, 1])
    return X, np.asarray(y)


def test_summary_frame_without_validation_reads_like_statsmodels():
    X, y = _frame()
    inf = li.LocalInfluence(li.LogisticRegression().fit(X, y), X, y)
    t = inf.summary_frame()
    assert list(t.columns) == ["dfb_age", "dfb_dose", "dfb_const"] + CLASSIC
    assert list(t.index) == list(X.index)
    assert "fi_util" not in t and "no validation data" in t.attrs["note"]
    np.testing.assert_array_equal(t["cooks_d"], inf.cooks_distance().to_numpy())
    np.testing.assert_array_equal(t[["dfb_age", "dfb_dose", "dfb_const"]], inf.dfbetas())
    with_val = inf.summary_frame(X.iloc[:20] + 0.1, y[:20])
    assert list(with_val.columns[:len(t.columns)]) == list(t.columns)
    assert {"fi_util", "iv", "rank", "flagged"} <= set(with_val.columns)
    np.testing.assert_array_equal(with_val[CLASSIC], t[CLASSIC])
    with pytest.raises(InputError, match="X_val, y_val"):
        inf.summary_frame(X.iloc[:20])
    with pytest.raises(InputError, match="index"):
        inf.summary_frame(index=[1, 2])


def test_softmax_parameters_are_named_by_class_and_dfbetas_can_be_left_out():
    X, y = _frame(K=3)
    inf = li.LocalInfluence(li.SoftmaxRegression().fit(X, y), X, y)
    assert inf.param_names_ == ["age[1]", "dose[1]", "const[1]", "age[2]", "dose[2]", "const[2]"]
    assert list(inf.dfbeta().columns) == inf.param_names_
    assert not any(c.startswith("dfb_") for c in inf.summary_frame(dfbetas=False).columns)
    # residuals without a sign for K > 2
    t = inf.summary_frame()
    assert (t[["resid_pearson", "resid_deviance", "standard_resid", "student_resid"]] >= 0).all().all()


def test_cook_local_is_not_cooks_distance():
    # the naming trap: Cook's 1986 local influence (case weights, total curvature) is
    # self-influence / n on logistic regression; Cook's distance is the deletion measure
    X, y = _frame()
    inf = li.LocalInfluence(li.LogisticRegression().fit(X, y), X, y)
    t = inf.summary_frame()
    assert "cook" not in t
    np.testing.assert_allclose(t["cook_local"], t["self_influence"] / len(y), rtol=1e-12)
    assert not np.allclose(t["cook_local"], t["cooks_d"])


@pytest.mark.parametrize("K, l2", [(2, 0.0), (3, 0.03)])
def test_the_autograd_backend_gives_the_same_diagnostics(K, l2):
    X, y = _frame(K=K)
    m = (li.LogisticRegression if K == 2 else li.SoftmaxRegression)(l2=l2).fit(X, y)
    ref = li.LocalInfluence(m, X, y).summary_frame()
    auto = li.LocalInfluence(m, X, y, backend="autograd").summary_frame()
    pd.testing.assert_frame_equal(ref, auto, rtol=1e-9, atol=1e-12)


def test_a_network_gets_the_measures_that_do_not_assume_a_glm():
    X, y = _frame()
    net = li.fit_mlp(X.to_numpy(), y, hidden=(3,), activation="tanh", l2=0.05)
    inf = li.LocalInfluence(net, X.to_numpy(), y)
    with pytest.raises(InputError, match="model: the classic deletion diagnostics"):
        inf.cooks_distance()
    assert list(inf.summary_frame().columns) == ["hat_diag", "cook_local", "self_influence"]


def test_bad_arguments_and_impossible_refits_are_refused():
    X, y = _frame()
    inf = li.LocalInfluence(li.LogisticRegression().fit(X, y), X, y)
    with pytest.raises(InputError, match="method"):
        inf.dfbeta(method="newton")
    for rows in ([], [80], [[1, 2]], [0.5]):
        with pytest.raises(InputError, match="rows"):
            inf.loo_params(rows)
    # one misclassified point keeps the classes from being separable; deleting it does not
    Xs = pd.DataFrame({"x": np.r_[np.linspace(-3, -0.1, 10), np.linspace(0.1, 3, 10), 2.0]})
    ys = np.r_[np.zeros(10, int), np.ones(10, int), 0]
    sep = li.LocalInfluence(li.LogisticRegression().fit(Xs, ys), Xs, ys)
    assert np.isfinite(sep.dfbeta().to_numpy()).all()  # the one-step value exists
    with pytest.raises(InputError, match="rows: the refit without one observation of row 20"):
        sep.loo_params([20])


def test_outlier_test_flags_a_planted_mislabel():
    X, y = _frame(n=200, seed=4)
    far = int(np.argmax(X["age"] - X["dose"]))  # the most confidently class-1 row
    y = y.copy()
    y[far] = 0
    inf = li.LocalInfluence(li.LogisticRegression().fit(X, y), X, y)
    t = inf.outlier_test()
    assert t["unadj_p"].idxmin() == X.index[far]
    assert t.loc[X.index[far], "bonf(p)"] == min(1.0, 200 * t.loc[X.index[far], "unadj_p"])
    assert t.loc[X.index[far], "student_resid"] < 0  # y below the fitted probability
