"""Metamorphic relations and Theorem 1: transformations of the data with known effects."""

import numpy as np

from ..measures.invariance import check_invariance
from ..measures.local_influence import LocalInfluence
from .check import Check, fit_glm, rel_err, well_separated_rows


def metamorphic(X, y, l2, make=None, seed=0, tol=1e-7):
    """Transformations of the data that must transform the scores in a known way.

    * permuting training rows permutes FI_util and IV;
    * translating a feature (the intercept is not penalised) leaves them unchanged;
    * swapping two non-reference classes leaves them unchanged (the penalty is
      symmetric in classes 1..K-1), and with l2 = 0 any relabelling does (the
      maximum likelihood fit does not depend on the parameterisation);
    * duplicating every row keeps theta_hat and H, hence IV (the deletion
      effect IV/n halves), and halves D_i = -(1/n) H^{-1} M_i.
    The fits are to round-off and every formula is a smooth function of the
    data, so the tolerance is round-off amplified by cond(H) < 1e6: ``1e-7``.

    Parameters
    ----------
    X, y, make
        The common parameters (see :mod:`localinf.validation`); GLMs are fitted here.
    l2 : float
        Penalty of the GLM fits.
    seed : int, default 0
        Seed of the row permutation and the relabelling.
    tol : float, default 1e-7

    Returns
    -------
    list of Check
    """
    make = make or LocalInfluence
    rng = np.random.default_rng(seed)
    Xv, yv = X[::2], y[::2]
    K = int(np.max(y)) + 1
    base_inf = make(fit_glm(X, y, l2), X, y)
    ok = well_separated_rows(base_inf)
    fu, iv = base_inf.fi_util(Xv, yv), base_inf.influence_value(Xv, yv)
    out = []

    perm = rng.permutation(len(y))
    inf = make(fit_glm(X[perm], y[perm], l2), X[perm], y[perm])
    out.append(Check("metamorphic: permuted rows", max(rel_err(inf.fi_util(Xv, yv)[ok[perm]], fu[perm][ok[perm]]),
                                                       rel_err(inf.influence_value(Xv, yv), iv[perm])), tol))

    shift = np.zeros(X.shape[1])
    shift[0] = 3.0 * X[:, 0].std()
    inf = make(fit_glm(X + shift, y, l2), X + shift, y)
    out.append(Check("metamorphic: translated feature",
                     max(rel_err(inf.fi_util(Xv + shift, yv)[ok], fu[ok]),
                         rel_err(inf.influence_value(Xv + shift, yv), iv)), tol))

    if K >= 3:
        swap = np.arange(K)
        swap[[1, 2]] = [2, 1]
        inf = make(fit_glm(X, swap[y], l2), X, swap[y])
        out.append(Check("metamorphic: swapped non-reference classes",
                         max(rel_err(inf.fi_util(Xv, swap[yv])[ok], fu[ok]),
                             rel_err(inf.influence_value(Xv, swap[yv]), iv)), tol))
    if l2 == 0.0:
        relabel = rng.permutation(K)
        inf = make(fit_glm(X, relabel[y], 0.0), X, relabel[y])
        out.append(Check("metamorphic: relabelled classes (l2 = 0)",
                         max(rel_err(inf.fi_util(Xv, relabel[yv])[ok], fu[ok]),
                             rel_err(inf.influence_value(Xv, relabel[yv]), iv)), tol))

    X2, y2 = np.vstack([X, X]), np.concatenate([y, y])
    inf = make(fit_glm(X2, y2, l2), X2, y2)
    iv2 = inf.influence_value(Xv, yv)
    out.append(Check("metamorphic: duplicated data keeps IV, halves D_i",
                     max(rel_err(iv2[:len(y)], iv), rel_err(iv2[len(y):], iv),
                         rel_err(inf.dtheta_domega(0), base_inf.dtheta_domega(0) / 2)), tol))
    return out


# -- Theorem 1 ----------------------------------------------------------------------
def invariance_iff_range(X, y, l2, J, make=None, tol=1e-6):
    """Theorem 1 in both directions: FI is unchanged by ``omega = J nu`` exactly
    on the pairs whose g lies in range(G).

    For each pair the check compares ``rel_diff <= tol`` with
    ``range_residual <= tol`` and counts disagreements, on rows whose metric
    keeps all d eigenvalues in both coordinates or none of the rank cut-off
    issues arise (well-separated rows). Error: the fraction of pairs where the
    two disagree (must be 0). The tolerance 1e-6 sits far above round-off
    (eps cond(G) cond(J)^2 ~ 1e-10 for the problems generated) and far below
    the O(1) differences seen when the condition fails.

    Parameters
    ----------
    X, y, make
        The common parameters (see :mod:`localinf.validation`).
    l2 : float
        Penalty of the GLM fit.
    J : array_like (d, d)
        The reparameterisation ``omega = J nu``.
    tol : float, default 1e-6

    Returns
    -------
    Check
    """
    make = make or LocalInfluence
    inf = make(fit_glm(X, y, l2), X, y)
    res = check_invariance(inf, J, X[:4], y[:4])
    ok = well_separated_rows(inf, gap=1e-4)
    inv = res.rel_diff[ok] <= tol
    rng_ok = res.range_residual[ok] <= tol
    # pairs in the grey zone (either quantity within a factor 100 of tol) are not decisive
    decisive = ((np.abs(np.log10(res.rel_diff[ok] + 1e-300) - np.log10(tol)) > 2)
                & (np.abs(np.log10(res.range_residual[ok] + 1e-300) - np.log10(tol)) > 2))
    disagree = float(np.mean((inv != rng_ok)[decisive])) if decisive.any() else 0.0
    return Check("Theorem 1: invariant iff g in range(G)", disagree, 0.0,
                 f"fraction of {int(decisive.sum())} decisive pairs where invariance and "
                 f"range membership disagree; invariant pairs {int(np.sum(inv & decisive))}",
                 extra={"rel_diff": res.rel_diff[ok], "range_residual": res.range_residual[ok]})
