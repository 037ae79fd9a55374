"""Derivatives against central finite differences with full refits (rel. error <= 1e-5).

A central difference errs by h^2 * (third derivative) / 6 from truncation,
plus delta / h with delta the refit's own error: ~1e-15 relative for Newton run
to round-off, amplified by cond(H), up to 1e6 here, so ~1e-10. No single h
keeps both under 1e-5 on every generated problem, so the h^2 term is removed
by Richardson extrapolation, (4 f(h/2) - f(h)) / 3, leaving O(h^4) ~ 1e-12 and
a round-off term ~1e-10 / h ~ 1e-7 for h = 1e-3 times the column's spread.
Rows whose derivatives are too small for any step to resolve are skipped
(see ``resolvable``); every example must check at least one row.
"""

import numpy as np
from hypothesis import assume, given

import localinf as li
from conftest import problems

TOL = 1e-5
H_STEP = 1e-3


def refit(X, y, K, l2, fi):
    cls = li.LogisticRegression if K == 2 else li.SoftmaxRegression
    return cls(l2=l2, fit_intercept=fi).fit(X, y)


def central_difference(X, y, i, j, h, K, l2, fi, Xv, yv):
    """(theta, mean validation loss, log P(.|x_i)) differentiated in x_ij by refits at +-h."""
    outs = []
    for s in (+1, -1):
        Xp = X.copy()
        Xp[i, j] += s * h
        m = refit(Xp, y, K, l2, fi)
        outs.append((m.theta_, m.loss(Xv, yv).mean(), m.predict_log_proba(Xp[i:i + 1])[0]))
    return [(a - b) / (2 * h) for a, b in zip(*outs)]


@given(problems(max_n=30, max_d=3, allow_zero_l2=False))
def test_D_g_and_G_match_refits(problem):
    X, y, K, l2, fi = problem
    model = refit(X, y, K, l2, fi)
    inf = li.LocalInfluence(model, X, y)
    assume(inf.H_inv_.condition_number < 1e6)
    Xv, yv = X[::2], y[::2]
    n, d = X.shape
    checked = 0
    for i in (0, n - 1):
        D_fd = np.empty((model.theta_.size, d))
        gval_fd = np.empty(d)
        V_fd = np.empty((K, d))  # d/d omega of log P(c | x_i + omega, theta(omega))
        for j in range(d):
            h = H_STEP * X[:, j].std()
            coarse = central_difference(X, y, i, j, h, K, l2, fi, Xv, yv)
            fine = central_difference(X, y, i, j, h / 2, K, l2, fi, Xv, yv)
            # Richardson: (4 f(h/2) - f(h)) / 3 cancels the h^2 term
            D_fd[:, j], gval_fd[j], V_fd[:, j] = [(4 * f - c) / 3 for f, c in zip(fine, coarse)]
        D = inf.dtheta_domega(i)
        g = inf.gradient(i, Xv, yv).mean(axis=0)  # g_i of the mean validation loss
        G = inf.metric(i)
        P = model.predict_proba(X[i:i + 1])[0]
        step = H_STEP * X.std(axis=0).min()
        if not resolvable(step, D, model.theta_, g, model.loss(Xv, yv).mean()):
            continue
        checked += 1
        assert np.max(np.abs(D - D_fd)) <= TOL * np.max(np.abs(D))
        assert np.max(np.abs(g - gval_fd)) <= TOL * np.max(np.abs(g))
        G_fd = (V_fd.T * P) @ V_fd
        assert np.max(np.abs(G - G_fd)) <= TOL * np.max(np.abs(G))
    assume(checked > 0)


def resolvable(h, D, theta, g, loss):
    """Whether a step h moves theta and the validation loss by >= 1e-9 of their size.

    Below that the change is within ~1e6 of the refits' round-off and a
    difference quotient cannot measure it (it happens for points the model fits
    almost perfectly, where D_i ~ 1e-10).
    """
    return (2 * h * np.max(np.abs(D)) > 1e-9 * max(1.0, np.max(np.abs(theta)))
            and 2 * h * np.max(np.abs(g)) > 1e-9 * max(1.0, loss))


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
