"""The Gauss-Newton curvature and influence at an approximate fit (issue 16).

Each operator is checked against a construction that shares none of its code:
the GGN against ``J^T S J`` from the Jacobian of the raw logits and an explicit
softmax Hessian S, K-FAC against the GGN's layer blocks where K-FAC is exact
(one training row), and the approximate-fit influence against finite
differences of the damped Gauss-Newton step it claims to differentiate.
"""

import copy
import warnings

import numpy as np
import pytest
from autograd import jacobian
from hypothesis import given
from hypothesis import strategies as st

import localinf as li
from localinf.curvature import GaussNewton
from helpers import make_problem


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b)))


def blobs(seed=0, n=120, K=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (np.arctan2(X[:, 1], X[:, 0]) // (2 * np.pi / K)).astype(int) % K
    flip = rng.random(n) < 0.15
    y[flip] = rng.integers(0, K, flip.sum())
    return X, y


def independent_ggn(model, X, y):
    """``(1/n) sum_i J_i^T (diag P_i - P_i P_i^T) J_i + 2 l2 diag(mask)`` from the Jacobian
    of the raw logits (numpy softmax; no log-probabilities, no per-row gradient code)."""
    theta = model.theta_
    logits = lambda th: model.logits(model.unflatten(th), X)
    Z = np.asarray(logits(theta))
    J = np.asarray(jacobian(logits)(theta))            # (n, K, p)
    if Z.ndim == 1:                                      # one-logit binary model: logits (0, z)
        Z = np.column_stack([np.zeros(len(Z)), Z])
        J = np.stack([np.zeros_like(J), J], axis=1)
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    G = sum(J[i].T @ (np.diag(P[i]) - np.outer(P[i], P[i])) @ J[i] for i in range(len(X)))
    return G / len(X) + np.diag(2 * model.l2 * model.penalty_mask)


def custom_model(X, y):
    """A user model that is not an MLP and has no per-row gradient code: a tanh feature
    map with a skip connection, one logit (binary)."""
    import autograd.numpy as anp

    def logits(params, X):
        return anp.dot(anp.tanh(anp.dot(X, params["A"])), params["v"]) + anp.dot(X, params["w"]) + params["b"]

    rng = np.random.default_rng(3)
    params = {"A": rng.normal(size=(X.shape[1], 3)), "v": rng.normal(size=3), "w": rng.normal(size=X.shape[1]),
              "b": np.array(0.1)}
    return li.AutogradModel(logits, params, 2, l2=0.01)


# -- the operator ------------------------------------------------------------

@pytest.mark.parametrize("kind", ["mlp3", "relu", "custom"])
def test_ggn_products_and_dense_match_an_independent_jtsj(kind):
    X, y = blobs(0, 80, 3 if kind != "custom" else 2)
    if kind == "custom":
        y = (y > 0).astype(int)
        model = custom_model(X, y)
    else:
        model = li.fit_mlp(X, y, hidden=(5,), activation="tanh" if kind == "mlp3" else "relu",
                           l2=1e-2, epochs=20)
    ggn = GaussNewton(model.risk_on(X, y))
    G_ind = independent_ggn(model, X, y)
    assert rel(ggn.dense(), G_ind) < 1e-12
    V = np.random.default_rng(1).normal(size=(G_ind.shape[0], 3))
    for v in V.T:
        assert rel(ggn.matvec(v), G_ind @ v) < 1e-12
    assert np.linalg.eigvalsh(ggn.dense()).min() > 0  # PSD plus the penalty


def test_ggn_equals_the_hessian_for_glms_and_gives_the_reference_backends_values():
    for K in (2, 3):
        X, y = make_problem(K, 90, 3, K)
        Xv, yv = make_problem(K + 10, 40, 3, K)
        glm = (li.LogisticRegression if K == 2 else li.SoftmaxRegression)(l2=0.05).fit(X, y)
        risk = li.from_glm(glm).risk_on(X, y)
        assert rel(GaussNewton(risk).dense(), risk.hessian()) < 1e-13
        ref = li.LocalInfluence(glm, X, y)
        ggn = li.LocalInfluence(glm, X, y, backend="autograd", curvature="ggn")
        assert rel(ggn.fi_util(Xv, yv), ref.fi_util(Xv, yv)) < 1e-9
        assert rel(ggn.self_influence(), ref.self_influence()) < 1e-9


def test_kfac_is_the_ggn_layer_blocks_on_one_row():
    """K-FAC replaces E[a a^T kron g g^T] by E[a a^T] kron E[g g^T]: exact for one row.
    Its damped inverse is then the inverse of the GGN's block diagonal (plus damping)."""
    X, y = blobs(2, 40, 3)
    net = li.fit_mlp(X, y, hidden=(4, 3), activation="tanh", l2=1e-2)
    one_X, one_y = X[:1], y[:1]
    lam = 0.3
    kfac = li.KFACInverse(net, one_X, one_y, damping=lam)
    G = independent_ggn(net, one_X, one_y)
    blocks = np.zeros_like(G)
    sizes = [(a + 1) * b for a, b in zip(net.layer_sizes_[:-1], net.layer_sizes_[1:])]
    for lo, hi in zip(np.cumsum([0] + sizes)[:-1], np.cumsum(sizes)):
        blocks[lo:hi, lo:hi] = G[lo:hi, lo:hi]
    dense_inv = kfac.matmat(np.eye(G.shape[0]))
    assert rel(dense_inv, np.linalg.inv(blocks + lam * np.eye(G.shape[0]))) < 1e-10


def test_ggn_solvers_agree():
    X, y = blobs(1, 100, 3)
    Xv, yv = blobs(5, 40, 3)
    net = li.fit_mlp(X, y, hidden=(6,), activation="tanh", l2=1e-2)
    dense = li.LocalInfluence(net, X, y, curvature="ggn", curvature_options={"solver": "dense"})
    want = dense.fi_util(Xv, yv)
    for opts in ({"solver": "cg", "tol": 1e-12}, {"solver": "cg", "tol": 1e-12, "preconditioner": "kfac"}):
        got = li.LocalInfluence(net, X, y, curvature="ggn", curvature_options=opts).fi_util(Xv, yv)
        assert rel(got, want) < 1e-8
    cg = li.LocalInfluence(net, X, y, curvature="ggn", curvature_options={"solver": "cg"})
    assert cg.H_inv_.n_hvp == 0 and dense.H_inv_.hessian is None  # an approximation: no "H"
    with pytest.raises(li.InputError, match="solver"):
        li.LocalInfluence(net, X, y, curvature="ggn", curvature_options={"solver": "lu"})
    with pytest.raises(li.InputError, match="preconditioner apply to solver='cg' only.*chose it for p"):
        li.LocalInfluence(net, X, y, curvature="ggn", curvature_options={"preconditioner": "kfac"})
    with pytest.raises(li.InputError, match="tol apply to solver='cg' only, and the solver is dense;"):
        li.LocalInfluence(net, X, y, curvature="ggn", curvature_options={"solver": "dense", "tol": 1e-6})
    with pytest.raises(li.InputError, match="damping"):
        li.LocalInfluence(net, X, y, curvature="ggn", curvature_options={"damping": -1.0})


def test_singular_ggn_without_penalty_or_damping_is_refused():
    X, y = blobs(3, 60, 2)
    net = li.fit_mlp(X, y, hidden=(3,), activation="relu", l2=0.0, epochs=5, finish="none")
    with pytest.raises(li.SingularHessianError, match="Gauss-Newton.*damping"), warnings.catch_warnings():
        warnings.simplefilter("ignore", li.ApproximateFitWarning)
        li.LocalInfluence(net, X, y, curvature="ggn", at_minimiser=False)
    params = li.init_mlp((2, 3, 1), seed=0)
    params[0][0][:, 0], params[0][1][0] = 0.0, -1.0  # unit 0 is off on every row
    dead = li.MLP((2, 3, 1), "relu", params, l2=0.0)
    op = li.curvature.CGGGNInverse(GaussNewton(dead.risk_on(X, y)))
    with pytest.raises(li.SingularHessianError, match="Gauss-Newton curvature G"):
        op.matvec(np.eye(dead.theta_.size)[0])  # W1[0, 0] feeds the dead unit: G e_0 = 0


# -- influence at an approximate fit -------------------------------------------

def adam_net(seed=0, K=3, finish="none"):
    X, y = blobs(seed, 120, K)
    net = li.fit_mlp(X, y, hidden=(6, 6), activation="relu", l2=1e-2, epochs=30, batch_size=32,
                     learning_rate=1e-2, seed=seed, finish=finish)
    return net, X, y


def approx(net, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", li.ApproximateFitWarning)
        return li.LocalInfluence(net, X, y, at_minimiser=False, **kw)


def test_exact_mode_refuses_a_non_minimiser_and_approximate_mode_records_how_far():
    net, X, y = adam_net()
    assert net.grad_norm_ > 1e-4
    for curvature in ("exact", "ggn", "kfac"):
        with pytest.raises(li.InputError, match="at_minimiser=False"):
            li.LocalInfluence(net, X, y, curvature=curvature)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inf = li.LocalInfluence(net, X, y, curvature="ggn", curvature_options={"damping": 1e-3},
                                at_minimiser=False)
        inf.fi_util(X[:10] + 0.05, y[:10])
        inf.influence_value(X[:10] + 0.05, y[:10])
    mine = [w for w in caught if issubclass(w.category, li.ApproximateFitWarning)]
    assert len(mine) == 1 and "max|grad R|" in str(mine[0].message)
    assert mine[0].filename == __file__  # points at the caller
    assert inf.at_minimiser_ is False and inf.damping_ == 1e-3
    assert inf.grad_norm_ == pytest.approx(float(np.max(np.abs(net.risk_on(X, y).grad()))), rel=1e-12)
    assert approx(net, X, y, curvature="kfac").damping_ == 0.0
    assert approx(net, X, y, curvature="ggn").at_minimiser_ is False
    with pytest.warns(li.ApproximateFitWarning, match=r"\(GGN \+ 0 I\)\^-1 for the per-row solves "
                      r"and \(KFAC \+ 0.5 I\)\^-1 for the query solves"):
        li.LocalInfluence(net, X, y, curvature="ggn", at_minimiser=np.False_, query_curvature="kfac",
                          query_curvature_options={"damping": 0.5})


@pytest.mark.parametrize("kw, match", [
    (dict(curvature="exact"), "curvature: at_minimiser=False needs 'ggn' or 'kfac'"),
    (dict(curvature="cg"), "curvature: at_minimiser=False"),
    (dict(curvature="lissa"), "curvature: at_minimiser=False"),
    (dict(curvature="ggn", query_curvature="cg"), "query_curvature: at_minimiser=False"),
    (dict(curvature="ggn", at_minimiser="no"), "at_minimiser must be True or False"),
])
def test_approximate_mode_refuses_curvatures_that_need_a_minimiser(kw, match):
    net, X, y = adam_net()
    kw = {"at_minimiser": False, **kw}
    with pytest.raises(li.InputError, match=match):
        li.LocalInfluence(net, X, y, **kw)


def test_approximate_mode_on_glms_needs_the_autograd_backend_and_refuses_deletion_formulas():
    X, y = make_problem(1, 80, 3, 2)
    glm = li.LogisticRegression(l2=0.1).fit(X, y)
    with pytest.raises(li.InputError, match="reference backend"):
        li.LocalInfluence(glm, X, y, curvature="ggn", at_minimiser=False)
    inf = approx(glm, X, y, backend="autograd", curvature="ggn")
    with pytest.raises(li.InputError, match="at_minimiser=False: the classic diagnostics"):
        inf.cooks_distance()
    with pytest.raises(li.InputError, match="GLM with backend='autograd'"):
        li.LocalInfluence(glm, X, y, backend="auto", curvature="ggn", at_minimiser=False)
    ready = li.LocalInfluence(glm, X, y).backend_
    with pytest.raises(li.InputError, match="ready Backend"):
        li.LocalInfluence(glm, X, y, backend=ready, at_minimiser=False)
    with pytest.raises(li.InputError, match="backend must be"):
        li.LocalInfluence(glm, X, y, backend="bogus", curvature="ggn", at_minimiser=False)


@pytest.mark.parametrize("lam", [0.0, 1e-2])
def test_approximate_influence_is_the_derivative_of_one_damped_gauss_newton_step(lam):
    """What at_minimiser=False computes, checked from its definition: with C = G + lam I
    held at the training data, theta+(omega) = theta - C^{-1} grad R(theta; x_i + omega)
    is one damped Gauss-Newton step; D_i = d theta+ / d omega. The gradient is linear in
    nothing, so the check is a central difference of grad R alone (no solve in the loop
    but the one with the dense C built independently)."""
    net, X, y = adam_net(4)
    inf = approx(net, X, y, curvature="ggn", curvature_options={"damping": lam})
    C = independent_ggn(net, X, y) + lam * np.eye(net.theta_.size)
    i, h = 7, 1e-5
    cols = []
    for j in range(X.shape[1]):
        plus, minus = X.copy(), X.copy()
        plus[i, j] += h
        minus[i, j] -= h
        dgrad = (net.risk_on(plus, y).grad() - net.risk_on(minus, y).grad()) / (2 * h)
        cols.append(-np.linalg.solve(C, dgrad))
    assert rel(inf.dtheta_domega(i), np.column_stack(cols)) < 1e-7


def glm_at(glm, theta):
    model = copy.copy(li.from_glm(glm))
    model.theta_ = np.asarray(theta, dtype=float)
    return model


@given(seed=st.integers(0, 10 ** 6), K=st.sampled_from([2, 3]))
def test_damped_response_converges_to_the_exact_one(seed, K):
    """Away from the minimiser by t (theta = theta_hat + t delta) with damping t, the
    damped response tends to the exact influence as t -> 0, at first order in t (for a
    GLM, where the Gauss-Newton matrix is the Hessian)."""
    X, y = make_problem(seed, 80, 3, K)
    Xv, yv = make_problem(seed + 1, 30, 3, K)
    glm = (li.LogisticRegression if K == 2 else li.SoftmaxRegression)(l2=0.05).fit(X, y)
    exact = li.LocalInfluence(glm, X, y)
    want = exact.fi_util(Xv, yv), exact.dtheta_domega(3)
    delta = np.random.default_rng(seed).normal(size=glm.theta_.size)
    errors = []
    for t in (1e-1, 1e-2, 1e-3, 1e-4):
        inf = approx(glm_at(glm, glm.theta_ + t * delta), X, y, curvature="ggn",
                     curvature_options={"damping": t})
        errors.append(max(rel(inf.fi_util(Xv, yv), want[0]), rel(inf.dtheta_domega(3), want[1])))
    errors = np.array(errors)
    assert np.all(errors[1:] < errors[:-1])
    assert errors[-1] < 1e-2 and errors[-1] / errors[-2] < 0.2  # about first order in t


def test_network_response_converges_to_the_ggn_response_at_the_minimiser():
    """For a network the GGN is not the Hessian, so the limit of the damped response is the
    GGN response at the minimiser (reported against the exact one elsewhere): stopping
    L-BFGS later and damping less brings them together."""
    X, y = blobs(6, 100, 3)
    Xv, yv = blobs(7, 40, 3)
    kw = dict(hidden=(5,), activation="tanh", l2=1e-2)
    opt = li.fit_mlp(X, y, **kw)
    want = li.LocalInfluence(opt, X, y, curvature="ggn").fi_util(Xv, yv)
    errors, gnorms = [], []
    for maxiter, lam in ((5, 1e-1), (20, 1e-2), (40, 1e-4), (400, 1e-7)):
        net = li.fit_mlp(X, y, **kw, maxiter=maxiter, finish="none")
        gnorms.append(net.grad_norm_)
        errors.append(rel(approx(net, X, y, curvature="ggn", curvature_options={"damping": lam})
                          .fi_util(Xv, yv), want))
    assert gnorms[-1] < 1e-6 < gnorms[0]
    assert errors[-1] < 1e-3 < errors[0]
    assert np.all(np.diff(errors) < 0)


def test_weighted_ggn_is_the_ggn_of_the_repeated_rows():
    """Integer frequency weights: G, its products and the approximate-fit values equal
    those on the data with row i repeated w_i times."""
    net, X, y = adam_net(8)
    w = np.random.default_rng(0).integers(1, 4, len(y)).astype(float)
    Xr, yr = np.repeat(X, w.astype(int), axis=0), np.repeat(y, w.astype(int))
    weighted, repeated = GaussNewton(net.risk_on(X, y, w)), GaussNewton(net.risk_on(Xr, yr))
    assert rel(weighted.dense(), repeated.dense()) < 1e-12
    v = np.random.default_rng(1).normal(size=net.theta_.size)
    assert rel(weighted.matvec(v), repeated.dense() @ v) < 1e-12
    a = approx(net, X, y, curvature="ggn", sample_weight=w).fi_util(X[:20] + 0.1, y[:20])
    b = approx(net, Xr, yr, curvature="ggn").fi_util(X[:20] + 0.1, y[:20])
    first = np.concatenate([[0], np.cumsum(w.astype(int))[:-1]])  # one copy of each row
    assert rel(a, b[first]) < 1e-7  # FI's 1/lambda(G_i) amplifies G's 1e-13 round-off
