"""Truncated Monte Carlo Data Shapley (Ghorbani & Zou 2019), a trimming baseline."""

import numpy as np
from tqdm import tqdm

from .._core.checks import check_nonneg_float, check_positive_int, check_seed
from ..exceptions import LocalInfluenceError
from .data import held_out, training_data


def accuracy(model, X, y):
    """Share of rows whose predicted class is y.

    Parameters
    ----------
    model : fitted model with ``predict``
    X : array_like (m, d)
    y : array_like (m,)

    Returns
    -------
    float
    """
    return float(np.mean(model.predict(X) == y))


def tmc_shapley(fit, X, y, X_val, y_val, *, n_permutations=100, truncation=0.01, seed=0,
                progress=False):
    """Truncated Monte Carlo Data Shapley values.

    The value of a subset is the validation accuracy of the model fitted on it
    (the majority-class rate of the subset when it holds fewer than all
    classes or the fit fails). Each permutation adds rows one by one and
    credits each with its marginal gain; once the running value is within
    ``truncation`` (relative) of the full-data value, the remaining rows of
    that permutation get 0. Cost: up to n fits per permutation.

    Parameters
    ----------
    fit : callable
        ``fit(X, y) -> model``.
    X : ndarray (n, d)
    y : ndarray of int (n,)
    X_val : ndarray (m, d)
    y_val : ndarray (m,)
    n_permutations : int, default 100
    truncation : float, default 0.01
    seed : int, default 0
    progress : bool, default False
        A bar over the permutations on stderr.

    Returns
    -------
    ndarray (n,)
        Higher means adding the row raised the validation accuracy more, on average.
    """
    rng = np.random.default_rng(check_seed(seed))
    truncation = check_nonneg_float(truncation, "truncation")
    X, y, K_train, names = training_data(X, y)
    X_val, y_val = held_out(X_val, y_val, "X_val", "y_val", X.shape[1], K_train, names)
    n = len(y)
    K = int(np.max(y)) + 1
    full = accuracy(fit(X, y), X_val, y_val)

    def majority(ys):
        return float(np.mean(y_val == np.argmax(np.bincount(ys, minlength=K)))) if len(ys) else 0.0

    def value(idx):
        ys = y[idx]
        if len(np.unique(ys)) < K:
            return majority(ys)
        try:
            return accuracy(fit(X[idx], ys), X_val, y_val)
        except LocalInfluenceError:
            return majority(ys)

    total = np.zeros(n)
    for _ in tqdm(range(check_positive_int(n_permutations, "n_permutations")), desc="Data Shapley",
                  disable=not progress, leave=False):
        perm = rng.permutation(n)
        prev = value(perm[:0])
        for t in range(n):
            if abs(full - prev) <= truncation * abs(full):
                break
            cur = value(perm[:t + 1])
            total[perm[t]] += cur - prev
            prev = cur
    return total / n_permutations
