"""Exact test for (quasi-)complete separation by linear programming.

Without a penalty the multinomial logit MLE fails to exist exactly when some
non-zero direction W (reference class fixed at 0) has every margin
``xt_i . (w_{y_i} - w_c) >= 0`` (c != y_i) with at least one strictly positive:
moving along W never raises the loss and strictly lowers it somewhere. We
maximise the sum of margins with each margin in [0, 1]; the optimum is 0 when
no such direction exists and at least 1 when one does.
"""

import numpy as np
from scipy import sparse
from scipy.optimize import linprog


def is_separable(Xt, y, K):
    """True when the classes in (Xt, y) are completely or quasi-completely separable."""
    n, q = Xt.shape
    k1 = K - 1
    # One constraint row per (i, c != y_i), built without a loop over samples.
    I = np.repeat(np.arange(n), K)
    C = np.tile(np.arange(K), n)
    keep = C != y[I]
    I, C = I[keep], C[keep]
    R = np.arange(I.size)
    cols_q = np.arange(q)
    parts = []
    for sign, cls in ((1.0, y[I]), (-1.0, C)):
        has = cls > 0  # the reference class has w_0 = 0: no entry
        parts.append((np.repeat(R[has], q), ((cls[has] - 1)[:, None] * q + cols_q).ravel(),
                      sign * Xt[I[has]].ravel()))
    rows, cols, vals = (np.concatenate(v) for v in zip(*parts))
    r = I.size
    A = sparse.csr_matrix((vals, (rows, cols)), shape=(r, k1 * q))
    # maximise sum(A w)  subject to 0 <= A w <= 1
    c_obj = -np.asarray(A.sum(axis=0)).ravel()
    A_ub = sparse.vstack([A, -A]).tocsr()
    b_ub = np.concatenate([np.ones(r), np.zeros(r)])
    res = linprog(c_obj, A_ub=A_ub, b_ub=b_ub, bounds=(None, None), method="highs")
    if res.status != 0:
        return False
    return -res.fun > 0.5
