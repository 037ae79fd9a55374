"""The exact Hessian and Gauss-Newton matrix of a dense network's loss, block by block.

Layer l of the network computes ``s_l = a_l W_l + b_l`` from its input
``a_l`` (``a_0 = x``, ``a_{l+1} = sigma(s_l)``), and the last pre-activation
``s_L`` holds the K - 1 logits of classes 1..K-1 (class 0 has logit 0). Write
the layer's parameters as one matrix ``V_l = [W_l; b_l]`` acting on
``abar_l = (a_l, 1)``: flattened row-major, ``V_l`` is the layer's slice of
the flat theta. For one row, with ``l(s)`` its weighted cross-entropy:

* ``g_l = dl/ds_l``, the backward pass: ``g_L = w (P - Y)`` on classes 1..K-1,
  ``g_l = sigma'(s_l) * (W_{l+1} g_{l+1})``;
* ``Q_lm = d^2 l / ds_l ds_m``, each ``s_l`` read as a free offset added to the
  pre-activation: ``Q_LL = w (diag P - P P^T)``, and for l < m
  ``Q_lm = diag(sigma'_l) W_{l+1} Q_{l+1,m}`` and
  ``Q_ll = Q_{l,l+1} W_{l+1}^T diag(sigma'_l) + diag(sigma''_l * (W_{l+1} g_{l+1}))``;
* ``T_lm = d a_m / d s_l`` (l < m), the Jacobian of layer m's input.

Since ``dl/dV_l[a, b] = abar_l[a] g_l[b]`` and mixed partials commute,

    d^2 l / dV_l[a, b] dV_m[c, d] = abar_l[a] (abar_m[c] Q_lm[b, d] + T_lm[b, c] g_m[d])

(l <= m; the second term is absent for l = m, and for the bias row ``c``).
Summed over rows, the first term of a block is one matrix product per row
chunk, ``Z^T Q`` with ``Z[i, (a, c)] = abar_l[i, a] abar_m[i, c]``: about
``n p_l p_m`` multiply-adds for the (p_l, p_m) block, where p Hessian-vector
products would cost a few passes over the network each. On a diagonal block
only the pairs a <= c are formed (the block is symmetric), and the lower
triangle of the result is copied from the upper one.

The Gauss-Newton matrix ``J^T S J`` is the same sum with ``sigma''`` and the
``T`` term left out: its offset curvature ``A_l^T S A_m`` (``A_l = ds_L/ds_l``)
obeys the recursion above without the ``sigma''`` diagonal.
"""

import warnings

import numpy as np
from autograd import elementwise_grad

from .._core.chunks import row_chunks

# Budgets in float64 entries (128 MiB each): the per-row curvature pieces of a
# row chunk (Q, T), which set the rows per chunk; and one product's output (a
# slice of a parameter block), which sets how many rows of V_l go in one product.
_PART_ENTRIES = 1 << 24
_BLOCK_ENTRIES = 1 << 24
# Square tiles of the final upper-to-lower copy.
_MIRROR_TILE = 256


