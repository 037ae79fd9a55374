"""The generalised Gauss-Newton (GGN) curvature of the cross-entropy risk.

Write ``z_i = f(x_i; theta)`` (K logits) and ``J_i = dz_i / dtheta`` (K, p).
The Hessian of R splits into

    H = (1/N) sum_i w_i [ J_i^T S_i J_i + sum_c (P_ic - y_ic) d^2 z_ic / dtheta^2 ] + 2 l2 diag(mask),

with ``S_i = diag(P_i) - P_i P_i^T`` the Hessian of the cross-entropy in the
logits. The GGN keeps the first term only (Schraudolph 2002):

    G = (1/N) sum_i w_i J_i^T S_i J_i + 2 l2 diag(mask).

It needs no second derivative of the network (so ReLU networks are no
exception), it is positive semi-definite at any theta, not only at a
minimiser, and it equals H wherever the logits are linear in theta (GLMs).
For the softmax cross-entropy it is also the Fisher matrix of the model's
predictive distribution, ``sum_c P_ic a_ic a_ic^T`` with
``a_ic = grad_theta log P(c|x_i) = J_i^T (e_c - P_i)``, which is the matrix
K-FAC approximates layer by layer.

Products use the log-probabilities ``l_i = log P_i``: with ``L_i = dl_i/dtheta
= (I - 1 P_i^T) J_i``, ``J_i^T S_i J_i = L_i^T diag(P_i) L_i``, so ``G v`` is
one forward pass (``L_i v``) and one reverse pass per row chunk, whatever p.
"""

import numpy as np
from autograd import make_jvp, make_vjp

from .._core.chunks import row_chunks
from ..exceptions import InputError, SingularHessianError
from .base import InverseOperator
from .exact import InverseHessian
from .iterative import CGInverse

# Rows per chunk of the matrix-free products (one trace of the logits per chunk).
_PRODUCT_ROWS = 1 << 12


class GaussNewton:
    """The GGN of the penalised risk of an autograd model on its training data.

    Parameters
    ----------
    source : RiskSource
        The risk on the training data (``model``, ``X``, ``y``, ``weights``,
        ``N``, ``p``): :meth:`localinf.AutogradModel.risk_on` gives one.

    Attributes
    ----------
    p : int
        Number of parameters.
    model : AutogradModel
    X : ndarray (n, d)
        The training inputs.
    weights : ndarray (n,) or None
        Frequency weights (None: all one).
    N : float
        ``sum_i w_i`` (n without weights).
    theta : ndarray (p,)
        The parameters G is taken at (the model's ``theta_``).
    """

    def __init__(self, source):
        self._source = source
        self.model, self.X = source.model, source.X
        self.weights = getattr(source, "weights", None)
        self.N = float(getattr(source, "N", self.X.shape[0]))
        self.p = int(source.p)
        self.theta = np.asarray(self.model.theta_, dtype=np.float64)

    def _penalty(self):
        return 2.0 * self.model.l2 * self.model.penalty_mask

    def _row_weights(self, sl):
        return 1.0 if self.weights is None else self.weights[sl][:, None]

    def matvec(self, v):
        """``G v`` for v (p,): one forward and one reverse pass per row chunk.

        Parameters
        ----------
        v : ndarray (p,)

        Returns
        -------
        ndarray (p,)
        """
        v = np.asarray(v, dtype=np.float64).ravel()
        out = np.zeros(self.p)
        for sl in row_chunks(self.X.shape[0], _PRODUCT_ROWS):
            f = lambda th, X=self.X[sl]: self.model.log_proba_fn(th, X)
            logP, Lv = make_jvp(f)(self.theta)(v)           # L_i v, (m, K)
            back, _ = make_vjp(f)(self.theta)
            out += np.asarray(back(np.exp(np.asarray(logP)) * np.asarray(Lv) * self._row_weights(sl)))
        return out / self.N + self._penalty() * v

    def dense(self):
        """The dense G (p, p): the Fisher matrix of the source
        (:meth:`localinf.models.DataRisk.fisher`), which for the cross-entropy
        is ``J^T S J``. A network (:class:`localinf.MLP`) assembles it in closed
        form, layer block by layer block, in about ``n p^2`` multiply-adds; other
        models from the per-row gradients of their log-probabilities.

        Returns
        -------
        ndarray (p, p)
        """
        return self._source.fisher()


class DenseGGNInverse(InverseOperator):
    """``(G + damping I)^{-1}`` by a Cholesky factorisation of the dense GGN.

    Parameters
    ----------
    G : ndarray (p, p)
        The GGN, penalty included (:meth:`GaussNewton.dense`).
    damping : float, default 0
    rtol : float, default 1e-12
        ``G + damping I`` counts as singular at a reciprocal condition number
        at or below it (as for :class:`~localinf.curvature.InverseHessian`).

    Attributes
    ----------
    matrix : ndarray (p, p)
        ``G + damping I``, the matrix inverted (``hessian`` stays None: G is
        not the Hessian of a network).
    damping : float
    """

    def __init__(self, G, damping=0.0, rtol=1e-12):
        self.damping = float(damping)
        try:
            self._factor = InverseHessian(G + self.damping * np.eye(G.shape[0]), rtol=rtol)
        except SingularHessianError:
            raise _singular() from None
        self.matrix = self._factor.hessian
        super().__init__(G.shape[0])

    def _matmat(self, B):
        return self._factor.matmat(np.asarray(B, dtype=np.float64))


def _singular():
    return SingularHessianError(
        "the Gauss-Newton curvature G + damping I is singular: some direction of theta changes "
        "no prediction and is not penalised; set l2 > 0 when fitting, or curvature_options "
        "damping > 0")


class CGGGNInverse(CGInverse):
    """``(G + damping I)^{-1}`` by conjugate gradients on GGN-vector products.

    A singular ``G + damping I`` is refused when CG meets one of its null
    directions; CG can also converge without meeting one, when a right-hand
    side lies in the range of G (it then returns the minimum-norm solution),
    where the dense solver refuses the matrix itself.

    Parameters
    ----------
    ggn : GaussNewton
    damping, tol, maxiter, preconditioner
        As for :class:`~localinf.curvature.CGInverse`.
    """

    def __init__(self, ggn, damping=0.0, tol=1e-10, maxiter=None, preconditioner=None):
        if not isinstance(ggn, GaussNewton):
            raise InputError("ggn must be a GaussNewton")
        self.ggn = ggn
        super().__init__(ggn.matvec, ggn.p, damping=damping, tol=tol, maxiter=maxiter,
                         preconditioner=preconditioner)

    def _matvec(self, b):
        try:
            return super()._matvec(b)
        except SingularHessianError:
            raise _singular() from None
