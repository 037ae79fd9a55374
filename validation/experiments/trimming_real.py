"""Trimming curves on real data (Figure 2 / 8 analogues), the perturbation ablation
(Table 7 analogue) and approximate against exact trimming (Table 8 analogue).

Data: scikit-learn's breast cancer set (569 rows, 30 features, standardised
with the training split's mean and spread), split 300 train / 100 validation /
169 test by the seed. Model: logistic regression, l2 = 1e-2. The noisy
variant adds white noise of variance 0.1 (Appendix D.1) ... to the features
of a random 10 % of the training rows, scaled up to variance 1 so that it
matters at this scale.

Every table has an untrimmed (unperturbed) row and a random-removal (random
perturbation) row, and seed-paired statistics of each method against them
(validation/experiments/paired.py): wins/ties/losses over the data seeds, the
mean difference with a 95 % t interval, and the two-sided sign test. Table 8
here is the paper's Algorithm 6 (subsample + random forest); K-FAC and KFSVD
against exact FI are in table8_kfac.py.

Run:  python validation/experiments/trimming_real.py [--seeds 10] [--quick]
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
from paired import cell  # noqa: E402


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



def pct(a):
    """``"mean ± sd"`` of accuracies, in percent."""
    return f"{100 * np.mean(a):.2f} ± {100 * np.std(a):.2f}"


LABELS = {"fi": "FI", "iv": "IV", "cook": "Cook", "fi_paired": "FI-paired",
          "shapley": "Data Shapley (TMC)", "random": "random"}


def per_seed(df):
    """Accuracy by (data, data_seed, budget) x method; random: the mean of its draws.

    Parameters
    ----------
    df : pandas.DataFrame
        From :func:`curves`.

    Returns
    -------
    pandas.DataFrame
        One row per (data, data_seed, budget), one column per method.
    """
    return df.groupby(["data", "data_seed", "budget", "method"]).accuracy.mean().unstack("method")


def curves_paired(df, budgets):
    """Seed-paired rows: each method at each budget against no removal (b = 0) and random.

    Parameters
    ----------
    df : pandas.DataFrame
        From :func:`curves`; must contain budget 0 and the method ``"random"``.
    budgets : sequence of int
        The budgets to tabulate.

    Returns
    -------
    str
        A markdown table.
    """
    acc = per_seed(df)
    rows = []
    for data in ("clean", "noisy"):
        none = acc.xs((data, 0), level=("data", "budget"))["fi"]
        rows.append([data, 0, "no removal", pct(none), "", ""])
        for b in budgets:
            a = acc.xs((data, b), level=("data", "budget"))
            for m in [c for c in LABELS if c in a.columns]:
                rows.append([data, b, LABELS[m], pct(a[m]), cell(a[m], none),
                             "" if m == "random" else cell(a[m], a["random"])])
    return markdown_table(["data", "b", "method", "test accuracy (%)", "against no removal",
                           "against random"], rows)


def table7(seeds, budgets, sigma=1.0):
    """Add N(0, sigma^2) noise to the top-b, the bottom-b and b random FI_util rows; refit.

    The three perturbations of one (seed, b) use the same noise matrix, so they
    differ only in which rows receive it; the random rows are a prefix of one
    seeded permutation, nested across budgets.

    Parameters
    ----------
    seeds : int
        Data seeds (splits).
    budgets : sequence of int
        Numbers of perturbed rows.
    sigma : float, default 1
        Standard deviation of the added noise (standardised features).

    Returns
    -------
    str
        Markdown: the paper's columns, then the seed-paired comparisons.
    """
    acc = {k: np.zeros((seeds, len(budgets))) for k in ("top", "bottom", "random")}
    base = np.zeros(seeds)
    for s in range(seeds):
        X, y, Xv, yv, Xt, yt = split(s)
        m = fit(X, y)
        order = np.argsort(-li.LocalInfluence(m, X, y).fi_util(Xv, yv), kind="stable")
        perm = np.random.default_rng(2000 + s).permutation(len(y))
        base[s] = np.mean(m.predict(Xt) == yt)
        rng = np.random.default_rng(1000 + s)
        for j, b in enumerate(budgets):
            noise = rng.normal(scale=sigma, size=(b, X.shape[1]))
            for key, rows_ in (("top", order[:b]), ("bottom", order[::-1][:b]), ("random", perm[:b])):
                Xp = X.copy()
                Xp[rows_] += noise
                acc[key][s, j] = np.mean(fit(Xp, y).predict(Xt) == yt)
    a0 = 100 * base.mean()
    paper, rows = [], [[0, "no perturbation", pct(base), ""]]
    for j, b in enumerate(budgets):
        t, bo, r = (acc[k][:, j] for k in ("top", "bottom", "random"))
        paper.append([b] + sum(([f"{100 * v.mean():.2f}", f"{100 * v.mean() - a0:+.2f}"]
                                for v in (t, bo, r)), []))
        for name, v, ref in (("top-b", t, base), ("bottom-b", bo, base), ("random b", r, base),
                             ("top-b against bottom-b", t, bo), ("top-b against random b", t, r),
                             ("bottom-b against random b", bo, r)):
            rows.append([b, name if "against" in name else f"{name} against no perturbation",
                         pct(v) if "against" not in name else "", cell(v, ref)])
    return (f"Accuracy without perturbation: {pct(base)} % ({seeds} seeds).\n\n"
            + markdown_table(["b", "acc. after perturbing top-b FI (%)", "change",
                              "acc. after perturbing bottom-b FI (%)", "change",
                              "acc. after perturbing b random rows (%)", "change"], paper)
            + "\n\nSeed-paired (wins/ties/losses, mean difference in points [95 % t interval], "
            "sign test):\n\n" + markdown_table(["b", "comparison", "test accuracy (%)", "paired"], rows))


def table8(seeds, b=20, alpha=0.2):
    """Exact FI_util trimming against Algorithm 6 (FI on a fraction alpha + random forest),
    on a tanh network (30-16-1); random removal and no removal as baselines, seed-paired.

    Parameters
    ----------
    seeds : int
        Data seeds (splits); the network's seed is the data seed.
    b : int, default 20
        Rows removed.
    alpha : float, default 0.2
        Fraction of rows Algorithm 6 scores exactly.

    Returns
    -------
    str
        Markdown: the paper's columns, then the seed-paired comparisons.
    """
    cols = ("approx", "exact", "random", "none", "t_approx", "t_exact", "overlap")
    r = {k: np.zeros(seeds) for k in cols}
    for s in range(seeds):
        X, y, Xv, yv, Xt, yt = split(s)
        fitn = lambda X, y: li.fit_mlp(X, y, hidden=(16,), activation="tanh", l2=1e-2, seed=s)
        m = fitn(X, y)
        t = time.perf_counter()
        exact = li.LocalInfluence(m, X, y).fi_util(Xv, yv)
        r["t_exact"][s] = time.perf_counter() - t
        t = time.perf_counter()
        approx, _ = li.approximate_fi_util(m, X, y, Xv, yv, alpha=alpha, seed=s)
        r["t_approx"][s] = time.perf_counter() - t
        rand = np.random.default_rng(3000 + s).permutation(len(y)).astype(float)
        for key, sc in (("exact", exact), ("approx", approx), ("random", rand)):
            keep = np.setdiff1d(np.arange(len(y)), li.select(sc, b))
            r[key][s] = np.mean(fitn(X[keep], y[keep]).predict(Xt) == yt)
        r["none"][s] = np.mean(m.predict(Xt) == yt)
        r["overlap"][s] = len(set(li.select(exact, b)) & set(li.select(approx, b)))
    paper = markdown_table(
        ["model", "approx. accuracy (%)", "exact accuracy (%)", "approx. time (s)", "exact time (s)",
         f"top-{b} overlap", "random accuracy (%)", "untrimmed accuracy (%)"],
        [[f"tanh MLP 30-16-1, {seeds} seeds", f"{100 * r['approx'].mean():.2f}",
          f"{100 * r['exact'].mean():.2f}", f"{r['t_approx'].mean():.2f}", f"{r['t_exact'].mean():.2f}",
          f"{r['overlap'].mean():.1f}/{b}", f"{100 * r['random'].mean():.2f}",
          f"{100 * r['none'].mean():.2f}"]])
    rows = [["no removal", pct(r["none"]), "", ""],
            ["random", pct(r["random"]), cell(r["random"], r["none"]), ""]]
    for key, name in (("exact", "exact FI_util"), ("approx", "Algorithm 6")):
        rows.append([name, pct(r[key]), cell(r[key], r["none"]), cell(r[key], r["random"])])
    rows.append(["Algorithm 6 against exact", "", cell(r["approx"], r["exact"]), ""])
    return (paper + f"\n\nSeed-paired, b = {b}:\n\n"
            + markdown_table(["method", "test accuracy (%)", "against no removal", "against random"], rows))


def run(seeds, quick=False):
    """All three experiments; writes the result files and returns their data and texts.

    Parameters
    ----------
    seeds : int
        Data seeds (splits) of every table.
    quick : bool
        CI-sized: few budgets, FI / IV / random only, 5 Shapley permutations.

    Returns
    -------
    dict
        ``curves`` (the trimming_curve frame), ``curves_text``, ``table7``, ``table8``.
    """
    budgets = (0, 10, 20) if quick else tuple(range(0, 55, 5))
    stats_budgets = (10, 20) if quick else (10, 20, 50)
    methods = ("fi", "iv", "random") if quick else ("fi", "iv", "cook", "random", "fi_paired", "shapley")
    folder = out_dir()
    t = time.perf_counter()
    df = curves(seeds, budgets, methods, shapley_permutations=5 if quick else 50)
    tab = df.groupby(["data", "method", "budget"]).accuracy.mean().unstack("budget")
    for data in ("clean", "noisy"):  # the untrimmed model, for reading the rows against
        tab.loc[(data, "none (untrimmed)"), :] = tab.loc[(data, "fi"), 0]
    tab = tab.sort_index()
    secs = df.groupby(["data", "method"]).seconds.mean().unstack("data")
    text = (f"# Trimming curves, breast cancer, logistic regression, {seeds} seeds\n\n"
            "Mean test accuracy after removing the top b rows of each method's ranking "
            "(random: 5 draws per data seed).\n\n"
            + frame_markdown(tab) + "\n\nSeed-paired at selected budgets (random: the mean of its "
            "5 draws per data seed; wins/ties/losses over the data seeds, mean difference in "
            "accuracy points [95 % t interval], two-sided sign test):\n\n"
            + curves_paired(df, stats_budgets) + "\n\nSeconds to score (mean over seeds):\n\n"
            + frame_markdown(secs, "{:.3f}") + f"\n\nRun time {time.perf_counter() - t:.0f} s.\n")
    write_text(os.path.join(folder, "trimming_curves.md"), text)
    plot_curves(df, os.path.join(folder, "trimming_curves.png"))
    t = time.perf_counter()
    t7 = table7(seeds, (10, 20) if quick else (10, 20, 30, 40, 50))
    t7 += f"\n\nRun time {time.perf_counter() - t:.0f} s.\n"
    write_text(os.path.join(folder, "table7.md"),
               "# Table 7 analogue: perturbing high- vs low-FI points\n\n" + t7)
    t = time.perf_counter()
    t8 = table8(seeds)
    t8 += f"\n\nRun time {time.perf_counter() - t:.0f} s.\n"
    write_text(os.path.join(folder, "table8.md"),
               "# Table 8 analogue: approximate (Algorithm 6) vs exact trimming\n\n" + t8)
    return dict(curves=df, curves_text=text, table7=t7, table8=t8)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="CI-sized run: 2 seeds, few budgets")
    a = ap.parse_args(argv)
    out = run(2 if a.quick else a.seeds, a.quick)
    print(out["curves_text"], out["table7"], out["table8"], sep="\n")
    return out


if __name__ == "__main__":
    main()
