"""Fitting dense networks to the minimiser the influence formulas assume.

``fit_mlp(X, y, hidden=(16, 16))`` fits an :class:`~localinf.models.mlp.MLP`
with weight decay by L-BFGS to a tight gradient tolerance and then, for small
networks, polishes the minimiser with the same damped Newton method as the
GLM fit, on the exact Hessian. The paper's two-moons network (two ReLU hidden
layers, sigmoid output) is
``fit_mlp(X, y, hidden=(h, h), activation="relu", output="sigmoid")``: a ReLU
network is trained by Adam, as such networks usually are, and only its last
layer is then brought to the exact minimiser with the hidden layers frozen
(:func:`fit_last_layer`), which is what ``last_layer(net)`` needs.
"""

import numpy as np
from autograd import grad
from scipy.optimize import minimize

from .._core.checks import (check_bool, check_choice, check_labels, check_matrix, check_nonneg_float,
                            check_positive_int, check_seed)
from .._core.chunks import row_chunks
from ..exceptions import (InputError, NotConvergedError, NumericalError, PerfectSeparationError,
                          SingularHessianError)
from .glm import LogisticRegression, SoftmaxRegression
from .mlp import MLP, init_mlp
from .newton import newton_minimise

FINISHES = ("auto", "minimiser", "last_layer", "none")

# Networks with at most this many parameters get the Newton polish (a dense H per step).
_POLISH_MAX_P = 3000


