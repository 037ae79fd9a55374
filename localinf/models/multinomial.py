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
    the other probabilities, which avoids cancellation when pi_k is near 1.
    """
    pi = P[:, 1:]
    S = -pi[:, :, None] * pi[:, None, :]
    comp = P.sum(axis=1, keepdims=True) - pi  # 1 - pi_k without cancellation
    comp = np.maximum(comp, 0.0)
    idx = np.arange(pi.shape[1])
    S[:, idx, idx] = pi * comp
    return S


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
    St = np.einsum("ikl,il->ik", S, t)
    return r @ Wm[:d].T + St @ B.T


def mixed_T_rows(Xt, d, r, S, B, W):
    """``M_i^T w_ia`` for a different stack of vectors per row, W (m, a, p) -> (m, d, a)."""
    m, q = Xt.shape
    k1 = r.shape[1]
    Wm = W.reshape(m, W.shape[1], k1, q)  # per row and a: the matrix form (K-1, q)
    out = np.einsum("iakd,ik->ida", Wm[..., :d], r)
    t = np.einsum("iakj,ij->iak", Wm, Xt)  # Wm^T xt
    St = np.einsum("ikl,ial->iak", S, t)
    out += np.einsum("dk,iak->ida", B, St)
    return out


def mixed(Xt, d, r, S, B, U):
    """``M_i u_ij`` for every row i and column j of ``U`` (m, d, k) -> (m, k, p)."""
    m, q = Xt.shape
    k1 = r.shape[1]
    kk = U.shape[2]
    out = np.zeros((m, kk, k1, q))
    # [u; 0] r^T  -> block k, first d entries: r_k u
    out[:, :, :, :d] = np.einsum("ik,idj->ijkd", r, U)
    # xt (S B^T u)^T -> block k: xt * (S B^T u)_k
    SBu = np.einsum("ikl,dl,idj->ijk", S, B, U)
    out += SBu[:, :, :, None] * Xt[:, None, None, :]
    return out.reshape(m, kk, k1 * q)
