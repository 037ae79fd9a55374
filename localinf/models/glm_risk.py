"""The penalised empirical risk of the multinomial logit, in row chunks.

    R(theta) = (1/N) sum_i w_i L(y_i, x_i; theta) + l2 * ||coef||^2,   N = sum_i w_i,

with L the negative log-likelihood, intercepts not penalised and w the
frequency weights (all one, N = n, by default: row i stands for w_i identical
observations). The value, gradient and Hessian are accumulated over chunks of
rows so memory stays bounded by the chunk size, not by n.

One pass gives the value, the gradient and (when asked) the Hessian together.
The linear predictors of a chunk are formed once, as ``X_c B + b`` with B the
slopes and b the intercepts; the intercept enters the sums as a column of ones
would (gradient ``(X_c^T r, sum r)``, Hessian blocks ``X_c^T S X_c``,
``X_c^T s``, ``sum s``) without a widened copy of X_c for the value and gradient.

Binary case (K = 2). With ``z_i = eta_i`` for ``y_i = 0`` and ``z_i = -eta_i``
for ``y_i = 1`` (the log-odds against the observed class),

    L_i = log(1 + e^{z_i}),   r_i = P(1|x_i) - y_i = +-sigmoid(z_i),
    s_i = P(0|x_i) P(1|x_i) = sigmoid(z_i) sigmoid(-z_i),

each evaluated without cancellation: a well-fitted row (z_i << 0) keeps full
relative precision in its tiny L_i, r_i and s_i, which is what the gradient at
the minimiser of a nearly flat risk is made of. The Hessian is ``A^T A / N``
(plus the penalty) where row i of A is ``sqrt(w_i s_i) (x_i, 1)``: one
symmetric rank-m product per chunk, A written into a reused buffer.
"""

import numpy as np
from scipy.special import logsumexp

from .._core.chunks import row_chunks
from . import multinomial as mn

# Rows per chunk are chosen so that a (rows, p * (K-1)) float64 block stays near
# 4 MiB: temporaries then stay in cache and are reused by the allocator, which at
# n = 10^6 is ~1.6x faster than 32 MiB blocks (each of those is a fresh mapping).
_CHUNK_BYTES = 1 << 22
_EPS = np.finfo(float).eps

# Rules shared by the in-memory fit (models/glm.py) and the fit on dask collections
# (models/glm_dask.py). A fitted linear predictor beyond ETA_SUSPICIOUS (probabilities
# within ~1e-9 of 0 or 1) without a penalty triggers the exact separation test, which
# runs up to SEPARATION_MAX_N rows. FINAL_STEPS full steps are allowed after both
# stopping tests pass, while they lower ||grad R||. Large problems start with Hessians
# of a subsample of the rows, exact ones once max|grad R| <= GTOL_EXACT g0.
ETA_SUSPICIOUS = 20.0
SEPARATION_MAX_N = 200_000
FINAL_STEPS = 3
GTOL_EXACT = 1e-5


def keep_rule(large):
    """FrozenNewton's ``keep``: Hessians are kept while they serve only on large problems
    (those fitted with subsample Hessians first, ``fit_passes``). Elsewhere a Hessian
    costs little, and a new one at every step (``keep`` 0: damped Newton) takes the
    fewest steps, as ``max_iter`` has always counted them. Likewise only large problems
    end their final steps at the round-off bound of grad R (``run(..., roundoff=True)``):
    elsewhere a pass costs little, and the final steps go on while they lower ||grad R||."""
    return (0.25, 0.2) if large else (0.0, 0.2)


# A fit's passes read each chunk of X twice (X_c B, then X_c^T r): chunks of about
# this size stay in a core's L2 cache for the second read.
_FIT_CHUNK_BYTES = 3 << 19
# The Hessian of every _STRIDE-th row approximates H during a fit when there are at
# least _ROWS_PER_PARAMETER such rows per parameter.
_STRIDE = 8
_ROWS_PER_PARAMETER = 200
# |X_c| for the round-off bound is formed in parts of about this size, which stay in
# L2 with the chunk (at n = 10^6, d = 100 it then adds ~0.05 s to a pass, not ~0.07 s).
_ABS_BYTES = 1 << 18


