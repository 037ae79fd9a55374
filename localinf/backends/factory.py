"""Choosing and building the backend for a model and its training data."""

import numbers

import numpy as np

from .._core.checks import check_labels, check_matrix, check_minimiser
from ..exceptions import InputError
from ..models.autograd_model import AutogradModel
from ..models.classifier import Classifier
from ..models.glm import MultinomialLogit
from ..models.glm_autograd import from_glm
from .autograd import AutogradBackend, check_logits
from .base import Backend
from .reference import ReferenceBackend

BACKENDS = ("auto", "reference", "autograd")


def make_backend(model, X, y, *, backend="auto", curvature="exact", curvature_options=None,
                 chunk_size=None, grad_rtol=1e-6, svd_rank=None, svd_options=None,
                 query_curvature=None, query_curvature_options=None):
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
query_curvature, query_curvature_options
        See :class:`localinf.LocalInfluence`.

    Returns
    -------
    backend : Backend
    X : ndarray (n, d)
    y : ndarray of int (n,)
    """
    if chunk_size is not None and (not isinstance(chunk_size, numbers.Integral) or chunk_size < 1):
        raise InputError(f"chunk_size must be a positive integer; got {chunk_size!r}")
    builder = dict(curvature_options=curvature_options, svd_rank=svd_rank, svd_options=svd_options,
                   query_curvature=query_curvature, query_curvature_options=query_curvature_options)
    if isinstance(backend, Backend):
        return _given(backend, model, X, y, curvature, dict(builder, chunk_size=chunk_size), grad_rtol)
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise InputError(f"backend must be 'auto', 'reference', 'autograd' or a Backend; got {backend!r}")
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
        check_logits(model, X)
        return AutogradBackend.from_data(model, X, y, curvature=curvature, chunk_size=chunk_size,
                                         grad_rtol=grad_rtol, **builder), X, y
    if svd_rank is not None:
        raise InputError("svd_rank (KFSVD) needs backend='autograd'")
    if not (isinstance(curvature, str) and curvature == "exact") or query_curvature is not None:
        raise InputError("the reference backend solves with the exact Hessian; "
                         "use backend='autograd' for other curvature choices")
    _refuse_unused(builder, "the reference backend")
    X = check_matrix(X, "X", n_features=model.n_features_in_)
    y, _ = check_labels(y, "y", X.shape[0], n_classes=model.n_classes_)
    return ReferenceBackend.from_data(model, X, y, chunk_size=chunk_size, grad_rtol=grad_rtol), X, y


def _refuse_unused(builder, who):
    given = sorted(k for k, v in builder.items() if v is not None and not (isinstance(v, dict) and not v))
    if given:
        raise InputError(f"{', '.join(given)}: not used by {who}; leave them out")


def _given(backend, model, X, y, curvature, builder, grad_rtol):
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
    check_minimiser(backend.risk_grad(X, y), float(np.max(np.abs(X))), grad_rtol)
    return backend, X, y
