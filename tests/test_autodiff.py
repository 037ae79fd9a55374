"""Unit tests of the autograd backend: networks, curvature operators, KFSVD, last layer.

The cross-checks against the reference backend, refits of networks and the
iterative solvers' convergence are properties of the validation suite
(validation/test_check_*.py).
"""

import numpy as np
import pytest
from autograd import jacobian

import localinf as li
from helpers import make_problem
from test_measures import TOL, rel_err


def test_invariance_check_runs_on_autograd_backend():
    X, y = make_problem(1, 60, 2, 4)
    model = li.SoftmaxRegression(l2=0.01).fit(X, y)
    J = np.array([[3.0, 1.0], [0.0, 0.5]])
    a = li.check_invariance(li.LocalInfluence(model, X, y), J, X[:3], y[:3])
    b = li.check_invariance(li.LocalInfluence(model, X, y, backend="autograd"), J, X[:3], y[:3])
    assert np.allclose(a.fi_reparam, b.fi_reparam, rtol=1e-8)
    assert b.max_range_residual < 1e-8  # K - 1 = 3 >= d = 2


def test_damping_is_explicit_and_warns_on_indefinite_hessian():
    class Fake:
        p = 3
        def hessian(self):
            return np.diag([2.0, 1.0, -1e-3])
    with pytest.warns(RuntimeWarning, match="not positive definite"):
        op = li.curvature.make_curvature("exact", Fake(), {"damping": 0.01})
    assert np.allclose(op.matvec(np.ones(3)), [1 / 2.01, 1 / 1.01, 1 / 0.009])
    with pytest.warns(RuntimeWarning, match="not positive definite"):
        op = li.curvature.make_curvature("exact", Fake())  # no damping: the negative direction is cut
    assert op.rank == 2


def mlp_problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 2))
    y = ((X[:, 0] ** 2 + X[:, 1] + 0.3 * rng.normal(size=40)) > 0.5).astype(int)
    return X, y


def test_mlp_measures_are_finite_and_consistent():
    X, y = mlp_problem(1)
    model = li.fit_mlp(X, y, hidden=(5,), activation="tanh", l2=0.02)
    inf = li.LocalInfluence(model, X, y)
    fu = inf.fi_util(X, y)
    pairs = inf.fi(X, y)
    assert np.isfinite(fu).all() and (fu >= 0).all()
    # FI_util uses the mean validation gradient: its g_i is the average of the per-query g_i
    g_mean = inf.gradient(3, X, y).mean(axis=0)
    G = inf.metric(3)
    assert fu[3] == pytest.approx(g_mean @ np.linalg.pinv(G, rcond=1e-10, hermitian=True) @ g_mean, rel=1e-8)
    assert pairs.shape == (40, 40)


def test_autograd_model_rejects_bad_input():
    X, y = mlp_problem()
    model = li.fit_mlp(X, y, hidden=(3,), l2=0.05)
    with pytest.raises(li.InputError, match="X contains NaN"):
        li.LocalInfluence(model, np.where(X > 1, np.nan, X), y)
    bad = li.AutogradModel(lambda p, X: X @ p, np.ones(2), 3)
    with pytest.raises(li.InputError, match="must return"):
        li.LocalInfluence(bad, X, np.arange(40) % 3)
    with pytest.raises(li.InputError, match="n_classes"):
        li.AutogradModel(lambda p, X: X @ p, np.ones(2), 1)
    with pytest.raises(li.InputError, match="do not minimise"):
        li.LocalInfluence(li.AutogradModel(model.logits, model.unflatten(model.theta_ + 0.1), 2,
                                           l2=0.05), X, y)
    with pytest.raises(li.InputError, match="curvature must be"):
        li.LocalInfluence(model, X, y, curvature="kfac-please")