def default_chunk(p, K):
    """Rows per chunk for p parameters and K classes (about 4 MiB per (rows, p (K-1)) block).

    At least 256 rows while such a block stays within 64 times that size; with
    many classes (p (K-1) above ~2 million) fewer, down to one row, so that the
    block and the (rows, K-1, K-1) covariances stay bounded.
    """
    per_row = 8 * max(p, 1) * max(K - 1, 1)
    rows = _CHUNK_BYTES // per_row
    return int(max(rows, min(256, (64 * _CHUNK_BYTES) // per_row), 1))


def fit_chunk(d, p, K):
    """Rows per chunk in a fit's passes: about 1.5 MiB of X, within :func:`default_chunk`."""
    return int(max(1, min(default_chunk(p, K), max(256, _FIT_CHUNK_BYTES // (8 * max(d, 1))))))


def _binary_rows(eta, y, hessian):
    """Losses, residuals ``P(1|x) - y`` and (if asked) ``P(0|x) P(1|x)`` of one chunk, each (m,)."""
    sign = 1.0 - 2.0 * y  # +1 for class 0, -1 for class 1
    z = eta * sign  # log-odds against the observed class
    e = np.exp(-np.abs(z))
    loss = np.log1p(e)
    loss += np.maximum(z, 0.0)  # log(1 + e^z)
    denom = 1.0 + e
    other = np.where(z >= 0.0, 1.0, e)
    other /= denom  # sigmoid(z), the probability of the class not observed
    s = e / (denom * denom) if hessian else None  # sigmoid(z) sigmoid(-z)
    other *= sign
    return loss, other[:, None], s


def _softmax_rows(eta, y, hessian):
    """Losses (m,), residuals ``pi - e_y`` (m, K-1) and (if asked) covariances (m, K-1, K-1)."""
    m = eta.shape[0]
    rows = np.arange(m)
    full = np.zeros((m, eta.shape[1] + 1))
    full[:, 1:] = eta
    lse = logsumexp(full, axis=1)
    loss = lse - full[rows, y]
    P = np.exp(full - lse[:, None])
    r = P[:, 1:].copy()
    seen = np.flatnonzero(y > 0)
    if seen.size:  # pi_y - 1 = -(sum of the other classes' probabilities), no cancellation
        rest = P[seen].copy()
        rest[np.arange(seen.size), y[seen]] = 0.0
        r[seen, y[seen] - 1] = -rest.sum(axis=1)
    return loss, r, (mn.covariance(P) if hessian else None)


def _add_hessian(H, Xc, s, fit_intercept, buf):
    """``H += sum_i S_i kron xt_i xt_i^T`` over a chunk (weights already in s), the
    products in the precision of ``buf`` (rows, q)."""
    m, d = Xc.shape
    A = buf[:m]
    if s.ndim == 1:  # binary: A^T A with rows sqrt(s_i) xt_i
        root = np.sqrt(s)
        np.multiply(Xc, root[:, None], out=A[:, :d], casting="same_kind")
        if fit_intercept:
            A[:, d] = root
        H += A.T @ A
        return
    A[:, :d] = Xc
    if fit_intercept:
        A[:, d] = 1.0
    H += mn.hessian_sum(A, s.astype(buf.dtype, copy=False))


def risk_terms(X, y, theta, K, fit_intercept, l2, *, chunk=None, weights=None, gradient=True,
               hessian=False, single=False, subsample=1, max_abs_x=False, max_row_norm=False,
               roundoff=False):
    """The risk and what one pass over the rows gives with it.

    Parameters
    ----------
    X : ndarray (n, d)
    y : ndarray of int (n,)
        Labels coded 0..K-1.
    theta : ndarray (p,)
        p = q (K - 1), q = d + fit_intercept, stacked class by class.
    K : int
    fit_intercept : bool
    l2 : float
        Ridge penalty on the slopes.
    chunk : int, optional
        Rows per chunk (default :func:`default_chunk`).
    weights : ndarray (n,), optional
        Frequency weights.
    gradient, hessian, max_abs_x, max_row_norm : bool
        Which of grad R, H, max|X| and the largest ``||(x_i, 1)||_2`` to form.
    single : bool, default False
        Form the chunks' Hessian products in single precision (summed in
        double): about twice as fast, with a relative error of about 1e-7; for
        matrices that stand in for H in a fit, not for H itself.
    subsample : int, default 1
        With k > 1, H is the Hessian of the risk of rows 0, k, 2k, ... alone
        (their weighted mean loss plus the penalty), a cheap stand-in for H.
    roundoff : bool, default False
        Also return the round-off bound of grad R (with ``gradient``): each
        entry is a sum over rows, ``(1/N) sum_i w_i r_ik xt_ij`` plus the
        penalty's ``2 l2 theta_kj``, and a relative error of eps in each term
        moves it by up to ``eps ((1/N) sum_i w_i |r_ik| |xt_ij| + 2 l2 |theta_kj|)``.
        A gradient within this bound entry by entry is zero to working
        precision. It costs a product with ``|X_c|`` per chunk.

    Returns
    -------
    R : float
    grad : ndarray (p,) or None
    H : ndarray (p, p) or None
    max_eta : float
        Largest |linear predictor| ``max_{i,k} |eta_ik|`` (class 0 has eta = 0).
    max_x, max_row : float or None
        ``max_ij |X_ij|`` and ``max_i ||(x_i, 1)||_2`` (``||x_i||_2`` without
        an intercept), when asked for; both are NaN if X holds NaN and not
        finite if it holds inf.
    bound : ndarray (p,) or None
        Only with ``roundoff``, a seventh entry: the round-off bound of grad R
        (None without ``gradient``).
    """
    n, d = X.shape
    q = d + int(fit_intercept)
    k1 = K - 1
    p = q * k1
    W = mn.unpack(theta, K, q)
    B = np.ascontiguousarray(W[:d])
    b = W[d] if fit_intercept else None
    chunk = chunk or default_chunk(p, K)
    total, max_eta, max_x, max_sq, NH = 0.0, 0.0, 0.0, 0.0, 0.0
    G = np.zeros((q, k1)) if gradient else None
    F = np.zeros((q, k1)) if roundoff and gradient else None  # the sums of |terms| of G
    absX = np.empty((max(1, min(chunk, n, _ABS_BYTES // (8 * max(d, 1)))), d)) if F is not None else None
    H = np.zeros((p, p)) if hessian else None
    rows_h = -(-min(chunk, n) // subsample)
    buf = np.empty((rows_h, q), dtype=np.float32 if single else float) if hessian else None
    rows_of = _binary_rows if K == 2 else _softmax_rows
    slopes = bool(np.any(B))
    for sl in row_chunks(n, chunk):
        Xc, yc = X[sl], y[sl]
        wc = None if weights is None else weights[sl]
        if slopes:
            eta = Xc @ B[:, 0] if K == 2 else Xc @ B
        else:  # all slopes 0 (the usual start): no product
            eta = np.zeros(Xc.shape[0] if K == 2 else (Xc.shape[0], k1))
        if fit_intercept:
            eta += b[0] if K == 2 else b
        max_eta = max(max_eta, float(np.max(np.abs(eta))))
        loss, r, s = rows_of(eta, yc, hessian)
        total += loss.sum() if wc is None else wc @ loss
        if gradient:
            rw = r if wc is None else r * wc[:, None]
            G[:d] += Xc.T @ rw
            if fit_intercept:
                G[d] += rw.sum(axis=0)
            if F is not None:
                rw = np.abs(rw)
                for part in row_chunks(Xc.shape[0], len(absX)):  # |X_c| in parts that stay in cache
                    F[:d] += np.abs(Xc[part], out=absX[:part.stop - part.start]).T @ rw[part]
                if fit_intercept:
                    F[d] += rw.sum(axis=0)
        if hessian:
            sel = slice((-sl.start) % subsample, None, subsample)  # rows i = 0 mod subsample
            sw = s[sel] if wc is None else s[sel] * (wc[sel] if s.ndim == 1 else wc[sel, None, None])
            NH += len(sw) if wc is None else float(wc[sel].sum())
            _add_hessian(H, Xc[sel], sw, fit_intercept, buf)
        if max_abs_x:  # max/min propagate NaN
            max_x = float(np.max([max_x, Xc.max(), -Xc.min()]))
        if max_row_norm:  # np.maximum propagates NaN, max() would drop it
            max_sq = float(np.maximum(max_sq, np.max(np.einsum("ij,ij->i", Xc, Xc))))
    mask = mn.penalty_mask(K, q, d)
    N = n if weights is None else float(weights.sum())
    R = total / N + l2 * float(np.sum(mask * theta ** 2))
    grad = G.T.ravel() / N + 2.0 * l2 * mask * theta if gradient else None
    if hessian:
        H /= NH
        H[np.diag_indices(p)] += 2.0 * l2 * mask
    max_row = float(np.sqrt(max_sq + float(fit_intercept))) if max_row_norm else None
    out = R, grad, H, max_eta, (max_x if max_abs_x else None), max_row
    if roundoff:
        out += (None if F is None else _EPS * (F.T.ravel() / N + 2.0 * l2 * mask * np.abs(theta)),)
    return out


def risk_derivatives(X, y, theta, K, fit_intercept, l2, chunk=None, hessian=True, weights=None):
    """Return ``(R, grad R, H, max |eta|, max |X|)`` at ``theta``; H is None if not asked for.

    Shapes: R scalar, grad (p,), H (p, p). ``weights`` (n,) or None: frequency weights.
    One pass over X (see :func:`risk_terms`).
    """
    return risk_terms(X, y, theta, K, fit_intercept, l2, chunk=chunk, weights=weights,
                      hessian=hessian, max_abs_x=True)[:5]


def risk_value(X, y, theta, K, fit_intercept, l2, chunk=None, weights=None):
    """R(theta) alone (one pass, no gradient)."""
    return risk_terms(X, y, theta, K, fit_intercept, l2, chunk=chunk, weights=weights,
                      gradient=False)[0]


def step_bound(K, q, max_row):
    """``bound(step)``: an upper bound on the step's largest change in a training log-probability.

    ``|change of log P_c| <= 2 max_k |change of eta_k| <= 2 max_i ||xt_i|| max_k ||step_k||``:
    log P_c = eta_c - logsumexp(eta), and logsumexp moves by at most the largest
    change of its arguments. No pass over X, unlike :func:`~localinf.models.newton.predictive_change`.
    """
    return lambda step: 2.0 * max_row * float(np.max(np.linalg.norm(step.reshape(K - 1, q), axis=1)))


def fit_passes(X, y, K, fit_intercept, l2, w):
    """The passes of a fit on (X, y, weights w): ``(evaluate, approximate)``.

    ``evaluate(theta, hessian, **extra)`` is :func:`risk_terms` with the Hessian
    of kind ``hessian`` as :class:`~localinf.models.newton.FrozenNewton` asks
    for it: False (none), True (exact), ``"single"`` (single-precision
    products) or ``"coarse"`` (of every ``_STRIDE``-th row, single precision);
    ``approximate(theta)``, the coarse one alone in a pass over those rows, is
    None when there are fewer than ``_ROWS_PER_PARAMETER`` of them per parameter
    (too few to approximate H well) or a class is absent from them.
    """
    n, d = X.shape
    p = (d + int(fit_intercept)) * (K - 1)
    chunk = fit_chunk(d, p, K)

    def evaluate(theta, hessian, **extra):
        return risk_terms(X, y, theta, K, fit_intercept, l2, weights=w, chunk=chunk,
                          hessian=bool(hessian), single=hessian in ("single", "coarse"),
                          subsample=_STRIDE if hessian == "coarse" else 1, **extra)
    Xs, ys = X[::_STRIDE], y[::_STRIDE]
    ws = None if w is None else w[::_STRIDE]
    if n < _STRIDE * _ROWS_PER_PARAMETER * p or not (np.bincount(ys, weights=ws, minlength=K) > 0).all():
        return evaluate, None
    return evaluate, lambda th: risk_terms(Xs, ys, th, K, fit_intercept, l2, weights=ws, chunk=chunk,
                                           gradient=False, hessian=True, single=True)[2]
