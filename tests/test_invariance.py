"""Theorem 1 holds exactly when g lies in range(G)."""

import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, strategies as st

import localinf as li
from helpers import make_problem


def influence(seed, n, d, K, l2=0.01):
    X, y = make_problem(seed, n, d, K)
    cls = li.LogisticRegression if K == 2 else li.SoftmaxRegression
    model = cls(l2=l2).fit(X, y)
    return li.LocalInfluence(model, X, y), X, y


def random_J(rng, d):
    """Invertible J = Q1 diag(s) Q2 with cond(J) <= e^3 ~ 20."""
    Q1, _ = np.linalg.qr(rng.normal(size=(d, d)))
    Q2, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return Q1 @ np.diag(np.exp(rng.uniform(-1.5, 1.5, size=d))) @ Q2


def full_rank_rows(inf, J):
    """Rows whose metric keeps all d eigenvalues under the cut-off in both coordinates."""
    ok = []
    for i in range(inf.n_):
        G = inf.metric(i)
        ranks = []
        for M in (G, J.T @ G @ J):
            lam = np.linalg.eigvalsh(M)
            ranks.append(np.sum(lam > inf.rtol * lam[-1]))
        ok.append(min(ranks) == inf.d_)
    return np.array(ok)


def roundoff_bound(inf, J):
    """Per-row bound on the relative change of FI from round-off alone.

    Both FIs are g^T G^+ g evaluated in floating point; forming J^T G J and
    inverting it loses about eps * cond(G_i) * cond(J)^2 (relative), and a
    factor 100 covers the accumulated operations. Returns (n, 1).
    """
    eps = np.finfo(float).eps
    cond = []
    for i in range(inf.n_):
        lam = np.linalg.eigvalsh(inf.metric(i))
        kept = lam[lam > inf.rtol * lam[-1]]
        cond.append(kept[-1] / kept[0] if kept.size else 1.0)
    return (100 * eps * np.array(cond) * np.linalg.cond(J) ** 2)[:, None]


@given(st.integers(0, 10_000))
def test_softmax_with_K_minus_1_ge_d_is_invariant(seed):
    inf, X, y = influence(seed, 80, 3, 4)
    J = random_J(np.random.default_rng(seed), 3)
    res = li.check_invariance(inf, J, X[:5], y[:5])
    assert res.fi.shape == (80, 5)
    # G_i is generically full rank; a row whose class probabilities are extreme can
    # have an eigenvalue under the rank cut-off, and there the theorem need not hold.
    full = full_rank_rows(inf, J)
    assert full.mean() > 0.9
    assert np.all(res.range_residual[full] < 1e-8)
    assert np.all((res.rel_diff <= roundoff_bound(inf, J))[full])
    fi = inf.fi(X[:5], y[:5])
    assert np.all(np.abs(res.fi - fi) <= roundoff_bound(inf, np.eye(3)) * fi)


@given(st.integers(0, 10_000))
def test_one_feature_is_invariant(seed):
    inf, X, y = influence(seed, 50, 1, 2)
    res = li.check_invariance(inf, [[7.5]], X[:4], y[:4])
    assert res.max_range_residual < 1e-8 and res.max_rel_diff < 1e-9


@given(st.integers(0, 10_000))
def test_binary_scalar_and_orthogonal_J_are_invariant(seed):
    inf, X, y = influence(seed, 60, 3, 2)
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    for J in (2.5 * np.eye(3), Q):
        res = li.check_invariance(inf, J, X[:4], y[:4])
        assert res.max_rel_diff < 1e-9


@given(st.integers(0, 10_000))
def test_binary_with_anisotropic_J_is_not_invariant(seed):
    inf, X, y = influence(seed, 150, 3, 2, l2=0.0)
    res = li.check_invariance(inf, np.diag([10.0, 1.0, 0.1]), X[:5], y[:5])
    # rank(G_i) = 1 < d: g is generically outside range(G), and FI moves far
    # beyond round-off (which is ~1e-13 here).
    assert np.median(res.range_residual) > 1e-3
    assert np.mean(res.rel_diff > 1e-6) > 0.9 and res.max_rel_diff > 0.1
    assert "NOT invariant" in res.summary()


@given(st.integers(0, 10_000), st.sampled_from([(2, 3), (3, 4), (4, 2), (3, 2)]))
def test_invariance_iff_residual_zero(seed, Kd):
    """Both directions, random J: zero residual => no change; non-zero residual => change."""
    K, d = Kd
    inf, X, y = influence(seed, 60, d, K)
    J = random_J(np.random.default_rng(seed + 1), d)
    res = li.check_invariance(inf, J, X[:4], y[:4])
    zero = res.range_residual < 1e-9
    assert np.all((res.rel_diff <= roundoff_bound(inf, J))[zero])
    # a clearly non-zero residual comes with a clearly different FI, except by coincidence
    big = res.range_residual > 0.1
    if big.any():
        assert np.median(res.rel_diff[big]) > 1e-3


def test_callable_diffeomorphism_uses_its_jacobian_at_zero():
    inf, X, y = influence(0, 60, 2, 2)
    A = np.array([[2.0, 0.5], [0.0, 0.3]])
    phi = lambda nu: anp.dot(A, anp.tanh(nu)) + nu ** 3
    a = li.check_invariance(inf, phi, X[:3], y[:3])
    b = li.check_invariance(inf, A, X[:3], y[:3])
    assert np.allclose(a.J, A) and np.allclose(a.fi_reparam, b.fi_reparam, rtol=1e-12)


def test_singular_J_is_refused():
    inf, X, y = influence(0, 40, 2, 2)
    with pytest.raises(li.InputError, match="J"):
        li.check_invariance(inf, np.zeros((2, 2)), X[:2], y[:2])
    with pytest.raises(li.InputError, match="J"):
        li.check_invariance(inf, np.eye(3), X[:2], y[:2])
