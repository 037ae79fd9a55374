"""Bad input raises a clear error naming the argument; no silent NaN."""

import numpy as np
import pytest
from hypothesis import assume, given

import localinf as li
from helpers import make_problem, problems


@pytest.fixture(scope="module")
def fitted():
    X, y = make_problem(0, 80, 3, 2)
    model = li.LogisticRegression(l2=0.01).fit(X, y)
    return model, X, y, li.LocalInfluence(model, X, y)


@pytest.mark.parametrize("bad, match", [
    (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 4, np.nan, X), y), "X contains NaN"),
    (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 4, np.inf, X), y), "X contains NaN or inf"),
    (lambda X, y: (X[:, 0], y), "X must be 2-D"),
    (lambda X, y: (X, y[:-1]), "y has 79 entries"),
    (lambda X, y: (X, np.zeros_like(y)), "fewer than 2 classes"),
    (lambda X, y: (X, y + 0.5), "non-integer"),
    (lambda X, y: (X[:0], y[:0]), "X is empty"),
])
def test_fit_rejects_bad_input(bad, match):
    X, y = make_problem(0, 80, 3, 2)
    Xb, yb = bad(X, y)
    with pytest.raises(li.InputError, match=match):
        li.LogisticRegression().fit(Xb, yb)


def test_labels_are_the_classes_present():
    # labels need not be 0..K-1: the classes are those in y (sorted), class 0 the first
    X, y = make_problem(0, 80, 3, 3)
    coded = li.SoftmaxRegression().fit(X, y)
    for relabel in (7 * y + 3, y - 1, np.array(["a", "b", "c"])[y]):  # order kept
        m = li.SoftmaxRegression().fit(X, relabel)
        assert list(m.classes_) == sorted(set(relabel.tolist()))
        np.testing.assert_array_equal(m.theta_, coded.theta_)
        np.testing.assert_array_equal(m.predict(X), m.classes_[coded.predict(X)])
    with pytest.raises(li.InputError, match="LogisticRegression needs exactly two"):
        li.LogisticRegression().fit(X, y)


@pytest.mark.parametrize("K", [2, 3])
def test_complete_separation_without_penalty(K):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(K), 20)
    X = rng.normal(size=(20 * K, 2)) + 6 * y[:, None]
    cls = li.LogisticRegression if K == 2 else li.SoftmaxRegression
    with pytest.raises(li.PerfectSeparationError, match="separable"):
        cls().fit(X, y)
    assert cls(l2=0.1).fit(X, y).converged_  # a penalty makes the problem well posed


def test_quasi_complete_separation_without_penalty():
    """Both classes on the hyperplane x0 = 0, only class 1 beyond it, only class 0 below."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 2))
    y = np.r_[np.zeros(20), np.ones(20), rng.integers(0, 2, 20)].astype(int)
    y[40:42] = [0, 1]
    X[:20, 0] = -np.abs(X[:20, 0]) - 0.1
    X[20:40, 0] = np.abs(X[20:40, 0]) + 0.1
    X[40:, 0] = 0.0
    with pytest.raises(li.PerfectSeparationError):
        li.LogisticRegression().fit(X, y)


def test_collinear_columns_give_singular_hessian():
    X, y = make_problem(2, 80, 2, 2)
    X = np.column_stack([X, X[:, 0] * 2.0])
    with pytest.raises(li.SingularHessianError, match="linearly dependent"):
        li.LogisticRegression().fit(X, y)


def test_non_convergence_is_an_error():
    X, y = make_problem(3, 80, 2, 2, signal=4)
    with pytest.raises(li.NotConvergedError, match="max_iter"):
        li.LogisticRegression(max_iter=1, l2=0.01).fit(X, y)


def test_unfitted_model(fitted):
    _, X, y, _ = fitted
    with pytest.raises(li.NotFittedError, match="fit"):
        li.LogisticRegression().predict(X)
    with pytest.raises(li.InputError, match="fitted"):
        li.LocalInfluence(li.LogisticRegression(), X, y)


def test_influence_needs_the_training_data(fitted):
    model, X, y, _ = fitted
    with pytest.raises(li.InputError, match="do not minimise"):
        li.LocalInfluence(model, X[:40], y[:40])


@pytest.mark.parametrize("call, match", [
    (lambda inf, X, y: inf.fi_util(X[:0], y[:0]), "X_val is empty"),
    (lambda inf, X, y: inf.fi_util(X[:, :2], y), "X_val has 2 columns"),
    (lambda inf, X, y: inf.fi_util(X, y[:5]), "y_val has 5 entries"),
    (lambda inf, X, y: inf.fi(X[:3], [0, 1, 2]), "y_query has labels 2 outside"),
    (lambda inf, X, y: inf.fi_active(X[:3], agg="max"), "agg must be one of"),
    (lambda inf, X, y: inf.fi_active(X[:3], agg="quantile"), "q must be"),
    (lambda inf, X, y: inf.influence_value(np.full((2, 3), np.nan), [0, 1]), "X_val contains NaN"),
    (lambda inf, X, y: inf.cook_local_influence("covariate"), "covariate must be"),
    (lambda inf, X, y: inf.cook_local_influence("bogus"), "perturbation must be"),
    (lambda inf, X, y: inf.dtheta_domega(10_000), "out of range"),
])
def test_measures_reject_bad_input(fitted, call, match):
    _, X, y, inf = fitted
    with pytest.raises(li.InputError, match=match):
        call(inf, X, y)


def test_bad_options(fitted):
    model, X, y, _ = fitted
    with pytest.raises(li.InputError, match="rtol"):
        li.LocalInfluence(model, X, y, rtol=-1)
    with pytest.raises(li.InputError, match="l2"):
        li.LogisticRegression(l2=float("nan")).fit(X, y)
    with pytest.raises(li.InputError, match="backend"):
        li.LocalInfluence(model, X, y, backend="torch")


@given(problems(max_n=60, allow_zero_l2=False))
def test_outputs_are_finite(problem):
    X, y, K, l2, fit_intercept = problem
    cls = li.LogisticRegression if K == 2 else li.SoftmaxRegression
    model = cls(l2=l2, fit_intercept=fit_intercept).fit(X, y)
    inf = li.LocalInfluence(model, X, y)
    outs = [inf.fi_util(X, y), inf.fi(X[:3], y[:3]), inf.fi_active(X[:5]),
            inf.influence_value(X, y), inf.self_influence(), inf.influence(X[:2], y[:2]),
            inf.cook_local_influence(), inf.cook_local_influence(kind="local")]
    for out in outs:
        assert np.isfinite(out).all()
    assert (outs[0] >= 0).all() and (outs[1] >= 0).all()


def test_extreme_but_valid_data_stay_finite():
    """Probabilities at 0/1 to machine precision: G_i = 0 there and FI is 0, not NaN."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 2)) * 40
    y = (X[:, 0] > 0).astype(int)
    model = li.LogisticRegression(l2=1e-4).fit(X, y)
    inf = li.LocalInfluence(model, X, y)
    f = inf.fi_util(X, y)
    assert np.isfinite(f).all() and (f >= 0).all()


