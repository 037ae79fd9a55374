"""Bad and extreme inputs for the contract tests, built from a valid one.

Builders -- :func:`bad_matrix`, :func:`bad_labels` -- with the
kinds they know in :data:`MATRIX_KINDS`, :data:`LABEL_KINDS`,
:data:`BAD_SCALARS` and :data:`BAD_OPTION_VALUES`; hypothesis strategies drawing
from them -- :func:`matrices`, :func:`labels`, :func:`scalars`,
:func:`option_values` -- each value a :class:`Bad` pair
``(kind, value)``, so a failing example prints its kind. hypothesis is a test
dependency, imported inside the strategy functions only.
"""

from typing import Any, NamedTuple

import numpy as np

__all__ = ["Bad", "MATRIX_KINDS", "LABEL_KINDS", "BAD_SCALARS", "BAD_OPTION_VALUES", "bad_matrix",
           "bad_labels", "matrices", "labels", "scalars", "option_values"]


class Bad(NamedTuple):
    """One drawn input: what kind of bad it is, and the value itself.

    Attributes
    ----------
    kind : str
        The name of the family (an entry of ``MATRIX_KINDS``, ``LABEL_KINDS``, ...).
    value : object
        The input to pass.
    """

    kind: str
    value: Any

    def __repr__(self):
        text = repr(self.value)
        if len(text) > 120:
            text = text[:100] + f"... ({type(self.value).__name__})"
        return f"Bad({self.kind!r}, {text})"


# -- matrices -----------------------------------------------------------------

MATRIX_KINDS = (
    "valid", "nan", "inf", "-inf", "scale_1e155", "scale_1e300", "scale_1e-300", "entry_1e300",
    "entry_1e155", "complex", "complex_real", "masked", "masked_nothing", "object", "str", "empty",
    "1-D", "3-D", "extra_column", "missing_column", "no_columns", "list", "ragged_list", "scalar",
    "none", "bool", "int", "float32", "fortran", "reversed_rows", "constant_column",
    "duplicate_column", "dataframe", "df_reordered", "df_missing", "df_extra", "df_renamed",
    "df_duplicate_columns", "df_text_column", "df_nullable_int", "df_bool_column",
)
"""Every family :func:`bad_matrix` builds (``"valid"`` and a few others are valid inputs)."""


def bad_matrix(X, kind, row=0, col=0):
    """A bad or extreme variant of a valid matrix.

    Parameters
    ----------
    X : ndarray (n, d)
        A valid input (finite floats, n >= 1, d >= 2 for the column variants).
    kind : str
        One of :data:`MATRIX_KINDS`: ``"nan"``, ``"inf"``, ``"-inf"`` (one entry),
        ``"scale_1e155"`` / ``"scale_1e300"`` / ``"scale_1e-300"`` (the whole matrix
        scaled), ``"entry_1e300"`` / ``"entry_1e155"`` (one entry), ``"complex"``
        (a non-zero imaginary part), ``"complex_real"`` (complex dtype, zero
        imaginary part), ``"masked"`` (one entry masked), ``"masked_nothing"``,
        ``"object"`` / ``"str"`` dtypes, ``"empty"`` (no rows), ``"1-D"``,
        ``"3-D"``, ``"extra_column"``, ``"missing_column"``, ``"no_columns"``,
        ``"list"`` (lists of lists), ``"ragged_list"``, ``"scalar"``, ``"none"``,
        ``"bool"``, ``"int"``, ``"float32"``, ``"fortran"``, ``"reversed_rows"``,
        ``"constant_column"``, ``"duplicate_column"`` (collinear), and
        DataFrames with columns ``x0..x{d-1}``: ``"dataframe"``, with columns
        ``"df_reordered"``, ``"df_missing"``, ``"df_extra"``, ``"df_renamed"``,
        ``"df_duplicate_columns"``, a ``"df_text_column"``, a
        ``"df_nullable_int"`` column (pandas ``Int64``) or a ``"df_bool_column"``.
    row, col : int, default 0
        Where a single bad entry goes (taken modulo the shape).

    Returns
    -------
    object
        The variant (an ndarray, masked array, list, DataFrame, scalar or None).
    """
    X = np.array(X, dtype=np.float64)
    n, d = X.shape
    i, j = row % n, col % d
    names = [f"x{k}" for k in range(d)]

    def entry(value):
        A = X.copy()
        A[i, j] = value
        return A

    def frame(A, columns=None):
        import pandas as pd
        return pd.DataFrame(A, columns=columns if columns is not None else names[:A.shape[1]])

    simple = {
        "valid": lambda: X.copy(),
        "nan": lambda: entry(np.nan),
        "inf": lambda: entry(np.inf),
        "-inf": lambda: entry(-np.inf),
        "scale_1e155": lambda: X * 1e155,
        "scale_1e300": lambda: X * 1e300,
        "scale_1e-300": lambda: X * 1e-300,
        "entry_1e300": lambda: entry(1e300),
        "entry_1e155": lambda: entry(1e155),
        "complex": lambda: X + 1j,
        "complex_real": lambda: X.astype(complex),
        "masked": lambda: np.ma.masked_array(X, mask=(np.arange(n * d) == i * d + j).reshape(n, d)),
        "masked_nothing": lambda: np.ma.masked_array(X, mask=np.zeros_like(X, dtype=bool)),
        "object": lambda: X.astype(object),
        "str": lambda: X.astype(str),
        "empty": lambda: X[:0].copy(),
        "1-D": lambda: X[:, j].copy(),
        "3-D": lambda: X[None].copy(),
        "extra_column": lambda: np.hstack([X, X[:, :1] + 1.0]),
        "missing_column": lambda: X[:, :-1].copy(),
        "no_columns": lambda: X[:, :0].copy(),
        "list": lambda: X.tolist(),
        "ragged_list": lambda: [r[:-1] if k == i else r for k, r in enumerate(X.tolist())],
        "scalar": lambda: float(X[i, j]),
        "none": lambda: None,
        "bool": lambda: X > np.median(X, axis=0),
        "int": lambda: np.round(X).astype(np.int64),
        "float32": lambda: X.astype(np.float32),
        "fortran": lambda: np.asfortranarray(X),
        "reversed_rows": lambda: X[::-1],
        "constant_column": lambda: np.where(np.arange(d) == j, 1.0, X),
        "duplicate_column": lambda: np.where(np.arange(d) == (j + 1) % d, X[:, [j]], X),
        "dataframe": lambda: frame(X),
        "df_reordered": lambda: frame(X)[names[::-1]],
        "df_missing": lambda: frame(X[:, 1:], names[1:]),
        "df_extra": lambda: frame(np.hstack([X, X[:, :1]]), names + ["extra"]),
        "df_renamed": lambda: frame(X, [f"col{k}" for k in range(d)]),
        "df_duplicate_columns": lambda: frame(X, [names[0]] + names[:-1]),
        "df_text_column": lambda: frame(X).assign(**{names[j]: [f"t{k}" for k in range(n)]}),
        "df_nullable_int": lambda: frame(X).assign(**{names[j]: np.round(X[:, j]).astype("int64")})
                                           .astype({names[j]: "Int64"}),
        "df_bool_column": lambda: frame(X).assign(**{names[j]: X[:, j] > 0}),
    }
    if kind not in simple:
        raise ValueError(f"unknown matrix kind {kind!r}; choose from {MATRIX_KINDS}")
    return simple[kind]()


