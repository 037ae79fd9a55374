"""Cholesky factors and triangular inverses of a stack of small SPD matrices, vectorised.

Each step works on every matrix of the stack at once (numpy operations over
the stack, loops over the r rows and columns only), so a chunk of thousands of
small (r, r) matrices costs a few hundred array operations and no per-matrix
LAPACK call. The stack is held with its long axis last, (r, r, m), so that
every operation runs over contiguous runs of m numbers, in place. A matrix
whose factorisation meets a pivot that is not positive and finite is flagged,
not raised: the caller sends those rows elsewhere.
"""

import numpy as np


def batched_cholesky(N):
    """Lower-triangular ``L`` with ``N = L L^T`` for each matrix of the stack.

    Parameters
    ----------
    N : ndarray (m, r, r)
        Symmetric matrices (only the lower triangle is read).

    Returns
    -------
    L : ndarray (r, r, m)
        The factors, stack axis last (the strict upper triangle holds
        leftovers: read the lower triangle only). Where ``ok`` is False the
        column of the failed pivot and the diagonal entry are 0.
    ok : ndarray of bool (m,)
        True where every pivot was positive and finite.
    """
    m, r, _ = N.shape
    A = np.array(np.moveaxis(N, 0, -1), dtype=np.float64, order="C")  # (r, r, m), factored in place
    ok = np.ones(m, dtype=bool)
    for j in range(r):
        pivot = A[j, j]
        good = (pivot > 0) & (pivot < np.inf)
        ok &= good
        np.sqrt(pivot, out=pivot, where=good)
        pivot[~good] = np.inf  # divides the column to 0
        np.divide(A[j + 1:, j], pivot, out=A[j + 1:, j])
        pivot[~good] = 0.0
        for i in range(j + 1, r):  # the trailing lower triangle, row by row
            A[i, j + 1:i + 1] -= A[i, j] * A[j + 1:i + 1, j]
    return A, ok


def triangular_inverse(L):
    """``L^{-1}`` for a stack of lower-triangular L, by forward substitution over the stack.

    Parameters
    ----------
    L : ndarray (r, r, m)
        Stack axis last, as :func:`batched_cholesky` returns it (only the lower
        triangle is read).

    Returns
    -------
    ndarray (r, r, m)
        Lower triangular (zeros above); where a diagonal entry of L is 0 the
        result is not finite.
    """
    r, _, m = L.shape
    Linv = np.zeros_like(L)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_diag = 1.0 / np.diagonal(L).T  # (r, m)
        for j in range(r):
            # row j of L^{-1}: (e_j - sum_{k<j} L[j, k] Linv[k, :]) / L[j, j]; Linv[k] is 0 beyond k
            row = Linv[j]
            row[j] = 1.0
            for k in range(j):
                row[:k + 1] -= L[j, k] * Linv[k, :k + 1]
            row[:j + 1] *= inv_diag[j]
    return Linv
