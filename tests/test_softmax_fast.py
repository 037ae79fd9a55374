"""The fast softmax kernels against the implementations they replaced (kept here verbatim).

``old_*`` below are the previous exact implementations: the einsum closed forms
of the multinomial logit, the (m, d, K) metric factor with the class-indicator
factor, one LAPACK eigh per row, the pairwise FI through ``M_i u_ij`` and the
trimmed mean through ``np.percentile``. benchmarks/bench_softmax.py imports them
for its old-vs-new agreement.
"""

import importlib

import numpy as np
import pytest

import localinf as li
from localinf.measures import pinv
from localinf.models import multinomial as mn
from helpers import make_problem

agg_mod = importlib.import_module("localinf.measures.aggregate")  # the package exports a function of that name


# ---------------------------------------------------------------------------------------
# The previous implementations (the references)
# ---------------------------------------------------------------------------------------
_FLOOR = np.finfo(float).tiny / np.finfo(float).eps


def old_inverse_kept(lam, rtol, atol):
    cut = np.maximum(max(atol, _FLOOR), rtol * lam.max(axis=-1, keepdims=True))
    keep = lam > cut
    inv = np.zeros_like(lam)
    np.divide(1.0, lam, out=inv, where=keep)
    return inv


def old_metric_eig(F, rtol, atol):
    """Eigenpairs of G = F F^T by one LAPACK eigh per row (the previous route)."""
    m, d, r = F.shape
    if r == 1:
        lam = np.einsum("idk,idk->ik", F, F)
        w = old_inverse_kept(lam, rtol, atol)
        return lam, F * np.sqrt(w)[:, None, :], w
    if r <= d:
        lam, V = np.linalg.eigh(np.einsum("idk,idl->ikl", F, F))
        lam = np.maximum(lam, 0.0)
        w = old_inverse_kept(lam, rtol, atol)
        return lam, np.einsum("idk,ikl->idl", F, V) * np.sqrt(w)[:, None, :], w
    lam, U = np.linalg.eigh(np.einsum("idk,iek->ide", F, F))
    lam = np.maximum(lam, 0.0)
    return lam, U, old_inverse_kept(lam, rtol, atol)


def old_pinv_quadratic(U, inv, g):
    proj = np.einsum("idk,id->ik", U, g) * np.sqrt(inv)
    return np.einsum("ik,ik->i", proj, proj)


def old_covariance(P):
    pi = P[:, 1:]
    S = -pi[:, :, None] * pi[:, None, :]
    comp = np.maximum(P.sum(axis=1, keepdims=True) - pi, 0.0)
    idx = np.arange(pi.shape[1])
    S[:, idx, idx] = pi * comp
    return S


def old_logp_grads(Xt, P):
    m, q = Xt.shape
    K = P.shape[1]
    R = np.eye(K)[None, :, 1:] - P[:, None, 1:]
    return (R[:, :, :, None] * Xt[:, None, None, :]).reshape(m, K, (K - 1) * q)


def old_mixed_T(Xt, d, r, S, B, w):
    k1 = r.shape[1]
    Wm = w.reshape(k1, -1).T
    t = Xt @ Wm
    if k1 == 1:
        out = np.multiply.outer(r[:, 0], Wm[:d, 0])
        out += np.multiply.outer(S[:, 0, 0] * t[:, 0], B[:, 0])
        return out
    St = np.einsum("ikl,il->ik", S, t)
    return r @ Wm[:d].T + St @ B.T


def old_mixed_T_rows(Xt, d, r, S, B, W):
    m, q = Xt.shape
    k1 = r.shape[1]
    Wm = W.reshape(m, W.shape[1], k1, q)
    out = np.einsum("iakd,ik->ida", Wm[..., :d], r)
    t = np.einsum("iakj,ij->iak", Wm, Xt)
    St = np.einsum("ikl,ial->iak", S, t)
    out += np.einsum("dk,iak->ida", B, St)
    return out


