"""Frequency weights: a row of integer weight w stands for w identical observations.

Every quantity is checked against the data with each row repeated w times
(an independent computation: no weights anywhere), on both backends, with and
without a penalty, for binary and softmax models.
"""

import numpy as np
import pytest

import localinf as li
from localinf.exceptions import InputError


def _data(K, n=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + rng.logistic(size=n) > 0).astype(int) if K == 2 else rng.integers(0, K, n)
    w = rng.integers(1, 4, size=n)
    w[::7] = 0  # rows without observations: absent from the duplicated data
    Xv, yv = rng.normal(size=(20, 3)), rng.integers(0, K, 20)
    return X, y, w, Xv, yv


MEASURES = {
    "fi_util": lambda o, Xv, yv: o.fi_util(Xv, yv),
    "iv": lambda o, Xv, yv: o.influence_value(Xv, yv),
    "fi": lambda o, Xv, yv: o.fi(Xv[:3], yv[:3]),
    "influence": lambda o, Xv, yv: o.influence(Xv[:3], yv[:3]),
    "self_influence": lambda o, Xv, yv: o.self_influence(),
    "leverage": lambda o, Xv, yv: o.leverage(),
    "cook_local": lambda o, Xv, yv: o.cook_local_influence(),
    "cook_local_max": lambda o, Xv, yv: o.cook_local_influence(kind="local"),
    "cook_response": lambda o, Xv, yv: o.cook_local_influence(perturbation="response")
    if o.K_ == 2 else o.leverage(),
    "cook_covariate": lambda o, Xv, yv: o.cook_local_influence(perturbation="covariate", covariate=1),
    "metric_rank": lambda o, Xv, yv: o.metric_rank(),
    "D_i": lambda o, Xv, yv: np.stack([o.dtheta_domega(i) for i in range(o.n_)]),
    "cooks_d": lambda o, Xv, yv: o.cooks_distance(),
    "student_resid": lambda o, Xv, yv: o.resid_studentized(),
    "standard_resid": lambda o, Xv, yv: o.resid_standardized(),
    "dfbeta": lambda o, Xv, yv: o.dfbeta(),
    "dffits": lambda o, Xv, yv: o.dffits(),
}


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("l2", [0.0, 0.02])
@pytest.mark.parametrize("backend", ["reference", "autograd"])
def test_integer_weights_equal_repeated_rows(K, l2, backend):
    X, y, w, Xv, yv = _data(K)
    Model = li.LogisticRegression if K == 2 else li.SoftmaxRegression
    weighted = Model(l2=l2).fit(X, y, sample_weight=w)
    repeated = Model(l2=l2).fit(np.repeat(X, w, 0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.theta_, repeated.theta_, rtol=0, atol=1e-12)
    a = li.LocalInfluence(weighted, X, y, sample_weight=w, backend=backend)
    b = li.LocalInfluence(repeated, np.repeat(X, w, 0), np.repeat(y, w), backend=backend)
    first = np.r_[0, np.cumsum(w)[:-1]]  # the first copy of each row (rows of weight > 0)
    kept = w > 0
    assert a.n_obs_ == w.sum() == b.n_
    for name, f in MEASURES.items():
        A, B = np.asarray(f(a, Xv, yv)), np.asarray(f(b, Xv, yv))
        # every copy of a row has the same value: compare the first
        A, B = A[kept], B[first[kept]]
        scale = max(np.abs(B).max(), 1e-300)
        assert np.abs(A - B).max() <= 1e-10 * scale, name
    np.testing.assert_allclose(a.fi_active(Xv), b.fi_active(Xv), rtol=1e-10)
    for inv in ("data", "model"):
        ai = li.LocalInfluence(weighted, X, y, sample_weight=w, backend=backend, invariant=inv)
        bi = li.LocalInfluence(repeated, np.repeat(X, w, 0), np.repeat(y, w), backend=backend,
                               invariant=inv)
        np.testing.assert_allclose(ai.fi_util(Xv, yv)[kept], bi.fi_util(Xv, yv)[first[kept]],
                                   rtol=1e-10)


def test_exact_deletion_of_one_observation_equals_deleting_one_copy():
    X, y, w, Xv, yv = _data(3, n=40, seed=3)
    w[w == 0] = 1
    m = li.SoftmaxRegression(l2=0.01).fit(X, y, sample_weight=w)
    a = li.LocalInfluence(m, X, y, sample_weight=w)
    Xr, yr = np.repeat(X, w, 0), np.repeat(y, w)
    b = li.LocalInfluence(li.SoftmaxRegression(l2=0.01).fit(Xr, yr), Xr, yr)
    first = np.r_[0, np.cumsum(w)[:-1]]
    rows = [0, 5, 11]
    np.testing.assert_allclose(a.loo_params(rows), b.loo_params(first[rows]), atol=1e-9)
    frame = a.outlier_test()  # Bonferroni over the N observations
    np.testing.assert_allclose(frame["bonf(p)"], np.minimum(1, w.sum() * frame["unadj_p"]))


def test_weights_that_are_all_one_change_nothing():
    X, y, _, Xv, yv = _data(2)
    m = li.LogisticRegression().fit(X, y)
    assert np.array_equal(li.LogisticRegression().fit(X, y, sample_weight=np.ones(len(y))).theta_,
                          m.theta_)
    a = li.LocalInfluence(m, X, y, sample_weight=np.ones(len(y)))
    assert a.sample_weight_ is None and a.n_obs_ == len(y)
    assert np.array_equal(a.fi_util(Xv, yv), li.LocalInfluence(m, X, y).fi_util(Xv, yv))


@pytest.mark.parametrize("w, match", [
    (lambda n: np.ones(n - 1), "shape"),
    (lambda n: np.r_[-1.0, np.ones(n - 1)], "negative"),
    (lambda n: np.r_[np.nan, np.ones(n - 1)], "NaN"),
    (lambda n: np.zeros(n), "sums to 0"),
    (lambda n: np.array(["a"] * n), "numbers"),
])
def test_bad_weights_are_refused_naming_the_argument(w, match):
    X, y, *_ = _data(2)
    with pytest.raises(InputError, match=f"sample_weight.*{match}|{match}"):
        li.LogisticRegression().fit(X, y, sample_weight=w(len(y)))
    m = li.LogisticRegression().fit(X, y)
    with pytest.raises(InputError, match="sample_weight"):
        li.LocalInfluence(m, X, y, sample_weight=w(len(y)))


def test_a_class_without_weight_is_refused():
    X, y, *_ = _data(3)
    w = (y != 2).astype(float)
    with pytest.raises(InputError, match="sample_weight.*zero total weight"):
        li.SoftmaxRegression().fit(X, y, sample_weight=w)


def test_forgetting_the_weights_is_caught_by_the_minimiser_check():
    X, y, w, *_ = _data(2)
    m = li.LogisticRegression().fit(X, y, sample_weight=w)
    with pytest.raises(InputError, match="sample_weight"):
        li.LocalInfluence(m, X, y)


def test_what_does_not_take_weights_says_so():
    X, y, w, Xv, _ = _data(2)
    m = li.LogisticRegression().fit(X, y, sample_weight=w)
    with pytest.raises(InputError, match="kfac.*sample weights"):
        li.LocalInfluence(m, X, y, sample_weight=w, backend="autograd", curvature="kfac")
    wf = w + 0.5
    mf = li.LogisticRegression().fit(X, y, sample_weight=wf)
    inf = li.LocalInfluence(mf, X, y, sample_weight=wf)
    with pytest.raises(InputError, match="sample_weight.*integer"):
        inf.fi_active(Xv)
    with pytest.raises(InputError, match="sample_weight.*weight < 1"):
        li.LocalInfluence(m, X, y, sample_weight=w).loo_params([0])  # row 0 has weight 0
    ready = li.LocalInfluence(m, X, y, sample_weight=w).backend_
    with pytest.raises(InputError, match="sample_weight"):
        li.LocalInfluence(m, X, y, backend=ready)


def test_fractional_weights_scale_like_their_integer_multiples():
    # w and 2w fit the same model; per-observation values then differ only through N
    X, y, w, Xv, yv = _data(2)
    m1 = li.LogisticRegression().fit(X, y, sample_weight=w / 2.0)
    m2 = li.LogisticRegression().fit(X, y, sample_weight=w)
    np.testing.assert_allclose(m1.theta_, m2.theta_, atol=1e-12)
    a = li.LocalInfluence(m1, X, y, sample_weight=w / 2.0)
    b = li.LocalInfluence(m2, X, y, sample_weight=w)
    np.testing.assert_allclose(a.influence_value(Xv, yv), b.influence_value(Xv, yv), rtol=1e-10)
    np.testing.assert_allclose(a.leverage(), 2.0 * b.leverage(), rtol=1e-10)  # h = (1/N) ...


def test_too_few_observations_for_a_deletion_is_said_plainly():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 2))
    y = (X[:, 0] + rng.logistic(size=30) > 0).astype(int)
    w = np.full(30, 0.05)  # N = 1.5: deleting one observation leaves less than nothing
    inf = li.LocalInfluence(li.LogisticRegression().fit(X, y, sample_weight=w), X, y, sample_weight=w)
    with pytest.raises(li.NumericalError, match=r"row 0: its leverage .* \(N = 1.5\)"):
        inf.cooks_distance()
