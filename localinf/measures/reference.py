"""Reference metrics for an FI that does not depend on units (an extension beyond the paper).

The paper's FI, ``g^T G^+ g``, projects g onto range(G_i) with the Euclidean
inner product of the coordinates omega. Under ``omega = J nu`` the pieces
transform as ``g -> J^T g`` and ``G -> J^T G J``, and the Euclidean projection
does not follow them: FI changes with J unless g lies in range(G_i) (Theorem 1's
condition, which fails generically for binary models with d >= 2).

A positive definite *reference metric* ``G_ref`` that transforms like G
(``G_ref -> J^T G_ref J``) repairs this. With ``L L^T = G_ref``, evaluate the
paper's formula in the whitened coordinates (``g~ = L^{-1} g``,
``G~ = L^{-1} G L^{-T}``)::

    FI_inv = g~^T G~^+ g~ = sum_j (g . u_j)^2 / lambda_j

over the generalised eigenpairs ``G u_j = lambda_j G_ref u_j`` with
``u_j^T G_ref u_j = 1`` and lambda_j above the cut-off. A change of coordinates
changes L by an orthogonal factor only, so FI_inv is the same for every
invertible J; where g lies in range(G_i) it equals the paper's FI (any
generalised inverse gives the same quadratic form there).

The share of g that range(G_i) cannot see, measured in G_ref's own norm, is
the *invariance defect*::

    eta = 1 - sum_j (g . u_j)^2 / (g^T G_ref^{-1} g)   in [0, 1],

0 exactly when g lies in the kept eigenspace of G_i (Theorem 1 holds for the
row), and invariant like FI_inv.

Two references (:class:`~localinf.LocalInfluence`'s ``invariant``):

* ``"data"``: ``G_ref = Sigma_X^{-1}``, the inverse covariance of the training
  inputs. It transforms with any invertible linear change of feature units
  ``x -> A x + b``, so FI_inv is unchanged by it as far as the fitted model is
  (exactly without a penalty; a ridge penalty is itself not unit-free).
* ``"model"``: ``G_ref,i = G_i + D_i^T F_(-i) D_i``, with ``F_(-i)`` the Fisher
  information of the other n - 1 training rows' predictive distributions in
  theta: the Fisher metric of the whole training set's predictions as x_i is
  perturbed (the paper's G_i is the part from x_i's own prediction). It
  transforms with every invertible J applied to omega.

Both are invariant in exact arithmetic. In floating point, ``Q_i = D_i^T
F_(-i) D_i`` can be far smaller than G_i (by 1e16 for a row predicted with
near certainty) and ill-conditioned (nearly collinear features, or rows far
from the boundary). ``G_ref^{-1}`` is therefore applied by Woodbury's identity
around Q_i, scaled to unit diagonal (so a change of units is exact), and a
row whose scaled Q_i has condition above 1e12 is refused. Under a general
mixing of the features the achievable accuracy follows that condition.
"""

from abc import ABC, abstractmethod

import numpy as np

from .._core.budget import check_cost
from .._core.chunks import row_chunks
from .._core.moments import sample_covariance
from ..exceptions import InputError, NumericalError

INVARIANTS = ("data", "model")
# A reference metric whose eigenvalues span more than this is treated as singular.
_COND = 1e12
# Budget in float64 entries of the (rows, d, p) blocks of the model reference.
_BLOCK = 1 << 23


class ReferenceMetric(ABC):
    """A positive definite metric ``G_ref,i`` (d, d) per training row that transforms like G_i."""

    name: str

    @abstractmethod
    def solve(self, rows, F, R):
        """``G_ref,i^{-1} R_i`` for the rows of a chunk.

        Parameters
        ----------
        rows : Rows
            The backend's per-row quantities of the chunk's training rows.
        F : ndarray (m, d, r)
            Their metric factors, ``G_i = F_i F_i^T``.
        R : ndarray (m, d, q)
            Right-hand sides (covectors in the perturbation's coordinates).

        Returns
        -------
        ndarray (m, d, q)
        """


