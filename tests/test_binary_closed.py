"""Logistic regression's FI_util, leverage and self-influence from per-row scalars
(localinf.backends.binary) against the general per-row route and the autograd backend."""

import numpy as np
import pytest

import localinf as li
from localinf._core.checks import first_nonfinite
from localinf.backends import binary
from localinf.measures.overlap import shared_rows
from localinf.measures.pinv import metric_eig, pinv_quadratic


def _problem(seed, n=120, d=4, intercept=True, weights=False, l2=1e-2, scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * scale + 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-(X - 0.5) @ rng.normal(size=d) * 1.5 / scale))).astype(int)
    w = rng.integers(1, 4, n).astype(float) if weights else None
    model = li.LogisticRegression(l2=l2, fit_intercept=intercept).fit(X, y, sample_weight=w)
    Xv = rng.standard_normal((25, d)) * scale + 0.5
    yv = rng.integers(0, 2, 25)
    return model, X, y, w, Xv, yv


def _general(bound, rows=slice(None)):
    """FI_util by the general route: the metric factor, its eigenpairs, the quadratic form."""
    inf = bound.influence
    R, F, g = bound._parts(rows)
    lam, U, inv = metric_eig(F, inf.rtol, inf.atol)
    return pinv_quadratic(U, inv, g)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("scaling", ["derived", "algorithm1"])
def test_fi_util_matches_general_route(seed, scaling):
    model, X, y, w, Xv, yv = _problem(seed, intercept=seed % 2 == 0, weights=seed % 3 == 0,
                                      scale=[1.0, 30.0, 0.02][seed % 3])
    inf = li.LocalInfluence(model, X, y, sample_weight=w, scaling=scaling)
    assert inf.backend_.rank_one_metric
    bound = inf.against(Xv, yv)
    fast, slow = bound._fi_util_rows(None), _general(bound)
    big = slow > 1e-6 * slow.max()  # relative agreement where the value is not round-off
    assert np.max(np.abs(fast - slow)) <= 1e-11 * slow.max()
    assert np.max(np.abs(fast[big] - slow[big]) / slow[big]) <= 1e-9
    rows = np.array([5, 0, 77, 5])
    np.testing.assert_allclose(np.asarray(inf.fi_util(Xv, yv, rows=rows)), fast[rows], rtol=1e-14)


def test_fi_util_matches_autograd_backend():
    model, X, y, w, Xv, yv = _problem(11, weights=True)
    ours = li.LocalInfluence(model, X, y, sample_weight=w).fi_util(Xv, yv)
    other = li.LocalInfluence(model, X, y, sample_weight=w, backend="autograd").fi_util(Xv, yv)
    np.testing.assert_allclose(ours, other, rtol=1e-8, atol=1e-12 * other.max())


def test_cancelling_rows_recomputed_from_vectors(monkeypatch):
    """Every row through the vector fallback gives the same numbers as the scalar route."""
    model, X, y, w, Xv, yv = _problem(3, n=40, d=3, l2=1e-3)
    inf = li.LocalInfluence(model, X, y, scaling="algorithm1")
    kernel, u = inf.backend_.rank_one(), inf.against(Xv, yv).u_
    V = kernel.columns(u)
    lam, proj = kernel.parts(X, y, V, u)
    monkeypatch.setattr(binary, "_CANCEL", np.inf)  # every row recomputed
    lam2, proj2 = kernel.parts(X, y, V, u)
    np.testing.assert_allclose(lam2, lam, rtol=1e-12)
    np.testing.assert_allclose(proj2, proj, rtol=1e-10, atol=1e-14 * np.abs(proj).max())


@pytest.mark.parametrize("rtol, atol", [(1.0, 0.0), (0.0, 1e300), (1e-10, 0.0)])
def test_cut_off_as_general_route(rtol, atol):
    model, X, y, w, Xv, yv = _problem(4)
    inf = li.LocalInfluence(model, X, y, rtol=rtol, atol=atol)
    bound = inf.against(Xv, yv)
    np.testing.assert_allclose(bound._fi_util_rows(None), _general(bound), rtol=1e-9, atol=0)


def test_leverage_and_self_influence_match_general_route():
    model, X, y, w, Xv, yv = _problem(5, weights=True)
    inf = li.LocalInfluence(model, X, y, sample_weight=w)
    lev, si = inf.leverage(), inf.self_influence()
    inf.backend_.rank_one_metric = False  # the general route, through the class gradients
    inf._cache.clear()
    np.testing.assert_allclose(lev, inf.leverage(), rtol=1e-11)
    np.testing.assert_allclose(si, inf.self_influence(), rtol=1e-11)


def test_leverage_is_statsmodels_hat_value():
    sm = pytest.importorskip("statsmodels.api")
    model, X, y, w, Xv, yv = _problem(6, l2=0.0)
    res = sm.GLM(y, sm.add_constant(X, prepend=False), family=sm.families.Binomial()).fit(tol=1e-14)
    hat = res.get_influence().hat_matrix_diag
    np.testing.assert_allclose(li.LocalInfluence(model, X, y).leverage(), hat, rtol=1e-7)


