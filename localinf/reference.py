"""Reference backend: exact closed forms for logistic and softmax regression.

A backend supplies the few primitives on which :class:`~localinf.LocalInfluence`
writes every measure once:

* ``H_inv`` -- the inverse Hessian of R at theta_hat, a LinearOperator;
* ``loss(X, y)``, ``loss_grad(X, y)`` -- per-sample L and grad_theta L;
* ``mixed_T(X, y, w)`` -- ``M_i^T w`` for every row, M_i = d/dx grad_theta L (p, d);
* ``mixed(X, y, U)`` -- ``M_i u_ij`` for every row i and column j of U_i;
* ``metric_factor(X, y)`` -- F_i (d, r) with metric ``G_i = F_i F_i^T``.

Here all of them are closed forms of the multinomial logit (see
``localinf/_multinomial.py``), vectorised over a chunk of rows. With
``A_i = B - (1/n) [M_i^T H^{-1}(e_l kron xt_i)]_l`` (d, K-1) one has
``v_ic = A_i (e_c - pi_i)``, so the metric factor is ``F_i = A_i E_i`` with
columns ``E_i[:, c] = sqrt(P_c) (e_c - pi_i)``, and ``E_i E_i^T = S_i``.
"""

import numpy as np

from . import _multinomial as mn
from ._risk import default_chunk, risk_derivatives
from .curvature import InverseHessian
from ._checks import check_minimiser


class ReferenceBackend:
    """Closed-form primitives for a fitted LogisticRegression or SoftmaxRegression.

    Parameters
    ----------
    model : LogisticRegression or SoftmaxRegression, fitted
    X : ndarray (n, d), y : ndarray (n,)
        The training data the model was fitted on (checked: grad R(theta_hat) ~ 0).
    chunk_size : int, optional
        Rows per chunk; memory is O(chunk_size * p * K).
    grad_rtol : float, default 1e-6
        The model is accepted as the minimiser of R on (X, y) when
        ``max|grad R| <= grad_rtol * max(1, max|grad R(0)|)``-scale quantities.
    """

    def __init__(self, model, X, y, chunk_size=None, grad_rtol=1e-6):
        model._check_fitted()
        self.model = model
        self.X, self.y = X, y
        self.n, self.d = X.shape
        self.K = model.n_classes_
        self.fit_intercept = bool(model.fit_intercept)
        self.q = self.d + int(self.fit_intercept)
        self.p = self.q * (self.K - 1)
        self.l2 = float(model.l2)
        self.theta = model.theta_
        self.W = mn.unpack(self.theta, self.K, self.q)
        self.B = self.W[:self.d]  # slopes (d, K-1)
        self.chunk_size = chunk_size or default_chunk(self.p, self.K)
        R, grad, H, _, max_abs_x = risk_derivatives(X, y, self.theta, self.K, self.fit_intercept,
                                                    self.l2, chunk=self.chunk_size)
        check_minimiser(grad, max_abs_x, grad_rtol)
        self.grad_norm = float(np.linalg.norm(grad))
        self.H_inv = InverseHessian(H)
        # Fortran order: (rows x q) @ H^{-1} runs ~2x faster in BLAS this way.
        self._Hinv = np.asfortranarray(self.H_inv.todense())

    # -- per-chunk pieces ---------------------------------------------------
    def pieces(self, X, y):
        """Per-chunk quantities shared by the primitives: ``(xt, log P, P, r, S)``.

        Pass the result as ``pieces=`` to several primitives on the same rows
        to compute it once.
        """
        Xt = mn.design(X, self.fit_intercept)
        logP = mn.log_proba(Xt, self.W)
        P = np.exp(logP)
        r = mn.residual(P, y) if y is not None else None
        return Xt, logP, P, r, mn.covariance(P)

    def proba(self, X):
        return np.exp(mn.log_proba(mn.design(X, self.fit_intercept), self.W))

    def loss_grad(self, X, y, pieces=None):
        """grad_theta L per sample (m, p)."""
        Xt, _, _, r, _ = pieces or self.pieces(X, y)
        return mn.per_sample_grad(Xt, r)

    def mixed_T(self, X, y, w, pieces=None):
        """``M_i^T w`` (m, d) for one w (p,)."""
        Xt, _, _, r, S = pieces or self.pieces(X, y)
        return mn.mixed_T(Xt, self.d, r, S, self.B, w)

    def mixed(self, X, y, U, pieces=None):
        """``M_i u_ij`` (m, k, p) for U (m, d, k)."""
        Xt, _, _, r, S = pieces or self.pieces(X, y)
        return mn.mixed(Xt, self.d, r, S, self.B, U)

    def metric_factor(self, X, y, pieces=None):
        """F_i with the metric ``G_i = F_i F_i^T`` (eq. 2.3 and the G_z of Sec. 2).

        Shape (m, d, 1) for binary models (``F_i = sqrt(s_i) a_i``), else (m, d, K).
        """
        Xt, _, P, r, S = pieces or self.pieces(X, y)
        m, q, k1, d = Xt.shape[0], self.q, self.K - 1, self.d
        if k1 == 1:
            # Binary: a_i = beta - (1/n) M_i^T H^{-1} xt_i, F_i = sqrt(s_i) a_i.
            Z = Xt @ self._Hinv  # (m, q); H is symmetric
            s = S[:, 0, 0]
            t = np.einsum("ij,ij->i", Z, Xt)
            root = np.sqrt(s)
            F = Z[:, :d]
            F *= (-root * r[:, 0] / self.n)[:, None]  # in place: memory-bound at large n
            F += np.multiply.outer(root * (1.0 - s * t / self.n), self.B[:, 0])
            return F[:, :, None]
        # Z[i, k, :, l] = block k of H^{-1} (e_l kron xt_i): one product with the dense H^{-1}.
        Hinv4 = self._Hinv.reshape(k1, q, k1, q)
        Z = (Xt @ Hinv4.transpose(3, 0, 1, 2).reshape(q, -1)).reshape(m, k1, q, k1)
        # M_i^T z for each column l of Z_i: Wm[:d] r + B S (Wm^T xt)
        term1 = np.einsum("ik,ikal->ial", r, Z[:, :, :d, :])
        t = np.einsum("ikal,ia->ikl", Z, Xt)
        term2 = np.einsum("dk,ikj,ijl->idl", self.B, S, t, optimize=True)
        A = self.B[None, :, :] - (term1 + term2) / self.n
        # E_i = [(e_c - pi_i) sqrt(P_c)]_{c=0..K-1} (K-1, K) has E E^T = S_i, so
        # G_i = A_i E_i E_i^T A_i^T without a matrix square root.
        sqrtP = np.sqrt(P)
        E = -P[:, 1:, None] * sqrtP[:, None, :]
        idx = np.arange(k1)
        E[:, idx, idx + 1] += sqrtP[:, 1:]
        return np.einsum("idk,ikl->idl", A, E)
