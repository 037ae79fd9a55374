"""The paper's pseudo-inverse quadratic form for a rank-one metric, from per-row scalars."""

import numpy as np

from .pinv import _inverse_kept


def rank_one_quadratic(lam, proj, rtol, atol):
    """``g^T G^+ g`` for ``G = lam e e^T`` (||e|| = 1) and ``proj = e . g``, per row.

    The cut-off is that of :func:`~localinf.measures.pinv.metric_eig`: lam is
    kept when ``lam > max(atol, rtol * lam)`` (and above the float floor);
    a cut row gets 0.

    Parameters
    ----------
    lam, proj : ndarray (m,)
    rtol, atol : float

    Returns
    -------
    ndarray (m,)
    """
    inv = _inverse_kept(lam[:, None], rtol, atol)[:, 0]
    scaled = proj * np.sqrt(inv)  # scaled first: no overflow
    return scaled * scaled
