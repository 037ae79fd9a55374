"""Derivatives against refits: D_i, g_i and G_i by finite differences, and the
first-order prediction of the validation loss against retraining."""

import numpy as np

from ..measures.local_influence import LocalInfluence
from .check import Check


def refit_derivatives(X, y, fit, i, make=None, h_rel=1e-3, tol=1e-5, Xv=None, yv=None,
                      max_levels=5):
    """D_i, g_i and G_i against Richardson-extrapolated central differences of full refits.

    ``fit(X, y) -> model`` refits on perturbed data (warm-started for
    networks). Central quotients ``Q(h)`` are taken at steps ``h_k = h / 2^k``
    (``h = h_rel`` times the column's spread); ``R_k = (4 Q(h_k) - Q(h_{k-1})) / 3``
    removes the O(h^2) term and leaves ``c h_k^4``. Since ``R_{k-1} - R_k``
    is ``15 c h_k^4`` to leading order, ``|R_{k-1} - R_k| / 15`` estimates the
    error of ``R_k``; steps are halved until that estimate is below ``tol / 4``
    for all three quantities (at most ``max_levels`` steps).

    Why not a fixed step: ``c`` grows with the inverse of H's smallest
    eigenvalues (theta moves along soft directions non-linearly), so a step
    that suffices for a well-curved problem leaves 1e-4 of truncation error on
    a network with a soft direction (seen at lambda_min(H) = 9e-6, h_rel =
    1e-3). The refits' own error, amplified by 1/h, stays near
    ``eps * cond(H) / h`` ~ 1e-6 at the smallest step for cond(H) < 1e6, so
    the comparison is held to ``tol = 1e-5`` relative to the largest entry.

    Returns an empty list when the row is too well fitted for any step to
    move theta measurably (|D_i| h below 1e-9 of |theta|), or when the
    extrapolation has not settled at the smallest step (the row cannot be
    resolved by finite differences; the estimate is then above tol / 4).

    Parameters
    ----------
    X, y, fit, make
        The common parameters (see :mod:`localinf.validation`).
    i : int
        The training row perturbed.
    h_rel : float, default 1e-3
        First step, relative to each column's spread.
    tol : float, default 1e-5
    Xv, yv : ndarray, optional
        Validation data for g_i (default: every other training row).
    max_levels : int, default 5
        Most step halvings.

    Returns
    -------
    list of Check
        Three (D_i, g_i, G_i), each with its finite-difference estimate in
        ``extra["estimate"]``, or none when the row cannot be resolved.
    """
    make = make or LocalInfluence
    model = fit(X, y)
    inf = make(model, X, y)
    Xv, yv = (X[::2], y[::2]) if Xv is None else (Xv, yv)
    n, d = X.shape
    K = inf.K_
    D, g, G = inf.dtheta_domega(i), inf.gradient(i, Xv, yv).mean(axis=0), inf.metric(i)
    theta = model.theta_
    if 2 * h_rel * X.std(axis=0).min() * np.max(np.abs(D)) <= 1e-9 * max(1.0, np.max(np.abs(theta))):
        return []
    P = model.predict_proba(X[i:i + 1])[0]

    def quotients(h_scale):
        """(D, g, V) central quotients at steps h_scale * spread of each column."""
        D_q, g_q, V_q = np.empty_like(D), np.empty(d), np.empty((K, d))
        for j in range(d):
            h = h_scale * X[:, j].std()
            outs = []
            for s in (1, -1):
                Xp = X.copy()
                Xp[i, j] += s * h
                m = fit(Xp, y)
                logp = np.log(m.predict_proba(Xp[i:i + 1])[0])
                outs.append((m.theta_, m.loss(Xv, yv).mean(), logp))
            D_q[:, j], g_q[j], V_q[:, j] = [(a - b) / (2 * h) for a, b in zip(*outs)]
        return D_q, g_q, V_q

    rel = lambda a, b, ref: float(np.max(np.abs(a - b)) / np.max(np.abs(ref)))
    Q = [quotients(h_rel)]
    R, est = None, np.inf
    for k in range(1, max_levels):
        Q.append(quotients(h_rel / 2 ** k))
        R_new = [(4 * f - c) / 3 for f, c in zip(Q[k], Q[k - 1])]
        R_new[2] = (R_new[2].T * P) @ R_new[2]  # G from the log-probability gradients
        if R is not None:
            est = max(rel(a, b, ref) for a, b, ref in zip(R, R_new, (D, g, G))) / 15
        R = R_new
        if est <= tol / 4:
            break
    else:
        return []
    D_fd, g_fd, G_fd = R
    step = f"h = {h_rel / 2 ** k:.1e} x spread, extrapolation error ~{est:.0e}"
    return [Check("refit: D_i", rel(D, D_fd, D), tol, f"max|D - D_fd| / max|D| ({step})",
                  extra={"estimate": D_fd}),
            Check("refit: g_i", rel(g, g_fd, g), tol, f"max|g - g_fd| / max|g| ({step})",
                  extra={"estimate": g_fd}),
            Check("refit: G_i", rel(G, G_fd, G), tol, f"max|G - G_fd| / max|G| ({step})",
                  extra={"estimate": G_fd})]


def first_order_prediction(X, y, fit, i, Xv, yv, make=None, steps=(4e-2, 2e-2, 1e-2)):
    """The change of the mean validation loss after moving x_i by s u, against retraining.

    The prediction ``s g_i . u`` is first order, so the remainder ``r(s)`` of
    the retrained change is O(s^2): halving s divides it by ~4 (or more, when
    the second-order coefficient happens to be small). The check returns the
    observed order ``log2(r(s) / r(s/2))`` (averaged over the halvings); it
    must be at least 1.5 (error ``max(0, 2 - order)`` against 0.5). A wrong
    g_i leaves an O(s) remainder, order 1. ``u`` is the unit direction of g_i
    (the steepest one), steps are relative to the row's scale.

    Parameters
    ----------
    X, y, fit, Xv, yv, make
        The common parameters (see :mod:`localinf.validation`).
    i : int
        The training row moved.
    steps : tuple of float
        Step sizes s, relative to the row's scale, each half the one before.

    Returns
    -------
    Check
    """
    make = make or LocalInfluence
    model = fit(X, y)
    inf = make(model, X, y)
    g = inf.gradient(i, Xv, yv).mean(axis=0)
    u = g / np.linalg.norm(g)
    base = model.loss(Xv, yv).mean()
    scale = np.linalg.norm(X.std(axis=0))
    rem, pred, true = [], [], []
    for s in steps:
        Xp = X.copy()
        Xp[i] += s * scale * u
        actual = fit(Xp, y).loss(Xv, yv).mean() - base
        predicted = s * scale * (g @ u)
        pred.append(predicted)
        true.append(actual)
        rem.append(abs(actual - predicted))
    orders = [np.log2(a / b) for a, b in zip(rem[:-1], rem[1:])]
    order = float(np.mean(orders))
    return Check("first-order prediction vs retraining", max(0.0, 2.0 - order), 0.5,
                 f"observed order of the remainder {order:.2f} (2 expected); "
                 f"relative remainder at the smallest step {rem[-1] / abs(true[-1]):.1e}",
                 extra={"steps": list(steps), "predicted": pred, "actual": true})
