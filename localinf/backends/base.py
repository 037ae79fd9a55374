"""The backend protocol: what every influence measure needs from a fitted model.

Notation (the paper's; shapes for m rows of a chunk, d features, p
parameters, K classes):

* ``a_ic = grad_theta log P(c|x_i)`` (p,), ``b_ic = grad_x log P(c|x_i)`` (d,);
* ``grad_theta L(y_i, x_i) = -a_{i y_i}``;
* ``M_i = d/dx grad_theta L(y_i, x_i)`` (p, d), the mixed partial;
* ``D_i = d theta_hat / d omega = -(1/n) H^{-1} M_i`` (p, d), eq. 2.2 (with
  frequency weights w, ``1/N``, ``N = sum_i w_i``: one observation of row i is perturbed);
* ``v_ic = D_i^T a_ic + b_ic`` and ``G_i = sum_c P(c|x_i) v_ic v_ic^T``, eq. 2.3.

A :class:`Backend` holds the fitted parameters, the number of training rows n
(the 1/n of eq. 2.2), the sizes and the inverse-Hessian operators. It needs no
training matrix of its own, so it can be built from the fitted model, ``H^{-1}``
and n alone (matrix-free curvatures such as CG, LiSSA and K-FAC keep the data
they multiply with). Its :meth:`Backend.rows` gives a :class:`Rows` object for
a chunk of rows; within that object each per-row quantity is computed on first
use and shared by the products asked of it (one pass over a chunk serves both
the metric and the gradient of FI_util). Measures talk to nothing else, so one
measure serves every backend, and a backend with closed forms (the reference
backend) overrides only what it can do faster.
"""

from abc import ABC, abstractmethod
from functools import cached_property

import numpy as np

from .._core.chunks import row_chunks
from ..models.multinomial import indicator_cholesky


