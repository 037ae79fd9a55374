"""Batched pseudo-inverse quadratic forms for the metric G_i.

The pseudo-inverse in eq. 2.1 needs a rank decision. Convention (documented
in :class:`~localinf.LocalInfluence`): an eigenvalue lambda of G_i is kept
when ``lambda > max(atol, rtol * lambda_max(G_i))``; the others are treated as
exactly zero, so FI only sees the part of g_i in the kept eigenspace. When
nothing is kept (G_i = 0), FI is 0.

:func:`pinv_factor` gives the same ``G_i^+`` without an eigendecomposition on
the rows where the rule provably keeps every eigenvalue (a batched Cholesky
decides it), and through :func:`metric_eig` on the others.
"""

import numpy as np

from .cholesky import batched_cholesky, triangular_inverse

# Rows whose Gram matrix has tr(N) tr(N^{-1}) above this (a bound on its condition
# number from above) take the eigen route: there the direct route would still be
# exact in exact arithmetic, but the two routes' round-off differs by more than ~1e-9.
DIRECT_COND = 1e7
# The direct route needs the smallest eigenvalue above the cut-off by this factor,
# so that round-off in either route cannot move the rank decision.
_MARGIN = 1.01


def metric_eig(F, rtol, atol):
    """Pseudo-inverse of ``G = F F^T`` for a stack F (m, d, r), as ``G^+ = U diag(w) U^T``.

    Returns ``(lam, U, w)``: eigenvalues (m, k), orthonormal eigenvectors
    (m, d, k) and weights ``w = 1/lam`` (m, k), zero on the cut pairs.
    For r = 1 (binary models) U is F normalised in place, to save a pass over
    memory at large n: F must not be used afterwards.
    """
    m, d, r = F.shape
    if r == 1:
        lam = np.einsum("idk,idk->ik", F, F)
        w = _inverse_kept(lam, rtol, atol)
        F *= np.sqrt(w)[:, None, :]  # unit length where kept, else 0
        return lam, F, w
    elif r <= d:
        # Eigenpairs of the small r x r Gram F^T F: G u = lam u with u = F v / sqrt(lam).
        lam, V = np.linalg.eigh(_gram(F))
        lam = np.maximum(lam, 0.0)
        w = _inverse_kept(lam, rtol, atol)
        U = np.matmul(F, V)
        U *= np.sqrt(w)[:, None, :]  # 0 on cut pairs
        return lam, U, w
    else:
        lam, U = np.linalg.eigh(np.matmul(F, np.swapaxes(F, 1, 2)))
        lam = np.maximum(lam, 0.0)
    return lam, U, _inverse_kept(lam, rtol, atol)


def _gram(F):
    """``F^T F`` (m, r, r) for F (m, d, r), by batched matmul (einsum is ~6x slower here)."""
    return np.matmul(np.swapaxes(F, 1, 2), F)


