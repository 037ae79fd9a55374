"""The backend protocol: every measure runs through it on either backend, a backend
can be built without the training matrix, and an incomplete backend is refused."""

import numpy as np
import pytest

import localinf as li
from localinf.backends import AutogradBackend, Backend, ReferenceBackend, Rows
from localinf.models.glm_risk import risk_derivatives
from helpers import make_problem


def both(K, l2=0.03, seed=8):
    X, y = make_problem(seed, 50, 3, K)
    model = (li.LogisticRegression if K == 2 else li.SoftmaxRegression)(l2=l2).fit(X, y)
    return X, y, model, li.LocalInfluence(model, X, y), li.LocalInfluence(model, X, y, backend="autograd")


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b)))


@pytest.mark.parametrize("K", [2, 3])
def test_the_measures_that_used_to_borrow_autograd_agree_on_both_backends(K):
    """Leverage, Cook, FI of pairs and BALD now run on the reference backend's closed forms;
    the autograd backend computes them by differentiation."""
    X, y, model, ref, ag = both(K)
    assert isinstance(ref.backend_, ReferenceBackend) and isinstance(ag.backend_, AutogradBackend)
    assert rel(ref.leverage(), ag.leverage()) <= 1e-10
    assert rel(ref.cook_local_influence("covariate", covariate=1), ag.cook_local_influence("covariate", covariate=1)) <= 1e-10
    assert rel(li.fi_pairs(ref, X[:9], y[:9])[2], li.fi_pairs(ag, X[:9], y[:9])[2]) <= 1e-8
    a = li.acquisition_scores("bald", model, X, y, X[:12], seed=3)
    b = li.acquisition_scores("bald", li.from_glm(model), X, y, X[:12], seed=3)
    assert rel(a, b) <= 1e-8
    if K == 2:  # response perturbation: d^2 l / dtheta dy = grad_theta eta = xt for logistic
        assert rel(ref.cook_local_influence("response"), ag.cook_local_influence("response")) <= 1e-10


def test_response_perturbation_of_a_glm_is_the_design_row():
    """For logistic regression grad_theta (log P_1 - log P_0) = xt, so Delta_i = s_y xt_i
    (the closed form the reference backend had before the protocol)."""
    X, y, model, ref, _ = both(2)
    n = len(y)
    xt = np.column_stack([X, np.ones(n)])
    Delta = np.std(y, ddof=1) * xt
    want = np.abs(np.einsum("ij,ij->i", Delta @ np.linalg.inv(n * ref.H_inv_.hessian), Delta))
    assert rel(ref.cook_local_influence("response"), want) <= 1e-10


@pytest.mark.parametrize("K", [2, 3])
def test_a_backend_built_from_theta_the_hessian_and_n_alone(K):
    """The backend holds no training matrix: built from (model, H^{-1}, n) it gives the
    same measures as the one built from the data."""
    X, y, model, ref, ag = both(K)
    _, _, H, _, _ = risk_derivatives(X, y, model.theta_, K, True, float(model.l2))
    bare = ReferenceBackend(model, len(y), li.InverseHessian(H))
    inf = li.LocalInfluence(model, X, y, backend=bare)
    assert np.array_equal(inf.fi_util(X, y), ref.fi_util(X, y))
    wrapped = li.from_glm(model)
    bare_ag = AutogradBackend(wrapped, len(y), X.shape[1], li.InverseHessian(H))
    inf_ag = li.LocalInfluence(wrapped, X, y, backend=bare_ag)
    assert rel(inf_ag.fi_util(X, y), ref.fi_util(X, y)) <= 1e-10
    with pytest.raises(li.InputError, match="built for n = 50"):
        li.LocalInfluence(model, X[:40], y[:40], backend=bare)
    with pytest.raises(li.InputError, match="curvature: not used with a ready Backend"):
        li.LocalInfluence(model, X, y, backend=bare, curvature="cg")
    with pytest.raises(li.InputError, match="chunk_size: not used by a ready Backend"):
        li.LocalInfluence(model, X, y, backend=bare, chunk_size=7)
    other = (li.LogisticRegression if K == 2 else li.SoftmaxRegression)(l2=1.0).fit(X, y)
    with pytest.raises(li.InputError, match="backend was built for other parameters"):
        li.LocalInfluence(other, X, y, backend=bare)
    # the same shape, other data: the minimiser check runs on the data given
    X2, y2 = make_problem(99, 50, 3, K)
    with pytest.raises(li.InputError, match="do not minimise"):
        li.LocalInfluence(model, X2, y2, backend=bare)
    with pytest.raises(li.InputError, match="do not minimise"):
        li.LocalInfluence(model, X, y, backend=bare, grad_rtol=1e-300)
    unfitted = (li.LogisticRegression if K == 2 else li.SoftmaxRegression)(l2=0.03)
    for bad in (None, unfitted):
        with pytest.raises(li.InputError, match="model"):
            li.LocalInfluence(bad, X, y, backend=bare)
    with pytest.raises(li.InputError, match="InverseHessian"):
        ReferenceBackend(model, len(y), li.CGInverse(lambda v: H @ v, H.shape[0]))


