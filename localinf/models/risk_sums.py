"""Dense curvature matrices of any autograd model's loss, summed over row chunks.

These are the general routes, for models that declare no closed form
(``curvature_fn``): the Hessian as the Jacobian of the gradient, one reverse
pass per parameter, and the Fisher (Gauss-Newton) matrix from the per-row
gradients of the log-probabilities. :class:`~localinf.models.DataRisk` divides
them by ``N`` and adds the penalty.
"""

import numpy as np
from autograd import grad, jacobian, make_vjp

from .._core.chunks import row_chunks

# Budget (float64 entries, 64 MiB) of the (rows, K, p) per-row gradients of the Fisher route.
_FISHER_ENTRIES = 1 << 23


def reverse_hessian(loss_sum_fn, theta, X, y, weights, rows):
    """``sum_i w_i`` times the Hessian of the loss, one reverse pass per row of it.

    Per row chunk the gradient is traced once, and row j of the Hessian is the
    reverse pass of ``e_j`` through that trace.

    Parameters
    ----------
    loss_sum_fn : callable
        ``loss_sum_fn(theta, X, y, w)``, the weighted loss summed over rows
        (:meth:`localinf.AutogradModel.loss_sum_fn`).
    theta : ndarray (p,)
    X : ndarray (n, d)
    y : ndarray of int (n,)
    weights : ndarray (n,) or None
    rows : int
        Rows per chunk.

    Returns
    -------
    ndarray (p, p)
    """
    p = theta.size
    H, e = np.zeros((p, p)), np.zeros(p)
    for sl in row_chunks(X.shape[0], rows):
        w = None if weights is None else weights[sl]
        vjp, _ = make_vjp(grad(loss_sum_fn))(theta, X[sl], y[sl], w)
        for j in range(p):
            e[j] = 1.0
            H[j] += vjp(e)
            e[j] = 0.0
    return H


def fisher_sum(model, theta, X, weights):
    """``sum_i w_i sum_c P_ic a_ic a_ic^T`` with ``a_ic = grad_theta log P(c|x_i)``.

    The per-row gradients come from the model's ``logp_grad_fn`` if it has one,
    else from a Jacobian of its log-probabilities.

    Parameters
    ----------
    model : AutogradModel
    theta : ndarray (p,)
    X : ndarray (n, d)
    weights : ndarray (n,) or None

    Returns
    -------
    ndarray (p, p)
    """
    p, K = theta.size, model.n_classes_
    F = np.zeros((p, p))
    # a restricted model's per-row gradients are its parent's before restriction
    for sl in row_chunks(X.shape[0], max(1, _FISHER_ENTRIES // (K * max(p, model.gradient_width_)))):
        Xc = X[sl]
        if model.logp_grad_fn is not None:
            A = np.asarray(model.logp_grad_fn(theta, Xc))  # (m, K, p)
        else:
            A = np.asarray(jacobian(lambda th: model.log_proba_fn(th, Xc))(theta))
        root = np.sqrt(np.exp(np.asarray(model.log_proba_fn(theta, Xc))))
        if weights is not None:
            root = root * np.sqrt(weights[sl])[:, None]
        A = (A * root[:, :, None]).reshape(-1, p)
        F += A.T @ A
    return F
