"""Shared helpers of the unit tests: seeded problems and a hypothesis strategy."""

import numpy as np
from hypothesis import strategies as st


def make_problem(seed, n, d, K, scale=1.0, signal=1.0):
    """Random multinomial-logit data with overlapping classes (labels drawn from the model)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.exp(rng.uniform(-1, 1, size=d)) * scale
    W = rng.normal(size=(d, K)) * signal / np.sqrt(d) / scale
    logits = X @ W
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(K, p=pr) for pr in P])
    y[:K] = np.arange(K)  # every class present
    return X, y


@st.composite
def problems(draw, max_n=40, max_d=4, max_K=4, allow_zero_l2=True):
    """Small well-posed problems: (X, y, K, l2, fit_intercept)."""
    K = draw(st.integers(2, max_K))
    d = draw(st.integers(1, max_d))
    n = draw(st.integers(max(12, 4 * d * (K - 1)), max(max_n, 4 * d * (K - 1) + 1)))
    l2 = draw(st.sampled_from([0.0, 0.01, 0.3])) if allow_zero_l2 else draw(st.sampled_from([0.01, 0.3]))
    fit_intercept = draw(st.booleans())
    seed = draw(st.integers(0, 2 ** 31 - 1))
    scale = draw(st.sampled_from([0.1, 1.0, 10.0]))
    X, y = make_problem(seed, n, d, K, scale=scale)
    return X, y, K, l2, fit_intercept
