"""The one-pass risk and the fit that reuses Hessians (issue 17, point 3).

The risk, gradient and Hessian of ``localinf.models.glm_risk`` are checked
against a dense formula written out here (every row's Kronecker block summed
by einsum); the fits that use subsample Hessians and kept Hessians against
scikit-learn, statsmodels and a dense Newton method written out here, and for
the gradient at round-off level and a negligible exact Newton step at the end.
No test times anything: the number of exact Hessians a fit forms is counted
instead.
"""

import numpy as np
import pytest
import scipy.linalg as sla
from scipy.special import expit, logsumexp

import localinf as li
import localinf.models.glm_risk as glm_risk
from localinf.models.glm_risk import _binary_rows, risk_derivatives, risk_terms, risk_value
from localinf.models.newton import STALE_MARGIN, FrozenNewton


def dense(X, y, theta, K, fit_intercept, l2, w=None):
    """R, grad R and H of the penalised mean NLL, written out densely."""
    n = X.shape[0]
    Xt = np.column_stack([X, np.ones(n)]) if fit_intercept else X
    q = Xt.shape[1]
    eta = np.zeros((n, K))
    eta[:, 1:] = Xt @ theta.reshape(K - 1, q).T
    logP = eta - logsumexp(eta, axis=1, keepdims=True)
    P = np.exp(logP)
    w = np.ones(n) if w is None else w
    N = w.sum()
    mask = np.ones((K - 1, q))
    if fit_intercept:
        mask[:, -1] = 0.0
    mask = mask.ravel()
    R = -(w @ logP[np.arange(n), y]) / N + l2 * np.sum(mask * theta ** 2)
    r = P[:, 1:] - np.eye(K)[y][:, 1:]
    g = (Xt.T @ (r * w[:, None])).T.ravel() / N + 2 * l2 * mask * theta
    pi = P[:, 1:]
    S = np.einsum("ik,kl->ikl", pi, np.eye(K - 1)) - pi[:, :, None] * pi[:, None, :]
    H = np.einsum("i,ikl,ia,ib->kalb", w, S, Xt, Xt, optimize=True).reshape(g.size, g.size) / N
    return R, g, H + np.diag(2 * l2 * mask), Xt


def dense_roundoff(X, y, theta, K, fit_intercept, l2, w=None):
    """The round-off bound of grad R: eps (sum_i w_i |r_ik| |xt_ij| / N + 2 l2 |theta_kj|), densely."""
    n = X.shape[0]
    Xt = np.column_stack([X, np.ones(n)]) if fit_intercept else X
    q = Xt.shape[1]
    eta = np.zeros((n, K))
    eta[:, 1:] = Xt @ theta.reshape(K - 1, q).T
    P = np.exp(eta - logsumexp(eta, axis=1, keepdims=True))
    r = P[:, 1:] - np.eye(K)[y][:, 1:]
    w = np.ones(n) if w is None else w
    mask = np.ones((K - 1, q))
    mask[:, X.shape[1]:] = 0.0
    terms = np.einsum("i,ik,ij->kj", w, np.abs(r), np.abs(Xt)) / w.sum()
    return np.finfo(float).eps * (terms + 2 * l2 * mask * np.abs(theta.reshape(K - 1, q))).ravel()


def dense_minimiser(X, y, K, fit_intercept, l2, w=None):
    """Damped Newton's method on the dense formula until the step moves no linear predictor by 1e-12."""
    q = X.shape[1] + int(fit_intercept)
    theta = np.zeros(q * (K - 1))
    for _ in range(100):
        R, g, H, Xt = dense(X, y, theta, K, fit_intercept, l2, w)
        step = np.linalg.solve(H, g)
        t = 1.0
        while dense(X, y, theta - t * step, K, fit_intercept, l2, w)[0] > R and t > 1e-8:
            t /= 2
        theta = theta - t * step
        if np.max(np.abs(Xt @ step.reshape(K - 1, q).T)) <= 1e-12:
            return theta
    raise AssertionError("the dense Newton method did not converge")


def problem(n, d, K, seed=0, signal=2.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    eta = np.zeros((n, K))
    eta[:, 1:] = X @ rng.normal(size=(d, K - 1)) * signal / np.sqrt(d) + 0.3
    P = np.exp(eta - logsumexp(eta, axis=1, keepdims=True))
    y = (P.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1)
    return X, y


def rel(a, b):
    return np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b))