def test_confident_rows_keep_their_digits():
    """Where P(0|x) ~ 1e-10, s = P0 P1 and r are formed from the log-odds, to full
    relative precision (r = P1 - 1 would be round-off there)."""
    model, X, y, w, Xv, yv = _problem(8, n=200, d=2)
    X2 = np.vstack([X, [[40.0, 40.0]]])
    y2 = np.append(y, int(model.predict(np.array([[40.0, 40.0]]))[0] == model.classes_[1]))
    m2 = li.LogisticRegression(l2=1e-2).fit(X2, y2)
    inf = li.LocalInfluence(m2, X2, y2)
    kernel = inf.backend_.rank_one()
    s, r, t = kernel.hat_terms(X2[-1:], y2[-1:])
    eta = X2[-1] @ np.ravel(m2.coef_) + float(np.ravel(m2.intercept_)[0])
    exact = np.exp(-abs(eta)) / (1 + np.exp(-abs(eta))) ** 2  # p (1 - p), no cancellation
    assert abs(eta) > 15
    np.testing.assert_allclose(s, exact, rtol=1e-13)
    other = np.exp(-abs(eta)) / (1 + np.exp(-abs(eta)))  # the probability of the class not observed
    np.testing.assert_allclose(r, other if y2[-1] == 0 else -other, rtol=1e-13)


def test_shared_rows_matches_brute_force():
    rng = np.random.default_rng(9)
    Xt = rng.integers(-2, 3, (300, 3)).astype(float)
    yt = rng.integers(0, 2, 300)
    Xv = np.vstack([Xt[:5], rng.integers(-2, 3, (40, 3)).astype(float), [[-0.0, 0.0, 0.0]]])
    yv = np.concatenate([yt[:5], rng.integers(0, 2, 41)])
    brute = np.array([np.any(np.all(Xt == xv, axis=1) & (yt == c)) for xv, c in zip(Xv, yv)])
    assert brute[:5].all() and not brute.all()
    np.testing.assert_array_equal(shared_rows(Xt, yt, Xv, yv), brute)
    np.testing.assert_array_equal(shared_rows(Xt[:0], yt[:0], Xv, yv), np.zeros(len(Xv), bool))


def test_shared_rows_exact_under_hash_collisions(monkeypatch):
    from localinf.measures import overlap
    rng = np.random.default_rng(10)
    Xt = rng.integers(0, 3, (200, 2)).astype(float)
    yt = rng.integers(0, 2, 200)
    Xv, yv = rng.integers(0, 4, (60, 2)).astype(float), rng.integers(0, 2, 60)
    brute = np.array([np.any(np.all(Xt == xv, axis=1) & (yt == c)) for xv, c in zip(Xv, yv)])
    monkeypatch.setattr(overlap, "_hashes", lambda X, y: np.zeros(len(X), dtype=np.uint64))
    assert brute.any() and not brute.all()
    np.testing.assert_array_equal(shared_rows(Xt, yt, Xv, yv), brute)


def test_first_nonfinite_finds_the_first_and_ignores_overflowing_sums():
    A = np.ones((20000, 3))
    assert first_nonfinite(A) is None
    A[:, 0] = 1e308  # finite values whose block sums overflow
    assert first_nonfinite(A) is None
    A[15000, 2], A[17000, 1] = -np.inf, np.nan
    assert first_nonfinite(A) == (15000, 2)
    with pytest.raises(li.exceptions.InputError, match="row 15000, column 2"):
        li.LogisticRegression().fit(A, np.arange(20000) % 2)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_training_input_found_in_the_hessian_pass(bad, recwarn):
    model, X, y, w, Xv, yv = _problem(12)
    X = X.copy()
    X[77, 1] = bad
    with pytest.raises(li.exceptions.InputError, match=r"X contains NaN or inf \(first at row 77, column 1\)"):
        li.LocalInfluence(model, X, y)
    assert not [r for r in recwarn if issubclass(r.category, RuntimeWarning)]


@pytest.mark.parametrize("K", [2, 3])
def test_influence_object_pickles(K):
    import pickle
    rng = np.random.default_rng(13)
    X = rng.normal(size=(150, 3))
    y = rng.integers(0, K, 150)
    model = (li.LogisticRegression if K == 2 else li.SoftmaxRegression)(l2=1e-2).fit(X, y)
    inf = li.LocalInfluence(model, X, y)
    Xv, yv = rng.normal(size=(20, 3)), rng.integers(0, K, 20)
    again = pickle.loads(pickle.dumps(inf))
    np.testing.assert_array_equal(again.fi_util(Xv, yv), inf.fi_util(Xv, yv))


def test_tiny_feature_scale_quiet_and_as_general_route(recwarn):
    """Features ~1e-150: intermediate products overflow; those rows are recomputed from a_i."""
    rng = np.random.default_rng(14)
    X = rng.normal(size=(200, 3)) * 1e-150
    y = (X[:, 0] * 1e150 + rng.logistic(size=200) > 0).astype(int)
    model = li.LogisticRegression(l2=0.0, fit_intercept=False).fit(X, y)
    bound = li.LocalInfluence(model, X, y).against(X[:7] * 1.01, y[:7])
    fast, slow = bound._fi_util_rows(None), _general(bound)
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12 * slow.max())
    assert not [r for r in recwarn if issubclass(r.category, RuntimeWarning)]
