"""scikit-learn manners (clone, params, pipelines, cross-validation), labels of any type
through ``classes_``, and the interop paths: pipelines, unpenalised multinomial fits,
frequency weights, and clear refusals of what localinf does not model."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.base import clone, is_classifier
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression as SkLogistic
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import localinf as li
from helpers import make_problem

NAMES = np.array(["cat", "dog", "emu"])


def offset_problem(seed, n=600, d=4, K=3):
    """Features far from zero: a flat optimum, where scikit-learn's default stop (gradient
    1e-4) leaves the parameters 4e-3 (relative) from the optimum at seed 3."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + 3.0
    y = np.argmax((X - 3.0) @ rng.normal(size=(d, K)) + rng.gumbel(size=(n, K)), axis=1)
    return X, y


# -- scikit-learn manners ---------------------------------------------------------------

def test_clone_and_params_round_trip():
    model = li.SoftmaxRegression(l2=0.05, fit_intercept=False, tol=1e-9, max_iter=50, step_tol=1e-7)
    params = model.get_params()
    assert params == dict(l2=0.05, fit_intercept=False, tol=1e-9, max_iter=50, step_tol=1e-7)
    X, y = make_problem(0, 90, 2, 3)
    model.fit(X, y)
    copy = clone(model)
    assert copy.get_params() == params and not copy.is_fitted()
    assert not hasattr(copy, "classes_") and model.is_fitted()
    assert copy.set_params(l2=0.5, max_iter=20) is copy
    assert copy.get_params()["l2"] == 0.5 and copy.get_params()["max_iter"] == 20
    assert li.LogisticRegression(**li.LogisticRegression(l2=0.3).get_params()).l2 == 0.3
    with pytest.raises(ValueError):
        copy.set_params(bogus=1)
    assert is_classifier(model) and is_classifier(li.LogisticRegression())


def test_pipeline_after_standard_scaler_equals_the_scaled_fit():
    X, y = make_problem(1, 120, 3, 2, scale=30.0)
    pipe = make_pipeline(StandardScaler(), li.LogisticRegression(l2=0.01)).fit(X, y)
    direct = li.LogisticRegression(l2=0.01).fit(StandardScaler().fit_transform(X), y)
    np.testing.assert_array_equal(pipe.predict(X), direct.predict(StandardScaler().fit(X).transform(X)))
    np.testing.assert_allclose(pipe.predict_proba(X), direct.predict_proba(pipe[:-1].transform(X)),
                               rtol=1e-12)
    np.testing.assert_allclose(pipe[-1].theta_, direct.theta_, rtol=1e-12)
    assert pipe.score(X, y) == direct.score(pipe[:-1].transform(X), y)


def test_cross_val_score_equals_a_stratified_loop():
    X, y = make_problem(2, 150, 3, 3)
    labels = NAMES[y]
    for model in (li.SoftmaxRegression(l2=0.01), make_pipeline(StandardScaler(), li.SoftmaxRegression())):
        scores = cross_val_score(model, X, labels, cv=5)
        by_hand = [clone(model).fit(X[tr], labels[tr]).score(X[te], labels[te])
                   for tr, te in StratifiedKFold(5).split(X, labels)]
        np.testing.assert_array_equal(scores, by_hand)


# -- labels of any type ---------------------------------------------------------------

def test_string_labels_fit_predict_and_loss():
    X, y = make_problem(3, 150, 2, 3)
    ints = li.SoftmaxRegression().fit(X, y)
    named = li.SoftmaxRegression().fit(X, NAMES[y])
    assert list(named.classes_) == ["cat", "dog", "emu"] and list(ints.classes_) == [0, 1, 2]
    assert ints.classes_.dtype.kind == "i"
    np.testing.assert_array_equal(named.theta_, ints.theta_)
    assert named.predict(X).dtype.kind == "U"
    np.testing.assert_array_equal(named.predict(X), NAMES[ints.predict(X)])
    np.testing.assert_array_equal(named.predict_proba(X), ints.predict_proba(X))
    np.testing.assert_array_equal(named.loss(X, NAMES[y]), ints.loss(X, y))
    assert named.score(X, NAMES[y]) == ints.score(X, y)
    assert named.risk(X, list(NAMES[y])) == ints.risk(X, y)
    with pytest.raises(li.InputError, match=r"y has labels 'cow'"):
        named.loss(X[:2], ["cat", "cow"])
    # the labels sort as numpy sorts them, whatever their order of appearance
    scrambled = li.SoftmaxRegression().fit(X, np.array(["emu", "cat", "dog"])[y])
    assert list(scrambled.classes_) == ["cat", "dog", "emu"]


