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
atomically to a JSON file, and a later call with the same settings and data
continues from the last completed round. The file is keyed by every argument
that shapes the result (see :func:`~localinf.selection.checkpoint.config_key`),
checked field by field when read, and locked (``path + ".lock"``) while a run
uses it; ``restart=True`` throws it away and starts over.
"""

import os
import time

import numpy as np

from .._core.budget import check_cost
from .._core.checks import (check_bool, check_choice, check_fraction, check_labels, check_matrix,
                            check_positive_int, check_seed)
from ..exceptions import InputError
from ..measures.local_influence import LocalInfluence
from ..models.classifier import Classifier
from . import checkpoint as checkpoints
from .data import held_out, refit, training_data
from .forest import forest_fill
from .keywords import checked_keywords

STRATEGIES = ("fi_active", "iv", "bald", "random")


def acquisition_scores(strategy, model, X_lab, y_lab, X_pool, *, X_val=None, y_val=None, seed=0,
                       n_samples=64, influence_kw=None):
    """Scores for the pool, higher = label first (see the module table).

    Parameters
    ----------
    strategy : {"fi_active", "iv", "bald", "random"}
    model : fitted model on (X_lab, y_lab)
    X_lab : array_like (n, d)
    y_lab : array_like (n,)
    X_pool : ndarray (m, d)
    X_val : array_like (v, d), optional
    y_val : array_like (v,), optional
        Validation data, needed by ``"iv"``.
    seed : int, default 0
        For ``"random"`` and BALD's posterior draws.
    n_samples : int, default 64
        BALD's posterior draws.
    influence_kw : dict, optional
        Keyword arguments of :class:`LocalInfluence`.

    Returns
    -------
    ndarray (m,)
        The pool point with the highest score is labeled first.
    """
    names = model._names() if isinstance(model, Classifier) else None
    X_pool = check_matrix(X_pool, "X_pool", getattr(model, "n_features_in_", None), feature_names=names)
    m = X_pool.shape[0]
    seed = check_seed(seed)
    n_samples = check_positive_int(n_samples, "n_samples")
    kw = checked_keywords(LocalInfluence, influence_kw, "influence_kw")
    check_choice(strategy, "strategy", STRATEGIES)
    if strategy == "random":
        return np.random.default_rng(seed).random(m)
    inf = LocalInfluence(model, X_lab, y_lab, **kw)
    if strategy == "fi_active":
        return inf.fi_active(X_pool)
    if strategy == "iv":
        if X_val is None:
            raise InputError("strategy='iv' needs a validation set (X_val, y_val)")
        b = inf.backend_
        y_hat = np.argmax(b.proba(X_pool), axis=1)
        return b.rows(X_pool, y_hat).loss_grad @ inf.against(X_val, y_val).u_
    return _bald(inf, X_pool, seed, n_samples)


def _bald(inf, X_pool, seed, n_samples):
    """BALD with the Laplace posterior: theta_s = theta_hat + L^{-T} z / sqrt(n), H = L L^T."""
    H = inf.H_inv_.hessian
    if H is None:
        raise InputError("strategy='bald' needs the exact Hessian (curvature='exact')")
    try:
        L = np.linalg.cholesky(0.5 * (H + H.T))
    except np.linalg.LinAlgError:
        raise InputError("strategy='bald' needs a positive definite Hessian for its Laplace "
                         "posterior") from None
    b = inf.backend_
    m, K = X_pool.shape[0], inf.K_
    check_cost(f"BALD with {n_samples} posterior draws on {m} pool points ({K} classes, "
               f"{inf.p_} parameters)", "use fewer n_samples or a smaller pool",
               nbytes=8.0 * n_samples * (2.0 * inf.p_ + 2.0 * m * K),
               flops=2.0 * n_samples * m * (inf.p_ + K))
    Z = np.random.default_rng(seed).standard_normal((inf.p_, n_samples))
    thetas = b.theta[:, None] + np.linalg.solve(L.T, Z) / np.sqrt(inf.n_)
    P = np.stack([np.exp(b.log_proba_at(thetas[:, s], X_pool)) for s in range(n_samples)])
    entropy = lambda Q: -np.sum(Q * np.log(np.clip(Q, 1e-300, None)), axis=-1)
    return entropy(P.mean(axis=0)) - entropy(P).mean(axis=0)


def active_learning(fit, X_lab, y_lab, X_pool, y_pool, X_test, y_test, *, strategy="fi_active",
                    rounds=5, acquisition_size=10, X_val=None, y_val=None, seed=0, alpha=1.0,
                    n_samples=64, checkpoint=None, restart=False, checkpoint_key=None,
                    influence_kw=None, progress=None):
    """Algorithm 4 (alpha = 1) or 8 (alpha < 1).

    Parameters
    ----------
    fit : callable
        ``fit(X, y) -> model``. For the checkpoint key it counts by what can be
        seen of it: its qualified name and bytecode, the values it closes over,
        the arguments of a ``functools.partial``, the settings of the object of
        a bound method such as ``LogisticRegression(l2=0.1).fit`` (public
        attributes, or ``get_params()``), the numbers, strings and arrays it
        reads from module globals. A ``fit`` whose behaviour depends on
        anything else (a file, a mutable global object) needs
        ``checkpoint_key`` or ``restart=True``, or a resumed run may continue
        with another model.
    X_lab : array_like (n0, d)
    y_lab : array_like (n0,)
        The initial labeled pool.
    X_pool : array_like (m, d)
    y_pool : array_like (m,)
        The unlabeled pool and the labels the oracle reveals on request.
    X_test : array_like (t, d)
    y_test : array_like (t,)
        Held-out data for the accuracy curve.
    strategy : str
        One of ``STRATEGIES``.
    rounds : int
    acquisition_size : int
        Points labeled per round.
    X_val : array_like (v, d), optional
    y_val : array_like (v,), optional
        Validation data (needed by ``"iv"``).
    seed : int
    alpha : float in (0, 1]
        Fraction of the pool scored exactly per round.
    n_samples : int, default 64
        BALD's posterior draws.
    checkpoint : str or os.PathLike, optional
        JSON file for resuming, written atomically after every round. It is
        read back only by a run whose key matches: a SHA-256 over ``fit`` (as
        above), every array (``X_lab``, ``y_lab``, ``X_pool``, ``y_pool``,
        ``X_test``, ``y_test``, ``X_val``, ``y_val``, by dtype, shape and bytes)
        and every other argument except ``checkpoint``, ``restart`` and
        ``progress``. A file of another run, or one that is not a valid
        checkpoint of this run (truncated, edited, repeated indices, rounds
        that do not match), raises
        :class:`~localinf.exceptions.CheckpointError` naming the file. While the
        run lasts it holds the lock file ``checkpoint + ".lock"`` (its pid and
        host); a second run on the same checkpoint meanwhile raises
        ``CheckpointError`` naming the lock file. A lock left by a run that was
        killed (its pid no longer alive on this host) is stale and taken over.
    restart : bool, default False
        Ignore an existing checkpoint (valid or not) and overwrite it: the file
        is deleted when the run starts and written again after every round.
    checkpoint_key : str, optional
        Extra text for the key: name here whatever ``fit`` depends on that the
        key cannot see, so that a change of it refuses the old checkpoint.
    influence_kw : dict, optional
        Keyword arguments of :class:`LocalInfluence`.
    progress : callable(str), optional
        Called with a line after every round, once that round is saved.

    Returns
    -------
    pandas.DataFrame
        One row per round: round, n_labeled, accuracy, seconds (time to score
        that round), strategy, seed.

    Raises
    ------
    CheckpointError
        The checkpoint cannot be used or is locked by another run (see
        ``checkpoint``).
    """
    import pandas as pd
    X_lab, y_lab, K, names = training_data(X_lab, y_lab, "X_lab", "y_lab")
    d = X_lab.shape[1]
    X_pool = check_matrix(X_pool, "X_pool", n_features=d, feature_names=names)
    y_pool, K_pool = check_labels(y_pool, "y_pool", X_pool.shape[0])
    K = max(K, K_pool)
    X_test, y_test = held_out(X_test, y_test, "X_test", "y_test", d, K, names)
    X_val, y_val = held_out(X_val, y_val, "X_val", "y_val", d, K, names)
    rounds = check_positive_int(rounds, "rounds")
    acquisition_size = check_positive_int(acquisition_size, "acquisition_size")
    n_samples = check_positive_int(n_samples, "n_samples")
    check_choice(strategy, "strategy", STRATEGIES)
    seed = check_seed(seed)
    alpha = check_fraction(alpha, "alpha", high_open=False)
    restart = check_bool(restart, "restart")
    if rounds * acquisition_size > X_pool.shape[0]:
        raise InputError(f"rounds x acquisition_size = {rounds * acquisition_size} exceeds the pool "
                         f"({X_pool.shape[0]} points)")
    if checkpoint is not None and (not isinstance(checkpoint, (str, os.PathLike))
                                   or not os.fspath(checkpoint)):
        raise InputError(f"checkpoint must be a file path; got {checkpoint!r}")
    if checkpoint_key is not None and not isinstance(checkpoint_key, str):
        raise InputError(f"checkpoint_key must be a string; got {type(checkpoint_key).__name__}")
    checkpoint = None if checkpoint is None else os.fspath(checkpoint)
    key = None
    if checkpoint is not None:
        arr = lambda a: None if a is None else np.asarray(a)
        key = checkpoints.config_key(dict(
            fit=fit, X_lab=X_lab, y_lab=y_lab, X_pool=X_pool, y_pool=y_pool, X_test=arr(X_test),
            y_test=arr(y_test), X_val=arr(X_val), y_val=arr(y_val), strategy=strategy,
            rounds=rounds, acquisition_size=acquisition_size, seed=seed, alpha=alpha,
            n_samples=n_samples, influence_kw=influence_kw, checkpoint_key=checkpoint_key))
    with checkpoints.locked(checkpoint):
        if restart:
            checkpoints.discard(checkpoint)
        state = checkpoints.load(checkpoint, key, pool_size=X_pool.shape[0], n_initial=X_lab.shape[0],
                                 rounds=rounds, acquisition_size=acquisition_size,
                                 strategy=strategy, seed=seed)
        chosen = list(state["chosen"])
        results = list(state["results"])
        say = progress or (lambda msg: None)
        score_kw = dict(X_val=X_val, y_val=y_val, n_samples=n_samples, influence_kw=influence_kw)
        for r in range(len(results), rounds + 1):
            taken = np.array(chosen, dtype=int)
            Xl = np.vstack([X_lab, X_pool[taken]]) if taken.size else X_lab
            yl = np.concatenate([y_lab, y_pool[taken]]) if taken.size else y_lab
            model = refit(fit, Xl, yl)
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
                    s_sub = acquisition_scores(strategy, model, Xl, yl, X_pool[sub], seed=seed + r,
                                               **score_kw)
                    pos = np.searchsorted(free, sub)
                    scores = forest_fill(X_pool[free], s_sub, pos, seed + r)
                else:
                    scores = acquisition_scores(strategy, model, Xl, yl, X_pool[free], seed=seed + r,
                                                **score_kw)
                secs = time.perf_counter() - t
                pick = free[np.argsort(-scores, kind="stable")[:acquisition_size]]
                chosen.extend(int(i) for i in pick)
            results.append(dict(round=r, n_labeled=int(len(yl)), accuracy=acc, seconds=secs,
                                strategy=strategy, seed=seed))
            checkpoints.save(checkpoint, key, chosen, results)  # saved before it is reported
            say(f"{strategy} seed {seed} round {r}: {len(yl)} labeled, accuracy {acc:.4f}")
    return pd.DataFrame(results)
