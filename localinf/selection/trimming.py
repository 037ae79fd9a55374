"""Data trimming (Algorithm 3) and its baselines.

A trimming method turns (model, training data, validation data) into one
score per training row; the b rows with the highest scores are removed and
the model refitted. Scores are oriented so that higher always means "remove
first":

==============  ===================================================================
method          score
==============  ===================================================================
``fi``          FI_util (eq. 3.1)
``iv``          ``-IV`` (IV trimming removes the b lowest influence values)
``cook``        Cook's case-weight local influence (total)
``random``      a seeded random permutation
``fi_paired``   FI of pairs perturbed together (Appendix E.4), :func:`fi_paired_scores`
``shapley``     minus the TMC Data Shapley value (Ghorbani & Zou 2019), :func:`tmc_shapley`
==============  ===================================================================

FI_util marks *sensitive* points, not necessarily harmful ones: in our runs
trimming by FI did not beat random removal (validation/experiments/RESULTS.md),
so compare with ``random`` before trusting a curve.

``fit(X, y) -> model`` refits a model of the chosen kind (a GLM or a network
from :func:`localinf.fit_mlp`); accuracy is the share of correct predictions.
"""

import time

import numpy as np

from .._core.checks import check_choice, check_positive_int, check_seed
from ..exceptions import InputError, LocalInfluenceError
from ..measures.local_influence import LocalInfluence
from ..measures.pairs import fi_pairs
from .data import check_scores, held_out, refit, training_data
from .keywords import checked_keywords
from .shapley import accuracy, tmc_shapley

METHODS = ("fi", "iv", "cook", "random", "fi_paired", "shapley")


def trimming_scores(method, model, X, y, X_val, y_val, *, seed=0, fit=None, influence_kw=None,
                    shapley_kw=None):
    """Per-row scores, higher = remove first (see the module table).

    Parameters
    ----------
    method : str
        One of ``METHODS``.
    model : fitted model on (X, y)
    X : array_like (n, d)
    y : array_like (n,)
    X_val : array_like (m, d)
    y_val : array_like (m,)
    seed : int
        For ``"random"`` and ``"shapley"``.
    fit : callable, optional
        ``fit(X, y) -> model``; needed by ``"shapley"`` (refits on subsets).
    influence_kw : dict, optional
        Keyword arguments of :class:`LocalInfluence` (``rtol``, ``curvature``, ...).
    shapley_kw : dict, optional
        Keyword arguments of :func:`tmc_shapley`.

    Returns
    -------
    ndarray (n,)
        Oriented so that the highest score is removed first.
    """
    check_choice(method, "method", METHODS)
    kw = checked_keywords(LocalInfluence, influence_kw, "influence_kw")
    seed = check_seed(seed)
    if method == "random":
        return np.random.default_rng(seed).permutation(len(y)).astype(float)
    if method == "shapley":
        if fit is None:
            raise InputError("method='shapley' needs fit (it refits on subsets)")
        skw = checked_keywords(tmc_shapley, shapley_kw, "shapley_kw")
        if "seed" in skw:
            raise InputError("shapley_kw: 'seed' is set by the seed argument; pass seed= instead")
        return -tmc_shapley(fit, X, y, X_val, y_val, seed=seed, **skw)
    inf = LocalInfluence(model, X, y, **kw)
    if method == "fi":
        return inf.fi_util(X_val, y_val)
    if method == "iv":
        return -inf.influence_value(X_val, y_val)
    if method == "cook":
        return inf.cook_local_influence()
    return fi_paired_scores(inf, X_val, y_val)


def select(scores, budget):
    """Indices of the ``budget`` highest scores (ties broken by row order).

    Parameters
    ----------
    scores : array_like (n,)
    budget : int
        In 0..n.

    Returns
    -------
    ndarray of int (budget,)
        Sorted row indices.
    """
    scores = check_scores(scores, "scores")
    budget = check_positive_int(budget, "budget", minimum=0)
    if not budget <= len(scores):
        raise InputError(f"budget must be in 0..{len(scores)}; got {budget}")
    order = np.argsort(-scores, kind="stable")
    return np.sort(order[:budget])


