"""Errors raised by localinf.

Every error names the offending argument and says what to do instead, so a
user never has to read a numpy traceback to learn that the input was wrong.
"""


class LocalInfluenceError(Exception):
    """Base class of the errors that localinf raises on purpose."""


class InputError(LocalInfluenceError, ValueError):
    """An argument has the wrong shape, type or values (NaN, inf, bad labels)."""


class CheckpointError(InputError):
    """A checkpoint file cannot be used: it is malformed, was written by a run with
    other settings or data, or another run holds its lock. The message names the
    file and the remedy (delete it, or start over with ``restart=True``)."""


class PerfectSeparationError(LocalInfluenceError, ValueError):
    """The classes are (quasi-)separable, so with ``l2=0`` no maximum-likelihood
    estimate exists. Add a penalty (``l2 > 0``) or remove the separating feature.

    Also raised when a tiny penalty leaves the minimiser so far out, on a risk so
    flat, that the fit cannot reach it (its Newton step stays above ``step_tol``):
    set a larger ``l2`` or remove the separating feature."""


class SingularHessianError(LocalInfluenceError, ValueError):
    """The Hessian of the empirical risk at the fitted parameters is singular,
    usually because the design has linearly dependent columns and ``l2=0``."""


class NotConvergedError(LocalInfluenceError, RuntimeError):
    """The fit stopped before reaching the minimiser: the gradient of the risk
    was above its tolerance, or the Newton step ``H^{-1} grad R`` would still
    change the predictions by more than ``step_tol`` (a small gradient on a
    flat risk). Influence formulas assume the exact minimiser, so no result is
    returned; the message names the remedy (more iterations, a larger ``l2``,
    dropping collinear features, or rescaling)."""


class NotFittedError(LocalInfluenceError, ValueError):
    """A model was used before ``fit`` was called."""


class NumericalError(LocalInfluenceError, ArithmeticError):
    """A result is not finite (overflow or a 0/0) although every input was finite.

    The message names the rows concerned; typical causes are inputs so large
    that a squared norm exceeds the float range (|x| above ~1e150), or a
    degenerate design. Rescale the features, or drop the rows named."""


class BudgetError(LocalInfluenceError, MemoryError):
    """A computation would need more memory or arithmetic than the budget allows.

    Raised before anything is allocated, with the estimate and what to do
    (score fewer rows, a smaller pool, chunking, or a larger budget through
    ``localinf.set_budget``)."""



class InSampleWarning(UserWarning):
    """The validation rows are training rows, so FI_util and IV do not measure held-out loss.

    At the fitted minimiser the mean training-loss gradient is minus the
    penalty's gradient (zero without a penalty): a validation set made of the
    training rows has ``gbar_V`` at round-off level, and FI_util is round-off
    that still gets ranked. Use rows the model was not fitted on."""


class ApproximateFitWarning(UserWarning):
    """Influence is computed at parameters that are not a minimiser of the risk.

    ``LocalInfluence(..., at_minimiser=False)`` replaces every ``H^{-1}`` by
    ``(C + damping I)^{-1}`` for a positive semi-definite curvature C (the
    Gauss-Newton matrix or K-FAC). The values are then the response of one
    damped Gauss-Newton step from the given parameters, not derivatives of a
    minimiser (docs/curvature.md, "Influence at an approximate fit")."""
