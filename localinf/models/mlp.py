"""Dense multilayer perceptrons as autograd models with closed-form per-row gradients.

:class:`MLP` is an :class:`~localinf.AutogradModel` whose structure (layer
sizes, activation) is known, which gives four things a generic model lacks:
per-row parameter gradients from one reverse pass per class (outer products of
layer inputs and pre-activation gradients), the dense Hessian and Gauss-Newton
matrix in closed form, block by block (:mod:`.mlp_hessian`), the K-FAC
curvature, and the exact input-layer term of KFSVD. :func:`localinf.fit_mlp` fits one.
"""

import autograd.numpy as anp
import numpy as np
from autograd import grad
from autograd.misc import flatten

from .._core.checks import check_choice, check_positive_int, check_seed, plain_array
from ..exceptions import InputError
from .autograd_model import AutogradModel, log_softmax
from .mlp_hessian import mlp_curvature

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

    Parameters
    ----------
    activation : {"tanh", "softplus", "relu"}

    Returns
    -------
    callable
        ``logits(params, X) -> (m, K)``.
    """
    check_choice(activation, "activation", sorted(ACTIVATIONS))
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


def _layer_sizes(sizes):
    """``sizes`` as a tuple of at least two positive ints, else InputError."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 2:
        raise InputError(f"sizes must be a sequence of at least two layer sizes (d, ..., out); "
                         f"got {sizes!r}")
    return tuple(check_positive_int(v, "sizes") for v in sizes)


def _layer_params(params, sizes):
    """``params`` as ``[(W (a, b), b (b,)), ...]`` float arrays matching ``sizes``."""
    shapes = [((a, b), (b,)) for a, b in zip(sizes[:-1], sizes[1:])]
    try:
        out = [(plain_array(W, "params").astype(np.float64), plain_array(b, "params").astype(np.float64))
               for W, b in params]
    except (TypeError, ValueError):
        out = None
    if out is None or [(W.shape, b.shape) for W, b in out] != shapes:
        raise InputError(f"params must be one (W, b) pair per layer with shapes {shapes}")
    return out


def init_mlp(sizes, seed=0):
    """Glorot-scaled random parameters.

    Parameters
    ----------
    sizes : sequence of int
        Layer sizes ``(d, h1, ..., out)``.
    seed : int, default 0

    Returns
    -------
    list of (ndarray (a, b), ndarray (b,))
        ``(W, b)`` per layer.
    """
    sizes = _layer_sizes(sizes)
    rng = np.random.default_rng(check_seed(seed))
    return [(rng.normal(size=(a, b)) * np.sqrt(2.0 / (a + b)), np.zeros(b))
            for a, b in zip(sizes[:-1], sizes[1:])]