# -- the one-pass risk ------------------------------------------------------------

@pytest.mark.parametrize("K", [2, 3, 5])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_risk_derivatives_match_the_dense_formula(K, fit_intercept, weighted):
    rng = np.random.default_rng(K)
    X, y = problem(997, 6, K, seed=K)
    X *= 2.0
    theta = rng.normal(size=(6 + fit_intercept) * (K - 1)) * 0.5
    w = rng.integers(0, 4, len(y)).astype(float) if weighted else None
    R, g, H, Xt = dense(X, y, theta, K, fit_intercept, 0.01, w)
    for chunk in (None, 1, 100, 5000):
        R2, g2, H2, max_eta, max_x = risk_derivatives(X, y, theta, K, fit_intercept, 0.01, chunk=chunk,
                                                      weights=w)
        assert abs(R2 - R) <= 1e-12 * abs(R)
        assert rel(g2, g) <= 1e-12 and rel(H2, H) <= 1e-12
        assert np.allclose(H2, H2.T, rtol=0, atol=1e-15 * np.max(np.abs(H2)))
        assert max_eta == pytest.approx(np.max(np.abs(Xt @ theta.reshape(K - 1, -1).T)), rel=1e-13)
        assert max_x == np.max(np.abs(X))
        assert risk_value(X, y, theta, K, fit_intercept, 0.01, chunk=chunk, weights=w) == pytest.approx(R, rel=1e-12)
    assert risk_derivatives(X, y, theta, K, fit_intercept, 0.01, hessian=False, weights=w)[2] is None


def test_risk_terms_report_the_largest_row_norm_and_nan():
    X, y = problem(300, 4, 2)
    theta = np.zeros(5)
    out = risk_terms(X, y, theta, 2, True, 0.0, chunk=7, max_row_norm=True)
    assert out[4] is None and out[5] == pytest.approx(np.sqrt(np.max(np.sum(X ** 2, axis=1)) + 1), rel=1e-14)
    assert risk_terms(X, y, theta[:4], 2, False, 0.0, max_row_norm=True)[5] == pytest.approx(
        np.sqrt(np.max(np.sum(X ** 2, axis=1))), rel=1e-14)
    X[150, 2] = np.nan
    assert np.isnan(risk_terms(X, y, theta, 2, True, 0.0, chunk=7, max_abs_x=True)[4])
    assert np.isnan(risk_terms(X, y, theta, 2, True, 0.0, chunk=7, max_row_norm=True)[5])  # not dropped
    X[150, 2] = -np.inf
    assert risk_terms(X, y, theta, 2, True, 0.0, chunk=7, max_row_norm=True)[5] == np.inf


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_roundoff_bound_is_eps_times_the_gradients_absolute_terms(monkeypatch, K, fit_intercept, weighted):
    rng = np.random.default_rng(10 + K)
    X, y = problem(997, 6, K, seed=K)
    theta = rng.normal(size=(6 + fit_intercept) * (K - 1))
    w = rng.integers(0, 4, len(y)).astype(float) if weighted else np.ones(len(y))
    expected = dense_roundoff(X, y, theta, K, fit_intercept, 0.01, w)
    monkeypatch.setattr(glm_risk, "_ABS_BYTES", 8 * 6 * 7)  # |X_c| in parts of 7 rows
    for chunk in (None, 1, 100, 5000):
        out = risk_terms(X, y, theta, K, fit_intercept, 0.01, chunk=chunk, weights=w if weighted else None,
                         roundoff=True)
        plain = risk_terms(X, y, theta, K, fit_intercept, 0.01, chunk=chunk, weights=w if weighted else None)
        assert len(out) == 7 and rel(out[6], expected) <= 1e-12
        assert out[0] == plain[0] and np.array_equal(out[1], plain[1])  # nothing else changes
    assert risk_terms(X, y, theta, K, fit_intercept, 0.01, gradient=False, roundoff=True)[6] is None