def old_mixed(Xt, d, r, S, B, U):
    m, q = Xt.shape
    k1 = r.shape[1]
    kk = U.shape[2]
    out = np.zeros((m, kk, k1, q))
    out[:, :, :, :d] = np.einsum("ik,idj->ijkd", r, U)
    SBu = np.einsum("ikl,dl,idj->ijk", S, B, U)
    out += SBu[:, :, :, None] * Xt[:, None, None, :]
    return out.reshape(m, kk, k1 * q)


def old_tangents(rows):
    """The softmax branch of ReferenceRows.tangents as it was (K > 2)."""
    b = rows.backend
    Xt, r, S, n, d, q, k1 = rows.Xt, rows.residual, old_covariance(rows.proba), b.D_divisor, b.d, b.q, b.K - 1
    m = rows.m
    Hinv4 = b.Hinv_dense.reshape(k1, q, k1, q)
    Z = (Xt @ Hinv4.transpose(3, 0, 1, 2).reshape(q, -1)).reshape(m, k1, q, k1)
    term1 = np.einsum("ik,ikal->ial", r, Z[:, :, :d, :])
    t = np.einsum("ikal,ia->ikl", Z, Xt)
    term2 = np.einsum("dk,ikj,ijl->idl", b.B, S, t, optimize=True)
    return b.B[None, :, :] - (term1 + term2) / n


def old_metric_factor(rows):
    """F = W_i E_i (m, d, K) with the class-indicator factor, as the generic Rows forms it."""
    return np.einsum("ida,iac->idc", old_tangents(rows), mn.class_indicator_factor(rows.proba))


def old_aggregate(values, how="trimmed_mean", q=None, axis=0):
    """The trimmed mean through np.percentile (a median computed and mostly discarded)."""
    values = np.asarray(values, dtype=np.float64)
    if how != "trimmed_mean":
        return agg_mod.aggregate(values, how, q, axis)
    lo, hi = np.percentile(values, [10.0, 90.0], axis=axis, keepdims=True)
    inside = (values >= lo) & (values <= hi)
    count = inside.sum(axis=axis)
    total = np.where(inside, values, 0.0).sum(axis=axis)
    return np.where(count > 0, total / np.maximum(count, 1), np.median(values, axis=axis))


def _old_rows(inf, sl):
    R = inf._rows(sl)
    r, S = R.residual, old_covariance(R.proba)
    return R, r, S


def old_fi_util(inf, X_val, y_val, chunk=256):
    """FI_util by the previous softmax route (reference backend, paper's pseudo-inverse)."""
    b = inf.backend_
    u = inf.against(X_val, y_val).u_
    out = np.empty(inf.n_)
    for sl in inf._chunks(chunk):
        R, r, S = _old_rows(inf, sl)
        F = old_metric_factor(R)
        g = old_mixed_T(R.Xt, b.d, r, S, b.B, u) * (-1.0 / b.D_divisor)
        lam, U, inv = old_metric_eig(F, inf.rtol, inf.atol)
        out[sl] = old_pinv_quadratic(U, inv, g)
    return out


def old_fi_from_w(inf, W, chunk=256):
    """FI(z_q, z_i) (n, m) through the rows ``c_ij = sqrt(w_ij) M_i u_ij / n``."""
    b = inf.backend_
    out = np.empty((inf.n_, W.shape[1]))
    for sl in inf._chunks(chunk):
        R, r, S = _old_rows(inf, sl)
        lam, U, inv = old_metric_eig(old_metric_factor(R), inf.rtol, inf.atol)
        C = old_mixed(R.Xt, b.d, r, S, b.B, U) * (np.sqrt(inv) / b.D_divisor)[:, :, None]
        CW = C @ W
        out[sl] = np.einsum("ikq,ikq->iq", CW, CW)
    return out


def old_fi_active(inf, X_pool, agg="trimmed_mean", q=None):
    """FI_active by the previous route (no frequency weights)."""
    yp = np.argmax(inf.backend_.proba(X_pool), axis=1)
    W = inf._solved(X_pool, yp)
    return old_aggregate(old_fi_from_w(inf, W), agg, q, axis=0)


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------
def rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))


