"""How much a row's FI_util owes to the rank cut-off and to the choice of units.

Two per-row diagnostics, from the same pieces as FI_util (``G_i = F_i F_i^T``
and ``g_i``):

* ``fi_util_coarse``: FI_util (invariant, if the influence object's
  ``invariant`` is set) at a coarser cut-off: ``atol`` times 100 and ``rtol``
  times 100 but at least 1e-6. An eigenvalue lambda of G_i contributes
  ``(u . g)^2 / lambda``, so a small one can dominate FI; where the two values
  differ by more than a factor 2 the row is ``cutoff_sensitive``: its FI, and
  its rank, are decided by a direction in which its prediction barely moves,
  and any cut-off placed between the two changes them. The floor 1e-6 (Shu and
  Zhu's cut-off of 1e-3 on singular values) matters at the default
  ``rtol = 1e-10``: on iris the top rows owe their FI to eigenvalues 1e-7 times
  the largest, 800 times above the default cut-off.
* ``range_residual = ||(I - G_i G_i^+) g_i|| / ||g_i||`` in [0, 1]: 0 exactly
  when g_i lies in range(G_i), the condition under which Theorem 1 makes FI
  independent of the parameterisation of the perturbation (feature units,
  any invertible J); near 1, FI of this row changes with the units. It is
  Euclidean, so itself unit-dependent except for its zero set; the invariant
  counterpart is ``ValidationInfluence.invariance_defect``.
"""

import numpy as np

from .._core.chunks import row_chunks
from .pinv import metric_eig, pinv_quadratic, range_residual, reference_eig
from .reference import invariance_defect, solve_parts

COARSER = 100.0
RTOL_FLOOR = 1e-6  # the coarse relative cut-off is at least this


def stability_rows(bound):
    """``(fi_util_coarse, range_residual, invariance_defect)`` for every training row.

    With the influence object's ``invariant`` set, one solve with its reference
    metric per chunk serves both the coarse invariant FI_util and the
    invariance defect.

    Parameters
    ----------
    bound : ValidationInfluence
        Supplies the per-row pieces (``parts``) and the cut-off.

    Returns
    -------
    fi_util_coarse : ndarray (n,)
    range_residual : ndarray (n,)
        In [0, 1]; 0 where ``g_i = 0``.
    invariance_defect : ndarray (n,) or None
        None without a reference metric.
    """
    inf = bound.influence
    ref = inf.reference_
    coarse, resid = np.empty(inf.n_), np.empty(inf.n_)
    eta = None if ref is None else np.empty(inf.n_)
    rtol_c, atol_c = max(COARSER * inf.rtol, RTOL_FLOOR), COARSER * inf.atol
    for sl in row_chunks(inf.n_, inf.backend_.chunk_size):
        R, F, g = bound._parts(sl)
        lam, U, inv = metric_eig(F.copy(), inf.rtol, inf.atol)  # (metric_eig may reuse F)
        resid[sl] = range_residual(U, inv, g[:, :, None])[:, 0]
        if ref is None:
            lam, U, inv = metric_eig(F, rtol_c, atol_c)
        else:
            RF, Rg = solve_parts(ref, R, F, g)
            eta[sl] = invariance_defect(reference_eig(F, RF, inf.rtol, inf.atol)[1], g, Rg)
            lam, U, inv = reference_eig(F, RF, rtol_c, atol_c)
        coarse[sl] = pinv_quadratic(U, inv, g)
    return coarse, resid, eta
