"""Active learning (Algorithms 4 and 8) with FI_active and the paper's baselines.

Each round fits the model on the labeled pool, scores the unlabeled pool,
labels the ``acquisition_size`` highest-scoring points and records the test
accuracy. Strategies (higher score = label first):

===============  ===========================================================================
strategy         score of an unlabeled point x with the model's predicted label y_hat
===============  ===========================================================================
``"fi_active"``  FI_active (eq. 4.1), trimmed mean of FI((x, y_hat), z_j) over the labeled pool
``"iv"``         ``gbar_V^T H^{-1} grad L(y_hat, x)``: up-weighting (x, y_hat) lowers the
                 validation loss by about this much per unit weight; recomputed every round
``"bald"``       mutual information between the label and the parameters under the Laplace
                 posterior ``N(theta_hat, H^{-1} / n)`` (Monte Carlo, ``n_samples`` draws)
``"random"``     seeded uniform choice
===============  ===========================================================================

With ``alpha`` < 1 the score is computed on a random fraction alpha of the
pool and a random forest predicts it for the rest (Algorithm 8).

Runs are reproducible from ``seed`` and, with ``checkpoint=path``, resumable:
after every round the labeled indices and the results so far are written
atomically to a JSON file, and a later call with the same settings continues
from the last completed round.
"""

import hashlib
import json
import os
import time

import numpy as np

from ._checks import check_labels, check_matrix, check_positive_int
from ._io import write_text
from .exceptions import InputError
from .measures import LocalInfluence

STRATEGIES = ("fi_active", "iv", "bald", "random")


def acquisition_scores(strategy, model, X_lab, y_lab, X_pool, *, X_val=None, y_val=None, seed=0,
                       n_samples=64, influence_kw=None):
    """Scores (m,) for the pool, higher = label first (see the module table)."""
    m = X_pool.shape[0]
    if strategy == "random":
        return np.random.default_rng(seed).random(m)
    inf = LocalInfluence(model, X_lab, y_lab, **(influence_kw or {}))
    if strategy == "fi_active":
        return inf.fi_active(X_pool)
    if strategy == "iv":
        if X_val is None:
            raise InputError("strategy='iv' needs a validation set (X_val, y_val)")
        b = inf.backend_
        y_hat = np.argmax(b.proba(X_pool), axis=1)
        u = inf.H_inv_query_.matvec(inf._mean_grad(*inf._query(X_val, y_val, "X_val", "y_val")))
        return b.loss_grad(X_pool, y_hat) @ u
    if strategy == "bald":
        return _bald(inf, X_pool, seed, n_samples)
    raise InputError(f"strategy must be one of {STRATEGIES}; got {strategy!r}")


def _bald(inf, X_pool, seed, n_samples):
    """BALD with the Laplace posterior: theta_s = theta_hat + L^{-T} z / sqrt(n), H = L L^T."""
    from .autodiff import AutogradModel, from_glm
    model = inf.model if isinstance(inf.model, AutogradModel) else from_glm(inf.model)
    H = getattr(inf.H_inv_, "hessian", None)
    if H is None:
        raise InputError("strategy='bald' needs the exact Hessian (curvature='exact')")
    L = np.linalg.cholesky(0.5 * (H + H.T))
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((inf.p_, n_samples))
    thetas = model.theta_[:, None] + np.linalg.solve(L.T, Z) / np.sqrt(inf.n_)
    P = np.stack([np.exp(model.log_proba_fn(thetas[:, s], X_pool)) for s in range(n_samples)])
    entropy = lambda Q: -np.sum(Q * np.log(np.clip(Q, 1e-300, None)), axis=-1)
    return entropy(P.mean(axis=0)) - entropy(P).mean(axis=0)


def _forest_fill(X_pool, scores_sub, rows, seed, n_estimators=100):
    from sklearn.ensemble import RandomForestRegressor
    ranks = np.argsort(np.argsort(scores_sub, kind="stable"), kind="stable").astype(float)
    forest = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=1)
    forest.fit(X_pool[rows], ranks)
    out = forest.predict(X_pool)
    out[rows] = ranks
    return out