def fit_mlp(X, y, hidden=(16, 16), activation="tanh", output="softmax", l2=1e-3, seed=0,
            tol=1e-9, maxiter=20000, newton_polish=True, penalize_bias=True, init=None,
            method="auto", epochs=50, batch_size=128, learning_rate=1e-3, finish="auto"):
    """Fit a dense network by penalised maximum likelihood.

    Parameters
    ----------
    X : array_like (n, d)
    y : array_like (n,)
        Labels 0..K-1, every class present.
    hidden : int or tuple of int
        Hidden layer widths (an int is one hidden layer).
    activation : {"tanh", "softplus", "relu"}
        ReLU networks are only piecewise smooth: weight decay tends to put the
        minimiser of the whole risk on a kink (units switched off exactly),
        where H is not defined, so they are fitted by Adam and finished on the
        last layer only (see ``finish``). Use "tanh" or "softplus" when exact
        influence over every parameter is wanted.
    output : {"softmax", "sigmoid"}
        ``"sigmoid"`` (binary only) is the same network as ``"softmax"`` with
        K = 2: one output unit, ``P(y=1|x) = sigmoid(logit)``.
    l2 : float
        Weight decay ``l2 * ||theta||^2`` in ``R = mean loss + l2 ||theta||^2``.
    seed : int, default 0
        Seed of the initial parameters and of Adam's minibatches.
    tol : float
        L-BFGS stops when ``max|grad R| <= tol``. With ``finish="minimiser"``
        the fit is refused (:class:`NotConvergedError`) if, after the Newton
        polish, ``max|grad R|`` is still above ``max(tol, 1e-6)``, the default
        acceptance of :class:`LocalInfluence`.
    maxiter : int, default 20000
        L-BFGS iterations.
    newton_polish : bool
        For p <= 3000, follow with up to 30 damped Newton steps on the exact
        Hessian while they lower the gradient (only where the Hessian is
        positive definite). Only with ``finish="minimiser"``.
    penalize_bias : bool, default True
        Penalise biases too (as PyTorch's weight decay does). Without it, a
        hidden unit that weight decay switches off leaves its bias as an exactly
        flat direction of R, and H is singular.
    init : list of (W, b), optional
        Starting parameters (a warm start, e.g. for refits after a small
        perturbation of the data); default: Glorot-scaled random from ``seed``.
    method : {"auto", "lbfgs", "adam"}, default "auto"
        ``"lbfgs"``: full-batch L-BFGS from ``init``. ``"adam"``: ``epochs``
        of minibatch Adam (``batch_size``, ``learning_rate``, shuffled with
        ``seed``), as networks are usually trained. ``"auto"``: Adam for ReLU,
        L-BFGS otherwise.
    epochs, batch_size, learning_rate : int, int, float
        Adam's settings (``method="adam"`` only).
    finish : {"auto", "minimiser", "last_layer", "none"} or bool, default "auto"
        What follows the optimiser. ``"minimiser"`` (alias True): L-BFGS
        (after Adam) and the Newton polish to the minimiser of the whole risk,
        refused as above when it is not reached: exact influence over every
        parameter. ``"last_layer"``: the last layer is set to the exact
        minimiser of R with the hidden layers frozen (:func:`fit_last_layer`),
        the other layers stay where the optimiser left them: exact influence
        through ``last_layer(net)``, and the whole network through
        ``LocalInfluence(net, X, y, curvature="ggn", at_minimiser=False)``.
        ``"none"`` (alias False): the optimiser's parameters as they are.
        ``"auto"``: ``"last_layer"`` for ReLU, ``"minimiser"`` otherwise.
        ``"last_layer"`` needs a unique last-layer minimiser, which l2 > 0
        guarantees (with l2 = 0 a dead unit or separable hidden features are
        refused).

    Returns
    -------
    MLP
        Fitted: ``theta_``, ``grad_norm_`` (max|grad R| over all parameters
        at ``theta_``), ``n_iter_`` (Adam steps plus L-BFGS iterations),
        ``method_`` and ``finish_`` (the choices made for "auto").
    """
    names = MLP._feature_names(X)
    X = check_matrix(X, "X")
    y, K = check_labels(y, "y", X.shape[0], require_all=True)
    l2 = check_nonneg_float(l2, "l2")
    tol = check_nonneg_float(tol, "tol")
    learning_rate = check_nonneg_float(learning_rate, "learning_rate")
    maxiter, epochs, batch_size = (check_positive_int(v, k) for v, k in
                                   ((maxiter, "maxiter"), (epochs, "epochs"), (batch_size, "batch_size")))
    seed = check_seed(seed)
    newton_polish, penalize_bias = (check_bool(v, k) for v, k in (
        (newton_polish, "newton_polish"), (penalize_bias, "penalize_bias")))
    hidden = tuple(check_positive_int(h, "hidden") for h in np.atleast_1d(np.asarray(hidden, dtype=object)))
    check_choice(output, "output", ("softmax", "sigmoid"))
    if output == "sigmoid" and K != 2:
        raise InputError("output='sigmoid' needs binary labels 0/1")
    check_choice(activation, "activation", ("tanh", "softplus", "relu"))
    method = check_choice(method, "method", ("auto", "lbfgs", "adam"))
    method = ("adam" if activation == "relu" else "lbfgs") if method == "auto" else method
    finish = _finish(finish, activation)
    if method == "adam" and learning_rate == 0:
        raise InputError("learning_rate must be > 0 for method='adam' (0 never moves the parameters)")
    sizes = (X.shape[1], *hidden, K - 1)
    params = init_mlp(sizes, seed) if init is None else init  # MLP checks init's shapes
    model = MLP(sizes, activation, params, l2=l2, penalize_bias=penalize_bias)
    model._set_feature_names(names)
    n = X.shape[0]
    fun = lambda theta: model.loss_sum_fn(theta, X, y) / n + model.penalty_fn(theta)
    model.method_, model.finish_ = method, finish
    theta, n_iter = model.theta_, 0
    if method == "adam":
        theta, n_iter = _adam(model, X, y, theta, epochs, batch_size, learning_rate, seed)
        _finite_fit(theta, 0.0, "Adam diverged: lower learning_rate")
    if method == "lbfgs" or finish == "minimiser":
        value_grad = lambda th: (float(fun(th)), np.asarray(grad(fun)(th)))
        res = minimize(value_grad, theta, jac=True, method="L-BFGS-B",
                       options=dict(maxiter=maxiter, gtol=tol, ftol=0.0, maxcor=30))
        theta, n_iter = res.x, n_iter + int(res.nit)
    if finish != "minimiser":
        _finite_fit(theta, 0.0, "rescale X, or lower learning_rate")
        model.theta_ = np.asarray(theta)
        if finish == "last_layer":
            fit_last_layer(model, X, y)
        return _fitted(model, model.theta_, float(np.max(np.abs(grad(fun)(model.theta_)))), n_iter,
                       "the parameters are not finite")
    if newton_polish and theta.size <= _POLISH_MAX_P:
        theta = _newton_polish(model, X, y, fun, theta)
    gnorm = float(np.max(np.abs(grad(fun)(theta))))
    _finite_fit(theta, gnorm, "rescale X (features above ~1e150 overflow the network's risk)"
                + (", or lower learning_rate" if method == "adam" else ""))
    if gnorm > max(tol, 1e-6):
        hint = "raise maxiter, increase l2, or rescale X"
        if activation == "relu":
            hint = ("a ReLU network's risk has kinks wherever a training point switches a unit "
                    "on or off, and its minimiser usually sits on one, where H is not defined; "
                    "use finish='last_layer' (exact influence through last_layer(net)), "
                    "activation='softplus' or 'tanh'")
        raise NotConvergedError(
            f"fit_mlp stopped with max|grad R| = {gnorm:.2e} after {res.nit} L-BFGS iterations; "
            + hint)
    return _fitted(model, theta, gnorm, n_iter)


