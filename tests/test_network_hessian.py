"""The closed-form Hessian and Gauss-Newton matrix of a dense network (models/mlp_hessian.py).

Each is compared with an independent computation: autograd's Hessian of the
penalised risk written out here, the reverse-pass assembly the package uses for
models without a closed form, central differences of the gradient, and the
Gauss-Newton matrix assembled from autograd Jacobians of the logits.
"""

import numpy as np
import pytest
from autograd import hessian, jacobian

import localinf as li
import localinf.models.mlp_hessian as mh
from localinf.curvature.ggn import GaussNewton
from localinf.models.risk_sums import reverse_hessian

ACTS = ["tanh", "softplus", "relu"]


def problem(sizes, seed=0, n=37):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    y = np.arange(n) % (sizes[-1] + 1)  # every class present
    w = rng.uniform(0.2, 3.0, size=n)
    # parameters away from a minimiser: the residual (second-derivative) terms are not small
    params = [(W + 0.4 * rng.normal(size=W.shape), b + 0.4 * rng.normal(size=b.shape))
              for W, b in li.init_mlp(sizes, seed=seed)]
    return X, y, w, params


def risk_hessian(model, X, y, w, theta=None):
    """autograd's Hessian of R = (1/N) sum_i w_i L_i + l2 ||theta[mask]||^2, written out here."""
    N = X.shape[0] if w is None else w.sum()
    R = lambda th: model.loss_sum_fn(th, X, y, w) / N + model.penalty_fn(th)
    return hessian(R)(model.theta_ if theta is None else theta)


def rel(A, B):
    return np.max(np.abs(A - B)) / np.max(np.abs(B))


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("sizes", [(3, 5, 4, 6, 2), (4, 6, 1)])
@pytest.mark.parametrize("weighted, l2", [(False, 0.0), (True, 0.03)])
def test_hessian_equals_autograd_and_the_reverse_pass_assembly(act, sizes, weighted, l2):
    X, y, w, params = problem(sizes)
    w = w if weighted else None
    model = li.MLP(sizes, act, params, l2=l2, penalize_bias=False)
    H = model.risk_on(X, y, w).hessian()
    assert rel(H, risk_hessian(model, X, y, w)) < 1e-12
    # the general route (one reverse pass per row of H), on the same network declared
    # as a plain autograd model
    plain = li.AutogradModel(model.logits, params, model.n_classes_, l2=l2,
                             penalty_mask=model.penalty_mask)
    assert plain.curvature_fn is None
    assert rel(H, plain.risk_on(X, y, w).hessian()) < 1e-12
    assert np.array_equal(H, H.T)


@pytest.mark.parametrize("act", ["tanh", "softplus"])
def test_hessian_matches_central_differences_of_the_gradient(act):
    sizes = (3, 4, 3, 2)
    X, y, w, params = problem(sizes, seed=3)
    model = li.MLP(sizes, act, params, l2=0.01)
    risk = model.risk_on(X, y, w)
    theta, p, eps = model.theta_, model.theta_.size, 1e-5
    fd = np.empty((p, p))
    for j in range(p):
        e = np.zeros(p)
        e[j] = eps
        fd[:, j] = (risk.grad(theta + e) - risk.grad(theta - e)) / (2 * eps)
    assert rel(risk.hessian(), fd) < 1e-7


def test_hessian_at_other_parameters_and_at_a_relu_kink():
    sizes = (3, 5, 4, 2)
    X, y, w, params = problem(sizes, seed=4)
    # a ReLU unit with zero weights and bias sits on its kink for every row: autograd's
    # convention there (slope 1/2) must be the one used
    params[1] = (params[1][0].copy(), params[1][1].copy())
    params[1][0][:, 2] = 0.0
    params[1][1][2] = 0.0
    model = li.MLP(sizes, "relu", params, l2=0.02)
    H = model.risk_on(X, y, w).hessian()
    assert rel(H, risk_hessian(model, X, y, w)) < 1e-12
    theta = model.theta_ + 0.1 * np.random.default_rng(5).normal(size=model.theta_.size)
    assert rel(model.risk_on(X, y, w).hessian(theta), risk_hessian(model, X, y, w, theta)) < 1e-12


