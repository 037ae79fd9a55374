"""Closed forms of the multinomial logit family.

Binary logistic regression is the case K = 2 of everything here.

Parameterisation (the same as statsmodels' ``MNLogit``): class 0 is the
reference class with linear predictor 0; class k = 1..K-1 has
``eta_k = x . beta_k + b_k``. With the augmented input ``xt = (x, 1)`` (or ``x``
without an intercept, q = d or d + 1 entries) the parameter matrix is
``W = [w_1 ... w_{K-1}]`` of shape (q, K-1), ``w_k = (beta_k, b_k)``, and the flat
parameter vector ``theta`` of length p = q (K-1) stacks the columns class by
class: ``theta[k*q:(k+1)*q] = w_{k+1}``. ``B = W[:d]`` (d, K-1) holds the slopes.

Per sample, with ``P`` the K class probabilities, ``pi = P[1:]`` and ``e_y`` the
one-hot label restricted to classes 1..K-1:

* loss ``L = -log P_y``; gradient ``grad_theta L = vec(xt r^T)`` with ``r = pi - e_y``;
* Hessian ``S kron xt xt^T`` with ``S = diag(pi) - pi pi^T``;
* mixed partial ``M = d/dx grad_theta L`` (p, d): its block k is
  ``r_k E + xt (S B^T)_k``, ``E = [I_d; 0]``. Hence, for w in R^p with matrix form
  ``Wm`` (q, K-1) and u in R^d,
  ``M^T w = Wm[:d] r + B S (Wm^T xt)`` and ``M u = vec([u; 0] r^T + xt (S B^T u)^T)``;
* per class c, ``grad_theta log P_c = vec(xt (e_c - pi)^T)`` (e_0 = 0) and
  ``grad_x log P_c = B (e_c - pi)``, so ``grad_x (log P_a - log P_0) = B e_a``.

The class-indicator factor :func:`class_indicator_factor` is not specific to
the logit: it belongs to any classifier with K class probabilities, and both
backends use it for the metric G_i.

Every function works on a chunk of rows at once; nothing loops over samples.
"""

import numpy as np
from scipy.special import logsumexp
from threadpoolctl import ThreadpoolController

from .._core.chunks import row_chunks

# Per-row (d, mq) blocks of projected_mixed_T are formed this many bytes at a time.
_CACHE_BYTES = 1 << 19


def design(X, fit_intercept):
    """Augmented inputs ``xt`` of shape (m, q)."""
    if not fit_intercept:
        return X
    Xt = np.empty((X.shape[0], X.shape[1] + 1))
    Xt[:, :-1] = X
    Xt[:, -1] = 1.0
    return Xt


def unpack(theta, K, q):
    """Parameter matrix ``W`` (q, K-1) from the flat ``theta`` (p,)."""
    return theta.reshape(K - 1, q).T


def penalty_mask(K, q, d):
    """1 on slope entries of theta, 0 on intercepts (p,)."""
    mask = np.zeros((K - 1, q))
    mask[:, :d] = 1.0
    return mask.ravel()


def log_proba(Xt, W):
    """Log class probabilities (m, K), computed stably."""
    if W.shape[1] == 1:  # binary: log sigmoid(+-eta) without overflow
        eta = Xt @ W[:, 0]
        return np.column_stack([-np.logaddexp(0.0, eta), -np.logaddexp(0.0, -eta)])
    eta = np.zeros((Xt.shape[0], W.shape[1] + 1))
    eta[:, 1:] = Xt @ W
    return eta - logsumexp(eta, axis=1, keepdims=True)


def residual(P, y):
    """``r = pi - e_y`` (m, K-1)."""
    r = P[:, 1:].copy()
    rows = np.flatnonzero(y > 0)
    r[rows, y[rows] - 1] -= 1.0
    return r