class Backend(ABC):
    """A fitted model's influence primitives, at its parameters ``theta``.

    Parameters
    ----------
    n, d, p, K, theta, H_inv, H_inv_query, chunk_size, weights
        Stored as the attributes below (``H_inv_query`` defaults to ``H_inv``).

    Attributes
    ----------
    n : int
        Training rows.
    weights : ndarray (n,) or None
        Frequency weights of the training rows (None: all one).
    N : float
        Observations ``sum_i w_i`` (n without weights): the ``1/N`` of
        ``D_i = -(1/N) H^{-1} M_i``.
    d, p, K : int
        Features, parameters, classes.
    theta : ndarray (p,)
        Fitted parameters (the minimiser of the penalised risk).
    H_inv : LinearOperator (p, p)
        ``H^{-1}``, for the per-row solves (the metric G_i, D_i, self-influence).
    H_inv_query : LinearOperator (p, p)
        ``H^{-1}`` for solves against query and validation gradients (few
        right-hand sides); ``H_inv`` unless a more accurate operator was chosen.
    chunk_size : int
        Rows per chunk that keep the per-chunk blocks within the memory budget.
    grad_norm : float or None
        ``max|grad R|`` at ``theta`` on the training data, set by the
        ``from_data`` builders (None until then).
    train_grad : ndarray (p,) or None
        ``grad R`` itself on the training data, where a builder formed it in
        its pass (then no further pass is needed for it).
    """

    grad_norm = None
    train_grad = None
    n: int
    d: int
    p: int
    K: int
    theta: np.ndarray
    chunk_size: int

    def __init__(self, n, d, p, K, theta, H_inv, H_inv_query=None, chunk_size=1024, weights=None):
        self.n, self.d, self.p, self.K = int(n), int(d), int(p), int(K)
        self.weights = weights
        self.N = float(self.n) if weights is None else float(np.sum(weights))
        # D_i = -H^{-1} M_i / D_divisor: N for the derivative of eq. 2.2, 1 for the paper's
        # Algorithm 1 as printed (LocalInfluence's ``scaling``)
        self.D_divisor = self.N
        self.theta = theta
        self.H_inv = H_inv
        self.H_inv_query = H_inv if H_inv_query is None else H_inv_query
        self.chunk_size = int(chunk_size)

    def step_change_bound(self, step):
        """An upper bound on how much ``theta -> theta - step`` changes a training log-probability.

        Lets the minimiser test skip its exact pass over the data when the
        bound is already small; inf (no bound) unless a backend knows one.

        Parameters
        ----------
        step : ndarray (p,)

        Returns
        -------
        float
        """
        return np.inf

    #: True where the rows give :meth:`Rows.pool_blocks` and :meth:`Rows.projected_mixed_T`
    #: (closed-form pairwise products of the multinomial logit, K > 2).
    projected_pairs = False

    #: True where the metric G_i has rank one and :meth:`rank_one` gives it in closed form.
    rank_one_metric = False

    def rank_one(self):
        """A kernel for a rank-one metric ``G_i = s_i a_i a_i^T`` (binary models with closed forms).

        Its ``columns(u)`` and ``parts(X, y, V, u) -> (lam, proj)`` give, per row,
        the eigenvalue ``s_i ||a_i||^2`` and ``a_i . (M_i^T u) / ||a_i||`` from a
        few numbers per row (:class:`~localinf.backends.binary.RankOneKernel`).
        Only where :attr:`rank_one_metric` is True.
        """
        raise NotImplementedError(f"{type(self).__name__} has no closed-form rank-one metric")

    @abstractmethod
    def rows(self, X, y):
        """Per-row quantities for a chunk of rows.

        Parameters
        ----------
        X, y : ndarray (m, d) and (m,)
            Any rows: training rows, or queries whose loss gradients are needed.

        Returns
        -------
        Rows
        """

    @abstractmethod
    def risk_grad(self, X, y):
        """Gradient of the penalised risk on (X, y) at ``theta``: zero at the minimiser.

        Parameters
        ----------
        X, y : ndarray (n, d) and (n,)
            The training data the backend's parameters are said to minimise the
            risk on (weighted by the backend's ``weights``).

        Returns
        -------
        ndarray (p,)
        """

    def mean_loss_grad(self, X, y):
        """The mean gradient ``gbar = (1/m) sum_j grad_theta L(z_j)`` over rows, in chunks.

        Parameters
        ----------
        X, y : ndarray (m, d) and (m,)
            Validated rows, read in chunks of ``chunk_size``.

        Returns
        -------
        ndarray (p,)
        """
        gbar = np.zeros(self.p)
        for sl in row_chunks(X.shape[0], self.chunk_size):
            gbar += self.rows(X[sl], y[sl]).loss_grad.sum(axis=0)
        return gbar / X.shape[0]

    @abstractmethod
    def log_proba_at(self, theta, X):
        """Log class probabilities at other parameters (posterior draws, for BALD).

        Parameters
        ----------
        theta : ndarray (p,)
            Parameters in the backend's layout (e.g. a posterior draw).
        X : ndarray (m, d)

        Returns
        -------
        ndarray (m, K)
        """

    def proba(self, X):
        """Class probabilities at ``theta``.

        Parameters
        ----------
        X : ndarray (m, d)
            Rows, no labels needed (e.g. an unlabeled pool).

        Returns
        -------
        ndarray (m, K)
        """
        return np.exp(self.log_proba_at(self.theta, X))