def softmax_fit(seed=3, n=400, d=5, K=6, l2=0.01, signal=1.0):
    X, y = make_problem(seed, n, d, K, signal=signal)
    model = li.SoftmaxRegression(l2=l2).fit(X, y)
    return X, y, li.LocalInfluence(model, X, y)


@pytest.fixture(scope="module")
def sharp():
    """K = 10, d = 10, well separated: metrics of condition 1e5..1e8 (some over DIRECT_COND)."""
    return softmax_fit(seed=5, n=700, d=10, K=10, signal=6.0)


@pytest.mark.parametrize("K, d", [(3, 4), (6, 5), (10, 6), (12, 3)])
def test_closed_forms_equal_the_previous_einsum_forms(K, d):
    X, y, inf = softmax_fit(seed=K + d, n=60 * K, d=d, K=K)
    b = inf.backend_
    R = inf._rows(slice(0, 90))
    r, S = R.residual, old_covariance(R.proba)
    rng = np.random.default_rng(0)
    assert rel(mn.covariance(R.proba), S) <= 1e-15
    assert rel(R.tangents(), old_tangents(R)) <= 1e-12
    w = rng.normal(size=b.p)
    assert rel(mn.mixed_T(R.Xt, d, r, S, b.B, w), old_mixed_T(R.Xt, d, r, S, b.B, w)) <= 1e-13
    Wr = rng.normal(size=(90, 3, b.p))
    assert rel(mn.mixed_T_rows(R.Xt, d, r, S, b.B, Wr), old_mixed_T_rows(R.Xt, d, r, S, b.B, Wr)) <= 1e-13
    U = rng.normal(size=(90, d, 4))
    assert rel(mn.mixed(R.Xt, d, r, S, b.B, U), old_mixed(R.Xt, d, r, S, b.B, U)) <= 1e-13
    # the pairwise products u . M^T w against (M u) . w
    Wq = rng.normal(size=(b.p, 7))
    got = mn.projected_mixed_T(R.Xt, r, S, b.B, U, mn.pool_blocks(Wq, K, b.q, d))
    assert rel(got, old_mixed(R.Xt, d, r, S, b.B, U) @ Wq) <= 1e-12
    # the square metric factor gives the same G_i as the class-indicator one
    F, Fold = R.metric_factor(), old_metric_factor(R)
    assert F.shape == (90, d, K - 1)
    assert rel(F @ np.swapaxes(F, 1, 2), Fold @ np.swapaxes(Fold, 1, 2)) <= 1e-12


def test_indicator_cholesky_factors_the_covariance_without_cancellation():
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.full(7, 0.2), size=500)
    P[0] = [1 - 6e-300, 1e-300, 1e-300, 1e-300, 1e-300, 1e-300, 1e-300]
    P[1] = [0, 0, 0, 1, 0, 0, 0]
    P[2] = [1e-12, 1 - 2e-12, 1e-12, 0, 0, 0, 0]
    L = mn.indicator_cholesky(P)
    assert np.isfinite(L).all() and np.all(np.triu(L, 1) == 0)
    S = mn.covariance(P)
    assert np.max(np.abs(L @ np.swapaxes(L, 1, 2) - S)) <= 1e-15
    # entrywise relative precision where a probability is near 1: S_11 = pi_1 (P_0 + pi_2)
    assert abs(S[2, 0, 0] / ((1 - 2e-12) * 2e-12) - 1) <= 1e-15
    assert abs((L[2] @ L[2].T)[0, 0] / S[2, 0, 0] - 1) <= 1e-14
    assert abs((L[2] @ L[2].T)[0, 1] / S[2, 0, 1] - 1) <= 1e-14


