"""Issue 13, second round: the cases the contract suite found, each reproduced first.

Each test failed on 576b688 (a silent wrong answer, a raw numpy/scipy
exception, NaN/inf, or a hang), except the controls kept next to them: J = I and
J = 1e-120 I, the CG and LiSSA solves, the Kronecker-sum check of the rewritten
softmax Hessian kernel, and three keyword values (alpha=0,
an array strategy, an array perturbation) that were already refused. The
expected values come from an independent computation (the same call with the
columns in the training order, Theorem 1's exact invariance for a scalar J, an
explicit solve) and never from the code's own output under test.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import localinf as li
from helpers import make_problem

COLS = ["age", "bmi", "dose", "score"]
UNITS = [10.0, 1.0, 1e-3, 100.0]


def _fit(A, b):
    return li.LogisticRegression(l2=1e-2).fit(A, b)


@pytest.fixture(scope="module")
def frames():
    X, y = make_problem(3, 80, 4, 2)
    Xv, yv = make_problem(4, 30, 4, 2)
    Xt, yt = make_problem(5, 30, 4, 2)
    F, V, T = (pd.DataFrame(A * UNITS, columns=COLS) for A in (X, Xv, Xt))
    return F, pd.Series(y), V, pd.Series(yv), T, pd.Series(yt)


SHUFFLED = ["score", "dose", "age", "bmi"]


# -- selection loops: held-out frames aligned to the training columns by name ----------------
def test_trim_aligns_validation_columns(frames):
    F, y, V, yv, T, yt = frames
    _, removed = li.trim(_fit, F, y, V, yv, 6)
    _, removed_shuffled = li.trim(_fit, F, y, V[SHUFFLED], yv, 6)
    np.testing.assert_array_equal(removed_shuffled, removed)
    with pytest.raises(li.InputError, match="missing 'bmi'"):
        li.trim(_fit, F, y, V.drop(columns="bmi"), yv, 6)


def test_trimming_curve_aligns_validation_and_test_columns(frames):
    F, y, V, yv, T, yt = frames
    kw = dict(budgets=[0, 4], methods=("fi",))
    a = li.trimming_curve(_fit, F, y, V, yv, T, yt, **kw)
    b = li.trimming_curve(_fit, F, y, V[SHUFFLED], yv, T[SHUFFLED], yt, **kw)
    np.testing.assert_array_equal(b["accuracy"], a["accuracy"])


@pytest.mark.parametrize("what", ["too_short", "two_columns"])
def test_trimming_curve_checks_y_test(frames, what):
    F, y, V, yv, T, yt = frames
    bad = yt[:-1] if what == "too_short" else np.c_[yt, yt]
    with pytest.raises(li.InputError, match="y_test"):
        li.trimming_curve(_fit, F, y, V, yv, T, bad, budgets=[0])


def test_active_learning_aligns_pool_and_test_columns(frames):
    F, y, V, yv, T, yt = frames
    kw = dict(strategy="fi_active", rounds=2, acquisition_size=3)
    a = li.active_learning(_fit, F[:30], y[:30], F[30:], y[30:], T, yt, **kw)
    b = li.active_learning(_fit, F[:30], y[:30], F[30:][SHUFFLED], y[30:], T[SHUFFLED], yt, **kw)
    np.testing.assert_array_equal(b["accuracy"], a["accuracy"])
    with pytest.raises(li.InputError, match="X_test"):
        li.active_learning(_fit, F[:30], y[:30], F[30:], y[30:], T.drop(columns="age"), yt, **kw)


@pytest.mark.parametrize("kw, name", [(dict(seed=-1), "seed"), (dict(seed=1.5), "seed"),
                                      (dict(seed=2**32), "seed"), (dict(alpha="0.5"), "alpha"),
                                      (dict(alpha=0.0), "alpha"), (dict(checkpoint=""), "checkpoint"),
                                      (dict(restart=np.array([True, False])), "restart"),
                                      (dict(strategy=np.array(["iv"])), "strategy")])
def test_active_learning_checks_its_keywords(frames, kw, name):
    F, y, V, yv, T, yt = frames
    with pytest.raises(li.InputError, match=name):
        li.active_learning(_fit, F[:30], y[:30], F[30:], y[30:], T, yt, rounds=1, acquisition_size=2,
                           **kw)


def test_bald_refuses_a_draw_count_beyond_the_budget(frames):
    F, y, V, yv, T, yt = frames
    model = _fit(F, y)
    with pytest.raises(li.BudgetError, match="n_samples"):
        li.acquisition_scores("bald", model, F, y, T, n_samples=10**30)


# -- numbers: huge Python ints, arrays for strings, seeds -----------------------------------
@pytest.mark.parametrize("make", [
    lambda: li.LogisticRegression(l2=10**400).fit(*make_problem(0, 30, 2, 2)),
    lambda: li.LocalInfluence(li.LogisticRegression(l2=1.0).fit(*make_problem(0, 30, 2, 2)),
                              *make_problem(0, 30, 2, 2), grad_rtol=10**400)])
def test_python_ints_beyond_the_float_range_are_refused(make):
    with pytest.raises(li.InputError):
        make()


def test_python_int_above_2_64_is_a_number():
    # 10**30 is finite, a penalty like 1e30 (np.isfinite used to raise TypeError on it)
    X, y = make_problem(0, 30, 2, 2)
    a = li.LogisticRegression(l2=10**30).fit(X, y)
    b = li.LogisticRegression(l2=1e30).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


@pytest.mark.parametrize("call", [
    lambda inf: inf.fi_active(inf.X_, agg=np.array(["mean"])),
    lambda inf: inf.cook_local_influence(perturbation=np.array(["case_weight"])),
])
def test_arrays_for_string_keywords_are_refused(call):
    X, y = make_problem(0, 40, 3, 2)
    inf = li.LocalInfluence(li.LogisticRegression(l2=0.1).fit(X, y), X, y)
    with pytest.raises(li.InputError):
        call(inf)


def test_seed_beyond_scikit_learn_range_is_refused():
    X, y = make_problem(0, 40, 3, 2)
    inf = li.LocalInfluence(li.LogisticRegression(l2=0.1).fit(X, y), X, y)
    with pytest.raises(li.InputError, match=r"2\*\*32 - 1"):
        li.approximate_fi_util(inf.model, X, y, X[:10], y[:10], seed=2**40)


# -- check_invariance: any finite invertible J, columns by name ------------------------------
@pytest.mark.parametrize("scale", [1e-200, 1e-120, 1.0, 1e160, 1e200])
def test_scalar_reparameterisation_leaves_fi_unchanged_at_any_scale(scale):
    # Theorem 1 holds exactly for J = c I, whatever c (the factor cancels); before, c = 1e160
    # overflowed J^T G J (LinAlgError) and c = 1e-200 underflowed it to 0 ("NOT invariant").
    X, y = make_problem(1, 40, 3, 2)
    inf = li.LocalInfluence(li.LogisticRegression(l2=0.1).fit(X, y), X, y)
    res = li.check_invariance(inf, scale * np.eye(3), X[:5], y[:5])
    np.testing.assert_allclose(res.fi_reparam, res.fi, rtol=1e-10, atol=0)
    assert res.max_rel_diff < 1e-10


def test_check_invariance_aligns_query_columns(frames):
    F, y, V, yv, T, yt = frames
    inf = li.LocalInfluence(_fit(F, y), F, y)
    J = np.diag([1.0, 2.0, 3.0, 4.0])
    a = li.check_invariance(inf, J, V[:5], yv[:5])
    b = li.check_invariance(inf, J, V[:5][SHUFFLED], yv[:5])
    np.testing.assert_array_equal(b.fi, a.fi)
    np.testing.assert_array_equal(b.fi_reparam, a.fi_reparam)


def test_check_invariance_names_overflowing_rows():
    X, y = make_problem(1, 40, 3, 2)
    inf = li.LocalInfluence(li.LogisticRegression(l2=0.1).fit(X, y), X, y)
    with pytest.raises(li.NumericalError):
        li.check_invariance(inf, np.eye(3), X[:3] * 1e200, y[:3])


def test_fi_pairs_refuses_overflow():
    X, y = make_problem(1, 12, 2, 2)
    inf = li.LocalInfluence(li.LogisticRegression(l2=0.1).fit(X, y), X, y)
    with pytest.raises(li.NumericalError, match="pair"):
        li.fi_pairs(inf, X[:3] * 1e300, y[:3])


# -- curvature operators ---------------------------------------------------------------------
H0 = np.array([[2.0, 0.3, 0.1], [0.3, 1.5, 0.2], [0.1, 0.2, 1.0]])


@pytest.mark.parametrize("make", [li.InverseHessian, li.DampedInverse])
def test_dense_operators_check_H(make):
    for bad in (H0[:2], H0[0], np.where(np.eye(3) > 0, np.nan, H0), np.zeros((0, 0)), H0 + 1j):
        with pytest.raises(li.InputError):
            make(bad)
    with pytest.raises(li.InputError, match="not symmetric"):
        make(H0 + np.triu(np.ones((3, 3)), 1))  # used to be symmetrised silently
    np.testing.assert_allclose(make(H0).matmat(np.eye(3)), np.linalg.inv(H0), rtol=1e-12)


def test_cg_on_a_zero_hessian_is_an_error_not_nan():
    op = li.CGInverse(lambda v: 0.0 * v, 3, maxiter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(li.LocalInfluenceError):
            op.matvec(np.ones(3))


@pytest.mark.parametrize("kw, err", [(dict(depth=1e300), li.InputError),
                                     (dict(depth=10**30), li.BudgetError),
                                     (dict(scale=0.0), li.InputError),
                                     (dict(damping=float("nan")), li.InputError),
                                     (dict(seed=-1), li.InputError)])
def test_lissa_checks_its_options(kw, err):
    # depth=1e300 used to run ~1e300 Hessian-vector products (a hang)
    with pytest.raises(err):
        li.LissaInverse(lambda v: H0 @ v, 3, **kw)


def test_lissa_on_a_zero_hessian_needs_a_scale():
    with pytest.raises(li.SingularHessianError, match="scale"):
        li.LissaInverse(lambda v: 0.0 * v, 3)


def test_lissa_and_cg_still_solve():
    b = np.array([1.0, -2.0, 0.5])
    exact = np.linalg.solve(H0, b)
    np.testing.assert_allclose(li.CGInverse(lambda v: H0 @ v, 3, tol=1e-13).matvec(b), exact, rtol=1e-10)
    np.testing.assert_allclose(li.LissaInverse(lambda v: H0 @ v, 3, depth=400).matvec(b), exact,
                               rtol=1e-10)


def test_hvp_of_the_wrong_shape_is_named():
    with pytest.raises(li.InputError, match=r"shape \(3,\)"):
        li.CGInverse(lambda v: np.ones(4), 3).matvec(np.ones(3))


# -- fit_mlp ---------------------------------------------------------------------------------
def test_diverging_adam_is_an_error_not_nan_parameters():
    X, y = make_problem(0, 30, 2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(li.NumericalError, match="learning_rate"):
            li.fit_mlp(X, y, hidden=(3,), method="adam", learning_rate=1e300, finish=False, epochs=2)


# -- fitted settings, statsmodels counts, plots ----------------------------------------------
def test_settings_changed_after_fit_do_not_change_the_fitted_model():
    # predict used to read fit_intercept live: toggling it after fit crashed predict_proba
    X, y = make_problem(0, 40, 3, 2)
    model = li.LogisticRegression(l2=0.1).fit(X, y)
    p, risk = model.predict_proba(X), model.risk(X, y)
    inf = li.LocalInfluence(model, X, y).fi_util(X[:5], y[:5])
    model.fit_intercept, model.l2 = False, 5.0
    np.testing.assert_array_equal(model.predict_proba(X), p)
    assert model.risk(X, y) == risk
    np.testing.assert_array_equal(li.LocalInfluence(model, X, y).fi_util(X[:5], y[:5]), inf)
    refit = model.fit(X, y)
    assert refit.fit_intercept_ is False and refit.l2_ == 5.0 and refit.theta_.size == 3


def test_from_statsmodels_refuses_binomial_counts_and_weights():
    sm = pytest.importorskip("statsmodels.api")
    X, y = make_problem(0, 40, 2, 2)
    Xc = sm.add_constant(X)
    counts = sm.GLM(np.c_[3 * y, 3 * (1 - y)], Xc, family=sm.families.Binomial()).fit()
    weighted = sm.GLM(y, Xc, family=sm.families.Binomial(), var_weights=np.full(40, 2.0)).fit()
    for result, name in ((counts, "n_trials"), (weighted, "var_weights")):
        with pytest.raises(li.InputError, match=name):
            li.from_statsmodels(result)


def test_plot_trimming_curve_refuses_an_empty_table():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    empty = pd.DataFrame(columns=["method", "budget", "seed", "accuracy", "seconds", "error"])
    with pytest.raises(li.InputError, match="nothing to plot"):
        li.plot_trimming_curve(empty)
    with pytest.raises(li.InputError, match="budget"):
        li.plot_trimming_curve(pd.DataFrame({"a": [1.0]}))


# -- second sweep: the catalogue's remaining tracebacks, NaN and accepted bad values ---------
@pytest.fixture(scope="module")
def small():
    X, y = make_problem(0, 40, 3, 2)
    model = li.LogisticRegression(l2=0.1).fit(X, y)
    return X, y, model, li.LocalInfluence(model, X, y)


@pytest.mark.parametrize("call", [
    lambda X, y, m, inf: inf.fi_active(X[:3], agg="quantile", q=True),
    lambda X, y, m, inf: inf.cook_local_influence(perturbation="covariate", covariate=True),
    lambda X, y, m, inf: inf.summary_frame(X[:5], y[:5], index=range(5)),
    lambda X, y, m, inf: li.tmc_shapley(_fit, X, y, X[:5], y[:5], truncation=float("nan")),
    lambda X, y, m, inf: li.tmc_shapley(_fit, X, y, X[:5], y[:5], truncation=None),
    lambda X, y, m, inf: li.tmc_shapley(_fit, X, y, X[:5], y[:1]),
    lambda X, y, m, inf: li.select(np.r_[np.nan, np.ones(5)], 2),
    lambda X, y, m, inf: li.select(np.ones((3, 2)), 2),
    lambda X, y, m, inf: li.select(np.array(["a", "b"]), 1),
    lambda X, y, m, inf: li.trimming_curve(_fit, X, y, X, y, X, y, budgets=[1], methods=("fi",),
                                           scores={"fi": np.ones(3)}),
    lambda X, y, m, inf: li.active_learning(lambda A, b: None, X[:20], y[:20], X[20:], y[20:], X, y,
                                            rounds=1, acquisition_size=1),
    lambda X, y, m, inf: li.check_invariance(inf, np.eye(3) + 1j, X[:3], y[:3]),
    lambda X, y, m, inf: li.check_invariance(inf, lambda v: np.array([float(v[0]), 1.0, 2.0]),
                                             X[:3], y[:3]),
    lambda X, y, m, inf: inf.H_inv_.matvec(np.ones(2)),
    lambda X, y, m, inf: li.init_mlp((2, -1)),
    lambda X, y, m, inf: li.init_mlp("21"),
    lambda X, y, m, inf: li.fit_mlp(X, y, hidden=(2,), init=[(np.ones((2, 2)), np.zeros(2))] * 2),
    lambda X, y, m, inf: li.fit_mlp(X, y, hidden=(2,), method="adam", learning_rate=0.0),
    lambda X, y, m, inf: li.AutogradModel(li.glm_logits(3, 2), np.ones(4) + 1j, 2),
    lambda X, y, m, inf: li.AutogradModel(li.glm_logits(3, 2), np.array(["a"] * 4), 2),
    lambda X, y, m, inf: li.AutogradModel(li.glm_logits(3, 2), np.ones(4), 2, penalty_mask=-np.ones(4)),
    lambda X, y, m, inf: li.AutogradModel(li.glm_logits(3, 2), np.ones(4), 2).predict_proba(X[:, :2]),
])
def test_bad_values_are_refused_with_a_localinf_error(small, call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(li.LocalInfluenceError):
            call(*small)


def test_parameters_set_by_hand_are_checked(small):
    X, y, model, inf = small
    for theta in (np.ones(3), np.full(4, np.nan)):
        bad = li.LogisticRegression(l2=0.1).fit(X, y)
        bad.theta_ = theta
        with pytest.raises(li.InputError, match="theta_"):
            bad.predict_proba(X)
        with pytest.raises(li.InputError, match="theta_"):
            li.LocalInfluence(bad, X, y)


def test_fi_pairs_warns_on_in_sample_validation():
    X, y = make_problem(0, 12, 2, 2)
    inf = li.LocalInfluence(li.LogisticRegression(l2=0.1).fit(X, y), X, y)
    with pytest.warns(li.InSampleWarning):
        li.fi_pairs(inf, X, y)


def test_plots_refuse_frames_they_cannot_draw(small):
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    X, y, model, inf = small
    frame = inf.summary_frame(X[:10] + 0.5, y[:10])
    for bad in (None, frame.to_numpy(), frame.drop(columns="fi_util")):
        with pytest.raises(li.InputError):
            li.plot_index(bad)
    with pytest.raises(li.InputError, match="leverage"):
        li.plot_fi_leverage(frame.drop(columns="hat_diag"))
    with pytest.raises(li.InputError, match="removed"):
        li.plot_2d(_fit, X[:, :2], y, [10**6])


def test_many_classes_keep_the_row_blocks_bounded():
    # 1000 classes used to take 256-row chunks of (K-1, K-1) covariances: 1.9 GiB at once
    from localinf.models.glm_risk import default_chunk
    for p, K in ((4, 2), (3 * 999, 1000), (11 * 4999, 5000)):
        rows = default_chunk(p, K)
        assert rows >= 1 and rows * 8 * p * (K - 1) <= 64 * 2**22 + 8 * p * (K - 1)


def test_cli_prints_one_line_for_overflowing_features(tmp_path):
    # run as a user runs it (a fresh process, default warning filters): numpy's overflow
    # warnings used to print before the one error line
    import subprocess
    import sys
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 60))
    frame = pd.DataFrame({"a": a * 1e155, "b": b * 1e155, "y": (a + rng.normal(size=60) > 0).astype(int)})
    frame.to_csv(tmp_path / "d.csv", index=False)
    argv = ["diagnose", str(tmp_path / "d.csv"), "--target", "y", "--out", str(tmp_path / "o"), "--quiet"]
    run = subprocess.run([sys.executable, "-c", "import sys; from localinf.cli import main; "
                          f"sys.exit(main({argv!r}))"], capture_output=True, text=True, timeout=300)
    err = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(err) == 1 and err[0].startswith("localinf: error:"), err


def test_cg_refuses_a_hessian_that_is_not_positive_definite():
    # -H0 used to be solved without a word: influence needs a strict minimum
    with pytest.raises(li.SingularHessianError, match="non-positive curvature"):
        li.CGInverse(lambda v: -H0 @ v, 3).matvec(np.ones(3))
    indefinite = np.diag([1.0, -0.5, 2.0])
    with pytest.raises(li.SingularHessianError):
        li.CGInverse(lambda v: indefinite @ v, 3).matvec(np.ones(3))
    damped = li.CGInverse(lambda v: indefinite @ v, 3, damping=1.0, tol=1e-13).matvec(np.ones(3))
    np.testing.assert_allclose(damped, np.linalg.solve(indefinite + np.eye(3), np.ones(3)), rtol=1e-10)


@pytest.mark.parametrize("m, q, k1", [(40, 4, 1), (30, 5, 3), (12, 3, 60)])
def test_softmax_hessian_blocks_match_the_kronecker_sum(m, q, k1):
    # H = sum_i S_i kron xt_i xt_i^T, written out with einsum (independent of the block loop)
    from localinf.models.multinomial import hessian_sum
    rng = np.random.default_rng(m)
    Xt = rng.normal(size=(m, q))
    A = rng.normal(size=(m, k1, k1))
    S = A @ np.swapaxes(A, 1, 2)
    expected = np.einsum("ikl,ia,ib->kalb", S, Xt, Xt).reshape(k1 * q, k1 * q)
    np.testing.assert_allclose(hessian_sum(Xt, S), expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


def test_a_named_frame_for_a_model_fitted_on_an_array_is_refused(frames):
    # the model cannot know which column is which: its columns used to be read by position
    F, y, V, yv, T, yt = frames
    model = _fit(F.to_numpy(), y.to_numpy())
    inf = li.LocalInfluence(model, F.to_numpy(), y.to_numpy())
    for call in (lambda: model.predict_proba(V[SHUFFLED]), lambda: inf.fi_util(V[SHUFFLED], yv),
                 lambda: inf.fi_active(V[SHUFFLED]),
                 lambda: li.trim(_fit, F.to_numpy(), y, V[SHUFFLED], yv, 3)):
        with pytest.raises(li.InputError, match="cannot be matched by name"):
            call()
    # pandas' default labels 0..d-1 name nothing and are taken by position, like an array
    np.testing.assert_array_equal(model.predict_proba(pd.DataFrame(V.to_numpy())),
                                  model.predict_proba(V.to_numpy()))
    # a training frame names the columns of an array-fitted model: later frames align to it
    named = li.LocalInfluence(model, F, y)
    np.testing.assert_allclose(np.asarray(named.fi_util(V[SHUFFLED], yv)),
                               np.asarray(named.fi_util(V, yv)), rtol=1e-12)
