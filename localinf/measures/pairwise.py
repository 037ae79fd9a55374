"""FI(z_q, z_i) for every training row i and many query vectors at once (``fi``, ``fi_active``).

With ``G_i^+ = sum_j w_ij u_ij u_ij^T`` (:meth:`LocalInfluence._basis`) and
``g_i(z_q) = -(1/n) M_i^T w_q``, ``w_q = H^{-1} grad_theta L(z_q)``,

    FI(z_q, z_i) = sum_j (s_ij . M_i^T w_q)^2,   s_ij = sqrt(w_ij) u_ij / n.

Two routes give the products ``s_ij . M_i^T w_q``:

* generic: the rows ``c_ij = M_i s_ij`` (p,) of any backend, then one product
  ``C W``: (K-1) p multiply-adds per row and query when the basis has K - 1
  columns;
* projected (backends whose rows offer ``projected_mixed_T``, the multinomial
  closed forms): ``M_i^T w = Wm[:d] r_i + B S_i (Wm^T xt_i)`` folded into the
  basis first, about (K-1)(2d + q) per row and query. Used where that is less
  than half of the generic count (softmax with K - 1 > 2 (2d + q) / q).

The training side of a chunk (its basis, and the rows or closed-form pieces
the route needs) is computed once and may be kept for further blocks of
queries (:class:`TrainingSide`).
"""

import numpy as np

from .._core.chunks import row_chunks


def projected_route(inf):
    """True where the closed-form projected products are used (see the module notes)."""
    b = inf.backend_
    if not b.projected_pairs:
        return False
    q = b.p // (b.K - 1)
    return (b.K - 1) * q > 2 * (2 * b.d + q)


class TrainingSide:
    """What FI against any query vectors needs from one chunk of training rows.

    Parameters
    ----------
    inf : LocalInfluence
    sl : slice
        The training rows.
    projected : bool
        Keep the basis and the backend rows (projected route) or the rows
        ``c_ij`` (generic route).

    Attributes
    ----------
    sl : slice
    """

    def __init__(self, inf, sl, projected):
        self.sl = sl
        rows = inf._rows(sl)
        _, U, w = inf._basis(rows, rows.metric_factor())
        U *= (np.sqrt(w) / inf.backend_.D_divisor)[:, None, :]
        if projected:
            self.rows, self.U, self.C = rows, U, None
        else:
            self.rows, self.U, self.C = None, None, rows.mixed(U)  # (m, k, p)

    def fi(self, W, pool=None):
        """FI of these rows against the columns of ``W`` (p, mq): (m, mq).

        ``pool`` is the backend's layout of W for the projected route
        (:func:`~localinf.models.multinomial.pool_blocks`).
        """
        if self.C is None:
            P = self.rows.projected_mixed_T(self.U, pool)  # (m, k, mq)
        else:
            m, k, p = self.C.shape
            P = (self.C.reshape(m * k, p) @ W).reshape(m, k, -1)  # one GEMM for the chunk
        with np.errstate(over="ignore"):  # an overflow is an inf, refused with its row by the caller
            P *= P
            return P.sum(axis=1)


def per_row_bytes(inf, projected):
    """Memory a kept :class:`TrainingSide` holds per row (an estimate before building one)."""
    b = inf.backend_
    k = min(b.K, b.d)  # columns of the basis, at most
    if projected:
        q = b.p // (b.K - 1)
        return 8 * (b.d * k + (b.K - 1) ** 2 + q + 3 * b.K)
    return 8 * k * b.p


def pool_layout(inf, W, projected):
    """The backend's layout of the query vectors W (p, mq) for the projected route (None otherwise)."""
    if not projected:
        return None
    return inf.backend_.rows(inf.X_[:1], inf.y_[:1]).pool_blocks(W)


def fi_columns(inf, W, chunk_rows, sides=None, projected=False, out=None):
    """FI(z_q, z_i) for every training row and every column of W (p, mq), transposed: (mq, n).

    Parameters
    ----------
    inf : LocalInfluence
    W : ndarray (p, mq)
        ``H^{-1} grad_theta L(z_q)``.
    chunk_rows : int
        Training rows per chunk when the sides are built here.
    sides : list of TrainingSide, optional
        Kept training sides (reused as they are); None builds each chunk's
        side, uses it and drops it.
    projected : bool
    out : ndarray (mq, n), optional

    Returns
    -------
    ndarray (mq, n)
    """
    out = np.empty((W.shape[1], inf.n_)) if out is None else out
    pool = pool_layout(inf, W, projected)
    chunks = sides if sides is not None else (TrainingSide(inf, sl, projected)
                                              for sl in row_chunks(inf.n_, chunk_rows))
    for side in chunks:
        out[:, side.sl] = side.fi(W, pool).T
    return out
