"""Any differentiable classifier as an autograd function, and its penalised risk.

A model is a function ``logits(params, X) -> (m, K)`` that autograd can
differentiate, the fitted parameters, and the training penalty. The loss is the
cross-entropy ``L = -log softmax(logits)[y]`` and the risk is

    R(theta) = (1/n) sum_i L(y_i, x_i; theta) + l2 * ||theta[mask]||^2

(the same convention as the GLMs). What a model can do beyond its logits is
declared when it is built (``logp_grad_fn``, ``loss_grad_fn``,
``linear_in_params``, ``curvature_fn``), never attached later.
"""

import autograd.numpy as anp
import numpy as np
from autograd import grad, make_jvp
from autograd.misc import flatten
from autograd.tracer import getval

from .._core.checks import (check_finite_result, check_labels, check_matrix, check_nonneg_float,
                            plain_array)
from .._core.chunks import row_chunks
from ..exceptions import InputError
from .classifier import Classifier
from .risk_sums import fisher_sum, reverse_hessian

# Rows per chunk of the risk's passes.
_RISK_ROWS = 1 << 15


def log_softmax(z):
    """Row-wise ``z - log sum exp z``, traceable to any order.

    The shift by the row maximum is a constant to autograd (``getval``): the
    result does not depend on it, so its derivative contributes nothing, and
    leaving it out of the trace keeps nested derivatives cheap.

    Parameters
    ----------
    z : array (m, K)

    Returns
    -------
    array (m, K)
    """
    zc = z - np.max(getval(z), axis=1, keepdims=True)
    return zc - anp.log(anp.sum(anp.exp(zc), axis=1, keepdims=True))


def _optional_callable(f, name):
    if f is not None and not callable(f):
        raise InputError(f"{name} must be a callable or None; got {type(f).__name__}")
    return f


