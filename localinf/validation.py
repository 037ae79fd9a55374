"""Cross-checks of an influence backend: the validation suite's properties.

Each check computes one quantity two independent ways and returns the
measured discrepancy together with a tolerance derived from the numerics (not
tuned to the observed values). They are used by the property tests in
``validation/`` (driven by hypothesis) and by ``python -m localinf.validate``,
which runs them on seeded problems and writes a report.

A backend under test is given as ``make(model, X, y) -> influence`` where the
influence object has :class:`~localinf.LocalInfluence`'s methods
(``fi_util``, ``fi``, ``influence_value``, ``influence``, ``self_influence``,
``dtheta_domega``, ``gradient``, ``metric``, ``mixed_partial``, and the
attributes ``n_``, ``d_``, ``H_inv_``). The default is ``LocalInfluence``.

Conventions shared by every check: ``rel_err(a, b) = max|a - b| / max|b|``;
FI values are compared only on rows whose kept metric eigenvalues sit well
above the rank cut-off (``well_separated_rows``), since 1/lambda amplifies
round-off near it.
"""

from dataclasses import dataclass, field

import numpy as np

from .measures import LocalInfluence
from .models import LogisticRegression, SoftmaxRegression


@dataclass
class Check:
    """One measured comparison.

    Attributes
    ----------
    name : str
        The property checked.
    error : float
        Measured discrepancy (its meaning is in ``detail``).
    tol : float
        Tolerance derived for it; the check passes when ``error <= tol``.
    detail : str
    extra : dict
        Raw data for plots (e.g. predicted and actual changes).
    """

    name: str
    error: float
    tol: float
    detail: str = ""
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def passed(self):
        return bool(np.isfinite(self.error) and self.error <= self.tol)


