"""Which validation rows are also training rows (in-sample validation), found by exact row hashes."""

import numpy as np

from .._core.chunks import row_chunks

# Odd multipliers for the row hash (uint64 arithmetic wraps, so the hash is exact
# and independent of summation order).
_MULTIPLIERS = np.random.default_rng(20251124).integers(1, 2 ** 63, size=4096, dtype=np.uint64) | 1


def _hashes(X, y, chunk=4096):
    """One uint64 per row of (X, y): a weighted sum of the bit patterns, in row chunks."""
    n, d = X.shape
    w = _MULTIPLIERS[np.arange(d + 1) % _MULTIPLIERS.size]
    out = np.empty(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for sl in row_chunks(n, chunk):
            bits = (X[sl] + 0.0).view(np.uint64)  # + 0.0 makes -0.0 equal to 0.0
            out[sl] = (bits * w[:d]).sum(axis=1, dtype=np.uint64) + y[sl].astype(np.uint64) * w[d]
    return out


def shared_rows(X_train, y_train, X_val, y_val):
    """Mask of the validation rows that equal some training row (features and label).

    Parameters
    ----------
    X_train : ndarray (n, d)
    y_train : ndarray of int (n,)
    X_val : ndarray (m, d)
    y_val : ndarray of int (m,)

    Returns
    -------
    ndarray of bool (m,)
        Exact equality: a hash match is confirmed on the rows themselves.
    """
    h_tr, h_val = _hashes(X_train, y_train), _hashes(X_val, y_val)
    order = np.argsort(h_tr, kind="stable")
    pos = np.minimum(np.searchsorted(h_tr[order], h_val), h_tr.size - 1)
    j = order[pos]
    return (h_tr[j] == h_val) & (y_train[j] == y_val) & np.all(X_train[j] == X_val, axis=1)
