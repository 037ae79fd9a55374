"""Choosing and building the backend for a model and its training data."""

import numbers
import warnings

import numpy as np

from .._core.checks import check_bool, check_labels, check_matrix, check_minimiser, check_weights
from ..exceptions import ApproximateFitWarning, InputError
from ..models.autograd_model import AutogradModel
from ..models.classifier import Classifier
from ..models.glm import MultinomialLogit
from ..models.glm_autograd import from_glm
from ..models.newton import predictive_change
from .autograd import AutogradBackend, check_logits
from .base import Backend
from .reference import ReferenceBackend

BACKENDS = ("auto", "reference", "autograd")


def make_backend(model, X, y, *, backend="auto", curvature="exact", curvature_options=None,
                 chunk_size=None, grad_rtol=1e-6, svd_rank=None, svd_options=None,
                 query_curvature=None, query_curvature_options=None, sample_weight=None,
                 at_minimiser=True):
    """The backend for a fitted model and the training data it was fitted on.

    Parameters
    ----------
    model : LogisticRegression, SoftmaxRegression or AutogradModel
    X : array_like (n, d)
    y : array_like (n,)
    backend : {"auto", "reference", "autograd"} or Backend
        ``"auto"``: the reference backend for GLMs, autograd for an
        AutogradModel. A :class:`Backend` instance is used as given: its sizes
        are checked against the data, its parameters against a localinf
        model's (a missing or unfitted model is refused), and that they
        minimise the risk on (X, y) (``grad_rtol``); the options that build a
        backend are refused.
    curvature, curvature_options, chunk_size, grad_rtol, svd_rank, svd_options, \
query_curvature, query_curvature_options, sample_weight, at_minimiser
        See :class:`localinf.LocalInfluence`.

    Returns
    -------
    backend : Backend
    X : ndarray (n, d)
    y : ndarray of int (n,)
    """
    if chunk_size is not None and (not isinstance(chunk_size, numbers.Integral) or chunk_size < 1
                                   or isinstance(chunk_size, bool)):
        raise InputError(f"chunk_size must be a positive integer; got {chunk_size!r}")
    builder = dict(curvature_options=curvature_options, svd_rank=svd_rank, svd_options=svd_options,
                   query_curvature=query_curvature, query_curvature_options=query_curvature_options)
    at_minimiser = check_bool(at_minimiser, "at_minimiser")
    if isinstance(backend, Backend):
        if not at_minimiser:
            raise InputError("at_minimiser=False: a ready Backend assumes the minimiser; pass the "
                             "model with backend='autograd' and curvature='ggn'")
        return _given(backend, model, X, y, curvature, dict(builder, chunk_size=chunk_size), grad_rtol,
                      sample_weight)
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise InputError(f"backend must be 'auto', 'reference', 'autograd' or a Backend; got {backend!r}")
    if not at_minimiser:
        _check_approximate(model, backend, curvature, query_curvature)
    if isinstance(model, AutogradModel):
        if backend == "reference":
            raise InputError("backend='reference' needs a LogisticRegression or SoftmaxRegression")
        backend = "autograd"
    elif not isinstance(model, MultinomialLogit) or not model.is_fitted():
        raise InputError("model must be a fitted LogisticRegression, SoftmaxRegression or "
                         "AutogradModel; call fit first")
    if backend == "autograd":
        if not isinstance(model, AutogradModel):
            X = check_matrix(X, "X", n_features=model.n_features_in_)
            model = from_glm(model)
        X = check_matrix(X, "X")
        y, _ = check_labels(y, "y", X.shape[0], n_classes=model.n_classes_)
        w = check_weights(sample_weight, "sample_weight", X.shape[0])
        check_logits(model, X)
        built = AutogradBackend.from_data(model, X, y, curvature=curvature, chunk_size=chunk_size,
                                          grad_rtol=grad_rtol, weights=w, at_minimiser=at_minimiser,
                                          **builder)
        if at_minimiser:
            check_newton_step(built, X, y, grad_rtol)
        else:
            _warn_approximate(built, curvature, query_curvature)
        return built, X, y
    if svd_rank is not None:
        raise InputError("svd_rank (KFSVD) needs backend='autograd'")
    if not (isinstance(curvature, str) and curvature == "exact") or query_curvature is not None:
        raise InputError("the reference backend solves with the exact Hessian; "
                         "use backend='autograd' for other curvature choices")
    _refuse_unused(builder, "the reference backend")
    X = check_matrix(X, "X", n_features=model.n_features_in_, finite=False)  # checked in H's pass
    y, _ = check_labels(y, "y", X.shape[0], n_classes=model.n_classes_)
    w = check_weights(sample_weight, "sample_weight", X.shape[0])
    built = ReferenceBackend.from_data(model, X, y, chunk_size=chunk_size, grad_rtol=grad_rtol,
                                       weights=w)
    check_newton_step(built, X, y, grad_rtol)
    return built, X, y


