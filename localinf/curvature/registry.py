"""The curvature choices by name, each with its options class and builder.

``make_curvature("cg", risk, {"tol": 1e-8})`` validates the options once and
builds the operator from a :class:`~localinf.curvature.RiskSource`; a ready
:class:`~scipy.sparse.linalg.LinearOperator` is used as given. Adding a
curvature is one options class, one builder and one line in ``CURVATURES``
(docs/architecture.md).
"""

from scipy.sparse.linalg import LinearOperator

from .._core.budget import check_inverse
from ..exceptions import InputError
from .base import AsInverse, InverseOperator
from .exact import inverse_of_dense
from .ggn import CGGGNInverse, DenseGGNInverse, GaussNewton
from .iterative import CGInverse, LissaInverse
from .kfac import KFACInverse
from .options import CGOptions, ExactOptions, GGNOptions, KFACOptions, LissaOptions

# Above this many parameters, curvature='ggn' solves by CG unless told otherwise.
_GGN_DENSE_MAX_P = 4000


def _exact(source, opts, metric):
    return inverse_of_dense(source.hessian(), damping=float(opts.damping), rtol=float(opts.rtol))


def _cg(source, opts, metric):
    pre = opts.preconditioner
    if isinstance(pre, str) and pre == "auto":
        pre = metric if isinstance(metric, KFACInverse) else None
    elif isinstance(pre, str):  # "kfac"
        _no_weights(source, "preconditioner='kfac'")
        pre = KFACInverse(source.model, source.X, source.y)
    return CGInverse(source.hvp, source.p, damping=opts.damping, tol=opts.tol, maxiter=opts.maxiter,
                     preconditioner=pre)


def _lissa(source, opts, metric):
    return LissaInverse(source.hvp, source.p, damping=opts.damping, scale=opts.scale,
                        depth=opts.depth, seed=opts.seed)


def _no_weights(source, what):
    if getattr(source, "weights", None) is not None:
        raise InputError(f"{what} does not take sample weights yet; with sample_weight use curvature "
                         "'exact', 'cg', 'lissa' or 'ggn' without a K-FAC preconditioner (only 'ggn' "
                         "with at_minimiser=False)")


def _kfac(source, opts, metric):
    _no_weights(source, "curvature='kfac'")
    return KFACInverse(source.model, source.X, source.y, damping=opts.damping)


def _ggn(source, opts, metric):
    ggn = GaussNewton(source)
    dense = opts.solver == "dense" or (opts.solver == "auto" and source.p <= _GGN_DENSE_MAX_P)
    if dense:
        given = [k for k in ("tol", "maxiter", "preconditioner") if getattr(opts, k) is not None]
        if given:
            chosen = "" if opts.solver == "dense" else \
                f" (solver='auto' chose it for p = {source.p} <= {_GGN_DENSE_MAX_P})"
            raise InputError(f"curvature_options: {', '.join(given)} apply to solver='cg' only, and "
                             f"the solver is dense{chosen}; pass solver='cg' to use them")
        check_inverse(source.p)
        return DenseGGNInverse(ggn.dense(), damping=opts.damping)
    pre = opts.preconditioner
    if isinstance(pre, str):  # "kfac"
        _no_weights(source, "preconditioner='kfac'")
        pre = KFACInverse(source.model, source.X, source.y, damping=opts.damping)
    return CGGGNInverse(ggn, damping=opts.damping, tol=1e-10 if opts.tol is None else opts.tol,
                        maxiter=opts.maxiter, preconditioner=pre)


CURVATURES = {
    "exact": (ExactOptions, _exact),
    "cg": (CGOptions, _cg),
    "lissa": (LissaOptions, _lissa),
    "kfac": (KFACOptions, _kfac),
    "ggn": (GGNOptions, _ggn),
}


def make_curvature(kind, source, options=None, *, argument="curvature_options", metric=None):
    """The inverse-Hessian operator of one curvature choice.

    Parameters
    ----------
    kind : {"exact", "cg", "lissa", "kfac", "ggn"} or LinearOperator
        ``"exact"``: dense Hessian, Cholesky (or the damped pseudo-inverse);
        ``"cg"``: :class:`CGInverse`; ``"lissa"``: :class:`LissaInverse`;
        ``"kfac"``: :class:`KFACInverse` (networks from :func:`localinf.fit_mlp`);
        ``"ggn"``: the generalised Gauss-Newton matrix (:mod:`.ggn`), dense
        or by CG.
        A ready LinearOperator (p, p) is used as given (wrapped in
        :class:`AsInverse` unless it is an :class:`InverseOperator`).
    source : RiskSource
        The risk on the training data (``hessian()``, ``hvp(v)``, ``p``,
        ``model``, ``X``, ``y``).
    options : dict or options dataclass, optional
        Options of that choice (:class:`ExactOptions`, :class:`CGOptions`,
        :class:`LissaOptions`, :class:`KFACOptions`, :class:`GGNOptions`).
    argument : str
        The user's argument name, for error messages.
    metric : LinearOperator, optional
        The operator already built for the metric solves; CG's ``"auto"``
        preconditioner uses it when it is K-FAC.

    Returns
    -------
    InverseOperator (p, p)
    """
    if isinstance(kind, LinearOperator):
        if options:
            raise InputError(f"{argument} have no effect on a ready operator; pass them to it instead")
        if kind.shape != (source.p, source.p):
            raise InputError(f"the curvature operator has shape {kind.shape}; the model has p = {source.p}")
        return kind if isinstance(kind, InverseOperator) else AsInverse(kind)
    if not isinstance(kind, str) or kind not in CURVATURES:
        raise InputError(f"curvature must be one of {tuple(CURVATURES)} or a LinearOperator; got {kind!r}")
    options_class, build = CURVATURES[kind]
    choice = f"{argument.removesuffix('_options')}={kind!r}"
    return build(source, options_class.coerce(options, argument, applies_to=choice), metric)
