"""Independent checks of the classic deletion diagnostics (issue 15).

Every expected value here is computed without localinf's diagnostic code:

* statsmodels' ``GLMInfluence`` (binary, no penalty);
* R's formulas written out in numpy from their definitions (``cooks.distance.glm``,
  ``rstudent.glm``, ``rstandard.glm(type = "pearson")``, ``lm.influence``'s
  ``dfbeta``/``dfbetas``/``dffits`` on a glm, ``car::outlierTest``);
* brute force: per-row Hessian blocks ``kron(S_i, xt xt')``, one Newton step per
  deleted row solved with ``np.linalg.solve``, and exact leave-one-out refits
  (statsmodels ``Logit``/``MNLogit`` by Newton with ``tol=1e-12``, or localinf's
  model *fit* on the reduced data with ``l2' = l2 N / (N - 1)``);
* duplication: integer frequency weights against the data with rows repeated.

Tolerances: 1e-10 relative (to the largest entry of the expected array) for
closed forms, 1e-8 for refits. Column and parameter names follow the spec of
issue 15 (``dfb_<name>``; logistic: features then ``const``; softmax:
``<name>[<class label>]`` class-major).
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

import localinf as li
from helpers import make_problem

CLOSED = 1e-10
REFIT = 1e-8
CLASSIC = ["cooks_d", "standard_resid", "hat_diag", "dffits_internal", "student_resid", "dffits",
           "resid_pearson", "resid_deviance", "cook_local", "self_influence"]


def close(ours, ref, rtol=CLOSED):
    ours, ref = np.asarray(ours, dtype=float), np.asarray(ref, dtype=float)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * np.max(np.abs(ref)))


def design(X):
    """Our parameter order: the features, then the constant."""
    return np.column_stack([np.asarray(X, dtype=float), np.ones(len(X))])


class Brute:
    """The multinomial logit's per-row quantities written out (class 0 the reference,
    theta class-major, each block coef then intercept), l2 on slopes, frequency weights w.
    A = sum_j w_j Z_j S_j Z_j' + 2 N l2 (slopes): the Hessian of the summed objective."""

    def __init__(self, X, y, K, theta, l2=0.0, w=None):
        self.Xt, self.y, self.K = design(X), np.asarray(y), K
        self.n, self.q = self.Xt.shape
        self.p = self.q * (K - 1)
        self.w = np.ones(self.n) if w is None else np.asarray(w, dtype=float)
        self.N = self.w.sum()
        eta = np.column_stack([np.zeros(self.n), self.Xt @ np.asarray(theta).reshape(K - 1, self.q).T])
        P = np.exp(eta - eta.max(axis=1, keepdims=True))
        self.P = P / P.sum(axis=1, keepdims=True)
        self.E = np.eye(K)[self.y]
        mask = np.tile(np.r_[np.ones(self.q - 1), 0.0], K - 1)
        self.A = sum(self.w[i] * self.hess(i) for i in range(self.n)) + 2 * self.N * l2 * np.diag(mask)
        self.Ainv = np.linalg.inv(self.A)

    def Z(self, i):  # (p, K-1): column a is xt_i in block a
        return np.kron(np.eye(self.K - 1), self.Xt[i][:, None])

    def S(self, i):
        pi = self.P[i, 1:]
        return np.diag(pi) - np.outer(pi, pi)

    def hess(self, i):  # row i's own Hessian block of -log P(y_i|x_i)
        return np.kron(self.S(i), np.outer(self.Xt[i], self.Xt[i]))

    def grad(self, i):  # gradient of -log P(y_i|x_i)
        return self.Z(i) @ (self.P[i, 1:] - self.E[i, 1:])

    def sign(self, i):
        return np.sign(self.E[i, 1] - self.P[i, 1]) if self.K == 2 else 1.0

    def per_row(self):
        """leverage, Pearson, deviance, standardized, studentized residuals; one-step dfbeta
        (a Newton step with row i's block removed), Cook's distance dfb' A dfb / p."""
        out = {k: np.empty(self.n) for k in ("h", "rp", "rd", "rs", "rt", "cook", "cl")}
        out["dfb"] = np.empty((self.n, self.p))
        for i in range(self.n):
            Z, S, r = self.Z(i), self.S(i), self.E[i, 1:] - self.P[i, 1:]
            Q = Z.T @ self.Ainv @ Z
            out["h"][i] = np.trace(S @ Q)
            rp2 = np.sum((self.E[i] - self.P[i]) ** 2 / self.P[i])  # all K classes
            assert rp2 == pytest.approx(r @ np.linalg.solve(S, r), rel=1e-9)  # the spec's S^-1 form
            s2 = r @ np.linalg.solve(S - S @ Q @ S, r)
            d2 = -2 * np.log(self.P[i, self.y[i]])
            sg = self.sign(i)
            out["rp"][i], out["rd"][i], out["rs"][i] = sg * np.sqrt(rp2), sg * np.sqrt(d2), sg * np.sqrt(s2)
            out["rt"][i] = sg * np.sqrt(d2 + s2 - rp2)
            step = np.linalg.solve(self.A - self.hess(i), -self.grad(i))  # theta_hat - theta_(i)
            out["dfb"][i] = step
            out["cook"][i] = step @ self.A @ step / self.p
            out["cl"][i] = self.grad(i) @ self.Ainv @ self.grad(i)  # Cook 1986, case weights, total
        return out


