"""Table 8 analogue with the paper's approximations: exact FI_util against K-FAC and KFSVD.

Data: scikit-learn's digits (1797 rows, 64 pixels, 10 classes), standardised
with the training split's mean and spread, split 1000 train / 300 validation /
497 test by the seed. Model: a tanh network 64-128-10 (p = 9,481; 9 output
units, class 0 the reference), l2 = 1e-3, fitted by L-BFGS to max|grad R| <=
1e-9; exact FI_util costs about 1.5 minutes per seed on one core, most of it
the dense Hessian and its factorisation.

Scorers (all FI_util at the default cut-off rtol = 1e-10, docs/curvature.md):

* ``exact``: ``curvature="exact"``, exact M_i;
* ``kfac``: K-FAC for every solve;
* ``kfac+cg``: K-FAC for the metric, the validation solve u = H^-1 gbar_V by
  K-FAC-preconditioned CG on the exact Hessian (``query_curvature="cg"``);
* ``kfsvd``: K-FAC and rank-8 truncated SVDs of the M_i (the paper's KFSVD,
  Algorithm 5);
* ``kfsvd+``: as kfsvd with the input layer's term of M_i kept exact and
  ``query_curvature="cg"`` (docs/curvature.md's recommendation);
* ``alg6``: the paper's Algorithm 6, KFSVD on a random 20 % of the rows and a
  random forest from features to rank for the rest.

For each: time (set-up plus the FI_util pass), Spearman correlation and top-b
overlap with exact, and test accuracy after removing the top b rows and
refitting (warm start from the full-data fit), with random removal and no
removal as baselines; seed-paired (wins/ties/losses, mean difference with a
95 % t interval, sign test).

Run:  python validation/experiments/table8_kfac.py [--seeds 3] [--quick]
Writes results/table8_kfac.md (LOCALINF_EXPERIMENT_OUT overrides the folder).
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import localinf as li  # noqa: E402
from _common import markdown_table, out_dir, write_text  # noqa: E402
from paired import cell  # noqa: E402

RANK = 8
SCORERS = {
    "exact": ("exact", dict()),
    "kfac": ("K-FAC", dict(curvature="kfac")),
    "kfac+cg": ("K-FAC, query_curvature='cg'", dict(curvature="kfac", query_curvature="cg")),
    "kfsvd": (f"KFSVD (K-FAC, svd_rank={RANK})", dict(curvature="kfac", svd_rank=RANK)),
    "kfsvd+": ("KFSVD, exact input layer, query_curvature='cg'",
               dict(curvature="kfac", svd_rank=RANK, svd_options={"exact_input_layer": True},
                    query_curvature="cg")),
    "alg6": ("Algorithm 6 (KFSVD on 20 % + forest)", None),
}
FULL = dict(n_train=1000, n_val=300, hidden=(128,), b=50)
QUICK = dict(n_train=250, n_val=100, hidden=(12,), b=15, names=("exact", "kfac", "kfac+cg", "kfsvd"))


def digits(seed, n_train, n_val):
    """A seeded split of digits, standardised with the training rows (constant pixels kept at 0).

    Parameters
    ----------
    seed : int
    n_train, n_val : int
        Training and validation rows; the rest is the test set.

    Returns
    -------
    X, y, X_val, y_val, X_test, y_test : ndarray
    """
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(seed).permutation(len(y))
    tr, va, te = idx[:n_train], idx[n_train:n_train + n_val], idx[n_train + n_val:]
    mu, sd = X[tr].mean(axis=0), X[tr].std(axis=0)
    Z = (X - mu) / np.where(sd > 0, sd, 1.0)
    return Z[tr], y[tr], Z[va], y[va], Z[te], y[te]


def score(name, model, X, y, Xv, yv, seed):
    """FI_util of one scorer (higher = remove first) and its wall time.

    Parameters
    ----------
    name : str
        A key of ``SCORERS``.
    model : MLP
        Fitted on (X, y).
    X, y, Xv, yv : ndarray
        Training and validation data.
    seed : int
        Algorithm 6's subsample and forest.

    Returns
    -------
    scores : ndarray (n,)
    seconds : float
        Set-up (curvature) plus the FI_util pass.
    """
    t = time.perf_counter()
    if name == "alg6":
        s, _ = li.approximate_fi_util(model, X, y, Xv, yv, alpha=0.2, seed=seed,
                                      influence_kw=SCORERS["kfsvd"][1])
    else:
        s = li.LocalInfluence(model, X, y, **SCORERS[name][1]).fi_util(Xv, yv)
    return np.asarray(s, float), time.perf_counter() - t


def one_seed(seed, n_train, n_val, hidden, b, names=tuple(SCORERS)):
    """Scores, times and test accuracies on one seed.

    Parameters
    ----------
    seed : int
        Seed of the split and of the network's initial parameters.
    n_train, n_val : int
    hidden : tuple of int
        Hidden layer widths.
    b : int
        Rows removed.
    names : sequence of str
        Keys of ``SCORERS`` to run; "exact" must be among them.

    Returns
    -------
    dict
        ``acc[name]`` (test accuracy after trimming, also for "random" and
        "none"), ``seconds[name]``, ``spearman[name]``, ``overlap[name]``,
        ``p`` and ``fit_seconds``; ``scores[name]`` (n,).
    """
    from scipy.stats import spearmanr
    X, y, Xv, yv, Xt, yt = digits(seed, n_train, n_val)
    kw = dict(hidden=hidden, activation="tanh", l2=1e-3, seed=seed)
    t = time.perf_counter()
    model = li.fit_mlp(X, y, **kw)
    out = dict(p=model.theta_.size, fit_seconds=time.perf_counter() - t, scores={}, seconds={},
               acc={}, spearman={}, overlap={})
    start = model.unflatten(model.theta_)
    acc = lambda m: float(np.mean(m.predict(Xt) == yt))
    for name in names:
        out["scores"][name], out["seconds"][name] = score(name, model, X, y, Xv, yv, seed)
    out["scores"]["random"] = np.random.default_rng(5000 + seed).permutation(len(y)).astype(float)
    exact = out["scores"]["exact"]
    for name, s in out["scores"].items():
        out["spearman"][name] = float(spearmanr(s, exact)[0])
        out["overlap"][name] = len(set(li.select(s, b)) & set(li.select(exact, b)))
        keep = np.setdiff1d(np.arange(len(y)), li.select(s, b))
        out["acc"][name] = acc(li.fit_mlp(X[keep], y[keep], init=start, **kw))
    out["acc"]["none"] = acc(model)
    return out



def report(res, cfg, seconds):
    """Markdown: the comparison with exact, then accuracies with paired statistics.

    Parameters
    ----------
    res : list of dict
        :func:`one_seed` results.
    cfg : dict
        ``FULL`` or ``QUICK``.
    seconds : float
        Wall time of the run.

    Returns
    -------
    str
    """
    names = [n for n in SCORERS if n in res[0]["scores"]]
    col = lambda key, name: np.array([r[key][name] for r in res])
    acc = lambda name: np.array([r["acc"][name] for r in res])
    t_exact = col("seconds", "exact").mean()
    cmp_rows = []
    for n in names:
        t = col("seconds", n).mean()
        cmp_rows.append([SCORERS[n][0], f"{t:.1f}", f"{t_exact / t:.1f}x",
                         f"{col('spearman', n).mean():.3f} ({col('spearman', n).min():.3f})",
                         f"{col('overlap', n).mean():.1f}/{cfg['b']}"])
    cmp_rows.append(["random removal", "", "", f"{col('spearman', 'random').mean():.3f}",
                     f"{col('overlap', 'random').mean():.1f}/{cfg['b']}"])
    rows = [["no removal", f"{100 * acc('none').mean():.2f} ± {100 * acc('none').std():.2f}", "", "", ""],
            ["random", f"{100 * acc('random').mean():.2f} ± {100 * acc('random').std():.2f}",
             cell(acc("random"), acc("none")), "", ""]]
    for n in names:
        rows.append([SCORERS[n][0], f"{100 * acc(n).mean():.2f} ± {100 * acc(n).std():.2f}",
                     cell(acc(n), acc("none")), cell(acc(n), acc("random")),
                     "" if n == "exact" else cell(acc(n), acc("exact"))])
    r0 = res[0]
    return (f"# Table 8 analogue: exact FI_util against K-FAC and KFSVD, digits, {len(res)} seeds\n\n"
            f"tanh network 64-{'-'.join(map(str, cfg['hidden']))}-10 (p = {r0['p']}), "
            f"{cfg['n_train']} training / {cfg['n_val']} validation rows, b = {cfg['b']}; "
            f"fit {np.mean([r['fit_seconds'] for r in res]):.1f} s per seed, one core. "
            f"Run time {seconds:.0f} s.\n\n"
            "Time: set-up plus the FI_util pass, mean over seeds. Spearman: mean (minimum) over "
            f"seeds, against exact FI_util; overlap: rows shared with exact's top {cfg['b']}.\n\n"
            + markdown_table(["scorer", "time (s)", "speed-up", "Spearman with exact",
                              f"top-{cfg['b']} overlap"], cmp_rows)
            + f"\n\nTest accuracy after removing the top {cfg['b']} and refitting (warm start); "
            "paired cells: wins/ties/losses over the seeds, mean difference in accuracy points "
            "[95 % t interval], two-sided sign test.\n\n"
            + markdown_table(["method", "test accuracy (%)", "against no removal", "against random",
                              "against exact"], rows) + "\n")


def run(seeds, quick=False):
    """Run every seed and write results/table8_kfac.md.

    Parameters
    ----------
    seeds : int
    quick : bool, default False
        CI-sized network, data and scorer list (``QUICK``).

    Returns
    -------
    res : list of dict
        :func:`one_seed` results.
    text : str
        The markdown written.
    """
    cfg = QUICK if quick else FULL
    t = time.perf_counter()
    res = [one_seed(s, **cfg) for s in range(seeds)]
    text = report(res, cfg, time.perf_counter() - t)
    write_text(os.path.join(out_dir(), "table8_kfac.md"), text)
    return res, text


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--quick", action="store_true",
                    help="CI-sized run: 64-12-10 on 250 rows, 2 seeds, 4 scorers")
    a = ap.parse_args()
    print(run(2 if a.quick else a.seeds, a.quick)[1])