def rel_err(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.max(np.abs(b)) if b.size else 0.0
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else float(np.max(np.abs(a - b), initial=0.0))


def fit_glm(X, y, l2, fit_intercept=True):
    """LogisticRegression for two classes, SoftmaxRegression otherwise."""
    K = int(np.max(y)) + 1
    cls = LogisticRegression if K == 2 else SoftmaxRegression
    return cls(l2=l2, fit_intercept=fit_intercept).fit(X, y)


def well_separated_rows(inf, gap=1e-6):
    """Rows whose kept metric eigenvalues all exceed ``gap * lambda_max`` (n,) bool."""
    ok = np.empty(inf.n_, dtype=bool)
    for i in range(inf.n_):
        lam = np.linalg.eigvalsh(inf.metric(i))
        kept = lam[lam > inf.rtol * max(lam[-1], 0.0)]
        ok[i] = kept.size == 0 or kept.min() > gap * lam[-1]
    return ok


# -- backend against backend ---------------------------------------------------
def backends_agree(X, y, model, make=None, tol=1e-8):
    """The backend under test against the reference backend, quantity by quantity.

    Both compute the same closed-form quantities; the reference by explicit
    formulas, the other by its own route (autograd by default). Round-off is
    ~eps * cond(H) per solve; with cond(H) < 1e6 (callers check) that is
    < 1e-9, hence ``tol = 1e-8``. FI and classic influence of single query
    points add ``10 eps / min_q (1 - P(y_q|x_q))`` for the cancellation in
    the query's residual (near-separable data put P within 1e-9 of 1).
    """
    make = make or (lambda m, X, y: LocalInfluence(m, X, y, backend="autograd"))
    ref = LocalInfluence(model, X, y)
    other = make(model, X, y)
    Xv, yv = X[::2], y[::2]
    ok = well_separated_rows(ref)
    n = len(y)
    # Per-row ingredients are compared on the worst-fitted row: their size carries the
    # residual 1 - P(y_i|x_i), formed by subtraction in both backends (relative error
    # ~eps / (1 - P)), so a row fitted to within 1e-12 cannot be compared at 1e-8.
    P_all = np.asarray(ref.backend_.proba(X))
    resid = 1.0 - P_all[np.arange(n), y]
    i = int(np.argmax(resid))
    pairs = {
        "H": (other.H_inv_.hessian, ref.H_inv_.hessian),
        "M_i": (other.mixed_partial(i), ref.mixed_partial(i)),
        "D_i": (other.dtheta_domega(i), ref.dtheta_domega(i)),
        "G_i": (other.metric(i), ref.metric(i)),
        "g_i": (other.gradient(i, Xv, yv), ref.gradient(i, Xv, yv)),
        "FI_util": (other.fi_util(Xv, yv)[ok], ref.fi_util(Xv, yv)[ok]),
        "FI": (other.fi(X[:3], y[:3])[ok], ref.fi(X[:3], y[:3])[ok]),
        "IV": (other.influence_value(Xv, yv), ref.influence_value(Xv, yv)),
        "influence": (other.influence(X[:2], y[:2]), ref.influence(X[:2], y[:2])),
        "self_influence": (other.self_influence(), ref.self_influence()),
        "Cook (case-weight)": (other.cook_local_influence(), ref.cook_local_influence()),
        "Cook (covariate 0)": (other.cook_local_influence("covariate", covariate=0),
                               ref.cook_local_influence("covariate", covariate=0)),
    }
    if ok.all():  # FI_active averages FI over every training row
        pairs["FI_active"] = (other.fi_active(X[:4]), ref.fi_active(X[:4]))
    # FI and classic influence are built on single query points' gradients, whose size is
    # 1 - P(y|x) formed by subtraction in both backends: its relative error is ~eps / (1 - P).
    # Queries the model fits almost perfectly therefore widen the bound for those two.
    P = np.asarray(ref.backend_.proba(X[:3]))
    floor = float(np.min(1.0 - P[np.arange(3), y[:3]]))
    cancel = 10 * np.finfo(float).eps / max(floor, np.finfo(float).tiny)
    row_cancel = 10 * np.finfo(float).eps / max(float(resid[i]), np.finfo(float).tiny)
    widened = {"FI": cancel, "influence": cancel,
               "M_i": row_cancel, "D_i": row_cancel, "G_i": row_cancel, "g_i": row_cancel}
    return [Check(f"backends agree: {k}", rel_err(a, b), tol + widened.get(k, 0.0),
                  "max|other - reference| / max|reference|") for k, (a, b) in pairs.items()]


# -- derivatives against refits ---------------------------------------------------
def refit_derivatives(X, y, fit, i, make=None, h_rel=1e-3, tol=1e-5, Xv=None, yv=None,
                      max_levels=5):
    """D_i, g_i and G_i against Richardson-extrapolated central differences of full refits.

    ``fit(X, y) -> model`` refits on perturbed data (warm-started for
    networks). Central quotients ``Q(h)`` are taken at steps ``h_k = h / 2^k``
    (``h = h_rel`` times the column's spread); ``R_k = (4 Q(h_k) - Q(h_{k-1})) / 3``
    removes the O(h^2) term and leaves ``c h_k^4``. Since ``R_{k-1} - R_k``
    is ``15 c h_k^4`` to leading order, ``|R_{k-1} - R_k| / 15`` estimates the
    error of ``R_k``; steps are halved until that estimate is below ``tol / 4``
    for all three quantities (at most ``max_levels`` steps).

    Why not a fixed step: ``c`` grows with the inverse of H's smallest
    eigenvalues (theta moves along soft directions non-linearly), so a step
    that suffices for a well-curved problem leaves 1e-4 of truncation error on
    a network with a soft direction (seen at lambda_min(H) = 9e-6, h_rel =
    1e-3). The refits' own error, amplified by 1/h, stays near
    ``eps * cond(H) / h`` ~ 1e-6 at the smallest step for cond(H) < 1e6, so
    the comparison is held to ``tol = 1e-5`` relative to the largest entry.

    Returns an empty list when the row is too well fitted for any step to
    move theta measurably (|D_i| h below 1e-9 of |theta|), or when the
    extrapolation has not settled at the smallest step (the row cannot be
    resolved by finite differences; the estimate is then above tol / 4).
    """
    make = make or LocalInfluence
    model = fit(X, y)
    inf = make(model, X, y)
    Xv, yv = (X[::2], y[::2]) if Xv is None else (Xv, yv)
    n, d = X.shape
    K = inf.K_
    D, g, G = inf.dtheta_domega(i), inf.gradient(i, Xv, yv).mean(axis=0), inf.metric(i)
    theta = model.theta_
    if 2 * h_rel * X.std(axis=0).min() * np.max(np.abs(D)) <= 1e-9 * max(1.0, np.max(np.abs(theta))):
        return []
    P = model.predict_proba(X[i:i + 1])[0]

    def quotients(h_scale):
        """(D, g, V) central quotients at steps h_scale * spread of each column."""
        D_q, g_q, V_q = np.empty_like(D), np.empty(d), np.empty((K, d))
        for j in range(d):
            h = h_scale * X[:, j].std()
            outs = []
            for s in (1, -1):
                Xp = X.copy()
                Xp[i, j] += s * h
                m = fit(Xp, y)
                logp = np.log(m.predict_proba(Xp[i:i + 1])[0])
                outs.append((m.theta_, m.loss(Xv, yv).mean(), logp))
            D_q[:, j], g_q[j], V_q[:, j] = [(a - b) / (2 * h) for a, b in zip(*outs)]
        return D_q, g_q, V_q

    rel = lambda a, b, ref: float(np.max(np.abs(a - b)) / np.max(np.abs(ref)))
    Q = [quotients(h_rel)]
    R, est = None, np.inf
    for k in range(1, max_levels):
        Q.append(quotients(h_rel / 2 ** k))
        R_new = [(4 * f - c) / 3 for f, c in zip(Q[k], Q[k - 1])]
        R_new[2] = (R_new[2].T * P) @ R_new[2]  # G from the log-probability gradients
        if R is not None:
            est = max(rel(a, b, ref) for a, b, ref in zip(R, R_new, (D, g, G))) / 15
        R = R_new
        if est <= tol / 4:
            break
    else:
        return []
    D_fd, g_fd, G_fd = R
    step = f"h = {h_rel / 2 ** k:.1e} x spread, extrapolation error ~{est:.0e}"
    return [Check("refit: D_i", rel(D, D_fd, D), tol, f"max|D - D_fd| / max|D| ({step})"),
            Check("refit: g_i", rel(g, g_fd, g), tol, f"max|g - g_fd| / max|g| ({step})"),
            Check("refit: G_i", rel(G, G_fd, G), tol, f"max|G - G_fd| / max|G| ({step})")]


def first_order_prediction(X, y, fit, i, Xv, yv, make=None, steps=(4e-2, 2e-2, 1e-2)):
    """The change of the mean validation loss after moving x_i by s u, against retraining.

    The prediction ``s g_i . u`` is first order, so the remainder ``r(s)`` of
    the retrained change is O(s^2): halving s divides it by ~4 (or more, when
    the second-order coefficient happens to be small). The check returns the
    observed order ``log2(r(s) / r(s/2))`` (averaged over the halvings); it
    must be at least 1.5 (error ``max(0, 2 - order)`` against 0.5). A wrong
    g_i leaves an O(s) remainder, order 1. ``u`` is the unit direction of g_i
    (the steepest one), steps are relative to the row's scale.
    """
    make = make or LocalInfluence
    model = fit(X, y)
    inf = make(model, X, y)
    g = inf.gradient(i, Xv, yv).mean(axis=0)
    u = g / np.linalg.norm(g)
    base = model.loss(Xv, yv).mean()
    scale = np.linalg.norm(X.std(axis=0))
    rem, pred, true = [], [], []
    for s in steps:
        Xp = X.copy()
        Xp[i] += s * scale * u
        actual = fit(Xp, y).loss(Xv, yv).mean() - base
        predicted = s * scale * (g @ u)
        pred.append(predicted)
        true.append(actual)
        rem.append(abs(actual - predicted))
    orders = [np.log2(a / b) for a, b in zip(rem[:-1], rem[1:])]
    order = float(np.mean(orders))
    return Check("first-order prediction vs retraining", max(0.0, 2.0 - order), 0.5,
                 f"observed order of the remainder {order:.2f} (2 expected); "
                 f"relative remainder at the smallest step {rem[-1] / abs(true[-1]):.1e}",
                 extra={"steps": list(steps), "predicted": pred, "actual": true})


def leave_one_out(X, y, fit, Xv, yv, make=None, min_corr=0.98):
    """IV_i / n and -I_i / n against the actual change of the losses after deleting z_i.

    Deleting one of n points is a 1/n step: the first-order error is O(1/n^2)
    per point against an O(1/n) effect, so for n >= 100 and a well-conditioned
    H the predictions must correlate above 0.98 with the actual changes and
    agree in sign wherever they are not small (> 10 % of the largest). Reports
    1 - correlation against ``1 - min_corr``.
    """
    make = make or LocalInfluence
    model = fit(X, y)
    inf = make(model, X, y)
    n = len(y)
    iv_pred = inf.influence_value(Xv, yv) / n
    ki_pred = -inf.influence(Xv[:1], yv[:1])[:, 0] / n
    base_val, base_test = model.loss(Xv, yv).mean(), model.loss(Xv[:1], yv[:1])[0]
    iv_true, ki_true = np.empty(n), np.empty(n)
    for j in range(n):
        keep = np.arange(n) != j
        m = fit(X[keep], y[keep])
        iv_true[j] = m.loss(Xv, yv).mean() - base_val
        ki_true[j] = m.loss(Xv[:1], yv[:1])[0] - base_test
    out = []
    for name, pred, true in (("IV", iv_pred, iv_true), ("influence", ki_pred, ki_true)):
        corr = float(np.corrcoef(pred, true)[0, 1])
        big = np.abs(pred) > 0.1 * np.abs(pred).max()
        signs = float(np.mean(np.sign(pred[big]) == np.sign(true[big])))
        err = (1 - corr) if signs == 1.0 else np.inf
        out.append(Check(f"leave-one-out: {name}", err, 1 - min_corr,
                         f"1 - corr(predicted, retrained) with corr {corr:.4f}; "
                         f"sign agreement on large values {signs:.0%}",
                         extra={"predicted": pred, "actual": true}))
    return out


def lds(X, y, fit, Xv, yv, make=None, n_subsets=40, alpha=0.5, seed=0, min_lds=0.7):
    """Linear datamodeling score of IV (and, reported only, of FI_util) against retraining.

    For random subsets S_j holding a fraction alpha of the training rows, the
    model is refitted on S_j and its mean validation loss L_j recorded. IV
    predicts ``L_j - L ~ sum_{i not in S_j} IV_i / n``; the LDS is the Spearman
    correlation between predictions and L_j across subsets, with a 95 %
    bootstrap interval over subsets. FI_util is unsigned, so the sum of FI
    over removed rows predicts only the size of the change; its LDS (against
    |L_j - L|) is reported for comparison, not checked. The IV check requires
    the lower end of the interval to exceed ``min_lds``: removing half the data
    is not a small step, so the first-order prediction is not exact, but for
    a well-conditioned GLM its ranking of subsets should be largely kept.
    """
    from scipy.stats import spearmanr
    make = make or LocalInfluence
    rng = np.random.default_rng(seed)
    model = fit(X, y)
    inf = make(model, X, y)
    n = len(y)
    iv = inf.influence_value(Xv, yv) / n
    fi = inf.fi_util(Xv, yv)
    base = model.loss(Xv, yv).mean()
    pred_iv, pred_fi, actual = [], [], []
    K = int(np.max(y)) + 1
    while len(actual) < n_subsets:
        keep = rng.random(n) < alpha
        if len(np.unique(y[keep])) < K:
            continue
        m = fit(X[keep], y[keep])
        actual.append(m.loss(Xv, yv).mean() - base)
        pred_iv.append(iv[~keep].sum())
        pred_fi.append(fi[~keep].sum())
    actual, pred_iv, pred_fi = map(np.asarray, (actual, pred_iv, pred_fi))
    rho = lambda a, b: spearmanr(a, b).correlation
    boot = [rho(pred_iv[s], actual[s]) for s in rng.integers(0, n_subsets, size=(500, n_subsets))]
    lo, hi = np.nanpercentile(boot, [2.5, 97.5])
    score = rho(pred_iv, actual)
    fi_score = rho(pred_fi, np.abs(actual))
    return Check("LDS of IV", max(0.0, min_lds - lo), 0.0,
                 f"LDS(IV) = {score:.3f} (95 % CI {lo:.3f} .. {hi:.3f}), required lower end > "
                 f"{min_lds}; LDS of summed FI_util against |change| = {fi_score:.3f} (reported)",
                 extra={"lds_iv": score, "ci": (lo, hi), "lds_fi": fi_score,
                        "predicted": pred_iv, "actual": actual})


# -- metamorphic properties --------------------------------------------------------
def metamorphic(X, y, l2, make=None, seed=0, tol=1e-7):
    """Transformations of the data that must transform the scores in a known way.

    * permuting training rows permutes FI_util and IV;
    * translating a feature (the intercept is not penalised) leaves them unchanged;
    * swapping two non-reference classes leaves them unchanged (the penalty is
      symmetric in classes 1..K-1), and with l2 = 0 any relabelling does (the
      maximum likelihood fit does not depend on the parameterisation);
    * duplicating every row keeps theta_hat and H, hence IV (the deletion
      effect IV/n halves), and halves D_i = -(1/n) H^{-1} M_i.
    The fits are to round-off and every formula is a smooth function of the
    data, so the tolerance is round-off amplified by cond(H) < 1e6: ``1e-7``.
    """
    make = make or LocalInfluence
    rng = np.random.default_rng(seed)
    Xv, yv = X[::2], y[::2]
    K = int(np.max(y)) + 1
    base_inf = make(fit_glm(X, y, l2), X, y)
    ok = well_separated_rows(base_inf)
    fu, iv = base_inf.fi_util(Xv, yv), base_inf.influence_value(Xv, yv)
    out = []

    perm = rng.permutation(len(y))
    inf = make(fit_glm(X[perm], y[perm], l2), X[perm], y[perm])
    out.append(Check("metamorphic: permuted rows", max(rel_err(inf.fi_util(Xv, yv)[ok[perm]], fu[perm][ok[perm]]),
                                                       rel_err(inf.influence_value(Xv, yv), iv[perm])), tol))

    shift = np.zeros(X.shape[1])
    shift[0] = 3.0 * X[:, 0].std()
    inf = make(fit_glm(X + shift, y, l2), X + shift, y)
    out.append(Check("metamorphic: translated feature",
                     max(rel_err(inf.fi_util(Xv + shift, yv)[ok], fu[ok]),
                         rel_err(inf.influence_value(Xv + shift, yv), iv)), tol))

    if K >= 3:
        swap = np.arange(K)
        swap[[1, 2]] = [2, 1]
        inf = make(fit_glm(X, swap[y], l2), X, swap[y])
        out.append(Check("metamorphic: swapped non-reference classes",
                         max(rel_err(inf.fi_util(Xv, swap[yv])[ok], fu[ok]),
                             rel_err(inf.influence_value(Xv, swap[yv]), iv)), tol))
    if l2 == 0.0:
        relabel = rng.permutation(K)
        inf = make(fit_glm(X, relabel[y], 0.0), X, relabel[y])
        out.append(Check("metamorphic: relabelled classes (l2 = 0)",
                         max(rel_err(inf.fi_util(Xv, relabel[yv])[ok], fu[ok]),
                             rel_err(inf.influence_value(Xv, relabel[yv]), iv)), tol))

    X2, y2 = np.vstack([X, X]), np.concatenate([y, y])
    inf = make(fit_glm(X2, y2, l2), X2, y2)
    iv2 = inf.influence_value(Xv, yv)
    out.append(Check("metamorphic: duplicated data keeps IV, halves D_i",
                     max(rel_err(iv2[:len(y)], iv), rel_err(iv2[len(y):], iv),
                         rel_err(inf.dtheta_domega(0), base_inf.dtheta_domega(0) / 2)), tol))
    return out


# -- Theorem 1 ----------------------------------------------------------------------
def invariance_iff_range(X, y, l2, J, make=None, tol=1e-6):
    """Theorem 1 in both directions: FI is unchanged by ``omega = J nu`` exactly
    on the pairs whose g lies in range(G).

    For each pair the check compares ``rel_diff <= tol`` with
    ``range_residual <= tol`` and counts disagreements, on rows whose metric
    keeps all d eigenvalues in both coordinates or none of the rank cut-off
    issues arise (well-separated rows). Error: the fraction of pairs where the
    two disagree (must be 0). The tolerance 1e-6 sits far above round-off
    (eps cond(G) cond(J)^2 ~ 1e-10 for the problems generated) and far below
    the O(1) differences seen when the condition fails.
    """
    from .invariance import check_invariance
    make = make or LocalInfluence
    inf = make(fit_glm(X, y, l2), X, y)
    res = check_invariance(inf, J, X[:4], y[:4])
    ok = well_separated_rows(inf, gap=1e-4)
    inv = res.rel_diff[ok] <= tol
    rng_ok = res.range_residual[ok] <= tol
    # pairs in the grey zone (either quantity within a factor 100 of tol) are not decisive
    decisive = ((np.abs(np.log10(res.rel_diff[ok] + 1e-300) - np.log10(tol)) > 2)
                & (np.abs(np.log10(res.range_residual[ok] + 1e-300) - np.log10(tol)) > 2))
    disagree = float(np.mean((inv != rng_ok)[decisive])) if decisive.any() else 0.0
    return Check("Theorem 1: invariant iff g in range(G)", disagree, 0.0,
                 f"fraction of {int(decisive.sum())} decisive pairs where invariance and "
                 f"range membership disagree; invariant pairs {int(np.sum(inv & decisive))}",
                 extra={"rel_diff": res.rel_diff[ok], "range_residual": res.range_residual[ok]})


# -- statsmodels --------------------------------------------------------------------
def statsmodels_agreement(X, y, tol=1e-6):
    """Unpenalised fits against statsmodels' Logit / MNLogit (params and Hessian), and
    the case-weight Cook local influence against GLM leverage x Pearson residual^2.

    Both fits are Newton iterations run to convergence; statsmodels stops at
    its own tolerance (~1e-8 on the gradient), so parameters agree to ~1e-6.
    """
    import statsmodels.api as sm
    K = int(np.max(y)) + 1
    model = fit_glm(X, y, 0.0)
    Xc = sm.add_constant(X, has_constant="add")
    out = []
    if K == 2:
        res = sm.Logit(y, Xc).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
        ours = np.r_[model.theta_[-1], model.theta_[:-1]]  # statsmodels: constant first
        out.append(Check("statsmodels: Logit params", rel_err(ours, res.params), tol))
        glm = sm.GLM(y, Xc, family=sm.families.Binomial()).fit(tol=1e-12)
        infl = glm.get_influence()
        cook = LocalInfluence(model, X, y).cook_local_influence()
        want = infl.hat_matrix_diag * glm.resid_pearson ** 2
        out.append(Check("statsmodels: Cook case-weight = leverage x Pearson^2",
                         rel_err(cook, want), tol))
    else:
        res = sm.MNLogit(y, Xc).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
        theta = model.theta_.reshape(K - 1, -1)  # (coef, intercept) per class
        ours = np.column_stack([theta[:, -1], theta[:, :-1]]).T  # statsmodels: (1 + d, K - 1)
        out.append(Check("statsmodels: MNLogit params", rel_err(ours, np.asarray(res.params)), tol))
    return out


# -- approximations -------------------------------------------------------------------
def kfsvd_convergence(X, y, model, Xv, yv, tol=1e-8, exact_input_layer=False):
    """The rank-k truncation of M_i: its error is non-increasing in k (Eckart-Young, for
    the exact SVD used when the sketch spans R^d) and FI_util is exact at k = d.
    With ``exact_input_layer`` (fit_mlp networks) the same holds for the truncation
    of ``M_i - E_i`` with the input layer's term E_i kept exactly.

    Error reported: the largest increase of ``||M_i - M_i^(k)||_F`` from k to
    k + 1 relative to ``||M_i||_F`` (0 in exact arithmetic), and the relative
    FI_util error at k = d, both against ``tol``.
    """
    d = X.shape[1]
    exact = LocalInfluence(model, X, y)
    fe = exact.fi_util(Xv, yv)
    rows = range(0, len(y), max(1, len(y) // 5))
    errs, fi_errs = [], []
    for k in range(1, d + 1):
        trunc = LocalInfluence(model, X, y, svd_rank=k,
                               svd_options={"oversample": d, "exact_input_layer": exact_input_layer})
        errs.append([np.linalg.norm(exact.mixed_partial(i) - trunc.mixed_partial(i))
                     / np.linalg.norm(exact.mixed_partial(i)) for i in rows])
        fi_errs.append(rel_err(trunc.fi_util(Xv, yv), fe))
    errs = np.array(errs)
    increase = float(np.max(np.diff(errs, axis=0), initial=0.0))
    tag = "KFSVD (input layer exact)" if exact_input_layer else "KFSVD"
    return [Check(f"{tag}: truncation error non-increasing in k", max(increase, 0.0), tol,
                  "largest increase of ||M - M_k|| / ||M|| from k to k + 1",
                  extra={"k": list(range(1, d + 1)), "m_err": errs.mean(axis=1).tolist(),
                         "fi_err": fi_errs}),
            Check(f"{tag}: exact at k = d", fi_errs[-1], tol, "relative FI_util error at k = d")]


def iterative_solvers(X, y, model, cg_tol=1e-13, lissa_depths=(100, 400)):
    """CG and LiSSA against the exact solve; their error must fall as they run longer.

    CG stops at relative residual ``cg_tol``; the solution error is at most
    cond(H) times that. LiSSA's error after J steps is at most
    ``(1 - lambda_min / scale)^J`` (2-norm, relative), computed here from H.
    Both bounds gain a factor sqrt(p) in the max-norm used by rel_err, and a
    floor ``100 eps cond(H)`` for the round-off of any solve with H.
    """
    exact = LocalInfluence(model, X, y, backend="autograd")
    b = np.random.default_rng(0).normal(size=exact.p_)
    x = exact.H_inv_.matvec(b)
    lam = exact.H_inv_.eigenvalues
    cond = lam[-1] / lam[0]
    root_p = np.sqrt(exact.p_)
    floor = 100 * np.finfo(float).eps * cond
    out = []
    errs = []
    for t in (1e-4, 1e-8, cg_tol):
        cg = LocalInfluence(model, X, y, backend="autograd", curvature="cg",
                            curvature_options={"tol": t})
        errs.append(rel_err(cg.H_inv_.matvec(b), x))
        out.append(Check("CG converges to the exact solve", errs[-1], root_p * cond * t + floor,
                         f"error at tol {t:g}; bound sqrt(p) cond(H) tol"))
    for J in lissa_depths:
        lis = LocalInfluence(model, X, y, backend="autograd", curvature="lissa",
                             curvature_options={"depth": J})
        bound = root_p * (1 - lam[0] / lis.H_inv_.scale) ** J + floor
        out.append(Check("LiSSA converges to the exact solve", rel_err(lis.H_inv_.matvec(b), x), bound,
                         f"error after {J} steps; bound sqrt(p) (1 - lambda_min/scale)^J = {bound:.1e}"))
    return out