def r_glm(X, y, theta):
    """R's glm diagnostics for a binomial fit, from their definitions (dispersion 1)."""
    Xt = design(X)
    mu = 1 / (1 + np.exp(-Xt @ theta))
    v = mu * (1 - mu)
    rp = (y - mu) / np.sqrt(v)
    d = np.sign(y - mu) * np.sqrt(-2 * np.log(np.where(y == 1, mu, 1 - mu)))
    Q, R = np.linalg.qr(np.sqrt(v)[:, None] * Xt)  # glm's weighted QR
    h = np.sum(Q ** 2, axis=1)
    n, p = Xt.shape
    invRQt = np.linalg.solve(R, Q.T).T  # (n, p): row i = (X'WX)^-1 x_i sqrt(w_i)
    dfbeta = invRQt * (d / (1 - h))[:, None]  # lm.influence()$coefficients: deviance residuals
    sigma = np.sqrt((np.sum(d ** 2) - d ** 2 / (1 - h)) / (n - p - 1))  # lm.influence()$sigma
    xxi = np.linalg.inv(R.T @ R)
    rstudent = np.sign(d) * np.sqrt(d ** 2 + h * rp ** 2 / (1 - h))
    unadj = 2 * stats.norm.sf(np.abs(rstudent))
    return dict(h=h, rp=rp, d=d, cooks=(rp / (1 - h)) ** 2 * h / p, rstandard_pearson=rp / np.sqrt(1 - h),
                rstudent=rstudent, dfbeta=dfbeta, sigma=sigma,
                dfbetas=dfbeta / np.outer(sigma, np.sqrt(np.diag(xxi))),
                dffits=d * np.sqrt(h) / (sigma * (1 - h)), unadj=unadj, bonf=np.minimum(1, n * unadj))


def sm_refit(X, y, K):
    """Exact unpenalised refit by statsmodels' Newton method (theta in our order)."""
    Xt = design(X)
    if K == 2:
        return np.asarray(sm.Logit(y, Xt).fit(method="newton", tol=1e-12, maxiter=100, disp=0).params)
    res = sm.MNLogit(y, Xt).fit(method="newton", tol=1e-12, maxiter=100, disp=0)
    return np.asarray(res.params).T.ravel()


def model(K, l2=0.0):
    return li.LogisticRegression(l2=l2) if K == 2 else li.SoftmaxRegression(l2=l2)


def refit(X, y, K, l2, i):
    """theta_(i): row i deleted, the penalty held fixed in the summed objective."""
    keep = np.arange(len(y)) != i
    if l2 == 0:
        return sm_refit(X[keep], y[keep], K)
    n = len(y)
    return model(K, l2 * n / (n - 1)).fit(X[keep], y[keep]).theta_


