"""Autograd backend: local influence for any differentiable classifier.

A model is a function ``logits(theta, X) -> (m, K)`` that autograd can
differentiate, the fitted parameters, and the training penalty. The loss is the
cross-entropy ``L = -log softmax(logits)[y]`` and the risk is

    R(theta) = (1/n) sum_i L(y_i, x_i; theta) + l2 * ||theta[mask]||^2

(the same convention as the reference backend). The backend supplies the same
primitives as :class:`~localinf.reference.ReferenceBackend`, so every measure of
:class:`~localinf.LocalInfluence` works unchanged, with perturbations on the
input x and the chain rules of eq. 2.2-2.3 through the whole model.

Per chunk of rows the exact primitives need, for every row i,
``M_i = d/dx grad_theta L_i`` (p, d), ``grad_theta log P(c|x_i)`` (K, p) and
``grad_x log P(c|x_i)`` (K, d). Because row i's loss depends on x_i alone, the
Jacobian of ``X -> grad_theta sum_i L_i`` with respect to X holds every M_i at
once: p reverse passes per chunk, whatever its number of rows. The per-row
parameter gradients take min(p, m K) passes (forward or reverse mode).

Fast path: a model may carry ``logp_grad_fn(theta, X) -> (m, K, p)``, the
per-row parameter gradients as a function autograd can trace in X (fit_mlp
networks and wrapped GLMs do: outer products of layer inputs and
pre-activation gradients). Then ``M_i^T w_i`` for a different w_i per row is
one reverse pass and ``M_i u_i`` one forward pass, independent of p, and M is
never formed. ``loss_grad_fn(theta, X, y) -> (m, p)``, the per-row gradients
of the loss alone, makes those passes K times cheaper; ``linear_in_params =
True`` (logits linear in theta, as for GLMs) lets H be formed from the
per-row gradients (see :meth:`AutogradBackend.hessian`).
"""

import warnings

import autograd.numpy as anp
import numpy as np
from autograd import grad, jacobian, make_jvp, make_vjp
from autograd.misc import flatten
from autograd.tracer import getval

from ._checks import check_labels, check_matrix, check_minimiser, check_nonneg_float
from .curvature import make_curvature
from .exceptions import InputError

# Budget in float64 entries (64 MiB) for the largest per-chunk block.
_CHUNK_ENTRIES = 1 << 23


def log_softmax(z):
    """Row-wise ``z - log sum exp z`` (m, K), traceable to any order.

    The shift by the row maximum is a constant to autograd (``getval``): the
    result does not depend on it, so its derivative contributes nothing, and
    leaving it out of the trace keeps nested derivatives cheap.
    """
    zc = z - np.max(getval(z), axis=1, keepdims=True)
    return zc - anp.log(anp.sum(anp.exp(zc), axis=1, keepdims=True))