class Rows(ABC):
    """Per-row quantities of one chunk of rows (X, y) at a backend's ``theta``.

    Subclasses supply the derivatives (``log_proba``, ``logp_grad``,
    ``logp_x_diff``) and the three products with the mixed partials
    (``mixed_T``, ``mixed_T_rows``, ``mixed``); ``loss_grad``, ``tangents`` and
    ``metric_factor`` follow from those here, and a backend may override them
    with closed forms.

    Parameters
    ----------
    backend : Backend
    X : ndarray (m, d)
    y : ndarray of int (m,)
    """

    def __init__(self, backend, X, y):
        self.backend, self.X, self.y = backend, X, y
        self.m = X.shape[0]

    # -- derivatives of the model's output -------------------------------------
    @property
    @abstractmethod
    def log_proba(self):
        """``log P(c|x_i)`` (m, K)."""

    @property
    @abstractmethod
    def logp_grad(self):
        """``a_ic = grad_theta log P(c|x_i)`` (m, K, p)."""

    @property
    @abstractmethod
    def logp_x_diff(self):
        """``b_ia - b_i0 = grad_x (log P(a|x_i) - log P(0|x_i))`` for a = 1..K-1, (m, K-1, d)."""

    @cached_property
    def proba(self):
        """``P(c|x_i)`` (m, K)."""
        return np.exp(self.log_proba)

    @cached_property
    def loss_grad(self):
        """``grad_theta L(y_i, x_i)`` (m, p)."""
        return -self.logp_grad[np.arange(self.m), self.y]

    # -- products with the mixed partials M_i ----------------------------------
    @abstractmethod
    def mixed_T(self, w):
        """``M_i^T w`` for one vector w and every row.

        Parameters
        ----------
        w : ndarray (p,)
            A direction in parameter space, e.g. ``u = H^{-1} gbar_V`` of FI_util.

        Returns
        -------
        ndarray (m, d)
        """

    @abstractmethod
    def mixed_T_rows(self, W):
        """``M_i^T w_ia`` for a different stack of vectors per row.

        Parameters
        ----------
        W : ndarray (m, a, p)
            Row i's own a vectors in parameter space (e.g. ``H^{-1}`` times its
            class gradients).

        Returns
        -------
        ndarray (m, d, a)
        """

    @abstractmethod
    def mixed(self, U):
        """``M_i u_ij`` for every row i and column j of U_i.

        Parameters
        ----------
        U : ndarray (m, d, k)
            Row i's own k directions in input space.

        Returns
        -------
        ndarray (m, k, p)
            Changes of the loss gradient, one per direction.
        """

    def pool_blocks(self, W):
        """The backend's layout of query vectors for :meth:`projected_mixed_T`.

        Only where the backend's :attr:`Backend.projected_pairs` is True.

        Parameters
        ----------
        W : ndarray (p, mq)
            Query vectors in parameter space, e.g. ``H^{-1} grad_theta L(z_q)``.

        Returns
        -------
        tuple of ndarray
        """
        raise NotImplementedError(f"{type(self).__name__} has no projected pairwise products")

    def projected_mixed_T(self, U, pool):
        """``u_ij . (M_i^T w_q)`` for every row, column of U_i and query vector.

        Only where the backend's :attr:`Backend.projected_pairs` is True.

        Parameters
        ----------
        U : ndarray (m, d, k)
            Row i's own k directions in input space.
        pool : tuple of ndarray
            :meth:`pool_blocks` of the query vectors.

        Returns
        -------
        ndarray (m, k, mq)
        """
        raise NotImplementedError(f"{type(self).__name__} has no projected pairwise products")

    # -- the metric of eq. 2.3 -----------------------------------------------------
    def tangents(self, weights=None):
        """``w_ia = v_ia - v_i0`` for a = 1..K-1, optionally times a weight per row.

        Since ``sum_c P_c v_ic = 0``, G_i is the covariance of v_ic over
        ``c ~ P``: ``G_i = W_i S_i W_i^T`` with S_i the covariance of the class
        indicators 1..K-1. Only the K - 1 differences need a solve with H and a
        pass through M_i: ``w_ia = -(1/n) M_i^T H^{-1} (a_ia - a_i0) + (b_ia - b_i0)``.

        Parameters
        ----------
        weights : ndarray (m,), optional
            Multiplies row i's tangents (in place where possible).

        Returns
        -------
        ndarray (m, d, K-1)
            A fresh array.
        """
        b = self.backend
        A = self.logp_grad
        Ad = A[:, 1:] - A[:, :1]  # (m, K-1, p)
        k1 = b.K - 1
        HA = b.H_inv.matmat(Ad.reshape(self.m * k1, b.p).T).T.reshape(self.m, k1, b.p)
        W = self.mixed_T_rows(HA)
        W *= -1.0 / b.D_divisor
        W += np.transpose(self.logp_x_diff, (0, 2, 1))
        if weights is not None:
            W *= weights[:, None, None]
        return W

    def metric_factor(self):
        """F_i with the metric ``G_i = F_i F_i^T`` (eq. 2.3).

        For K = 2, ``S_i = P_0 P_1`` and ``F_i = sqrt(P_0 P_1) w_i1`` (m, d, 1);
        otherwise the square factor ``F_i = W_i L_i`` (m, d, K-1) with
        ``L_i L_i^T = S_i`` (:func:`~localinf.models.multinomial.indicator_cholesky`),
        whose Gram matrix has no structural null vector.

        Returns
        -------
        ndarray (m, d, 1) or (m, d, K-1)
        """
        P = self.proba
        if self.backend.K == 2:
            return self.tangents(np.sqrt(P[:, 0] * P[:, 1]))
        AT = np.swapaxes(self.tangents(), 1, 2)  # (m, K-1, d), contiguous
        FT = np.matmul(np.swapaxes(indicator_cholesky(P), 1, 2), AT)
        return np.swapaxes(FT, 1, 2)
