"""Table 2 analogue: trimming a two-hidden-layer network on two moons.

scikit-learn's two moons (noise 0.3), 500 training / 250 validation / 250
test points per seed. The paper's network has two ReLU hidden layers; exact
influence needs a twice-differentiable risk at the fitted parameters, and
weight decay tends to leave a ReLU network's minimiser on a kink, so we use
softplus, the smooth counterpart of ReLU, with hidden layers (16, 16) and
weight decay l2 = 1e-3. Refits after trimming start from the full-data fit.

Run:  python validation/experiments/table2_moons.py [--seeds 20]
Writes results/table2.md.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import localinf as li  # noqa: E402
from _common import markdown_table, out_dir, write_text  # noqa: E402

BUDGETS = (5, 10, 20)


def one_seed(seed):
    from sklearn.datasets import make_moons
    X, y = make_moons(1000, noise=0.3, random_state=seed)
    X, y, Xv, yv, Xt, yt = X[:500], y[:500], X[500:750], y[500:750], X[750:], y[750:]
    kw = dict(hidden=(16, 16), activation="softplus", l2=1e-3, seed=seed)
    model = li.fit_mlp(X, y, **kw)
    start = model.unflatten(model.theta_)
    refit = lambda X, y: li.fit_mlp(X, y, init=start, **kw)
    inf = li.LocalInfluence(model, X, y)
    scores = {"fi": inf.fi_util(Xv, yv), "iv": -inf.influence_value(Xv, yv)}
    out = {"base": float(np.mean(model.predict(Xt) == yt))}
    for m, s in scores.items():
        for b in BUDGETS:
            keep = np.setdiff1d(np.arange(len(y)), li.select(s, b))
            out[(m, b)] = float(np.mean(refit(X[keep], y[keep]).predict(Xt) == yt))
    return out


def run(seeds):
    t = time.perf_counter()
    res = [one_seed(s) for s in range(seeds)]
    rows = []
    for b in BUDGETS:
        fi = np.array([r[("fi", b)] for r in res])
        iv = np.array([r[("iv", b)] for r in res])
        rows.append([b, f"{int(np.sum(fi > iv))} (ties {int(np.sum(fi == iv))})",
                     f"{100 * fi.mean():.2f} ± {100 * fi.std():.2f}",
                     f"{100 * iv.mean():.2f} ± {100 * iv.std():.2f}"])
    base = np.array([r["base"] for r in res])
    text = (f"# Table 2 analogue: two moons, softplus MLP (16, 16), {seeds} seeds\n\n"
            f"Accuracy before trimming: {100 * base.mean():.2f} ± {100 * base.std():.2f} %. "
            f"Run time {time.perf_counter() - t:.0f} s.\n\n"
            + markdown_table(["# deleted", "# seeds FI better than IV", "Acc FI (%)", "Acc IV (%)"], rows)
            + "\n")
    write_text(os.path.join(out_dir(), "table2.md"), text)
    return text


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    print(run(ap.parse_args().seeds))