def _finish(finish, activation):
    """``finish`` as one of "minimiser", "last_layer", "none" (True and False are aliases)."""
    if isinstance(finish, (bool, np.bool_)):
        return "minimiser" if finish else "none"
    if not isinstance(finish, str) or finish not in FINISHES:
        raise InputError(f"finish must be one of {FINISHES} or True/False; got {finish!r}")
    if finish == "auto":
        return "last_layer" if activation == "relu" else "minimiser"
    return finish


def fit_last_layer(model, X, y):
    """Set a network's last layer to the exact minimiser of R with the other layers frozen.

    With the hidden layers fixed, ``R = mean loss + l2 ||theta[mask]||^2`` as
    a function of the last layer ``(W_L, b_L)`` alone is the risk of a ridge
    logistic (K = 2) or softmax regression on the last hidden activations
    ``h_{L-1}(x)``, with the bias penalised as the network's mask says: a
    strictly convex problem (for l2 > 0), solved by Newton's method to
    round-off. This is the minimiser that ``last_layer(model)`` assumes.

    Parameters
    ----------
    model : MLP
        Modified in place: ``theta_`` (last layer only) and ``grad_norm_``
        (max|grad R| over all parameters).
    X : array_like (n, d)
    y : array_like (n,)
        The training data, labels 0..K-1.

    Returns
    -------
    MLP
        ``model``.
    """
    if not isinstance(model, MLP):
        raise InputError("model: fit_last_layer needs a network (localinf.MLP, e.g. from fit_mlp)")
    X = check_matrix(X, "X", n_features=model.n_features_in_)
    y, _ = check_labels(y, "y", X.shape[0], n_classes=model.n_classes_, require_all=True)
    a, k1 = model.layer_sizes_[-2], model.layer_sizes_[-1]
    bias_mask = model.penalty_mask[-k1:]
    weight_mask = model.penalty_mask[-(a + 1) * k1:-k1]
    if not (np.all(weight_mask == 1) and (np.all(bias_mask == 1) or np.all(bias_mask == 0))):
        raise InputError("model: fit_last_layer needs the last layer's weights penalised and its "
                         "biases either all penalised or all free (fit_mlp's penalty_mask)")
    inputs, _ = model.forward_with_offsets(model.unflatten(model.theta_), X)
    Z = np.asarray(inputs[-1])
    penalised_bias = bool(bias_mask[0] == 1)
    if penalised_bias:  # the bias as a penalised coefficient of a constant column
        Z = np.column_stack([Z, np.ones(X.shape[0])])
    glm_class = LogisticRegression if model.n_classes_ == 2 else SoftmaxRegression
    try:
        glm = glm_class(l2=model.l2, fit_intercept=not penalised_bias).fit(Z, y)
    except (SingularHessianError, PerfectSeparationError) as exc:
        raise type(exc)(
            f"model: the last layer's risk, with the hidden layers frozen, has no unique "
            f"minimiser (l2 = {model.l2:g}): the last hidden activations are degenerate (a unit "
            f"that is zero on every training row, or features that separate the classes). Fit "
            f"with l2 > 0, or finish='none'. ({exc})") from None
    theta = model.theta_.copy()
    # W_ is (a + 1, K - 1), the bias in its last row: row-major it is the flat (W_L, b_L)
    theta[-(a + 1) * k1:] = np.asarray(glm.W_).ravel()
    model.theta_ = theta
    model.grad_norm_ = float(np.max(np.abs(model.risk_on(X, y).grad())))
    return model