def test_batched_cholesky_and_inverse_against_lapack():
    from localinf.measures.cholesky import batched_cholesky, triangular_inverse
    rng = np.random.default_rng(2)
    A = rng.normal(size=(40, 9, 6))
    N = np.swapaxes(A, 1, 2) @ A  # (40, 6, 6), positive definite
    N[30] = 0.0
    N[31, 2, 2] = -1.0
    N[32, 4, 4] = np.nan
    L, ok = batched_cholesky(N)
    assert not ok[30] and not ok[31] and not ok[32] and ok[:30].all()
    Lr = np.linalg.cholesky(N[:30])
    L = np.tril(np.moveaxis(L, -1, 0))[:30]
    assert np.max(np.abs(L - Lr)) <= 1e-13 * np.max(np.abs(Lr))
    Linv = np.moveaxis(triangular_inverse(np.moveaxis(L, 0, -1).copy()), -1, 0)
    assert rel(Linv, np.linalg.inv(Lr)) <= 1e-12


def _stack(seed, m=400, d=6, r=4):
    """Factors with full-rank, rank-deficient (duplicated columns, a zero column,
    a tiny direction below the cut-off) and zero rows."""
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(m, d, r))
    F[::7, :, -1] = F[::7, :, 0]  # duplicated column: rank r - 1
    F[1::7, :, 1] = 0.0
    F[2::7, :, 2] *= 1e-7  # eigenvalue ~1e-14 of the largest: cut at rtol = 1e-10
    F[3::7] = 0.0  # G = 0: FI = 0
    F[4::7, :, 3] *= 1e-2  # kept, moderately conditioned
    return F, rng.normal(size=(m, d))


def _exact_fi(F, g):
    """``g^T G^+ g`` where every eigenvalue is kept, ``||N^{-1} F^T g||^2`` (N = F^T F, or
    ``g^T G^{-1} g`` when F is wide), in exact rational arithmetic from the float inputs."""
    from fractions import Fraction
    F = [[Fraction(v) for v in row] for row in F.tolist()]
    g = [Fraction(v) for v in g.tolist()]
    d, r = len(F), len(F[0])
    if r <= d:
        N = [[sum(F[a][i] * F[a][j] for a in range(d)) for j in range(r)] for i in range(r)]
        b = [sum(F[a][i] * g[a] for a in range(d)) for i in range(r)]
    else:
        N = [[sum(F[i][c] * F[j][c] for c in range(r)) for j in range(d)] for i in range(d)]
        b = list(g)
    k = len(b)
    M = [N[i] + [b[i]] for i in range(k)]
    for c in range(k):  # Gauss-Jordan, exact
        p = next(i for i in range(c, k) if M[i][c] != 0)
        M[c], M[p] = M[p], M[c]
        M[c] = [v / M[c][c] for v in M[c]]
        for i in range(k):
            if i != c and M[i][c] != 0:
                M[i] = [a - M[i][c] * e for a, e in zip(M[i], M[c])]
    x = [M[i][k] for i in range(k)]
    return float(sum(v * v for v in x) if r <= d else sum(v * w for v, w in zip(x, b)))


def _cond(F):
    wide = F.shape[2] > F.shape[1]
    ev = np.linalg.eigvalsh(F @ np.swapaxes(F, 1, 2) if wide else np.swapaxes(F, 1, 2) @ F)
    with np.errstate(divide="ignore"):
        return ev[:, -1] / np.maximum(ev[:, 0], 0.0)


