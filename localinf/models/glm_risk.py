"""The penalised empirical risk of the multinomial logit, in row chunks.

    R(theta) = (1/N) sum_i w_i L(y_i, x_i; theta) + l2 * ||coef||^2,   N = sum_i w_i,

with L the negative log-likelihood, intercepts not penalised and w the
frequency weights (all one, N = n, by default: row i stands for w_i identical
observations). The value,
gradient and Hessian are accumulated over chunks of rows so memory stays
bounded by the chunk size, not by n.
"""

import numpy as np

from .._core.chunks import row_chunks
from . import multinomial as mn

# Rows per chunk are chosen so that a (rows, p * (K-1)) float64 block stays near
# 4 MiB: temporaries then stay in cache and are reused by the allocator, which at
# n = 10^6 is ~1.6x faster than 32 MiB blocks (each of those is a fresh mapping).
_CHUNK_BYTES = 1 << 22


def default_chunk(p, K):
    """Rows per chunk for p parameters and K classes (about 4 MiB per (rows, p (K-1)) block).

    At least 256 rows while such a block stays within 64 times that size; with
    many classes (p (K-1) above ~2 million) fewer, down to one row, so that the
    block and the (rows, K-1, K-1) covariances stay bounded.
    """
    per_row = 8 * max(p, 1) * max(K - 1, 1)
    rows = _CHUNK_BYTES // per_row
    return int(max(rows, min(256, (64 * _CHUNK_BYTES) // per_row), 1))


def risk_derivatives(X, y, theta, K, fit_intercept, l2, chunk=None, hessian=True, weights=None):
    """Return ``(R, grad R, H, max |eta|, max |X|)`` at ``theta``; H is None if not asked for.

    Shapes: R scalar, grad (p,), H (p, p). ``weights`` (n,) or None: frequency weights.
    """
    n, d = X.shape
    q = d + int(fit_intercept)
    p = q * (K - 1)
    W = mn.unpack(theta, K, q)
    chunk = chunk or default_chunk(p, K)
    total = 0.0
    grad = np.zeros(p)
    H = np.zeros((p, p)) if hessian else None
    max_eta = 0.0
    max_x = 0.0
    for sl in row_chunks(n, chunk):
        Xt = mn.design(X[sl], fit_intercept)
        logP = mn.log_proba(Xt, W)
        yc = y[sl]
        wc = None if weights is None else weights[sl]
        lp = logP[np.arange(len(yc)), yc]
        total -= lp.sum() if wc is None else wc @ lp
        P = np.exp(logP)
        r = mn.residual(P, yc)
        grad += (Xt.T @ (r if wc is None else r * wc[:, None])).T.ravel()
        if hessian:
            S = mn.covariance(P)
            H += mn.hessian_sum(Xt, S if wc is None else S * wc[:, None, None])
        max_eta = max(max_eta, float(np.max(np.abs(logP - logP[:, :1]))))
        max_x = max(max_x, float(np.max(X[sl])), -float(np.min(X[sl])))
    mask = mn.penalty_mask(K, q, d)
    N = n if weights is None else float(weights.sum())
    R = total / N + l2 * float(np.sum(mask * theta ** 2))
    grad = grad / N + 2.0 * l2 * mask * theta
    if hessian:
        H /= N
        H[np.diag_indices(p)] += 2.0 * l2 * mask
    return R, grad, H, max_eta, max_x


def risk_value(X, y, theta, K, fit_intercept, l2, chunk=None, weights=None):
    """R(theta) alone (one pass, no gradient): what a line search needs."""
    n, d = X.shape
    q = d + int(fit_intercept)
    W = mn.unpack(theta, K, q)
    chunk = chunk or default_chunk(q * (K - 1), K)
    total = 0.0
    for sl in row_chunks(n, chunk):
        logP = mn.log_proba(mn.design(X[sl], fit_intercept), W)
        lp = logP[np.arange(sl.stop - sl.start), y[sl]]
        total -= lp.sum() if weights is None else weights[sl] @ lp
    mask = mn.penalty_mask(K, q, d)
    N = n if weights is None else float(weights.sum())
    return total / N + l2 * float(np.sum(mask * theta ** 2))