class AutogradModel:
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

    Attributes
    ----------
    theta_ : ndarray (p,)
    n_classes_ : int
    """

    def __init__(self, logits, params, n_classes, l2=0.0, penalty_mask=None):
        if not callable(logits):
            raise InputError("logits must be a callable logits(params, X)")
        self.logits = logits
        theta, self.unflatten = flatten(params)
        self.theta_ = np.asarray(theta, dtype=np.float64)
        if not np.isfinite(self.theta_).all():
            raise InputError("params contain NaN or inf")
        if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
            raise InputError(f"n_classes must be an integer >= 2; got {n_classes!r}")
        self.n_classes_ = int(n_classes)
        self.l2 = check_nonneg_float(l2, "l2")
        p = self.theta_.size
        mask = np.ones(p) if penalty_mask is None else np.asarray(penalty_mask, dtype=float)
        if mask.shape != (p,):
            raise InputError(f"penalty_mask must have shape ({p},); got {mask.shape}")
        self.penalty_mask = mask

    # -- autograd-traceable pieces -------------------------------------------
    def log_proba_fn(self, theta, X):
        """Log class probabilities (m, K) as a function of the flat theta."""
        z = self.logits(self.unflatten(theta), X)
        if z.ndim == 1:
            z = anp.stack([anp.zeros(z.shape[0]), z], axis=1)
        return log_softmax(z)

    def loss_sum_fn(self, theta, X, y):
        """``sum_i L(y_i, x_i; theta)`` over the rows given."""
        logP = self.log_proba_fn(theta, X)
        # one-hot product rather than fancy indexing: its derivative avoids np.add.at
        return -anp.sum(logP * np.eye(self.n_classes_)[y])

    def penalty_fn(self, theta):
        return self.l2 * anp.sum(self.penalty_mask * theta ** 2)

    def restrict(self, free):
        """The same model with only the parameters ``theta[free]`` free, the rest frozen.

        Influence is then computed over the free parameters only (D_i, H and the
        gradients in eq. 2.2-2.3 restricted to them), while perturbations stay
        on the input x. ``free`` is a boolean mask or an index array over theta_.
        """
        idx = np.flatnonzero(np.asarray(free)) if np.asarray(free).dtype == bool else np.asarray(free)
        if idx.size == 0 or idx.min() < 0 or idx.max() >= self.theta_.size:
            raise InputError(f"free must select parameters among 0..{self.theta_.size - 1}")
        full, unflatten = self.theta_.copy(), self.unflatten
        base = np.zeros_like(full)
        base[np.setdiff1d(np.arange(full.size), idx)] = full[np.setdiff1d(np.arange(full.size), idx)]
        embed = np.zeros((idx.size, full.size))
        embed[np.arange(idx.size), idx] = 1.0
        expand = lambda t: base + anp.dot(t, embed)  # traceable scatter of the free entries
        sub = AutogradModel(lambda t, X: self.logits(unflatten(expand(t)), X), full[idx],
                            self.n_classes_, l2=self.l2, penalty_mask=self.penalty_mask[idx])
        parent_fast = getattr(self, "logp_grad_fn", None)
        if parent_fast is not None:
            sub.logp_grad_fn = lambda t, X: anp.dot(parent_fast(expand(t), X), embed.T)
        parent_loss = getattr(self, "loss_grad_fn", None)
        if parent_loss is not None:
            sub.loss_grad_fn = lambda t, X, y: anp.dot(parent_loss(expand(t), X, y), embed.T)
        sub.free_ = idx
        return sub

    # -- fitted-model conveniences ---------------------------------------------
    def predict_proba(self, X):
        X = check_matrix(X, "X")
        return np.exp(self.log_proba_fn(self.theta_, X))

    def predict(self, X):
        return np.argmax(self.predict_proba(X), axis=1)

    def loss(self, X, y):
        """Per-sample cross-entropy (m,)."""
        logP = np.log(self.predict_proba(X))
        y, _ = check_labels(y, "y", logP.shape[0], n_classes=self.n_classes_)
        return -logP[np.arange(len(y)), y]

    def risk(self, X, y, theta=None):
        X = check_matrix(X, "X")
        y, _ = check_labels(y, "y", X.shape[0], n_classes=self.n_classes_)
        th = self.theta_ if theta is None else theta
        return float(self.loss_sum_fn(th, X, y) / X.shape[0] + self.penalty_fn(th))


def glm_logits(n_features, n_classes, fit_intercept=True):
    """The multinomial logit as an autograd function, in localinf's parameter layout.

    ``theta`` stacks ``(coef_k, intercept_k)`` for k = 1..K-1; class 0 has logit 0.
    Used to run logistic and softmax regression through the autograd backend.
    """
    q = n_features + int(fit_intercept)

    def logits(theta, X):
        W = anp.reshape(theta, (n_classes - 1, q))
        eta = anp.dot(_augment(X, fit_intercept), W.T)
        return anp.concatenate([anp.zeros((X.shape[0], 1)), eta], axis=1)

    return logits


def _augment(X, fit_intercept):
    """``[X, 1]`` when there is an intercept (no traced indexing: see glm_logp_grads)."""
    return anp.concatenate([X, np.ones((X.shape[0], 1))], axis=1) if fit_intercept else X


def glm_logp_grads(n_features, n_classes, fit_intercept=True):
    """Per-sample ``grad_theta log P(c|x_i)`` (m, K, p) of the multinomial logit, traceable in X.

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


