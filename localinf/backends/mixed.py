"""The mixed partials ``M_i = d/dx grad_theta L_i`` (p, d) of a chunk, in the three forms
the autograd backend holds them.

The measures use M_i only through three products: ``M_i^T w`` for one w,
``M_i^T w_ia`` for per-row stacks, and ``M_i u_ij``. Each form supplies them:

* :class:`DenseMixed` -- M_i held as an (m, p, d) array (models without per-row
  gradient functions: p reverse passes per chunk build it);
* :class:`PassMixed` -- never formed: ``M_i^T w_i`` is one reverse pass and
  ``M_i u_i`` one forward pass through the per-row gradients, whatever p;
* :class:`TruncatedMixed` -- rank-k factors ``M_i ~ (U_i S_i) V_i^T`` (KFSVD),
  plus an exactly applied input-layer term when asked for.
"""

import autograd.numpy as anp
import numpy as np
from autograd import grad, make_jvp


class DenseMixed:
    """M_i held explicitly.

    Parameters
    ----------
    M : ndarray (m, p, d)
    """

    def __init__(self, M):
        self.M = M

    def T(self, w):
        """``M_i^T w`` (m, d) for w (p,)."""
        return np.einsum("ipd,p->id", self.M, w)

    def T_rows(self, W):
        """``M_i^T w_ia`` (m, d, a) for W (m, a, p)."""
        return np.einsum("ipd,iap->ida", self.M, W)

    def apply(self, U):
        """``M_i u_ij`` (m, k, p) for U (m, d, k)."""
        return np.einsum("ipd,idj->ijp", self.M, U)


class PassMixed:
    """Products with M_i by autograd passes, for models with per-row gradient functions.

    Parameters
    ----------
    model : AutogradModel
        With ``logp_grad_fn`` (and ideally ``loss_grad_fn``).
    theta : ndarray (p,)
    X : ndarray (m, d)
    y : ndarray of int (m,)
    """

    def __init__(self, model, theta, X, y):
        self.model, self.theta, self.X, self.y = model, theta, X, y
        if model.loss_grad_fn is not None:  # one class's pass instead of K
            self.loss_grads = lambda Xv: model.loss_grad_fn(theta, Xv, y)
        else:
            onehot = np.eye(model.n_classes_)[y][:, :, None]
            self.loss_grads = lambda Xv: -anp.sum(model.logp_grad_fn(theta, Xv) * onehot, axis=1)
        self._jvp = None

    def T(self, w):
        """``M_i^T w`` (m, d): one reverse pass of ``X -> grad_X (w . grad_theta sum_i L_i)``."""
        model, theta, y = self.model, self.theta, self.y
        return grad(lambda Xv: anp.dot(grad(model.loss_sum_fn)(theta, Xv, y), w))(self.X)

    def reverse_one(self, W):
        """``M_i^T w_i`` (m, d) for a different w_i per row, W (m, p): one reverse pass."""
        return grad(lambda Xv: anp.sum(self.loss_grads(Xv) * W))(self.X)

    def forward_one(self, U):
        """``M_i u_i`` (m, p) for a different u_i per row, U (m, d): one forward pass."""
        if self._jvp is None:
            self._jvp = make_jvp(self.loss_grads)(self.X)
        return np.asarray(self._jvp(np.ascontiguousarray(U))[1])

    def T_rows(self, W):
        """``M_i^T w_ia`` (m, d, a) for W (m, a, p)."""
        return np.stack([self.reverse_one(W[:, a]) for a in range(W.shape[1])], axis=2)

    def apply(self, U):
        """``M_i u_ij`` (m, k, p) for U (m, d, k)."""
        return np.stack([self.forward_one(U[:, :, j]) for j in range(U.shape[2])], axis=1)

    def forward(self, Z):
        """``M_i z_ij`` (m, p, l) for Z (m, d, l)."""
        return np.stack([self.forward_one(Z[:, :, j]) for j in range(Z.shape[2])], axis=2)

    def reverse(self, Q):
        """``M_i^T q_ij`` (m, d, l) for Q (m, p, l)."""
        return np.stack([self.reverse_one(np.ascontiguousarray(Q[:, :, j]))
                         for j in range(Q.shape[2])], axis=2)


class TruncatedMixed:
    """Rank-k factors of every M_i, plus the exactly applied input-layer term E_i if any.

    Parameters
    ----------
    US : ndarray (m, p, k)
    V : ndarray (m, d, k)
    E : InputLayerTerm or None
    """

    def __init__(self, US, V, E=None):
        self.US, self.V, self.E = US, V, E

    def T(self, w):
        """``M_i^T w`` (m, d) for w (p,)."""
        out = np.einsum("idk,ik->id", self.V, np.einsum("ipk,p->ik", self.US, w))
        return out if self.E is None else out + self.E.T_one(w)

    def T_rows(self, W):
        """``M_i^T w_ia`` (m, d, a) for W (m, a, p)."""
        out = np.einsum("idk,ika->ida", self.V, np.einsum("ipk,iap->ika", self.US, W))
        return out if self.E is None else out + self.E.T(W)

    def apply(self, U):
        """``M_i u_ij`` (m, k, p) for U (m, d, k)."""
        out = np.einsum("ipr,irj->ijp", self.US, np.einsum("idr,idj->irj", self.V, U))
        if self.E is not None:  # in place, through a (m, p, k) view of out
            self.E.add_to(np.transpose(out, (0, 2, 1)), U)
        return out