def check_newton_step(backend, X, y, grad_rtol):
    """Refuse parameters from which the Newton step still changes the predictions.

    The gradient check (``max|grad R| <= grad_rtol * max(1, max|X|)``) is not
    enough where R is flat, e.g. nearly separable classes with a tiny penalty:
    there the gradient is tiny far from the minimiser, while the Newton step
    ``H^{-1} grad R``, the distance to the minimiser of R's quadratic model,
    is not. The parameters are refused when that step would change a training
    log-probability by more than ``sqrt(grad_rtol)`` (1e-3 at the default
    1e-6; influence values change by a relative amount of about this size).
    The test needs the exact Hessian, so it runs only where the backend's
    ``H_inv`` holds one (``H_inv.hessian``): not with "cg", "lissa", "kfac" or "ggn"
    (whose matrix is not the Hessian).

    Parameters
    ----------
    backend : Backend
        Built for the parameters to check.
    X : ndarray (n, d)
    y : ndarray of int (n,)
        The training data the parameters should minimise the risk on.
    grad_rtol : float
        The tolerance of the gradient check; the bound is its square root.

    Returns
    -------
    None
    """
    if getattr(backend.H_inv, "hessian", None) is None:
        return
    bound = float(np.sqrt(grad_rtol))
    # One solve at construction, as a one-column block: the counts of a measure's
    # own single right-hand-side solves (matvec) stay those of the measure.
    grad = backend.train_grad if backend.train_grad is not None else backend.risk_grad(X, y)
    step = np.asarray(backend.H_inv.matmat(grad[:, None])).ravel()
    change = backend.step_change_bound(step)  # an upper bound, when it is small no pass is needed
    if not change <= bound:
        change = predictive_change(backend.log_proba_at, np.asarray(backend.theta), step, X,
                                   backend.chunk_size)
    if not change <= bound:
        raise InputError(
            f"model: its parameters do not minimise the penalised risk on (X, y): the gradient "
            f"is small, but the Newton step H^-1 grad R would still change a training "
            f"log-probability by {change:.1e} > sqrt(grad_rtol) = {bound:.1e}. The risk is "
            "nearly flat there (nearly separable classes with a tiny penalty, or an "
            "ill-conditioned Hessian), so a small gradient does not mean the minimiser. Refit "
            "to the minimiser (LogisticRegression and SoftmaxRegression test the Newton step), "
            "set a larger l2, or loosen grad_rtol")


APPROXIMATE_CURVATURES = ("ggn", "kfac")


def _check_approximate(model, backend, curvature, query_curvature):
    """``at_minimiser=False`` needs the autograd backend and a curvature that is positive
    semi-definite at any parameters (the exact Hessian is not, away from a minimiser)."""
    glm_via_autograd = isinstance(model, MultinomialLogit) and backend == "autograd"
    if not (isinstance(model, AutogradModel) and backend != "reference" or glm_via_autograd):
        raise InputError("at_minimiser=False needs an AutogradModel, or a GLM with "
                         "backend='autograd': the reference backend assumes the minimiser")
    for name, kind in (("curvature", curvature), ("query_curvature", query_curvature)):
        default_query = kind is None and name == "query_curvature"
        if not (default_query or (isinstance(kind, str) and kind in APPROXIMATE_CURVATURES)):
            raise InputError(f"{name}: at_minimiser=False needs 'ggn' or 'kfac' (positive "
                             f"semi-definite away from a minimiser); got {kind!r}")


def _warn_approximate(built, curvature, query_curvature):
    """One ApproximateFitWarning: how far from a minimiser, and which damped matrices
    stand in for H (the query-side one too, when it differs)."""
    solves = f"({curvature.upper()} + {getattr(built.H_inv, 'damping', 0.0):g} I)^-1"
    if query_curvature is not None:
        solves += (f" for the per-row solves and ({query_curvature.upper()} + "
                   f"{getattr(built.H_inv_query, 'damping', 0.0):g} I)^-1 for the query solves")
    warnings.warn(
        f"at_minimiser=False: max|grad R| = {built.grad_norm:.2e} at the model's parameters. The "
        f"values are the response of one damped Gauss-Newton step from these parameters (H^-1 "
        f"replaced by {solves}), not derivatives of a minimiser; see docs/curvature.md",
        ApproximateFitWarning, stacklevel=4)


def _refuse_unused(builder, who):
    given = sorted(k for k, v in builder.items() if v is not None and not (isinstance(v, dict) and not v))
    if given:
        raise InputError(f"{', '.join(given)}: not used by {who}; leave them out")


def _given(backend, model, X, y, curvature, builder, grad_rtol, sample_weight):
    """A ready backend: the options that build one do not apply, and the model and the
    data must be the ones it was built for."""
    if not (isinstance(curvature, str) and curvature == "exact"):
        raise InputError("curvature: not used with a ready Backend; build its H_inv instead")
    _refuse_unused(builder, "a ready Backend")
    if model is None or isinstance(model, Classifier) and not model.is_fitted():
        raise InputError("model: pass the fitted model the backend was built for")
    if isinstance(model, Classifier) and not np.array_equal(np.asarray(model.theta_),
                                                            np.asarray(backend.theta)):
        raise InputError("model: the backend was built for other parameters than this model's theta_")
    X = check_matrix(X, "X", n_features=backend.d)
    y, _ = check_labels(y, "y", X.shape[0], n_classes=backend.K)
    if X.shape[0] != backend.n:
        raise InputError(f"X has {X.shape[0]} rows but the backend was built for n = {backend.n}")
    w, built_w = check_weights(sample_weight, "sample_weight", X.shape[0]), getattr(backend, "weights", None)
    if (w is None) != (built_w is None) or w is not None and not np.array_equal(w, built_w):
        raise InputError("sample_weight: differs from the weights the ready Backend was built with")
    gradient = backend.risk_grad(X, y)
    check_minimiser(gradient, float(np.max(np.abs(X))), grad_rtol)
    check_newton_step(backend, X, y, grad_rtol)
    backend.grad_norm = float(np.max(np.abs(gradient)))
    return backend, X, y
