"""Active learning curves (Figure 3 / 4 analogues) on a tabular set and on digits.

* breast cancer (standardised), logistic regression l2 = 1e-2: 20 initial
  labeled points, pool 350, validation 100, test the rest; 10 rounds of 10.
* scikit-learn's digits (pixels / 16), softmax regression l2 = 1e-2: 50
  initial labeled points, pool 1000, validation 200, test the rest; 10 rounds of 20.

Strategies: FI_active (trimmed mean), IV (recomputed each round), BALD
(Laplace posterior, 64 draws), random. Each (strategy, seed) run writes a
checkpoint under results/checkpoints/, so an interrupted run resumes.

Run:  python validation/experiments/active_curves.py [--seeds 5] [--quick]
Writes results/active_curves.md and results/active_curves.png.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import localinf as li  # noqa: E402
from _common import frame_markdown, out_dir, save_figure, write_text  # noqa: E402

STRATEGIES = ("fi_active", "iv", "bald", "random")


def tabular(seed):
    from sklearn.datasets import load_breast_cancer
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    idx = np.random.default_rng(seed).permutation(len(y))
    lab, pool, val, test = idx[:20], idx[20:370], idx[370:470], idx[470:]
    return dict(data="breast cancer", fit=lambda X, y: li.LogisticRegression(l2=1e-2).fit(X, y),
                rounds=10, size=10, parts=[(X[i], y[i]) for i in (lab, pool, val, test)])


def digits(seed):
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(y))
    # the initial labeled set holds every class (softmax regression needs them all)
    first = np.array([idx[y[idx] == c][0] for c in range(10)])
    rest = np.setdiff1d(idx, first)
    rest = rest[rng.permutation(rest.size)]
    lab = np.concatenate([first, rest[:40]])
    pool, val, test = rest[40:1040], rest[1040:1240], rest[1240:]
    return dict(data="digits", fit=lambda X, y: li.SoftmaxRegression(l2=1e-2).fit(X, y),
                rounds=10, size=20, parts=[(X[i], y[i]) for i in (lab, pool, val, test)])


def run(seeds, quick):
    import pandas as pd
    folder = out_dir()
    frames = []
    t = time.perf_counter()
    for make in (tabular, digits):
        for s in range(seeds):
            cfg = make(s)
            (Xl, yl), (Xp, yp), (Xv, yv), (Xt, yt) = cfg["parts"]
            rounds = 2 if quick else cfg["rounds"]
            for strategy in STRATEGIES:
                ck = os.path.join(folder, "checkpoints", f"{cfg['data'].replace(' ', '_')}-{strategy}-{s}-{rounds}.json")
                df = li.active_learning(cfg["fit"], Xl, yl, Xp, yp, Xt, yt, strategy=strategy,
                                        rounds=rounds, acquisition_size=cfg["size"], X_val=Xv,
                                        y_val=yv, seed=s, checkpoint=ck)
                df["data"] = cfg["data"]
                frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    mean = df.groupby(["data", "n_labeled", "strategy"]).accuracy.mean().unstack("strategy")
    secs = df[df.seconds > 0].groupby(["data", "strategy"]).seconds.mean().unstack("strategy")
    text = (f"# Active learning curves, {seeds} seeds\n\nMean test accuracy by labeled-pool size.\n\n"
            + frame_markdown(mean) + "\n\nSeconds per scoring round:\n\n" + frame_markdown(secs, "{:.3f}")
            + f"\n\nRun time {time.perf_counter() - t:.0f} s.\n")
    write_text(os.path.join(folder, "active_curves.md"), text)
    plot(df, os.path.join(folder, "active_curves.png"))
    return df, text


def plot(df, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    datas = list(dict.fromkeys(df.data))
    fig, axes = plt.subplots(1, len(datas), figsize=(5.5 * len(datas), 4))
    for ax, data in zip(np.atleast_1d(axes), datas):
        sub = df[df.data == data].groupby(["n_labeled", "strategy"]).accuracy.mean().unstack()
        for s in sub.columns:
            ax.plot(sub.index, sub[s], "o-", ms=3, label=s)
        ax.set_xlabel("labeled points")
        ax.set_ylabel("test accuracy")
        ax.set_title(data)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    print(run(1 if a.quick else a.seeds, a.quick)[1])
