"""Deletion against retraining: leave-one-out and the linear datamodeling score."""

import numpy as np

from ..measures.local_influence import LocalInfluence
from .check import Check


def leave_one_out(X, y, fit, Xv, yv, make=None, min_corr=0.98):
    """IV_i / n and -I_i / n against the actual change of the losses after deleting z_i.

    Deleting one of n points is a 1/n step: the first-order error is O(1/n^2)
    per point against an O(1/n) effect, so for n >= 100 and a well-conditioned
    H the predictions must correlate above 0.98 with the actual changes and
    agree in sign wherever they are not small (> 10 % of the largest). Reports
    1 - correlation against ``1 - min_corr``.

    Parameters
    ----------
    X, y, fit, Xv, yv, make
        The common parameters (see :mod:`localinf.validation`); one refit per row.
    min_corr : float, default 0.98

    Returns
    -------
    list of Check
        For IV and for classic influence on the first validation point.
    """
    make = make or LocalInfluence
    model = fit(X, y)
    inf = make(model, X, y)
    n = len(y)
    iv_pred = inf.influence_value(Xv, yv) / n
    ki_pred = -inf.influence(Xv[:1], yv[:1])[:, 0] / n
    base_val, base_test = model.loss(Xv, yv).mean(), model.loss(Xv[:1], yv[:1])[0]
    iv_true, ki_true = np.empty(n), np.empty(n)
    for j in range(n):
        keep = np.arange(n) != j
        m = fit(X[keep], y[keep])
        iv_true[j] = m.loss(Xv, yv).mean() - base_val
        ki_true[j] = m.loss(Xv[:1], yv[:1])[0] - base_test
    out = []
    for name, pred, true in (("IV", iv_pred, iv_true), ("influence", ki_pred, ki_true)):
        corr = float(np.corrcoef(pred, true)[0, 1])
        big = np.abs(pred) > 0.1 * np.abs(pred).max()
        signs = float(np.mean(np.sign(pred[big]) == np.sign(true[big])))
        err = (1 - corr) if signs == 1.0 else np.inf
        out.append(Check(f"leave-one-out: {name}", err, 1 - min_corr,
                         f"1 - corr(predicted, retrained) with corr {corr:.4f}; "
                         f"sign agreement on large values {signs:.0%}",
                         extra={"predicted": pred, "actual": true}))
    return out


def lds(X, y, fit, Xv, yv, make=None, n_subsets=40, alpha=0.5, seed=0, min_lds=0.7):
    """Linear datamodeling score of IV (and, reported only, of FI_util) against retraining.

    For random subsets S_j holding a fraction alpha of the training rows, the
    model is refitted on S_j and its mean validation loss L_j recorded. IV
    predicts ``L_j - L ~ sum_{i not in S_j} IV_i / n``; the LDS is the Spearman
    correlation between predictions and L_j across subsets, with a 95 %
    bootstrap interval over subsets. FI_util is unsigned, so the sum of FI
    over removed rows predicts only the size of the change; its LDS (against
    |L_j - L|) is reported for comparison, not checked. The IV check requires
    the lower end of the interval to exceed ``min_lds``: removing half the data
    is not a small step, so the first-order prediction is not exact, but for
    a well-conditioned GLM its ranking of subsets should be largely kept.

    Parameters
    ----------
    X, y, fit, Xv, yv, make
        The common parameters (see :mod:`localinf.validation`).
    n_subsets : int, default 40
    alpha : float, default 0.5
        Share of the rows each subset keeps.
    seed : int, default 0
        Seed of the subsets and of the bootstrap.
    min_lds : float, default 0.7

    Returns
    -------
    Check
    """
    from scipy.stats import spearmanr  # 0.25 s to import; only this check needs it
    make = make or LocalInfluence
    rng = np.random.default_rng(seed)
    model = fit(X, y)
    inf = make(model, X, y)
    n = len(y)
    iv = inf.influence_value(Xv, yv) / n
    fi = inf.fi_util(Xv, yv)
    base = model.loss(Xv, yv).mean()
    pred_iv, pred_fi, actual = [], [], []
    K = int(np.max(y)) + 1
    while len(actual) < n_subsets:
        keep = rng.random(n) < alpha
        if len(np.unique(y[keep])) < K:
            continue
        m = fit(X[keep], y[keep])
        actual.append(m.loss(Xv, yv).mean() - base)
        pred_iv.append(iv[~keep].sum())
        pred_fi.append(fi[~keep].sum())
    actual, pred_iv, pred_fi = map(np.asarray, (actual, pred_iv, pred_fi))
    rho = lambda a, b: spearmanr(a, b).correlation
    boot = [rho(pred_iv[s], actual[s]) for s in rng.integers(0, n_subsets, size=(500, n_subsets))]
    lo, hi = np.nanpercentile(boot, [2.5, 97.5])
    score = rho(pred_iv, actual)
    fi_score = rho(pred_fi, np.abs(actual))
    return Check("LDS of IV", max(0.0, min_lds - lo), 0.0,
                 f"LDS(IV) = {score:.3f} (95 % CI {lo:.3f} .. {hi:.3f}), required lower end > "
                 f"{min_lds}; LDS of summed FI_util against |change| = {fi_score:.3f} (reported)",
                 extra={"lds_iv": score, "ci": (lo, hi), "lds_fi": fi_score,
                        "predicted": pred_iv, "actual": actual})