def glm_loss_grads(n_features, n_classes, fit_intercept=True):
    """Per-sample ``grad_theta L(y_i, x_i) = vec(xt (pi - e_y)^T)`` (m, p), traceable in X."""
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
    """Wrap a fitted LogisticRegression / SoftmaxRegression as an :class:`AutogradModel`."""
    model._check_fitted()
    d, K, fi = model.n_features_in_, model.n_classes_, bool(model.fit_intercept)
    q = d + int(fi)
    mask = np.zeros((K - 1, q))
    mask[:, :d] = 1.0
    wrapped = AutogradModel(glm_logits(d, K, fi), model.theta_.copy(), K, l2=float(model.l2),
                            penalty_mask=mask.ravel())
    wrapped.logp_grad_fn = glm_logp_grads(d, K, fi)
    wrapped.loss_grad_fn = glm_loss_grads(d, K, fi)
    wrapped.linear_in_params = True
    return wrapped


def _jacobian_theta(f, theta, out_shape):
    """d f / d theta for f: R^p -> R^{out_shape}; forward mode when p is the smaller side."""
    p = theta.size
    n_out = int(np.prod(out_shape))
    if p < n_out:
        jvp = make_jvp(f)(theta)
        cols = [jvp(e)[1] for e in np.eye(p)]
        return np.stack(cols, axis=-1)  # out_shape + (p,)
    return jacobian(f)(theta)


def _row_chunks(n, size=1 << 15):
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def risk_grad(model, X, y, theta):
    """grad R(theta) (p,) of an AutogradModel on (X, y), summed over row chunks."""
    g = np.zeros(theta.size)
    for sl in _row_chunks(X.shape[0]):
        g += grad(model.loss_sum_fn)(theta, X[sl], y[sl])
    return g / X.shape[0] + grad(model.penalty_fn)(theta)


def risk_hvp(model, X, y, theta, v):
    """H v (p,) by forward-over-reverse differentiation, summed over row chunks."""
    out = np.zeros(theta.size)
    for sl in _row_chunks(X.shape[0]):
        gfun = lambda th: grad(model.loss_sum_fn)(th, X[sl], y[sl])
        out += make_jvp(gfun)(theta)(v)[1]
    out /= X.shape[0]
    out += make_jvp(grad(model.penalty_fn))(theta)(v)[1]
    return out


def risk_hessian(model, X, y, theta):
    """Dense H (p, p), row by row, as the Jacobian of the gradient.

    Per row chunk the gradient computation is traced once; each row of H is
    then one reverse pass through that trace (reverse-over-reverse), which
    costs about half a fresh Hessian-vector product.
    """
    p = theta.size
    H = np.zeros((p, p))
    e = np.zeros(p)
    for sl in _row_chunks(X.shape[0]):
        vjp, _ = make_vjp(grad(model.loss_sum_fn))(theta, X[sl], y[sl])
        for j in range(p):
            e[j] = 1.0
            H[j] += vjp(e)
            e[j] = 0.0
    H /= X.shape[0]
    H[np.diag_indices(p)] += 2.0 * model.l2 * model.penalty_mask
    return H


