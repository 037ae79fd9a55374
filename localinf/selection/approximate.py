"""Approximate trimming (Algorithm 6): FI_util on a subsample, a random forest for the rest."""

import time

import numpy as np

from .._core.checks import check_fraction, check_matrix, check_positive_int, check_seed
from ..measures.local_influence import LocalInfluence
from .forest import forest_fill
from .keywords import checked_keywords


def approximate_fi_util(model, X, y, X_val, y_val, *, alpha=0.2, seed=0, n_estimators=100,
                        influence_kw=None):
    """Algorithm 6: FI_util on a random fraction alpha of the rows, a random forest from
    features to the FI rank, predicted ranks for every row.

    Parameters
    ----------
    model : fitted model on (X, y)
    X : array_like (n, d)
    y : array_like (n,)
    X_val : array_like (m, d)
    y_val : array_like (m,)
    alpha : float in (0, 1], default 0.2
        Fraction of rows scored exactly.
    seed : int, default 0
        Seed of the subsample and of the forest.
    n_estimators : int, default 100
    influence_kw : dict, optional
        Keyword arguments of :class:`LocalInfluence`.

    Returns
    -------
    scores : ndarray (n,)
        Predicted rank (higher = remove first); on the subsample, the exact rank.
    info : dict
        ``rows`` (the subsample), ``fi`` (its FI_util), ``seconds_fi``,
        ``seconds_forest``.
    """
    kw = checked_keywords(LocalInfluence, influence_kw, "influence_kw")
    alpha = check_fraction(alpha, "alpha", high_open=False)
    n_estimators = check_positive_int(n_estimators, "n_estimators")
    X = check_matrix(X, "X")
    n = X.shape[0]
    rng = np.random.default_rng(check_seed(seed))
    rows = np.flatnonzero(rng.random(n) < alpha)
    if rows.size < 2:
        rows = np.sort(rng.choice(n, size=min(n, 2), replace=False))
    t = time.perf_counter()
    fi = LocalInfluence(model, X, y, **kw).fi_util(X_val, y_val, rows=rows)
    t_fi = time.perf_counter() - t
    t = time.perf_counter()
    scores = forest_fill(X, np.asarray(fi), rows, seed, n_estimators)
    t_rf = time.perf_counter() - t
    return scores, {"rows": rows, "fi": fi, "seconds_fi": t_fi, "seconds_forest": t_rf}
