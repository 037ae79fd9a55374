"""Logistic and softmax regression as autograd models, in the GLMs' parameter layout.

``LocalInfluence(glm, X, y, backend="autograd")`` runs a GLM through the
autograd backend with these functions: autograd then differentiates the
logits for every per-row derivative, an independent route to the closed forms
of :mod:`localinf.models.multinomial` against which the validation suite
checks the two backends.
"""

import autograd.numpy as anp
import numpy as np

from .autograd_model import AutogradModel, log_softmax
from .glm import MultinomialLogit
from .multinomial import penalty_mask
from ..exceptions import InputError


def glm_logits(n_features, n_classes, fit_intercept=True):
    """The multinomial logit as an autograd function, in localinf's parameter layout.

    ``theta`` stacks ``(coef_k, intercept_k)`` for k = 1..K-1; class 0 has logit 0.

    Parameters
    ----------
    n_features, n_classes : int
        d and K.
    fit_intercept : bool, default True
        Whether each class has an intercept (last entry of its block of theta).

    Returns
    -------
    callable
        ``logits(theta, X) -> (m, K)``.
    """
    q = n_features + int(fit_intercept)

    def logits(theta, X):
        W = anp.reshape(theta, (n_classes - 1, q))
        eta = anp.dot(_augment(X, fit_intercept), W.T)
        return anp.concatenate([anp.zeros((X.shape[0], 1)), eta], axis=1)

    return logits


def _augment(X, fit_intercept):
    """``[X, 1]`` when there is an intercept (no traced indexing: see _logp_grads)."""
    return anp.concatenate([X, np.ones((X.shape[0], 1))], axis=1) if fit_intercept else X


def _logp_grads(n_features, n_classes, fit_intercept):
    """``logp_grads(theta, X) -> (m, K, p)``: per-row ``grad_theta log P(c|x_i)``, traceable in X.

    ``grad_theta log P_c = vec(xt (e_c - pi)^T)`` in localinf's class-major layout.
    Written with reshapes and products by constant matrices rather than
    indexing: autograd differentiates an index through ``np.add.at``, which
    dominates the cost of the reverse passes at large n.
    """
    q = n_features + int(fit_intercept)
    logits = glm_logits(n_features, n_classes, fit_intercept)
    K, k1 = n_classes, n_classes - 1
    E = np.eye(K)[:, 1:]  # (K, K-1): picks classes 1..K-1

    def logp_grads(theta, X):
        m = X.shape[0]
        P = anp.exp(log_softmax(logits(theta, X)))
        R = E[None, :, :] - anp.reshape(anp.dot(P, E), (m, 1, k1))  # (m, K, K-1): e_c - pi
        xt = _augment(X, fit_intercept)
        return anp.reshape(anp.reshape(R, (m, K, k1, 1)) * anp.reshape(xt, (m, 1, 1, q)),
                           (m, K, k1 * q))

    return logp_grads


def _loss_grads(n_features, n_classes, fit_intercept):
    """``loss_grads(theta, X, y) -> (m, p)``: per-row ``vec(xt (pi - e_y)^T)``, traceable in X."""
    q = n_features + int(fit_intercept)
    logits = glm_logits(n_features, n_classes, fit_intercept)
    E = np.eye(n_classes)[:, 1:]

    def loss_grads(theta, X, y):
        m = X.shape[0]
        R = anp.dot(anp.exp(log_softmax(logits(theta, X))) - np.eye(n_classes)[y], E)  # (m, K-1)
        xt = _augment(X, fit_intercept)
        return anp.reshape(anp.reshape(R, (m, -1, 1)) * anp.reshape(xt, (m, 1, q)), (m, -1))

    return loss_grads


def from_glm(model):
    """A fitted LogisticRegression or SoftmaxRegression as an :class:`AutogradModel`.

    Parameters
    ----------
    model : LogisticRegression or SoftmaxRegression, fitted

    Returns
    -------
    AutogradModel
        Same parameters, penalty and probabilities; closed-form per-row
        gradients written in autograd, ``linear_in_params=True``.
    """
    if not isinstance(model, MultinomialLogit):
        raise InputError(f"from_glm needs a LogisticRegression or SoftmaxRegression; got "
                         f"{type(model).__name__}")
    theta = model.checked_theta()
    d, K, fit_intercept = model.n_features_in_, model.n_classes_, bool(model.fit_intercept_)
    q = d + int(fit_intercept)
    return AutogradModel(glm_logits(d, K, fit_intercept), theta.copy(), K, l2=float(model.l2_),
                         penalty_mask=penalty_mask(K, q, d),
                         logp_grad_fn=_logp_grads(d, K, fit_intercept),
                         loss_grad_fn=_loss_grads(d, K, fit_intercept), linear_in_params=True)
