"""Theorem 1 (invariance of FI under reparameterisation), checked honestly.

Reparameterise the perturbation as ``omega = J nu`` (J invertible, d x d). Then
``g -> J^T g`` and ``G -> J^T G J``, and with the Moore-Penrose pseudo-inverse

    g^T J (J^T G J)^+ J^T g = g^T G^+ g   for every invertible J

holds if and only if g lies in range(G). When G_i is full rank (softmax with
K - 1 >= d, or d = 1) this is automatic and FI is invariant. When G_i is rank
deficient (binary logistic regression with d >= 2: rank 1), g_i is generically
outside range(G_i) and FI changes under anisotropic J; it stays invariant only
for scalar multiples and orthogonal J. :func:`check_invariance` reports both
values and the range residual ``||(I - G G^+) g|| / ||g||`` so the user sees
which case they are in.
"""

from dataclasses import dataclass

import numpy as np

from autograd import jacobian

from .._core.checks import check_finite_result, plain_array
from ..exceptions import InputError
from .pinv import eig_of_matrix, range_residual


@dataclass
class InvarianceResult:
    """FI in the original and reparameterised coordinates.

    Attributes
    ----------
    fi : ndarray (n, m)
        FI(z'_q, z_i) with omega as given, for n training rows and m queries.
    fi_reparam : ndarray (n, m)
        FI in the coordinates nu, omega = J nu.
    rel_diff : ndarray (n, m)
        ``|fi_reparam - fi| / max(fi, fi_reparam)`` (0 where both are 0).
    range_residual : ndarray (n, m)
        ``||(I - G_i G_i^+) g_iq|| / ||g_iq||``; zero (to round-off) exactly
        when Theorem 1's condition holds for that pair.
    J : ndarray (d, d)
    """

    fi: np.ndarray
    fi_reparam: np.ndarray
    rel_diff: np.ndarray
    range_residual: np.ndarray
    J: np.ndarray

    @property
    def max_rel_diff(self):
        """Largest relative change of FI over all pairs (float)."""
        return float(np.max(self.rel_diff))

    @property
    def max_range_residual(self):
        """Largest range residual over all pairs (float)."""
        return float(np.max(self.range_residual))

    def summary(self):
        """One-line verdict with the largest relative change and range residual.

        Returns
        -------
        str
        """
        verdict = ("invariant (g in range(G) for every pair)" if self.max_range_residual < 1e-8
                   else "NOT invariant: g is outside range(G) for some pairs, Theorem 1 does not apply")
        return (f"{verdict}; max rel. change of FI = {self.max_rel_diff:.3e}, "
                f"max range residual = {self.max_range_residual:.3e}")


def _jacobian(J, d):
    if callable(J):
        try:
            J = jacobian(J)(np.zeros(d))
        except (TypeError, ValueError) as exc:
            raise InputError(f"J: the callable could not be differentiated at 0 with autograd "
                             f"(write it with autograd.numpy): {exc}") from None
    J = plain_array(J, "J").astype(np.float64)
    if J.shape != (d, d):
        raise InputError(f"J must have shape ({d}, {d}); got {J.shape}")
    if not np.isfinite(J).all():
        raise InputError("J contains NaN or inf")
    if np.linalg.cond(J) > 1e12:
        raise InputError("J is singular (or nearly so); a reparameterisation needs an invertible J")
    return J


def _unit_scale(J):
    """``J / ||J||_2``: a scalar factor cancels from FI exactly, and without it ``J^T G J``
    leaves the float range for ``||J||`` beyond ~1e150 or below ~1e-150."""
    return J / np.linalg.norm(J, 2)


def _fi_of(G, g, rtol, atol):
    """``g^T G^+ g`` (r, m) for metrics G (r, d, d) and gradients g (r, d, m), with the
    eigenvectors U, the projections ``U^T g`` and the kept weights ``1/lambda``."""
    lam, U, inv = eig_of_matrix(G, rtol, atol)
    proj = np.einsum("rdk,rdm->rkm", U, g)
    return np.einsum("rkm,rkm->rm", proj * inv[:, :, None], proj), U, proj, inv


def check_invariance(influence, J, X_query, y_query):
    """Compare FI before and after the reparameterisation ``omega = J nu``.

    Parameters
    ----------
    influence : LocalInfluence
    J : array_like (d, d) or callable
        Invertible matrix, or a diffeomorphism phi of R^d (autograd-traceable)
        whose Jacobian at 0 is used.
    X_query : array_like or pandas.DataFrame (m, d)
        A DataFrame is aligned to the training columns by name.
    y_query : array_like (m,)

    Returns
    -------
    InvarianceResult

    Notes
    -----
    The reparameterised FI is computed with ``J / ||J||_2``. A scalar factor
    cancels from FI exactly, so this changes nothing in exact arithmetic, and it
    keeps ``J^T G J`` inside the float range for any finite invertible J; the
    rank cut-off of the pseudo-inverse (``rtol``, ``atol``) then applies to the
    normalised metric.
    """
    n, d, p = influence.n_, influence.d_, influence.p_
    J = _jacobian(J, d)
    Ju = _unit_scale(J)
    Xq, yq = influence._query(X_query, y_query, "X_query", "y_query")
    Wq = influence._solved(Xq, yq)  # (p, m)
    m = Xq.shape[0]
    rtol, atol = influence.rtol, influence.atol
    fi = np.empty((n, m))
    fi_r = np.empty((n, m))
    resid = np.empty((n, m))
    eye = np.eye(d)[None]
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught by the guards below
        for sl in influence._chunks(max(1, (1 << 24) // (8 * d * max(p, m)))):
            rows = influence._rows(sl)
            F = rows.metric_factor()
            G = F @ np.swapaxes(F, 1, 2)  # (r, d, d)
            Mi = rows.mixed(np.broadcast_to(eye, (rows.m, d, d)))  # rows of M_i^T: (r, d, p)
            g = -(Mi @ Wq) / influence.backend_.D_divisor  # (r, d, m): D_i^T grad L(z'_q)
            fi[sl], U, _, inv = _fi_of(G, g, rtol, atol)
            resid[sl] = range_residual(U, inv, g)
            fi_r[sl] = _fi_of(Ju.T @ G @ Ju, np.einsum("de,rdm->rem", Ju, g), rtol, atol)[0]
    check_finite_result(fi, "fi", influence.index_)
    check_finite_result(fi_r, "fi in the reparameterised coordinates", influence.index_)
    check_finite_result(resid, "the range residual", influence.index_)
    top = np.maximum(fi, fi_r)
    rel = np.divide(np.abs(fi_r - fi), top, out=np.zeros_like(top), where=top > 0)
    return InvarianceResult(fi=fi, fi_reparam=fi_r, rel_diff=rel, range_residual=resid, J=J)