def pinv_factor(F, rtol, atol):
    """A factor of ``G^+`` for ``G = F F^T``: ``G^+ = U diag(w) U^T``, same cut-off as :func:`metric_eig`.

    Where the rule keeps every eigenvalue, the pseudo-inverse is an inverse on
    range(F) and needs no eigenvectors: with the Gram ``N = F^T F`` (r <= d) it is
    ``F N^{-2} F^T``, so ``U = F N^{-1}`` and ``w = 1``; with r > d, ``G^{-1} = L^{-T} L^{-1}``
    for ``G = L L^T``, so ``U = L^{-T}``. A batched Cholesky of N (or G) decides
    it from bounds on the spectrum: every eigenvalue is at least
    ``lo = 1 / tr(N^{-1})`` and at most ``tr(N)``, so when
    ``lo > max(atol, floor, rtol tr(N))`` (with a margin) every eigenvalue is
    provably kept. Rows where that fails (a cut, a near-tie with the cut-off,
    a failed Cholesky) or where ``tr(N) tr(N^{-1}) > DIRECT_COND`` take the
    eigen route of :func:`metric_eig`; the columns of U are then eigenvectors
    and w the kept ``1 / lambda``. r = 1 is :func:`metric_eig` itself.

    Parameters
    ----------
    F : ndarray (m, d, r)
        Row factors of the metric; not modified (r > 1).
    rtol, atol : float
        The cut-off of :func:`metric_eig`.

    Returns
    -------
    U : ndarray (m, d, k)
        k = r for r <= d, else d; columns need not be orthonormal.
    w : ndarray (m, k)
        Weights (1 on the direct rows, the kept ``1 / lambda`` elsewhere, 0 on cut pairs).
    direct : ndarray of bool (m,)
        Rows that took the direct route.
    """
    m, d, r = F.shape
    if r == 1:
        _, U, w = metric_eig(F, rtol, atol)
        return U, w, np.zeros(m, dtype=bool)
    wide = r > d
    N = np.matmul(F, np.swapaxes(F, 1, 2)) if wide else _gram(F)
    k = N.shape[1]
    L, ok = batched_cholesky(N)
    Linv = triangular_inverse(L)  # (k, k, m)
    trace = np.trace(N, axis1=1, axis2=2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        trace_inv = np.einsum("abm,abm->m", Linv, Linv)  # ||L^{-1}||_F^2 = tr(N^{-1})
        lo = 1.0 / trace_inv
        cut = np.maximum(max(atol, _FLOOR), rtol * trace)
        direct = ok & (lo > _MARGIN * cut) & (trace * trace_inv <= DIRECT_COND)
    Linv = np.moveaxis(Linv, -1, 0)  # (m, k, k)
    Linv[~direct] = 0.0  # (not finite where the factorisation failed)
    w = np.ones((m, k))
    if wide:
        U = np.ascontiguousarray(np.swapaxes(Linv, 1, 2))  # L^{-T}
    else:
        U = np.matmul(F, np.matmul(np.swapaxes(Linv, 1, 2), Linv))  # F N^{-1}
    rest = np.flatnonzero(~direct)
    if rest.size:
        _, U[rest], w[rest] = metric_eig(F[rest], rtol, atol)
    return U, w, direct


def reference_eig(F, RF, rtol, atol):
    """Kept generalised eigenpairs of ``G = F F^T`` against a reference metric G_ref.

    ``G u = lambda G_ref u`` with ``u^T G_ref u = 1``: the nonzero pairs come
    from the small (r, r) matrix ``T = F^T G_ref^{-1} F`` (``T v = lambda v``,
    ``u = G_ref^{-1} F v / sqrt(lambda)``), so no (d, d) eigenproblem is needed.
    The cut-off rule is that of :func:`metric_eig`, applied to these lambda.

    Parameters
    ----------
    F : ndarray (m, d, r)
    RF : ndarray (m, d, r)
        ``G_ref^{-1} F`` row by row.
    rtol, atol : float

    Returns
    -------
    lam : ndarray (m, r)
    U : ndarray (m, d, r)
        The vectors u (0 on cut pairs), so that ``pinv_quadratic(U, w, g)`` is
        the paper's formula in G_ref-whitened coordinates.
    w : ndarray (m, r)
        ``1 / lambda`` on kept pairs, else 0.
    """
    T = np.einsum("idk,idl->ikl", F, RF)
    lam, V = np.linalg.eigh(0.5 * (T + np.swapaxes(T, 1, 2)))
    lam = np.maximum(lam, 0.0)
    w = _inverse_kept(lam, rtol, atol)
    U = np.einsum("idk,ikl->idl", RF, V) * np.sqrt(w)[:, None, :]
    return lam, U, w


def eig_of_matrix(G, rtol, atol):
    """Kept eigenpairs of explicit symmetric matrices G (m, d, d), same convention."""
    lam, U = np.linalg.eigh(0.5 * (G + np.swapaxes(G, -1, -2)))
    lam = np.maximum(lam, 0.0)
    return lam, U, _inverse_kept(lam, rtol, atol)


# Eigenvalues below this are never inverted (1/lambda would leave the float range).
_FLOOR = np.finfo(float).tiny / np.finfo(float).eps


def _inverse_kept(lam, rtol, atol):
    cut = np.maximum(max(atol, _FLOOR), rtol * lam.max(axis=-1, keepdims=True))
    keep = lam > cut
    inv = np.zeros_like(lam)
    np.divide(1.0, lam, out=inv, where=keep)
    return inv


def pinv_quadratic(U, inv, g):
    """``g^T G^+ g = sum_j w_j (u_j . g)^2`` per row; g (m, d) -> (m,)."""
    proj = np.matmul(g[:, None, :], U)[:, 0, :]
    proj *= np.sqrt(inv)  # scaled first: no overflow
    return np.einsum("ik,ik->i", proj, proj)


def range_residual(U, inv, g):
    """``||(I - G G^+) g|| / ||g||`` per row and column, 0 where ``g = 0``: the part of g
    outside the kept eigenspace (Theorem 1's condition fails where it is not 0).

    ``U`` (m, d, k) and ``inv`` (m, k) as :func:`metric_eig` or :func:`eig_of_matrix`
    return them (a cut pair has ``inv = 0``); ``g`` (m, d, q). Returns (m, q) in [0, 1].
    """
    proj = np.einsum("idk,idq->ikq", U, g) * (inv > 0)[:, :, None]
    outside = g - np.einsum("idk,ikq->idq", U, proj)
    gnorm = np.linalg.norm(g, axis=1)
    resid = np.divide(np.linalg.norm(outside, axis=1), gnorm, out=np.zeros_like(gnorm), where=gnorm > 0)
    return np.clip(resid, 0.0, 1.0)
