"""Influence diagnostics from models fitted elsewhere: statsmodels and scikit-learn.

localinf's measures are derivatives at the exact minimiser of its own risk
``R = (1/N) sum_i w_i L_i + l2 ||coef||^2`` (intercept unpenalised, frequency
weights w, class ``classes_[0]`` the reference class). A model fitted elsewhere
is therefore refitted here with the same penalty and weights, and checked
against the refit: a model that is not (to its own stopping tolerance) the
minimiser of that risk on the data given is refused rather than given
influence values at a point that is not its optimum.

* statsmodels ``Logit``, ``MNLogit`` and binomial ``GLM`` results with the logit
  link (formula API included; GLM ``freq_weights`` are frequency weights):
  unpenalised, l2 = 0. The design (with column names) and row labels are
  carried over; a constant column becomes the intercept. With a formula, a
  raw validation or query frame (the data's own columns) goes through the
  model's own design (its dummy coding and transforms), so a frame holding
  one level of a factor keeps that level's meaning. Refused, with a message
  saying so: other links (probit, cloglog, ...), other families, ``Probit``
  results, offsets and exposure, ``var_weights`` and binomial counts.
* scikit-learn ``LogisticRegression``, alone or as the last step of a
  ``Pipeline``: its objective ``C sum_i s_i loss_i + ||w||^2 / 2`` divided by
  ``C sum_i s_i`` is ours with ``l2 = 1 / (2 C sum_i s_i)`` and frequency
  weights s (``sample_weight``). Binary models with the L2 penalty, or any
  model without a penalty. A penalised multinomial model is refused:
  scikit-learn penalises all K coefficient vectors (a symmetric
  parameterisation), which is a different model from ours.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.pipeline import Pipeline

from ._core.checks import (align_columns, check_matrix, check_nonneg_float, check_weights,
                           column_names, encode_labels)
from .exceptions import InputError
from .measures.local_influence import LocalInfluence
from .models.glm import LogisticRegression, SoftmaxRegression
from .models.glm_risk import risk_derivatives

SUPPORTED = ("supported: statsmodels Logit and MNLogit results and binomial GLMs with the logit link "
             "(optionally with freq_weights); scikit-learn LogisticRegression (or a Pipeline ending "
             "in one) with an L2 penalty or none (multinomial: unpenalised only)")


def _compare(ours, theirs, rtol, what):
    gap = float(np.max(np.abs(ours - theirs)) / max(1.0, np.max(np.abs(theirs))))
    if gap > rtol:
        raise InputError(f"cannot reproduce the {what} fit: parameters differ by {gap:.1e} (relative) "
                         f"after refitting with the same penalty; was it fitted to convergence, "
                         "on these data, without other options (constraints, start values)?")
    return gap


def _statsmodels_weights(model, kind):
    """The freq_weights of a supported statsmodels model (None without); InputError for what
    localinf does not model (other links and families, offsets, other weights)."""
    if kind == "GLM":
        family = type(model.family).__name__
        if family != "Binomial":
            raise InputError(f"result: a GLM of family {family} is not supported (localinf's models are "
                             f"logistic and softmax regressions); {SUPPORTED}")
        link = type(model.family.link).__name__  # exact: CLogLog derives from Logit
        if link not in ("Logit", "logit"):
            raise InputError(f"result: a binomial GLM with the {link} link is not supported (only the "
                             f"logit link: localinf's binary model is logistic regression); {SUPPORTED}")
    elif kind == "Probit":
        raise InputError(f"result: Probit models are not supported (localinf's binary model is "
                         f"logistic regression: fit sm.Logit instead); {SUPPORTED}")
    elif kind not in ("Logit", "MNLogit"):
        raise InputError(f"result: {kind} results are not supported; {SUPPORTED}")
    shifted = [a for a in ("offset", "exposure") if getattr(model, a, None) is not None]
    if shifted:
        raise InputError(f"result: models with an {' or an '.join(shifted)} are not supported "
                         f"(localinf's linear predictor has no fixed term); {SUPPORTED}")
    other = [a for a in ("var_weights", "n_trials")
             if getattr(model, a, None) is not None and np.any(np.asarray(getattr(model, a)) != 1)]
    if other:
        raise InputError(f"result: GLMs with {' or '.join(other)} are not supported (binomial counts "
                         "and variance weights): influence here is per 0/1 observation, so give one "
                         "row per trial with a 0/1 response (freq_weights, which count identical "
                         f"rows, are supported); {SUPPORTED}")
    fw = getattr(model, "freq_weights", None) if kind == "GLM" else None
    return None if fw is None else check_weights(fw, "freq_weights", np.shape(model.endog)[0])


def from_statsmodels(result, rtol=1e-5, **influence_kw):
    """LocalInfluence for a fitted statsmodels Logit, MNLogit or binomial GLM (logit link) result.

    Parameters
    ----------
    result : statsmodels results object
        Unpenalised; a GLM's ``freq_weights`` become frequency weights
        (``sample_weight``) of the refit and of the influence values. Other
        links, families, ``Probit``, offsets, exposure, ``var_weights`` and
        binomial counts are refused with an InputError saying what is supported.
    rtol : float
        Largest relative parameter difference accepted between statsmodels' fit
        and ours (its Newton fits stop at ~1e-8).
    **influence_kw
        Passed to :class:`LocalInfluence`.

    Returns
    -------
    LocalInfluence
        With ``X_`` (n, d) the design without the constant and ``index_`` the
        data's row labels. Labels are statsmodels' (MNLogit: its codes 0..K-1).
    """
    import pandas as pd
    rtol = check_nonneg_float(rtol, "rtol")
    if "sample_weight" in influence_kw:
        raise InputError("sample_weight: from_statsmodels takes the weights from the model (GLM "
                         "freq_weights); do not pass them again")
    model = getattr(result, "model", None)
    kind = type(model).__name__
    w = _statsmodels_weights(model, kind)
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
        ours = LogisticRegression(fit_intercept=bool(const)).fit(X, y, sample_weight=w)
        p = np.asarray(result.params)
        theirs = np.r_[p[keep], p[const]] if const else p[keep]
    _compare(ours.theta_, theirs, rtol, f"statsmodels {kind}")
    inf = LocalInfluence(ours, X, y, sample_weight=w, **influence_kw)
    if const:  # statsmodels' name of the constant ("const", "Intercept") in param_names_
        inf.intercept_name_ = names[const[0]]
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


def _last_step(estimator, X):
    """The LogisticRegression of ``estimator`` (alone or a Pipeline's last step) and X as it
    sees it: a pipeline's earlier steps applied, with the column names the transformed
    frame has, else the original ones where those steps keep the columns."""
    import pandas as pd
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        pre, last = estimator[:-1], estimator[-1]
        try:
            Xt = pre.transform(X)
        except Exception as exc:
            raise InputError(f"X: the pipeline's earlier steps cannot transform it ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:300]}); pass the data it was fitted on") from None
        Xt = Xt.toarray() if sp.issparse(Xt) else Xt
        cols = column_names(X)
        if column_names(Xt) is None and cols is not None:
            try:
                kept = [str(c) for c in pre.get_feature_names_out(list(X.columns))] == cols
            except Exception:  # a step without get_feature_names_out: the names are not known
                kept = False
            if kept and np.shape(Xt) == np.shape(X):
                Xt = pd.DataFrame(Xt, columns=X.columns, index=X.index)
        X = Xt
    elif isinstance(estimator, Pipeline):
        last = estimator[-1]
    else:
        last = estimator
    is_lr = type(last).__name__ == "LogisticRegression" and type(last).__module__.startswith("sklearn")
    if not is_lr or not hasattr(last, "coef_"):
        raise InputError("estimator: from_sklearn needs a fitted sklearn.linear_model.LogisticRegression "
                         f"or a fitted Pipeline ending in one; got {type(last).__name__}; {SUPPORTED}")
    return last, X


def _sklearn_l2(est, N, K):
    """localinf's l2 for scikit-learn's objective (N observations), or an InputError saying why not."""
    if getattr(est, "class_weight", None) is not None:
        raise InputError("estimator: class_weight is not supported; fit with sample_weight="
                         "sklearn.utils.class_weight.compute_sample_weight(class_weight, y) instead "
                         "and pass the same sample_weight here")
    if K > 2 and getattr(est, "multi_class", None) == "ovr":
        raise InputError("estimator: a one-vs-rest model (multi_class='ovr') is K binary models, not "
                         f"the multinomial model; {SUPPORTED}")
    # scikit-learn >= 1.8 describes the penalty by l1_ratio and C (C = inf: none);
    # older versions by penalty in {"l2", "none", None, ...}.
    penalty = getattr(est, "penalty", "l2")
    l1_ratio = getattr(est, "l1_ratio", None)
    C = float(est.C)
    if penalty in (None, "none") or np.isinf(C):
        l2 = 0.0
    elif penalty in ("l2", "deprecated") and (l1_ratio in (None, 0, 0.0) or penalty == "l2"):
        l2 = 1.0 / (2.0 * C * N)
    else:
        raise InputError(f"estimator: only the L2 penalty (or none) is supported; got penalty={penalty!r}, "
                         f"l1_ratio={l1_ratio!r}; {SUPPORTED}")
    if K > 2 and l2 > 0:
        raise InputError("a penalised multinomial scikit-learn model penalises all K coefficient "
                         "vectors (symmetric parameterisation), which differs from localinf's "
                         "reference-class model; refit with SoftmaxRegression instead, or without "
                         f"a penalty (C=np.inf); {SUPPORTED}")
    if l2 > 0 and getattr(est, "solver", None) == "liblinear" and est.fit_intercept:
        raise InputError("estimator: the liblinear solver penalises the intercept (intercept_scaling), "
                         "localinf does not; refit with solver='lbfgs'")
    return l2


def from_sklearn(estimator, X, y, rtol=10.0, *, sample_weight=None, **influence_kw):
    """LocalInfluence for a fitted scikit-learn LogisticRegression (or a Pipeline ending in one).

    ``C`` becomes ``l2 = 1 / (2 C N)``, N the number of observations
    (``sum(sample_weight)``): scikit-learn's objective ``C sum_i s_i loss_i +
    ||w||^2 / 2`` divided by ``C N`` is localinf's risk with frequency weights s.
    Influence values are computed at localinf's exact refit, and scikit-learn's
    fit is accepted when its parameters pass its own stopping rule on that risk:
    ``max|grad R(theta_sklearn)| <= rtol * max(estimator.tol, 1e-4)`` (the gradient
    in the reference-class parameters, equal to scikit-learn's own for classes
    1..K-1; at least its default tol 1e-4, as lbfgs asked for a tighter tol may
    stop above it when its objective no longer decreases measurably).

    Why the gradient and not the parameters or the predictions: scikit-learn's
    solvers stop when the gradient is below ``tol`` (1e-4 by default). Where the
    optimum is flat (unpenalised fits, multinomial ones above all, and features
    on unequal scales or far from zero) that leaves the parameters 1e-2
    (relative) and the training log-probabilities up to ~0.3 away from the
    exact optimum although scikit-learn reports convergence, which is why a
    parameter comparison refused such fits at default settings; a test on the
    predictions would need the same loose tolerance. Standard-error units are
    too loose the other way: a fit with sample weights missing or different
    lies about one standard error from the right one. The gradient of the
    risk at scikit-learn's parameters is small exactly when they are its
    minimiser to scikit-learn's own precision, whatever the flatness, and is
    of order 1/sqrt(n) for a different objective (other data, weights or
    options).

    Parameters
    ----------
    estimator : sklearn.linear_model.LogisticRegression or sklearn.pipeline.Pipeline, fitted
        A pipeline's earlier steps transform X (``pipe[:-1].transform(X)``):
        influence is then that of the transformed rows. When the transformed
        columns have names (those of the transformed frame, or the original
        ones where the steps keep the columns: scalers, imputers), they are
        called ``"<steps>(<name>)"`` (e.g. ``"scaler(age)"``) and a raw
        validation or query frame is sent through the pipeline
        automatically; without names, validation and query arrays are given
        transformed (``pipe[:-1].transform(X_val)``).
    X : array_like (n, d)
    y : array_like (n,)
        The data it was fitted on, labels as given to scikit-learn (any type:
        they are coded through the estimator's ``classes_``, as are later
        validation labels).
    rtol : float, default 10
        The accepted gradient as a multiple of ``max(estimator.tol, 1e-4)``
        (lbfgs, newton-cg and newton-cholesky stop at 1 times; sag and saga
        test the parameter change instead and land within a few times).
    sample_weight : array_like (n,), optional
        The weights given to scikit-learn's ``fit``: frequency weights here.
    **influence_kw
        Passed to :class:`LocalInfluence`.

    Returns
    -------
    LocalInfluence
        Its model is localinf's refit with scikit-learn's ``classes_``.
    """
    rtol = check_nonneg_float(rtol, "rtol")
    raw = X
    est, X = _last_step(estimator, X)
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1 and column_names(raw) is not None \
            and column_names(X) is None:
        # fitted on a frame, transformed to an unnamed array: name the transformed columns, so
        # that later raw frames can be sent through the pipeline rather than refused
        X = _named_output(estimator[:-1], X, raw)
    names = getattr(est, "feature_names_in_", None)
    X = align_columns(X, "X", None if names is None else [str(c) for c in names])
    design = None
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1 and column_names(X) is not None:
        # Transformed columns get names of their own ("scaler(age)"), so that a raw frame, whose
        # columns are "age", is never read as transformed: it goes through the pipeline instead.
        X, design = _transformed_names(estimator, X)
    Xa = check_matrix(X, "X", n_features=getattr(est, "n_features_in_", None))
    classes = np.asarray(est.classes_)
    n, K = Xa.shape[0], classes.size
    codes = encode_labels(y, classes, "y", n)
    if np.unique(codes).size < K:
        raise InputError(f"y lacks class(es) {classes[np.setdiff1d(np.arange(K), codes)].tolist()} "
                         "the estimator was fitted on; pass the data it was fitted on")
    w = check_weights(sample_weight, "sample_weight", n)
    l2 = _sklearn_l2(est, n if w is None else float(w.sum()), K)
    fit_intercept = bool(est.fit_intercept)
    ours = (LogisticRegression if K == 2 else SoftmaxRegression)(l2=l2, fit_intercept=fit_intercept)
    ours.fit(X, codes, sample_weight=w)
    ours.classes_ = classes.copy()
    if K == 2:
        theirs = np.r_[est.coef_.ravel(), est.intercept_] if fit_intercept else est.coef_.ravel()
    else:
        W = est.coef_ - est.coef_[0]  # unpenalised: move to the reference class 0
        b = est.intercept_ - est.intercept_[0]
        theirs = np.column_stack([W[1:], b[1:]]).ravel() if fit_intercept else W[1:].ravel()
    grad = risk_derivatives(Xa, codes, theirs, K, fit_intercept, l2, hessian=False, weights=w)[1]
    worst = float(np.max(np.abs(grad)))
    bound = rtol * max(float(getattr(est, "tol", 1e-4)), 1e-4)
    if not worst <= bound:
        raise InputError(
            f"cannot reproduce the scikit-learn fit: at its parameters the gradient of the objective "
            f"it minimises is max|grad| = {worst:.1e} > rtol * max(tol, 1e-4) = {bound:.1e}, so they are not its "
            "minimiser on these data. Was it fitted on these X, y (and sample_weight) without other "
            "options? If it stopped early (a ConvergenceWarning; solver sag or saga), refit with a "
            "larger max_iter or a smaller tol, or standardise the features")
    inf = LocalInfluence(ours, X, y, sample_weight=w, **influence_kw)
    inf.design_ = design
    return inf


def _named_output(pre, Xt, raw):
    """The transformed array as a frame: names from ``get_feature_names_out``, else x0, x1, ..."""
    import pandas as pd
    Xt = np.asarray(Xt, dtype=float)
    try:
        names = [str(c) for c in pre.get_feature_names_out()]
    except Exception:  # a step without feature names out
        names = []
    if len(names) != Xt.shape[1] or len(set(names)) != len(names):
        names = [f"x{j}" for j in range(Xt.shape[1])]
    return pd.DataFrame(Xt, columns=names, index=raw.index)


def _transformed_names(pipe, X):
    """The transformed frame X with columns ``"<steps>(<name>)"`` and ``design(frame, name)``,
    which sends a raw frame through the pipeline's earlier steps into those columns."""
    import pandas as pd
    prefix = "+".join(name for name, _ in pipe.steps[:-1])
    cols = [f"{prefix}({c})" for c in X.columns]
    pre = pipe[:-1]

    def design(frame, name):
        try:
            out = pre.transform(frame)
        except Exception as exc:
            raise InputError(f"{name}: the pipeline's earlier steps cannot transform it "
                             f"({type(exc).__name__}: {' '.join(str(exc).split())[:300]})") from None
        out = out.toarray() if sp.issparse(out) else np.asarray(out, dtype=float)
        if out.shape[1] != len(cols):
            raise InputError(f"{name}: the pipeline gives {out.shape[1]} columns, not {len(cols)}")
        return pd.DataFrame(out, columns=cols, index=frame.index)
    return pd.DataFrame(np.asarray(X, dtype=float), columns=cols, index=X.index), design