@pytest.fixture(scope="module")
def binary():
    X, y = make_problem(1, 120, 3, 2, signal=3.0)
    eta = design(X) @ sm_refit(X, y, 2)
    y[np.argsort(-np.abs(eta))[:2]] ^= 1  # two gross outliers: the Bonferroni p of each is below 1
    res = sm.GLM(y, design(X), family=sm.families.Binomial()).fit(tol=1e-14, maxiter=100)
    fit = li.LogisticRegression().fit(X, y)
    return X, y, res, fit, li.LocalInfluence(fit, X, y)


# -- the references agree with each other (they run without the new API) -------------------

def test_references_agree_with_each_other(binary):
    X, y, res, fit, _ = binary
    inf = res.get_influence()
    b, r = Brute(X, y, 2, res.params).per_row(), r_glm(X, y, np.asarray(res.params))
    close(b["h"], inf.hat_matrix_diag)
    close(r["h"], inf.hat_matrix_diag)
    close(b["rp"], res.resid_pearson)
    close(b["rd"], res.resid_deviance)
    close(b["rs"], inf.resid_studentized)
    close(b["rt"], r["rstudent"])
    close(b["dfb"], inf.d_params)
    close(b["cook"], inf.cooks_distance[0])
    close(r["cooks"], inf.cooks_distance[0])
    close(b["h"].sum(), 4.0)  # trace of the hat matrix = p without a penalty
    # the one-step sign: theta_hat - theta_(i), as an exact refit shows
    i = int(np.argmax(b["cook"]))
    assert np.sign(res.params - refit(X, y, 2, 0.0, i)) @ np.sign(b["dfb"][i]) == 4
    # K = 2 through MNLogit is Logit
    keep = np.arange(len(y)) != 5
    close(sm.MNLogit(y[keep], design(X[keep])).fit(method="newton", tol=1e-12, disp=0).params.ravel(),
          sm_refit(X[keep], y[keep], 2), REFIT)


# -- binary, no penalty: statsmodels and R ------------------------------------------------

def test_binary_equals_statsmodels_glm_influence(binary):
    X, y, res, fit, ours = binary
    inf = res.get_influence()
    close(ours.leverage(), inf.hat_matrix_diag)
    close(ours.resid_pearson(), res.resid_pearson)
    close(ours.resid_deviance(), res.resid_deviance)
    close(ours.resid_standardized(), inf.resid_studentized)
    close(ours.dfbeta(method="one-step"), inf.d_params)
    close(ours.dfbetas(), inf.dfbetas)
    close(ours.cooks_distance(), inf.cooks_distance[0])
    close(ours.dffits_internal(), inf.d_fittedvalues_scaled)


def test_binary_equals_r_formulas_where_r_uses_pearson_residuals(binary):
    X, y, res, fit, ours = binary
    r = r_glm(X, y, fit.theta_)
    close(ours.cooks_distance(), r["cooks"])  # cooks.distance.glm
    close(ours.resid_studentized(), r["rstudent"])  # rstudent.glm
    close(ours.resid_standardized(), r["rstandard_pearson"])  # rstandard(type = "pearson")
    close(ours.dffits(), r["rstudent"] * np.sqrt(r["h"] / (1 - r["h"])))
    out = ours.outlier_test()  # car::outlierTest for a binomial glm
    close(out["student_resid"], r["rstudent"])
    close(out["unadj_p"], r["unadj"])
    close(out["bonf(p)"], r["bonf"])
    assert (r["bonf"] == 1).any() and (r["bonf"] < 1).any()  # the cap is exercised


def test_binary_dfbeta_is_statsmodels_not_r(binary):
    """R's dfbeta on a glm uses the deviance residuals: ours = R's times r_P / d."""
    X, y, res, fit, ours = binary
    r = r_glm(X, y, fit.theta_)
    dfb = np.asarray(ours.dfbeta())
    close(dfb, r["dfbeta"] * (r["rp"] / r["d"])[:, None])
    assert np.max(np.abs(dfb - r["dfbeta"])) > 1e-2 * np.max(np.abs(dfb))
    # dfbetas and dffits: R also divides by the leave-one-out scale sigma_(i) of the deviance residuals
    close(ours.dfbetas(), r["dfbetas"] * (r["sigma"] * r["rp"] / r["d"])[:, None])
    h = r["h"]
    assert np.max(np.abs(np.asarray(ours.dffits()) - r["dffits"])) > 1e-2 * np.max(np.abs(r["dffits"]))
    close(ours.dffits_internal(), r["dffits"] * (r["sigma"] * r["rp"] / r["d"]))
    close(ours.dffits_internal(), r["rp"] * np.sqrt(h) / (1 - h))