@pytest.mark.parametrize("labels", [np.array([3, 7]), np.array([False, True]), np.array(["no", "yes"]),
                                    np.array([-1.0, 1.0])])
def test_two_classes_of_any_type(labels):
    X, y = make_problem(4, 100, 2, 2)
    ints = li.LogisticRegression().fit(X, y)
    model = li.LogisticRegression().fit(X, labels[y])
    np.testing.assert_array_equal(model.classes_, labels)
    np.testing.assert_array_equal(model.theta_, ints.theta_)  # classes_[0] is the reference
    np.testing.assert_array_equal(model.predict(X), labels[ints.predict(X)])
    inf = li.LocalInfluence(model, X, labels[y])
    np.testing.assert_array_equal(inf.fi_util(X[:30], labels[y[:30]]),
                                  li.LocalInfluence(ints, X, y).fi_util(X[:30], y[:30]))


def test_logistic_needs_exactly_two_classes():
    X, y = make_problem(5, 90, 2, 3)
    with pytest.raises(li.InputError, match="3 classes .*exactly two"):
        li.LogisticRegression().fit(X, NAMES[y])
    with pytest.raises(li.InputError, match="fewer than 2 classes"):
        li.LogisticRegression().fit(X, np.full(90, "a"))
    with pytest.raises(li.InputError, match="non-integer"):
        li.LogisticRegression().fit(X, y + 0.5)
    with pytest.raises(li.InputError, match="missing labels"):
        li.SoftmaxRegression().fit(X, np.where(y == 1, None, NAMES[y]).astype(object))