class DataReference(ReferenceMetric):
    """``G_ref = Sigma_X^{-1}`` for every row: Mahalanobis coordinates of the training inputs.

    Parameters
    ----------
    X : ndarray (n, d)
        Training inputs; their covariance must be invertible (no constant or
        collinear column).
    names : sequence of str, optional
        Column names for the error message.
    weights : ndarray (n,), optional
        Frequency weights: the covariance of the observations.
    """

    name = "data"

    def __init__(self, X, names=(), weights=None):
        n, d = X.shape
        self.Sigma = sample_covariance(X, weights)  # of the observations
        sd = np.sqrt(np.diag(self.Sigma))
        if sd.all():  # the correlation matrix: its condition does not depend on the units
            lam, V = np.linalg.eigh(self.Sigma / np.outer(sd, sd))
            bad, j = lam[0] <= lam[-1] / _COND, int(np.argmax(np.abs(V[:, 0])))
        else:
            bad, j = True, int(np.argmin(sd))
        if bad:
            col = names[j] if len(names) == d else f"column {j}"
            raise InputError(
                "X: invariant='data' needs an invertible covariance of the training inputs; it is "
                f"singular (condition > {_COND:.0e}): a constant column or collinear columns, "
                f"e.g. involving {col}. Drop them, or use invariant='model'")

    def solve(self, rows, F, R):
        return np.einsum("de,mek->mdk", self.Sigma, R)


