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