def _finite_fit(theta, gnorm, remedy):
    """NumericalError unless the parameters and the gradient norm are finite."""
    if not (np.isfinite(theta).all() and np.isfinite(gnorm)):
        raise NumericalError(f"fit_mlp: the parameters or the risk's gradient are not finite; {remedy}")


def _fitted(model, theta, gnorm, n_iter, remedy=None):
    """Record the fitted state (scikit-learn style attributes ending in _)."""
    if remedy is not None:
        _finite_fit(theta, gnorm, remedy)
    model.theta_ = np.asarray(theta)
    model.grad_norm_ = gnorm
    model.n_iter_ = n_iter
    return model


def _newton_polish(model, X, y, fun, theta):
    """Damped Newton steps on the exact Hessian while they lower R and its gradient.

    L-BFGS often stops short of round-off level; inside the smooth piece that
    holds the minimiser, Newton converges quadratically. It stops where H is
    not positive definite (no strict local minimum to converge to).
    """
    risk = model.risk_on(X, y)
    gfun = grad(fun)
    derivatives = lambda th: (float(fun(th)), np.asarray(gfun(th)), lambda: risk.hessian(th))

    def solve(H, g):
        if not np.isfinite(H).all() or np.linalg.eigvalsh(0.5 * (H + H.T))[0] <= 0:
            return None
        return np.linalg.solve(H, g)

    theta, _, _ = newton_minimise(derivatives, fun, theta, gtol=1e-15, max_iter=30, solve=solve,
                                  min_step=1e-8, require_progress=True)
    return theta


def _adam(model, X, y, theta, epochs, batch_size, lr, seed, beta1=0.9, beta2=0.999, eps=1e-8):
    """Minibatch Adam on R (each minibatch's mean loss plus the full penalty)."""
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    gfun = grad(lambda th, Xb, yb: model.loss_sum_fn(th, Xb, yb) / Xb.shape[0] + model.penalty_fn(th))
    m1, m2, t = np.zeros_like(theta), np.zeros_like(theta), 0
    for _ in range(int(epochs)):
        order = rng.permutation(n)
        for batch in row_chunks(n, int(batch_size)):
            rows = order[batch]
            g = np.asarray(gfun(theta, X[rows], y[rows]))
            t += 1
            m1 = beta1 * m1 + (1 - beta1) * g
            m2 = beta2 * m2 + (1 - beta2) * g * g
            theta = theta - lr * (m1 / (1 - beta1 ** t)) / (np.sqrt(m2 / (1 - beta2 ** t)) + eps)
    return theta, t
