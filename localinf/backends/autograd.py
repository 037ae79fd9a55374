"""Autograd backend: local influence for any differentiable classifier.

Every primitive of :class:`~localinf.backends.Rows` comes from automatic
differentiation of the model's logits, with perturbations on the input x and
the chain rules of eq. 2.2-2.3 through the whole model. Because row i's loss
depends on x_i alone, the Jacobian of ``X -> grad_theta sum_i L_i`` holds every
M_i of a chunk at once, and ``grad_x`` of a sum of per-row outputs is the
per-row gradient: passes cost the same whatever the number of rows.

A model declared with ``logp_grad_fn`` (fit_mlp networks, wrapped GLMs) never
forms M_i: its products are forward and reverse passes through the per-row
gradients (:class:`~localinf.backends.mixed.PassMixed`), and KFSVD can
truncate it (:mod:`localinf.backends.kfsvd`).
"""

from functools import cached_property

import autograd.numpy as anp
import numpy as np
from autograd import grad, jacobian, make_jvp

from .._core.checks import check_minimiser
from ..curvature.registry import make_curvature
from ..exceptions import InputError
from ..models.mlp import MLP
from .base import Backend, Rows
from .kfsvd import InputLayerTerm, KFSVDOptions, truncate
from .mixed import DenseMixed, PassMixed, TruncatedMixed

# Budget in float64 entries (64 MiB) for the largest per-chunk block.
_CHUNK_ENTRIES = 1 << 23