class AutogradModel(Classifier):
    """A fitted classifier given as an autograd-differentiable logits function.

    Parameters
    ----------
    logits : callable
        ``logits(params, X)`` with X of shape (m, d); returns (m, K) class
        logits, or (m,) for a binary model with one logit (sigmoid output,
        taken as the logits ``(0, eta)``). ``params`` has the structure of
        ``params`` below.
    params : ndarray or list/tuple/dict of ndarrays
        Fitted parameters. They are flattened (``autograd.misc.flatten``) into
        ``theta_`` of length p; ``unflatten`` maps back.
    n_classes : int
    l2 : float, default 0
        Penalty ``l2 * ||theta[penalty_mask]||^2`` in the risk.
    penalty_mask : array_like of bool (p,), optional
        Entries of the flat theta that are penalised (default: all).
    logp_grad_fn : callable, optional
        ``logp_grad_fn(theta, X) -> (m, K, p)``: the per-row gradients
        ``grad_theta log P(c|x_i)``, as a function autograd can trace in X.
        With it, ``M_i^T w_i`` is one reverse pass and ``M_i u_i`` one forward
        pass whatever p, and KFSVD is available. Without it, per-row
        derivatives come from Jacobians (p passes per chunk).
    loss_grad_fn : callable, optional
        ``loss_grad_fn(theta, X, y) -> (m, p)``: the per-row gradients of the
        loss alone, which makes those passes K times cheaper.
    linear_in_params : bool, default False
        The logits are linear in theta (as for GLMs): H is then the Fisher
        matrix of the per-row gradients plus the penalty, one matrix product
        per chunk instead of p reverse passes (checked against one
        Hessian-vector product).
    curvature_fn : callable, optional
        ``curvature_fn(theta, X, y, w, gauss_newton, free=None) -> (q, q)``: the
        row sum of ``w_i`` times the loss's Hessian (or its Gauss-Newton part)
        over the parameters ``free`` (all if None), in closed form; H and the
        Fisher matrix then come from it (:class:`MLP` declares one).

    Attributes
    ----------
    theta_ : ndarray (p,)
    n_classes_ : int
    gradient_width_ : int
        Parameters per row in the per-row gradient functions (p; the parent's
        p for a restricted model, whose gradients are the parent's, restricted).
    """

    def __init__(self, logits, params, n_classes, l2=0.0, penalty_mask=None, *, logp_grad_fn=None,
                 loss_grad_fn=None, linear_in_params=False, curvature_fn=None):
        if not callable(logits):
            raise InputError("logits must be a callable logits(params, X)")
        self.logits = logits
        try:
            theta, self.unflatten = flatten(params)
        except (TypeError, ValueError) as exc:
            raise InputError(f"params must be arrays of real numbers (nested lists, tuples or "
                             f"dicts of them): {exc}") from None
        self.theta_ = plain_array(theta, "params").astype(np.float64)
        if not np.isfinite(self.theta_).all():
            raise InputError("params contain NaN or inf")
        if not isinstance(n_classes, (int, np.integer)) or isinstance(n_classes, bool) or n_classes < 2:
            raise InputError(f"n_classes must be an integer >= 2; got {n_classes!r}")
        self.n_classes_ = int(n_classes)
        self.l2 = check_nonneg_float(l2, "l2")
        p = self.theta_.size
        mask = np.ones(p) if penalty_mask is None else \
            plain_array(penalty_mask, "penalty_mask").astype(np.float64)
        if mask.shape != (p,):
            raise InputError(f"penalty_mask must have shape ({p},); got {mask.shape}")
        if not (np.isfinite(mask).all() and (mask >= 0).all()):
            raise InputError("penalty_mask must hold finite weights >= 0 (1 penalises an entry, "
                             "0 leaves it free)")
        self.penalty_mask = mask
        self.logp_grad_fn = _optional_callable(logp_grad_fn, "logp_grad_fn")
        self.loss_grad_fn = _optional_callable(loss_grad_fn, "loss_grad_fn")
        self.curvature_fn = _optional_callable(curvature_fn, "curvature_fn")
        if not isinstance(linear_in_params, bool):
            raise InputError(f"linear_in_params must be True or False; got {linear_in_params!r}")
        self.linear_in_params = linear_in_params
        self.gradient_width_ = p  # entries of one row's per-row gradient, for chunk sizes

    # -- autograd-traceable pieces -------------------------------------------
    def log_proba_fn(self, theta, X):
        """Log class probabilities as a function of the flat theta (traceable).

        Parameters
        ----------
        theta : array (p,)
        X : array (m, d)

        Returns
        -------
        array (m, K)
        """
        z = self.logits(self.unflatten(theta), X)
        if z.ndim == 1:
            z = anp.stack([anp.zeros(z.shape[0]), z], axis=1)
        return log_softmax(z)

    def loss_sum_fn(self, theta, X, y, w=None):
        """``sum_i w_i L(y_i, x_i; theta)`` over the rows given (traceable).

        Parameters
        ----------
        theta : array (p,)
        X : array (m, d)
        y : ndarray of int (m,)
            Labels, one-hot encoded inside (no traced indexing).
        w : ndarray (m,), optional
            Frequency weights (default: all one).

        Returns
        -------
        scalar
        """
        logP = self.log_proba_fn(theta, X)
        # one-hot product rather than fancy indexing: its derivative avoids np.add.at
        onehot = np.eye(self.n_classes_)[y]
        return -anp.sum(logP * (onehot if w is None else onehot * w[:, None]))

    def penalty_fn(self, theta):
        """``l2 * ||theta[mask]||^2`` (traceable).

        Parameters
        ----------
        theta : array (p,)
            Flat parameters; only the entries in ``penalty_mask`` count.

        Returns
        -------
        scalar
        """
        return self.l2 * anp.sum(self.penalty_mask * theta ** 2)

    def restrict(self, free):
        """The same model with only the parameters ``theta[free]`` free, the rest frozen.

        Influence is then computed over the free parameters only (D_i, H and the
        gradients in eq. 2.2-2.3 restricted to them), while perturbations stay
        on the input x.

        Parameters
        ----------
        free : array_like of bool (p,) or of int
            A boolean mask or an index array over ``theta_``.

        Returns
        -------
        RestrictedModel
        """
        return RestrictedModel(self, free)

    # -- the risk on data ----------------------------------------------------
    def risk_on(self, X, y, weights=None):
        """The penalised risk on fixed data, with its derivatives (what a curvature needs).

        Parameters
        ----------
        X, y : ndarray (n, d) and (n,)
            The training data (checked by the caller).
        weights : ndarray (n,), optional
            Frequency weights (checked by the caller).

        Returns
        -------
        DataRisk
        """
        return DataRisk(self, X, y, weights)

    # -- fitted-model conveniences ---------------------------------------------
    def predict_log_proba(self, X):
        """Log class probabilities at ``theta_``, from the model's logits.

        Parameters
        ----------
        X : array_like (m, d)
            Any finite inputs the logits function accepts.

        Returns
        -------
        ndarray (m, K)
        """
        X = check_matrix(X, "X", n_features=getattr(self, "n_features_in_", None),
                         feature_names=self._names())
        try:
            out = np.asarray(self.log_proba_fn(self.theta_, X), dtype=np.float64)
        except (TypeError, ValueError) as exc:  # the user's logits refused X (wrong width, ...)
            raise InputError(f"X of shape {X.shape}: the model's logits failed on it: {exc}") from None
        if out.shape != (X.shape[0], self.n_classes_):
            raise InputError(f"X of shape {X.shape}: the model's logits gave log-probabilities of "
                             f"shape {out.shape}, not ({X.shape[0]}, {self.n_classes_})")
        return check_finite_result(out, "predict_log_proba")

    def risk(self, X, y, theta=None):
        """Penalised empirical risk ``R = mean loss + l2 ||theta[mask]||^2`` on (X, y).

        Parameters
        ----------
        X : array_like (m, d)
        y : array_like (m,)
        theta : ndarray (p,), optional
            Parameters (default ``theta_``).

        Returns
        -------
        float
        """
        X = check_matrix(X, "X")
        y, _ = check_labels(y, "y", X.shape[0], n_classes=self.n_classes_)
        th = self.theta_ if theta is None else theta
        return float(self.loss_sum_fn(th, X, y) / X.shape[0] + self.penalty_fn(th))