@pytest.mark.parametrize("d, r", [(6, 4), (6, 6), (3, 5), (4, 9)])
@pytest.mark.parametrize("rtol, atol", [(1e-10, 0.0), (1e-3, 0.0), (0.0, 1e-2)])
def test_pinv_factor_equals_the_eigh_route(d, r, rtol, atol):
    """Same FI as one eigh per row, to 1e-12 on rows of condition <= 1e3 and to the round-off
    both carry (~cond eps) above; where they differ more than 1e-12, the direct route is
    checked against exact rational arithmetic."""
    F, g = _stack(d * r, d=d, r=r)
    U, w, direct = pinv.pinv_factor(F.copy(), rtol, atol)
    lam, Uo, wo = old_metric_eig(F.copy(), rtol, atol)
    new, old = pinv.pinv_quadratic(U, w, g), old_pinv_quadratic(Uo, wo, g)
    assert direct.any() and (~direct).any()  # both routes are exercised
    assert np.array_equal(new == 0, old == 0)
    top = np.max(lam, axis=1)  # condition number of the kept part
    low = np.min(np.where(wo > 0, lam, np.inf), axis=1)
    cond = np.where(np.isfinite(low), top / np.where(np.isfinite(low), low, 1.0), 1.0)
    eps = np.finfo(float).eps
    diff = np.abs(new - old) / np.maximum(old, 1e-300)
    assert np.all(diff <= np.maximum(1e-12, 50 * eps * cond))
    for i in np.flatnonzero(direct & (diff > 1e-12))[:5]:
        assert abs(new[i] / _exact_fi(F[i], g[i]) - 1) <= 50 * eps * cond[i]


def test_pinv_factor_keeps_exactly_what_the_cut_off_keeps():
    """Rows with one eigenvalue just above and just below the cut-off (ratio 1 +- 1e-3)."""
    rng = np.random.default_rng(4)
    Q = np.linalg.qr(rng.normal(size=(200, 5, 3)))[0]  # orthonormal columns
    lam = np.tile([1.0, 0.5, 0.0], (200, 1))
    lam[:, 2] = np.where(np.arange(200) % 2, 1 + 1e-3, 1 - 1e-3) * 1e-4
    F = Q * np.sqrt(lam)[:, None, :]
    g = rng.normal(size=(200, 5))
    U, w, direct = pinv.pinv_factor(F.copy(), 1e-4, 0.0)
    kept = (w > 0).sum(axis=1) if not direct.all() else None
    fi = pinv.pinv_quadratic(U, w, g)
    proj = np.einsum("idk,id->ik", Q, g)
    want = proj[:, 0] ** 2 + proj[:, 1] ** 2 / 0.5 + np.where(np.arange(200) % 2, proj[:, 2] ** 2 / lam[:, 2], 0)
    assert rel(fi, want) <= 1e-9
    assert kept is not None


def test_ill_conditioned_rows_against_exact_arithmetic(sharp):
    """Rows of a sharply fitted model whose metric has condition number 1e4..1e7 (all
    eigenvalues kept): the direct route is within ~cond * eps of the exact value."""
    X, y, inf = sharp
    R = inf._rows(slice(0, 700))
    F = R.metric_factor()
    g = R.mixed_T(inf.against(X[:50], y[:50]).u_) / -inf.backend_.D_divisor
    cond = _cond(F)
    rows = np.flatnonzero((cond > 1e4) & (cond < 1e6))[:6]
    assert rows.size >= 3
    U, w, direct = pinv.pinv_factor(F[rows].copy(), inf.rtol, inf.atol)
    assert direct.all()
    new = pinv.pinv_quadratic(U, w, g[rows])
    exact = np.array([_exact_fi(F[i], g[i]) for i in rows])
    assert np.all(np.abs(new / exact - 1) <= 50 * cond[rows] * np.finfo(float).eps)


@pytest.mark.parametrize("K, d, rtol", [(6, 5, 1e-10), (10, 6, 1e-10), (10, 6, 1e-6), (12, 3, 1e-10)])
def test_fi_util_fi_and_fi_active_equal_the_previous_route(K, d, rtol):
    X, y, inf = softmax_fit(seed=K, n=80 * K, d=d, K=K, signal=4.0)
    inf.rtol = rtol
    Xv, yv = X[::3], y[::3]
    assert rel(inf.fi_util(Xv, yv), old_fi_util(inf, Xv, yv)) <= 1e-11
    W = inf._solved(X[:6], y[:6])
    assert rel(inf.fi(X[:6], y[:6]), old_fi_from_w(inf, W)) <= 1e-11
    for how, q in (("trimmed_mean", None), ("median", None), ("quantile", 0.3), ("mean", None)):
        assert rel(inf.fi_active(X[:15], agg=how, q=q), old_fi_active(inf, X[:15], how, q)) <= 1e-11