def covariance(P):
    """``S = diag(pi) - pi pi^T`` (m, K-1, K-1).

    The diagonal is formed as ``pi_k * (1 - pi_k)`` with ``1 - pi_k`` summed from
    the other probabilities, which avoids cancellation when pi_k is near 1
    (``sum(P) - pi_k`` suffices where pi_k <= 1/2; the one class above 1/2, if
    any, gets the sum of the others).
    """
    pi = P[:, 1:]
    m, k1 = pi.shape
    S = np.multiply(pi[:, :, None], pi[:, None, :])
    np.negative(S, out=S)
    comp = P.sum(axis=1, keepdims=True) - pi  # 1 - pi_k, exact enough where pi_k <= 1/2
    top = np.argmax(pi, axis=1)
    rows = np.flatnonzero(pi[np.arange(m), top] > 0.5)
    if rows.size:
        others = P[rows].copy()
        others[np.arange(rows.size), top[rows] + 1] = 0.0
        comp[rows, top[rows]] = others.sum(axis=1)
    comp = np.maximum(comp, 0.0)
    S.reshape(m, k1 * k1)[:, ::k1 + 1] = pi * comp  # the diagonal
    return S


def indicator_cholesky(P):
    """Lower-triangular ``L_i`` (m, K-1, K-1) with ``L_i L_i^T = S_i = diag(pi) - pi pi^T``.

    A square factor of the class-indicator covariance (the one of
    :func:`class_indicator_factor` has K columns and a null vector
    ``sqrt(P)``): with the tail masses ``t_k = P_0 + sum_{j>k} pi_j`` (so
    ``t_0 = 1``), ``L_kk = sqrt(pi_k t_k / t_{k-1})`` and
    ``L_jk = -pi_j sqrt(pi_k / (t_{k-1} t_k))`` for j > k. The tails are sums of
    probabilities, never differences, so every entry keeps its relative
    precision when some P_c are near 0 or 1. A zero tail gives a zero column.
    """
    m, K = P.shape
    pi = P[:, 1:]
    before = np.cumsum(pi[:, ::-1], axis=1)[:, ::-1] + P[:, :1]  # t_{k-1} = P_0 + sum_{j >= k} pi_j
    after = np.empty_like(before)  # t_k = P_0 + sum_{j > k} pi_j
    after[:, :-1] = before[:, 1:]
    after[:, -1] = P[:, 0]
    denom = np.sqrt(before) * np.sqrt(after)
    coef = np.zeros_like(pi)
    np.divide(np.sqrt(pi), denom, out=coef, where=denom > 0)
    L = np.tril(-pi[:, :, None] * coef[:, None, :], -1)
    L.reshape(m, (K - 1) ** 2)[:, ::K] = coef * after
    return L


def class_indicator_factor(P):
    """``E_i`` (m, K-1, K) with ``E_i E_i^T = S_i``, the covariance of the class indicators 1..K-1.

    Column c of E_i is ``sqrt(P_c) (e_c - pi_i)`` (e_0 = 0), so for a classifier
    with tangents ``w_ia = v_ia - v_i0`` (a = 1..K-1) the metric
    ``G_i = sum_c P_c v_ic v_ic^T`` factors as ``(W_i E_i)(W_i E_i)^T`` without a
    matrix square root.
    """
    sqrtP = np.sqrt(P)
    E = -P[:, 1:, None] * sqrtP[:, None, :]
    idx = np.arange(P.shape[1] - 1)
    E[:, idx, idx + 1] += sqrtP[:, 1:]
    return E


def logp_grads(Xt, P):
    """``grad_theta log P(c|x_i)`` for every row and class (m, K, p).

    Block k of class c is ``(1{c = k} - pi_k) xt``, in the class-major layout of theta.
    """
    m, q = Xt.shape
    K = P.shape[1]
    R = np.eye(K)[None, :, 1:] - P[:, None, 1:]  # (m, K, K-1): e_c - pi
    return (R[:, :, :, None] * Xt[:, None, None, :]).reshape(m, K, (K - 1) * q)


def per_sample_grad(Xt, r):
    """``grad_theta L`` for every row (m, p)."""
    m, q = Xt.shape
    return (r[:, :, None] * Xt[:, None, :]).reshape(m, -1)


