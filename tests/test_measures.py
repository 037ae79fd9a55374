"""Closed forms against per-sample autograd brute force (rel. error <= 1e-8).

Relative error of an array is ``max|a - b| / max|b|``: the closed form and the
brute force differ only by floating-point round-off through a solve with H
(condition number kappa <= ~1e4 on these problems) and a pseudo-inverse of
G_i, so 1e-8 leaves four orders of magnitude over ~kappa * eps.
"""

import numpy as np
import pytest
from hypothesis import assume, given

import localinf as li
from bruteforce import BruteForce
from helpers import make_problem, problems

TOL = 1e-8


def rel_err(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def fit(X, y, K, l2, fit_intercept):
    cls = li.LogisticRegression if K == 2 else li.SoftmaxRegression
    try:
        return cls(l2=l2, fit_intercept=fit_intercept).fit(X, y)
    except li.PerfectSeparationError:
        assume(False)


def setup(problem):
    X, y, K, l2, fit_intercept = problem
    model = fit(X, y, K, l2, fit_intercept)
    inf = li.LocalInfluence(model, X, y)
    assume(inf.H_inv_.condition_number < 1e6)
    bf = BruteForce(X, y, K, l2, fit_intercept, model.theta_)
    return X, y, K, model, inf, bf


@given(problems())
def test_hessian_and_ingredients_match_autograd(problem):
    X, y, K, model, inf, bf = setup(problem)
    assert rel_err(inf.H_inv_.hessian, bf.H) <= TOL
    for i in resolvable_rows(inf, [0, len(y) // 2, len(y) - 1]):
        assert rel_err(inf.mixed_partial(i), bf.M(i)) <= TOL
        assert rel_err(inf.dtheta_domega(i), bf.D(i)) <= TOL
        assert rel_err(inf.metric(i), bf.metric(i)) <= TOL
        gL = bf.grad_theta(X[1], y[1])
        assert rel_err(inf.gradient(i, X[1:2], y[1:2])[0], bf.g(i, gL)) <= TOL


def resolvable_rows(inf, rows):
    """Rows whose M_i is not at round-off scale.

    Both computations form ``p - y`` for the observed class, which cancels when
    the model fits the row almost perfectly: the error is ~eps times the size of
    the cancelling terms (up to the largest M_j), so a row whose M_i is below
    1e-4 of that scale carries relative round-off up to eps * 1e4 ~ 2e-12 only
    when kept above it. Rows below are skipped; every example keeps one row.
    """
    scale = max(np.max(np.abs(inf.mixed_partial(i))) for i in range(inf.n_))
    keep = [i for i in rows if np.max(np.abs(inf.mixed_partial(i))) > 1e-4 * scale]
    assume(keep)
    return keep


def _well_conditioned(inf, bf, rows):
    """Pairs whose kept metric eigenvalues are not within 1e-6 of the cut-off.

    FI = sum_j (u_j . g)^2 / lambda_j: an eigenvalue of relative size 1e-12..1e-6
    amplifies round-off by 1/lambda, so there the 1e-8 bound cannot be derived.
    """
    ok = []
    for i in rows:
        lam = np.linalg.eigvalsh(bf.metric(i))
        kept = lam[lam > 1e-10 * lam[-1]]
        ok.append(kept.min() > 1e-6 * lam[-1])
    return np.array(ok)


@given(problems())
def test_fi_util_matches_autograd(problem):
    X, y, K, model, inf, bf = setup(problem)
    Xv, yv = X[::3], y[::3]
    mine, ref = inf.fi_util(Xv, yv), bf.fi_util(Xv, yv)
    ok = _well_conditioned(inf, bf, range(len(y)))
    assert rel_err(mine[ok], ref[ok]) <= TOL


@given(problems(max_n=25))
def test_fi_pairs_match_autograd(problem):
    X, y, K, model, inf, bf = setup(problem)
    Xq, yq = X[:4], (y[:4] + 1) % K
    mine, ref = inf.fi(Xq, yq), bf.fi_pairs(Xq, yq)
    ok = _well_conditioned(inf, bf, range(len(y)))
    assert mine.shape == (len(y), 4)
    assert rel_err(mine[ok], ref[ok]) <= TOL


@given(problems())
def test_baselines_match_autograd(problem):
    X, y, K, model, inf, bf = setup(problem)
    Xv, yv = X[1::2], y[1::2]
    assert rel_err(inf.influence_value(Xv, yv), bf.influence_value(Xv, yv)) <= TOL
    assert rel_err(inf.influence(X[:3], y[:3]), bf.influence(X[:3], y[:3])) <= TOL
    assert rel_err(inf.self_influence(), bf.self_influence()) <= TOL


@pytest.mark.parametrize("K,scheme", [(2, "case-weight"), (2, "response"), (2, "covariate"),
                                      (3, "case-weight"), (3, "covariate")])
def test_cook_local_influence_matches_autograd(K, scheme):
    X, y = make_problem(3, 30, 3, K)
    model = fit(X, y, K, 0.05, True)
    inf = li.LocalInfluence(model, X, y)
    bf = BruteForce(X, y, K, 0.05, True, model.theta_)
    B = bf.cook_B(scheme, j=1)
    total = inf.cook_local_influence(scheme, "total", covariate=1)
    assert rel_err(total, np.abs(np.diag(B))) <= TOL
    lam, V = np.linalg.eigh(B)
    lmax = np.abs(V[:, np.argmax(np.abs(lam))])
    assert rel_err(inf.cook_local_influence(scheme, "local", covariate=1), lmax) <= 1e-7


def test_fi_active_aggregates_pairwise_fi():
    X, y = make_problem(5, 60, 3, 3)
    model = fit(X, y, 3, 0.01, True)
    inf = li.LocalInfluence(model, X, y)
    Xp = make_problem(6, 15, 3, 3)[0]
    yhat = model.predict(Xp)
    pairs = inf.fi(Xp, yhat)
    for agg, q in [("mean", None), ("median", None), ("quantile", 0.75), ("trimmed_mean", None)]:
        got = inf.fi_active(Xp, agg=agg, q=q)
        for u in range(len(Xp)):
            col = pairs[:, u]
            if agg == "mean":
                want = np.mean(col)
            elif agg == "median":
                want = np.median(col)
            elif agg == "quantile":
                want = np.quantile(col, 0.75)
            else:
                s = np.sort(col)
                lo, hi = np.percentile(s, 10), np.percentile(s, 90)
                want = np.mean([v for v in s if lo <= v <= hi])
            assert got[u] == pytest.approx(want, rel=1e-12)


def test_binary_closed_form_of_metric():
    """G_i = p(1-p) a a^T with a = beta + D_i^T xt_i (rank one), as MATH-NOTES states."""
    X, y = make_problem(11, 50, 3, 2)
    model = fit(X, y, 2, 0.0, True)
    inf = li.LocalInfluence(model, X, y)
    for i in range(5):
        p = model.predict_proba(X[i:i + 1])[0, 1]
        a = model.coef_ + inf.dtheta_domega(i).T @ np.append(X[i], 1.0)
        assert rel_err(inf.metric(i), p * (1 - p) * np.outer(a, a)) <= TOL
        assert np.linalg.matrix_rank(inf.metric(i), tol=1e-10 * np.abs(inf.metric(i)).max()) == 1
    assert (inf.metric_rank() == 1).all()


@pytest.mark.parametrize("budget", [None, 4096, 64])
def test_chunking_does_not_change_results(monkeypatch, budget):
    """Row chunks and pool blocks (with and without cached training rows) give the same numbers."""
    import localinf.measures.local_influence as measures
    X, y = make_problem(2, 90, 4, 3)
    model = fit(X, y, 3, 0.01, True)
    a = li.LocalInfluence(model, X, y)
    want = (a.fi_util(X, y), a.fi(X[:5], y[:5]), a.fi_active(X[:9]))
    if budget is not None:
        monkeypatch.setattr(measures, "_PAIR_BYTES", budget)
    b = li.LocalInfluence(model, X, y, chunk_size=7)
    got = (b.fi_util(X, y), b.fi(X[:5], y[:5]), b.fi_active(X[:9]))
    for g, w in zip(got, want):
        assert np.allclose(g, w, rtol=1e-12, atol=0)


def test_rank_cutoff_is_explicit():
    X, y = make_problem(4, 40, 2, 2)
    model = fit(X, y, 2, 0.0, True)
    base = li.LocalInfluence(model, X, y)
    lam = np.array([np.trace(base.metric(i)) for i in range(len(y))])  # rank one: trace = eigenvalue
    cut = np.median(lam)
    trimmed = li.LocalInfluence(model, X, y, atol=cut)
    f0, f1 = base.fi_util(X, y), trimmed.fi_util(X, y)
    assert np.all(f1[lam <= cut] == 0.0)
    assert np.allclose(f1[lam > cut], f0[lam > cut], rtol=1e-13)


def test_self_influence_flags_flipped_labels():
    """Mislabel detection: flipped labels should rank high in self-influence (AUC well above 0.5)."""
    X, y = make_problem(12, 400, 3, 2, signal=6)
    rng = np.random.default_rng(0)
    flipped = rng.choice(400, size=40, replace=False)
    y = y.copy()
    y[flipped] = 1 - y[flipped]
    model = fit(X, y, 2, 0.01, True)
    s = li.LocalInfluence(model, X, y).self_influence()
    is_flipped = np.zeros(400, bool)
    is_flipped[flipped] = True
    # AUC = P(score of a flipped row > score of a clean row)
    auc = np.mean(s[is_flipped][:, None] > s[~is_flipped][None, :])
    assert auc > 0.75