def active_learning(fit, X_lab, y_lab, X_pool, y_pool, X_test, y_test, *, strategy="fi_active",
                    rounds=5, acquisition_size=10, X_val=None, y_val=None, seed=0, alpha=1.0,
                    checkpoint=None, influence_kw=None, progress=None):
    """Algorithm 4 (alpha = 1) or 8 (alpha < 1).

    Parameters
    ----------
    fit : callable ``fit(X, y) -> model``
    X_lab, y_lab : initial labeled pool
    X_pool, y_pool : unlabeled pool and the labels the oracle reveals on request
    X_test, y_test : held-out data for the accuracy curve
    strategy : one of STRATEGIES
    rounds, acquisition_size : int
    X_val, y_val : validation data (needed by ``"iv"``)
    seed : int
    alpha : float in (0, 1], fraction of the pool scored exactly per round
    checkpoint : path, optional; JSON file for resuming (see the module docstring)
    progress : callable(str), optional

    Returns
    -------
    pandas.DataFrame with one row per round: round, n_labeled, accuracy,
    seconds (time to score that round), strategy, seed.
    """
    import pandas as pd
    X_lab = check_matrix(X_lab, "X_lab")
    d = X_lab.shape[1]
    X_pool = check_matrix(X_pool, "X_pool", n_features=d)
    y_lab, _ = check_labels(y_lab, "y_lab", X_lab.shape[0])
    y_pool, _ = check_labels(y_pool, "y_pool", X_pool.shape[0])
    rounds = check_positive_int(rounds, "rounds")
    acquisition_size = check_positive_int(acquisition_size, "acquisition_size")
    if strategy not in STRATEGIES:
        raise InputError(f"strategy must be one of {STRATEGIES}; got {strategy!r}")
    if not 0 < alpha <= 1:
        raise InputError(f"alpha must be in (0, 1]; got {alpha!r}")
    if rounds * acquisition_size > X_pool.shape[0]:
        raise InputError(f"rounds x acquisition_size = {rounds * acquisition_size} exceeds the pool "
                         f"({X_pool.shape[0]} points)")
    key = _config_key(strategy, rounds, acquisition_size, seed, alpha, X_lab, y_lab, X_pool, y_pool)
    state = _load(checkpoint, key)
    chosen = list(state["chosen"])
    results = list(state["results"])
    say = progress or (lambda msg: None)
    for r in range(len(results), rounds + 1):
        taken = np.array(chosen, dtype=int)
        Xl = np.vstack([X_lab, X_pool[taken]]) if taken.size else X_lab
        yl = np.concatenate([y_lab, y_pool[taken]]) if taken.size else y_lab
        model = fit(Xl, yl)
        acc = float(np.mean(model.predict(X_test) == y_test))
        secs = 0.0
        if r < rounds:
            free = np.setdiff1d(np.arange(X_pool.shape[0]), taken)
            rng = np.random.default_rng([seed, r])
            t = time.perf_counter()
            if alpha < 1 and strategy != "random":
                sub = free[rng.random(free.size) < alpha]
                if sub.size < 2:
                    sub = free[:2]
                s_sub = acquisition_scores(strategy, model, Xl, yl, X_pool[sub], X_val=X_val,
                                           y_val=y_val, seed=seed + r, influence_kw=influence_kw)
                pos = np.searchsorted(free, sub)
                scores = _forest_fill(X_pool[free], s_sub, pos, seed + r)
            else:
                scores = acquisition_scores(strategy, model, Xl, yl, X_pool[free], X_val=X_val,
                                            y_val=y_val, seed=seed + r, influence_kw=influence_kw)
            secs = time.perf_counter() - t
            pick = free[np.argsort(-scores, kind="stable")[:acquisition_size]]
            chosen.extend(int(i) for i in pick)
        results.append(dict(round=r, n_labeled=int(len(yl)), accuracy=acc, seconds=secs,
                            strategy=strategy, seed=seed))
        say(f"{strategy} seed {seed} round {r}: {len(yl)} labeled, accuracy {acc:.4f}")
        _save(checkpoint, key, chosen, results)
    return pd.DataFrame(results)


def _config_key(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(np.ascontiguousarray(p).tobytes() if isinstance(p, np.ndarray) else repr(p).encode())
    return h.hexdigest()


def _load(path, key):
    if path is None or not os.path.exists(path):
        return {"chosen": [], "results": []}
    with open(path) as f:
        state = json.load(f)
    if state.get("key") != key:
        raise InputError(f"checkpoint {path} was written by a run with other settings or data; "
                         "remove it or choose another path")
    return state


def _save(path, key, chosen, results):
    if path is not None:
        write_text(path, json.dumps({"key": key, "chosen": chosen, "results": results}))
