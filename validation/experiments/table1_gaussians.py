"""Table 1 and Figure 1 analogue: trimming a logistic regression on 2-D Gaussians.

Two isotropic Gaussian classes (unit variance, means (0, 0) and (2.5, 2.5),
Bayes accuracy 96 %), 150 training / 100 validation / 600 test points per
seed; logistic regression with l2 = 1e-3; FI_util trimming (remove the top b;
D_i with the 1/n of eq. 2.2, and as Algorithm 1 prints it) against IV trimming
(remove the b lowest IV), random removal and no removal, b = 5, 10, 20, with
seed-paired statistics (wins/ties/losses, mean difference with a 95 % interval,
sign-test p-value).

``--pipeline infdatasel`` runs the IV baseline's own setting instead: classes
with means (3, -3) and (1, 2) and standard deviation 1.5, features
standardised with the training rows' mean and spread, no intercept, scikit-
learn's C = 100 (l2 = 1 / (2 C n) in our mean-loss convention), a 100-point
test set. (Its validation gradient is summed, not averaged: the same ranking.)

Run:  python validation/experiments/table1_gaussians.py [--seeds 30] [--pipeline ours|infdatasel]
Writes results/table1.md (table1_infdatasel.md) and results/figure1.png
(LOCALINF_EXPERIMENT_OUT overrides the folder).
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import localinf as li  # noqa: E402
from _common import markdown_table, out_dir, save_figure, write_text  # noqa: E402
from paired import describe, paired  # noqa: E402

BUDGETS = (5, 10, 20)


def gaussians(n, rng):
    y = rng.integers(0, 2, size=n)
    X = rng.normal(size=(n, 2)) + 2.5 * y[:, None]
    y[:2] = [0, 1]
    return X, y


def fit(X, y):
    return li.LogisticRegression(l2=1e-3).fit(X, y)


def gaussians_infdatasel(n, rng):
    y = rng.integers(0, 2, size=n)
    y[:2] = [0, 1]
    means = np.array([[3.0, -3.0], [1.0, 2.0]])
    return means[y] + 1.5 * rng.normal(size=(n, 2)), y


def fit_infdatasel(X, y, C=100.0):
    return li.LogisticRegression(l2=1.0 / (2.0 * C * len(y)), fit_intercept=False).fit(X, y)


def data(seed, pipeline):
    rng = np.random.default_rng(seed)
    if pipeline == "ours":
        return gaussians(150, rng), gaussians(100, rng), gaussians(600, rng)
    parts = gaussians_infdatasel(150, rng), gaussians_infdatasel(100, rng), gaussians_infdatasel(100, rng)
    mu, sd = parts[0][0].mean(axis=0), parts[0][0].std(axis=0)
    return tuple(((X - mu) / sd, y) for X, y in parts)


def one_seed(seed, pipeline="ours"):
    (X, y), (Xv, yv), (Xt, yt) = data(seed, pipeline)
    fit = globals()["fit"] if pipeline == "ours" else fit_infdatasel
    import pandas as pd
    df = li.trimming_curve(fit, X, y, Xv, yv, Xt, yt, (0,) + BUDGETS, methods=("fi", "iv", "random"),
                           random_seeds=1)
    alg1 = li.trimming_curve(fit, X, y, Xv, yv, Xt, yt, BUDGETS, methods=("fi",),
                             influence_kw={"scaling": "algorithm1"})
    alg1["method"] = "fi_alg1"
    df = pd.concat([df, alg1], ignore_index=True)
    df["data_seed"] = seed
    return df, (X, y, Xv, yv, Xt, yt)


def run(seeds, pipeline="ours"):
    import pandas as pd
    t = time.perf_counter()
    frames, data0 = [], None
    for s in range(seeds):
        df, data_s = one_seed(s, pipeline)
        frames.append(df)
        data0 = data0 or data_s
    df = pd.concat(frames, ignore_index=True)
    acc = df.pivot_table(index=["data_seed", "budget"], columns="method", values="accuracy")
    base = acc.xs(0, level="budget")["fi"]  # budget 0: the untrimmed model
    names = {"fi": "FI (derived)", "fi_alg1": "FI (Algorithm 1)", "iv": "IV", "random": "random"}
    rows, vs_iv = [], []
    for b in BUDGETS:
        a = acc.xs(b, level="budget")
        for m, label in names.items():
            rows.append([b, label, f"{100 * a[m].mean():.2f} ± {100 * a[m].std():.2f}",
                         describe(paired(a[m], base))])
        for m in ("fi", "fi_alg1", "random"):
            vs_iv.append([b, names[m], describe(paired(a[m], a["iv"]))])
    text = (f"# Table 1 analogue ({pipeline} pipeline): 2-D Gaussians, logistic regression, "
            f"{seeds} seeds\n\n"
            f"Untrimmed accuracy: {100 * base.mean():.2f} ± {100 * base.std():.2f} %. "
            f"Run time {time.perf_counter() - t:.0f} s. Paired cells: wins/ties/losses over the "
            "seeds, mean difference in accuracy points [95 % t interval], two-sided sign test.\n\n"
            + markdown_table(["# deleted", "method", "test accuracy (%)", "against no removal"], rows)
            + "\n\n" + markdown_table(["# deleted", "method", "against IV"], vs_iv) + "\n")
    folder = out_dir()
    write_text(os.path.join(folder, "table1.md" if pipeline == "ours" else "table1_infdatasel.md"), text)
    if pipeline == "ours":
        figure1(*data0, os.path.join(folder, "figure1.png"))
    return df, text


def figure1(X, y, Xv, yv, Xt, yt, path, b=10):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    model = fit(X, y)
    picks = {m: li.select(li.trimming_scores(m, model, X, y, Xv, yv), b) for m in ("fi", "iv")}
    fig, axes = plt.subplots(1, 4, figsize=(16, 4), sharex=True, sharey=True)
    grid = np.linspace(X.min() - 1, X.max() + 1, 2)

    def boundary(ax, m, style, label):
        w, c = m.theta_[:2], m.theta_[2]
        ax.plot(grid, -(c + w[0] * grid) / w[1], style, label=label)

    axes[0].scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=10)
    axes[0].set_title("A: training set")
    for ax, (m, title) in zip(axes[1:3], (("fi", "B: trimmed by FI"), ("iv", "C: trimmed by IV"))):
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=10, alpha=0.3)
        ax.scatter(X[picks[m], 0], X[picks[m], 1], c=y[picks[m]], cmap="coolwarm", s=40,
                   edgecolors="k")
        ax.set_title(title)
    ax = axes[3]
    ax.scatter(Xt[:, 0], Xt[:, 1], c=yt, cmap="coolwarm", s=6, alpha=0.4)
    for m, style, name in ((None, "g-", "no trimming"), ("fi", "r-", "after FI"), ("iv", "b-", "after IV")):
        keep = np.arange(len(y)) if m is None else np.setdiff1d(np.arange(len(y)), picks[m])
        mm = fit(X[keep], y[keep])
        acc = np.mean(mm.predict(Xt) == yt)
        boundary(ax, mm, style, f"{name} (acc {acc:.3f})")
    ax.set_ylim(X[:, 1].min() - 1, X[:, 1].max() + 1)
    ax.legend(fontsize=8)
    ax.set_title("D: test set and boundaries")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--pipeline", choices=("ours", "infdatasel"), default="ours")
    args = ap.parse_args()
    print(run(args.seeds, args.pipeline)[1])
