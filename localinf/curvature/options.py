"""Options of each curvature choice, as validated dataclasses.

``LocalInfluence(..., curvature="cg", curvature_options={"tol": 1e-8})`` and
``curvature_options=CGOptions(tol=1e-8)`` are the same; a misspelt or ill-typed
option is an :class:`~localinf.InputError` naming it, whichever the curvature.
"""

from dataclasses import dataclass

from scipy.sparse.linalg import LinearOperator

from .._core.options import (Options, finite_nonneg, finite_positive, nonneg_int, option,
                             optional_finite_positive, optional_positive_int, positive_int)


def _solver(v):
    return None if isinstance(v, str) and v in ("auto", "dense", "cg") else "'auto', 'dense' or 'cg'"


def _ggn_preconditioner(v):
    ok = v is None or (isinstance(v, str) and v == "kfac") or isinstance(v, LinearOperator)
    return None if ok else "'kfac', None or a LinearOperator"


def _preconditioner(v):
    ok = v is None or (isinstance(v, str) and v in ("auto", "kfac")) or isinstance(v, LinearOperator)
    return None if ok else "'auto', 'kfac', None or a LinearOperator"


@dataclass(frozen=True)
class ExactOptions(Options):
    """Options of ``curvature="exact"`` (dense Hessian).

    Parameters
    ----------
    damping : float, default 0
        Added to H's eigenvalues. With 0 and a positive definite H the solve is
        a Cholesky factorisation; otherwise the damped pseudo-inverse
        ``(H + damping I)^+`` is used, with a warning when H is not positive definite.
    rtol : float, default 1e-12
        Relative eigenvalue level treated as zero: when H's reciprocal condition
        number is at or below it, H counts as singular and the pseudo-inverse
        drops the eigenvalues of ``H + damping I`` at or below ``rtol`` times the largest.
    """

    applies_to = "curvature='exact'"
    damping: float = option(0.0, finite_nonneg)
    rtol: float = option(1e-12, finite_nonneg)


@dataclass(frozen=True)
class CGOptions(Options):
    """Options of ``curvature="cg"`` (conjugate gradients on Hessian-vector products).

    Parameters
    ----------
    damping : float, default 0
        Solves with ``H + damping I``.
    tol : float, default 1e-10
        Relative residual ``||(H + damping) x - b|| <= tol ||b||``.
    maxiter : int, optional
        Default ``10 p``.
    preconditioner : {"auto", "kfac", None} or LinearOperator, default "auto"
        An approximation of ``(H + damping I)^{-1}``: it changes how fast CG
        converges, not what it converges to. ``"auto"``: for the query-side
        solves (``query_curvature="cg"``) next to ``curvature="kfac"``, the
        K-FAC operator already built; none otherwise. ``"kfac"``: build one.
    """

    applies_to = "curvature='cg'"
    damping: float = option(0.0, finite_nonneg)
    tol: float = option(1e-10, finite_positive)
    maxiter: object = option(None, optional_positive_int)
    preconditioner: object = option("auto", _preconditioner)


@dataclass(frozen=True)
class LissaOptions(Options):
    """Options of ``curvature="lissa"`` (the LiSSA recursion, full batch).

    Parameters
    ----------
    damping : float, default 0
    scale : float, optional
        Must exceed the largest eigenvalue of ``H + damping I``; default 1.1
        times a power-iteration estimate.
    depth : int, default 1000
        Steps of the recursion.
    seed : int, default 0
        Seed of the power iteration's start (used only when ``scale`` is not given).
    """

    applies_to = "curvature='lissa'"
    damping: float = option(0.0, finite_nonneg)
    scale: object = option(None, optional_finite_positive)
    depth: int = option(1000, positive_int)
    seed: int = option(0, nonneg_int)


@dataclass(frozen=True)
class KFACOptions(Options):
    """Options of ``curvature="kfac"`` (networks from :func:`localinf.fit_mlp`).

    Parameters
    ----------
    damping : float, default 0
        Added to every eigenvalue of the Kronecker-factored Fisher.
    """

    applies_to = "curvature='kfac'"
    damping: float = option(0.0, finite_nonneg)


@dataclass(frozen=True)
class GGNOptions(Options):
    """Options of ``curvature="ggn"`` (the generalised Gauss-Newton matrix G).

    Parameters
    ----------
    damping : float, default 0
        Solves with ``G + damping I``. G includes the fit's penalty, so it is
        positive definite without damping when l2 > 0 on every parameter.
    solver : {"auto", "dense", "cg"}, default "auto"
        ``"dense"``: form G from per-row gradients and factorise it (Cholesky);
        ``"cg"``: conjugate gradients on matrix-free products ``G v`` (one
        forward and one reverse pass over the data each); ``"auto"``: dense
        for p <= 4000, CG above.
    tol : float, optional
        CG's relative residual (default 1e-10); ``solver="cg"`` only.
    maxiter : int, optional
        CG's iterations (default ``10 p``); ``solver="cg"`` only.
    preconditioner : {"kfac", None} or LinearOperator, default None
        CG only: ``"kfac"`` preconditions with the K-FAC approximation of the
        same matrix (fit_mlp networks), built with the same damping.
    """

    applies_to = "curvature='ggn'"
    damping: float = option(0.0, finite_nonneg)
    solver: str = option("auto", _solver)
    tol: object = option(None, optional_finite_positive)
    maxiter: object = option(None, optional_positive_int)
    preconditioner: object = option(None, _ggn_preconditioner)
