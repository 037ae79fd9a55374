"""Batched pseudo-inverse quadratic forms for the metric G_i (private).

The pseudo-inverse in eq. 2.1 needs a rank decision. Convention (documented
in :class:`~localinf.LocalInfluence`): an eigenvalue lambda of G_i is kept
when ``lambda > max(atol, rtol * lambda_max(G_i))``; the others are treated as
exactly zero, so FI only sees the part of g_i in the kept eigenspace. When
nothing is kept (G_i = 0), FI is 0.
"""

import numpy as np


def metric_eig(F, rtol, atol):
    """Kept eigenpairs of ``G = F F^T`` for a stack F (m, d, r).

    Returns ``(lam, U, inv)``: eigenvalues (m, k), orthonormal eigenvectors
    (m, d, k), and ``inv`` (m, k) = 1/lam on kept pairs, 0 elsewhere.
    """
    m, d, r = F.shape
    if r == 1:
        lam = np.einsum("idk,idk->ik", F, F)
        norm = np.sqrt(lam)
        U = np.divide(F, norm[:, None, :], out=np.zeros_like(F), where=norm[:, None, :] > 0)
    elif r <= d:
        lam, V = np.linalg.eigh(np.einsum("idk,idl->ikl", F, F))
        lam = np.maximum(lam, 0.0)
        norm = np.sqrt(lam)
        U = F @ V
        np.divide(U, norm[:, None, :], out=U, where=norm[:, None, :] > 0)
        U[np.broadcast_to(norm[:, None, :] == 0, U.shape)] = 0.0
    else:
        lam, U = np.linalg.eigh(np.einsum("idk,iek->ide", F, F))
        lam = np.maximum(lam, 0.0)
    return lam, U, _inverse_kept(lam, rtol, atol)


def eig_of_matrix(G, rtol, atol):
    """Kept eigenpairs of explicit symmetric matrices G (m, d, d), same convention."""
    lam, U = np.linalg.eigh(0.5 * (G + np.swapaxes(G, -1, -2)))
    lam = np.maximum(lam, 0.0)
    return lam, U, _inverse_kept(lam, rtol, atol)


def _inverse_kept(lam, rtol, atol):
    cut = np.maximum(atol, rtol * lam.max(axis=-1, keepdims=True))
    keep = lam > cut
    inv = np.zeros_like(lam)
    np.divide(1.0, lam, out=inv, where=keep)
    return inv


def pinv_quadratic(U, inv, g):
    """``g^T G^+ g`` per row from kept eigenpairs; g (m, d) -> (m,)."""
    proj = np.einsum("idk,id->ik", U, g)
    return np.einsum("ik,ik->i", proj * proj, inv)