def matrices(X, kinds=MATRIX_KINDS):
    """Strategy: :class:`Bad` variants of ``X`` (:func:`bad_matrix`), the kind drawn first.

    Parameters
    ----------
    X : ndarray (n, d)
        A valid input.
    kinds : sequence of str, default MATRIX_KINDS

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of ``Bad(kind, value)``.
    """
    from hypothesis import strategies as st
    n, d = np.shape(X)

    @st.composite
    def draw_one(draw):
        kind = draw(st.sampled_from(list(kinds)))
        row, col = draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))
        return Bad(kind, bad_matrix(X, kind, row, col))
    return draw_one()


# -- labels -------------------------------------------------------------------

LABEL_KINDS = (
    "valid", "shifted", "shifted_down", "huge_1e6", "huge_3e8", "float_half", "float_integral",
    "bool", "str", "object", "too_short", "too_long", "single_class", "nan", "inf", "column",
    "two_columns", "empty", "list", "complex", "series", "series_str", "huge_int64", "gap",
)
"""Every family :func:`bad_labels` builds (``"valid"``, ``"float_integral"``,
``"column"`` (n, 1), ``"list"`` and ``"series"`` are valid inputs; ``"bool"`` is
valid for binary labels)."""


def bad_labels(y, kind, row=0):
    """A bad or extreme variant of valid labels 0..K-1.

    Parameters
    ----------
    y : ndarray of int (n,)
        Valid labels with every class present.
    kind : str
        One of :data:`LABEL_KINDS`: ``"shifted"`` (1..K), ``"shifted_down"``
        (-1..K-2), ``"huge_1e6"`` / ``"huge_3e8"`` / ``"huge_int64"`` (one label
        set to 1e6, 3e8 or 2**62), ``"gap"`` (the top class renumbered K + 1),
        ``"float_half"`` (one label + 0.5), ``"float_integral"``, ``"bool"``,
        ``"str"``, ``"object"``, ``"too_short"``, ``"too_long"``,
        ``"single_class"``, ``"nan"``, ``"inf"``, ``"column"`` (n, 1),
        ``"two_columns"`` (n, 2), ``"empty"``, ``"list"``, ``"complex"``,
        ``"series"``, ``"series_str"``.
    row : int, default 0
        Which label a single-entry change touches (modulo n).

    Returns
    -------
    object
        The variant.
    """
    y = np.array(y, dtype=np.int64)
    n = y.size
    i = row % n

    def entry(value, dtype=np.float64):
        a = y.astype(dtype)
        a[i] = value
        return a

    def series(a):
        import pandas as pd
        return pd.Series(a)

    simple = {
        "valid": lambda: y.copy(),
        "shifted": lambda: y + 1,
        "shifted_down": lambda: y - 1,
        "huge_1e6": lambda: entry(1e6),
        "huge_3e8": lambda: entry(3e8),
        "huge_int64": lambda: entry(2 ** 62, np.int64),
        "gap": lambda: np.where(y == y.max(), y.max() + 2, y),
        "float_half": lambda: entry(y[i] + 0.5),
        "float_integral": lambda: y.astype(np.float64),
        "bool": lambda: y.astype(bool),
        "str": lambda: y.astype(str),
        "object": lambda: y.astype(object),
        "too_short": lambda: y[:-1].copy(),
        "too_long": lambda: np.r_[y, y[:1]],
        "single_class": lambda: np.zeros_like(y),
        "nan": lambda: entry(np.nan),
        "inf": lambda: entry(np.inf),
        "column": lambda: y[:, None].copy(),
        "two_columns": lambda: np.column_stack([y, y]),
        "empty": lambda: y[:0].copy(),
        "list": lambda: y.tolist(),
        "complex": lambda: y.astype(complex),
        "series": lambda: series(y),
        "series_str": lambda: series(np.array(["a", "b", "c", "d", "e"])[y % 5]),
    }
    if kind not in simple:
        raise ValueError(f"unknown label kind {kind!r}; choose from {LABEL_KINDS}")
    return simple[kind]()