class RestrictedModel(AutogradModel):
    """A model with only ``theta[free]`` free; the other parameters stay at the parent's values.

    Parameters
    ----------
    parent : AutogradModel
    free : array_like of bool (p,) or of int
        The free parameters of the parent.

    Attributes
    ----------
    parent : AutogradModel
    free_ : ndarray of int
        Indices of the free parameters in the parent's theta.
    """

    def __init__(self, parent, free):
        free, p = np.asarray(free), parent.theta_.size
        if free.dtype == bool and free.shape != (p,):
            raise InputError(f"free: a boolean mask must have shape ({p},); got {free.shape}")
        if free.dtype != bool and free.size and not np.issubdtype(free.dtype, np.integer):
            raise InputError(f"free must be a boolean mask or integer indices; got dtype {free.dtype}")
        idx = np.flatnonzero(free) if free.dtype == bool else free.astype(np.int64).ravel()
        if idx.size == 0 or idx.min() < 0 or idx.max() >= p or np.unique(idx).size != idx.size:
            raise InputError(f"free must select distinct parameters among 0..{p - 1}")
        full, unflatten = parent.theta_.copy(), parent.unflatten
        base = full.copy()
        base[idx] = 0.0
        embed = np.zeros((idx.size, full.size))
        embed[np.arange(idx.size), idx] = 1.0
        expand = lambda t: base + anp.dot(t, embed)  # traceable scatter of the free entries
        fast, loss_fast, curv = parent.logp_grad_fn, parent.loss_grad_fn, parent.curvature_fn
        super().__init__(
            lambda t, X: parent.logits(unflatten(expand(t)), X), full[idx], parent.n_classes_,
            l2=parent.l2, penalty_mask=parent.penalty_mask[idx],
            logp_grad_fn=None if fast is None else (lambda t, X: fast(expand(t), X)[..., idx]),
            loss_grad_fn=None if loss_fast is None
            else (lambda t, X, y: loss_fast(expand(t), X, y)[..., idx]),
            curvature_fn=None if curv is None else (lambda t, X, y, w, gn, free=None: curv(
                expand(t), X, y, w, gn, idx if free is None else idx[free])))
        self.parent = parent
        self.free_ = idx
        # the per-row gradients are the parent's, then restricted: chunks are sized for them
        self.gradient_width_ = parent.gradient_width_


