"""K-FAC curvature for dense networks (:class:`~localinf.models.mlp.MLP`).

For layer l with input ``a`` (the previous activation with a 1 appended for the
bias) and pre-activation ``s = a W``, the Fisher block of ``vec([W; b])`` is
approximated by a Kronecker product (Martens & Grosse 2015)

    F_l ~ A_l kron G_l,   A_l = (1/n) sum_i a_i a_i^T,
                          G_l = (1/n) sum_i sum_c P(c|x_i) g_ic g_ic^T,

with ``g_ic = d(-log P(c|x_i)) / d s``, and layers treated as independent. The
curvature used is ``blockdiag(A_l kron G_l) + 2 l2 diag(mask) + damping I``,
the Fisher approximation of H with the exact penalty. Its inverse is applied
exactly in the eigenbases of A_l and G_l when the penalty is uniform over a
layer's parameters (fit_mlp's default); otherwise the penalty is folded into
the damping as its layer mean.
"""

import autograd.numpy as anp
import numpy as np
from autograd import grad

from ..exceptions import InputError
from ..models.mlp import MLP
from .base import InverseOperator


class KFACInverse(InverseOperator):
    """``(blockdiag(A_l kron G_l) + 2 l2 mask + damping)^{-1}`` for a fit_mlp model.

    Parameters
    ----------
    model : MLP
        A network from :func:`localinf.fit_mlp`.
    X : ndarray (n, d)
    y : ndarray of int (n,)
        The training data.
    damping : float, default 0
        Added to every eigenvalue ``a_i g_j + 2 l2``; the approximation is
        positive definite without it when l2 > 0.
    """

    def __init__(self, model, X, y, damping=0.0):
        if not isinstance(model, MLP):
            raise InputError("curvature='kfac' needs a network fitted by localinf.fit_mlp")
        self.damping = float(damping)
        params = model.unflatten(model.theta_)
        n, K = X.shape[0], model.n_classes_
        inputs, logP = model.forward_with_offsets(params, X)
        P = np.exp(np.asarray(logP))
        zeros = [np.zeros((n, W.shape[1])) for W, _ in params]
        # Per-sample gradients of -log P_c w.r.t. every pre-activation: row i of
        # the gradient of sum_i log P_c(x_i) depends on sample i alone.
        gs = []
        for c in range(K):
            f = lambda offs: -anp.sum(anp.dot(model.forward_with_offsets(params, X, offs)[1], np.eye(K)[c]))
            gs.append([np.asarray(g) for g in grad(f)(zeros)])
        mask_layers = model.unflatten(model.penalty_mask)
        self._blocks, sizes = [], []
        for l, (W, b) in enumerate(params):
            a = np.column_stack([np.asarray(inputs[l]), np.ones(n)])
            A = a.T @ a / n
            G = sum((gs[c][l] * P[:, c:c + 1]).T @ gs[c][l] for c in range(K)) / n
            la, Qa = np.linalg.eigh(A)
            lg, Qg = np.linalg.eigh(G)
            mW, mb = mask_layers[l]
            pen = 2 * model.l2 * float(np.mean(np.append(np.ravel(mW), np.ravel(mb))))
            denom = np.maximum(np.outer(la, lg), 0.0) + pen + self.damping
            if np.any(denom <= 0):
                raise InputError("K-FAC curvature is singular: set damping > 0 or fit with l2 > 0")
            self._blocks.append((Qa, Qg, 1.0 / denom, W.shape[0] + 1, W.shape[1]))
            sizes.append((W.shape[0] + 1) * W.shape[1])
        self._offsets = np.cumsum([0] + sizes)
        super().__init__(int(self._offsets[-1]))

    def _matmat(self, B):
        B = np.asarray(B, dtype=np.float64)
        out = np.empty_like(B)
        for (Qa, Qg, inv, rows, cols), lo, hi in zip(self._blocks, self._offsets[:-1], self._offsets[1:]):
            # theta_l = vec_row([W; b]): (rows, cols) per right-hand side
            V = B[lo:hi].T.reshape(-1, rows, cols)
            V = Qa.T @ V @ Qg
            V *= inv
            out[lo:hi] = (Qa @ V @ Qg.T).reshape(-1, rows * cols).T
        return out
