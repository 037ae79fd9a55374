"""Options that cannot be misspelt (private): frozen dataclasses validated once.

An options class lists each option as a field with its default and a check
(``option(default, check)``). :meth:`Options.coerce` turns what a user passed
(None, a dict, or an instance) into a validated instance: an unknown key, or a
value of the wrong type or range, is one :class:`~localinf.InputError` naming
the argument and the option.
"""

import dataclasses
import numbers
from collections.abc import Mapping

from ..exceptions import InputError
from .scalars import finite_float


def option(default, check):
    """A dataclass field with a default and a check ``check(value) -> None or requirement``."""
    return dataclasses.field(default=default, metadata={"check": check})


def finite_nonneg(v):
    """Requirement text unless ``v`` is a finite real number >= 0."""
    f = finite_float(v)
    return None if f is not None and f >= 0 else "a finite number >= 0"


def finite_positive(v):
    """Requirement text unless ``v`` is a finite real number > 0."""
    f = finite_float(v)
    return None if f is not None and f > 0 else "a finite number > 0"


def optional_finite_positive(v):
    """Requirement text unless ``v`` is None or a finite real number > 0."""
    return None if v is None else finite_positive(v)


def positive_int(v):
    """Requirement text unless ``v`` is an integer >= 1 (bool excluded)."""
    ok = isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
    return None if ok else "an integer >= 1"


def optional_positive_int(v):
    """Requirement text unless ``v`` is None or an integer >= 1."""
    return None if v is None else positive_int(v)


def nonneg_int(v):
    """Requirement text unless ``v`` is an integer >= 0 (bool excluded)."""
    ok = isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0
    return None if ok else "an integer >= 0"


def boolean(v):
    """Requirement text unless ``v`` is True or False."""
    return None if isinstance(v, bool) else "True or False"


class Options:
    """Base of localinf's options dataclasses: each field is checked on construction.

    Subclasses are ``@dataclasses.dataclass(frozen=True)`` classes whose fields
    come from :func:`option`, and name what they configure in ``applies_to``.
    """

    applies_to = "this choice"

    def __post_init__(self):
        for f in dataclasses.fields(self):
            check = f.metadata.get("check")
            value = getattr(self, f.name)
            need = check(value) if check is not None else None
            if need is not None:
                raise InputError(f"{type(self).__name__}.{f.name} must be {need}; got {value!r}")

    @classmethod
    def coerce(cls, value, argument, applies_to=None):
        """A validated instance from None (the defaults), a dict, or an instance.

        Parameters
        ----------
        value : None, Mapping or instance of ``cls``
        argument : str
            Name of the user's argument, for the error message.
        applies_to : str, optional
            What the options configure, for the message (default ``cls.applies_to``).

        Returns
        -------
        instance of ``cls``
        """
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise InputError(f"{argument} must be a dict or a {cls.__name__}; got {type(value).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(str(k) for k in value if k not in names)
        if unknown:
            raise InputError(f"{argument}: unknown option(s) {unknown} for {applies_to or cls.applies_to}; "
                             f"valid options: {', '.join(names) or 'none'}")
        try:
            return cls(**value)
        except InputError as exc:
            raise InputError(f"{argument}: {exc}") from None
