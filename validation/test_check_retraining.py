"""First-order predictions against actual retraining: moving a point, deleting it,
and dropping random halves of the data (LDS)."""

from localinf import validation as V
from strategies import glm_data


def fit_binary(X, y):
    return V.fit_glm(X, y, 0.01)


def test_first_order_prediction_has_second_order_remainder():
    for seed, K in ((0, 2), (1, 3)):
        X, y = glm_data(seed, 120, 3, K)
        Xv, yv = glm_data(seed + 100, 200, 3, K)
        fit = lambda X, y: V.fit_glm(X, y, 0.01)
        for i in (0, 7):
            check = V.first_order_prediction(X, y, fit, i, Xv, yv)
            assert check.passed, check


def test_leave_one_out_matches_iv_and_classic_influence():
    X, y = glm_data(8, 200, 3, 2)
    Xv, yv = glm_data(9, 100, 3, 2)
    for check in V.leave_one_out(X, y, fit_binary, Xv, yv):
        assert check.passed, check


def test_lds_of_iv_on_random_halves():
    X, y = glm_data(3, 150, 4, 2)
    Xv, yv = glm_data(4, 300, 4, 2)
    check = V.lds(X, y, fit_binary, Xv, yv, n_subsets=40)
    assert check.passed, check