def test_well_fitted_rows_keep_full_relative_precision():
    # P(1|x) = 1 - 4e-18 for eta = 40, y = 1: P - y has to come from P(0|x), not from 1 - 1
    z = np.array([-700.0, -40.0, -5.0, 0.0, 3.0, 40.0, 700.0])
    for y in (0, 1):
        eta = z if y == 0 else -z
        loss, r, s = _binary_rows(eta, np.full(z.size, y), True)
        assert rel(loss, np.logaddexp(0.0, z)) <= 1e-15
        assert np.all(np.abs(r[:, 0] - (1 - 2 * y) * expit(z)) <= 1e-15 * expit(z))
        assert np.all(np.abs(s - expit(z) * expit(-z)) <= 1e-15 * expit(z) * expit(-z))
    X = np.array([[1.0], [2.0]])
    g = risk_derivatives(X, np.array([1, 1]), np.array([40.0]), 2, False, 0.0)[1]
    assert g[0] == pytest.approx(-(expit(-40.0) + 2 * expit(-80.0)) / 2, rel=1e-14)


# -- the fit on large data: subsample Hessians, then single-precision ones ----------

class Passes:
    """Counts the passes a fit makes: Hessians of all rows (any precision), of a subsample,
    none. ``rounded`` has an entry per pass: None, or (for a pass that bounded the round-off
    in grad R) whether every entry of grad R was within its bound."""

    def __init__(self, monkeypatch, n):
        self.full = self.sub = self.plain = 0
        self.rounded = []
        original = glm_risk.risk_terms

        def counted(X, *args, **kw):
            if not kw.get("hessian"):
                self.plain += 1
            elif X.shape[0] < n or kw.get("subsample", 1) > 1:
                self.sub += 1
            else:
                self.full += 1
            out = original(X, *args, **kw)
            self.rounded.append(bool(np.all(np.abs(out[1]) <= out[6])) if kw.get("roundoff") else None)
            return out
        monkeypatch.setattr(glm_risk, "risk_terms", counted)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_large_logistic_fit_matches_sklearn_with_few_exact_hessians(monkeypatch, fit_intercept):
    from sklearn.linear_model import LogisticRegression as SkLogistic
    n, l2 = 20_000, 1e-3
    X, y = problem(n, 5, 2, seed=1)
    passes = Passes(monkeypatch, n)
    model = li.LogisticRegression(l2=l2, fit_intercept=fit_intercept).fit(X, y)
    assert passes.sub >= 1 and passes.full <= 2  # the old fit formed one per step, ~8
    sk = SkLogistic(C=1 / (2 * l2 * n), tol=1e-12, max_iter=10_000, fit_intercept=fit_intercept).fit(X, y)
    theirs = np.r_[sk.coef_.ravel(), sk.intercept_] if fit_intercept else sk.coef_.ravel()
    assert np.max(np.abs(model.theta_ - theirs)) <= 1e-8
    _, g, H, Xt = dense(X, y, model.theta_, 2, fit_intercept, l2)
    assert np.max(np.abs(g)) <= 1e-15  # round-off level, as the Newton fit gave
    assert np.max(np.abs(Xt @ np.linalg.solve(H, g))) <= 1e-12  # the exact Newton step is negligible


@pytest.mark.parametrize("K", [2, 3])
def test_large_fit_takes_no_step_once_the_gradient_is_zero_to_working_precision(monkeypatch, K):
    """The final steps end once every entry of grad R is within its round-off bound: here
    that saves passes that the rule 'while they lower ||grad R||' alone took (the last
    of them to no avail), and the fit ends at the same minimiser."""
    n, l2 = 20_000, 1e-3
    X, y = problem(n, 5, K, seed=5)
    cls = li.LogisticRegression if K == 2 else li.SoftmaxRegression
    passes = Passes(monkeypatch, n)
    model = cls(l2=l2).fit(X, y)
    within = [k for k, at in enumerate(passes.rounded) if at]
    assert within and within[0] == len(passes.rounded) - 1  # no pass after the first one at round-off
    total = passes.full + passes.sub + passes.plain
    assert total <= 10
    _, g, H, Xt = dense(X, y, model.theta_, K, True, l2)
    assert np.all(np.abs(g) <= 4 * dense_roundoff(X, y, model.theta_, K, True, l2))  # two sums' round-off
    assert np.max(np.abs(Xt @ np.linalg.solve(H, g).reshape(K - 1, -1).T)) <= 1e-13  # the exact Newton step
    run = FrozenNewton.run  # the same fit with final steps while they lower ||grad R|| alone
    monkeypatch.setattr(FrozenNewton, "run", lambda self, **kw: run(self, **{**kw, "roundoff": False}))
    passes = Passes(monkeypatch, n)
    assert np.max(np.abs(cls(l2=l2).fit(X, y).theta_ - model.theta_)) <= 1e-14
    assert passes.full + passes.sub + passes.plain >= total + 2


