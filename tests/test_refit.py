"""Derivatives against central finite differences with full refits (rel. error <= 1e-5).

Step h = 1e-4 times the column's spread: the truncation error is O(h^2) ~ 1e-8
relative and the refits are exact to ~1e-14, so 1e-5 is a safe, derived bound.
"""

import numpy as np
from hypothesis import assume, given

import localinf as li
from conftest import problems

TOL = 1e-5


def refit(X, y, K, l2, fi):
    cls = li.LogisticRegression if K == 2 else li.SoftmaxRegression
    return cls(l2=l2, fit_intercept=fi).fit(X, y)


@given(problems(max_n=30, max_d=3, allow_zero_l2=False))
def test_D_g_and_G_match_refits(problem):
    X, y, K, l2, fi = problem
    model = refit(X, y, K, l2, fi)
    inf = li.LocalInfluence(model, X, y)
    assume(inf.H_inv_.condition_number < 1e6)
    Xv, yv = X[::2], y[::2]
    n, d = X.shape
    for i in (0, n - 1):
        h_all = 1e-4 * X.std(axis=0)
        D_fd = np.empty((model.theta_.size, d))
        gval_fd = np.empty(d)
        V_fd = np.empty((K, d))  # d/d omega of log P(c | x_i + omega, theta(omega))
        for j in range(d):
            h = h_all[j]
            outs = []
            for s in (+1, -1):
                Xp = X.copy()
                Xp[i, j] += s * h
                m = refit(Xp, y, K, l2, fi)
                outs.append((m.theta_, m.loss(Xv, yv).mean(), m.predict_log_proba(Xp[i:i + 1])[0]))
            D_fd[:, j] = (outs[0][0] - outs[1][0]) / (2 * h)
            gval_fd[j] = (outs[0][1] - outs[1][1]) / (2 * h)
            V_fd[:, j] = (outs[0][2] - outs[1][2]) / (2 * h)
        D = inf.dtheta_domega(i)
        assert np.max(np.abs(D - D_fd)) <= TOL * np.max(np.abs(D))
        # g_i for the mean validation loss is the average of g_i(z') over V
        g = inf.gradient(i, Xv, yv).mean(axis=0)
        assert np.max(np.abs(g - gval_fd)) <= TOL * np.max(np.abs(g))
        P = model.predict_proba(X[i:i + 1])[0]
        G_fd = (V_fd.T * P) @ V_fd
        G = inf.metric(i)
        assert np.max(np.abs(G - G_fd)) <= TOL * np.max(np.abs(G))


def test_iv_and_classic_influence_signs_match_deletion():
    """Deleting z_i changes the mean validation loss by ~ +IV_i/n and a test loss by ~ -I/n.

    The first-order error is O(1/n^2) per point, so with n = 200 the predicted
    and actual changes must agree in sign wherever the prediction is not tiny,
    and correlate almost perfectly.
    """
    from conftest import make_problem
    X, y = make_problem(8, 200, 3, 2)
    Xv, yv = make_problem(9, 100, 3, 2)
    n = len(y)
    model = li.LogisticRegression(l2=0.01).fit(X, y)
    inf = li.LocalInfluence(model, X, y)
    iv_pred = inf.influence_value(Xv, yv) / n
    ki_pred = -inf.influence(Xv[:1], yv[:1])[:, 0] / n
    base_val, base_test = model.loss(Xv, yv).mean(), model.loss(Xv[:1], yv[:1])[0]
    iv_true, ki_true = np.empty(n), np.empty(n)
    for i in range(n):
        keep = np.arange(n) != i
        m = li.LogisticRegression(l2=0.01).fit(X[keep], y[keep])
        iv_true[i] = m.loss(Xv, yv).mean() - base_val
        ki_true[i] = m.loss(Xv[:1], yv[:1])[0] - base_test
    for pred, true in ((iv_pred, iv_true), (ki_pred, ki_true)):
        assert np.corrcoef(pred, true)[0, 1] > 0.99
        big = np.abs(pred) > 0.1 * np.abs(pred).max()
        assert np.all(np.sign(pred[big]) == np.sign(true[big]))