@pytest.mark.parametrize("damping, K", [(0.0, 2), (0.05, 2), (0.0, 3)])
def test_kfac_inverts_the_kronecker_factored_fisher(damping, K):
    """The K-FAC operator is the exact inverse of blockdiag(A_l kron G_l) + 2 l2 I + damping I.

    A_l and G_l are rebuilt here from closed-form per-sample derivatives of a
    one-hidden-layer tanh network with K - 1 output units (no autograd, no code
    shared with kfac.py).
    """
    X, y = mlp_problem(2)
    if K == 3:
        y = np.where(X[:, 0] > 0.8, 2, y)
    l2 = 5e-3
    model = li.fit_mlp(X, y, hidden=(3,), activation="tanh", l2=l2)
    (W1, b1), (W2, b2) = model.unflatten(model.theta_)
    n = len(y)
    H1 = np.tanh(X @ W1 + b1)
    z = np.column_stack([np.zeros(n), H1 @ W2 + b2])  # class 0 has logit 0
    P = np.exp(z - z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    A1 = np.column_stack([X, np.ones(n)])
    A2 = np.column_stack([H1, np.ones(n)])
    G1, G2 = np.zeros((3, 3)), np.zeros((K - 1, K - 1))
    for c in range(K):
        g2 = P[:, 1:] - np.eye(K)[c, 1:]  # d(-log P_c)/d s2, (n, K-1)
        g1 = (g2 @ W2.T) * (1 - H1 ** 2)  # chain rule through tanh
        G2 += (g2 * P[:, c:c + 1]).T @ g2 / n
        G1 += (g1 * P[:, c:c + 1]).T @ g1 / n
    blocks = [np.kron(A1.T @ A1 / n, G1), np.kron(A2.T @ A2 / n, G2)]
    p = model.theta_.size
    dense = np.zeros((p, p))
    at = 0
    for B in blocks:
        dense[at:at + B.shape[0], at:at + B.shape[0]] = B
        at += B.shape[0]
    dense += (2 * l2 + damping) * np.eye(p)
    kfac = li.LocalInfluence(model, X, y, curvature="kfac", curvature_options={"damping": damping})
    assert np.max(np.abs(kfac.H_inv_.matmat(dense) - np.eye(p))) <= 1e-8


def test_kfac_refuses_models_it_cannot_factor():
    X, y = make_problem(0, 50, 2, 2)
    model = li.LogisticRegression(l2=0.1).fit(X, y)
    with pytest.raises(li.InputError, match="fit_mlp"):
        li.LocalInfluence(model, X, y, backend="autograd", curvature="kfac")


def test_per_sample_gradient_path_equals_generic_jacobians():
    """fit_mlp networks carry closed-form per-sample gradients (one pass per class);
    the same network built without them falls back to p-pass Jacobians. Both must
    agree to round-off."""
    X, y = mlp_problem(3)
    model = li.fit_mlp(X, y, hidden=(4, 3), activation="tanh", l2=3e-3)
    fast = li.LocalInfluence(model, X, y)
    assert fast.backend_.model.logp_grad_fn is not None
    plain = li.AutogradModel(model.logits, model.unflatten(model.theta_), model.n_classes_,
                             l2=model.l2, penalty_mask=model.penalty_mask)
    generic = li.LocalInfluence(plain, X, y)
    assert generic.backend_.model.logp_grad_fn is None
    for f in (lambda z: z.fi_util(X, y), lambda z: z.fi(X[:3], y[:3]), lambda z: z.metric(5),
              lambda z: z.dtheta_domega(5), lambda z: z.influence_value(X, y)):
        assert rel_err(f(fast), f(generic)) <= TOL


def kfsvd_problem():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(24, 3))
    y = ((X[:, 0] ** 2 + X[:, 1] - X[:, 2] + 0.3 * rng.normal(size=24)) > 0.5).astype(int)
    return X, y, li.fit_mlp(X, y, hidden=(4,), activation="tanh", l2=3e-3)