def test_an_incomplete_backend_cannot_be_built():
    class NoRows(Backend):
        def log_proba_at(self, theta, X):
            return np.zeros((len(X), 2))

        def risk_grad(self, X, y):
            return np.zeros(3)

    class HalfRows(Rows):
        @property
        def log_proba(self):
            return np.zeros((self.m, 2))

    with pytest.raises(TypeError, match="rows"):
        NoRows(10, 2, 3, 2, np.zeros(3), None)
    with pytest.raises(TypeError, match="logp_grad"):
        HalfRows(None, np.zeros((2, 2)), np.zeros(2, dtype=int))


def test_the_generic_metric_equals_the_closed_form():
    """Rows.tangents written once on the primitives (used by the autograd backend) equals
    the reference backend's closed form for A_i, on the reference backend's own rows."""
    for K in (2, 3):
        X, y, model, ref, _ = both(K)
        rows = ref.backend_.rows(X[:10], y[:10])
        generic = Rows.tangents(rows)
        assert rel(generic, rows.tangents()) <= 1e-12


def test_a_users_operator_keeps_its_dense_hessian_and_attributes():
    """A LinearOperator that is not one of localinf's is wrapped on the common base; what it
    carries (a dense ``hessian``, counters) stays reachable."""
    from scipy.sparse.linalg import LinearOperator
    X, y, model, ref, _ = both(2)
    H = ref.H_inv_.hessian

    class Mine(LinearOperator):
        def __init__(self):
            self.hessian, self.calls = H, 0
            super().__init__(dtype=float, shape=H.shape)

        def _matvec(self, b):
            self.calls += 1
            return np.linalg.solve(H, b)

    op = Mine()
    inf = li.LocalInfluence(li.from_glm(model), X, y, curvature=op)
    assert inf.H_inv_.hessian is H and inf.H_inv_.op is op
    assert rel(inf.cook_local_influence(), ref.cook_local_influence()) <= 1e-10
    inf.influence_value(X, y)
    assert inf.H_inv_.calls == op.calls > 0


def test_cook_response_perturbation_of_a_network_against_autograd():
    """For a binary network the response scheme perturbs y_i -> y_i + omega_i s_y in the
    Bernoulli log-likelihood; Delta_i = d^2 l / dtheta domega_i is formed here by autograd
    from that log-likelihood, independently of the backend's per-class gradients."""
    from autograd import jacobian
    import autograd.numpy as anp
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 2))
    y = ((X[:, 0] ** 2 + X[:, 1] + 0.3 * rng.normal(size=30)) > 0.5).astype(int)
    net = li.fit_mlp(X, y, hidden=(3,), activation="tanh", l2=0.02)
    inf = li.LocalInfluence(net, X, y)
    n, s_y = len(y), float(np.std(y, ddof=1))

    def loglik(theta, omega):
        logP = net.log_proba_fn(theta, X)
        eta = logP[:, 1] - logP[:, 0]
        return anp.sum((y + omega * s_y) * eta - anp.logaddexp(0.0, eta))

    Delta = jacobian(lambda om: jacobian(loglik)(net.theta_, om))(np.zeros(n))  # (p, n)
    B = Delta.T @ np.linalg.solve(n * inf.H_inv_.hessian, Delta)
    assert rel(inf.cook_local_influence("response"), np.abs(np.diag(B))) <= 1e-8


def test_the_reference_backends_dense_inverse_follows_its_operator():
    """The explicit H^{-1} the reference metric uses is formed from the backend's current
    operator: replacing H_inv changes the metric as it does on the autograd backend."""
    X, y, model, ref, ag = both(3)
    H2 = ref.H_inv_.hessian * 2.0
    rows = slice(0, 10)
    ref.metric(0)  # forms the dense inverse once
    for inf in (ref, ag):
        inf.backend_.H_inv = li.InverseHessian(H2)
    assert rel(ref.backend_.rows(X[rows], y[rows]).tangents(),
               ag.backend_.rows(X[rows], y[rows]).tangents()) <= 1e-10
