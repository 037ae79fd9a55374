"""Backends: the per-row primitives every measure is written on.

* :mod:`.base` -- the protocol, :class:`Backend` and :class:`Rows`;
* :mod:`.reference` -- closed forms for logistic and softmax regression;
* :mod:`.autograd` -- automatic differentiation for any :class:`~localinf.AutogradModel`,
  with the mixed partials held, applied by passes or truncated (:mod:`.mixed`, :mod:`.kfsvd`);
* :mod:`.factory` -- :func:`make_backend`, which picks and builds one.
"""

from .autograd import AutogradBackend, AutogradRows
from .base import Backend, Rows
from .factory import BACKENDS, make_backend
from .kfsvd import InputLayerTerm, KFSVDOptions
from .reference import ReferenceBackend, ReferenceRows

__all__ = ["AutogradBackend", "AutogradRows", "Backend", "Rows", "BACKENDS", "make_backend",
           "InputLayerTerm", "KFSVDOptions", "ReferenceBackend", "ReferenceRows"]
