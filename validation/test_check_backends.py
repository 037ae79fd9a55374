"""Backend against backend: the autograd backend must reproduce the reference exactly."""

from hypothesis import assume, given

import localinf as li
from localinf import validation as V
from strategies import glm_problems


def fitted(problem):
    X, y, l2, fit_intercept = problem
    try:
        model = V.fit_glm(X, y, l2, fit_intercept)
    except li.PerfectSeparationError:
        assume(False)
    assume(li.LocalInfluence(model, X, y).H_inv_.condition_number < 1e6)
    return X, y, model


@given(glm_problems(max_n=30))
def test_autograd_backend_equals_reference_on_glms(problem):
    X, y, model = fitted(problem)
    for check in V.backends_agree(X, y, model):
        assert check.passed, check


@given(glm_problems(max_n=30, max_K=2))
def test_a_broken_backend_is_caught(problem):
    """The check can fail: a backend whose Hessian is off by 1e-6 is flagged."""
    X, y, model = fitted(problem)

    def broken(model, X, y):
        inf = li.LocalInfluence(model, X, y, backend="autograd")
        H = inf.H_inv_.hessian * (1 + 1e-6)
        inf.H_inv_ = li.InverseHessian(H)
        return inf
    checks = V.backends_agree(X, y, model, make=broken)
    assert not all(c.passed for c in checks)
