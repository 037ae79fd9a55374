"""One damped Newton method, shared by the GLM fit and the polish of network fits.

Influence formulas are derivatives at the exact minimiser of the risk R, so
both fits end with Newton steps, which converge quadratically near a strict
minimum. The step is damped by a backtracking (Armijo) line search on R.

A small gradient alone does not place theta near the minimiser: where R is
flat (nearly separable classes and a tiny penalty) the gradient is tiny while
the Newton step ``H^{-1} grad R``, the distance to the minimiser of the local
quadratic model, is not. So the stopping rule can also ask the Newton step to
be negligible (``step_size``), and :func:`predictive_change` measures a step
by what it does to the model's predictions.
"""

import numpy as np

from .._core.chunks import row_chunks

_EPS = np.finfo(float).eps


def armijo(value, theta, step, R, dec, min_step, c=1e-4):
    """Step length ``t`` in 1, 1/2, 1/4, ... with ``R(theta - t step) <= R - c t dec``.

    Parameters
    ----------
    value : callable
        ``value(theta) -> R(theta)``.
    theta, step : ndarray (p,)
    R : float
        ``R(theta)``.
    dec : float
        Predicted decrease ``grad R . step`` (> 0 for a descent direction).
    min_step : float
        Smallest t tried.
    c : float, default 1e-4

    Returns
    -------
    float or None
        The step length; 1.0 when ``dec`` is below round-off in R (the line
        search cannot see progress there, and the full Newton step is taken);
        None when no t >= min_step decreases R enough.
    """
    if dec <= 1e3 * _EPS * max(1.0, abs(R)):
        return 1.0
    t = 1.0
    while t >= min_step:
        if value(theta - t * step) <= R - c * t * dec:
            return t
        t *= 0.5
    return None


def newton_minimise(derivatives, value, theta, *, gtol, max_iter, solve, min_step, state=None,
                    require_progress=False, final_steps=0, step_size=None, step_tol=0.0):
    """Damped Newton's method until ``max|grad R| <= gtol`` and the Newton step is negligible.

    Parameters
    ----------
    derivatives : callable
        ``derivatives(theta) -> (R, grad R, H, ...)``; H may be a callable
        returning the Hessian, formed only when a step is taken. Extra entries
        are passed through in ``state``.
    value : callable
        ``value(theta) -> R`` (for the line search).
    theta : ndarray (p,)
        Starting point.
    gtol : float
        Stop when ``max|grad R| <= gtol``.
    max_iter : int
        Most damped steps.
    solve : callable
        ``solve(H, grad) -> step`` (p,), the Newton step ``H^{-1} grad``, or
        None to stop (e.g. H is not positive definite).
    min_step : float
        Smallest step length of the line search; below it the method stops.
    state : tuple, optional
        ``derivatives(theta)`` when the caller has it already.
    require_progress : bool, default False
        Stop instead of taking a step that does not lower ``max|grad R|``.
    final_steps : int, default 0
        Once ``gtol`` is met, up to this many full Newton steps while they lower
        ``||grad R||``: from the tolerance to round-off level.
    step_size : callable, optional
        ``step_size(theta, step) -> float``, the size of the Newton step
        ``step = H^{-1} grad R`` at theta (e.g. :func:`predictive_change`).
        When given, the method stops only once also
        ``step_size(theta, step) <= step_tol``; default: the gradient alone.
    step_tol : float, default 0
        See ``step_size``.

    Returns
    -------
    theta : ndarray (p,)
    state : tuple
        ``derivatives(theta)`` at the returned theta.
    n_iter : int
        Damped steps attempted. The caller judges convergence at the returned
        theta: the method also stops early when the line search or ``solve``
        gives up, or ``require_progress`` fails.
    """
    state = derivatives(theta) if state is None else state
    worst = lambda s: float(np.max(np.abs(s[1])))
    n_iter = 0
    while n_iter < max_iter:
        small = worst(state) <= gtol
        if small and step_size is None:
            break
        step = solve(_hessian(state), state[1])
        if step is None or small and step_size(theta, step) <= step_tol:
            break
        n_iter += 1
        t = armijo(value, theta, step, state[0], float(state[1] @ step), min_step)
        if t is None:
            break  # no descent left at this precision
        cand = theta - t * step
        new = derivatives(cand)
        if require_progress and worst(new) >= worst(state):
            break
        theta, state = cand, new
    if worst(state) <= gtol:
        for _ in range(final_steps):
            step = solve(_hessian(state), state[1])
            if step is None:
                break
            new = derivatives(theta - step)
            if np.linalg.norm(new[1]) >= np.linalg.norm(state[1]):
                break
            theta, state = theta - step, new
    return theta, state, n_iter


def predictive_change(log_proba_at, theta, step, X, chunk=None):
    """How much a step ``theta -> theta - step`` changes the predictions on X.

    The size of a Newton step that matters for influence values: they are
    built from the class probabilities and their derivatives, which change by
    a relative amount of about this much. It does not depend on the scale of
    the features or on the parameterisation.

    Parameters
    ----------
    log_proba_at : callable
        ``log_proba_at(theta, X_chunk) -> (m, K)`` log class probabilities.
    theta, step : ndarray (p,)
    X : ndarray (n, d)
        The training inputs.
    chunk : int, optional
        Rows per pass (default: all at once).

    Returns
    -------
    float
        ``max_{i, c} |log P(c|x_i; theta - step) - log P(c|x_i; theta)|``;
        inf when a value is not finite.
    """
    worst = 0.0
    for sl in row_chunks(X.shape[0], chunk or X.shape[0]):
        moved = float(np.max(np.abs(log_proba_at(theta - step, X[sl]) - log_proba_at(theta, X[sl]))))
        if not np.isfinite(moved):
            return np.inf
        worst = max(worst, moved)
    return worst


def _hessian(state):
    H = state[2]
    return H() if callable(H) else H
