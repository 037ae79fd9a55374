"""KFSVD's truncation of the mixed partials: a randomized SVD from two product functions.

The paper's KFSVD (Algorithms 5 and 7) replaces every M_i by a rank-k
truncated SVD. Here the truncation needs only two products, evaluated on all
rows of a chunk at once: ``forward(Z) = [M_i z_ij]`` and ``reverse(Q) =
[M_i^T q_ij]``. For autograd models they are a forward and a reverse pass
through the per-row gradients, so M_i is never formed.
"""

from dataclasses import dataclass

import numpy as np

from .._core.options import Options, boolean, nonneg_int, option


@dataclass(frozen=True)
class KFSVDOptions(Options):
    """Options of the rank-k truncation of M_i (``svd_rank``).

    Parameters
    ----------
    oversample : int, default 5
        Extra sketch columns: the sketch has ``l = min(d, k + oversample)``.
        With ``l = d`` the truncation is the exact rank-k SVD (no randomness).
    n_iter : int, default 1
        Power iterations (each costs two more products per column).
    seed : int, default 0
        Seed of the Gaussian sketch.
    exact_input_layer : bool, default False
        Networks from :func:`localinf.fit_mlp`: keep the input layer's term of
        M_i (:class:`InputLayerTerm`, d equal singular values) exactly and
        truncate only the rest (docs/curvature.md).
    """

    applies_to = "svd_rank (KFSVD)"
    oversample: int = option(5, nonneg_int)
    n_iter: int = option(1, nonneg_int)
    seed: int = option(0, nonneg_int)
    exact_input_layer: bool = option(False, boolean)


def truncate(forward, reverse, m, d, k, options):
    """Rank-k factors of every M_i in a chunk (Halko, Martinsson & Tropp 2011, Alg. 4.4).

    A sketch ``Y_i = M_i Omega`` with ``l = min(d, k + oversample)`` Gaussian
    columns, ``n_iter`` power iterations (orthonormalised in between),
    ``B_i = Q_i^T M_i``, and the SVD of the small ``B_i``. Cost: ``l (2 n_iter
    + 2)`` products per chunk, whatever p. With ``l = d`` the sketch spans R^d,
    so ``Q_i B_i = M_i`` and the truncation is the exact rank-k SVD
    (Eckart-Young); below that its error is at most a modest factor above the
    optimal one (sigma_{k+1}), and power iterations shrink that factor.

    Parameters
    ----------
    forward : callable
        ``Z (m, d, l) -> [M_i z_ij] (m, p, l)``.
    reverse : callable
        ``Q (m, p, l) -> [M_i^T q_ij] (m, d, l)``.
    m, d, k : int
        Rows, input dimension, rank.
    options : KFSVDOptions

    Returns
    -------
    US : ndarray (m, p, k)
        Left singular vectors scaled by the singular values.
    V : ndarray (m, d, k)
        Right singular vectors.
    """
    l = min(d, k + int(options.oversample))
    if l == d:
        Omega = np.broadcast_to(np.eye(d), (m, d, d))
    else:
        Omega = np.random.default_rng(options.seed).standard_normal((m, d, l))
    Q = np.linalg.qr(forward(Omega))[0]
    if l < d:
        for _ in range(int(options.n_iter)):
            Z = np.linalg.qr(reverse(Q))[0]
            Q = np.linalg.qr(forward(Z))[0]
    Bt = reverse(Q)  # (m, d, l) = (Q_i^T M_i)^T
    Vb, S, Ubt = np.linalg.svd(Bt, full_matrices=False)  # Bt = Vb S Ub^T
    US = np.einsum("ipl,ilk->ipk", Q, np.transpose(Ubt, (0, 2, 1))[:, :, :k]) * S[:, None, :k]
    return US, np.ascontiguousarray(Vb[:, :, :k])


class InputLayerTerm:
    """The full-rank part of M_i that a network's input layer contributes.

    For a first layer ``s_1 = x W_1 + b_1`` the per-row gradient's W_1
    block is ``x_i delta_i^T`` with ``delta_i = dL_i/ds_1`` (the b_1 block).
    Its derivative in x has two terms: ``(d delta_i/dx) x_i^T``, which varies
    with x through the network, and ``omega delta_i^T``: the map
    ``omega -> omega delta_i^T`` scatters omega into the W_1 block scaled by
    delta_i, so all its d singular values equal ``||delta_i||``. That flat
    floor is what a rank-k truncation of M_i cannot hold for k < d; this
    object applies it exactly (O(m p) memory, no passes), and KFSVD then
    truncates only the rest, ``M_i - E_i``.

    Parameters
    ----------
    delta : ndarray (m, h1)
        ``dL_i/ds_1`` per row.
    d : int
        Input dimension; the W_1 block is ``theta[:d * h1]``, row-major (d, h1).
    p : int
    """

    def __init__(self, delta, d, p):
        self.delta, self.d, self.p = delta, d, p
        self.h = delta.shape[1]

    @classmethod
    def of(cls, model, theta, X, y):
        """The term for rows (X, y) of a network at parameters theta.

        Parameters
        ----------
        model : MLP
        theta : ndarray (p,)
        X, y : ndarray (m, d) and (m,)
            The chunk's rows.

        Returns
        -------
        InputLayerTerm
        """
        d, h1 = X.shape[1], model.layer_sizes_[1]
        grads = np.asarray(model.loss_grad_fn(theta, X, y))
        return cls(grads[:, d * h1:(d + 1) * h1], d, theta.size)  # the b_1 block

    def __call__(self, Z):
        """``E_i z_ij`` (m, p, l) for Z (m, d, l)."""
        return self.add_to(np.zeros((Z.shape[0], self.p, Z.shape[2])), Z)

    def add_to(self, Y, Z, sign=1.0):
        """``Y + sign E_i z_ij``, in place: only the W_1 block is touched, so no
        second (m, p, l) array is made.

        Parameters
        ----------
        Y : ndarray (m, p, l)
            Modified in place.
        Z : ndarray (m, d, l)
        sign : float, default 1

        Returns
        -------
        ndarray (m, p, l)
            ``Y`` itself.
        """
        m, _, l = Z.shape
        Y[:, :self.d * self.h] += sign * np.einsum("ikl,ij->ikjl", Z, self.delta).reshape(m, -1, l)
        return Y

    def T_one(self, w):
        """``E_i^T w`` for one w and every row: ``delta_i`` against w's W_1 block.

        Parameters
        ----------
        w : ndarray (p,)
            Only its W_1 block is read.

        Returns
        -------
        ndarray (m, d)
        """
        return self.delta @ w[:self.d * self.h].reshape(self.d, self.h).T

    def T(self, W):
        """``E_i^T w_ia`` for a stack of vectors per row.

        Parameters
        ----------
        W : ndarray (m, a, p)

        Returns
        -------
        ndarray (m, d, a)
        """
        m, a, _ = W.shape
        W1 = W[:, :, :self.d * self.h].reshape(m, a, self.d, self.h)
        return np.einsum("iakj,ij->ika", W1, self.delta)