# -- brute force, both models, with and without a penalty ----------------------------------

CASES = [(2, 0.0), (2, 0.05), (3, 0.0), (3, 0.05), (4, 0.02)]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"K{c[0]}-l2{c[1]}")
def case(request):
    K, l2 = request.param
    X, y = make_problem(10 + K, 150, 3, K)
    fit = model(K, l2).fit(X, y)
    return X, y, K, l2, fit, li.LocalInfluence(fit, X, y), Brute(X, y, K, fit.theta_, l2).per_row()


def test_closed_forms_equal_brute_force(case):
    X, y, K, l2, fit, ours, b = case
    close(ours.leverage(), b["h"])
    close(ours.resid_pearson(), b["rp"])
    close(ours.resid_deviance(), b["rd"])
    close(ours.resid_standardized(), b["rs"])
    close(ours.resid_studentized(), b["rt"])
    close(ours.dfbeta(method="one-step"), b["dfb"])  # Newton step with row i's Hessian block removed
    close(ours.cooks_distance(), b["cook"])  # dfb' A dfb / p, A by brute force
    A = Brute(X, y, K, fit.theta_, l2).A
    close(ours.dfbetas(), b["dfb"] / np.sqrt(np.diag(np.linalg.inv(A))))
    if l2 == 0:
        close(np.sum(ours.leverage()), fit.theta_.size)
    close(ours.cook_local_influence(), b["cl"])
    close(ours.self_influence(), len(y) * b["cl"])  # self-influence = n * Cook's local influence
    if K == 2:  # the docs' relation between the two Cook measures
        close(ours.cooks_distance(), b["cl"] / (fit.theta_.size * (1 - b["h"]) ** 2))
    out = ours.outlier_test()
    unadj = stats.chi2.sf(b["rt"] ** 2, K - 1)
    close(out["student_resid"], b["rt"])
    close(out["unadj_p"], unadj)
    close(out["bonf(p)"], np.minimum(1, len(y) * unadj))


def test_exact_deletion_equals_refits(case):
    X, y, K, l2, fit, ours, b = case
    rows = sorted({0, 7, 42, int(np.argmax(b["cook"])), int(np.argmax(b["h"]))})
    expected = np.array([refit(X, y, K, l2, i) for i in rows])
    close(ours.loo_params(rows), expected, REFIT)
    close(np.asarray(ours.dfbeta(method="exact"))[rows], fit.theta_ - expected, REFIT)


def test_one_step_and_exact_agree_to_second_order():
    """The one-step error is O(h) relative to DFBETA, so it shrinks faster than DFBETA as n grows:
    max|exact - one-step| / max|one-step|, and the median over rows of the relative error per row
    (about 1/n: 7.2e-3 at n = 100, 1.3e-3 at n = 800 on these data)."""
    ratios, medians = [], []
    for n in (100, 800):
        X, y = make_problem(5, n, 3, 2)
        ours = li.LocalInfluence(li.LogisticRegression().fit(X, y), X, y)
        one, exact = np.asarray(ours.dfbeta(method="one-step")), np.asarray(ours.dfbeta(method="exact"))
        ratios.append(np.max(np.abs(exact - one)) / np.max(np.abs(one)))
        medians.append(np.median(np.linalg.norm(exact - one, axis=1) / np.linalg.norm(one, axis=1)))
    assert ratios[1] < ratios[0] / 2, ratios
    assert medians[1] < medians[0] / 3, medians


# -- K = 2: softmax is logistic -------------------------------------------------------------

