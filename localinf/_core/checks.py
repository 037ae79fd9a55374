"""Input validation at the public boundary (private helpers)."""

import numpy as np

from ..exceptions import InputError, NumericalError
from .chunks import row_chunks
from .labels import class_labels, encode_labels  # noqa: F401  (labels of any type: classes_)
from .scalars import (SEED_MAX, NonnegativeNumber, check_bool, check_choice,  # noqa: F401
                      check_fraction, check_index, check_nonneg_float, check_positive_int,
                      check_seed)


def _short(values, k=5):
    """At most ``k`` values for an error message, then an ellipsis."""
    values = list(values)
    text = ", ".join(map(repr, values[:k]))
    return text + (f", ... ({len(values)} in all)" if len(values) > k else "")


# ``feature_names`` of data fitted without column names: a DataFrame cannot be matched to
# them, and is refused rather than read by position.
UNNAMED = ()


def align_columns(X, name, feature_names, design=None):
    """A DataFrame's columns in the training order; other inputs unchanged.

    Parameters
    ----------
    X : array_like or pandas.DataFrame
    name : str
        The argument's name, for the error message.
    feature_names : list of str, UNNAMED or None
        The training columns; ``UNNAMED`` when the model was fitted on an
        array without names (a DataFrame is then refused: it cannot be
        matched by name); None for no alignment (training data itself).
    design : callable, optional
        ``design(frame, name) -> DataFrame`` with the training columns: the
        model's own design (a statsmodels formula), applied to a raw frame that
        does not already hold the training columns.

    Returns
    -------
    array_like
        ``X`` with its columns reordered to ``feature_names``.

    Raises
    ------
    InputError
        Naming the missing, unexpected or duplicated columns.
    """
    cols = getattr(X, "columns", None)
    if cols is None or feature_names is None:
        return X
    if len(feature_names) == 0:
        if [str(c) for c in cols] == [str(j) for j in range(len(cols))]:
            return X  # pandas' default labels 0..d-1 name nothing: positions, as for an array
        raise InputError(f"{name} is a DataFrame, but the model was fitted on an array without "
                         "column names, so its columns cannot be matched by name: fit on a "
                         f"DataFrame, or pass {name}.to_numpy() with the columns in the training order")
    if design is not None and not set(feature_names) <= {str(c) for c in cols}:
        X = design(X, name)
        cols = X.columns
    have = [str(c) for c in cols]
    if len(set(have)) < len(have):
        dup = sorted({c for c in have if have.count(c) > 1})
        raise InputError(f"{name} has duplicated columns: {_short(dup)}")
    known = set(feature_names)
    missing = [c for c in feature_names if c not in set(have)]
    extra = [c for c in have if c not in known]
    if missing or extra:
        parts = ([f"missing {_short(missing)}"] if missing else []) + \
                ([f"not in the training data {_short(extra)}"] if extra else [])
        raise InputError(f"{name}: its columns must be the training columns (matched by name); "
                         + "; ".join(parts))
    position = {c: j for j, c in enumerate(have)}
    return X.iloc[:, [position[c] for c in feature_names]]


def column_names(X):
    """The column names of a pandas DataFrame as strings, None for other input.

    Parameters
    ----------
    X : object

    Returns
    -------
    list of str or None
    """
    cols = getattr(X, "columns", None)
    return None if cols is None else [str(c) for c in cols]


def row_labels(X):
    """The row labels of a pandas DataFrame or Series, None for other input (a list's
    ``index`` method is not row labels).

    Parameters
    ----------
    X : object

    Returns
    -------
    pandas.Index or None
    """
    index = getattr(X, "index", None)
    return None if callable(index) else index