def test_duplicated_feature_and_near_certain_rows(sharp):
    """A duplicated column (G_i singular in the wide case K - 1 > d) and a sharp fit."""
    X, y = make_problem(9, 500, 3, 7, signal=3.0)
    X = np.column_stack([X, X[:, 0]])  # d = 4, rank 3 < K - 1 = 6
    inf = li.LocalInfluence(li.SoftmaxRegression(l2=0.05).fit(X, y), X, y)
    assert rel(inf.fi_util(X[:40], y[:40]), old_fi_util(inf, X[:40], y[:40])) <= 1e-11
    # sharp fit: rows that differ by more than 1e-11 are ill-conditioned, and there the new
    # value is within ~cond * eps of the exact one
    X, y, inf = sharp
    new, old = inf.fi_util(X[:40], y[:40]), old_fi_util(inf, X[:40], y[:40])
    R = inf._rows(slice(None))
    F = R.metric_factor()
    g = R.mixed_T(inf.against(X[:40], y[:40]).u_) / -inf.backend_.D_divisor
    cond, eps = _cond(F), np.finfo(float).eps
    far = np.flatnonzero(np.abs(new / old - 1) > 1e-11)
    assert far.size and np.all(cond[far] > 1e4)
    for i in far[np.argsort(-np.abs(new / old - 1)[far])][:4]:
        assert abs(new[i] / _exact_fi(F[i], g[i]) - 1) <= 50 * cond[i] * eps


@pytest.mark.parametrize("budget, blocks, kept", [(1 << 12, 27, False), (100_000, 2, True),
                                                  (1 << 20, 1, False)])
def test_pool_blocks_with_kept_or_recomputed_training_rows(monkeypatch, budget, blocks, kept):
    """Pool blocks (the FI matrix of a block bounded by the budget), with the training
    side kept across blocks or recomputed, give the numbers of one block."""
    import localinf.measures.local_influence as measures
    from localinf.measures import pairwise
    X, y, inf = softmax_fit(seed=7, n=300, d=5, K=10)
    pool = np.random.default_rng(0).normal(size=(350, 5))
    want = old_fi_active(inf, pool)
    calls = {"blocks": 0, "sides": 0}
    fi_columns, init = measures.fi_columns, pairwise.TrainingSide.__init__

    def count_blocks(*args, **kw):
        calls["blocks"] += 1
        return fi_columns(*args, **kw)

    def count_sides(self, *args):
        calls["sides"] += 1
        init(self, *args)

    monkeypatch.setattr(measures, "_PAIR_BYTES", budget)
    monkeypatch.setattr(measures, "fi_columns", count_blocks)
    monkeypatch.setattr(pairwise.TrainingSide, "__init__", count_sides)
    assert rel(inf.fi_active(pool), want) <= 1e-12
    chunks = len(range(0, 300, inf._pair_chunk(350 // blocks)))
    assert calls["blocks"] == blocks
    assert calls["sides"] == (chunks if kept else chunks * blocks)


def test_trimmed_mean_percentiles_are_numpys():
    rng = np.random.default_rng(5)
    for N in list(range(1, 25)) + [99, 1000, 4001]:
        for ties in (False, True):
            V = rng.exponential(size=(N, 6))
            if ties:
                V = np.round(V * 2) / 2
            _, (lo, hi), _ = agg_mod.band_edges(np.ascontiguousarray(V.T), (10.0, 90.0))
            want_lo, want_hi = np.percentile(V, [10.0, 90.0], axis=0)
            assert np.array_equal(lo, want_lo) and np.array_equal(hi, want_hi)
            got, old = agg_mod.aggregate(V), old_aggregate(V)
            assert np.all(np.abs(got - old) <= 1e-14 * np.abs(old))
            assert np.array_equal(agg_mod.aggregate(V.T, axis=1), got)
    # two distinct values: nothing lies in the band, the median is returned
    assert agg_mod.aggregate(np.array([[1.0], [3.0]]))[0] == 2.0
