"""Metamorphic properties: data transformations with a known effect on the scores,
and Theorem 1 in both directions."""

import numpy as np
from hypothesis import assume, given, strategies as st

import localinf as li
from localinf import validation as V
from strategies import glm_data, glm_problems


@given(glm_problems(max_n=30, near_separable=False))
def test_metamorphic_relations(problem):
    X, y, l2, fit_intercept = problem
    assume(fit_intercept)  # translation needs the unpenalised intercept
    try:
        inf = li.LocalInfluence(V.fit_glm(X, y, l2), X, y)
    except (li.PerfectSeparationError, li.SingularHessianError):
        assume(False)
    assume(inf.H_inv_.condition_number < 1e6)
    for check in V.metamorphic(X, y, l2):
        assert check.passed, check


@given(st.integers(0, 10_000), st.sampled_from([(2, 3), (3, 4), (4, 2), (3, 2), (2, 1)]))
def test_theorem_1_invariance_iff_g_in_range(seed, Kd):
    K, d = Kd
    X, y = glm_data(seed, 60, d, K)
    rng = np.random.default_rng(seed)
    Q1 = np.linalg.qr(rng.normal(size=(d, d)))[0]
    Q2 = np.linalg.qr(rng.normal(size=(d, d)))[0]
    J = Q1 @ np.diag(np.exp(rng.uniform(-1.5, 1.5, size=d))) @ Q2
    check = V.invariance_iff_range(X, y, 0.01, J)
    assert check.passed, check