def hessian_sum(Xt, S):
    """``sum_i S_i kron xt_i xt_i^T`` (p, p) for a chunk of rows."""
    m, q = Xt.shape
    k1 = S.shape[1]
    H = np.empty((k1 * q, k1 * q))
    if k1 == 1:
        Xs = Xt * np.sqrt(S[:, 0, 0])[:, None]
        H[:] = Xs.T @ Xs  # symmetric rank-m update (syrk)
        return H
    # The upper blocks of row k at once, sum_i xt_i (S_i[k, k:] kron xt_i)^T: one
    # (q, m) x (m, (k1 - k) q) product per k, K - 1 in all rather than (K - 1)^2 / 2 small
    # ones (at K = 1000 the per-block products cost minutes); the lower blocks mirror them.
    for k in range(k1):
        row = Xt.T @ (S[:, k, k:, None] * Xt[:, None, :]).reshape(m, (k1 - k) * q)
        H[k * q:(k + 1) * q, k * q:] = row
        H[(k + 1) * q:, k * q:(k + 1) * q] = row[:, q:].T
    return H


def mixed_T(Xt, d, r, S, B, w):
    """``M_i^T w`` for one w and every row (m, d)."""
    k1 = r.shape[1]
    Wm = w.reshape(k1, -1).T  # (q, K-1)
    t = Xt @ Wm  # (m, K-1): Wm^T xt_i
    if k1 == 1:
        out = np.multiply.outer(r[:, 0], Wm[:d, 0])
        out += np.multiply.outer(S[:, 0, 0] * t[:, 0], B[:, 0])
        return out
    St = np.matmul(S, t[:, :, None])[:, :, 0]
    out = r @ Wm[:d].T
    out += St @ B.T
    return out


def mixed_T_rows(Xt, d, r, S, B, W):
    """``M_i^T w_ia`` for a different stack of vectors per row, W (m, a, p) -> (m, d, a)."""
    m, q = Xt.shape
    k1 = r.shape[1]
    a = W.shape[1]
    Wm = W.reshape(m, a, k1, q)  # per row and a: the matrix form (K-1, q)
    out = np.matmul(r[:, None, None, :], Wm[..., :d])[:, :, 0, :]  # (m, a, d): Wm[:d] r
    t = np.matmul(Wm, Xt[:, None, :, None])  # (m, a, K-1, 1): Wm^T xt
    St = np.matmul(S[:, None], t)[..., 0]  # (m, a, K-1)
    out += (St.reshape(m * a, k1) @ B.T).reshape(m, a, d)
    return np.swapaxes(out, 1, 2)


def mixed(Xt, d, r, S, B, U):
    """``M_i u_ij`` for every row i and column j of ``U`` (m, d, k) -> (m, k, p)."""
    m, q = Xt.shape
    k1 = r.shape[1]
    kk = U.shape[2]
    # xt (S B^T u)^T -> block k: xt * (S B^T u)_k
    SBu = np.matmul(S, np.matmul(B.T, U))  # (m, K-1, k)
    out = np.swapaxes(SBu, 1, 2)[:, :, :, None] * Xt[:, None, None, :]  # (m, k, K-1, q)
    # [u; 0] r^T  -> block k, first d entries: r_k u
    out[:, :, :, :d] += r[:, None, :, None] * np.swapaxes(U, 1, 2)[:, :, None, :]
    return out.reshape(m, kk, k1 * q)


# -- softmax (K > 2) kernels for the metric and pairwise FI ---------------------------------
# Their products are small (a chunk of rows against a few hundred columns) and run on
# one BLAS thread: on cores shared with other work, threaded OpenBLAS was seen ~20x
# slower on them (threads waiting on each other), as for the fit (glm.py). The
# controller is found once (finding the BLAS libraries reads /proc, ~ms).
_BLAS = []


def _one_blas_thread():
    if not _BLAS:
        _BLAS.append(ThreadpoolController())
    return _BLAS[0].limit(limits=1, user_api="blas")

def class_blocks(Hinv, K, q):
    """H^{-1} rearranged (q, (K-1)^2 q) so that ``Xt @ class_blocks`` holds
    ``Z[i, k, l, a] = (H^{-1} (e_l kron xt_i))[k q + a]``: block k of H^{-1} applied
    to xt_i in class slot l, for every pair of classes (one GEMM per chunk)."""
    k1 = K - 1
    blocks = Hinv.reshape(k1, q, k1, q).transpose(1, 2, 0, 3).reshape(q, k1 * k1 * q)
    return np.asfortranarray(blocks)