def test_small_fits_end_their_final_steps_as_before(monkeypatch):
    """Where no subsample Hessian is used, a pass costs little and the final steps go on
    while they lower ||grad R||, round-off bound or not."""
    X, y = problem(2000, 4, 3, seed=5)
    passes = Passes(monkeypatch, 2000)
    model = li.SoftmaxRegression(l2=1e-3).fit(X, y)
    assert passes.sub == 0 and not any(passes.rounded)
    run = FrozenNewton.run
    monkeypatch.setattr(FrozenNewton, "run", lambda self, **kw: run(self, **{**kw, "roundoff": False}))
    assert np.array_equal(li.SoftmaxRegression(l2=1e-3).fit(X, y).theta_, model.theta_)


def test_final_steps_ask_for_the_roundoff_bound_only_once_the_gradient_test_passes():
    X, y = problem(3000, 4, 2, seed=9)
    gtol, asked, within, made = 1e-10, [], [], {}

    def evaluate(th, hess, roundoff=False):
        asked.append((roundoff, "opt" in made and made["opt"].gmax() <= gtol))
        out = risk_terms(X, y, th, 2, True, 1e-3, hessian=bool(hess), roundoff=roundoff)
        if roundoff:
            within.append(bool(np.all(np.abs(out[1]) <= out[6])))
        return out[:4] + out[6:]
    factor = lambda H, exact: (lambda g, cho=sla.cho_factor(H, lower=True): sla.cho_solve(cho, g))
    opt = made["opt"] = FrozenNewton(evaluate, factor, np.zeros(5))
    opt.run(gtol=gtol, max_iter=50, min_step=1e-12)
    assert opt.gmax() <= gtol and opt.roundoff is None and not within
    first = len(asked)
    opt.run(gtol=gtol, max_iter=50, min_step=1e-12, final_steps=10, roundoff=True)
    assert all(a == below for a, below in asked[first:])  # from the points that pass the gradient test
    # the (linearly converging, kept-H) final steps end at the first gradient within its bound
    assert len(within) >= 2 and within[-1] and not any(within[:-1])
    assert np.all(np.abs(opt.state[1]) <= opt.roundoff)
    assert rel(opt.roundoff, dense_roundoff(X, y, opt.theta, 2, True, 1e-3)) <= 1e-12
    assert not opt.asks_roundoff()  # only within run


def test_dask_fit_bounds_the_roundoff_as_the_in_memory_fit(monkeypatch):
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    from localinf.models.glm_dask import fit_dask
    X, y = problem(20_000, 4, 3, seed=1)
    data = lambda: (da.from_array(X, chunks=(7000, 4)), da.from_array(y, chunks=7000))
    run, made = FrozenNewton.run, []
    monkeypatch.setattr(FrozenNewton, "run", lambda self, **kw: made.append(self) or run(self, **kw))
    with dask.config.set(scheduler="synchronous"):
        lazy = fit_dask(li.SoftmaxRegression(l2=1e-3), *data())
        opt = made[-1]
        assert rel(opt.roundoff, risk_terms(X, y, opt.theta, 3, True, 1e-3, roundoff=True)[6]) <= 1e-12
        monkeypatch.setattr(FrozenNewton, "run", lambda self, **kw: run(self, **{**kw, "roundoff": False}))
        old = fit_dask(li.SoftmaxRegression(l2=1e-3), *data())
    assert lazy.n_passes_ < old.n_passes_
    assert np.max(np.abs(lazy.theta_ - li.SoftmaxRegression(l2=1e-3).fit(X, y).theta_)) <= 1e-14


@pytest.mark.parametrize("n", [2000, 20_000])
def test_fit_finds_nonfinite_inputs_in_its_first_pass(monkeypatch, n):
    """X is not read for NaN and inf before the fit: its first pass sums each row's squares
    anyway, which are NaN or inf exactly where a row holds one; the error names the first."""
    import warnings

    import localinf._core.checks as checks
    scans, original = [], checks.first_nonfinite
    monkeypatch.setattr(checks, "first_nonfinite", lambda A: scans.append(A.shape) or original(A))
    X, y = problem(n, 3, 3, seed=14)
    li.SoftmaxRegression(l2=1e-3).fit(X, y)
    assert scans == []  # a finite X is read by the fit's passes only
    for bad in (np.nan, np.inf, -np.inf):
        Xb = X.copy()
        Xb[1234, 2], Xb[1500, 0] = bad, np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no RuntimeWarning on the way
            with pytest.raises(li.InputError, match=r"X contains NaN or inf \(first at row 1234, column 2\)"):
                li.SoftmaxRegression(l2=1e-3).fit(Xb, y)
    assert len(scans) == 3


