"""Data trimming (Algorithm 3) and its baselines, and approximate trimming (Algorithm 6).

A trimming method turns (model, training data, validation data) into one
score per training row; the b rows with the highest scores are removed and
the model refitted. Scores are oriented so that higher always means "remove
first":

=============  ==================================================================
method         score
=============  ==================================================================
``"fi"``       FI_util (eq. 3.1)
``"iv"``       ``-IV`` (IV trimming removes the b lowest influence values)
``"cook"``     Cook's case-weight local influence (total)
``"random"``   a seeded random permutation
``"fi_paired"`` FI of pairs perturbed together (Appendix E.4), see :func:`fi_paired_scores`
``"shapley"``  minus the TMC Data Shapley value (Ghorbani & Zou 2019), see :func:`tmc_shapley`
=============  ==================================================================

``fit(X, y) -> model`` refits a model of the chosen kind (a GLM or a network
from :func:`localinf.fit_mlp`); accuracy is the share of correct predictions.
"""

import time

import numpy as np

from ._checks import check_labels, check_matrix, check_positive_int
from ._linalg import eig_of_matrix, pinv_quadratic
from .exceptions import InputError, LocalInfluenceError
from .measures import LocalInfluence

METHODS = ("fi", "iv", "cook", "random", "fi_paired", "shapley")


def accuracy(model, X, y):
    return float(np.mean(model.predict(X) == y))


def trimming_scores(method, model, X, y, X_val, y_val, *, seed=0, fit=None, influence_kw=None,
                    shapley_kw=None):
    """Per-row scores (n,), higher = remove first (see the module table).

    Parameters
    ----------
    method : str, one of METHODS
    model : fitted model on (X, y)
    X, y : training data; X_val, y_val : validation data
    seed : int, for ``"random"`` and ``"shapley"``
    fit : callable, needed by ``"shapley"`` (refits on subsets)
    influence_kw : dict, passed to :class:`LocalInfluence`
    shapley_kw : dict, passed to :func:`tmc_shapley`
    """
    kw = influence_kw or {}
    if method == "random":
        return np.random.default_rng(seed).permutation(len(y)).astype(float)
    if method == "shapley":
        if fit is None:
            raise InputError("method='shapley' needs fit (it refits on subsets)")
        return -tmc_shapley(fit, X, y, X_val, y_val, seed=seed, **(shapley_kw or {}))
    inf = LocalInfluence(model, X, y, **kw)
    if method == "fi":
        return inf.fi_util(X_val, y_val)
    if method == "iv":
        return -inf.influence_value(X_val, y_val)
    if method == "cook":
        return inf.cook_local_influence()
    if method == "fi_paired":
        return fi_paired_scores(inf, X_val, y_val)
    raise InputError(f"method must be one of {METHODS}; got {method!r}")


def select(scores, budget):
    """Indices of the ``budget`` highest scores (ties broken by row order)."""
    budget = int(budget)
    if not 0 <= budget <= len(scores):
        raise InputError(f"budget must be in 0..{len(scores)}; got {budget}")
    order = np.argsort(-np.asarray(scores), kind="stable")
    return np.sort(order[:budget])


def trim(fit, X, y, X_val, y_val, budget, method="fi", *, seed=0, influence_kw=None):
    """Algorithm 3: fit, score, remove the top ``budget`` rows, refit.

    Returns
    -------
    model : the model refitted on the kept rows
    removed : ndarray of int, the removed row indices
    """
    X = check_matrix(X, "X")
    y, _ = check_labels(y, "y", X.shape[0])
    model = fit(X, y)
    scores = trimming_scores(method, model, X, y, X_val, y_val, seed=seed, fit=fit,
                             influence_kw=influence_kw)
    removed = select(scores, budget)
    keep = np.setdiff1d(np.arange(len(y)), removed)
    return fit(X[keep], y[keep]), removed