@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_binary_softmax_equals_logistic_for_every_diagnostic(l2):
    X, y = make_problem(21, 100, 3, 2)
    a = li.LocalInfluence(li.LogisticRegression(l2=l2).fit(X, y), X, y)
    b = li.LocalInfluence(li.SoftmaxRegression(l2=l2).fit(X, y), X, y)
    for name in ("leverage", "resid_pearson", "resid_deviance", "resid_standardized",
                 "resid_studentized", "dfbetas", "cooks_distance", "dffits_internal", "dffits"):
        close(getattr(b, name)(), getattr(a, name)())
    close(b.dfbeta(method="one-step"), a.dfbeta(method="one-step"))
    close(b.dfbeta(method="exact"), a.dfbeta(method="exact"), REFIT)
    close(b.loo_params([3, 9]), a.loo_params([3, 9]), REFIT)
    close(b.outlier_test().to_numpy(float), a.outlier_test().to_numpy(float))
    close(b.summary_frame().to_numpy(float), a.summary_frame().to_numpy(float))


def test_binary_softmax_parameter_names_per_spec():
    """Spec: softmax names are <name>[<class label>] for classes 1..K-1, also for K = 2."""
    X, y = make_problem(21, 100, 3, 2)
    fa = li.LocalInfluence(li.LogisticRegression().fit(X, y), X, y).summary_frame()
    fb = li.LocalInfluence(li.SoftmaxRegression().fit(X, y), X, y).summary_frame()
    assert list(fb.columns) == [c + "[1]" if c.startswith("dfb_") else c for c in fa.columns]


# -- weights: frequency weights against repeated rows ---------------------------------------

PER_ROW = ["leverage", "resid_pearson", "resid_deviance", "resid_standardized", "resid_studentized",
           "dfbetas", "cooks_distance", "dffits_internal", "dffits", "self_influence",
           "cook_local_influence"]


@pytest.mark.parametrize("K,l2", [(2, 0.0), (2, 0.05), (3, 0.0), (3, 0.05)])
def test_integer_weights_equal_repeated_rows(K, l2):
    X, y = make_problem(30 + K, 60, 3, K)
    Xv, yv = make_problem(40 + K, 30, 3, K)
    w = np.random.default_rng(K).integers(1, 4, size=60)
    rep = np.repeat(np.arange(60), w)
    first = np.searchsorted(rep, np.arange(60))  # one copy of each row
    fw = model(K, l2).fit(X, y, sample_weight=w)
    fr = model(K, l2).fit(X[rep], y[rep])
    close(fw.theta_, fr.theta_)
    ow = li.LocalInfluence(fw, X, y, sample_weight=w)
    orr = li.LocalInfluence(fr, X[rep], y[rep])
    for name in PER_ROW:
        rv = np.asarray(getattr(orr, name)())
        close(rv, rv[first[rep]])  # copies agree among themselves
        close(getattr(ow, name)(), rv[first])
    close(ow.dfbeta(method="one-step"), np.asarray(orr.dfbeta(method="one-step"))[first])
    close(ow.outlier_test().to_numpy(float), orr.outlier_test().to_numpy(float)[first])
    close(ow.fi_util(Xv, yv), np.asarray(orr.fi_util(Xv, yv))[first])
    close(ow.influence_value(Xv, yv), np.asarray(orr.influence_value(Xv, yv))[first])
    close(ow.fi(Xv[:5], yv[:5]), np.asarray(orr.fi(Xv[:5], yv[:5]))[first])
    rows = [0, 1, 2, 17]
    close(ow.loo_params(rows), orr.loo_params(first[rows]), REFIT)
    close(np.asarray(ow.dfbeta(method="exact"))[rows], np.asarray(orr.dfbeta(method="exact"))[first[rows]],
          REFIT)
    # and the refit deleting one copy, by hand (penalty held fixed: l2' = l2 N / (N - 1))
    N = len(rep)
    for i in rows:
        drop = np.delete(np.arange(N), first[i])
        th = model(K, l2 * N / (N - 1)).fit(X[rep][drop], y[rep][drop]).theta_ if l2 else \
            sm_refit(X[rep][drop], y[rep][drop], K)
        close(ow.loo_params([i])[0], th, REFIT)


