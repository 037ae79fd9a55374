"""Influence diagnostics from models fitted elsewhere: statsmodels and scikit-learn.

localinf's measures are derivatives at the exact minimiser of its own risk
``R = mean NLL + l2 ||coef||^2`` (intercept unpenalised, class 0 the reference
class). A model fitted elsewhere is therefore refitted here with the same
penalty, and the two fits are compared: if they disagree beyond the other
library's own stopping tolerance, the model is refused rather than given
influence values at a point that is not its optimum.

* statsmodels ``Logit``, ``MNLogit`` and binomial ``GLM`` results (formula API
  included): unpenalised, l2 = 0. The design (with column names) and row
  labels are carried over; a constant column becomes the intercept. With a
  formula, a raw validation or query frame (the data's own columns) goes
  through the model's own design (its dummy coding and transforms), so a
  frame holding one level of a factor keeps that level's meaning.
* scikit-learn ``LogisticRegression``: its objective ``C sum_i loss + ||w||^2 / 2``
  divided by ``C n`` is ours with ``l2 = 1 / (2 C n)``. Binary models with the
  L2 penalty, or any model without a penalty. A penalised multinomial model is
  refused: scikit-learn penalises all K coefficient vectors (a symmetric
  parameterisation), which is a different model from ours.
"""

import numpy as np

from ._core.checks import check_matrix, check_nonneg_float
from .exceptions import InputError
from .measures.local_influence import LocalInfluence
from .models.glm import LogisticRegression, SoftmaxRegression


def _compare(ours, theirs, rtol, what):
    gap = float(np.max(np.abs(ours - theirs)) / max(1.0, np.max(np.abs(theirs))))
    if gap > rtol:
        raise InputError(f"cannot reproduce the {what} fit: parameters differ by {gap:.1e} (relative) "
                         f"after refitting with the same penalty; was it fitted to convergence, "
                         "on these data, without other options (weights, offsets, constraints)?")
    return gap


def from_statsmodels(result, rtol=1e-5, **influence_kw):
    """LocalInfluence for a fitted statsmodels Logit, MNLogit or binomial GLM result.

    Parameters
    ----------
    result : statsmodels results object
    rtol : float
        Largest relative parameter difference accepted between statsmodels' fit
        and ours (its Newton fits stop at ~1e-8).
    **influence_kw
        Passed to :class:`LocalInfluence`.

    Returns
    -------
    LocalInfluence
        With ``X_`` (n, d) the design without the constant and ``index_`` the
        data's row labels.
    """
    import pandas as pd
    rtol = check_nonneg_float(rtol, "rtol")
    model = getattr(result, "model", None)
    kind = type(model).__name__
    if kind == "GLM":
        fam = type(model.family).__name__
        if fam != "Binomial":
            raise InputError(f"only binomial GLMs are supported; got family {fam}")
        weighted = [w for w in ("freq_weights", "var_weights", "n_trials")
                    if getattr(model, w, None) is not None and np.any(np.asarray(getattr(model, w)) != 1)]
        if weighted or getattr(model, "offset", None) is not None:
            raise InputError(
                f"GLMs with weights, binomial counts or offsets are not supported "
                f"({', '.join(weighted) or 'offset'}): influence here is per 0/1 observation; "
                "give one row per trial with a 0/1 response")
    elif kind not in ("Logit", "MNLogit"):
        raise InputError(f"from_statsmodels supports Logit, MNLogit and binomial GLM results; got {kind}")
    if hasattr(result, "regularized") or type(result).__name__.startswith("L1"):
        raise InputError("regularised statsmodels fits are not supported (localinf uses an L2 penalty)")
    exog = np.asarray(model.exog, dtype=float)
    endog = np.asarray(model.endog)
    names = list(getattr(model, "exog_names", None) or [f"x{j}" for j in range(exog.shape[1])])
    const = [j for j in range(exog.shape[1]) if np.all(exog[:, j] == 1.0)]
    if len(const) > 1:
        raise InputError("the design has more than one constant column")
    keep = [j for j in range(exog.shape[1]) if j not in const]
    labels = getattr(getattr(model, "data", None), "row_labels", None)
    # fitted on the named frame, so the model itself aligns later frames by name
    X = pd.DataFrame(exog[:, keep], columns=[names[j] for j in keep],
                     index=labels if labels is not None else None)
    if kind == "MNLogit":
        y = endog.astype(int) if endog.ndim == 1 else np.argmax(endog, axis=1)
        ours = SoftmaxRegression(fit_intercept=bool(const)).fit(X, y)
        params = np.asarray(result.params).T  # (K-1, columns)
        theirs = np.column_stack([params[:, keep], params[:, const]]).ravel() if const \
            else params[:, keep].ravel()
    else:
        y = endog.astype(int)
        if not np.all(np.isin(y, (0, 1))) or not np.allclose(endog, y):
            raise InputError("the response must be 0/1 (binary counts are not supported)")
        ours = LogisticRegression(fit_intercept=bool(const)).fit(X, y)
        p = np.asarray(result.params)
        theirs = np.r_[p[keep], p[const]] if const else p[keep]
    _compare(ours.theta_, theirs, rtol, f"statsmodels {kind}")
    inf = LocalInfluence(ours, X, y, **influence_kw)
    if getattr(model, "formula", None):
        inf.design_ = _formula_design(model, [names[j] for j in const])
    return inf


