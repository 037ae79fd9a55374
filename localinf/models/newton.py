"""One damped Newton method, shared by the GLM fit and the polish of network fits.

Influence formulas are derivatives at the exact minimiser of the risk R, so
both fits end with Newton steps, which converge quadratically near a strict
minimum. The step is damped by a backtracking (Armijo) line search on R.
"""

import numpy as np

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
                    require_progress=False, final_steps=0):
    """Damped Newton's method until ``max|grad R| <= gtol``.

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

    Returns
    -------
    theta : ndarray (p,)
    state : tuple
        ``derivatives(theta)`` at the returned theta.
    n_iter : int
        Damped steps attempted.
    """
    state = derivatives(theta) if state is None else state
    worst = lambda s: float(np.max(np.abs(s[1])))
    n_iter = 0
    while n_iter < max_iter and worst(state) > gtol:
        step = solve(_hessian(state), state[1])
        if step is None:
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


def _hessian(state):
    H = state[2]
    return H() if callable(H) else H
