"""Checks of scalar arguments at the public boundary (private helpers).

Each returns the value as the type it stands for, or raises an InputError naming
the argument: a bool is never a number, a string never a bool, and a Python int
beyond the float range is refused rather than overflowing inside numpy.
"""

import math
import numbers

import numpy as np

from ..exceptions import InputError


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def finite_float(value):
    """``float(value)`` for a finite real number that is not a bool, else None.

    Python ints beyond the float range (``10**400``) and those ``np.isfinite`` cannot take
    (``10**30``) are handled: the first is None, the second its float.
    """
    if not _is_number(value):
        return None
    try:
        f = float(value)
    except (OverflowError, ValueError, TypeError):
        return None
    return f if math.isfinite(f) else None


def check_nonneg_float(value, name):
    """``float(value)`` if it is a finite number >= 0 (not a bool), else InputError naming ``name``.

    Parameters
    ----------
    value : object
    name : str

    Returns
    -------
    float
    """
    f = finite_float(value)
    if f is None or f < 0:
        raise InputError(f"{name} must be a finite number >= 0; got {value!r}")
    return f


def check_fraction(value, name, low_open=True, high_open=True):
    """``float(value)`` if it is a finite number in (0, 1) (ends as requested), else InputError.

    Parameters
    ----------
    value : object
    name : str
    low_open, high_open : bool, default True
        Whether 0 and 1 are excluded.

    Returns
    -------
    float
    """
    f = finite_float(value)
    ok = f is not None and (0 < f if low_open else 0 <= f) and (f < 1 if high_open else f <= 1)
    if not ok:
        interval = ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
        raise InputError(f"{name} must be a number in {interval}; got {value!r}")
    return f


def check_positive_int(value, name, minimum=1):
    """``int(value)`` if it is an integer >= ``minimum`` (not a bool), else InputError naming ``name``.

    Parameters
    ----------
    value : object
    name : str
    minimum : int, default 1

    Returns
    -------
    int
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise InputError(f"{name} must be {kind}; got {value!r}")
    return int(value)


SEED_MAX = 2**32 - 1


def check_seed(value, name="seed"):
    """A seed: an integer in ``[0, 2**32 - 1]`` (not a bool).

    The upper end is the one scikit-learn's ``random_state`` takes, so one seed serves numpy's
    ``default_rng`` and the scikit-learn estimators alike.

    Parameters
    ----------
    value : object
    name : str, default "seed"

    Returns
    -------
    int
    """
    seed = check_positive_int(value, name, minimum=0)
    if seed > SEED_MAX:
        raise InputError(f"{name} must be an integer in [0, 2**32 - 1]; got {value!r}")
    return seed


def check_bool(value, name):
    """``bool(value)`` if it is a bool (Python or numpy), else InputError naming ``name``.

    Strings such as ``'no'`` are refused rather than read as True.

    Parameters
    ----------
    value : object
    name : str

    Returns
    -------
    bool
    """
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def check_choice(value, name, choices):
    """``value`` if it is one of the strings ``choices``, else InputError naming ``name``.

    Only a ``str`` can match, so an array or a number never reaches an ``==`` test.

    Parameters
    ----------
    value : object
    name : str
    choices : sequence of str

    Returns
    -------
    str
    """
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"{name} must be one of {tuple(choices)}; got {value!r}")
    return value


def check_index(i, n, name="i"):
    """Row index ``i`` in ``-n..n-1`` as a non-negative int, else InputError.

    Parameters
    ----------
    i : object
    n : int
    name : str, default "i"

    Returns
    -------
    int
    """
    if not isinstance(i, numbers.Integral) or isinstance(i, (bool, np.bool_)):
        raise InputError(f"{name} must be an integer row index; got {i!r}")
    if not -n <= i < n:
        raise InputError(f"{name}={i} is out of range for {n} training rows")
    return int(i) % n


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