def trimming_curve(fit, X, y, X_val, y_val, X_test, y_test, budgets, methods=("fi", "iv", "random"),
                   *, random_seeds=5, influence_kw=None, shapley_kw=None, scores=None):
    """Test accuracy after removing the top b rows, for every budget and method.

    The scores are computed once per method on the full training set (as in
    the paper), then each budget removes a prefix of the same ranking.
    ``"random"`` is averaged over ``random_seeds`` seeds (one row per seed in
    the table). A refit that fails (e.g. a class removed entirely) is
    recorded with accuracy NaN and its error message.

    Returns
    -------
    pandas.DataFrame with columns method, budget, seed, accuracy, seconds
        (seconds: time to compute that method's scores), error.
    """
    import pandas as pd
    X = check_matrix(X, "X")
    y, _ = check_labels(y, "y", X.shape[0])
    model = fit(X, y)
    rows = []
    for method in methods:
        seeds = range(random_seeds) if method == "random" else [0]
        for seed in seeds:
            t = time.perf_counter()
            if scores is not None and method in scores:
                s = scores[method]
            else:
                s = trimming_scores(method, model, X, y, X_val, y_val, seed=seed, fit=fit,
                                    influence_kw=influence_kw, shapley_kw=shapley_kw)
            secs = time.perf_counter() - t
            for b in budgets:
                keep = np.setdiff1d(np.arange(len(y)), select(s, b))
                try:
                    acc, err = accuracy(fit(X[keep], y[keep]), X_test, y_test), ""
                except LocalInfluenceError as exc:
                    acc, err = float("nan"), str(exc)
                rows.append(dict(method=method, budget=int(b), seed=seed, accuracy=acc,
                                 seconds=secs, error=err))
    return pd.DataFrame(rows)


# -- FI of pairs (Appendix E.4) ----------------------------------------------------------
def fi_paired_scores(inf, X_val, y_val, max_pairs=200_000):
    """Row scores from FI of pairs perturbed together (Appendix E.4), see :func:`fi_pairs`.

    Rows are scored by the rank of the first (highest) pair they appear in, so
    removing the top b rows removes the points of the top pairs in order.
    """
    n = inf.n_
    iu, ju, fi = fi_pairs(inf, X_val, y_val, max_pairs=max_pairs)
    order = np.argsort(-fi, kind="stable")
    score = np.full(n, -np.inf)
    rank = 0
    for pos in order:
        for r in (iu[pos], ju[pos]):
            if score[r] == -np.inf:
                score[r] = n - rank
                rank += 1
        if rank == n:
            break
    return score


def fi_pairs(inf, X_val, y_val, max_pairs=200_000):
    """FI_util of every pair of training rows perturbed together (the masking-effect variant).

    For a pair (i, j) the perturbation is ``omega = (omega_i, omega_j)`` in
    R^{2d}; ``D = [D_i, D_j]`` (p, 2d), ``g = D^T gbar_V`` and the metric is
    the Fisher information of the two points' predictive distributions,
    ``G = sum_{k in {i,j}} W_k S_k W_k^T`` with ``W_k`` the (2d, K-1)
    class-difference tangents of point k (see AutogradBackend.metric_factor).
    The value is ``g^T G^+ g`` with the rank cut-off of ``inf``. Cost:
    O(n^2 (K d p + d^3)) time and n^2 / 2 pseudo-inverses of size 2d, refused
    above ``max_pairs`` pairs.

    Returns
    -------
    i, j : ndarray of int (n (n - 1) / 2,), the pairs (i < j)
    fi : ndarray, their FI values
    """
    n, d, K = inf.n_, inf.d_, inf.K_
    if n * (n - 1) // 2 > max_pairs:
        raise InputError(f"fi_paired needs n (n - 1) / 2 <= max_pairs = {max_pairs} pairs; got n = {n}")
    from .autodiff import from_glm
    model = inf.model if hasattr(inf.model, "log_proba_fn") else from_glm(inf.model)
    ag = LocalInfluence(model, inf.X_, inf.y_, backend="autograd", rtol=inf.rtol, atol=inf.atol,
                        curvature=inf.H_inv_)
    b = ag.backend_
    pcs = b.pieces(inf.X_, inf.y_)
    A = pcs.dlogP_dtheta  # (n, K, p)
    Ad = A[:, 1:] - A[:, :1]  # (n, K-1, p)
    Bd = pcs.dlogP_dx_diff  # (n, K-1, d)
    P = np.exp(pcs.logP)
    S = np.einsum("ia,ab->iab", P[:, 1:], np.eye(K - 1)) - P[:, 1:, None] * P[:, None, 1:]
    D = np.stack([ag.dtheta_domega(i) for i in range(n)])  # (n, p, d)
    Xv, yv = ag._query(X_val, y_val, "X_val", "y_val")
    gbar = ag._mean_grad(Xv, yv)
    gD = np.einsum("p,ipd->id", gbar, D)  # (n, d): D_i^T gbar
    Q = np.einsum("kap,lpd->klad", Ad, D)  # Q[k, l] = Ad_k D_l (K-1, d)
    iu, ju = np.triu_indices(n, k=1)
    fi = np.empty(iu.size)
    for start in range(0, iu.size, 4096):
        i, j = iu[start:start + 4096], ju[start:start + 4096]
        m = i.size
        g = np.concatenate([gD[i], gD[j]], axis=1)  # (m, 2d)
        G = np.zeros((m, 2 * d, 2 * d))
        for k, first in ((i, True), (j, False)):
            W = np.concatenate([Q[k, i], Q[k, j]], axis=2)  # (m, K-1, 2d)
            W = np.transpose(W, (0, 2, 1)).copy()  # (m, 2d, K-1)
            if first:
                W[:, :d] += np.transpose(Bd[k], (0, 2, 1))
            else:
                W[:, d:] += np.transpose(Bd[k], (0, 2, 1))
            G += W @ S[k] @ np.transpose(W, (0, 2, 1))
        lam, U, inv = eig_of_matrix(G, inf.rtol, inf.atol)
        fi[start:start + m] = pinv_quadratic(U, inv, g)
    return iu, ju, fi


