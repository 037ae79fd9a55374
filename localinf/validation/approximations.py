"""Approximations against the exact computation: KFSVD's truncation, CG and LiSSA."""

import numpy as np

from ..measures.local_influence import LocalInfluence
from .check import Check, rel_err


def kfsvd_convergence(X, y, model, Xv, yv, tol=1e-8, exact_input_layer=False):
    """The rank-k truncation of M_i: its error is non-increasing in k (Eckart-Young, for
    the exact SVD used when the sketch spans R^d) and FI_util is exact at k = d.
    With ``exact_input_layer`` (fit_mlp networks) the same holds for the truncation
    of ``M_i - E_i`` with the input layer's term E_i kept exactly.

    Error reported: the largest increase of ``||M_i - M_i^(k)||_F`` from k to
    k + 1 relative to ``||M_i||_F`` (0 in exact arithmetic), and the relative
    FI_util error at k = d, both against ``tol``.

    Parameters
    ----------
    X, y, model, Xv, yv
        The common parameters (see :mod:`localinf.validation`); the model is a
        network from :func:`localinf.fit_mlp`.
    tol : float, default 1e-8
    exact_input_layer : bool, default False

    Returns
    -------
    list of Check
    """
    d = X.shape[1]
    exact = LocalInfluence(model, X, y)
    fe = exact.fi_util(Xv, yv)
    rows = np.arange(len(y))[::max(1, len(y) // 5)]  # five rows spread over the data
    errs, fi_errs = [], []
    for k in range(1, d + 1):
        trunc = LocalInfluence(model, X, y, svd_rank=k,
                               svd_options={"oversample": d, "exact_input_layer": exact_input_layer})
        errs.append([np.linalg.norm(exact.mixed_partial(i) - trunc.mixed_partial(i))
                     / np.linalg.norm(exact.mixed_partial(i)) for i in rows])
        fi_errs.append(rel_err(trunc.fi_util(Xv, yv), fe))
    errs = np.array(errs)
    increase = float(np.max(np.diff(errs, axis=0), initial=0.0))
    tag = "KFSVD (input layer exact)" if exact_input_layer else "KFSVD"
    return [Check(f"{tag}: truncation error non-increasing in k", max(increase, 0.0), tol,
                  "largest increase of ||M - M_k|| / ||M|| from k to k + 1",
                  extra={"k": list(range(1, d + 1)), "m_err": errs.mean(axis=1).tolist(),
                         "fi_err": fi_errs}),
            Check(f"{tag}: exact at k = d", fi_errs[-1], tol, "relative FI_util error at k = d")]


def iterative_solvers(X, y, model, cg_tol=1e-13, lissa_depths=(100, 400)):
    """CG and LiSSA against the exact solve; their error must fall as they run longer.

    CG stops at relative residual ``cg_tol``; the solution error is at most
    cond(H) times that. LiSSA's error after J steps is at most
    ``(1 - lambda_min / scale)^J`` (2-norm, relative), computed here from H.
    Both bounds gain a factor sqrt(p) in the max-norm used by rel_err, and a
    floor ``100 eps cond(H)`` for the round-off of any solve with H.

    Parameters
    ----------
    X, y, model
        The common parameters (see :mod:`localinf.validation`).
    cg_tol : float, default 1e-13
        The tightest CG tolerance tried.
    lissa_depths : tuple of int
        LiSSA recursion depths tried.

    Returns
    -------
    list of Check
    """
    exact = LocalInfluence(model, X, y, backend="autograd")
    b = np.random.default_rng(0).normal(size=exact.p_)
    x = exact.H_inv_.matvec(b)
    lam = exact.H_inv_.eigenvalues
    cond = lam[-1] / lam[0]
    root_p = np.sqrt(exact.p_)
    floor = 100 * np.finfo(float).eps * cond
    out = []
    errs = []
    for t in (1e-4, 1e-8, cg_tol):
        cg = LocalInfluence(model, X, y, backend="autograd", curvature="cg",
                            curvature_options={"tol": t})
        errs.append(rel_err(cg.H_inv_.matvec(b), x))
        out.append(Check("CG converges to the exact solve", errs[-1], root_p * cond * t + floor,
                         f"error at tol {t:g}; bound sqrt(p) cond(H) tol"))
    for J in lissa_depths:
        lis = LocalInfluence(model, X, y, backend="autograd", curvature="lissa",
                             curvature_options={"depth": J})
        bound = root_p * (1 - lam[0] / lis.H_inv_.scale) ** J + floor
        out.append(Check("LiSSA converges to the exact solve", rel_err(lis.H_inv_.matvec(b), x), bound,
                         f"error after {J} steps; bound sqrt(p) (1 - lambda_min/scale)^J = {bound:.1e}"))
    return out
