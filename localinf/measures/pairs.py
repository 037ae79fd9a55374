"""FI of pairs of training points perturbed together (the paper's Appendix E.4)."""

import numpy as np

from .._core.checks import check_finite_result, check_positive_int
from .._core.chunks import row_chunks
from ..exceptions import InputError
from ..models.multinomial import covariance
from .pinv import eig_of_matrix, pinv_quadratic


def fi_pairs(inf, X_val, y_val, max_pairs=200_000):
    """FI_util of every pair of training rows perturbed together (the masking-effect variant).

    For a pair (i, j) the perturbation is ``omega = (omega_i, omega_j)`` in
    R^{2d}; ``D = [D_i, D_j]`` (p, 2d), ``g = D^T gbar_V`` and the metric is
    the Fisher information of the two points' predictive distributions,
    ``G = sum_{k in {i,j}} W_k S_k W_k^T`` with ``W_k`` the (2d, K-1)
    class-difference tangents of point k (see :meth:`Rows.tangents
    <localinf.backends.Rows.tangents>`). The value is ``g^T G^+ g`` with the
    rank cut-off of ``inf``. Cost: O(n^2 (K d p + d^3)) time and n^2 / 2
    pseudo-inverses of size 2d, refused above ``max_pairs`` pairs.

    Parameters
    ----------
    inf : LocalInfluence
    X_val : array_like (m, d)
    y_val : array_like (m,)
    max_pairs : int, default 200000

    Returns
    -------
    i, j : ndarray of int (n (n - 1) / 2,)
        The pairs (i < j).
    fi : ndarray (n (n - 1) / 2,)
        Their FI values.
    """
    n, d, p = inf.n_, inf.d_, inf.p_
    max_pairs = check_positive_int(max_pairs, "max_pairs")
    if n * (n - 1) // 2 > max_pairs:
        raise InputError(f"fi_paired needs n (n - 1) / 2 <= max_pairs = {max_pairs} pairs; got n = {n}")
    gbar = inf.against(X_val, y_val).gbar_  # aligned, checked, in-sample warning
    rows = inf._rows(slice(0, n))
    A = rows.logp_grad  # (n, K, p)
    Ad = A[:, 1:] - A[:, :1]  # (n, K-1, p)
    Bd = rows.logp_x_diff  # (n, K-1, d)
    S = covariance(rows.proba)  # (n, K-1, K-1)
    Mt = rows.mixed(np.broadcast_to(np.eye(d), (n, d, d)))  # rows of M_i^T: (n, d, p)
    D = -inf.H_inv_.matmat(Mt.reshape(n * d, p).T).T.reshape(n, d, p).transpose(0, 2, 1) / inf.backend_.D_divisor
    gD = np.einsum("p,ipd->id", gbar, D)  # (n, d): D_i^T gbar
    Q = np.einsum("kap,lpd->klad", Ad, D)  # Q[k, l] = Ad_k D_l (K-1, d)
    iu, ju = np.triu_indices(n, k=1)
    fi = np.empty(iu.size)
    for block in row_chunks(iu.size, 4096):
        i, j = iu[block], ju[block]
        g = np.concatenate([gD[i], gD[j]], axis=1)  # (m, 2d)
        G = np.zeros((i.size, 2 * d, 2 * d))
        for k, at in ((i, 0), (j, d)):
            W = np.concatenate([Q[k, i], Q[k, j]], axis=2).transpose(0, 2, 1).copy()  # (m, 2d, K-1)
            W[:, at:at + d] += np.transpose(Bd[k], (0, 2, 1))
            G += W @ S[k] @ np.transpose(W, (0, 2, 1))
        lam, U, inv = eig_of_matrix(G, inf.rtol, inf.atol)
        fi[block] = pinv_quadratic(U, inv, g)
    check_finite_result(fi, "fi of the pair", labels=[f"({a}, {b})" for a, b in zip(iu, ju)])
    return iu, ju, fi