class MLP(AutogradModel):
    """A dense network ``d -> h1 -> ... -> K - 1`` logits, class 0 the reference.

    Parameters
    ----------
    sizes : sequence of int
        Layer sizes ``(d, h1, ..., K - 1)``.
    activation : {"tanh", "softplus", "relu"}
        Activation of the hidden layers.
    params : list of (W, b)
        Parameters (fitted ones, or a start for :func:`localinf.fit_mlp`).
    l2 : float, default 0
        Weight decay ``l2 * ||theta[mask]||^2``.
    penalize_bias : bool, default True
        Whether the biases are in the penalty mask.

    Attributes
    ----------
    layer_sizes_ : tuple of int
    activation_ : str
    n_features_in_ : int
    theta_ : ndarray (p,)
    """

    def __init__(self, sizes, activation, params, l2=0.0, penalize_bias=True):
        self.layer_sizes_ = _layer_sizes(sizes)
        self.activation_ = check_choice(activation, "activation", sorted(ACTIVATIONS))
        self.n_features_in_ = self.layer_sizes_[0]
        params = _layer_params(params, self.layer_sizes_)
        mask = [(np.ones_like(W), np.full_like(b, float(penalize_bias))) for W, b in params]
        super().__init__(mlp_logits(activation), params, self.layer_sizes_[-1] + 1, l2=l2,
                         penalty_mask=flatten(mask)[0],
                         logp_grad_fn=self._logp_grads, loss_grad_fn=self._loss_grads,
                         curvature_fn=self._curvature)

    def forward_with_offsets(self, params, X, offsets=None):
        """Layer inputs and log-probabilities of the network.

        ``offsets[l]`` (m, units) is added to layer l's pre-activation: the
        gradient of a sum of per-row outputs with respect to it is the per-row
        gradient with respect to the pre-activations, which K-FAC and the
        per-row gradients need.

        Parameters
        ----------
        params : list of (W, b)
        X : array (m, d)
        offsets : list of arrays (m, units_l), optional

        Returns
        -------
        inputs : list of arrays (m, units_{l-1})
            The input of each layer.
        logP : array (m, K)
        """
        act = ACTIVATIONS[self.activation_]
        h, inputs = X, []
        for l, (W, b) in enumerate(params):
            inputs.append(h)
            s = anp.dot(h, W) + b
            if offsets is not None:
                s = s + offsets[l]
            h = act(s) if l < len(params) - 1 else s
        return inputs, log_softmax(anp.concatenate([anp.zeros((X.shape[0], 1)), h], axis=1))

    def _curvature(self, theta, X, y, w, gauss_newton, free=None):
        """Row sum of ``w_i`` times the loss's Hessian (or Gauss-Newton matrix) over
        ``theta[free]``, in closed form (:func:`.mlp_hessian.mlp_curvature`)."""
        return mlp_curvature(self.unflatten(np.asarray(theta, dtype=np.float64)),
                             ACTIVATIONS[self.activation_], X, y, w, gauss_newton=gauss_newton,
                             free=free)

    def _offsets(self, params, m):
        return [anp.zeros((m, W.shape[1])) for W, _ in params]

    def _logp_grads(self, theta, X):
        """Per-row ``grad_theta log P(c|x_i)`` (m, K, p), traceable in X.

        Row i of the gradient of ``sum_i log P_c(x_i)`` with respect to the
        pre-activations depends on row i alone, so all per-row gradients come
        from one reverse pass per class instead of p passes.
        """
        params = self.unflatten(theta)
        zeros = self._offsets(params, X.shape[0])
        inputs, _ = self.forward_with_offsets(params, X, zeros)
        per_class = []
        for c in range(self.n_classes_):
            e_c = np.eye(self.n_classes_)[c]
            f = lambda offs: anp.sum(anp.dot(self.forward_with_offsets(params, X, offs)[1], e_c))
            per_class.append(_per_row_grads(grad(f)(zeros), inputs))
        return anp.stack(per_class, axis=1)

    def _loss_grads(self, theta, X, y):
        """Per-row ``grad_theta L(y_i, x_i)`` (m, p), traceable in X: one reverse pass."""
        params = self.unflatten(theta)
        onehot = np.eye(self.n_classes_)[y]
        zeros = self._offsets(params, X.shape[0])
        inputs, _ = self.forward_with_offsets(params, X, zeros)
        f = lambda offs: -anp.sum(self.forward_with_offsets(params, X, offs)[1] * onehot)
        return _per_row_grads(grad(f)(zeros), inputs)


def _per_row_grads(deltas, inputs):
    """Per-row parameter gradients (m, p) from pre-activation gradients: for a dense
    layer ``s = a W + b`` they are the outer products of ``(a, 1)`` with ``d/ds``."""
    m = inputs[0].shape[0]
    blocks = []
    for a, dl in zip(inputs, deltas):
        # reshapes, not [:, :, None]: autograd differentiates indexing via np.add.at
        aug = anp.concatenate([a, np.ones((m, 1))], axis=1)
        outer = anp.reshape(aug, (m, -1, 1)) * anp.reshape(dl, (m, 1, -1))
        blocks.append(anp.reshape(outer, (m, -1)))
    return anp.concatenate(blocks, axis=1)


def last_layer(model):
    """Restrict a network to its last layer's parameters (weights and biases).

    As in the paper's image experiments: curvature and parameter derivatives
    over the last layer only, the perturbation still on the input x, so the
    chain rules run through the whole (frozen) network.

    Parameters
    ----------
    model : MLP
        A network from :func:`localinf.fit_mlp`.

    Returns
    -------
    RestrictedModel
        With ``free_`` the indices of the last layer's parameters.
    """
    if not isinstance(model, MLP):
        raise InputError("last_layer needs a network fitted by localinf.fit_mlp")
    a, b = model.layer_sizes_[-2], model.layer_sizes_[-1]
    p = model.theta_.size
    return model.restrict(np.arange(p - (a + 1) * b, p))
