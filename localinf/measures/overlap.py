"""Which validation rows are also training rows (in-sample validation), found by exact row hashes."""

import numpy as np

from .._core.chunks import row_chunks

# Slots of the first-column prefilter (a 1 MiB table).
_TABLE_BITS = 20
# Odd multipliers for the row hash (uint64 arithmetic wraps, so the hash is exact
# and independent of summation order).
_MULTIPLIERS = np.random.default_rng(20251124).integers(1, 2 ** 63, size=4096, dtype=np.uint64) | 1


def _mix(bits):
    """A bijective scramble of uint64 values (the splitmix64 finaliser), in place.

    Floats that hold small integers have their low mantissa bits all zero; a
    weighted sum of the raw bit patterns would then collide for most rows.
    """
    bits ^= bits >> np.uint64(30)
    bits *= np.uint64(0xBF58476D1CE4E5B9)
    bits ^= bits >> np.uint64(27)
    bits *= np.uint64(0x94D049BB133111EB)
    bits ^= bits >> np.uint64(31)
    return bits


def _slots(values):
    """A slot in 0..2^_TABLE_BITS - 1 per float (equal values, -0.0 and 0.0 included, share one)."""
    return (_mix((values + 0.0).view(np.uint64)) >> np.uint64(64 - _TABLE_BITS)).astype(np.intp)


def _hashes(X, y, chunk=4096):
    """One uint64 per row of (X, y): a weighted sum of the scrambled bit patterns, in row chunks."""
    n, d = X.shape
    w = _MULTIPLIERS[np.arange(d + 1) % _MULTIPLIERS.size]
    out = np.empty(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for sl in row_chunks(n, chunk):
            bits = _mix((X[sl] + 0.0).view(np.uint64))  # + 0.0 makes -0.0 equal to 0.0
            out[sl] = (bits * w[:d]).sum(axis=1, dtype=np.uint64) + \
                _mix(y[sl].astype(np.uint64)) * w[d]
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
    if X_train.shape[0] == 0 or X_val.shape[0] == 0:
        return np.zeros(X_val.shape[0], dtype=bool)
    # Only training rows whose first feature equals some validation row's can match:
    # one column is read, its scrambled bits looked up in a table of the validation
    # values' (a superset of the matches), and only those rows are hashed.
    table = np.zeros(1 << _TABLE_BITS, dtype=bool)
    table[_slots(X_val[:, 0])] = True
    cand = np.concatenate([sl.start + np.flatnonzero(table[_slots(X_train[sl, 0])])
                           for sl in row_chunks(X_train.shape[0], 1 << 16)])
    if cand.size == 0:
        return np.zeros(X_val.shape[0], dtype=bool)
    Xc, yc = X_train[cand], y_train[cand]
    h_tr, h_val = _hashes(Xc, yc), _hashes(X_val, y_val)
    order = np.argsort(h_tr, kind="stable")
    sorted_h = h_tr[order]
    pos = np.minimum(np.searchsorted(sorted_h, h_val), h_tr.size - 1)
    j = order[pos]
    same = h_tr[j] == h_val
    found = same & (yc[j] == y_val) & np.all(Xc[j] == X_val, axis=1)
    for i in np.flatnonzero(same & ~found):  # a hash collision: every row of that hash
        k = order[pos[i]:np.searchsorted(sorted_h, h_val[i], side="right")]
        found[i] = bool(np.any((yc[k] == y_val[i]) & np.all(Xc[k] == X_val[i], axis=1)))
    return found