def mlp_curvature(params, activation, X, y, weights=None, gauss_newton=False, free=None):
    """Row sum of ``w_i`` times the Hessian of the loss of a dense network (or its GGN).

    Parameters
    ----------
    params : list of (ndarray (d_in, d_out), ndarray (d_out,))
        ``(W_l, b_l)`` per layer; the last layer gives the K - 1 logits of
        classes 1..K-1, class 0 being the reference with logit 0.
    activation : callable
        Elementwise activation of the hidden layers, differentiable by autograd
        (its first and second derivatives are taken with ``elementwise_grad``,
        so they follow autograd's conventions at kinks).
    X : ndarray (n, d)
    y : ndarray of int (n,)
        Labels 0..K-1.
    weights : ndarray (n,), optional
        Row weights ``w_i`` (default: all one).
    gauss_newton : bool, default False
        True: the Gauss-Newton part ``sum_i w_i J_i^T S_i J_i`` only.
    free : ndarray of int (q,), optional
        Indices into the flat parameters (the layers' ``(W, b)`` in order, each
        ``W`` row-major): the matrix over these only, computed from the blocks
        of the layers they fall in. Default: all p parameters.

    Returns
    -------
    ndarray (p, p) or (q, q)
        Symmetric. Not divided by ``sum_i w_i``, no penalty.
    """
    sizes = [W.size + b.size for W, b in params]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    if free is None:
        layers = list(range(len(params)))
    else:
        free = np.asarray(free, dtype=np.int64)
        layers = sorted(set((np.searchsorted(starts, free, side="right") - 1).tolist()))
    offset = dict(zip(layers, np.cumsum([0] + [sizes[l] for l in layers]).tolist()))
    q = offset[layers[-1]] + sizes[layers[-1]]
    H, work = touched((q, q)), _Work()
    units = [W.shape[1] for W, _ in params]
    L, lo = len(params), layers[0]
    per_row = sum(units[l] * units[m] for l in range(lo, L) for m in range(l, L))
    if not gauss_newton:
        per_row += sum(units[l] * units[m - 1] for l in layers for m in layers if m >= l + 2)
    for sl in row_chunks(X.shape[0], max(1, _PART_ENTRIES // per_row)):
        rows = _RowCurvature(params, activation, X[sl], y[sl],
                             None if weights is None else weights[sl], gauss_newton, layers)
        for k, l in enumerate(layers):
            for m in layers[k:]:
                block = H[offset[l]:offset[l] + sizes[l], offset[m]:offset[m] + sizes[m]]
                # a view (splitting axes never copies): (rows of V_l, units_l, rows of V_m, units_m)
                rows.add_block(block.reshape(params[l][0].shape[0] + 1, units[l],
                                             params[m][0].shape[0] + 1, units[m]), l, m, work)
    mirror_upper(H)
    if free is None:
        return H
    kept = np.concatenate([np.arange(starts[l], starts[l + 1]) for l in layers])
    at = np.searchsorted(kept, free)
    return H[np.ix_(at, at)]


def mirror_upper(H):
    """Copy the strict upper triangle of a square matrix onto its lower one, in place.

    Parameters
    ----------
    H : ndarray (q, q)

    Returns
    -------
    ndarray (q, q)
        ``H`` itself, now symmetric.
    """
    tiles = list(row_chunks(H.shape[0], _MIRROR_TILE))  # square tiles keep both sides in cache
    for k, rows in enumerate(tiles):
        tile = H[rows, rows]
        low = np.tril_indices(rows.stop - rows.start, -1)
        tile[low] = tile.T[low]
        for cols in tiles[k + 1:]:
            H[cols, rows] = H[rows, cols].T
    return H


def _second_derivative(slope, s):
    """``sigma''(s)``. For a piecewise linear activation (ReLU) it is zero, which
    autograd returns with a warning that the slope does not depend on s."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Output seems independent of input")
        return np.asarray(elementwise_grad(slope)(s))


def _with_ones(a):
    return np.concatenate([a, np.ones((a.shape[0], 1))], axis=1)


class _RowCurvature:
    """Forward and backward quantities of one row chunk, and the blocks they add."""

    def __init__(self, params, activation, X, y, w, gauss_newton, layers):
        L, lo = len(params), layers[0]
        self.gauss_newton = gauss_newton
        slope = elementwise_grad(activation)
        s, inputs = [], [X]
        for l, (W, b) in enumerate(params):
            s.append(inputs[-1] @ W + b)
            if l < L - 1:
                inputs.append(np.asarray(activation(s[-1])))
        self.inputs = [_with_ones(a) if l in layers else None for l, a in enumerate(inputs)]
        self.d1 = [np.asarray(slope(v)) for v in s[:-1]]
        # probabilities of classes 1..K-1; class 0 is the reference with logit 0
        z = np.concatenate([np.zeros((X.shape[0], 1)), s[-1]], axis=1)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        prob = (z / z.sum(axis=1, keepdims=True))[:, 1:]
        w = np.ones(X.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
        K1 = prob.shape[1]
        g = [None] * L
        g[-1] = w[:, None] * (prob - np.eye(K1 + 1)[y][:, 1:])
        # Q[l, m] is stored (units_l, rows, units_m): each step of the recursion is then
        # one flat matrix product with W
        S = np.eye(K1)[:, None, :] * prob.T[:, :, None] - prob.T[:, :, None] * prob[None]
        Q = {(L - 1, L - 1): S * w[None, :, None]}
        for l in range(L - 2, lo - 1, -1):
            W = params[l + 1][0]
            back = g[l + 1] @ W.T  # W_{l+1} g_{l+1}, row by row
            g[l] = self.d1[l] * back
            r, du = X.shape[0], W.shape[0]
            for m in range(l + 1, L):
                prev = Q[l + 1, m]
                Q[l, m] = (W @ prev.reshape(prev.shape[0], -1)).reshape(du, r, -1) \
                    * self.d1[l].T[:, :, None]
            Q[l, l] = (Q[l, l + 1].reshape(du * r, -1) @ W.T).reshape(du, r, du) \
                * self.d1[l][None]
            if not gauss_newton:
                diag = np.arange(du)
                Q[l, l][diag, :, diag] += (_second_derivative(slope, s[l]) * back).T
        self.g, self.Q = g, Q
        # T[l, m] = d a_m / d s_l for m >= l + 2 (m = l + 1 is diag(sigma'_l), used as such)
        self.T = {}
        if not gauss_newton:
            for k, l in enumerate(layers):
                far = [m for m in layers[k:] if m >= l + 2]
                J = None
                for m in range(l + 2, max(far, default=l) + 1):
                    J = (self.d1[l][:, :, None] * params[l + 1][0]) if J is None \
                        else (J.reshape(-1, J.shape[2]) @ params[m - 1][0]).reshape(
                            J.shape[0], J.shape[1], -1)
                    J = J * self.d1[m - 1][:, None, :]
                    if m in far:
                        self.T[l, m] = J

    def add_block(self, view, l, m, work):
        """Add this chunk's share of block (l, m), l <= m, to ``view`` (a', units_l, c', units_m)."""
        left, right = self.inputs[l], self.inputs[m]
        r, n_a, n_c = left.shape[0], left.shape[1], right.shape[1]
        du, _, dv = self.Q[l, m].shape
        Q = work.get("Q", r, du, dv)
        np.copyto(Q, self.Q[l, m].transpose(1, 0, 2))
        Q = Q.reshape(r, du * dv)
        for piece in row_chunks(n_a, max(1, _BLOCK_ENTRIES // (n_c * max(du * dv, r)))):
            a_s = np.arange(piece.start, piece.stop)
            if l == m:  # symmetric block: the pairs a <= c only
                ends = np.cumsum(n_c - a_s)
                Z = work.get("Z", r, ends[-1])
                for a, k in zip(a_s, ends):
                    np.multiply(left[:, a, None], right[:, a:], out=Z[:, k - n_c + a:k])
                C = np.matmul(Z.T, Q, out=work.get("C", ends[-1], du * dv))
                for a, k in zip(a_s, ends):
                    view[a, :, a:, :] += C[k - n_c + a:k].reshape(-1, du, dv).transpose(1, 0, 2)
            else:
                Z = work.get("Z", r, a_s.size, n_c)
                np.multiply(left[:, piece, None], right[:, None, :], out=Z)
                Z = Z.reshape(r, -1)
                C = np.matmul(Z.T, Q, out=work.get("C", Z.shape[1], du * dv))
                view[piece] += C.reshape(-1, n_c, du, dv).transpose(0, 2, 1, 3)
        if self.gauss_newton or l == m:
            return
        g = self.g[m]
        if m == l + 1:  # T = diag(sigma'_l): only c = b
            E = (left[:, :, None] * self.d1[l][:, None, :]).reshape(r, -1).T @ g
            diag = np.arange(du)
            view[:, diag, diag, :] += E.reshape(n_a, du, dv)
            return
        T = self.T[l, m].reshape(r, -1)
        for piece in row_chunks(n_a, max(1, _BLOCK_ENTRIES // (dv * max(T.shape[1], r)))):
            Z = work.get("Z", r, piece.stop - piece.start, dv)
            np.multiply(left[:, piece, None], g[:, None, :], out=Z)
            Z = Z.reshape(r, -1)
            C = np.matmul(Z.T, T, out=work.get("C", Z.shape[1], T.shape[1]))
            view[piece, :, :n_c - 1, :] += C.reshape(-1, dv, du, n_c - 1).transpose(0, 2, 3, 1)


class _Work:
    """Work buffers reused from product to product.

    The first write to each page of a fresh allocation costs a page fault, and
    the scattered writes of a matrix product or a transposed add pay that far
    more than one sequential pass: every buffer, and the result, is touched once
    in order and then reused.
    """

    def __init__(self):
        self.buffers = {}

    def get(self, name, *shape):
        size = int(np.prod(shape))
        if self.buffers.get(name, np.empty(0)).size < size:
            self.buffers[name] = touched(size)
        return self.buffers[name][:size].reshape(shape)


def touched(shape):
    """A zero array whose pages are all mapped (filled in one sequential pass).

    Parameters
    ----------
    shape : int or tuple of int

    Returns
    -------
    ndarray of float64, of that shape
    """
    out = np.empty(shape)
    out.fill(0.0)
    return out
