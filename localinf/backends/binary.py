"""Logistic regression's metric and FI from a few numbers per row.

For K = 2 the metric of eq. 2.3 has rank one: ``G_i = s_i a_i a_i^T`` with
``s_i = p_i (1 - p_i)`` and the tangent

    a_i = beta - (1/n) M_i^T H^{-1} xt_i = c_i beta - (r_i / n) z_i,
    c_i = 1 - s_i t_i / n,   z_i = [H^{-1} xt_i]_{:d},   t_i = xt_i^T H^{-1} xt_i,

(r_i = p_i - y_i, formed as -P(0|x_i) when y_i = 1), and for a direction u in parameter space
``M_i^T u = s_i (xt_i . u) beta + r_i u_{:d}``. Every inner product the
pseudo-inverse needs is then a combination of per-row scalars:

    a.beta = c ||beta||^2 - (r/n) beta.z,     a.u = c beta.u - (r/n) u.z,
    a.a    = c a.beta - (r/n) (c beta.z - (r/n) z.z),
    a.M^T u = s (xt.u) a.beta + r a.u.

The linear ones (``eta = xt.theta``, ``beta.z = xt . H^{-1}[beta; 0]``,
``u.z``, ``xt.u``) are columns of one product ``X V``. The two quadratic forms
``t = xt^T H^{-1} xt`` and ``z.z = xt^T H^{-1} P H^{-1} xt`` (P keeps the d
slope coordinates) are diagonalised together: with ``H^{-1} = R R^T`` and the
SVD ``R_{:d} = U Sigma Q^T``, ``V_0 = R Q`` gives ``t = ||V_0^T xt||^2`` and
``z.z = sum_j sigma_j^2 (V_0^T xt)_j^2``. So FI_util costs one (n, q) x
(q, q + 4) product and O(q) work per row, with no per-row d-vector.

``a.a`` is a difference of terms when the two parts of a_i nearly cancel;
rows where that could cost more than about 1e-13 relative are recomputed
from the vector a_i itself.
"""

import numpy as np

# Rows whose a.a is below this fraction of the size of its terms are recomputed from a_i.
_CANCEL = 1e-3
# Extreme feature scales can overflow an intermediate product; such rows fail the
# cancellation test and are recomputed from a_i, and the measures refuse any
# non-finite result, so the kernel's floating-point warnings are not shown.
_quiet = np.errstate(over="ignore", invalid="ignore")