def _formula_design(model, constant):
    """``design(frame, name)``: a raw frame through the formula's own coding, constant dropped."""
    spec = getattr(model, "model_spec", None) or getattr(model.data, "model_spec", None)

    def design(frame, name):
        try:
            from statsmodels.formula._manager import FormulaManager  # statsmodels >= 0.15
            M = FormulaManager().get_matrices(spec, frame, pandas=True, prediction=True)
        except ImportError:
            import patsy  # older statsmodels
            M = patsy.build_design_matrices([model.data.design_info], frame, return_type="dataframe")[0]
        except Exception as exc:
            raise InputError(f"{name}: the model's formula cannot be applied to it: "
                             f"{' '.join(str(exc).split())[:300]}") from None
        if len(M) != len(frame):
            raise InputError(f"{name}: the formula dropped {len(frame) - len(M)} of its rows (missing "
                             "values); drop or fill them first, so that rows and labels stay aligned")
        return M.drop(columns=constant)
    return design


def from_sklearn(estimator, X, y, rtol=1e-3, **influence_kw):
    """LocalInfluence for a fitted scikit-learn LogisticRegression on (X, y).

    ``C`` becomes ``l2 = 1 / (2 C n)``. scikit-learn stops at ``tol``
    (default 1e-4) on its own scale, so the parameters are compared with a
    relative tolerance ``rtol`` (default 1e-3); influence values are then
    computed at localinf's exact refit.

    Parameters
    ----------
    estimator : sklearn.linear_model.LogisticRegression, fitted
    X : array_like (n, d)
    y : array_like (n,)
        The data it was fitted on (labels as given to scikit-learn).
    rtol : float, default 1e-3
    **influence_kw
        Passed to :class:`LocalInfluence`.

    Returns
    -------
    LocalInfluence
    """
    rtol = check_nonneg_float(rtol, "rtol")
    if type(estimator).__name__ != "LogisticRegression" or not hasattr(estimator, "coef_"):
        raise InputError("from_sklearn needs a fitted sklearn.linear_model.LogisticRegression")
    X_in = X
    X = check_matrix(X, "X", n_features=getattr(estimator, "n_features_in_", None))
    classes = np.asarray(estimator.classes_)
    y_arr = np.asarray(y)
    if not np.all(np.isin(y_arr, classes)):
        raise InputError("y has labels the estimator was not fitted on")
    yi = np.searchsorted(classes, y_arr)
    n, K = X.shape[0], classes.size
    # scikit-learn >= 1.8 describes the penalty by l1_ratio and C (C = inf: none);
    # older versions by penalty in {"l2", "none", None, ...}.
    penalty = getattr(estimator, "penalty", "l2")
    l1_ratio = getattr(estimator, "l1_ratio", None)
    C = float(estimator.C)
    if penalty in (None, "none") or np.isinf(C):
        l2 = 0.0
    elif penalty in ("l2", "deprecated") and (l1_ratio in (None, 0, 0.0) or penalty == "l2"):
        l2 = 1.0 / (2.0 * C * n)
    else:
        raise InputError(f"only the L2 penalty (or none) is supported; got penalty={penalty!r}, "
                         f"l1_ratio={l1_ratio!r}")
    if K > 2 and l2 > 0:
        raise InputError("a penalised multinomial scikit-learn model penalises all K coefficient "
                         "vectors (symmetric parameterisation), which differs from localinf's "
                         "reference-class model; refit with SoftmaxRegression instead")
    fit_intercept = bool(estimator.fit_intercept)
    if K == 2:
        ours = LogisticRegression(l2=l2, fit_intercept=fit_intercept).fit(X, yi)
        theirs = np.r_[estimator.coef_.ravel(), estimator.intercept_] if fit_intercept \
            else estimator.coef_.ravel()
    else:
        ours = SoftmaxRegression(l2=0.0, fit_intercept=fit_intercept).fit(X, yi)
        W = estimator.coef_ - estimator.coef_[0]  # unpenalised: move to the reference class 0
        b = estimator.intercept_ - estimator.intercept_[0]
        theirs = np.column_stack([W[1:], b[1:]]).ravel() if fit_intercept else W[1:].ravel()
    _compare(ours.theta_, theirs, rtol, "scikit-learn")
    return LocalInfluence(ours, X_in, yi, **influence_kw)