def plain_array(X, name):
    """``X`` as an ndarray, refusing masked, complex and non-numeric input."""
    if np.ma.isMaskedArray(X):
        if np.ma.getmaskarray(X).any():
            raise InputError(f"{name} is a masked array with masked entries; drop or fill them "
                             "first (localinf does not skip masked values)")
        X = np.ma.getdata(X)
    if getattr(X, "columns", None) is not None:  # a DataFrame: name the bad column
        from pandas.api.types import is_bool_dtype, is_numeric_dtype  # pandas is loaded already
        for col, dt in X.dtypes.items():
            if not (is_numeric_dtype(dt) or is_bool_dtype(dt)):
                raise InputError(f"{name}: column {str(col)!r} has dtype {dt}, not numbers; "
                                 "encode it first (e.g. pandas.get_dummies)")
    try:
        A = np.asarray(X)
    except (TypeError, ValueError) as exc:  # ragged lists, sparse matrices in a list, ...
        raise InputError(f"{name} must be a numeric array; conversion failed: {exc}") from None
    if A.dtype.kind == "c":
        raise InputError(f"{name} is complex; localinf needs real numbers")
    if A.dtype.kind not in "biuf":
        raise InputError(f"{name} must hold real numbers; got dtype {A.dtype} "
                         "(convert text or objects to float first)")
    return A


def check_matrix(X, name, n_features=None, allow_empty=False, feature_names=None, design=None,
                 finite=True):
    """Return ``X`` as a C-contiguous float64 array of shape (n, d).

    Parameters
    ----------
    X : array_like or pandas.DataFrame (n, d)
    name : str
        The argument's name, for the error message.
    n_features : int, optional
        The number of columns required.
    allow_empty : bool, default False
    feature_names : list of str, optional
        The training columns: a DataFrame is aligned to them by name.
    design : callable, optional
        The model's own design for a raw frame (see :func:`align_columns`).
    finite : bool, default True
        Check for NaN and inf here (one read of X). False leaves it to the
        caller's own first pass over X (which must then call
        :func:`first_nonfinite` when it sees a non-finite value).

    Returns
    -------
    ndarray (n, d)

    Raises
    ------
    InputError
        Naming ``name`` for 1-D or 3-D input, complex, masked or non-numeric
        values, NaN/inf, mismatched columns, or no rows.
    """
    A = plain_array(align_columns(X, name, feature_names, design), name)
    if A.ndim != 2:
        hint = " (reshape a single feature with X.reshape(-1, 1))" if A.ndim == 1 else ""
        raise InputError(f"{name} must be 2-D of shape (n_samples, n_features); got shape {A.shape}{hint}")
    if A.shape[0] == 0 and not allow_empty:
        raise InputError(f"{name} is empty: it has no rows")
    if A.shape[1] == 0:
        raise InputError(f"{name} has no columns")
    if n_features is not None and A.shape[1] != n_features:
        raise InputError(f"{name} has {A.shape[1]} columns but the model was fitted with {n_features} features")
    A = np.ascontiguousarray(A, dtype=np.float64)
    if finite:
        raise_nonfinite(A, name)
    return A


def raise_nonfinite(A, name):
    """Raise an :class:`InputError` naming ``name`` and the first NaN/inf of A, if any."""
    bad = first_nonfinite(A)
    if bad is not None:
        raise InputError(f"{name} contains NaN or inf (first at row {bad[0]}, column {bad[1]})")


# Rows per block of the finiteness scan (about 4 MiB of float64 at d = 64).
_SCAN_ROWS = 8192


