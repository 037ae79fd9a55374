"""Approximations converge to the exact computation: KFSVD in k, CG and LiSSA in effort."""

import localinf as li
from localinf import validation as V
from strategies import glm_data


def test_kfsvd_error_falls_with_k_and_vanishes_at_full_rank():
    import numpy as np
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 4))
    y = ((X[:, 0] ** 2 + X[:, 1] - X[:, 2] + 0.3 * rng.normal(size=30)) > 0.5).astype(int)
    model = li.fit_mlp(X, y, hidden=(4,), activation="tanh", l2=3e-3)
    for split in (False, True):
        for check in V.kfsvd_convergence(X, y, model, X[::2], y[::2], exact_input_layer=split):
            assert check.passed, check


def test_cg_and_lissa_converge_to_the_exact_solve():
    X, y = glm_data(3, 80, 3, 3)
    model = li.SoftmaxRegression(l2=0.05).fit(X, y)
    for check in V.iterative_solvers(X, y, model):
        assert check.passed, check