class ModelReference(ReferenceMetric):
    """``G_ref,i = G_i + D_i^T F_(-i) D_i``: the Fisher metric of all n predictions under omega.

    ``F = sum_j sum_c P(c|x_j) a_jc a_jc^T`` (p, p) is formed once over the
    training rows; per row, ``D_i^T`` (d, p) needs d solves with H, and the
    row's own share ``D_i^T F_i D_i`` is taken out again. Cost
    O(n d p (p + d)) and a (p, p) matrix: for models with few parameters.

    Parameters
    ----------
    influence : LocalInfluence
        Supplies the backend, the training rows and ``H_inv_``.
    """

    name = "model"

    def __init__(self, influence):
        inf = influence
        n, d, p, K = inf.n_, inf.d_, inf.p_, inf.K_
        check_cost(f"invariant='model' (Fisher information {p} x {p}, {n} x {d} solves with H)",
                   "use invariant='data', or a model with fewer parameters",
                   nbytes=8.0 * (3 * p * p + min(n, _BLOCK // max(d * p, 1)) * 3 * d * p),
                   flops=2.0 * n * (K * K * p + K * p * p + 2 * d * p * p + d * d * p + d ** 3))
        self._inf = inf
        self._fisher = None

    @property
    def fisher(self):
        """The training set's Fisher information ``F`` (p, p), formed on first use."""
        if self._fisher is None:
            inf = self._inf
            F = np.zeros((inf.p_, inf.p_))
            for sl in inf._chunks():
                rows = inf._rows(sl)
                Ad, S = _class_differences(rows)
                SA = np.einsum("iab,ibp->iap", S, Ad)
                if inf.sample_weight_ is not None:  # each observation of row i counts
                    SA *= inf.sample_weight_[sl, None, None]
                F += np.einsum("iap,iaq->pq", Ad, SA)
            self._fisher = 0.5 * (F + F.T)
        return self._fisher

    def others(self, rows):
        """``Q_i = D_i^T F_(-i) D_i`` (m, d, d): how the other rows' predictions move with omega."""
        inf, b = self._inf, self._inf.backend_
        m, d, p = rows.m, inf.d_, inf.p_
        out = np.empty((m, d, d))
        step = max(1, _BLOCK // max(d * p, 1))
        eye = np.eye(d)
        for s in row_chunks(m, step):
            part = rows if (s.start, s.stop) == (0, m) else b.rows(rows.X[s], rows.y[s])
            k = part.m
            MT = part.mixed(np.broadcast_to(eye, (k, d, d)).copy())  # rows of M_i^T (k, d, p)
            DT = b.H_inv.matmat(MT.reshape(k * d, p).T).T.reshape(k, d, p)
            DT *= -1.0 / b.D_divisor  # D_i^T = -(1/n) M_i^T H^{-1}
            out[s] = np.einsum("idp,pq,ieq->ide", DT, self.fisher, DT, optimize=True)
            Ad, S = _class_differences(part)
            DA = np.einsum("idp,iap->ida", DT, Ad)  # D_i^T (a_ic - a_i0)
            out[s] -= np.einsum("ida,iab,ieb->ide", DA, S, DA)  # the row's own share
        return 0.5 * (out + np.swapaxes(out, 1, 2))

    def solve(self, rows, F, R):
        """``G_ref^{-1} R`` by Woodbury around Q_i: ``G_i`` can exceed ``Q_i`` by 1e16 for a
        row predicted with certainty, so G_ref itself is not formed."""
        Q = self.others(rows)
        # Q scaled to unit diagonal, so that the condition test does not depend on units
        dg = np.sqrt(np.maximum(np.einsum("idd->id", Q), np.finfo(float).tiny))
        lam, V = np.linalg.eigh(Q / (dg[:, :, None] * dg[:, None, :]))
        bad = ~(lam[:, 0] > lam[:, -1] / _COND)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise NumericalError(
                f"invariant='model': for a training row (chunk position {i}) the other rows' "
                f"Fisher metric under its perturbation is too ill-conditioned to solve (condition "
                f"> {_COND:.0e} after scaling to unit diagonal): some direction of x_i barely moves "
                "the other predictions, or the features are nearly collinear. Use invariant='data', "
                "or fewer, less collinear features")
        def q_solve(B):  # Q^{-1} B
            VB = np.einsum("idk,idq->ikq", V, B / dg[:, :, None]) / lam[:, :, None]
            return np.einsum("idk,ikq->idq", V, VB) / dg[:, :, None]
        QF, QR = q_solve(F), q_solve(R)
        C = np.eye(F.shape[2]) + np.einsum("idr,ids->irs", F, QF)  # I + F^T Q^{-1} F
        return QR - np.einsum("idr,irq->idq", QF, np.linalg.solve(C, np.einsum("idr,idq->irq", F, QR)))


def _class_differences(rows):
    """``a_ic - a_i0`` (m, K-1, p) and the class-indicator covariance S_i (m, K-1, K-1).

    ``sum_c P_c a_c = 0``, so the Fisher information of row i's prediction is
    ``sum_c P_c a_c a_c^T = (A_i - a_i0)^T S_i (A_i - a_i0)`` over classes 1..K-1.
    """
    A, P = rows.logp_grad, rows.proba
    P1 = P[:, 1:]
    S = np.einsum("ia,ab->iab", P1, np.eye(P1.shape[1])) - np.einsum("ia,ib->iab", P1, P1)
    return A[:, 1:] - A[:, :1], S


def make_reference(invariant, influence):
    """The reference metric for ``invariant`` (None: the paper's Euclidean pseudo-inverse).

    Parameters
    ----------
    invariant : {None, "data", "model"}
    influence : LocalInfluence

    Returns
    -------
    ReferenceMetric or None
    """
    if invariant is None:
        return None
    if not isinstance(invariant, str) or invariant not in INVARIANTS:
        raise InputError(f"invariant must be None or one of {INVARIANTS}; got {invariant!r}")
    if invariant == "data":
        return DataReference(influence.X_, influence.feature_names_, influence.sample_weight_)
    return ModelReference(influence)


def solve_parts(ref, rows, F, g):
    """``(G_ref^{-1} F, G_ref^{-1} g)`` for a chunk, from one solve with ``[F, g]``.

    Parameters
    ----------
    ref : ReferenceMetric
    rows : Rows
    F : ndarray (m, d, r)
    g : ndarray (m, d)

    Returns
    -------
    RF : ndarray (m, d, r)
    Rg : ndarray (m, d)
    """
    r = F.shape[2]
    sol = ref.solve(rows, F, np.concatenate([F, g[:, :, None]], axis=2))
    return sol[:, :, :r], sol[:, :, r]


def invariance_defect(U, g, Rg):
    """``eta = 1 - sum_j (g . u_j)^2 / (g^T G_ref^{-1} g)`` per row, in [0, 1].

    Parameters
    ----------
    U : ndarray (m, d, k)
        G_ref-orthonormal generalised eigenvectors of G_i (0 on cut pairs), as
        :func:`~localinf.measures.pinv.reference_eig` returns them.
    g : ndarray (m, d)
    Rg : ndarray (m, d)
        ``G_ref^{-1} g``.

    Returns
    -------
    ndarray (m,)
        0 where ``g = 0``.
    """
    seen = np.einsum("idk,id->ik", U, g)
    seen = np.einsum("ik,ik->i", seen, seen)
    whole = np.einsum("id,id->i", g, Rg)
    eta = 1.0 - np.divide(seen, whole, out=np.ones_like(whole), where=whole > 0)
    eta[~(whole > 0)] = 0.0
    return np.clip(eta, 0.0, 1.0)
