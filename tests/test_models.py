"""Fits against statsmodels and the documented conventions."""

import numpy as np
import statsmodels.api as sm
from hypothesis import given, strategies as st

import localinf as li
from helpers import make_problem


@given(st.integers(0, 10_000), st.integers(1, 5), st.booleans())
def test_logistic_matches_statsmodels_logit(seed, d, intercept):
    X, y = make_problem(seed, 150, d, 2)
    ours = li.LogisticRegression(fit_intercept=intercept).fit(X, y)
    Xd = sm.add_constant(X, prepend=False) if intercept else X
    ref = sm.Logit(y, Xd).fit(method="newton", tol=1e-14, maxiter=100, disp=0)
    theta = np.append(ours.coef_, ours.intercept_) if intercept else ours.coef_
    assert np.max(np.abs(theta - ref.params)) <= 1e-6 * max(1.0, np.max(np.abs(ref.params)))
    assert ours.converged_ and ours.grad_norm_ < 1e-12


@given(st.integers(0, 10_000), st.integers(1, 4), st.integers(3, 5))
def test_softmax_matches_statsmodels_mnlogit(seed, d, K):
    X, y = make_problem(seed, 60 * K, d, K)
    ours = li.SoftmaxRegression().fit(X, y)
    ref = sm.MNLogit(y, sm.add_constant(X, prepend=False)).fit(method="newton", tol=1e-14,
                                                              maxiter=100, disp=0)
    W = np.asarray(ref.params)  # (q, K-1), class 0 is the reference
    assert np.max(np.abs(ours.W_ - W)) <= 1e-6 * max(1.0, np.max(np.abs(W)))
    assert np.allclose(ours.predict_proba(X), ref.predict(sm.add_constant(X, prepend=False)), atol=1e-8)


def test_hessian_is_statsmodels_hessian_over_n():
    X, y = make_problem(1, 200, 3, 3)
    model = li.SoftmaxRegression().fit(X, y)
    inf = li.LocalInfluence(model, X, y)
    Xd = sm.add_constant(X, prepend=False)
    mn = sm.MNLogit(y, Xd)
    # statsmodels orders params column-major over (q, K-1): the same class-major flat layout
    H_sm = -mn.hessian(model.theta_.reshape(2, 4).T.ravel(order="F")) / len(y)
    assert np.allclose(inf.H_inv_.hessian, H_sm, rtol=1e-10, atol=1e-12)


def test_penalty_convention_by_first_order_condition():
    """R = mean NLL + l2 ||coef||^2 (intercept free): grad of mean NLL = -2 l2 coef, 0 for intercept."""
    X, y = make_problem(2, 120, 3, 2)
    l2 = 0.2
    model = li.LogisticRegression(l2=l2).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    g_nll = np.append(X, np.ones((len(y), 1)), axis=1).T @ (p - y) / len(y)
    assert np.allclose(g_nll[:3], -2 * l2 * model.coef_, atol=1e-13)
    assert abs(g_nll[3]) < 1e-13


def test_binary_softmax_equals_logistic():
    X, y = make_problem(3, 100, 2, 2)
    a = li.LogisticRegression(l2=0.1).fit(X, y)
    b = li.SoftmaxRegression(l2=0.1).fit(X, y)
    assert np.allclose(a.theta_, b.theta_, atol=1e-12)
    fa = li.LocalInfluence(a, X, y).fi_util(X, y)
    fb = li.LocalInfluence(b, X, y).fi_util(X, y)
    assert np.allclose(fa, fb, rtol=1e-10)


def test_cook_case_weight_matches_statsmodels_glm_influence():
    """Case-weight total local influence = Pearson residual^2 x leverage for a logistic GLM."""
    X, y = make_problem(4, 120, 3, 2)
    model = li.LogisticRegression().fit(X, y)
    inf = li.LocalInfluence(model, X, y)
    glm = sm.GLM(y, sm.add_constant(X, prepend=False), family=sm.families.Binomial()).fit(tol=1e-14)
    infl = glm.get_influence()
    want = glm.resid_pearson ** 2 * infl.hat_matrix_diag
    assert np.allclose(inf.cook_local_influence("case-weight", "total"), want, rtol=1e-8)
    # and self-influence is n times it at l2 = 0
    assert np.allclose(inf.self_influence(), len(y) * want, rtol=1e-8)


def test_attributes_and_predictions():
    X, y = make_problem(5, 90, 2, 3)
    m = li.SoftmaxRegression(l2=0.05).fit(X, y)
    assert m.fit(X, y) is m
    assert m.coef_.shape == (2, 2) and m.intercept_.shape == (2,) and m.theta_.shape == (6,)
    assert m.n_iter_ >= 1 and m.converged_
    P = m.predict_proba(X)
    assert P.shape == (90, 3) and np.allclose(P.sum(axis=1), 1)
    assert np.array_equal(m.predict(X), P.argmax(axis=1))
    assert np.allclose(m.loss(X, y), -np.log(P[np.arange(90), y]))
    assert 0.0 <= m.score(X, y) <= 1.0