def ggn_by_jacobians(model, X, y, w):
    """sum_i w_i J_i^T (diag P_i - P_i P_i^T) J_i / N + 2 l2 diag(mask), from autograd Jacobians."""
    z = lambda th: model.logits(model.unflatten(th), X)  # (n, K), class 0 fixed at 0
    J = jacobian(z)(model.theta_)  # (n, K, p)
    P = np.exp(np.asarray(model.log_proba_fn(model.theta_, X)))
    S = np.einsum("ik,kl->ikl", P, np.eye(P.shape[1])) - P[:, :, None] * P[:, None, :]
    G = np.einsum("i,ikp,ikl,ilq->pq", w, J, S, J) / w.sum()
    return G + np.diag(2 * model.l2 * model.penalty_mask)


@pytest.mark.parametrize("act", ACTS)
def test_gauss_newton_equals_jacobian_assembly_and_the_fisher_route(act):
    sizes = (3, 5, 4, 2)
    X, y, w, params = problem(sizes, seed=6)
    model = li.MLP(sizes, act, params, l2=0.01)
    risk = model.risk_on(X, y, w)
    G = GaussNewton(risk).dense()
    assert rel(G, ggn_by_jacobians(model, X, y, w)) < 1e-12
    plain = li.AutogradModel(model.logits, params, model.n_classes_, l2=0.01,
                             logp_grad_fn=model.logp_grad_fn)
    assert rel(G, plain.risk_on(X, y, w).fisher()) < 1e-12
    v = np.random.default_rng(7).normal(size=G.shape[0])
    assert rel(G @ v, GaussNewton(risk).matvec(v)) < 1e-12


def test_restricted_models_take_the_blocks_of_the_parent():
    sizes = (3, 5, 4, 2)
    X, y, w, params = problem(sizes, seed=8)
    model = li.MLP(sizes, "tanh", params, l2=0.01)
    H = risk_hessian(model, X, y, w)
    last = li.last_layer(model)
    assert rel(last.risk_on(X, y, w).hessian(), H[np.ix_(last.free_, last.free_)]) < 1e-12
    free = np.random.default_rng(9).permutation(model.theta_.size)[:17]  # across layers, unsorted
    sub = model.restrict(free)
    assert rel(sub.risk_on(X, y, w).hessian(), H[np.ix_(free, free)]) < 1e-12
    nested = sub.restrict([4, 0, 11])
    assert rel(nested.risk_on(X, y, w).hessian(), H[np.ix_(free[[4, 0, 11]], free[[4, 0, 11]])]) < 1e-12
    G = model.risk_on(X, y, w).fisher()
    assert rel(sub.risk_on(X, y, w).fisher(), G[np.ix_(free, free)]) < 1e-12


@pytest.mark.parametrize("gauss_newton", [False, True])
def test_row_chunks_and_product_pieces_do_not_change_the_sum(monkeypatch, gauss_newton):
    sizes = (3, 5, 4, 6, 2)
    X, y, w, params = problem(sizes, seed=10, n=23)
    act = li.models.mlp.ACTIVATIONS["softplus"]
    whole = mh.mlp_curvature(params, act, X, y, w, gauss_newton=gauss_newton)
    monkeypatch.setattr(mh, "_PART_ENTRIES", 1)  # one row per chunk
    monkeypatch.setattr(mh, "_BLOCK_ENTRIES", 1)  # one row of V_l per product
    monkeypatch.setattr(mh, "_MIRROR_TILE", 7)
    pieces = mh.mlp_curvature(params, act, X, y, w, gauss_newton=gauss_newton)
    assert rel(pieces, whole) < 1e-13
    model = li.MLP(sizes, "softplus", params)
    ref = reverse_hessian(model.loss_sum_fn, model.theta_, X, y, w, rows=X.shape[0])
    if not gauss_newton:
        assert rel(pieces, ref) < 1e-12


def test_mirror_upper_copies_the_upper_triangle(monkeypatch):
    A = np.random.default_rng(11).normal(size=(23, 23))
    monkeypatch.setattr(mh, "_MIRROR_TILE", 5)
    B = mh.mirror_upper(A.copy())
    upper = np.triu_indices(23)
    assert np.array_equal(B[upper], A[upper])
    assert np.array_equal(B, B.T)
