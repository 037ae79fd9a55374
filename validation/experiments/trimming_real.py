"""Trimming curves on real data (Figure 2 / 8 analogues), the perturbation ablation
(Table 7 analogue) and approximate against exact trimming (Table 8 analogue).

Data: scikit-learn's breast cancer set (569 rows, 30 features, standardised
with the training split's mean and spread), split 300 train / 100 validation /
169 test by the seed. Model: logistic regression, l2 = 1e-2. The noisy
variant adds white noise of variance 0.1 (Appendix D.1) ... to the features
of a random 10 % of the training rows, scaled up to variance 1 so that it
matters at this scale.

Run:  python validation/experiments/trimming_real.py [--seeds 5] [--quick]
Writes results/trimming_curves.md / .png, results/table7.md, results/table8.md.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import localinf as li  # noqa: E402
from _common import frame_markdown, markdown_table, out_dir, save_figure, write_text  # noqa: E402


def split(seed, noisy=False, noise_var=1.0, noisy_frac=0.1):
    from sklearn.datasets import load_breast_cancer
    X, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(y))
    tr, va, te = idx[:300], idx[300:400], idx[400:]
    mu, sd = X[tr].mean(axis=0), X[tr].std(axis=0)
    Z = (X - mu) / sd
    Xtr = Z[tr].copy()
    if noisy:
        rows = rng.choice(300, size=int(noisy_frac * 300), replace=False)
        Xtr[rows] += rng.normal(scale=np.sqrt(noise_var), size=(rows.size, Z.shape[1]))
    return Xtr, y[tr], Z[va], y[va], Z[te], y[te]


def fit(X, y):
    return li.LogisticRegression(l2=1e-2).fit(X, y)


def curves(seeds, budgets, methods, shapley_permutations):
    import pandas as pd
    frames = []
    for noisy in (False, True):
        for s in range(seeds):
            X, y, Xv, yv, Xt, yt = split(s, noisy=noisy)
            df = li.trimming_curve(fit, X, y, Xv, yv, Xt, yt, budgets, methods=methods,
                                   shapley_kw={"n_permutations": shapley_permutations})
            df["data_seed"], df["data"] = s, "noisy" if noisy else "clean"
            frames.append(df)
    return pd.concat(frames, ignore_index=True)


def plot_curves(df, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, data in zip(axes, ("clean", "noisy")):
        sub = df[df.data == data].groupby(["method", "budget"]).accuracy.mean().unstack(0)
        for m in sub.columns:
            ax.plot(sub.index, sub[m], "o-", ms=3, label=m)
        ax.set_xlabel("points removed (b)")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"breast cancer ({data})")
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def table7(seeds, budgets, sigma=1.0):
    """Add N(0, sigma^2) noise to the top-b and to the bottom-b FI points; refit; test accuracy."""
    rows = []
    for b in budgets:
        top, bottom, base = [], [], []
        for s in range(seeds):
            X, y, Xv, yv, Xt, yt = split(s)
            m = fit(X, y)
            fi = li.LocalInfluence(m, X, y).fi_util(Xv, yv)
            order = np.argsort(-fi)
            base.append(np.mean(m.predict(Xt) == yt))
            rng = np.random.default_rng(1000 + s)
            for rows_, acc in ((order[:b], top), (order[::-1][:b], bottom)):
                Xp = X.copy()
                Xp[rows_] += rng.normal(scale=sigma, size=(len(rows_), X.shape[1]))
                acc.append(np.mean(fit(Xp, y).predict(Xt) == yt))
        a0 = 100 * np.mean(base)
        rows.append([b, f"{100 * np.mean(top):.2f}", f"{100 * np.mean(top) - a0:+.2f}",
                     f"{100 * np.mean(bottom):.2f}", f"{100 * np.mean(bottom) - a0:+.2f}"])
    return (f"Accuracy without perturbation: {a0:.2f} %.\n\n"
            + markdown_table(["b", "acc. after perturbing top-b FI (%)", "change",
                              "acc. after perturbing bottom-b FI (%)", "change"], rows))


def table8(seeds, b=20, alpha=0.2):
    """Exact FI_util trimming against Algorithm 6 (FI on a fraction alpha + random forest),
    on a tanh network (30-16-1) where FI costs more than the forest."""
    rows = []
    for s in range(seeds):
        X, y, Xv, yv, Xt, yt = split(s)
        fitn = lambda X, y: li.fit_mlp(X, y, hidden=(16,), activation="tanh", l2=1e-2, seed=s)
        m = fitn(X, y)
        t = time.perf_counter()
        exact = li.LocalInfluence(m, X, y).fi_util(Xv, yv)
        t_exact = time.perf_counter() - t
        t = time.perf_counter()
        approx, info = li.approximate_fi_util(m, X, y, Xv, yv, alpha=alpha, seed=s)
        t_approx = time.perf_counter() - t
        accs = []
        for sc in (exact, approx):
            keep = np.setdiff1d(np.arange(len(y)), li.select(sc, b))
            accs.append(np.mean(fitn(X[keep], y[keep]).predict(Xt) == yt))
        overlap = len(set(li.select(exact, b)) & set(li.select(approx, b)))
        rows.append((accs[1], accs[0], t_approx, t_exact, overlap))
    r = np.array(rows)
    return markdown_table(
        ["model", "approx. accuracy (%)", "exact accuracy (%)", "approx. time (s)", "exact time (s)",
         f"top-{b} overlap"],
        [[f"tanh MLP 30-16-1, {seeds} seeds", f"{100 * r[:, 0].mean():.2f}", f"{100 * r[:, 1].mean():.2f}",
          f"{r[:, 2].mean():.2f}", f"{r[:, 3].mean():.2f}", f"{r[:, 4].mean():.1f}/{b}"]])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="CI-sized run: 1 seed, few budgets")
    a = ap.parse_args()
    seeds = 1 if a.quick else a.seeds
    budgets = (0, 10, 20) if a.quick else tuple(range(0, 55, 5))
    methods = ("fi", "iv", "random") if a.quick else ("fi", "iv", "cook", "random", "fi_paired", "shapley")
    folder = out_dir()
    t = time.perf_counter()
    df = curves(seeds, budgets, methods, shapley_permutations=5 if a.quick else 50)
    tab = df.groupby(["data", "method", "budget"]).accuracy.mean().unstack("budget")
    secs = df.groupby(["data", "method"]).seconds.mean().unstack("data")
    text = (f"# Trimming curves, breast cancer, logistic regression, {seeds} seeds\n\n"
            "Mean test accuracy after removing the top b rows of each method's ranking "
            "(random: 5 seeds per data seed).\n\n"
            + frame_markdown(tab) + "\n\nSeconds to score (mean over seeds):\n\n"
            + frame_markdown(secs, "{:.3f}") + f"\n\nRun time {time.perf_counter() - t:.0f} s.\n")
    write_text(os.path.join(folder, "trimming_curves.md"), text)
    plot_curves(df, os.path.join(folder, "trimming_curves.png"))
    print(text)
    t7 = table7(seeds, (10, 20) if a.quick else (10, 20, 30, 40, 50))
    write_text(os.path.join(folder, "table7.md"), "# Table 7 analogue: perturbing high- vs low-FI points\n\n" + t7 + "\n")
    print(t7)
    t8 = table8(1 if a.quick else seeds)
    write_text(os.path.join(folder, "table8.md"), "# Table 8 analogue: approximate vs exact trimming\n\n" + t8 + "\n")
    print(t8)


if __name__ == "__main__":
    main()
