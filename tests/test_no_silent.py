"""Issue 13: each wrong answer that used to pass silently, reproduced and now refused or right.

Every test here failed on the code before the fix (a silent wrong answer, a
traceback, or NaN/inf), so none of them can pass vacuously.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import localinf as li
from helpers import make_problem


@pytest.fixture(scope="module")
def frames():
    X, y = make_problem(3, 120, 4, 2)
    cols = ["age", "bmi", "dose", "score"]
    F = pd.DataFrame(X * [10.0, 1.0, 1e-3, 100.0], columns=cols)
    Xv, yv = make_problem(4, 50, 4, 2)
    V = pd.DataFrame(Xv * [10.0, 1.0, 1e-3, 100.0], columns=cols)
    model = li.LogisticRegression(l2=1e-3).fit(F, y)
    return F, y, V, yv, model, li.LocalInfluence(model, F, y)


# -- 1. columns aligned by name ------------------------------------------------
def test_reordered_validation_columns_are_aligned(frames):
    F, y, V, yv, model, inf = frames
    expected = inf.fi_util(V, yv)
    shuffled = V[["score", "dose", "age", "bmi"]]
    np.testing.assert_allclose(np.asarray(inf.fi_util(shuffled, yv)), np.asarray(expected), rtol=1e-12)
    np.testing.assert_allclose(model.predict_proba(shuffled), model.predict_proba(V), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(inf.fi_active(shuffled)), np.asarray(inf.fi_active(V)), rtol=1e-12)


def test_model_records_feature_names(frames):
    F, y, V, yv, model, inf = frames
    assert list(model.feature_names_in_) == list(F.columns)
    assert inf.feature_names_ == list(F.columns)


@pytest.mark.parametrize("change, match", [
    (lambda V: V.drop(columns="bmi"), "missing 'bmi'"),
    (lambda V: V.assign(extra=1.0), "not in the training data 'extra'"),
    (lambda V: V.rename(columns={"bmi": "BMI"}), "missing 'bmi'.*'BMI'"),
])
def test_mismatched_columns_are_refused(frames, change, match):
    F, y, V, yv, model, inf = frames
    with pytest.raises(li.InputError, match=match):
        inf.fi_util(change(V), yv)
    with pytest.raises(li.InputError, match=match):
        model.predict_proba(change(V))


def test_training_frame_reordered_against_model(frames):
    F, y, V, yv, model, inf = frames
    other = li.LocalInfluence(model, F[["dose", "score", "age", "bmi"]], y)
    np.testing.assert_allclose(np.asarray(other.fi_util(V, yv)), np.asarray(inf.fi_util(V, yv)), rtol=1e-12)


# -- 4. every argument validated ------------------------------------------------
@pytest.fixture(scope="module")
def small():
    X, y = make_problem(0, 80, 3, 2)
    model = li.LogisticRegression(l2=0.01).fit(X, y)
    return X, y, model, li.LocalInfluence(model, X, y)


@pytest.mark.parametrize("make, match", [
    (lambda X: X + 1e-3j, "complex"),
    (lambda X: np.ma.masked_array(X, mask=np.arange(X.size).reshape(X.shape) == 5), "masked"),
    (lambda X: X.astype(str), "real numbers"),
    (lambda X: X.astype(object), "real numbers"),
])
def test_matrix_types_refused(small, make, match):
    X, y, model, inf = small
    with pytest.raises(li.InputError, match=match):
        li.LogisticRegression().fit(make(X), y)
    with pytest.raises(li.InputError, match=match):
        inf.fi_util(make(X), y)


def test_unmasked_masked_array_accepted(small):
    X, y, model, inf = small
    np.testing.assert_allclose(model.predict_proba(np.ma.masked_array(X)), model.predict_proba(X))


@pytest.mark.parametrize("kw, match", [
    ({"fit_intercept": "no"}, "fit_intercept must be True or False"),
    ({"fit_intercept": 1}, "fit_intercept must be True or False"),
    ({"l2": True}, "l2 must be a finite number"),
    ({"l2": float("nan")}, "l2 must be a finite number"),
    ({"tol": float("nan")}, "tol must be a finite number"),
    ({"max_iter": True}, "max_iter must be a positive integer"),
    ({"max_iter": 2.5}, "max_iter must be a positive integer"),
])
def test_fit_keywords_refused(small, kw, match):
    X, y, _, _ = small
    with pytest.raises(li.InputError, match=match):
        li.LogisticRegression(**kw).fit(X, y)


def test_score_refuses_short_y(small):
    X, y, model, _ = small
    with pytest.raises(li.InputError, match="y has 1 entries"):
        model.score(X, y[:1])


@pytest.mark.parametrize("factor", [10 ** 6, 3 * 10 ** 8])
def test_huge_labels_are_labels_not_sizes(small, factor):
    # a label of 3e8 is a class name: nothing is allocated by its size
    X, y, model, _ = small
    m = li.LogisticRegression(l2=0.01).fit(X, y * factor)
    assert list(m.classes_) == [k * factor for k in range(model.n_classes_)]
    np.testing.assert_array_equal(m.theta_, model.theta_)
    with pytest.raises(li.InputError, match="y_val"):
        li.LocalInfluence(m, X, y * factor).fi_util(X[:3], np.full(3, 5))


def test_grad_rtol_nan_refused(small):
    X, y, model, _ = small
    with pytest.raises(li.InputError, match="grad_rtol"):
        li.LocalInfluence(model, X, y, grad_rtol=float("nan"))


def test_from_sklearn_rtol_nan_refused(small):
    from sklearn.linear_model import LogisticRegression as SkLR
    X, y, _, _ = small
    est = SkLR(C=1.0, max_iter=5).fit(X, y)  # far from converged
    with pytest.raises(li.InputError, match="rtol"):
        li.from_sklearn(est, X, y, rtol=float("nan"))


def test_fit_mlp_tol_nan_refused(small):
    X, y, _, _ = small
    with pytest.raises(li.InputError, match="tol"):
        li.fit_mlp(X, y, hidden=(3,), tol=float("nan"), maxiter=5)


def test_flag_top_zero_flags_nothing(small):
    X, y, model, inf = small
    Xv, yv = make_problem(9, 30, 3, 2)
    frame = inf.summary_frame(Xv, yv, flag_top=0)
    assert not frame.flagged.any()
    assert inf.summary_frame(Xv, yv, flag_top=3).flagged.sum() == 3
    for bad in (-0.1, 1.5, float("nan"), True, "5", 81):
        with pytest.raises(li.InputError, match="flag_top"):
            inf.summary_frame(Xv, yv, flag_top=bad)


def test_budgets_and_seeds_validated(small):
    X, y, _, _ = small
    fit = lambda A, b: li.LogisticRegression(l2=0.01).fit(A, b)
    with pytest.raises(li.InputError, match="budget"):
        li.trimming_curve(fit, X[:50], y[:50], X[50:65], y[50:65], X[65:], y[65:], [0, 1.5], ("fi",))
    with pytest.raises(li.InputError, match="seed"):
        li.trim(fit, X, y, X, y, 3, "random", seed=-1)


# -- 5. no inf or NaN leaves localinf ---------------------------------------------
def test_huge_query_rows_raise_numerical_error(small):
    X, y, model, inf = small
    Xq, yq = X[:5].copy(), y[:5].copy()
    Xq[2] *= 1e156
    yq[2] = 1 - model.predict(Xq)[2]  # misclassified: its loss gradient is ~1e156
    with pytest.raises(li.NumericalError, match=r"query row.*\(2\)"):
        inf.fi(Xq, yq)
    Xq[2] /= 1e10  # 1e146: FI ~1e293 is large but representable, and returned
    assert np.isfinite(inf.fi(Xq, yq)).all()


def test_cook_on_constant_column_is_finite_or_refused():
    X, y = make_problem(1, 80, 3, 2)
    X[:, 1] = 2.0
    model = li.LogisticRegression(l2=0.01).fit(X, y)
    inf = li.LocalInfluence(model, X, y)
    for kw in ({}, {"perturbation": "covariate", "covariate": 1}, {"perturbation": "response"}):
        try:
            values = np.asarray(inf.cook_local_influence(**kw))
        except li.LocalInfluenceError:
            continue
        assert np.isfinite(values).all(), kw


# -- 9. in-sample validation -------------------------------------------------------
def test_in_sample_validation_warns():
    X, y = make_problem(2, 80, 3, 2)
    model = li.LogisticRegression().fit(X, y)
    inf = li.LocalInfluence(model, X, y)
    with pytest.warns(li.InSampleWarning, match="round-off"):
        inf.fi_util(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inf.fi_util(X[:40] + 0.5, y[:40])  # held-out rows: no warning


# -- 7. refused before allocating ------------------------------------------------------
@pytest.fixture
def tight_budget():
    yield li.set_budget
    li.set_budget()  # back to the defaults


def test_large_fi_table_is_refused_with_the_estimate(small, tight_budget):
    X, y, model, inf = small
    tight_budget(memory="1M")
    Xq = np.repeat(X, 40, axis=0)  # 3200 query rows: an (80, 3200) table and (4, 3200) solves
    with pytest.raises(li.BudgetError, match=r"fi for 80 training x 3200 query rows needs about .*MiB"):
        inf.fi(Xq, np.repeat(y, 40))
    with pytest.raises(li.BudgetError, match="fewer query rows"):
        inf.influence(Xq, np.repeat(y, 40))
    tight_budget(memory="8M")
    assert inf.fi(Xq, np.repeat(y, 40)).shape == (80, 3200)


def test_budget_arguments_are_validated(tight_budget):
    for bad in ("lots", -1, float("nan"), "0"):
        with pytest.raises(li.InputError, match="memory"):
            tight_budget(memory=bad)
    assert tight_budget(memory="2G")["memory"] == 2 * 2 ** 30


def test_thousand_class_softmax_is_refused_before_fitting():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(2000, 10)), np.arange(2000) % 1000
    with pytest.raises(li.BudgetError, match=r"10989 parameters, 1000 classes\) needs about"):
        li.SoftmaxRegression(l2=1e-3).fit(X, y)


def test_exact_inverse_hessian_budget(small, tight_budget):
    X, y, model, _ = small
    tight_budget(flops=10)
    with pytest.raises(li.BudgetError, match=r"exact inverse Hessian \(4 x 4\)"):
        li.LocalInfluence(model, X, y)