def test_r_hat_values_with_prior_weights_are_w_times_ours():
    """statsmodels' var_weights are R's prior weights: a whole case of weight w_i is deleted."""
    X, y = make_problem(50, 80, 3, 2)
    w = np.random.default_rng(1).integers(1, 4, size=80).astype(float)
    res = sm.GLM(y, design(X), family=sm.families.Binomial(), var_weights=w).fit(tol=1e-14)
    ours = li.LocalInfluence(li.LogisticRegression().fit(X, y, sample_weight=w), X, y, sample_weight=w)
    close(res.get_influence().hat_matrix_diag, w * np.asarray(ours.leverage()))


# -- names and DataFrames -------------------------------------------------------------------

def frame(seed, n, K):
    X, y = make_problem(seed, n, 3, K)
    return pd.DataFrame(X, columns=["age", "dose", "score"], index=[f"r{i:03d}" for i in range(n)]), y


def test_dataframe_index_and_dfb_columns_logistic():
    Xf, y = frame(60, 90, 2)
    ours = li.LocalInfluence(li.LogisticRegression().fit(Xf, y), Xf, y)
    sf = ours.summary_frame()
    assert list(sf.index) == list(Xf.index)
    dfb = ["dfb_age", "dfb_dose", "dfb_score", "dfb_const"]  # spec: features, then const
    assert list(sf.columns) == dfb + CLASSIC
    close(sf[dfb], ours.dfbetas())
    for col, meth in [("cooks_d", "cooks_distance"), ("standard_resid", "resid_standardized"),
                      ("hat_diag", "leverage"), ("dffits_internal", "dffits_internal"),
                      ("student_resid", "resid_studentized"), ("dffits", "dffits"),
                      ("resid_pearson", "resid_pearson"), ("resid_deviance", "resid_deviance"),
                      ("cook_local", "cook_local_influence"), ("self_influence", "self_influence")]:
        close(sf[col], getattr(ours, meth)())
    dfbeta = ours.dfbeta()
    assert list(dfbeta.columns) == ["age", "dose", "score", "const"] and dfbeta.index.equals(Xf.index)
    assert ours.outlier_test().index.equals(Xf.index)
    # with validation data: the same classic columns, then FI's (spec)
    Xv, yv = frame(63, 40, 2)
    sv = ours.summary_frame(Xv, yv)
    assert list(sv.columns[:len(sf.columns)]) == list(sf.columns)
    assert {"fi_util", "iv", "rank", "flagged", "fi_util_coarse", "cutoff_sensitive",
            "range_residual"} <= set(sv.columns)
    close(sv[sf.columns], sf)
    close(sv["fi_util"], ours.fi_util(Xv, yv))
    # statsmodels' summary frame, column by column, same index, on the same frame
    res = sm.GLM(y, sm.add_constant(Xf), family=sm.families.Binomial()).fit(tol=1e-14, maxiter=100)
    theirs = res.get_influence().summary_frame()
    mine = li.from_statsmodels(res).summary_frame()
    assert list(mine.index) == list(theirs.index)
    assert set(theirs.columns) <= set(mine.columns)
    close(mine[theirs.columns], theirs)


def test_dataframe_dfb_columns_softmax():
    Xf, y = frame(61, 120, 3)
    sf = li.LocalInfluence(li.SoftmaxRegression().fit(Xf, y), Xf, y).summary_frame()
    assert list(sf.index) == list(Xf.index)
    # spec: <name>[<class label>] for classes 1..K-1, class-major as theta
    assert [c for c in sf.columns if c.startswith("dfb_")] == [
        f"dfb_{v}[{k}]" for k in (1, 2) for v in ("age", "dose", "score", "const")]


def test_parameter_names_carry_the_class_labels():
    Xf, y = frame(62, 120, 3)
    labels = np.array(["a", "b", "c"])[y]  # spec: classes_ holds the training labels
    sf = li.LocalInfluence(li.SoftmaxRegression().fit(Xf, labels), Xf, labels).summary_frame()
    assert [c for c in sf.columns if c.startswith("dfb_")] == [
        f"dfb_{v}[{k}]" for k in ("b", "c") for v in ("age", "dose", "score", "const")]