# -- Data Shapley ---------------------------------------------------------------------------
def tmc_shapley(fit, X, y, X_val, y_val, *, n_permutations=100, truncation=0.01, seed=0,
                progress=False):
    """Truncated Monte Carlo Data Shapley values (Ghorbani & Zou 2019), (n,).

    The value of a subset is the validation accuracy of the model fitted on it
    (the majority-class rate of the subset when it holds fewer than all
    classes or the fit fails). Each permutation adds rows one by one and
    credits each with its marginal gain; once the running value is within
    ``truncation`` (relative) of the full-data value, the remaining rows of
    that permutation get 0. Cost: up to n fits per permutation; ``progress``
    shows a bar over the permutations on stderr.
    """
    rng = np.random.default_rng(seed)
    n = len(y)
    K = int(np.max(y)) + 1
    full = accuracy(fit(X, y), X_val, y_val)

    def value(idx):
        ys = y[idx]
        if len(np.unique(ys)) < K:
            counts = np.bincount(ys, minlength=K) if len(ys) else np.zeros(K)
            return float(np.mean(y_val == np.argmax(counts))) if len(ys) else 0.0
        try:
            return accuracy(fit(X[idx], ys), X_val, y_val)
        except LocalInfluenceError:
            counts = np.bincount(ys, minlength=K)
            return float(np.mean(y_val == np.argmax(counts)))

    total = np.zeros(n)
    from tqdm import tqdm
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


# -- Algorithm 6 ---------------------------------------------------------------------------------
def approximate_fi_util(model, X, y, X_val, y_val, *, alpha=0.2, seed=0, n_estimators=100,
                        influence_kw=None):
    """Algorithm 6: FI_util on a random fraction alpha of the rows, a random forest from
    features to the FI rank, predicted ranks for every row.

    Returns
    -------
    scores : ndarray (n,)
        Predicted rank (higher = remove first); on the subsample, the exact rank.
    info : dict
        ``rows`` (the subsample), ``fi`` (its FI_util), ``seconds_fi``,
        ``seconds_forest``.
    """
    from sklearn.ensemble import RandomForestRegressor
    if not 0 < alpha <= 1:
        raise InputError(f"alpha must be in (0, 1]; got {alpha!r}")
    X = check_matrix(X, "X")
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(rng.random(n) < alpha)
    if rows.size < 2:
        rows = np.sort(rng.choice(n, size=min(n, 2), replace=False))
    t = time.perf_counter()
    inf = LocalInfluence(model, X, y, **(influence_kw or {}))
    fi = inf.fi_util(X_val, y_val, rows=rows)
    t_fi = time.perf_counter() - t
    t = time.perf_counter()
    ranks = np.argsort(np.argsort(fi, kind="stable"), kind="stable").astype(float)  # ascending
    forest = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=1)
    forest.fit(X[rows], ranks)
    scores = forest.predict(X)
    scores[rows] = ranks
    t_rf = time.perf_counter() - t
    return scores, {"rows": rows, "fi": fi, "seconds_fi": t_fi, "seconds_forest": t_rf}
