"""Small multilayer perceptrons as :class:`~localinf.AutogradModel` objects.

``fit_mlp(X, y, hidden=(16, 16))`` fits a dense network with weight decay by
L-BFGS to a tight gradient tolerance and then, for small networks, polishes
the minimiser with Newton steps on the exact Hessian, so that the influence
formulas (derivatives at the minimiser) apply. The paper's two-moons network
(two ReLU hidden layers, sigmoid output) is
``fit_mlp(X, y, hidden=(h, h), activation="relu", output="sigmoid")``.
"""

import autograd.numpy as anp
import numpy as np
from autograd import grad
from scipy.optimize import minimize

from ._checks import check_labels, check_matrix, check_nonneg_float
from .autodiff import AutogradModel, log_softmax, risk_hessian
from .exceptions import InputError, NotConvergedError

ACTIVATIONS = {
    "tanh": anp.tanh,
    "softplus": lambda z: anp.logaddexp(0.0, z),  # a smooth ReLU
    "relu": lambda z: anp.maximum(z, 0.0),
}


def mlp_logits(activation="tanh"):
    """``logits(params, X)`` for ``params = [(W1, b1), ..., (WL, bL)]``.

    Hidden layers apply ``activation``; the last layer is linear with K - 1
    units, and class 0 gets the logit 0. For K = 2 this is exactly a sigmoid
    output unit.
    """
    if activation not in ACTIVATIONS:
        raise InputError(f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}")
    act = ACTIVATIONS[activation]

    def logits(params, X):
        h = X
        for W, b in params[:-1]:
            h = act(anp.dot(h, W) + b)
        W, b = params[-1]
        out = anp.dot(h, W) + b
        # K - 1 output units; class 0 is the reference with logit 0, which removes
        # the flat direction (a common shift of all logits) a K-unit softmax has.
        return anp.concatenate([anp.zeros((out.shape[0], 1)), out], axis=1)

    return logits


def init_mlp(sizes, seed=0):
    """Glorot-scaled random parameters for layer sizes ``(d, h1, ..., out)``."""
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(a, b)) * np.sqrt(2.0 / (a + b)), np.zeros(b))
            for a, b in zip(sizes[:-1], sizes[1:])]


