"""Reference backend: exact closed forms for logistic and softmax regression.

Every primitive of :class:`~localinf.backends.Rows` is a closed form of the
multinomial logit (:mod:`localinf.models.multinomial`), vectorised over a chunk
of rows. The metric has one more: with
``A_i = B - (1/n) [M_i^T H^{-1}(e_l kron xt_i)]_l`` (d, K-1) one has
``v_ic = A_i (e_c - pi_i)``, so the tangents ``w_ia = v_ia - v_i0`` are the
columns of A_i, with no per-row solve: one product of the chunk's inputs with
the dense H^{-1}.
"""

from functools import cached_property

import numpy as np

from .._core.checks import check_minimiser, raise_nonfinite
from ..exceptions import InputError
from ..curvature.exact import InverseHessian
from ..models import multinomial as mn
from ..models.glm_risk import default_chunk, risk_derivatives, risk_terms, step_bound
from .base import Backend, Rows
from .binary import RankOneKernel


class ReferenceBackend(Backend):
    """Closed-form primitives for a fitted LogisticRegression or SoftmaxRegression.

    Built from the fitted parameters, ``H^{-1}`` and n alone; :meth:`from_data`
    computes H on the training data and checks that the parameters minimise
    the risk there.

    Parameters
    ----------
    model : LogisticRegression or SoftmaxRegression, fitted
        Supplies theta, d, K and whether there is an intercept.
    n : int
        Training rows.
    H_inv : InverseHessian
        ``H^{-1}`` of the penalised risk at theta; the explicit inverse is
        formed from its Cholesky factor once, on first use.
    chunk_size : int, optional
        Rows per chunk; memory is O(chunk_size * p * K).
    weights : ndarray (n,), optional
        Frequency weights of the training rows.
    """

    def __init__(self, model, n, H_inv, chunk_size=None, weights=None):
        theta = model.checked_theta()
        if not isinstance(H_inv, InverseHessian):
            raise InputError(f"H_inv: the reference backend needs an InverseHessian (the exact "
                             f"H^{{-1}}); got {type(H_inv).__name__}")
        self.model = model
        self.fit_intercept = bool(model.fit_intercept_)
        d, K = model.n_features_in_, model.n_classes_
        self.q = d + int(self.fit_intercept)
        p = self.q * (K - 1)
        super().__init__(n, d, p, K, theta, H_inv,
                         chunk_size=chunk_size or default_chunk(p, K), weights=weights)
        self.W = mn.unpack(self.theta, K, self.q)
        self.B = self.W[:d]  # slopes (d, K-1)
        self._dense = (None, None)  # (operator, its explicit inverse), see Hinv_dense
        self._kernel = (None, None)  # (operator, its RankOneKernel), see rank_one
        self.max_row = None  # max_i ||xt_i|| on the training rows, from from_data (step_change_bound)
        self.rank_one_metric = K == 2
        self.projected_pairs = K > 2
        self._softmax_blocks = (None, None)  # (dense H^{-1}, its class blocks), see ReferenceRows

    @classmethod
    def from_data(cls, model, X, y, chunk_size=None, grad_rtol=1e-6, weights=None):
        """The backend for a model and the training data it was fitted on.

        Parameters
        ----------
        model : LogisticRegression or SoftmaxRegression, fitted
        X : ndarray (n, d)
            Its NaN/inf are found in the pass that forms H (an InputError naming X).
        y : ndarray of int (n,)
        chunk_size : int, optional
        grad_rtol : float, default 1e-6
            The parameters are accepted as the minimiser of R on (X, y) when
            ``max|grad R| <= grad_rtol * max(1, max|X|)``.
        weights : ndarray (n,), optional
            Frequency weights (checked), the ones the model was fitted with.

        Returns
        -------
        ReferenceBackend
        """
        theta = model.checked_theta()
        K, p = model.n_classes_, (X.shape[1] + int(bool(model.fit_intercept_))) * (model.n_classes_ - 1)
        chunk_size = chunk_size or default_chunk(p, K)
        with np.errstate(invalid="ignore", over="ignore"):  # a NaN/inf in X is reported below
            _, grad, H, _, max_abs_x, max_row = risk_terms(
                X, y, theta, K, bool(model.fit_intercept_), float(model.l2_), chunk=chunk_size,
                weights=weights, hessian=True, max_abs_x=True, max_row_norm=True)
        if not np.isfinite(max_abs_x):  # NaN and inf propagate through the pass's max and min
            raise_nonfinite(X, "X")
        check_minimiser(grad, max_abs_x, grad_rtol)
        built = cls(model, X.shape[0], InverseHessian(H), chunk_size=chunk_size, weights=weights)
        built.grad_norm = float(np.max(np.abs(grad)))
        built.train_grad = grad
        built.max_row = max_row
        return built

    @property
    def Hinv_dense(self):
        """Explicit ``H^{-1}`` (p, p) in Fortran order: (rows x q) @ H^{-1} runs ~2x faster so.

        Formed once per operator: replacing ``H_inv`` forms it again.
        """
        op, dense = self._dense
        if op is not self.H_inv:
            self._dense = op, dense = self.H_inv, np.asfortranarray(self.H_inv.todense())
        return dense

    def step_change_bound(self, step):
        """``2 max_i ||xt_i|| max_k ||step_k||`` from the builder's pass (the protocol:
        :meth:`Backend.step_change_bound`); inf for a backend not built by :meth:`from_data`."""
        return np.inf if self.max_row is None else step_bound(self.K, self.q, self.max_row)(step)

    def rank_one(self):
        """The :class:`~localinf.backends.binary.RankOneKernel` of a binary model (K = 2),
        formed once per operator (the protocol: :meth:`Backend.rank_one`)."""
        if not self.rank_one_metric:
            return super().rank_one()
        op, kernel = self._kernel
        if op is not self.H_inv:
            self._kernel = op, kernel = self.H_inv, RankOneKernel(self)
        return kernel

    def rows(self, X, y):
        """A :class:`ReferenceRows` for the chunk (the protocol: :meth:`Backend.rows`)."""
        return ReferenceRows(self, X, y)

    def risk_grad(self, X, y):
        """grad R in closed form, one pass (the protocol: :meth:`Backend.risk_grad`)."""
        return risk_derivatives(X, y, self.theta, self.K, self.fit_intercept, float(self.model.l2_),
                                chunk=self.chunk_size, hessian=False, weights=self.weights)[1]

    def log_proba_at(self, theta, X):
        """(m, K) at parameters theta (the protocol: :meth:`Backend.log_proba_at`)."""
        return mn.log_proba(mn.design(X, self.fit_intercept), mn.unpack(theta, self.K, self.q))