def trim(fit, X, y, X_val, y_val, budget, method="fi", *, seed=0, influence_kw=None):
    """Algorithm 3: fit, score, remove the top ``budget`` rows, refit.

    Parameters
    ----------
    fit : callable
        ``fit(X, y) -> model``, the same kind of model each time.
    X, y : array_like (n, d) and (n,)
        Training data.
    X_val, y_val : array_like (m, d) and (m,)
        Validation data the scores are computed against.
    budget : int
        Rows to remove.
    method : str, default "fi"
        One of ``METHODS``.
    seed : int, default 0
    influence_kw : dict, optional

    Returns
    -------
    model
        The model refitted on the kept rows.
    removed : ndarray of int (budget,)
        The removed row indices.
    """
    X, y, K, names = training_data(X, y)
    X_val, y_val = held_out(X_val, y_val, "X_val", "y_val", X.shape[1], K, names)
    model = refit(fit, X, y)
    scores = trimming_scores(method, model, X, y, X_val, y_val, seed=seed, fit=fit,
                             influence_kw=influence_kw)
    removed = select(scores, budget)
    keep = np.setdiff1d(np.arange(len(y)), removed)
    return refit(fit, X[keep], y[keep]), removed


def trimming_curve(fit, X, y, X_val, y_val, X_test, y_test, budgets, methods=("fi", "iv", "random"),
                   *, random_seeds=5, influence_kw=None, shapley_kw=None, scores=None):
    """Test accuracy after removing the top b rows, for every budget and method.

    The scores are computed once per method on the full training set (as in
    the paper), then each budget removes a prefix of the same ranking.
    ``"random"`` is averaged over ``random_seeds`` seeds (one row per seed in
    the table). A refit that fails (e.g. a class removed entirely) is
    recorded with accuracy NaN and its error message.

    Parameters
    ----------
    fit, X, y, X_val, y_val
        As in :func:`trim`.
    X_test, y_test : array_like (t, d) and (t,)
        Held-out rows for the accuracy.
    budgets : sequence of int
    methods : sequence of str, default ("fi", "iv", "random")
    random_seeds : int, default 5
    influence_kw : dict, optional
    shapley_kw : dict, optional
    scores : dict, optional
        Precomputed scores by method (they are not recomputed).

    Returns
    -------
    pandas.DataFrame
        Columns method, budget, seed, accuracy, seconds (time to compute that
        method's scores), error.
    """
    import pandas as pd
    X, y, K, names = training_data(X, y)
    X_val, y_val = held_out(X_val, y_val, "X_val", "y_val", X.shape[1], K, names)
    X_test, y_test = held_out(X_test, y_test, "X_test", "y_test", X.shape[1], K, names)
    budgets = [check_positive_int(b, "budgets", minimum=0)
               for b in np.atleast_1d(np.asarray(budgets, dtype=object))]
    if max(budgets, default=0) >= len(y):
        raise InputError(f"budgets must be below the {len(y)} training rows; got {max(budgets)}")
    random_seeds = check_positive_int(random_seeds, "random_seeds")
    model = refit(fit, X, y)
    rows = []
    for method in methods:
        seeds = range(random_seeds) if method == "random" else [0]
        for seed in seeds:
            t = time.perf_counter()
            if scores is not None and method in scores:
                s = check_scores(scores[method], f"scores[{method!r}]", len(y))
            else:
                s = trimming_scores(method, model, X, y, X_val, y_val, seed=seed, fit=fit,
                                    influence_kw=influence_kw, shapley_kw=shapley_kw)
            secs = time.perf_counter() - t
            for b in budgets:
                keep = np.setdiff1d(np.arange(len(y)), select(s, b))
                try:
                    acc, err = accuracy(refit(fit, X[keep], y[keep]), X_test, y_test), ""
                except LocalInfluenceError as exc:
                    acc, err = float("nan"), str(exc)
                rows.append(dict(method=method, budget=int(b), seed=seed, accuracy=acc,
                                 seconds=secs, error=err))
    return pd.DataFrame(rows)


def fi_paired_scores(inf, X_val, y_val, max_pairs=200_000):
    """Row scores from FI of pairs perturbed together (Appendix E.4), see :func:`fi_pairs`.

    Rows are scored by the rank of the first (highest) pair they appear in, so
    removing the top b rows removes the points of the top pairs in order.

    Parameters
    ----------
    inf, X_val, y_val, max_pairs
        As in :func:`fi_pairs`.

    Returns
    -------
    ndarray (n,)
        ``n - r`` for the row that appears r-th (from 0) in the pairs sorted by
        decreasing FI; ``-inf`` for rows in no pair (n = 1).
    """
    n = inf.n_
    iu, ju, fi = fi_pairs(inf, X_val, y_val, max_pairs=max_pairs)
    order = np.argsort(-fi, kind="stable")
    appearance = np.column_stack([iu[order], ju[order]]).ravel()  # rows in order of appearance
    rows, first = np.unique(appearance, return_index=True)
    score = np.full(n, -np.inf)
    score[rows[np.argsort(first, kind="stable")]] = n - np.arange(rows.size)
    return score