def fit_mlp(X, y, hidden=(16, 16), activation="tanh", output="softmax", l2=1e-3, seed=0,
            tol=1e-9, maxiter=20000, newton_polish=True, penalize_bias=True, init=None,
            method="lbfgs", epochs=50, batch_size=128, learning_rate=1e-3, finish=True):
    """Fit a dense network by penalised maximum likelihood.

    Parameters
    ----------
    X : array_like (n, d)
    y : array_like (n,), labels 0..K-1
    hidden : tuple of int
        Hidden layer widths.
    activation : {"tanh", "softplus", "relu"}
        ReLU networks are only piecewise smooth: weight decay tends to put the
        minimiser on a kink (units switched off exactly), where D_i is not
        defined and the gradient-norm check usually fails. Use "tanh" or
        "softplus" when exact influence values are wanted.
    output : {"softmax", "sigmoid"}
        ``"sigmoid"`` (binary only) is the same network as ``"softmax"`` with
        K = 2: one output unit, ``P(y=1|x) = sigmoid(logit)``.
    l2 : float
        Weight decay ``l2 * ||theta||^2`` in ``R = mean loss + l2 ||theta||^2``.
    penalize_bias : bool, default True
        Penalise biases too (as PyTorch's weight decay does). Without it, a
        hidden unit that weight decay switches off leaves its bias as an exactly
        flat direction of R, and H is singular.
    tol : float
        L-BFGS stops when ``max|grad R| <= tol``. After the Newton polish the
        fit is refused (:class:`NotConvergedError`) if ``max|grad R|`` is still
        above ``max(tol, 1e-6)``, the default acceptance of :class:`LocalInfluence`.
    method : {"lbfgs", "adam"}
        ``"adam"``: ``epochs`` of minibatch Adam (``batch_size``,
        ``learning_rate``, shuffled with ``seed``) for networks too large for
        full-batch L-BFGS from a random start; with ``finish=True`` (default)
        full-batch L-BFGS and the Newton polish then take it to the minimiser.
        With ``finish=False`` the result is only approximate: ``grad_norm_``
        says how far, and :class:`LocalInfluence` refuses it unless
        ``grad_rtol`` is loosened accordingly.
    init : list of (W, b), optional
        Starting parameters (a warm start, e.g. for refits after a small
        perturbation of the data); default: Glorot-scaled random from ``seed``.
    newton_polish : bool
        For p <= 3000, follow with up to 5 Newton steps on the exact Hessian
        while they lower the gradient (only where the Hessian is positive definite).

    Returns
    -------
    AutogradModel
        With extra attributes ``grad_norm_`` and ``n_iter_``.
    """
    X = check_matrix(X, "X")
    y, K = check_labels(y, "y", X.shape[0], require_all=True)
    l2 = check_nonneg_float(l2, "l2")
    if output not in ("softmax", "sigmoid"):
        raise InputError(f"output must be 'softmax' or 'sigmoid'; got {output!r}")
    if output == "sigmoid" and K != 2:
        raise InputError("output='sigmoid' needs binary labels 0/1")
    sizes = (X.shape[1], *hidden, K - 1)
    params = init_mlp(sizes, seed) if init is None else [(np.array(W, float), np.array(b, float))
                                                         for W, b in init]
    mask = [(np.ones_like(W), np.full_like(b, float(penalize_bias))) for W, b in params]
    model = AutogradModel(mlp_logits(activation), params, K, l2=l2,
                          penalty_mask=AutogradModel(lambda p, X: X, mask, 2).theta_)
    n = X.shape[0]

    def fun(theta):
        r = model.loss_sum_fn(theta, X, y) / n + model.penalty_fn(theta)
        return r

    if method not in ("lbfgs", "adam"):
        raise InputError(f"method must be 'lbfgs' or 'adam'; got {method!r}")
    theta = model.theta_
    n_iter = 0
    if method == "adam":
        theta, n_iter = _adam(model, X, y, theta, epochs, batch_size, learning_rate, seed)
        if not finish:
            gnorm = float(np.max(np.abs(grad(fun)(theta))))
            return _fitted(model, theta, gnorm, n_iter, X.shape[1], sizes, activation)
    value_grad = lambda th: (float(fun(th)), np.asarray(grad(fun)(th)))
    res = minimize(value_grad, theta, jac=True, method="L-BFGS-B",
                   options=dict(maxiter=maxiter, gtol=tol, ftol=0.0, maxcor=30))
    theta = res.x
    if newton_polish and theta.size <= 3000:
        theta = _newton_polish(model, X, y, fun, theta)
    gnorm = float(np.max(np.abs(grad(fun)(theta))))
    if gnorm > max(tol, 1e-6):
        hint = "raise maxiter, increase l2, or rescale X"
        if activation == "relu":
            hint = ("a ReLU network's risk has kinks wherever a training point switches a unit "
                    "on or off, and its minimiser usually sits on one, where D_i is not defined; "
                    "use activation='softplus' or 'tanh' for exact influence")
        raise NotConvergedError(
            f"fit_mlp stopped with max|grad R| = {gnorm:.2e} after {res.nit} L-BFGS iterations; "
            + hint)
    return _fitted(model, theta, gnorm, n_iter + int(res.nit), X.shape[1], sizes, activation)


def _fitted(model, theta, gnorm, n_iter, n_features, sizes, activation):
    """Record the fitted state (scikit-learn style attributes ending in _)."""
    model.theta_ = np.asarray(theta)
    model.grad_norm_ = gnorm
    model.n_iter_ = n_iter
    model.n_features_in_ = n_features
    model.layer_sizes_ = tuple(int(v) for v in sizes)
    model.activation_ = activation
    model.logp_grad_fn = mlp_logp_grads(model)
    model.loss_grad_fn = mlp_loss_grads(model)
    return model


def _newton_polish(model, X, y, fun, theta, steps=30):
    """Damped Newton steps on the exact Hessian while they lower R and its gradient.

    ReLU networks are only piecewise smooth, and L-BFGS often stalls at a kink
    short of the minimiser; inside the smooth piece that holds the minimiser,
    Newton converges quadratically.
    """
    gfun = grad(fun)
    for _ in range(steps):
        g = np.asarray(gfun(theta))
        if np.max(np.abs(g)) < 1e-15:
            break
        H = risk_hessian(model, X, y, theta)
        lam = np.linalg.eigvalsh(0.5 * (H + H.T))
        if lam[0] <= 0:
            break
        step = np.linalg.solve(H, g)
        f0, t, dec = float(fun(theta)), 1.0, float(g @ step)
        # Below round-off in R the line search cannot see progress: take the full step.
        if dec > 1e3 * np.finfo(float).eps * max(1.0, abs(f0)):
            while t > 1e-8 and float(fun(theta - t * step)) > f0 - 1e-4 * t * dec:
                t *= 0.5
        cand = theta - t * step
        if np.max(np.abs(gfun(cand))) >= np.max(np.abs(g)):
            break
        theta = cand
    return theta