class _Pieces:
    """Per-chunk derivatives, each computed on first use.

    The mixed partials enter the measures only through three products, which
    this class supplies in whichever form is held: ``M_i^T w`` for one w,
    ``M_i^T w_ia`` for a stack of per-row vectors, and ``M_i u_ij``. With
    ``svd_rank`` the chunk holds rank-k factors ``M_i ~ (U_i S_i) V_i^T``
    instead of M_i, so memory is O(m p k) rather than O(m p d).
    """

    def __init__(self, backend, X, y):
        self.b, self.X, self.y = backend, X, y
        self._cache = {}

    def _get(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def logP(self):
        return self._get("logP", lambda: np.asarray(self.b.model.log_proba_fn(self.b.theta, self.X)))

    @property
    def dlogP_dtheta(self):
        """(m, K, p)."""
        m, K = self.X.shape[0], self.b.K
        if self.b.fast is not None:
            return self._get("A", lambda: np.asarray(self.b.fast(self.b.theta, self.X)))
        f = lambda th: self.b.model.log_proba_fn(th, self.X)
        return self._get("A", lambda: np.asarray(_jacobian_theta(f, self.b.theta, (m, K))))

    @property
    def dlogP_dx_diff(self):
        """``grad_x (log P_a - log P_0)`` (m, K-1, d) for a = 1..K-1.

        Row i's log-probabilities depend on x_i only, so one reverse pass per
        class difference gives every row.
        """
        C = np.eye(self.b.K)[:, 1:] - np.eye(self.b.K)[:, :1]  # (K, K-1)

        def make():
            f = lambda X: anp.sum(anp.dot(self.b.model.log_proba_fn(self.b.theta, X), C), axis=0)
            return np.transpose(jacobian(f)(self.X), (1, 0, 2))
        return self._get("Bx", make)

    @property
    def has_M(self):
        """Whether M_i (or its factors) is held, rather than applied pass by pass."""
        return "M" in self._cache or "Mk" in self._cache or self.b.fast is None \
            or self.b.svd_rank is not None

    @property
    def M(self):
        """(m, p, d): M_i = d/dx grad_theta L_i (with svd_rank the products use ``factors``)."""
        def make():
            if self.b.fast is not None:  # d forward passes, one per input feature
                f = self.b.loss_grads_of_x(self.y)
                jvp = make_jvp(f)(self.X)
                cols = []
                for j in range(self.X.shape[1]):
                    E = np.zeros_like(self.X)
                    E[:, j] = 1.0
                    cols.append(jvp(E)[1])
                return np.stack(cols, axis=-1)
            g = lambda X: grad(self.b.model.loss_sum_fn)(self.b.theta, X, self.y)
            return np.transpose(jacobian(g)(self.X), (1, 0, 2))
        return self._get("M", make)

    @property
    def factors(self):
        """``(U S (m, p, k), V (m, d, k), E)`` of the rank-k truncations (svd_rank only);
        E is the exactly applied input-layer term, or None."""
        return self._get("Mk", lambda: self.b.truncated_mixed(self.X, self.y))

    def mixed_T(self, w):
        """``M_i^T w`` (m, d) for one w (p,)."""
        if self.b.svd_rank is not None:
            US, V, flat = self.factors
            out = np.einsum("idk,ik->id", V, np.einsum("ipk,p->ik", US, w))
            return out if flat is None else out + flat.T_one(w)
        return np.einsum("ipd,p->id", self.M, w)

    def mixed_T_batch(self, W):
        """``M_i^T w_ia`` (m, d, a) for W (m, a, p)."""
        if self.b.svd_rank is not None:
            US, V, flat = self.factors
            out = np.einsum("idk,ika->ida", V, np.einsum("ipk,iap->ika", US, W))
            return out if flat is None else out + flat.T(W)
        return np.einsum("ipd,iap->ida", self.M, W)

    def mixed(self, U):
        """``M_i u_ij`` (m, k, p) for U (m, d, k)."""
        if self.b.svd_rank is not None:
            US, V, flat = self.factors
            out = np.einsum("ipr,irj->ijp", US, np.einsum("idr,idj->irj", V, U))
            if flat is not None:  # in place, through a (m, p, k) view of out
                flat.add_to(np.transpose(out, (0, 2, 1)), U)
            return out
        return np.einsum("ipd,idj->ijp", self.M, U)


class _InputLayerTerm:
    """The full-rank part of M_i that a network's input layer contributes.

    For a first layer ``s_1 = x W_1 + b_1`` the per-sample gradient's W_1
    block is ``x_i delta_i^T`` with ``delta_i = dL_i/ds_1`` (the b_1 block).
    Its derivative in x has two terms: ``(d delta_i/dx) x_i^T``, which varies
    with x through the network, and ``omega delta_i^T``: the map
    ``omega -> omega delta_i^T`` scatters omega into the W_1 block scaled by
    delta_i, so all its d singular values equal ``||delta_i||``. That flat
    floor is what a rank-k truncation of M_i cannot hold for k < d; this
    object applies it exactly (O(m p) memory, no passes), and KFSVD then
    truncates only the rest, ``M_i - E_i``.

    Parameters
    ----------
    delta : ndarray (m, h1)
        ``dL_i/ds_1`` per row.
    d : int
        Input dimension; the W_1 block is ``theta[:d * h1]``, row-major (d, h1).
    p : int
    """

    def __init__(self, delta, d, p):
        self.delta, self.d, self.p = delta, d, p
        self.h = delta.shape[1]

    @classmethod
    def of(cls, model, theta, X, y):
        """The term for rows (X, y) of a fit_mlp network at parameters theta."""
        d, h1 = X.shape[1], model.layer_sizes_[1]
        grads = np.asarray(model.loss_grad_fn(theta, X, y))
        return cls(grads[:, d * h1:(d + 1) * h1], d, theta.size)  # the b_1 block

    def __call__(self, Z):
        """``E_i z_ij`` (m, p, l) for Z (m, d, l)."""
        return self.add_to(np.zeros((Z.shape[0], self.p, Z.shape[2])), Z)

    def add_to(self, Y, Z, sign=1.0):
        """``Y + sign E_i z_ij`` in place, for Y (m, p, l) and Z (m, d, l): only the
        W_1 block is touched, so no second (m, p, l) array is made."""
        m, _, l = Z.shape
        Y[:, :self.d * self.h] += sign * np.einsum("ikl,ij->ikjl", Z, self.delta).reshape(m, -1, l)
        return Y

    def T_one(self, w):
        """``E_i^T w`` (m, d) for one w (p,)."""
        return self.delta @ w[:self.d * self.h].reshape(self.d, self.h).T

    def T(self, W):
        """``E_i^T w_ia`` (m, d, a) for W (m, a, p)."""
        m, a, _ = W.shape
        W1 = W[:, :, :self.d * self.h].reshape(m, a, self.d, self.h)
        return np.einsum("iakj,ij->ika", W1, self.delta)


class PieceSource:
    """The minimum a :class:`_Pieces` needs (per-class gradients of a model at its
    fitted parameters), without the refit check and curvature of a backend."""

    def __init__(self, model):
        self.model, self.theta = model, model.theta_
        self.K, self.p = model.n_classes_, model.theta_.size
        self.fast = getattr(model, "logp_grad_fn", None)
        self.svd_rank = None

    def pieces(self, X, y):
        return _Pieces(self, X, y)


class AutogradBackend:
    """Exact primitives for an :class:`AutogradModel` (see the module docstring).

    Parameters
    ----------
    model : AutogradModel
    X, y : training data the model was fitted on (checked: grad R ~ 0).
    curvature : {"exact", "cg", "lissa"} or a LinearOperator for H^{-1}
        How ``H^{-1}`` is applied; see :func:`localinf.curvature.make_curvature`.
    curvature_options : dict, optional
        Passed on to the curvature (``damping``, ``tol``, ...).
    chunk_size : int, optional
    grad_rtol : float, default 1e-6
        Accept the parameters as the minimiser when ``max|grad R| <= grad_rtol``
        times ``max(1, max|X|)``. Networks fitted by L-BFGS may need a looser
        value; the formulas then carry the fit's error.
    """

    def __init__(self, model, X, y, curvature="exact", curvature_options=None,
                 chunk_size=None, grad_rtol=1e-6, svd_rank=None, svd_options=None,
                 query_curvature=None, query_curvature_options=None):
        self.model = model
        self.X, self.y = X, y
        self.n, self.d = X.shape
        self.K = model.n_classes_
        self.theta = model.theta_
        self.p = self.theta.size
        # Per-sample log-probability gradients traceable in X (fit_mlp networks,
        # wrapped GLMs): they turn every M_i^T w_i into one reverse pass and
        # every M_i u_i into one forward pass, independent of p.
        self.fast = getattr(model, "logp_grad_fn", None)
        if svd_rank is not None:
            if self.fast is None:
                raise InputError("svd_rank needs per-sample gradients (a fit_mlp network or a GLM)")
            if not isinstance(svd_rank, (int, np.integer)) or not 1 <= svd_rank <= X.shape[1]:
                raise InputError(f"svd_rank must be an integer in 1..{X.shape[1]}; got {svd_rank!r}")
        self.svd_rank = svd_rank
        self.svd_options = {"oversample": 5, "n_iter": 1, "seed": 0, "exact_input_layer": False,
                            **(svd_options or {})}
        unknown = set(self.svd_options) - {"oversample", "n_iter", "seed", "exact_input_layer"}
        if unknown:
            raise InputError(f"svd_options: unknown keys {sorted(unknown)}")
        if self.svd_options["exact_input_layer"] and not hasattr(model, "layer_sizes_"):
            raise InputError("svd_options['exact_input_layer'] needs a whole network fitted by "
                             "localinf.fit_mlp (its first parameters are the input layer)")
        # Largest per-chunk block: (rows, p, d) mixed partials, (rows, K, p) on the
        # fast path, or the (rows, p, l) sketches of KFSVD.
        if self.fast is None:
            width = self.p * self.d
        elif svd_rank is None:
            width = self.K * self.p
        else:
            width = self.p * max(self.K, 2 * min(self.d, svd_rank + self.svd_options["oversample"]))
        self.chunk_size = chunk_size or int(max(1, min(self.n, _CHUNK_ENTRIES // width)))
        g = self.risk_grad(self.theta)
        check_minimiser(g, float(np.max(np.abs(X))), grad_rtol)
        self.grad_norm = float(np.linalg.norm(g))
        self.H_inv = make_curvature(curvature, self, **(curvature_options or {}))
        # Solves against query gradients (few right-hand sides, e.g. the one
        # u = H^{-1} gbar_V of FI_util) may use a more accurate operator than
        # the n (K - 1) per-row solves of the metric.
        if query_curvature is None:
            if query_curvature_options:
                raise InputError("query_curvature_options needs query_curvature")
            self.H_inv_query = self.H_inv
        else:
            opts = dict(query_curvature_options or {})
            if query_curvature == "cg" and curvature == "kfac" \
                    and opts.get("preconditioner", "kfac") == "kfac":
                opts["preconditioner"] = self.H_inv  # K-FAC (built once) preconditions CG on H
            self.H_inv_query = make_curvature(query_curvature, self, **opts)

    # -- the risk --------------------------------------------------------------
    def risk_grad(self, theta):
        """grad R(theta) (p,)."""
        return risk_grad(self.model, self.X, self.y, theta)

    def hvp(self, v):
        """H v (p,) at theta_hat."""
        return risk_hvp(self.model, self.X, self.y, self.theta, v)

    def hessian(self):
        """Dense H (p, p) at theta_hat.

        For a model whose logits are linear in theta (``linear_in_params``, set
        by :func:`from_glm`), the second derivatives of the logits vanish and H
        is the Fisher ``(1/n) sum_i sum_c P_ic a_ic a_ic^T`` plus the penalty,
        with ``a_ic = grad_theta log P(c|x_i)`` from the per-sample gradients:
        one matrix product per chunk instead of p reverse passes. The claim is
        checked against one Hessian-vector product.
        """
        if not (getattr(self.model, "linear_in_params", False) and self.fast is not None):
            return risk_hessian(self.model, self.X, self.y, self.theta)
        H = np.zeros((self.p, self.p))
        for sl in _row_chunks(self.n, self.chunk_size):
            pcs = self.pieces(self.X[sl], self.y[sl])
            A = pcs.dlogP_dtheta * np.sqrt(np.exp(pcs.logP))[:, :, None]
            A = A.reshape(-1, self.p)
            H += A.T @ A
        H /= self.n
        H[np.diag_indices(self.p)] += 2.0 * self.model.l2 * self.model.penalty_mask
        v = np.random.default_rng(0).standard_normal(self.p)
        Hv = self.hvp(v)
        if np.linalg.norm(H @ v - Hv) > 1e-8 * np.linalg.norm(Hv):
            raise InputError("model.linear_in_params is set, but the Fisher matrix differs from the "
                             "Hessian: the logits are not linear in the parameters")
        return H

    # -- primitives used by LocalInfluence ------------------------------------
    def pieces(self, X, y):
        return _Pieces(self, X, y)

    def proba(self, X):
        return np.exp(self.model.log_proba_fn(self.theta, X))

    def loss_grad(self, X, y, pieces=None):
        """grad_theta L per sample (m, p)."""
        pcs = pieces or self.pieces(X, y)
        return -pcs.dlogP_dtheta[np.arange(len(y)), y]

    def mixed_T(self, X, y, w, pieces=None):
        """``M_i^T w`` (m, d). Unless M_i is held: one reverse pass of
        ``X -> grad_X (w . grad_theta sum_i L_i)``, independent of the number of rows."""
        if pieces is not None and pieces.has_M or self.svd_rank is not None:
            return (pieces or self.pieces(X, y)).mixed_T(w)
        f = lambda Xv: anp.dot(grad(self.model.loss_sum_fn)(self.theta, Xv, y), w)
        return grad(f)(X)

    def loss_grads_of_x(self, y):
        """``X -> grad_theta L(y_i, x_i)`` per row (m, p), traceable in X (fast path only).

        From the model's ``loss_grad_fn`` when it has one (one class's pass
        instead of K), else from the per-class ``logp_grad_fn``.
        """
        loss_fast = getattr(self.model, "loss_grad_fn", None)
        if loss_fast is not None:
            return lambda Xv: loss_fast(self.theta, Xv, y)
        onehot = np.eye(self.K)[y][:, :, None]
        return lambda Xv: -anp.sum(self.fast(self.theta, Xv) * onehot, axis=1)

    def mixed(self, X, y, U, pieces=None):
        """``M_i u_ij`` (m, k, p) for U (m, d, k): one forward pass per j unless M_i is held."""
        pcs = pieces or self.pieces(X, y)
        if not pcs.has_M:
            jvp = make_jvp(self.loss_grads_of_x(y))(X)
            return np.stack([jvp(np.ascontiguousarray(U[:, :, j]))[1] for j in range(U.shape[2])], axis=1)
        return pcs.mixed(U)

    def truncated_mixed(self, X, y):
        """Rank-k factors of every M_i in the chunk from matrix-vector products (KFSVD).

        ``M_i v_i`` for a different v_i per row is one forward pass over the
        chunk and ``M_i^T u_i`` one reverse pass, so a randomized SVD (Halko,
        Martinsson & Tropp 2011, Alg. 4.4) runs on all rows at once: a sketch
        ``Y_i = M_i Omega`` with ``l = min(d, k + oversample)`` Gaussian
        columns, ``n_iter`` power iterations (orthonormalised in between),
        ``B_i = Q_i^T M_i``, and the SVD of the small ``B_i``. Cost: ``l (2
        n_iter + 2)`` passes per chunk, whatever p. With ``l = d`` the sketch
        spans R^d, so ``Q_i B_i = M_i`` and the truncation is the exact
        rank-k SVD (Eckart-Young); below that its error is at most a modest
        factor above the optimal one (sigma_{k+1}), and power iterations
        shrink that factor.

        With ``svd_options["exact_input_layer"]`` (fit_mlp networks) the input
        layer's flat term E_i (:class:`_InputLayerTerm`) is kept exactly and
        only ``M_i - E_i`` is truncated: the same passes, with E_i's products
        subtracted.

        Returns
        -------
        US : ndarray (m, p, k)
            Left singular vectors scaled by the singular values.
        V : ndarray (m, d, k)
            Right singular vectors.
        E : _InputLayerTerm or None
            The exactly applied input-layer term.
        """
        k, (m, d) = self.svd_rank, X.shape
        opts = self.svd_options
        l = min(d, k + int(opts["oversample"]))
        f = self.loss_grads_of_x(y)
        jvp = make_jvp(f)(X)
        E = _InputLayerTerm.of(self.model, self.theta, X, y) if opts["exact_input_layer"] else None
        forward_M = lambda Z: np.stack([np.asarray(jvp(np.ascontiguousarray(Z[:, :, j]))[1])
                                        for j in range(Z.shape[2])], axis=2)  # (m, p, l)
        reverse_M = lambda Q: np.stack([self._mixed_T_rows(X, y, np.ascontiguousarray(Q[:, :, j]))
                                        for j in range(Q.shape[2])], axis=2)  # (m, d, l)
        if E is None:
            forward, reverse = forward_M, reverse_M
        else:  # products with M_i - E_i
            forward = lambda Z: E.add_to(forward_M(Z), Z, sign=-1.0)
            reverse = lambda Q: reverse_M(Q) - E.T(np.transpose(Q, (0, 2, 1)))
        if l == d:
            Omega = np.broadcast_to(np.eye(d), (m, d, d))
        else:
            Omega = np.random.default_rng(opts["seed"]).standard_normal((m, d, l))
        Q = np.linalg.qr(forward(Omega))[0]
        if l < d:
            for _ in range(int(opts["n_iter"])):
                Z = np.linalg.qr(reverse(Q))[0]
                Q = np.linalg.qr(forward(Z))[0]
        Bt = reverse(Q)  # (m, d, l) = (Q_i^T M_i)^T
        Vb, S, Ubt = np.linalg.svd(Bt, full_matrices=False)  # Bt = Vb S Ub^T
        US = np.einsum("ipl,ilk->ipk", Q, np.transpose(Ubt, (0, 2, 1))[:, :, :k]) * S[:, None, :k]
        return US, np.ascontiguousarray(Vb[:, :, :k]), E

    def _mixed_T_rows(self, X, y, W):
        """``M_i^T w_i`` (m, d) for a different w_i per row, W (m, p): one reverse pass."""
        f = self.loss_grads_of_x(y)
        return grad(lambda Xv: anp.sum(f(Xv) * W))(X)

    def metric_factor(self, X, y, pieces=None):
        """F_i with ``G_i = F_i F_i^T`` (eq. 2.3): (m, d, 1) for K = 2, else (m, d, K).

        ``G_i = sum_c P_c v_ic v_ic^T`` with ``v_ic = D_i^T grad_theta log P_c +
        grad_x log P_c`` and ``D_i = -(1/n) H^{-1} M_i``. Because
        ``sum_c P_c v_ic = 0`` (the probabilities sum to one), G_i is the
        covariance of ``v_ic`` over c ~ P: with ``w_ia = v_ia - v_i0`` and S_i
        the covariance of the class indicators 1..K-1, ``G_i = W_i S_i W_i^T``.
        Only the K - 1 differences need a solve and a pass through M_i; for
        K = 2, ``S_i = P_0 P_1`` and ``F_i = sqrt(P_0 P_1) w_i1``.
        """
        pcs = pieces or self.pieces(X, y)
        A = pcs.dlogP_dtheta  # (m, K, p)
        m, K, p = A.shape
        Ad = A[:, 1:] - A[:, :1]  # (m, K-1, p)
        HA = self.H_inv.matmat(Ad.reshape(m * (K - 1), p).T).T.reshape(m, K - 1, p)
        if pcs.has_M:
            MtHA = pcs.mixed_T_batch(HA)  # (m, d, K-1)
        else:
            MtHA = np.stack([self._mixed_T_rows(X, y, HA[:, a]) for a in range(K - 1)], axis=2)
        W = -MtHA / self.n + np.transpose(pcs.dlogP_dx_diff, (0, 2, 1))  # (m, d, K-1)
        P = np.exp(pcs.logP)
        if K == 2:
            return W * np.sqrt(P[:, 0] * P[:, 1])[:, None, None]
        # E_i (K-1, K) with E_i E_i^T = S_i: E[a, c] = sqrt(P_c) (1{c = a} - P_a), a = 1..K-1
        sqrtP = np.sqrt(P)
        E = -P[:, 1:, None] * sqrtP[:, None, :]
        idx = np.arange(K - 1)
        E[:, idx, idx + 1] += sqrtP[:, 1:]
        return np.einsum("ida,iac->idc", W, E)


def check_autograd_inputs(model, X, y):
    """Validate (X, y) for an AutogradModel; returns them as arrays."""
    X = check_matrix(X, "X")
    y, _ = check_labels(y, "y", X.shape[0], n_classes=model.n_classes_)
    try:
        logP = np.asarray(model.log_proba_fn(model.theta_, X[:2]))
    except Exception as exc:  # the user's function failed on their data: say so plainly
        raise InputError(f"model.logits failed on X[:2]: {type(exc).__name__}: {exc}") from None
    if logP.shape != (min(2, X.shape[0]), model.n_classes_):
        raise InputError(f"model.logits must return (m, {model.n_classes_}) logits (or (m,) for a "
                         f"binary model); got log-probabilities of shape {logP.shape}")
    return X, y


def warn_if_not_pd(eigenvalues):
    lo, hi = float(eigenvalues[0]), float(eigenvalues[-1])
    if lo <= 0:
        warnings.warn(
            f"the Hessian at theta_hat is not positive definite (eigenvalues {lo:.3e} .. {hi:.3e}); "
            "theta_hat is not a strict local minimum, so D_i is not unique. Using the damped "
            "pseudo-inverse; results depend on the damping and the cut-off.", RuntimeWarning,
            stacklevel=3)
