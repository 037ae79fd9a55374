"""Cook's (1986) local influence for logistic and softmax regression.

A perturbation vector omega in R^n (one entry per case) enters the
log-likelihood; with ``Delta`` (p, n) the matrix of ``d^2 l(theta|omega) /
d theta d omega_i`` at theta_hat, omega_0, and ``-L'' = n H`` the negative Hessian
of the (penalised) log-likelihood, the normal curvature in a unit direction l is
``C_l = 2 l^T B l`` with

    B = Delta^T (n H)^{-1} Delta      (n, n).

As in R's glmtoolbox, ``kind="total"`` returns ``|B_ii|`` (the curvature in the
direction of case i, halved) and ``kind="local"`` the absolute entries of the
unit eigenvector of B with the largest eigenvalue, l_max. Perturbation schemes:

* ``"case-weight"``: ``l = sum_i omega_i l_i``; Delta_i = grad_theta l_i.
* ``"response"`` (binary models): ``y_i -> y_i + omega_i s_y`` in the Bernoulli
  log-likelihood ``y eta - log(1 + e^eta)``, ``eta = log P_1 - log P_0``; Delta_i =
  s_y grad_theta eta_i (``s_y xt_i`` for logistic regression), s_y the sample
  standard deviation (ddof=1) of y.
* ``"covariate"``: ``x_ij -> x_ij + omega_i s_j`` for one column j;
  Delta_i = -s_j M_i e_j, s_j the sample standard deviation of column j.

Cook's measure uses the Euclidean metric on omega, so, unlike FI, it changes
when the perturbation is rescaled.
"""

import numbers

import numpy as np

from .._core.checks import check_choice
from .._core.moments import sample_covariance
from ..exceptions import InputError

PERTURBATIONS = ("case-weight", "response", "covariate")


def _sd(v, w):
    """Sample standard deviation (ddof 1) of the observations of v."""
    return float(np.sqrt(sample_covariance(v[:, None], w)[0, 0]))


def _delta_chunks(li, perturbation, covariate):
    """``(rows, Delta^T[rows])``: the columns of Delta (p, n) chunk by chunk."""
    if perturbation == "case-weight":
        for sl in li._chunks():
            yield sl, -li._rows(sl).loss_grad
    elif perturbation == "response":
        if li.K_ != 2:
            raise InputError("perturbation='response' is defined for binary models (K = 2)")
        s_y = _sd(li.y_.astype(float), li.sample_weight_)
        for sl in li._chunks():
            A = li._rows(sl).logp_grad  # grad_theta eta = a_i1 - a_i0
            yield sl, s_y * (A[:, 1] - A[:, 0])
    else:
        if not isinstance(covariate, numbers.Integral) or isinstance(covariate, (bool, np.bool_)) \
                or not 0 <= covariate < li.d_:
            raise InputError(f"covariate must be a column index in 0..{li.d_ - 1} for "
                             f"perturbation='covariate'; got {covariate!r}")
        s_j = _sd(li.X_[:, covariate], li.sample_weight_)
        for sl in li._chunks():
            m = sl.stop - sl.start
            E = np.zeros((m, li.d_, 1))
            E[:, covariate, 0] = 1.0
            yield sl, -s_j * li._rows(sl).mixed(E)[:, 0, :]


def cook_local_influence(li, perturbation="case-weight", kind="total", covariate=None):
    """Cook's local influence of every training case.

    Parameters
    ----------
    li : LocalInfluence
    perturbation : {"case-weight", "response", "covariate"}
    kind : {"total", "local"}
    covariate : int, required for ``perturbation="covariate"``

    Returns
    -------
    ndarray (n,)
        Non-negative. Larger means a small perturbation of that case displaces
        the likelihood more; ``"local"`` entries are the absolute components of
        a unit vector (they sum in squares to 1).
    """
    check_choice(perturbation, "perturbation", PERTURBATIONS)
    check_choice(kind, "kind", ("total", "local"))
    n, w = li.n_obs_, li.sample_weight_  # with weights: N observations, each perturbed on its own
    H = li.H_inv_.hessian
    if H is None:
        raise InputError("Cook's local influence needs the dense Hessian: use curvature='exact'")
    Hinv = li.H_inv_.matmat(np.eye(li.p_)) / n  # (n H)^{-1}
    if kind == "total":
        out = np.empty(li.n_)
        for sl, Delta in _delta_chunks(li, perturbation, covariate):
            out[sl] = np.abs(np.einsum("ij,ij->i", Delta @ Hinv, Delta))
        return out
    # Leading eigenvector of B = Phi^T Phi with Phi = (nH)^{-1/2} Delta: it is
    # Phi^T e / ||Phi^T e|| for e the leading eigenvector of Phi Phi^T (p x p).
    lam, V = np.linalg.eigh(H * n)
    root = (V / np.sqrt(lam)) @ V.T  # (nH)^{-1/2}
    A = np.zeros((li.p_, li.p_))
    for sl, Delta in _delta_chunks(li, perturbation, covariate):
        Phi = Delta @ root
        A += Phi.T @ (Phi if w is None else Phi * w[sl, None])
    e = np.linalg.eigh(A)[1][:, -1]
    out = np.empty(li.n_)
    for sl, Delta in _delta_chunks(li, perturbation, covariate):
        out[sl] = Delta @ (root @ e)
    norm = np.linalg.norm(out) if w is None else np.sqrt(w @ out ** 2)  # over the N observations
    return np.abs(out) / norm