class AutogradBackend(Backend):
    """Exact primitives for an :class:`~localinf.AutogradModel`, by automatic differentiation.

    Built from the model (its fitted parameters), ``H^{-1}`` and n alone;
    :meth:`from_data` builds the curvature on the training data and checks
    that the parameters minimise the risk there.

    Parameters
    ----------
    model : AutogradModel
    n, d : int
        Training rows and input features.
    H_inv : LinearOperator (p, p)
    H_inv_query : LinearOperator (p, p), optional
        For solves against query gradients (default ``H_inv``).
    chunk_size : int, optional
        Rows per chunk (default: within a 64 MiB budget for the largest block).
    svd_rank : int, optional
        Replace every M_i by its rank-k truncated SVD (KFSVD); needs a model
        with ``logp_grad_fn``.
    svd_options : dict or KFSVDOptions, optional
    weights : ndarray (n,), optional
        Frequency weights of the training rows.
    """

    def __init__(self, model, n, d, H_inv, H_inv_query=None, chunk_size=None, svd_rank=None,
                 svd_options=None, weights=None):
        self.model = model
        p, K = model.theta_.size, model.n_classes_
        self.svd_options = KFSVDOptions.coerce(svd_options, "svd_options")
        if svd_rank is not None:
            if model.logp_grad_fn is None:
                raise InputError("svd_rank needs per-row gradients: a model built with logp_grad_fn "
                                 "(fit_mlp networks and GLMs have one)")
            if not isinstance(svd_rank, (int, np.integer)) or isinstance(svd_rank, bool) \
                    or not 1 <= svd_rank <= d:
                raise InputError(f"svd_rank must be an integer in 1..{d}; got {svd_rank!r}")
        elif svd_options:
            raise InputError("svd_options need svd_rank (KFSVD)")
        if self.svd_options.exact_input_layer and not isinstance(model, MLP):
            raise InputError("svd_options['exact_input_layer'] needs a whole network fitted by "
                             "localinf.fit_mlp (its first parameters are the input layer)")
        self.svd_rank = svd_rank
        # Largest per-chunk block: (rows, p, d) mixed partials, (rows, K, p) on the
        # per-row gradient path, or the (rows, p, l) sketches of KFSVD.
        if model.logp_grad_fn is None:
            width = p * d
        elif svd_rank is None:
            width = K * max(p, model.gradient_width_)
        else:
            width = p * max(K, 2 * min(d, svd_rank + self.svd_options.oversample))
        super().__init__(n, d, p, K, model.theta_, H_inv, H_inv_query,
                         chunk_size=chunk_size or int(max(1, min(n, _CHUNK_ENTRIES // width))),
                         weights=weights)

    @classmethod
    def from_data(cls, model, X, y, curvature="exact", curvature_options=None, chunk_size=None,
                  grad_rtol=1e-6, svd_rank=None, svd_options=None, query_curvature=None,
                  query_curvature_options=None, weights=None, at_minimiser=True):
        """The backend for a model and the training data it was fitted on.

        Parameters
        ----------
        model : AutogradModel
        X : ndarray (n, d)
        y : ndarray of int (n,)
        curvature : {"exact", "cg", "lissa", "kfac", "ggn"} or LinearOperator
            How ``H^{-1}`` is applied (:func:`localinf.curvature.make_curvature`).
        curvature_options : dict or options dataclass, optional
        chunk_size : int, optional
        grad_rtol : float, default 1e-6
            Accept the parameters as the minimiser when ``max|grad R| <= grad_rtol``
            times ``max(1, max|X|)``. Networks fitted by L-BFGS may need a looser
            value; the formulas then carry the fit's error.
        svd_rank : int, optional
        svd_options : dict or KFSVDOptions, optional
        query_curvature : same choices as ``curvature``, optional
            The operator for solves against query and validation gradients;
            default ``curvature``'s.
        query_curvature_options : dict or options dataclass, optional
        weights : ndarray (n,), optional
            Frequency weights (checked), the ones the model was fitted with.
        at_minimiser : bool, default True
            False: skip the gradient check (an approximate fit, for
            positive semi-definite curvatures; the caller checks the choice).

        Returns
        -------
        AutogradBackend
            With ``grad_norm``, ``max|grad R|`` at the model's parameters.
        """
        risk = model.risk_on(X, y, weights)
        gradient = risk.grad()
        if at_minimiser:
            check_minimiser(gradient, float(np.max(np.abs(X))), grad_rtol)
        if query_curvature is None and query_curvature_options:
            raise InputError("query_curvature_options needs query_curvature")
        H_inv = make_curvature(curvature, risk, curvature_options)
        H_inv_query = None
        if query_curvature is not None:
            H_inv_query = make_curvature(query_curvature, risk, query_curvature_options,
                                         argument="query_curvature_options", metric=H_inv)
        built = cls(model, X.shape[0], X.shape[1], H_inv, H_inv_query, chunk_size=chunk_size,
                    svd_rank=svd_rank, svd_options=svd_options, weights=weights)
        built.grad_norm = float(np.max(np.abs(gradient)))
        return built

    def rows(self, X, y):
        """A :class:`AutogradRows` for the chunk (the protocol: :meth:`Backend.rows`)."""
        return AutogradRows(self, X, y)

    def risk_grad(self, X, y):
        """grad R by reverse passes over row chunks (the protocol: :meth:`Backend.risk_grad`)."""
        return self.model.risk_on(X, y, self.weights).grad()

    def log_proba_at(self, theta, X):
        """(m, K) at parameters theta (the protocol: :meth:`Backend.log_proba_at`)."""
        return np.asarray(self.model.log_proba_fn(theta, X))


class AutogradRows(Rows):
    """Derivatives of one chunk of rows by autograd, each computed on first use."""

    @cached_property
    def log_proba(self):
        """``log P(c|x_i)`` (m, K)."""
        return self.backend.log_proba_at(self.backend.theta, self.X)

    @cached_property
    def logp_grad(self):
        """``grad_theta log P(c|x_i)`` (m, K, p): the model's per-row gradients, or a
        Jacobian in theta (forward mode when p is the smaller side)."""
        b = self.backend
        if b.model.logp_grad_fn is not None:
            return np.asarray(b.model.logp_grad_fn(b.theta, self.X))
        f = lambda th: b.model.log_proba_fn(th, self.X)
        if b.p < self.m * b.K:
            jvp = make_jvp(f)(b.theta)
            return np.stack([jvp(e)[1] for e in np.eye(b.p)], axis=-1)
        return np.asarray(jacobian(f)(b.theta))

    @cached_property
    def logp_x_diff(self):
        """``grad_x (log P_a - log P_0)`` (m, K-1, d): one reverse pass per class difference."""
        b = self.backend
        C = np.eye(b.K)[:, 1:] - np.eye(b.K)[:, :1]  # (K, K-1)
        f = lambda X: anp.sum(anp.dot(b.model.log_proba_fn(b.theta, X), C), axis=0)
        return np.transpose(jacobian(f)(self.X), (1, 0, 2))

    @cached_property
    def _M(self):
        """The chunk's mixed partials in the form the backend keeps them."""
        b = self.backend
        if b.model.logp_grad_fn is None:  # M_i from p reverse passes
            g = lambda X: grad(b.model.loss_sum_fn)(b.theta, X, self.y)
            return DenseMixed(np.transpose(jacobian(g)(self.X), (1, 0, 2)))
        passes = PassMixed(b.model, b.theta, self.X, self.y)
        if b.svd_rank is None:
            return passes
        forward, reverse = passes.forward, passes.reverse
        E = None
        if b.svd_options.exact_input_layer:  # truncate M_i - E_i only
            E = InputLayerTerm.of(b.model, b.theta, self.X, self.y)
            forward = lambda Z: E.add_to(passes.forward(Z), Z, sign=-1.0)
            reverse = lambda Q: passes.reverse(Q) - E.T(np.transpose(Q, (0, 2, 1)))
        US, V = truncate(forward, reverse, self.m, b.d, b.svd_rank, b.svd_options)
        return TruncatedMixed(US, V, E)

    def mixed_T(self, w):
        """``M_i^T w`` (m, d) for one w (p,)."""
        return self._M.T(w)

    def mixed_T_rows(self, W):
        """``M_i^T w_ia`` (m, d, a) for W (m, a, p)."""
        return self._M.T_rows(W)

    def mixed(self, U):
        """``M_i u_ij`` (m, k, p) for U (m, d, k)."""
        return self._M.apply(U)


def check_logits(model, X):
    """Refuse a model whose logits fail on the data or have the wrong shape.

    Parameters
    ----------
    model : AutogradModel
    X : ndarray (n, d)

    Returns
    -------
    None
    """
    try:
        logP = np.asarray(model.log_proba_fn(model.theta_, X[:2]))
    except Exception as exc:  # the user's function failed on their data: say so plainly
        raise InputError(f"model.logits failed on X[:2]: {type(exc).__name__}: {exc}") from None
    if logP.shape != (min(2, X.shape[0]), model.n_classes_):
        raise InputError(f"model.logits must return (m, {model.n_classes_}) logits (or (m,) for a "
                         f"binary model); got log-probabilities of shape {logP.shape}")