def forward_with_offsets(model, params, X, offsets=None):
    """Layer inputs and log-probabilities (m, K) of a fit_mlp network.

    ``offsets[l]`` (m, units) is added to layer l's pre-activation: the gradient
    of a sum of per-row outputs with respect to it is the per-row gradient with
    respect to the pre-activations, which K-FAC and the per-sample gradients need.
    """
    act = ACTIVATIONS[model.activation_]
    h, inputs = X, []
    for l, (W, b) in enumerate(params):
        inputs.append(h)
        s = anp.dot(h, W) + b
        if offsets is not None:
            s = s + offsets[l]
        h = act(s) if l < len(params) - 1 else s
    return inputs, log_softmax(anp.concatenate([anp.zeros((X.shape[0], 1)), h], axis=1))


def _per_sample_grads(model, params, X, deltas, inputs):
    """Per-row parameter gradients (m, p) from pre-activation gradients: for a dense
    layer ``s = a W + b`` they are the outer products of ``(a, 1)`` with ``d/ds``."""
    m = X.shape[0]
    blocks = []
    for a, dl in zip(inputs, deltas):
        # reshapes, not [:, :, None]: autograd differentiates indexing via np.add.at
        aug = anp.concatenate([a, np.ones((m, 1))], axis=1)
        outer = anp.reshape(aug, (m, -1, 1)) * anp.reshape(dl, (m, 1, -1))
        blocks.append(anp.reshape(outer, (m, -1)))
    return anp.concatenate(blocks, axis=1)


def mlp_logp_grads(model):
    """Per-sample ``grad_theta log P(c|x_i)`` for a fit_mlp network, (m, K, p), traceable in X.

    Row i of the gradient of ``sum_i log P_c(x_i)`` with respect to the
    pre-activations depends on sample i alone, so all per-sample gradients
    come from one reverse pass per class instead of p passes.
    """
    forward = lambda params, X, offsets: forward_with_offsets(model, params, X, offsets)

    def logp_grads(theta, X):
        params = model.unflatten(theta)
        zeros = [anp.zeros((X.shape[0], W.shape[1])) for W, _ in params]
        inputs, _ = forward(params, X, zeros)
        per_class = []
        for c in range(model.n_classes_):
            e_c = np.eye(model.n_classes_)[c]
            f = lambda offs: anp.sum(anp.dot(forward(params, X, offs)[1], e_c))
            per_class.append(_per_sample_grads(model, params, X, grad(f)(zeros), inputs))
        return anp.stack(per_class, axis=1)

    return logp_grads


def mlp_loss_grads(model):
    """Per-sample ``grad_theta L(y_i, x_i)`` (m, p) for a fit_mlp network, traceable in X:
    one reverse pass for the pre-activation gradients of the summed loss."""
    def loss_grads(theta, X, y):
        params = model.unflatten(theta)
        onehot = np.eye(model.n_classes_)[y]
        zeros = [anp.zeros((X.shape[0], W.shape[1])) for W, _ in params]
        inputs, _ = forward_with_offsets(model, params, X, zeros)
        f = lambda offs: -anp.sum(forward_with_offsets(model, params, X, offs)[1] * onehot)
        return _per_sample_grads(model, params, X, grad(f)(zeros), inputs)

    return loss_grads


def last_layer(model):
    """Restrict a fit_mlp network to its last layer's parameters (weights and biases).

    As in the paper's image experiments: curvature and parameter derivatives
    over the last layer only, the perturbation still on the input x, so the
    chain rules run through the whole (frozen) network.
    """
    if not hasattr(model, "layer_sizes_"):
        raise InputError("last_layer needs a network fitted by localinf.fit_mlp")
    a, b = model.layer_sizes_[-2], model.layer_sizes_[-1]
    p = model.theta_.size
    return model.restrict(np.arange(p - (a + 1) * b, p))


def _adam(model, X, y, theta, epochs, batch_size, lr, seed, beta1=0.9, beta2=0.999, eps=1e-8):
    """Minibatch Adam on R (each minibatch's mean loss plus the full penalty)."""
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    gfun = grad(lambda th, Xb, yb: model.loss_sum_fn(th, Xb, yb) / Xb.shape[0] + model.penalty_fn(th))
    m1, m2, t = np.zeros_like(theta), np.zeros_like(theta), 0
    for _ in range(int(epochs)):
        order = rng.permutation(n)
        for start in range(0, n, int(batch_size)):
            rows = order[start:start + int(batch_size)]
            g = np.asarray(gfun(theta, X[rows], y[rows]))
            t += 1
            m1 = beta1 * m1 + (1 - beta1) * g
            m2 = beta2 * m2 + (1 - beta2) * g * g
            theta = theta - lr * (m1 / (1 - beta1 ** t)) / (np.sqrt(m2 / (1 - beta2 ** t)) + eps)
    return theta, t
