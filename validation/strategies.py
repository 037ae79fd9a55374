"""Hypothesis strategies for well-posed influence problems.

Every strategy draws a handful of small integers and flags, then builds the data
from a seeded generator, so a failing example shrinks to a readable case
(small n, d, K, the simplest scaling) and can be rebuilt from its printout.
"""

import numpy as np
from hypothesis import strategies as st


def glm_data(seed, n, d, K, scale=1.0, corr=0.0, balance=0.0, signal=1.0):
    """Multinomial-logit data.

    scale : spread of column scales (columns scaled by exp(U(-1, 1)) * scale)
    corr : correlation between features (equicorrelated Gaussian design)
    balance : shift of the class-0 logit; large values make class 0 rare
    signal : size of the true coefficients; large values approach separation
    """
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, d))
    if d > 1 and corr:
        L = np.linalg.cholesky((1 - corr) * np.eye(d) + corr * np.ones((d, d)))
        Z = Z @ L.T
    X = Z * np.exp(rng.uniform(-1, 1, size=d)) * scale
    W = rng.normal(size=(d, K)) * signal / np.sqrt(d) / scale
    logits = X @ W
    logits[:, 0] -= balance
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    y[:K] = np.arange(K)  # every class present
    return X, y


@st.composite
def glm_problems(draw, max_n=40, max_d=4, max_K=4, allow_zero_l2=True, near_separable=True):
    """(X, y, l2, fit_intercept) for logistic or softmax regression.

    Near-separable problems (strong signal) always carry a penalty, so the
    fit exists.
    """
    K = draw(st.integers(2, max_K))
    d = draw(st.integers(1, max_d))
    n = draw(st.integers(max(12, 4 * d * (K - 1)), max(max_n, 4 * d * (K - 1) + 1)))
    signal = draw(st.sampled_from([1.0, 8.0] if near_separable else [1.0]))
    l2_choices = [0.01, 0.3] + ([0.0] if allow_zero_l2 and signal == 1.0 else [])
    l2 = draw(st.sampled_from(l2_choices))
    fit_intercept = draw(st.booleans())
    scale = draw(st.sampled_from([1.0, 0.1, 10.0]))
    corr = draw(st.sampled_from([0.0, 0.5, 0.9]))
    balance = draw(st.sampled_from([0.0, 1.5]))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    X, y = glm_data(seed, n, d, K, scale=scale, corr=corr, balance=balance, signal=signal)
    return X, y, l2, fit_intercept


@st.composite
def mlp_problems(draw):
    """(X, y, hidden, activation, l2) for a small smooth network (tanh or softplus)."""
    seed = draw(st.integers(0, 2 ** 31 - 1))
    hidden = draw(st.sampled_from([(3,), (4, 3)]))
    activation = draw(st.sampled_from(["tanh", "softplus"]))
    return mlp_problem(seed, hidden, activation)


def mlp_problem(seed, hidden, activation):
    """The network problem of :func:`mlp_problems` for one seed (for explicit examples)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 2))
    y = ((X[:, 0] ** 2 + X[:, 1] + 0.3 * rng.normal(size=40)) > 0.5).astype(int)
    y[:2] = [0, 1]  # both classes present
    return X, y, hidden, activation, 3e-3