def test_large_weighted_fit_is_the_fit_of_repeated_rows():
    n = 20_000
    X, y = problem(n, 4, 2, seed=2)
    w = np.random.default_rng(2).integers(0, 3, n)
    weighted = li.LogisticRegression(l2=1e-4).fit(X, y, sample_weight=w.astype(float))
    repeated = li.LogisticRegression(l2=1e-4).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    assert np.max(np.abs(weighted.theta_ - repeated.theta_)) <= 1e-12
    assert np.max(np.abs(dense(X, y, weighted.theta_, 2, True, 1e-4, w.astype(float))[1])) <= 1e-15


def test_large_softmax_fit_matches_statsmodels():
    import statsmodels.api as sm
    n, K = 30_000, 3
    X, y = problem(n, 3, K, seed=3)
    model = li.SoftmaxRegression().fit(X, y)
    res = sm.MNLogit(y, np.column_stack([X, np.ones(n)])).fit(method="newton", maxiter=100, tol=1e-14, disp=0)
    assert np.max(np.abs(model.theta_ - np.asarray(res.params).T.ravel())) <= 1e-8
    assert np.max(np.abs(dense(X, y, model.theta_, K, True, 0.0)[1])) <= 1e-15


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_large_weighted_softmax_fit_matches_a_dense_newton_method(monkeypatch, fit_intercept):
    n, K, l2 = 24_000, 4, 1e-3
    X, y = problem(n, 3, K, seed=4)
    w = np.random.default_rng(4).uniform(0.0, 2.0, n)
    passes = Passes(monkeypatch, n)
    model = li.SoftmaxRegression(l2=l2, fit_intercept=fit_intercept).fit(X, y, sample_weight=w)
    assert passes.sub >= 1 and passes.full <= 2
    assert np.max(np.abs(model.theta_ - dense_minimiser(X, y, K, fit_intercept, l2, w))) <= 1e-10
    assert np.max(np.abs(dense(X, y, model.theta_, K, fit_intercept, l2, w)[1])) <= 1e-15


def test_large_fits_keep_their_errors():
    n = 20_000
    X, y = problem(n, 3, 2, seed=5, signal=4.0)
    with pytest.raises(li.SingularHessianError, match="linearly dependent"):
        li.LogisticRegression().fit(np.column_stack([X, 2.0 * X[:, 0]]), y)
    with pytest.raises(li.PerfectSeparationError, match="l2 > 0"):
        li.LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    with pytest.raises(li.NotConvergedError, match="max_iter"):
        li.LogisticRegression(max_iter=1, l2=0.01).fit(X, y)


@pytest.mark.parametrize("l2", [1e-4, 1e-8])
def test_large_fit_on_a_flat_risk_ends_where_the_exact_newton_step_is_negligible(l2):
    # separable classes: the minimiser lies far out, where the gradient is tiny long before
    X = np.random.default_rng(11).normal(size=(20_000, 2))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    model = li.LogisticRegression(l2=l2).fit(X, y)
    _, g, H, Xt = dense(X, y, model.theta_, 2, True, l2)
    eta, moved = Xt @ model.theta_, Xt @ (model.theta_ - np.linalg.solve(H, g))
    log_p = lambda e: np.column_stack([-np.logaddexp(0.0, e), -np.logaddexp(0.0, -e)])
    assert np.max(np.abs(log_p(moved) - log_p(eta))) <= model.step_tol
    assert np.max(np.abs(g)) <= 1e-15


def test_refit_from_a_start_reaches_the_same_minimiser():
    n = 20_000
    X, y = problem(n, 4, 3, seed=6)
    model = li.SoftmaxRegression(l2=1e-3).fit(X, y)
    again = li.SoftmaxRegression(l2=1e-3)._fit_arrays(X, y, 3, None, theta0=model.theta_ + 0.3)
    assert np.max(np.abs(again.theta_ - model.theta_)) <= 1e-12