def tangents_T(Xt, d, r, S, B, blocks, n):
    """Transposed tangents ``A_i^T`` (m, K-1, d) of the metric, K > 2.

    ``A_i = B - (1/n)(Wm[:d] r + B S (Wm^T xt))`` column l with
    ``w = H^{-1}(e_l kron xt_i)``. From ``Z`` (:func:`class_blocks`):
    ``sum_k r_k Z[i, k, l, :]`` (the first term, transposed) and
    ``t[k, l] = xt_i . Z[i, k, l, :] = (e_k kron xt_i)^T H^{-1} (e_l kron xt_i)``,
    each one batched product per row; the last term is one GEMM with B^T.
    """
    with _one_blas_thread():
        return _tangents_T(Xt, d, r, S, B, blocks, n)


def _tangents_T(Xt, d, r, S, B, blocks, n):
    m, q = Xt.shape
    k1 = r.shape[1]
    Z = Xt @ blocks  # (m, (K-1)^2 q)
    first = np.matmul(r[:, None, :], Z.reshape(m, k1, k1 * q)).reshape(m, k1, q)
    t = np.matmul(Z.reshape(m, k1 * k1, q), Xt[:, :, None]).reshape(m, k1, k1)
    StT = np.ascontiguousarray(np.swapaxes(np.matmul(S, t), 1, 2))  # (S t)^T
    AT = (StT.reshape(m * k1, k1) @ B.T).reshape(m, k1, d)
    AT += first[:, :, :d]
    AT *= -1.0 / n
    AT += B.T
    return AT


def pool_blocks(W, K, q, d):
    """Layouts of pool vectors W (p, mq) (e.g. ``H^{-1} grad L(z_q)``) for
    :func:`projected_mixed_T`: ``(Wx, Wr)`` with ``Xt @ Wx`` giving
    ``Wm_q^T xt_i`` (q, (K-1) mq) and ``r @ Wr`` giving ``Wm_q[:d] r_i`` (K-1, d mq)."""
    k1 = K - 1
    mq = W.shape[1]
    Wm = W.reshape(k1, q, mq)  # [l, a, j] = (Wm_j)[a, l]
    Wx = np.ascontiguousarray(Wm.transpose(1, 0, 2)).reshape(q, k1 * mq)
    Wr = np.ascontiguousarray(Wm[:, :d, :]).reshape(k1, d * mq)
    return Wx, Wr


def projected_mixed_T(Xt, r, S, B, U, pool):
    """``u_ij . (M_i^T w_q)`` for every row i, column j of U_i and pool vector q: (m, k, mq).

    ``M_i^T w = Wm[:d] r_i + B S_i (Wm^T xt_i)``, so with ``Y_i = U_i^T B S_i``
    (k, K-1) the product is ``U_i^T (Wm_q[:d] r_i) + Y_i (Wm_q^T xt_i)``: per row
    and pool vector about (K-1)(2d + q) multiply-adds, instead of the (K-1)^2 q
    of ``(M_i u_ij) . w_q``. ``pool`` is :func:`pool_blocks` of the w_q.
    """
    with _one_blas_thread():
        return _projected_mixed_T(Xt, r, S, B, U, pool)


def _projected_mixed_T(Xt, r, S, B, U, pool):
    Wx, Wr = pool
    m, q = Xt.shape
    k1 = r.shape[1]
    d = B.shape[0]
    mq = Wx.shape[1] // k1
    Ut = np.swapaxes(U, 1, 2)  # (m, k, d)
    Y = np.matmul(np.matmul(Ut, B), S)  # (m, k, K-1)
    out = np.matmul(Y, (Xt @ Wx).reshape(m, k1, mq))
    # Wm[:d] r_i is (d, mq) per row: blocks of rows small enough to stay in cache
    for sl in row_chunks(m, _CACHE_BYTES // (8 * d * mq)):
        part = (r[sl] @ Wr).reshape(-1, d, mq)
        out[sl] += np.matmul(Ut[sl], part)
    return out