def test_local_influence_with_string_labels_equals_the_coded_one():
    X, y = make_problem(6, 160, 3, 3)
    Xv, yv = make_problem(7, 40, 3, 3)
    coded = li.LocalInfluence(li.SoftmaxRegression(l2=0.01).fit(X, y), X, y)
    named = li.LocalInfluence(li.SoftmaxRegression(l2=0.01).fit(X, NAMES[y]), X, NAMES[y])
    np.testing.assert_allclose(named.fi_util(Xv, NAMES[yv]), coded.fi_util(Xv, yv), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(named.influence_value(Xv, NAMES[yv]), coded.influence_value(Xv, yv),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(named.fi(Xv[:5], NAMES[yv[:5]]), coded.fi(Xv[:5], yv[:5]), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_array_equal(named.y_, coded.y_)
    with pytest.raises(li.InputError, match=r"y_val has labels 'cow'.*not fitted on"):
        named.fi_util(Xv[:2], np.array(["cat", "cow"]))
    with pytest.raises(li.InputError, match="y has labels"):
        li.LocalInfluence(named.model, X, y)  # codes are not the model's labels


# -- from_sklearn ---------------------------------------------------------------------

def test_from_sklearn_pipeline_equals_the_transformed_data():
    X, y = make_problem(8, 150, 3, 2, scale=20.0)
    frame = pd.DataFrame(X, columns=["a", "b", "c"], index=[f"r{i}" for i in range(150)])
    labels = np.array(["neg", "pos"])[y]
    pipe = Pipeline([("scale", StandardScaler()), ("lr", SkLogistic(C=0.5))]).fit(frame, labels)
    inf = li.from_sklearn(pipe, frame, labels)
    Xt = pipe[:-1].transform(frame)
    direct = li.from_sklearn(pipe[-1], pd.DataFrame(Xt, columns=frame.columns, index=frame.index), labels)
    Xv = Xt[:40]
    np.testing.assert_allclose(inf.fi_util(Xv, labels[:40]), direct.fi_util(Xv, labels[:40]), rtol=1e-12)
    # the transformed columns have names of their own, so a raw frame is never read as
    # transformed (it was, silently, when they kept the raw names): it goes through the pipeline
    assert inf.feature_names_ == ["scale(a)", "scale(b)", "scale(c)"]
    assert list(inf.index_) == list(frame.index)
    raw = frame.iloc[:40]
    np.testing.assert_allclose(inf.fi_util(raw, labels[:40]), direct.fi_util(Xv, labels[:40]), rtol=1e-12)
    assert inf.summary_frame().columns[0] == "dfb_scale(a)"
    assert list(inf.model.classes_) == ["neg", "pos"]
    assert inf.model.l2_ == pytest.approx(1 / (2 * 0.5 * 150))
    # a step that does not keep the columns: no names
    pca = make_pipeline(PCA(2), SkLogistic()).fit(frame, labels)
    assert li.from_sklearn(pca, frame, labels).d_ == 2
    with pytest.raises(li.InputError, match="LogisticRegression"):
        li.from_sklearn(make_pipeline(StandardScaler(), PCA(2)).fit(frame), frame, labels)


def test_from_sklearn_accepts_unpenalised_multinomial_at_default_settings():
    X, y = offset_problem(3)
    labels = NAMES[y]
    with warnings.catch_warnings():
        warnings.simplefilter("error", category=UserWarning)  # ConvergenceWarning: it did converge
        fits = [SkLogistic(C=np.inf).fit(X, labels)]
        warnings.simplefilter("ignore", category=FutureWarning)  # penalty is deprecated in 1.8
        fits.append(SkLogistic(penalty=None).fit(X, labels))
    mine = li.SoftmaxRegression().fit(X, y)
    direct = li.LocalInfluence(mine, X, y)
    Xv, yv = X[:50] + 0.1, y[:50]
    for est in fits:
        W = est.coef_ - est.coef_[0]
        theirs = np.column_stack([W[1:], (est.intercept_ - est.intercept_[0])[1:]]).ravel()
        assert np.max(np.abs(theirs - mine.theta_)) / np.max(np.abs(theirs)) > 1e-3  # refused before
        inf = li.from_sklearn(est, X, labels)
        np.testing.assert_allclose(inf.model.theta_, mine.theta_, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(inf.influence_value(Xv, NAMES[yv]), direct.influence_value(Xv, yv),
                                   rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(inf.fi_util(Xv, NAMES[yv]), direct.fi_util(Xv, yv), rtol=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        early = SkLogistic(C=np.inf, max_iter=3).fit(X, labels)
    with pytest.raises(li.InputError, match="cannot reproduce.*ConvergenceWarning"):
        li.from_sklearn(early, X, labels)


def test_from_sklearn_sample_weight_is_frequency_weights():
    """scikit-learn's objective C sum_i s_i loss_i + ||w||^2 / 2 divided by C sum(s) is localinf's
    with l2 = 1 / (2 C sum(s)): with integer s, the fit of the rows repeated s_i times."""
    X, y = make_problem(9, 80, 2, 2)
    s = np.random.default_rng(9).integers(0, 4, 80)
    s[:2] = 1
    rep = np.repeat(np.arange(80), s)
    est = SkLogistic(C=0.2, tol=1e-12, max_iter=10_000).fit(X, y, sample_weight=s)
    inf = li.from_sklearn(est, X, y, sample_weight=s)
    assert inf.model.l2_ == pytest.approx(1 / (2 * 0.2 * s.sum()))
    np.testing.assert_allclose(inf.model.coef_, est.coef_.ravel(), rtol=1e-6)  # scikit-learn's optimum
    dup = li.from_sklearn(SkLogistic(C=0.2).fit(X[rep], y[rep]), X[rep], y[rep])
    np.testing.assert_allclose(inf.model.theta_, dup.model.theta_, rtol=1e-10, atol=1e-12)
    Xv, yv = make_problem(10, 30, 2, 2)
    first = np.searchsorted(rep, np.flatnonzero(s))  # the first copy of each kept row
    np.testing.assert_allclose(np.asarray(inf.fi_util(Xv, yv))[s > 0], np.asarray(dup.fi_util(Xv, yv))[first],
                               rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(np.asarray(inf.influence_value(Xv, yv))[s > 0],
                               np.asarray(dup.influence_value(Xv, yv))[first], rtol=1e-8, atol=1e-14)
    with pytest.raises(li.InputError, match="cannot reproduce"):  # the weights forgotten
        li.from_sklearn(est, X, y)


def test_from_sklearn_refusals():
    X, y = make_problem(11, 120, 2, 2)
    X3, y3 = make_problem(12, 120, 2, 3)
    with pytest.raises(li.InputError, match="class_weight"):
        li.from_sklearn(SkLogistic(class_weight="balanced").fit(X, y), X, y)
    with pytest.raises(li.InputError, match="only the L2 penalty"):
        li.from_sklearn(SkLogistic(l1_ratio=1.0, solver="saga").fit(X, y), X, y)
    with pytest.raises(li.InputError, match="symmetric"):
        li.from_sklearn(SkLogistic(C=1.0).fit(X3, y3), X3, y3)
    with pytest.raises(li.InputError, match="liblinear"):
        li.from_sklearn(SkLogistic(solver="liblinear").fit(X, y), X, y)
    with pytest.raises(li.InputError, match=r"y has labels 5"):
        li.from_sklearn(SkLogistic().fit(X, y), X, np.where(y == 1, 5, 0))
    with pytest.raises(li.InputError, match="lacks class"):
        li.from_sklearn(SkLogistic().fit(X, y), X, np.zeros(120, dtype=int))


# -- from_statsmodels -----------------------------------------------------------------

def test_statsmodels_freq_weights_equal_duplicated_rows():
    X, y = make_problem(13, 90, 2, 2)
    Xc = sm.add_constant(X)
    w = np.random.default_rng(13).integers(0, 4, 90).astype(float)
    w[:2] = 1
    rep = np.repeat(np.arange(90), w.astype(int))
    fam = sm.families.Binomial()
    weighted = li.from_statsmodels(sm.GLM(y, Xc, family=fam, freq_weights=w).fit(tol=1e-12))
    dup = li.from_statsmodels(sm.GLM(y[rep], Xc[rep], family=fam).fit(tol=1e-12))
    np.testing.assert_allclose(weighted.model.theta_, dup.model.theta_, rtol=1e-10)
    Xv, yv = make_problem(14, 30, 2, 2)
    first = np.searchsorted(rep, np.flatnonzero(w))
    np.testing.assert_allclose(np.asarray(weighted.fi_util(Xv, yv))[w > 0],
                               np.asarray(dup.fi_util(Xv, yv))[first], rtol=1e-8, atol=1e-14)
    with pytest.raises(li.InputError, match="sample_weight"):
        li.from_statsmodels(sm.GLM(y, Xc, family=fam, freq_weights=w).fit(), sample_weight=w)


@pytest.mark.parametrize("make, match", [
    (lambda y, Xc: sm.GLM(y, Xc, family=sm.families.Binomial(link=sm.families.links.Probit())),
     r"Probit link is not supported.*supported: statsmodels Logit"),
    (lambda y, Xc: sm.GLM(y, Xc, family=sm.families.Binomial(link=sm.families.links.CLogLog())),
     r"CLogLog link is not supported.*logit link"),
    (lambda y, Xc: sm.Probit(y, Xc), r"Probit models are not supported.*supported: "),
    (lambda y, Xc: sm.GLM(y, Xc, family=sm.families.Poisson()),
     r"family Poisson is not supported.*binomial GLMs with the logit link"),
    (lambda y, Xc: sm.GLM(y, Xc, family=sm.families.Binomial(), offset=np.full(len(y), 0.3)),
     r"offset are not supported.*supported: "),
    (lambda y, Xc: sm.Logit(y, Xc, offset=np.full(len(y), 0.3)), r"offset are not supported"),
    (lambda y, Xc: sm.GLM(y, Xc, family=sm.families.Binomial(), var_weights=np.full(len(y), 2.0)),
     r"var_weights.*freq_weights.*are supported"),
    (lambda y, Xc: sm.GLM(np.c_[3 * y, 3 * (1 - y)], Xc, family=sm.families.Binomial()), r"n_trials"),
])
def test_statsmodels_refusals_say_what_is_supported(make, match):
    X, y = make_problem(15, 80, 2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make(y, sm.add_constant(X))
        result = model.fit(disp=0) if isinstance(model, (sm.Probit, sm.Logit)) else model.fit()
    with pytest.raises(li.InputError, match=match) as info:
        li.from_statsmodels(result)
    assert "convergence" not in str(info.value)


def test_a_pipeline_with_unnamed_output_still_sends_raw_frames_through_it():
    # a ColumnTransformer returns an unnamed array; a raw frame was then refused with advice
    # (pass .to_numpy()) that read raw values as transformed ones, silently
    from sklearn.compose import make_column_transformer
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"age": rng.normal(40, 10, 100), "inc": rng.normal(5, 2, 100)})
    y = (0.1 * (frame.age - 40) + rng.logistic(size=100) > 0).astype(int)
    pipe = make_pipeline(make_column_transformer((StandardScaler(), ["age", "inc"])),
                         SkLogistic(C=1e6, tol=1e-10, max_iter=10000)).fit(frame, y)
    inf = li.from_sklearn(pipe, frame, y)
    Xv = frame.iloc[:10] + 1.0
    np.testing.assert_allclose(inf.fi_util(Xv, y[:10]), inf.fi_util(pipe[:-1].transform(Xv), y[:10]),
                               rtol=1e-12)
    assert inf.param_names_[0] == "columntransformer(standardscaler__age)"