def labels(y, kinds=LABEL_KINDS):
    """Strategy: :class:`Bad` variants of ``y`` (:func:`bad_labels`).

    Parameters
    ----------
    y : ndarray of int (n,)
    kinds : sequence of str, default LABEL_KINDS

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of ``Bad(kind, value)``.
    """
    from hypothesis import strategies as st
    n = np.size(y)

    @st.composite
    def draw_one(draw):
        kind = draw(st.sampled_from(list(kinds)))
        return Bad(kind, bad_labels(y, kind, draw(st.integers(0, n - 1))))
    return draw_one()


# -- scalar keywords and command-line option values ---------------------------

BAD_SCALARS = (
    ("true", True), ("false", False), ("np_true", np.bool_(True)), ("str_number", "1"),
    ("str_word", "abc"), ("none", None), ("nan", float("nan")), ("inf", float("inf")),
    ("-inf", float("-inf")), ("negative_int", -1), ("negative_float", -0.5), ("zero_int", 0),
    ("zero_float", 0.0), ("tiny", 1e-300), ("huge_float", 1e300), ("huge_int", 10 ** 30),
    ("one_and_half", 1.5), ("np_int", np.int64(3)), ("np_float", np.float64(0.25)),
    ("complex", 1 + 0j), ("list", [1]), ("array", np.array([0.5, 0.5])), ("ndarray_0d", np.array(2)),
)
"""``(kind, value)`` pairs for a scalar keyword: some valid for some keywords (0, 1.5, 3),
most bad for all (bool, str, None, nan, +-inf, negative, 1e300, 10**30, complex, a list)."""


def scalars(exclude=(), extra=()):
    """Strategy: :class:`Bad` scalar keyword values from :data:`BAD_SCALARS`.

    Parameters
    ----------
    exclude : sequence of str, default ()
        Kinds to leave out -- for instance ``("huge_int",)`` for a count of work
        (epochs, seeds averaged over) whose huge valid values would run for ever.
    extra : sequence of (str, object), default ()
        Further ``(kind, value)`` pairs for this keyword (its valid choices, a
        misspelt one, values at the edge of its range).

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of ``Bad(kind, value)``.
    """
    from hypothesis import strategies as st
    pairs = [(k, v) for k, v in BAD_SCALARS if k not in set(exclude)] + list(extra)
    return st.sampled_from([Bad(k, v) for k, v in pairs])


BAD_OPTION_VALUES = ("-1", "0", "1", "2", "1.5", "0.5", "-0.5", "nan", "inf", "-inf", "1e300",
                     "1e-300", "abc", "", " ", "0x10", "1_000", "10000000000000000000000",
                     "3,2", "5,,3", "1,2,3", "-0", "+3", "1e3", "\u0663")
"""Text values for a command-line option (one is the Arabic-Indic digit three, which
Python's ``int`` accepts)."""


def option_values(extra=(), exclude=()):
    """Strategy: text values for a command-line option, from :data:`BAD_OPTION_VALUES`.

    Parameters
    ----------
    extra : sequence of str, default ()
        Further values for this option (for instance a list of the right length).
    exclude : sequence of str, default ()
        Values to leave out.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of str.
    """
    from hypothesis import strategies as st
    return st.sampled_from([v for v in list(BAD_OPTION_VALUES) + list(extra) if v not in set(exclude)])


# -- small data files for the command line ------------------------------------
