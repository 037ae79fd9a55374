"""The base of every curvature operator, and what a curvature is built from.

Every measure in localinf needs products with ``H^{-1}``, the inverse Hessian
of the penalised empirical risk at ``theta_hat``. Curvature choices are
interchangeable :class:`scipy.sparse.linalg.LinearOperator` objects on one
base, :class:`InverseOperator`, so a measure never needs to know how the
solve is done.
"""

from typing import Protocol

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ..exceptions import InputError, NumericalError


class InverseOperator(LinearOperator):
    """A symmetric (p, p) operator standing for ``H^{-1}`` (or an approximation of it).

    Subclasses implement ``_matmat`` (products with a block of right-hand sides)
    or ``_matvec``; scipy derives the other. The adjoint is the operator itself.

    Parameters
    ----------
    p : int
        Number of parameters.

    Attributes
    ----------
    hessian : ndarray (p, p) or None
        The dense H the operator inverts, when it holds one (the exact
        operators); None for matrix-free and approximate ones.
    """

    hessian = None

    def __init__(self, p):
        super().__init__(dtype=np.float64, shape=(p, p))

    def _adjoint(self):
        return self

    def matvec(self, x):
        """``H^{-1} x`` for x (p,) or (p, 1); NumericalError when the product is not finite."""
        if np.shape(x) not in ((self.shape[0],), (self.shape[0], 1)):
            raise InputError(f"x must have shape ({self.shape[0]},) or ({self.shape[0]}, 1); "
                             f"got {np.shape(x)}")
        return _finite_product(super().matvec(x))

    def matmat(self, X):
        """``H^{-1} X`` for X (p, k); NumericalError when the product is not finite."""
        if np.ndim(X) != 2 or np.shape(X)[0] != self.shape[0]:
            raise InputError(f"X must have shape ({self.shape[0]}, k); got {np.shape(X)}")
        return _finite_product(super().matmat(X))


def _finite_product(out):
    if not np.isfinite(out).all():
        raise NumericalError(
            "a product with the inverse Hessian is not finite: H (plus damping) is singular or "
            "so badly scaled that its inverse leaves the float range, or the right-hand side "
            "overflows; add damping, or rescale the features")
    return out


class AsInverse(InverseOperator):
    """A user's LinearOperator for ``H^{-1}``, on the common base.

    Products are the operator's own; its ``hessian`` (if it has one) and its
    other attributes (counters, settings) are reachable through the wrapper.

    Parameters
    ----------
    op : LinearOperator (p, p)
    """

    def __init__(self, op):
        self.op = op
        self.hessian = getattr(op, "hessian", None)
        super().__init__(op.shape[0])

    def __getattr__(self, name):
        if name == "op":  # not set yet: no recursion through __getattr__
            raise AttributeError(name)
        return getattr(self.op, name)

    def _matvec(self, b):
        return self.op.matvec(b)

    def _matmat(self, B):
        return self.op.matmat(B)


class RiskSource(Protocol):
    """What a curvature is built from: the risk of a model on its training data.

    :meth:`localinf.AutogradModel.risk_on` returns one
    (:class:`localinf.models.DataRisk`); ``hessian`` is needed by ``"exact"``,
    ``hvp`` by ``"cg"`` and ``"lissa"``, ``fisher`` and ``model``, ``X`` by
    ``"ggn"``, and ``model``, ``X``, ``y`` by ``"kfac"``.

    Attributes
    ----------
    p : int
    model : AutogradModel
    X : ndarray (n, d)
    y : ndarray (n,)
    """

    p: int

    def hessian(self):
        """Dense H at theta_hat.

        Returns
        -------
        ndarray (p, p)
            Symmetric; includes the penalty's ``2 l2`` on the penalised entries.
        """

    def fisher(self):
        """The Fisher (Gauss-Newton) matrix at theta_hat, for ``"ggn"``.

        Returns
        -------
        ndarray (p, p)
            Symmetric positive semi-definite; includes the penalty's ``2 l2``.
        """

    def hvp(self, v):
        """A Hessian-vector product at theta_hat.

        Parameters
        ----------
        v : ndarray (p,)
            Any direction; the product costs about two gradient passes.

        Returns
        -------
        ndarray (p,)
            ``H v``.
        """
