"""A measured comparison, and the helpers every check shares.

Conventions shared by every check: ``rel_err(a, b) = max|a - b| / max|b|``;
FI values are compared only on rows whose kept metric eigenvalues sit well
above the rank cut-off (``well_separated_rows``), since 1/lambda amplifies
round-off near it.
"""

from dataclasses import dataclass, field

import numpy as np

from ..models.glm import LogisticRegression, SoftmaxRegression


@dataclass
class Check:
    """One measured comparison.

    Attributes
    ----------
    name : str
        The property checked.
    error : float
        Measured discrepancy (its meaning is in ``detail``).
    tol : float
        Tolerance derived for it; the check passes when ``error <= tol``.
    detail : str
    extra : dict
        Raw data for plots (e.g. predicted and actual changes).
    """

    name: str
    error: float
    tol: float
    detail: str = ""
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def passed(self):
        return bool(np.isfinite(self.error) and self.error <= self.tol)


def rel_err(a, b):
    """``max|a - b| / max|b|`` (the absolute difference when b is all zeros).

    Parameters
    ----------
    a, b : array_like, same shape
        The computation under test and the reference.

    Returns
    -------
    float
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.max(np.abs(b)) if b.size else 0.0
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else float(np.max(np.abs(a - b), initial=0.0))


def fit_glm(X, y, l2, fit_intercept=True):
    """LogisticRegression for two classes, SoftmaxRegression otherwise.

    Parameters
    ----------
    X, y : ndarray (n, d) and (n,)
    l2 : float
    fit_intercept : bool, default True

    Returns
    -------
    LogisticRegression or SoftmaxRegression
        Fitted.
    """
    K = int(np.max(y)) + 1
    cls = LogisticRegression if K == 2 else SoftmaxRegression
    return cls(l2=l2, fit_intercept=fit_intercept).fit(X, y)


def well_separated_rows(inf, gap=1e-6):
    """Rows whose kept metric eigenvalues all exceed ``gap * lambda_max``.

    Parameters
    ----------
    inf : LocalInfluence
    gap : float, default 1e-6

    Returns
    -------
    ndarray of bool (n,)
    """
    ok = np.empty(inf.n_, dtype=bool)
    for i in range(inf.n_):
        lam = np.linalg.eigvalsh(inf.metric(i))
        kept = lam[lam > inf.rtol * max(lam[-1], 0.0)]
        ok[i] = kept.size == 0 or kept.min() > gap * lam[-1]
    return ok