class DataRisk:
    """The penalised risk of a model on fixed data (X, y), and its derivatives at theta_.

    This is the source every curvature operator is built from (see
    :class:`localinf.curvature.RiskSource`).

    Parameters
    ----------
    model : AutogradModel
    X, y : ndarray (n, d) and (n,)
        Training data, labels 0..K-1.
    weights : ndarray (n,), optional
        Frequency weights: ``R = (1/N) sum_i w_i L_i + penalty``, ``N = sum_i w_i``.

    Attributes
    ----------
    p : int
        Number of parameters.
    N : float
        ``sum_i w_i`` (n without weights).
    """

    def __init__(self, model, X, y, weights=None):
        self.model, self.X, self.y, self.weights = model, X, y, weights
        self.p = model.theta_.size
        self.N = float(X.shape[0]) if weights is None else float(np.sum(weights))

    def _w(self, sl):
        return None if self.weights is None else self.weights[sl]

    def grad(self, theta=None):
        """grad R(theta), summed over row chunks.

        Parameters
        ----------
        theta : ndarray (p,), optional
            Default ``theta_``.

        Returns
        -------
        ndarray (p,)
        """
        theta = self.model.theta_ if theta is None else theta
        g = np.zeros(theta.size)
        for sl in row_chunks(self.X.shape[0], _RISK_ROWS):
            g += grad(self.model.loss_sum_fn)(theta, self.X[sl], self.y[sl], self._w(sl))
        return g / self.N + grad(self.model.penalty_fn)(theta)

    def hvp(self, v):
        """``H v`` at theta_ by forward-over-reverse differentiation.

        Parameters
        ----------
        v : ndarray (p,)
            Direction in parameter space.

        Returns
        -------
        ndarray (p,)
            One pass over the data, whatever p: no H is formed.
        """
        model, theta = self.model, self.model.theta_
        out = np.zeros(theta.size)
        for sl in row_chunks(self.X.shape[0], _RISK_ROWS):
            gfun = lambda th: grad(model.loss_sum_fn)(th, self.X[sl], self.y[sl], self._w(sl))
            out += make_jvp(gfun)(theta)(v)[1]
        out /= self.N
        out += make_jvp(grad(model.penalty_fn))(theta)(v)[1]
        return out

    def hessian(self, theta=None):
        """Dense H (p, p) at theta (default theta_).

        For a model declared ``linear_in_params`` with ``logp_grad_fn``, the
        second derivatives of the logits vanish and H is the Fisher matrix
        ``(1/n) sum_i sum_c P_ic a_ic a_ic^T`` plus the penalty, with
        ``a_ic = grad_theta log P(c|x_i)``; the declaration is checked against
        one Hessian-vector product. A model with ``curvature_fn`` gives H in
        closed form. Otherwise H is built row by row as the Jacobian of the
        gradient: per row chunk the gradient is traced once and each row of H
        is one reverse pass through that trace.

        Parameters
        ----------
        theta : ndarray (p,), optional

        Returns
        -------
        ndarray (p, p)
        """
        model = self.model
        at_fit = theta is None
        theta = model.theta_ if theta is None else theta
        if at_fit and model.linear_in_params and model.logp_grad_fn is not None:
            return self._fisher(theta)
        if model.curvature_fn is not None:
            return self._scaled(model.curvature_fn(theta, self.X, self.y, self.weights, False))
        return self._scaled(reverse_hessian(model.loss_sum_fn, theta, self.X, self.y, self.weights,
                                            _RISK_ROWS))

    def fisher(self, theta=None):
        """The Fisher matrix of the model's predictive distribution, plus the penalty.

        ``F = (1/N) sum_i w_i sum_c P_ic a_ic a_ic^T + 2 l2 diag(mask)``,
        ``a_ic = grad_theta log P(c|x_i)`` (``curvature_fn`` if declared, else
        ``logp_grad_fn``, else a Jacobian): the Gauss-Newton matrix of
        :mod:`localinf.curvature.ggn`, H for GLMs.

        Parameters
        ----------
        theta : ndarray (p,), optional
            Default ``theta_``.

        Returns
        -------
        ndarray (p, p)
        """
        model = self.model
        theta = model.theta_ if theta is None else theta
        if model.curvature_fn is not None:
            return self._scaled(model.curvature_fn(theta, self.X, self.y, self.weights, True))
        return self._scaled(fisher_sum(model, theta, self.X, self.weights))

    def _scaled(self, M):
        """``M / N`` plus the penalty's curvature ``2 l2 diag(mask)``, in place."""
        M /= self.N
        M[np.diag_indices(M.shape[0])] += 2.0 * self.model.l2 * self.model.penalty_mask
        return M

    def _fisher(self, theta):
        """``fisher(theta)``, checked against one Hessian-vector product."""
        H, p = self.fisher(theta), theta.size
        v = np.random.default_rng(0).standard_normal(p)
        Hv = self.hvp(v)
        if np.linalg.norm(H @ v - Hv) > 1e-8 * np.linalg.norm(Hv):
            raise InputError("model.linear_in_params is set, but the Fisher matrix differs from the "
                             "Hessian: the logits are not linear in the parameters")
        return H