class RankOneKernel:
    """The per-row scalars of a fitted logistic regression's rank-one metric.

    Parameters
    ----------
    backend : ReferenceBackend
        Fitted with K = 2; its dense ``H^{-1}`` (q, q) and slopes beta (d,).

    Attributes
    ----------
    V0 : ndarray (q, q)
        ``R Q``: ``t = ||V0^T xt||^2``.
    sigma2 : ndarray (q,)
        ``z.z = sum_j sigma2_j (V0^T xt)_j^2``.
    """

    def __init__(self, backend):
        self.backend = backend
        G = backend.Hinv_dense
        d, q = backend.d, backend.q
        self.G = G
        R = np.linalg.cholesky(0.5 * (G + G.T))
        _, sigma, Qt = np.linalg.svd(R[:d], full_matrices=True)
        self.sigma2 = np.zeros(q)
        self.sigma2[:sigma.size] = sigma ** 2
        self.V0 = R @ Qt.T
        self.beta = backend.B[:, 0]
        self.bb = float(self.beta @ self.beta)
        self.weights = np.column_stack([np.ones(q), self.sigma2])  # t and z.z from the squares

    @_quiet
    def columns(self, u):
        """``V^T`` (q + 4, q) with ``V = [V0, theta, H^{-1}[beta; 0], H^{-1}[u_d; 0], u]`` for u (q,).

        Kept transposed: the chunk's product ``V^T X^T`` then has each
        per-row quantity as one contiguous row (faster than ``X V`` here).
        """
        b, d, q = self.backend, self.backend.d, self.backend.q
        lin = np.zeros((q, 4))
        lin[:, 0] = b.W[:, 0]
        lin[:, 1] = self.G[:, :d] @ self.beta
        lin[:, 2] = self.G[:, :d] @ u[:d]
        lin[:, 3] = u
        return np.ascontiguousarray(np.concatenate([self.V0, lin], axis=1).T)

    @_quiet
    def parts(self, X, y, V, u):
        """``(lam, proj)`` per row: the eigenvalue ``s ||a||^2`` of G_i and ``a.(M^T u) / ||a||``.

        With ``g_i = -(1/n) M_i^T u`` the paper's FI is ``(proj / n)^2 / lam``
        where lam is kept by the cut-off (:mod:`localinf.measures.pinv`).

        Parameters
        ----------
        X : ndarray (m, d)
        y : ndarray of int (m,)
        V : ndarray (q + 4, q)
            :meth:`columns` of u.
        u : ndarray (q,)

        Returns
        -------
        lam, proj : ndarray (m,)
        """
        b, d, q = self.backend, self.backend.d, self.backend.q
        Y = self._product(V, X)  # (q + 4, m)
        eta, bz, uz, xu = Y[q], Y[q + 1], Y[q + 2], Y[q + 3]
        Y0 = Y[:q]
        np.square(Y0, out=Y0)
        t, zz = self.weights.T @ Y0
        p1 = np.exp(-np.logaddexp(0.0, -eta))
        p0 = np.exp(-np.logaddexp(0.0, eta))
        s = p0 * p1
        r = np.where(y == 1, -p0, p1)  # p - y without cancellation
        n = b.D_divisor
        c = 1.0 - s * t / n
        rn = r / n
        ab = c * self.bb - rn * bz
        au = c * float(self.beta @ u[:d]) - rn * uz
        az = c * bz - rn * zz
        aa = c * ab - rn * az
        size = c * c * self.bb + rn * rn * zz + 2.0 * np.abs(c * rn * bz)
        redo = np.flatnonzero(~(aa > _CANCEL * size))
        if redo.size:
            aa, ab, au = aa.copy(), ab.copy(), au.copy()
            a = self._tangents(X[redo], c[redo], rn[redo])
            aa[redo] = np.einsum("id,id->i", a, a)
            ab[redo] = a @ self.beta
            au[redo] = a @ u[:d]
        amu = s * xu * ab + r * au
        norm = np.sqrt(aa)
        proj = np.divide(amu, norm, out=np.zeros_like(amu), where=norm > 0)
        return s * aa, proj

    def _product(self, V, X):
        """``V xt_i`` for every row, as columns (k, m), for V (k, q): no widened copy of X."""
        d = self.backend.d
        Y = V[:, :d] @ X.T
        if self.backend.fit_intercept:
            Y += V[:, d:]
        return Y

    def _tangents(self, X, c, rn):
        """``a_i = c_i beta - (r_i / n) z_i`` (m, d) for a few rows, from the vectors."""
        b, d = self.backend, self.backend.d
        Z = X @ self.G[:d, :d]
        if b.fit_intercept:
            Z += self.G[d, :d]
        return np.multiply.outer(c, self.beta) - rn[:, None] * Z

    @_quiet
    def hat_terms(self, X, y):
        """``(s, r, t)`` per row (m,) each: ``s = p(1-p)``, ``r = p - y``, ``t = xt^T H^{-1} xt``.

        The GLM leverage is ``s t / N`` and the self-influence
        ``grad L^T H^{-1} grad L = r^2 t`` (``grad L = r xt``).
        """
        b, q = self.backend, self.backend.q
        Y = self._product(np.ascontiguousarray(np.concatenate([self.V0, b.W], axis=1).T), X)
        eta = Y[q]
        p1 = np.exp(-np.logaddexp(0.0, -eta))
        p0 = np.exp(-np.logaddexp(0.0, eta))
        Y0 = Y[:q]
        np.square(Y0, out=Y0)
        return p0 * p1, np.where(y == 1, -p0, p1), Y0.sum(axis=0)