def test_truncated_mixed_partials_are_optimal_rank_k():
    """Eckart-Young: ||M_i - M_i^(k)||_F equals the root sum of the trailing squared
    singular values of the exact M_i, and the truncation has rank k."""
    X, y, model = kfsvd_problem()
    exact = li.LocalInfluence(model, X, y)
    for k in (1, 2):
        trunc = li.LocalInfluence(model, X, y, svd_rank=k)
        for i in (0, 9):
            M, Mk = exact.mixed_partial(i), trunc.mixed_partial(i)
            s = np.linalg.svd(M, compute_uv=False)
            assert np.linalg.norm(M - Mk) == pytest.approx(np.sqrt(np.sum(s[k:] ** 2)), rel=1e-6)
            assert np.linalg.matrix_rank(Mk, tol=1e-10 * s[0]) == k


def test_randomized_truncation_is_near_optimal_below_full_sketch():
    """With a sketch narrower than d (l = k + oversample < d) the randomized SVD is
    not exact. Halko, Martinsson & Tropp (2011, Cor. 10.10) bound the expected
    spectral error of the range by ``[1 + sqrt(k/(o-1)) + e sqrt(l)/o sqrt(d-k)]^(1/(2q+1))
    sigma_{k+1}``, about 1.6 sigma_{k+1} here (k = 1, o = 2, d = 8, q = 2); truncating
    to rank k adds at most sigma_{k+1}. We check the spectral error against
    3 sigma_{k+1} per row, and that with l = d it is the optimal sigma_{k+1}."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(30, 8))
    y = ((X[:, 0] - X[:, 1] ** 2 + 0.5 * X[:, 2] + 0.3 * rng.normal(size=30)) > 0).astype(int)
    model = li.fit_mlp(X, y, hidden=(5,), activation="tanh", l2=0.01)
    exact = li.LocalInfluence(model, X, y)
    sketch = li.LocalInfluence(model, X, y, svd_rank=1, svd_options={"oversample": 2})
    full = li.LocalInfluence(model, X, y, svd_rank=1, svd_options={"oversample": 7})
    for i in range(0, 30, 3):
        M = exact.mixed_partial(i)
        s = np.linalg.svd(M, compute_uv=False)
        err = np.linalg.norm(M - sketch.mixed_partial(i), 2)
        assert err <= 3 * s[1] + 1e-12 * s[0]
        assert np.linalg.norm(M - full.mixed_partial(i), 2) == pytest.approx(s[1], rel=1e-8)
    with pytest.raises(li.InputError, match="svd_options"):
        li.LocalInfluence(model, X, y, svd_rank=1, svd_options={"power": 3})


def test_exact_input_layer_truncates_only_the_rest_of_M():
    """``exact_input_layer``: M_i = E_i + R_i, where the input layer contributes
    E_i omega = omega delta_i^T to the W_1 block (delta_i = dL_i/db_1), a map with d
    equal singular values ||delta_i||. KFSVD then keeps E_i and truncates R_i.

    Checked independently: at a row with x_i = 0 the W_1 block of the exact M_i
    (autograd's Jacobian) is E_i alone, since R_i's part there is
    (d delta_i/dx) x_i^T; and with a full sketch (l = d) the result equals E_i
    plus the optimal rank-k truncation of M_i - E_i (numpy's SVD)."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(30, 8))
    X[3] = 0.0
    y = ((X[:, 0] - X[:, 1] ** 2 + 0.5 * X[:, 2] + 0.3 * rng.normal(size=30)) > 0).astype(int)
    model = li.fit_mlp(X, y, hidden=(5, 3), activation="tanh", l2=0.01)
    d, h = 8, 5
    exact = li.LocalInfluence(model, X, y)
    opts = {"oversample": 7, "exact_input_layer": True}
    for k in (1, 3):
        split = li.LocalInfluence(model, X, y, svd_rank=k, svd_options=opts)
        for i in (3, 11, 20):
            M = exact.mixed_partial(i)
            delta = jacobian(lambda th: model.loss_sum_fn(th, X[i:i + 1], y[i:i + 1]))(model.theta_)
            E = np.zeros_like(M)
            for j in range(d):
                E[j * h:(j + 1) * h, j] = delta[d * h:(d + 1) * h]
            assert np.allclose(np.linalg.svd(E, compute_uv=False), np.linalg.norm(E[:h, 0]), rtol=1e-12)
            if i == 3:
                assert rel_err(M[:d * h], E[:d * h]) <= 1e-12
            U, s, Vt = np.linalg.svd(M - E, full_matrices=False)
            assert rel_err(split.mixed_partial(i), E + (U[:, :k] * s[:k]) @ Vt[:k]) <= 1e-8
    glm = li.from_glm(li.LogisticRegression(l2=0.05).fit(X, y))
    for bad in (glm, li.last_layer(model)):
        with pytest.raises(li.InputError, match="exact_input_layer"):
            li.LocalInfluence(bad, X, y, svd_rank=2, svd_options={"exact_input_layer": True})


def test_linear_model_hessian_from_per_sample_gradients():
    """A model declared linear in theta (GLMs via from_glm) gets H as the Fisher of its
    per-sample gradients; that must equal the reverse-over-reverse Hessian, and a
    wrong declaration must be caught."""
    X, y = make_problem(5, 50, 3, 3)
    model = li.from_glm(li.SoftmaxRegression(l2=0.02).fit(X, y))
    assert model.linear_in_params
    fisher = model.risk_on(X, y).hessian()  # at theta_: the Fisher route
    direct = model.risk_on(X, y).hessian(model.theta_)  # reverse-over-reverse
    assert rel_err(fisher, direct) <= 1e-12
    Xm, ym = mlp_problem()
    net = li.fit_mlp(Xm, ym, hidden=(3,), l2=0.05)
    wrong = li.AutogradModel(net.logits, net.unflatten(net.theta_), net.n_classes_, l2=net.l2,
                             penalty_mask=net.penalty_mask, logp_grad_fn=net.logp_grad_fn,
                             linear_in_params=True)
    with pytest.raises(li.InputError, match="not linear"):
        li.LocalInfluence(wrong, Xm, ym)


def test_kfsvd_at_full_rank_with_exact_hessian_is_exact_fi():
    X, y, model = kfsvd_problem()
    exact = li.LocalInfluence(model, X, y)
    full = li.LocalInfluence(model, X, y, svd_rank=X.shape[1])
    assert rel_err(full.fi_util(X, y), exact.fi_util(X, y)) <= TOL
    assert rel_err(full.fi(X[:2], y[:2]), exact.fi(X[:2], y[:2])) <= TOL
    with pytest.raises(li.InputError, match="svd_rank"):
        li.LocalInfluence(model, X, y, svd_rank=4)


def test_last_layer_restriction_uses_the_blocks_of_the_full_model():
    """Last-layer influence: H is the last-layer block of the full H, D_i = -(1/n) H_LL^{-1} M_i[LL],
    and FI_util follows from those ingredients (computed here from the full model)."""
    X, y = mlp_problem(5)
    n = len(y)
    model = li.fit_mlp(X, y, hidden=(4, 3), activation="tanh", l2=3e-3)
    full = li.LocalInfluence(model, X, y)
    sub = li.last_layer(model)
    idx = sub.free_
    assert idx.size == (3 + 1) * 1
    ll = li.LocalInfluence(sub, X, y)
    H_LL = full.H_inv_.hessian[np.ix_(idx, idx)]
    assert rel_err(ll.H_inv_.hessian, H_LL) <= TOL
    gbar = full.backend_.rows(X, y).loss_grad.mean(axis=0)[idx]
    want = np.empty(n)
    for i in range(n):
        D = -np.linalg.solve(H_LL, full.mixed_partial(i)[idx]) / n
        if i == 7:
            assert rel_err(ll.dtheta_domega(i), D) <= TOL
        # metric from full-model per-class gradients restricted to the last layer
        A = full.backend_.rows(X[i:i + 1], y[i:i + 1]).logp_grad[0][:, idx]  # (K, |LL|)
        Bx = jacobian(lambda x: model.log_proba_fn(model.theta_, x[None])[0])(X[i])  # (K, d)
        P = model.predict_proba(X[i:i + 1])[0]
        V = A @ D + Bx
        G = (V.T * P) @ V
        g = D.T @ gbar
        want[i] = g @ np.linalg.pinv(G, rcond=1e-10, hermitian=True) @ g
    assert rel_err(ll.fi_util(X, y), want) <= TOL
    with pytest.raises(li.InputError, match="fit_mlp"):
        li.last_layer(li.AutogradModel(lambda p, X: X @ p, np.ones(2), 2))


def test_adam_fit_then_finish_reaches_the_minimiser():
    X, y = mlp_problem(6)
    rough = li.fit_mlp(X, y, hidden=(4,), l2=3e-3, method="adam", epochs=30, batch_size=8,
                       learning_rate=1e-2, finish=False)
    assert rough.grad_norm_ > 1e-8  # minibatch Adam alone is only approximate ...
    with pytest.raises(li.InputError, match="do not minimise"):
        li.LocalInfluence(rough, X, y, grad_rtol=1e-10)
    exact = li.fit_mlp(X, y, hidden=(4,), l2=3e-3, method="adam", epochs=30, batch_size=8,
                       learning_rate=1e-2)
    assert exact.grad_norm_ < 1e-12  # ... and the L-BFGS + Newton finish makes it exact
    assert np.isfinite(li.LocalInfluence(exact, X, y).fi_util(X, y)).all()
    a = li.fit_mlp(X, y, hidden=(4,), l2=3e-3, method="adam", epochs=5, finish=False, seed=3)
    b = li.fit_mlp(X, y, hidden=(4,), l2=3e-3, method="adam", epochs=5, finish=False, seed=3)
    assert np.array_equal(a.theta_, b.theta_)  # reproducible from the seed


def test_query_curvature_makes_the_validation_solve_exact_and_keeps_the_kfac_metric():
    """curvature="kfac" with query_curvature="cg": g_i comes from the exact H (CG
    preconditioned by K-FAC, to CG's tolerance) and G_i from K-FAC.

    The expected FI_util is assembled from other routes: g_i = D_i^T gbar_V with
    the explicit D_i of an exact-curvature object, G_i from the K-FAC object's
    metric, and numpy's pseudo-inverse.
    """
    X, y = mlp_problem(3)
    model = li.fit_mlp(X, y, hidden=(4,), activation="tanh", l2=5e-3)
    Xv, yv = X[::3], y[::3]
    exact = li.LocalInfluence(model, X, y)
    kfac = li.LocalInfluence(model, X, y, curvature="kfac")
    mixed = li.LocalInfluence(model, X, y, curvature="kfac", query_curvature="cg",
                              query_curvature_options={"tol": 1e-12})
    assert mixed.H_inv_query_.preconditioner is mixed.H_inv_  # K-FAC preconditions CG
    fu = mixed.fi_util(Xv, yv)
    gbar = exact.backend_.rows(Xv, yv).loss_grad.mean(axis=0)
    expected = []
    for i in range(len(y)):
        g = exact.dtheta_domega(i).T @ gbar
        expected.append(g @ np.linalg.pinv(kfac.metric(i), rcond=1e-10, hermitian=True) @ g)
    # CG stops at a residual of 1e-12 ||b||: u errs by <= cond(H) 1e-12
    assert rel_err(fu, np.array(expected)) <= 1e-6
    # the query-side solve is exact, so IV matches the exact object's
    assert rel_err(mixed.influence_value(Xv, yv), exact.influence_value(Xv, yv)) <= 1e-6
    # ... and differs from K-FAC's alone (the check above could not pass by accident)
    assert rel_err(kfac.fi_util(Xv, yv), fu) > 1e-3


def test_preconditioned_cg_converges_to_the_exact_solve():
    """The preconditioner changes the path, not the limit (its speed is measured in
    benchmarks/bench_autograd.py: on a tiny p plain CG is as quick)."""
    X, y = mlp_problem(4)
    model = li.fit_mlp(X, y, hidden=(6, 4), activation="tanh", l2=2e-3)
    exact = li.LocalInfluence(model, X, y)
    b = np.random.default_rng(0).normal(size=exact.p_)
    x = exact.H_inv_.matvec(b)
    plain = li.LocalInfluence(model, X, y, curvature="cg", curvature_options={"tol": 1e-12})
    pre = li.LocalInfluence(model, X, y, curvature="cg",
                            curvature_options={"tol": 1e-12, "preconditioner": "kfac"})
    for inf in (plain, pre):
        assert rel_err(inf.H_inv_.matvec(b), x) <= 1e-12 * exact.H_inv_.condition_number
    with pytest.raises(li.InputError, match="preconditioner"):
        li.LocalInfluence(model, X, y, curvature="cg", curvature_options={"preconditioner": "ilu"})
    with pytest.raises(li.InputError, match="query_curvature_options"):
        li.LocalInfluence(model, X, y, query_curvature_options={"tol": 1e-8})
    glm_X, glm_y = make_problem(0, 50, 2, 2)
    glm = li.LogisticRegression(l2=0.1).fit(glm_X, glm_y)
    with pytest.raises(li.InputError, match="reference backend"):
        li.LocalInfluence(glm, glm_X, glm_y, query_curvature="cg")


def test_relu_fit_that_stops_on_a_kink_says_why():
    X, y = mlp_problem(2)
    with pytest.raises(li.NotConvergedError, match="kinks.*last_layer.*softplus"):
        li.fit_mlp(X, y, hidden=(8, 8), activation="relu", l2=1e-3, finish="minimiser")


def test_capabilities_are_declared_when_a_model_is_built():
    """What a model can do beyond its logits is a constructor argument (checked there),
    and structure-dependent choices ask for the class, not for attributes."""
    X, y = mlp_problem(1)
    net = li.fit_mlp(X, y, hidden=(3,), l2=0.05)
    assert isinstance(net, li.MLP) and net.logp_grad_fn is not None and net.loss_grad_fn is not None
    sub = li.last_layer(net)
    assert isinstance(sub, li.models.RestrictedModel) and sub.logp_grad_fn is not None
    with pytest.raises(li.InputError, match="logp_grad_fn must be a callable"):
        li.AutogradModel(net.logits, net.unflatten(net.theta_), 2, logp_grad_fn="fast")
    with pytest.raises(li.InputError, match="linear_in_params must be True or False"):
        li.AutogradModel(net.logits, net.unflatten(net.theta_), 2, linear_in_params="yes")
    # the same function and parameters, but not declared as a network: no K-FAC
    plain = li.AutogradModel(net.logits, net.unflatten(net.theta_), 2, l2=net.l2,
                             penalty_mask=net.penalty_mask)
    with pytest.raises(li.InputError, match="kfac.*fit_mlp"):
        li.LocalInfluence(plain, X, y, curvature="kfac")


def test_restrict_refuses_free_sets_it_would_misread():
    X, y = mlp_problem(1)
    net = li.fit_mlp(X, y, hidden=(3,), l2=0.05)
    p = net.theta_.size
    for bad in ([0, 0], np.ones(p - 1, dtype=bool), [p], [], [0.5]):
        with pytest.raises(li.InputError, match="free"):
            net.restrict(bad)
    assert np.array_equal(net.restrict(np.arange(p) >= p - 4).free_, np.arange(p - 4, p))
