"""Class labels of any hashable type, coded 0..K-1 by their position in ``classes_``.

A fitted model keeps its training labels in ``classes_``, sorted as
``numpy.unique`` sorts them; everything inside localinf works on the codes
0..K-1 (``classes_[0]`` is the reference class of the softmax
parameterisation). Integer labels 0..K-1 are their own codes.
"""

import numpy as np

from ..exceptions import InputError


def _short(values, k=5):
    values = list(values)
    text = ", ".join(map(repr, values[:k]))
    return text + (f", ... ({len(values)} in all)" if len(values) > k else "")


def _plain(v):
    """A numpy scalar as the Python value it holds (for messages)."""
    return v.item() if isinstance(v, np.generic) else v


def _label_array(y, name):
    """``y`` as a 1-D array of labels: missing, complex and non-integer numbers refused,
    integer-valued floats taken as integers."""
    if np.ma.isMaskedArray(y):
        if np.ma.getmaskarray(y).any():
            raise InputError(f"{name} is a masked array with masked entries; drop or fill them first")
        y = np.ma.getdata(y)
    try:
        a = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a 1-D array of class labels; conversion failed: {exc}") from None
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise InputError(f"{name} must be 1-D of shape (n_samples,); got shape {a.shape}")
    kind = a.dtype.kind
    if kind == "c":
        raise InputError(f"{name} holds complex numbers; class labels are integers, strings, bools "
                         "or other categories")
    if kind == "V":
        raise InputError(f"{name} has a structured dtype {a.dtype}; give one label per row")
    if kind == "f":
        if not np.isfinite(a).all():
            raise InputError(f"{name} contains NaN or inf; drop the unlabelled rows first")
        if not np.array_equal(a, np.round(a)):
            raise InputError(f"{name} must hold class labels; found non-integer values (a continuous "
                             "target?): labels are integers, strings, bools or other categories")
        if np.abs(a).max(initial=0.0) < 2.0 ** 62:
            a = a.astype(np.int64)
    if kind in "mM" and np.isnat(a).any():
        raise InputError(f"{name} contains NaT; drop the unlabelled rows first")
    if kind == "O":
        missing = [i for i, v in enumerate(a.tolist()) if v is None or (isinstance(v, float) and v != v)]
        if missing:
            raise InputError(f"{name} has missing labels (None or NaN) in rows {_short(missing)}; "
                             "drop the unlabelled rows first")
    return a


def class_labels(y, name, n_samples):
    """The distinct labels of ``y`` (sorted as ``numpy.unique`` sorts them) and y's codes.

    Parameters
    ----------
    y : array_like (n,)
        Labels of any hashable type: integers, strings, bools, ... Integer-valued
        floats count as integers; NaN, None and non-integer floats are refused.
    name : str
        The argument's name, for the error message.
    n_samples : int
        The required length (the rows of the matching X).

    Returns
    -------
    classes : ndarray (K,)
        Integer labels 0..K-1 give ``arange(K)``.
    codes : ndarray of int64 (n,)
        The position of each label in ``classes``.
    """
    a = _label_array(y, name)
    if a.shape[0] != n_samples:
        raise InputError(f"{name} has {a.shape[0]} entries but the matching X has {n_samples} rows")
    try:
        classes, codes = np.unique(a, return_inverse=True)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in a.tolist()})
        raise InputError(f"{name} mixes labels of types {kinds} that cannot be sorted against each "
                         "other; use labels of one type") from None
    return classes, np.asarray(codes, dtype=np.int64).reshape(-1)


def encode_labels(y, classes, name, n_samples=None):
    """Code labels by their position in a fitted model's ``classes``.

    Parameters
    ----------
    y : array_like (m,)
        Labels in the model's terms (as given to ``fit``).
    classes : array_like (K,)
        The model's ``classes_``, sorted.
    name : str
        The argument's name, for the error message.
    n_samples : int, optional
        The required length (the rows of the matching X).

    Returns
    -------
    ndarray of int64 (m,)
        Codes 0..K-1.

    Raises
    ------
    InputError
        Naming ``name`` and the labels that are not among ``classes``.
    """
    a = _label_array(y, name)
    if n_samples is not None and a.shape[0] != n_samples:
        raise InputError(f"{name} has {a.shape[0]} entries but the matching X has {n_samples} rows")
    classes = np.asarray(classes)
    kinds = a.dtype.kind + classes.dtype.kind
    if all(k in "biu" for k in kinds) or kinds in ("UU", "SS"):
        # sorted classes of a comparable dtype: a binary search per label
        at = np.clip(np.searchsorted(classes, a), 0, max(classes.size - 1, 0))
        codes = at.astype(np.int64)
        known = classes[at] == a if classes.size else np.zeros(a.shape, dtype=bool)
    else:  # objects, floats against strings, ...: by hash
        try:
            position = {c: j for j, c in enumerate(classes.tolist())}
            codes = np.fromiter((position.get(v, -1) for v in a.tolist()), dtype=np.int64,
                                count=a.shape[0])
        except TypeError as exc:
            raise InputError(f"{name} holds labels that are not hashable: {exc}") from None
        known = codes >= 0
    if not known.all():
        unknown = list(dict.fromkeys(_plain(v) for v in a[~known].tolist()))
        if classes.dtype.kind in "iu" and np.array_equal(classes, np.arange(classes.size)):
            raise InputError(f"{name} has labels {_short(unknown)} outside 0..{classes.size - 1}, "
                             "the classes the model was fitted on")
        raise InputError(f"{name} has labels {_short(unknown)} the model was not fitted on; its "
                         f"classes are [{_short(_plain(c) for c in classes.tolist())}]")
    return codes
