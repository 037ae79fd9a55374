"""A backend against the reference backend, quantity by quantity."""

import numpy as np

from ..measures.local_influence import LocalInfluence
from .check import Check, rel_err, well_separated_rows


def backends_agree(X, y, model, make=None, tol=1e-8):
    """The backend under test against the reference backend, quantity by quantity.

    Both compute the same closed-form quantities; the reference by explicit
    formulas, the other by its own route (autograd by default). Round-off is
    ~eps * cond(H) per solve; with cond(H) < 1e6 (callers check) that is
    < 1e-9, hence ``tol = 1e-8``. FI and classic influence of single query
    points add ``10 eps / min_q (1 - P(y_q|x_q))`` for the cancellation in
    the query's residual (near-separable data put P within 1e-9 of 1).

    Parameters
    ----------
    X, y, model
        The common parameters (see :mod:`localinf.validation`); the model is a GLM.
    make : callable, optional
        The backend under test; default: the autograd backend.
    tol : float, default 1e-8
        Base tolerance, widened per quantity for cancellation (above).

    Returns
    -------
    list of Check
        One per quantity: H, M_i, D_i, G_i, g_i, FI_util, FI, IV, influence,
        self-influence, Cook (two schemes) and, when every row is resolvable, FI_active.
    """
    make = make or (lambda m, X, y: LocalInfluence(m, X, y, backend="autograd"))
    ref = LocalInfluence(model, X, y)
    other = make(model, X, y)
    Xv, yv = X[::2], y[::2]
    ok = well_separated_rows(ref)
    n = len(y)
    # Per-row ingredients are compared on the worst-fitted row: their size carries the
    # residual 1 - P(y_i|x_i), formed by subtraction in both backends (relative error
    # ~eps / (1 - P)), so a row fitted to within 1e-12 cannot be compared at 1e-8.
    P_all = np.asarray(ref.backend_.proba(X))
    resid = 1.0 - P_all[np.arange(n), y]
    i = int(np.argmax(resid))
    pairs = {
        "H": (other.H_inv_.hessian, ref.H_inv_.hessian),
        "M_i": (other.mixed_partial(i), ref.mixed_partial(i)),
        "D_i": (other.dtheta_domega(i), ref.dtheta_domega(i)),
        "G_i": (other.metric(i), ref.metric(i)),
        "g_i": (other.gradient(i, Xv, yv), ref.gradient(i, Xv, yv)),
        "FI_util": (other.fi_util(Xv, yv)[ok], ref.fi_util(Xv, yv)[ok]),
        "FI": (other.fi(X[:3], y[:3])[ok], ref.fi(X[:3], y[:3])[ok]),
        "IV": (other.influence_value(Xv, yv), ref.influence_value(Xv, yv)),
        "influence": (other.influence(X[:2], y[:2]), ref.influence(X[:2], y[:2])),
        "self_influence": (other.self_influence(), ref.self_influence()),
        "Cook (case-weight)": (other.cook_local_influence(), ref.cook_local_influence()),
        "Cook (covariate 0)": (other.cook_local_influence("covariate", covariate=0),
                               ref.cook_local_influence("covariate", covariate=0)),
    }
    if ok.all():  # FI_active averages FI over every training row
        pairs["FI_active"] = (other.fi_active(X[:4]), ref.fi_active(X[:4]))
    # FI and classic influence are built on single query points' gradients, whose size is
    # 1 - P(y|x) formed by subtraction in both backends: its relative error is ~eps / (1 - P).
    # Queries the model fits almost perfectly therefore widen the bound for those two.
    P = np.asarray(ref.backend_.proba(X[:3]))
    floor = float(np.min(1.0 - P[np.arange(3), y[:3]]))
    cancel = 10 * np.finfo(float).eps / max(floor, np.finfo(float).tiny)
    row_cancel = 10 * np.finfo(float).eps / max(float(resid[i]), np.finfo(float).tiny)
    widened = {"FI": cancel, "influence": cancel,
               "M_i": row_cancel, "D_i": row_cancel, "G_i": row_cancel, "g_i": row_cancel}
    return [Check(f"backends agree: {k}", rel_err(a, b), tol + widened.get(k, 0.0),
                  "max|other - reference| / max|reference|") for k, (a, b) in pairs.items()]
