"""Curvature: ``H^{-1}`` as interchangeable linear operators on one base.

* :mod:`.base` -- :class:`InverseOperator` and the :class:`RiskSource` protocol;
* :mod:`.exact` -- :class:`InverseHessian` (Cholesky), :class:`DampedInverse`;
* :mod:`.iterative` -- :class:`CGInverse`, :class:`LissaInverse`;
* :mod:`.kfac` -- :class:`KFACInverse` for networks;
* :mod:`.ggn` -- the generalised Gauss-Newton matrix (:class:`GaussNewton`), dense or by CG;
* :mod:`.options` and :mod:`.registry` -- the choices by name, with validated options.
"""

from .base import AsInverse, InverseOperator, RiskSource
from .exact import DampedInverse, InverseHessian, inverse_of_dense
from .ggn import CGGGNInverse, DenseGGNInverse, GaussNewton
from .iterative import CGInverse, LissaInverse
from .kfac import KFACInverse
from .options import CGOptions, ExactOptions, GGNOptions, KFACOptions, LissaOptions
from .registry import CURVATURES, make_curvature

__all__ = ["AsInverse", "InverseOperator", "RiskSource", "DampedInverse", "InverseHessian",
           "inverse_of_dense", "CGInverse", "LissaInverse", "GaussNewton", "DenseGGNInverse",
           "CGGGNInverse", "GGNOptions", "KFACInverse", "CGOptions", "ExactOptions", "KFACOptions",
           "LissaOptions", "CURVATURES", "make_curvature"]