# -- the method itself -----------------------------------------------------------

def logistic_method(X, y, l2, approximate=None, **kw):
    evaluate = lambda th, hess: risk_terms(X, y, th, 2, True, l2, hessian=bool(hess),
                                           single=hess == "single")[:4]

    def factor(H, exact):
        try:
            cho = sla.cho_factor(H, lower=True)
        except np.linalg.LinAlgError:
            if exact:
                raise
            return None
        return lambda g: sla.cho_solve(cho, g)
    return FrozenNewton(evaluate, factor, np.zeros(X.shape[1] + 1), approximate=approximate, **kw)


@pytest.mark.parametrize("approximation", ["exact", "too large", "too small", "singular"])
def test_frozen_newton_reaches_the_minimiser_whatever_the_approximation(approximation):
    X, y = problem(3000, 4, 2, seed=7)
    exact = lambda th: risk_terms(X, y, th, 2, True, 1e-3, hessian=True)[2]
    scale = {"exact": 1.0, "too large": 30.0, "too small": 0.05, "singular": 0.0}[approximation]
    opt = logistic_method(X, y, 1e-3, approximate=lambda th: scale * exact(th))
    opt.run(gtol=1e-14, max_iter=60, min_step=1e-12)
    assert opt.gmax() <= 1e-14
    assert np.max(np.abs(opt.theta - dense_minimiser(X, y, 2, True, 1e-3))) <= 1e-10
    if approximation != "exact":  # a poor approximation gives way to exact Hessians
        assert opt.formed["exact"] >= 1


def test_single_precision_hessians_carry_the_fit_to_the_exact_minimiser():
    X, y = problem(3000, 4, 2, seed=9)
    theta = np.r_[0.3 * np.ones(4), -0.2]
    H = dense(X, y, theta, 2, True, 1e-3)[2]
    assert rel(risk_terms(X, y, theta, 2, True, 1e-3, hessian=True, single=True)[2], H) <= 1e-6
    coarse = lambda th: risk_terms(X[::8], y[::8], th, 2, True, 1e-3, hessian=True, single=True)[2]
    opt = logistic_method(X, y, 1e-3, approximate=coarse, gtol_exact=1e-4, single=True)
    opt.run(gtol=1e-15, max_iter=60, min_step=1e-12)
    assert opt.formed["coarse"] >= 1 and opt.formed["single"] >= 1 and opt.formed["exact"] == 0
    assert np.max(np.abs(opt.theta - dense_minimiser(X, y, 2, True, 1e-3))) <= 1e-10
    assert np.max(np.abs(dense(X, y, opt.theta, 2, True, 1e-3)[1])) <= 1e-15


def test_kept_hessian_is_replaced_where_it_cannot_tell_the_step_size():
    X, y = problem(3000, 4, 2, seed=8)
    exact = lambda th: risk_terms(X, y, th, 2, True, 1e-3, hessian=True)[2]
    opt = logistic_method(X, y, 1e-3, approximate=lambda th: 1.5 * exact(th))
    assert not opt.exact
    size = lambda th, step: float(np.linalg.norm(step))
    never = lambda step: np.inf
    kept = size(opt.theta, opt.step)
    true = size(opt.theta, np.linalg.solve(exact(opt.theta), opt.state[1]))
    # far below the tolerance: accepted as measured with the kept matrix
    assert opt.step_size(size, never, kept / (0.5 * STALE_MARGIN)) == kept and not opt.exact
    # within a factor STALE_MARGIN of it: measured again with the exact H at theta
    assert opt.step_size(size, never, 1.01 * kept) == pytest.approx(true, rel=1e-12) and opt.exact


def test_small_problems_take_plain_newton_steps():
    """A small problem: a new Hessian at every step, so a small max_iter still suffices
    (a kept Hessian converges linearly and needed about three times the steps here)."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((100, 2))
    eta = X @ rng.normal(size=(2, 2))
    P = np.exp(eta - eta.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    y = (P.cumsum(1) < rng.random((100, 1))).sum(1)
    model = li.LogisticRegression(l2=1e-3, max_iter=8).fit(X, y)
    assert model.n_iter_ <= 8
    with pytest.raises(li.exceptions.NotConvergedError, match=r"Raise max_iter \(it counts"):
        li.LogisticRegression(l2=1e-3, max_iter=2).fit(X, y)
