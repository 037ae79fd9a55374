"""Fits and classic diagnostics against statsmodels."""

from hypothesis import assume, given, strategies as st

import localinf as li
from localinf import validation as V
from strategies import glm_data


@given(st.integers(0, 10_000), st.integers(1, 4), st.integers(2, 4))
def test_fits_and_cook_match_statsmodels(seed, d, K):
    X, y = glm_data(seed, 150, d, K)
    try:
        checks = V.statsmodels_agreement(X, y)
    except li.PerfectSeparationError:
        assume(False)
    for check in checks:
        assert check.passed, check