class ReferenceRows(Rows):
    """Closed forms of the multinomial logit for one chunk of rows."""

    @cached_property
    def Xt(self):
        """Augmented inputs ``xt = (x, 1)`` (m, q)."""
        return mn.design(self.X, self.backend.fit_intercept)

    @cached_property
    def log_proba(self):
        """``log P(c|x_i)`` (m, K)."""
        return mn.log_proba(self.Xt, self.backend.W)

    @cached_property
    def residual(self):
        """``r = pi - e_y`` (m, K-1)."""
        return mn.residual(self.proba, self.y)

    @cached_property
    def S(self):
        """``S = diag(pi) - pi pi^T`` (m, K-1, K-1)."""
        return mn.covariance(self.proba)

    @cached_property
    def logp_grad(self):
        """``grad_theta log P(c|x_i)`` (m, K, p)."""
        return mn.logp_grads(self.Xt, self.proba)

    @cached_property
    def logp_x_diff(self):
        """``grad_x (log P_a - log P_0) = B e_a`` (m, K-1, d), the same for every row."""
        return np.broadcast_to(self.backend.B.T, (self.m, self.backend.K - 1, self.backend.d))

    @cached_property
    def loss_grad(self):
        """``grad_theta L = vec(xt r^T)`` (m, p)."""
        return mn.per_sample_grad(self.Xt, self.residual)

    def mixed_T(self, w):
        """``M_i^T w`` (m, d) for one w (p,)."""
        b = self.backend
        return mn.mixed_T(self.Xt, b.d, self.residual, self.S, b.B, w)

    def mixed_T_rows(self, W):
        """``M_i^T w_ia`` (m, d, a) for W (m, a, p)."""
        b = self.backend
        return mn.mixed_T_rows(self.Xt, b.d, self.residual, self.S, b.B, W)

    def mixed(self, U):
        """``M_i u_ij`` (m, k, p) for U (m, d, k)."""
        b = self.backend
        return mn.mixed(self.Xt, b.d, self.residual, self.S, b.B, U)

    def tangents(self, weights=None):
        """``w_ia = v_ia - v_i0``, the columns of A_i, in closed form (m, d, K-1).

        Binary: ``a_i = beta - (1/n)(r_i z_i[:d] + s_i t_i beta)`` with
        ``z_i = H^{-1} xt_i`` and ``t_i = xt_i . z_i``, formed in place (memory
        bound at large n). Softmax: ``Z[i, k, l, :]``, block k of
        ``H^{-1}(e_l kron xt_i)``, from one product with the dense H^{-1}, then
        ``A_i = B - (1/n)(Wm[:d] r + B S (Wm^T xt))`` for all columns at once
        (:func:`~localinf.models.multinomial.tangents_T`; a transposed view).
        """
        b = self.backend
        Xt, r, S, n, d, k1 = self.Xt, self.residual, self.S, b.D_divisor, b.d, b.K - 1
        m = self.m
        if k1 == 1:
            Z = Xt @ b.Hinv_dense  # (m, q); H is symmetric
            s = S[:, 0, 0]
            t = np.einsum("ij,ij->i", Z, Xt)
            root = np.ones(m) if weights is None else weights
            W = Z[:, :d]
            W *= (-root * r[:, 0] / n)[:, None]  # in place: memory-bound at large n
            W += np.multiply.outer(root * (1.0 - s * t / n), b.B[:, 0])
            return W[:, :, None]
        AT = mn.tangents_T(Xt, d, r, S, b.B, self._class_blocks(), n)
        if weights is not None:
            AT *= weights[:, None, None]
        return np.swapaxes(AT, 1, 2)

    def _class_blocks(self):
        """:func:`~localinf.models.multinomial.class_blocks` of the backend's dense H^{-1},
        formed once per dense inverse (kept on the backend)."""
        b = self.backend
        dense = b.Hinv_dense
        held = b._softmax_blocks
        if held[0] is not dense:
            b._softmax_blocks = held = dense, mn.class_blocks(dense, b.K, b.q)
        return held[1]

    def pool_blocks(self, W):
        """Layouts of query vectors for :meth:`projected_mixed_T` (K > 2).

        Parameters
        ----------
        W : ndarray (p, mq)
            E.g. ``H^{-1} grad_theta L(z_q)``.

        Returns
        -------
        tuple of ndarray
            :func:`~localinf.models.multinomial.pool_blocks` of W.
        """
        b = self.backend
        return mn.pool_blocks(W, b.K, b.q, b.d)

    def projected_mixed_T(self, U, pool):
        """``u_ij . (M_i^T w_q)`` for every row, column of U_i and query vector (K > 2).

        Parameters
        ----------
        U : ndarray (m, d, k)
        pool : tuple of ndarray
            :meth:`pool_blocks` of the query vectors.

        Returns
        -------
        ndarray (m, k, mq)
        """
        return mn.projected_mixed_T(self.Xt, self.residual, self.S, self.backend.B, U, pool)