@given(problems(max_n=80))
def test_separation_test_agrees_with_the_fit(problem):
    """The LP says 'separable' exactly when the unpenalised fit has no finite minimiser."""
    from localinf.models.multinomial import design
    from localinf.models.separation import is_separable
    X, y, K, _, fit_intercept = problem
    cls = li.LogisticRegression if K == 2 else li.SoftmaxRegression
    sep = is_separable(design(X, fit_intercept), y, K)
    try:
        cls(fit_intercept=fit_intercept).fit(X, y)
        fitted = True
    except li.PerfectSeparationError:
        fitted = False
    except li.SingularHessianError:
        assume(False)
    assert fitted != sep


def test_inverse_hessian_refuses_singular_matrices():
    with pytest.raises(li.SingularHessianError, match="singular"):
        li.InverseHessian(np.array([[1.0, 1.0], [1.0, 1.0]]))
    Hinv = li.InverseHessian(np.array([[2.0, 0.5], [0.5, 1.0]]))
    assert np.allclose(Hinv.matvec([1.0, 2.0]), np.linalg.solve([[2.0, 0.5], [0.5, 1.0]], [1.0, 2.0]))


def test_inverse_hessian_for_large_p_uses_the_factor_condition_estimate(monkeypatch):
    """Above _EXACT_EIG_MAX_P the singularity test is LAPACK's 1-norm estimate from the
    Cholesky factor. kappa_1 lies within a factor p of kappa_2, and the estimate is a lower
    bound on kappa_1 that is rarely off by more than a factor 10 (Higham, Accuracy and
    Stability, Sec. 15.3), so it must land in [kappa_2 / (10 p), p kappa_2]."""
    monkeypatch.setattr(li.InverseHessian, "_EXACT_EIG_MAX_P", 0)
    rng = np.random.default_rng(0)
    p = 30
    Q = np.linalg.qr(rng.normal(size=(p, p)))[0]
    lam = np.logspace(-4, 2, p)
    H = (Q * lam) @ Q.T
    Hinv = li.InverseHessian(H)
    assert Hinv._eigenvalues is None  # no eigen-decomposition was needed
    kappa = lam[-1] / lam[0]
    assert kappa / (10 * p) <= Hinv.condition_number <= p * kappa
    b = rng.normal(size=p)
    assert np.allclose(H @ Hinv.matvec(b), b, rtol=0, atol=1e-8 * np.linalg.norm(b))
    assert np.allclose(Hinv.eigenvalues, lam)
    with pytest.raises(li.SingularHessianError, match="condition number|Cholesky"):
        li.InverseHessian((Q * np.r_[1e-15, lam[1:]]) @ Q.T)
    with pytest.raises(li.SingularHessianError, match="Cholesky"):
        li.InverseHessian((Q * np.r_[-1.0, lam[1:]]) @ Q.T)
