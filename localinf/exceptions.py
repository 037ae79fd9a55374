"""Errors raised by localinf.

Every error names the offending argument and says what to do instead, so a
user never has to read a numpy traceback to learn that the input was wrong.
"""


class LocalInfluenceError(Exception):
    """Base class of the errors that localinf raises on purpose."""


class InputError(LocalInfluenceError, ValueError):
    """An argument has the wrong shape, type or values (NaN, inf, bad labels)."""


class PerfectSeparationError(LocalInfluenceError, ValueError):
    """The classes are (quasi-)separable, so with ``l2=0`` no maximum-likelihood
    estimate exists. Add a penalty (``l2 > 0``) or remove the separating feature."""


class SingularHessianError(LocalInfluenceError, ValueError):
    """The Hessian of the empirical risk at the fitted parameters is singular,
    usually because the design has linearly dependent columns and ``l2=0``."""


class NotConvergedError(LocalInfluenceError, RuntimeError):
    """The fit stopped before the gradient of the risk reached the tolerance.
    Influence formulas assume the exact minimiser, so no result is returned."""


class NotFittedError(LocalInfluenceError, ValueError):
    """A model was used before ``fit`` was called."""
