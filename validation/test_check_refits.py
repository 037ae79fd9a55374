"""Derivatives against finite differences of full refits (GLMs and small networks)."""

from hypothesis import assume, example, given, settings

import localinf as li
from localinf import validation as V
from strategies import glm_problems, mlp_problem, mlp_problems


@given(glm_problems(max_n=30, max_d=3, allow_zero_l2=False))
def test_glm_D_g_G_match_refits(problem):
    X, y, l2, fit_intercept = problem
    fit = lambda X, y: V.fit_glm(X, y, l2, fit_intercept)
    try:
        model = fit(X, y)
    except li.PerfectSeparationError:
        assume(False)
    assume(li.LocalInfluence(model, X, y).H_inv_.condition_number < 1e6)
    checks = V.refit_derivatives(X, y, fit, 0) + V.refit_derivatives(X, y, fit, len(y) - 1)
    assume(checks)  # at least one row resolvable by a finite step
    for check in checks:
        assert check.passed, check


# Each example refits a network 6 d times per row or more: a fifth of the profile's examples.
@settings(max_examples=max(2, settings.default.max_examples // 5))
@given(mlp_problems())
# A soft direction (lambda_min(H) = 9e-6) makes theta(omega) strongly non-linear:
# a fixed step of 1e-3 left 2e-4 of truncation error in D_i (found by the thorough profile).
@example(mlp_problem(6096, (4, 3), "softplus"))
def test_mlp_D_g_G_match_warm_started_refits(problem):
    """Refits start from theta_hat and are polished by Newton to round-off, so they
    follow the same local minimum; steps are halved until the extrapolation settles."""
    X, y, hidden, activation, l2 = problem
    kw = dict(hidden=hidden, activation=activation, l2=l2)
    try:
        model = li.fit_mlp(X, y, **kw)
    except li.NotConvergedError:
        assume(False)
    inf = li.LocalInfluence(model, X, y)
    assume(inf.H_inv_.condition_number < 1e6)
    start = model.unflatten(model.theta_)
    fit = lambda X, y: li.fit_mlp(X, y, init=start, **kw)
    checks = V.refit_derivatives(X, y, fit, 0) + V.refit_derivatives(X, y, fit, 17)
    assume(checks)
    for check in checks:
        assert check.passed, check
