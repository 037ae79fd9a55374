"""Training and held-out data for the selection loops (private).

The loops hand plain arrays to the user's ``fit``, so a model fitted there has no
column names. The names are read here from the training frame instead, and every
held-out frame (validation, test, pool) is aligned to them by name before its
columns lose their names; arrays are taken by position, as everywhere in localinf.
"""

import numpy as np

from .._core.checks import UNNAMED, check_labels, check_matrix, check_query, column_names, plain_array
from ..exceptions import InputError


def training_data(X, y, xname="X", yname="y"):
    """The training inputs as arrays, with their column names.

    Parameters
    ----------
    X : array_like or pandas.DataFrame (n, d)
    y : array_like (n,)
    xname, yname : str
        The arguments' names, for error messages.

    Returns
    -------
    X : ndarray (n, d)
    y : ndarray of int (n,)
    K : int
        Number of classes.
    names : list of str or UNNAMED
        The columns of a DataFrame ``X``; ``UNNAMED`` for an array (held-out
        DataFrames are then refused, as they cannot be matched by name).
    """
    names = column_names(X) or UNNAMED
    X = check_matrix(X, xname)
    y, K = check_labels(y, yname, X.shape[0])
    return X, y, K, names


def held_out(X, y, xname, yname, d, K, names):
    """Held-out inputs aligned to the training columns by name, with their labels checked.

    Parameters
    ----------
    X : array_like or pandas.DataFrame (m, d), or None
    y : array_like (m,), or None
        Both None: no held-out data (returned as they are).
    xname, yname : str
    d, K : int
        Numbers of training features and classes: labels must lie in 0..K-1.
    names : list of str or None
        The training columns (from :func:`training_data`).

    Returns
    -------
    X : ndarray (m, d) or None
    y : ndarray of int (m,) or None
    """
    if X is None and y is None:
        return None, None
    return check_query(X, y, d, K, xname, yname, feature_names=names)


def check_scores(scores, name, n=None):
    """Row scores: a finite 1-D float array (of length ``n`` when given).

    Parameters
    ----------
    scores : array_like (n,)
    name : str
    n : int, optional

    Returns
    -------
    ndarray (n,)
    """
    a = plain_array(scores, name)
    if a.ndim != 1:
        raise InputError(f"{name} must be 1-D, one score per training row; got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise InputError(f"{name} has {a.shape[0]} scores for {n} training rows")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise InputError(f"{name} contains NaN or inf")
    return a


def refit(fit, X, y):
    """``fit(X, y)``, checked to be a model with ``predict`` (the loops call it every round).

    Parameters
    ----------
    fit : callable
        ``fit(X, y) -> model``.
    X : ndarray (n, d)
    y : ndarray (n,)

    Returns
    -------
    model
    """
    if not callable(fit):
        raise InputError(f"fit must be a callable fit(X, y) -> model; got {type(fit).__name__}")
    model = fit(X, y)
    if not callable(getattr(model, "predict", None)):
        raise InputError(f"fit(X, y) must return a fitted model with predict(X); got "
                         f"{type(model).__name__}")
    return model