def first_nonfinite(A):
    """``(row, column)`` of the first NaN or inf of a 2-D float array, or None.

    One streaming read: each block's sum is finite unless the block holds a
    NaN or inf (or its finite values overflow the sum, which is then checked
    element by element), so no (n, d) boolean array is formed.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        for sl in row_chunks(A.shape[0], _SCAN_ROWS):
            block = A[sl]
            if np.isfinite(block.sum()):
                continue
            where = np.argwhere(~np.isfinite(block))
            if where.size:
                return int(sl.start + where[0, 0]), int(where[0, 1])
    return None


def check_hessian(H, name="H", sym_rtol=1e-8):
    """A dense Hessian: a finite, real, square 2-D float64 array with p >= 1, symmetric up to
    ``sym_rtol`` relative to its largest entry, returned symmetrised ``(H + H^T) / 2``.

    Parameters
    ----------
    H : array_like (p, p)
    name : str, default "H"
    sym_rtol : float, default 1e-8
        Largest ``max|H - H^T| / max|H|`` taken as round-off.

    Returns
    -------
    ndarray (p, p)
    """
    A = plain_array(H, name)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] < 1:
        raise InputError(f"{name} must be a square (p, p) matrix with p >= 1; got shape {A.shape}")
    A = A.astype(np.float64)
    if not np.isfinite(A).all():
        raise InputError(f"{name} contains NaN or inf")
    top = np.max(np.abs(A))
    asym = np.max(np.abs(A - A.T))
    if asym > sym_rtol * top:
        raise InputError(f"{name} is not symmetric (max|H - H^T| = {asym:.3g}, max|H| = {top:.3g}); "
                         "a Hessian is symmetric: check how it was formed")
    return 0.5 * A + 0.5 * A.T


def check_labels(y, name, n_samples, n_classes=None, require_all=False):
    """Return integer labels of shape (n,) in 0..K-1.

    The labels are checked through their distinct values, never used as array
    sizes, so a label of 3e8 is an error message and not an allocation.

    Parameters
    ----------
    y : array_like (n,)
    name : str
        The argument's name, for the error message.
    n_samples : int
        The required length (the rows of the matching X).
    n_classes : int, optional
        K: labels outside 0..K-1 are an error. Without it the labels must be
        exactly 0..K-1 with K the number of distinct values.
    require_all : bool, default False
        Every class must occur (needed to fit by maximum likelihood).

    Returns
    -------
    y : ndarray of int64 (n,)
    K : int
    """
    kind = np.asarray(y).dtype
    if kind.kind in "OUSV":
        raise InputError(f"{name} must hold integer class labels 0..K-1; got dtype {kind} "
                         "(encode categories first, e.g. with pandas.factorize)")
    a = plain_array(y, name)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise InputError(f"{name} must be 1-D of shape (n_samples,); got shape {a.shape}")
    if a.shape[0] != n_samples:
        raise InputError(f"{name} has {a.shape[0]} entries but the matching X has {n_samples} rows")
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise InputError(f"{name} contains NaN or inf")
        if not np.array_equal(a, np.round(a)):
            raise InputError(f"{name} must hold integer class labels 0..K-1; found non-integer values")
    values = np.unique(a)
    K = int(n_classes) if n_classes is not None else values.size
    bad = values[(values < 0) | (values >= K)] if values.size else values
    if bad.size and n_classes is None and values[0] >= 0 and values[-1] < 4 * values.size:
        missing = np.setdiff1d(np.arange(int(values[-1]) + 1), values)  # small: values[-1] < 4 K
        raise InputError(f"{name} has no rows of class(es) [{_short(missing.tolist())}]; labels must "
                         "be 0..K-1 with every class present")
    if bad.size:
        raise InputError(
            f"{name} has labels {_short(bad.tolist())} outside 0..{K - 1}; class labels must be "
            "0..K-1 (encode others with numpy.unique(y, return_inverse=True))")
    a = a.astype(np.int64)
    if require_all and (K < 2 or values.size < K):
        if values.size < 2:
            raise InputError(f"{name} has fewer than 2 classes; a classifier needs at least two")
        missing = np.setdiff1d(np.arange(K), values)
        raise InputError(f"{name} has no rows of class(es) [{_short(missing.tolist())}]; labels must "
                         "be 0..K-1 with every class present")
    return a, K


def check_weights(w, name, n_samples):
    """Frequency weights: ``None`` (all one) or finite, non-negative floats (n,) with a positive sum.

    Parameters
    ----------
    w : array_like (n,) or None
    name : str
        The argument's name, for the error message.
    n_samples : int
        The rows of the matching X.

    Returns
    -------
    ndarray of float64 (n,) or None
        None when w is None or all ones (the unweighted computation, bit for bit).
    """
    if w is None:
        return None
    a = plain_array(w, name)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1 or a.shape[0] != n_samples:
        raise InputError(f"{name} must have shape ({n_samples},), one weight per row of X; got "
                         f"shape {a.shape}")
    if a.dtype.kind not in "biuf":
        raise InputError(f"{name} must hold numbers; got dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise InputError(f"{name} contains NaN or inf")
    if (a < 0).any():
        raise InputError(f"{name} has negative weights (rows {_short(np.flatnonzero(a < 0).tolist())}); "
                         "frequency weights count observations and are >= 0")
    if not a.sum() > 0:
        raise InputError(f"{name} sums to 0: no observation is left to fit")
    return None if np.all(a == 1.0) else a


def check_rows(rows, n):
    """Training row indices: a non-empty 1-D integer array in 0..n-1, else InputError.

    Parameters
    ----------
    rows : array_like of int
    n : int
        Training rows.

    Returns
    -------
    ndarray of int (k,)
    """
    idx = np.asarray(rows)
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer) \
            or idx.min() < 0 or idx.max() >= n:
        raise InputError(f"rows must be a non-empty 1-D array of row indices in 0..{n - 1}")
    return idx


def check_query(X, y, n_features, n_classes, xname, yname, feature_names=None, design=None):
    """Query or validation data for a fitted model: ``(X (m, d) float64, y (m,) int64)``.

    Parameters
    ----------
    X : array_like or pandas.DataFrame (m, d)
    y : array_like (m,)
    n_features, n_classes : int
        d and K of the fitted model.
    xname, yname : str
        Argument names for the error messages.
    feature_names : list of str, optional
        The training columns: a DataFrame X is aligned to them by name.
    design : callable, optional
        The model's own design for a raw frame (see :func:`align_columns`).

    Returns
    -------
    X : ndarray (m, d)
    y : ndarray (m,)
    """
    X = check_matrix(X, xname, n_features=n_features, feature_names=feature_names, design=design)
    y, _ = check_labels(y, yname, X.shape[0], n_classes=n_classes)
    return X, y


def check_finite_result(values, what, labels=None):
    """Return ``values`` if every entry is finite, else raise NumericalError naming the rows.

    The last guard before a result leaves localinf: inputs were finite, so a
    NaN or inf here is overflow or a 0/0 inside the computation.

    Parameters
    ----------
    values : ndarray (n, ...)
    what : str
        The quantity, for the message.
    labels : sequence, optional
        Row labels to name instead of positions.

    Returns
    -------
    ndarray
    """
    values = np.asarray(values)
    if values.dtype.kind in "fc" and not np.isfinite(values).all():
        bad = ~np.isfinite(values.reshape(values.shape[0], -1)).all(axis=1) if values.ndim else \
            np.array([True])
        rows = np.flatnonzero(bad)
        named = [labels[i] for i in rows[:5]] if labels is not None else rows[:5].tolist()
        raise NumericalError(
            f"{what} is not finite for {rows.size} row(s) ({_short(named)}{', ...' if rows.size > 5 else ''}); "
            "the inputs were finite, so this is overflow (features above ~1e150 in absolute value "
            "square to more than the float range) or a degenerate design: rescale the features "
            "or drop those rows")
    return values


def check_minimiser(grad, max_abs_x, grad_rtol):
    """Refuse parameters that do not minimise R on the data given.

    Every influence formula is a derivative at the minimiser, so the gradient of
    R must vanish: ``max|grad R| <= grad_rtol * max(1, max|X|)``.
    """
    grad_rtol = check_nonneg_float(grad_rtol, "grad_rtol")
    worst = float(np.max(np.abs(grad)))
    bound = grad_rtol * max(1.0, max_abs_x)
    if worst > bound:
        raise InputError(
            f"model: its parameters do not minimise the penalised risk on (X, y) "
            f"(max|grad R| = {worst:.2e} > grad_rtol * max(1, max|X|) = {bound:.2e}); influence "
            "formulas assume the exact minimiser, so pass the data the model was fitted on (and "
            "its sample_weight, if any), refit to a tighter tolerance, or loosen grad_rtol; for a "
            "network stopped early, at_minimiser=False with curvature='ggn' computes the damped "
            "Gauss-Newton response instead (docs/curvature.md)")
