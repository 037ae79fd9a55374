"""Input validation at the public boundary (private helpers)."""

import numbers

import numpy as np

from ..exceptions import InputError


def check_matrix(X, name, n_features=None, allow_empty=False):
    """Return ``X`` as a C-contiguous float64 array of shape (n, d).

    Raises :class:`InputError` naming ``name`` for 1-D or 3-D input, non-numeric
    values, NaN/inf, a wrong number of columns, or no rows.
    """
    try:
        A = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric 2-D array; conversion to float failed: {exc}") from None
    if A.ndim != 2:
        hint = " (reshape a single feature with X.reshape(-1, 1))" if A.ndim == 1 else ""
        raise InputError(f"{name} must be 2-D of shape (n_samples, n_features); got shape {A.shape}{hint}")
    if A.shape[0] == 0 and not allow_empty:
        raise InputError(f"{name} is empty: it has no rows")
    if A.shape[1] == 0:
        raise InputError(f"{name} has no columns")
    if n_features is not None and A.shape[1] != n_features:
        raise InputError(f"{name} has {A.shape[1]} columns but the model was fitted with {n_features} features")
    if not np.isfinite(A).all():
        bad = np.argwhere(~np.isfinite(A))[0]
        raise InputError(f"{name} contains NaN or inf (first at row {bad[0]}, column {bad[1]})")
    return np.ascontiguousarray(A)


def check_labels(y, name, n_samples, n_classes=None, require_all=False):
    """Return integer labels of shape (n,) in 0..K-1.

    ``n_classes`` fixes K (labels outside 0..K-1 are an error); with
    ``require_all`` every class must occur (needed to fit by maximum likelihood).
    Returns ``(y, K)``.
    """
    a = np.asarray(y)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise InputError(f"{name} must be 1-D of shape (n_samples,); got shape {a.shape}")
    if a.shape[0] != n_samples:
        raise InputError(f"{name} has {a.shape[0]} entries but the matching X has {n_samples} rows")
    if a.dtype == bool:
        a = a.astype(np.int64)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise InputError(
            f"{name} must hold integer class labels 0..K-1; got dtype {a.dtype} "
            "(encode categories first, e.g. with pandas.factorize)")
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise InputError(f"{name} contains NaN or inf")
        if not np.array_equal(a, np.round(a)):
            raise InputError(f"{name} must hold integer class labels 0..K-1; found non-integer values")
    a = a.astype(np.int64)
    if a.size and a.min() < 0:
        raise InputError(f"{name} has negative labels; labels must be 0..K-1")
    K = n_classes if n_classes is not None else (int(a.max()) + 1 if a.size else 0)
    if a.size and a.max() >= K:
        raise InputError(f"{name} has label {int(a.max())} outside 0..{K - 1}")
    if require_all:
        if K < 2 or np.unique(a).size < 2:
            raise InputError(f"{name} has fewer than 2 classes; a classifier needs at least two")
        counts = np.bincount(a, minlength=K)
        if (counts == 0).any():
            missing = np.flatnonzero(counts == 0).tolist()
            raise InputError(
                f"{name} has no rows of class(es) {missing}; labels must be 0..K-1 with every class present")
    return a, K


def check_query(X, y, n_features, n_classes, xname, yname):
    """Query or validation data for a fitted model: ``(X (m, d) float64, y (m,) int64)``.

    Parameters
    ----------
    X : array_like (m, d)
    y : array_like (m,)
    n_features, n_classes : int
        d and K of the fitted model.
    xname, yname : str
        Argument names for the error messages.

    Returns
    -------
    X : ndarray (m, d)
    y : ndarray (m,)
    """
    X = check_matrix(X, xname, n_features=n_features)
    y, _ = check_labels(y, yname, X.shape[0], n_classes=n_classes)
    return X, y


def check_nonneg_float(value, name):
    """``float(value)`` if it is a finite number >= 0, else InputError naming ``name``."""
    if not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise InputError(f"{name} must be a finite number >= 0; got {value!r}")
    return float(value)


def check_positive_int(value, name):
    """``int(value)`` if it is an integer >= 1, else InputError naming ``name``."""
    if not isinstance(value, numbers.Integral) or value < 1:
        raise InputError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def check_index(i, n, name="i"):
    """Row index ``i`` in ``-n..n-1`` as a non-negative int, else InputError."""
    if not isinstance(i, numbers.Integral):
        raise InputError(f"{name} must be an integer row index; got {i!r}")
    if not -n <= i < n:
        raise InputError(f"{name}={i} is out of range for {n} training rows")
    return int(i) % n


def check_minimiser(grad, max_abs_x, grad_rtol):
    """Refuse parameters that do not minimise R on the data given.

    Every influence formula is a derivative at the minimiser, so the gradient of
    R must vanish: ``max|grad R| <= grad_rtol * max(1, max|X|)``.
    """
    worst = float(np.max(np.abs(grad)))
    bound = grad_rtol * max(1.0, max_abs_x)
    if worst > bound:
        raise InputError(
            f"model: its parameters do not minimise the penalised risk on (X, y) "
            f"(max|grad R| = {worst:.2e} > grad_rtol * max(1, max|X|) = {bound:.2e}); influence "
            "formulas assume the exact minimiser, so pass the data the model was fitted on, "
            "refit to a tighter tolerance, or loosen grad_rtol")


class NonnegativeNumber:
    """A class attribute whose every assignment is checked: a finite number >= 0.

    Parameters
    ----------
    doc : str
        What the number is (the attribute's docstring).
    """

    def __init__(self, doc):
        self.__doc__ = doc

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        return self if obj is None else obj.__dict__[self.name]

    def __set__(self, obj, value):
        obj.__dict__[self.name] = check_nonneg_float(value, self.name)
