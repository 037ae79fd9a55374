"""The ``localinf`` command.

    localinf                                   # diagnose the embedded breast cancer data
    localinf diagnose DATA.csv --target y      # your own CSV or Parquet file
    localinf trim [DATA.csv --target y]        # trimming curve: FI, IV, random, ...
    localinf active [DATA.csv --target y]      # simulated active learning (resumable)
    localinf invariance [DATA.csv --target y]  # Theorem 1: FI under a rescaled perturbation
    localinf validate [--backend mod:factory]  # the verification report

``diagnose`` fits logistic (two classes) or softmax regression on a training
split, computes FI_util, IV, self-influence, Cook's local influence and
leverage for every training row against the validation split, prints the most
influential rows and writes ``influence.csv`` (all rows, by rank) and
``influence.png`` (index plot and FI against leverage) to ``--out``. Outputs
are written atomically. Bad input exits with status 2 and one line on stderr.
"""

import argparse
import json
import os
import sys

import numpy as np

from ._io import save_figure, write_text
from .exceptions import LocalInfluenceError


class UsageError(Exception):
    """Bad input from the command line: reported in one line, exit status 2."""


def _load(path, target):
    import pandas as pd
    if path is None:
        from sklearn.datasets import load_breast_cancer
        data = load_breast_cancer(as_frame=True)
        return data.frame, "target", "breast cancer (scikit-learn, embedded)"
    if not os.path.exists(path):
        raise UsageError(f"data file not found: {path}")
    if target is None:
        raise UsageError("--target is required with a data file")
    try:
        frame = pd.read_parquet(path) if path.endswith((".parquet", ".pq")) else pd.read_csv(path)
    except ImportError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    except Exception as exc:  # malformed file: say which
        raise UsageError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None
    if target not in frame.columns:
        raise UsageError(f"--target {target!r} is not a column of {path} (columns: "
                         f"{', '.join(map(str, frame.columns[:10]))}{' ...' if frame.shape[1] > 10 else ''})")
    return frame, target, path


def _design(frame, target):
    """Numeric design (categorical columns one-hot, first level dropped) and labels 0..K-1."""
    import pandas as pd
    y_raw = frame[target]
    if y_raw.isna().any():
        raise UsageError(f"target column {target!r} has missing values")
    X = pd.get_dummies(frame.drop(columns=[target]), drop_first=True, dtype=float)
    if X.shape[1] == 0:
        raise UsageError("no feature columns besides the target")
    if X.isna().any().any():
        bad = X.columns[X.isna().any()].tolist()
        raise UsageError(f"feature columns with missing values: {', '.join(map(str, bad[:5]))}")
    levels = np.sort(y_raw.unique())
    if levels.size < 2:
        raise UsageError(f"target column {target!r} has a single class")
    y = np.searchsorted(levels, y_raw.to_numpy())
    return X, y, levels


def diagnose(args):
    import pandas as pd
    from . import LocalInfluence, LogisticRegression, SoftmaxRegression
    frame, target, name = _load(args.data, args.target)
    X, y, levels = _design(frame, target)
    rng = np.random.default_rng(args.seed)
    if args.val_file:
        vframe, _, _ = _load(args.val_file, target)
        Xv, yv_raw = _design(vframe, target)[0], vframe[target].to_numpy()
        Xv = Xv.reindex(columns=X.columns, fill_value=0.0)
        if not np.isin(yv_raw, levels).all():
            raise UsageError("the validation file has target values absent from the training data")
        yv = np.searchsorted(levels, yv_raw)
        Xtr, ytr = X, y
    else:
        if not 0 < args.val_frac < 1:
            raise UsageError(f"--val-frac must be in (0, 1); got {args.val_frac}")
        is_val = rng.random(len(y)) < args.val_frac
        Xtr, ytr, Xv, yv = X[~is_val], y[~is_val], X[is_val], y[is_val]
    if args.standardize:  # z-scores with the training rows' mean and spread
        mu, sd = Xtr.mean(), Xtr.std(ddof=0).replace(0.0, 1.0)
        Xtr, Xv = (Xtr - mu) / sd, (Xv - mu) / sd
    K = len(levels)
    if args.model == "logistic" and K != 2:
        raise UsageError(f"--model logistic needs two classes; the target has {K}")
    cls = LogisticRegression if (args.model == "logistic" or args.model == "auto" and K == 2) \
        else SoftmaxRegression
    model = cls(l2=args.l2).fit(Xtr.to_numpy(), ytr)
    inf = LocalInfluence(model, Xtr, ytr)
    table = inf.summary_frame(Xv.to_numpy(), yv, flag_top=args.flag).sort_values("rank")
    table.insert(0, "label", pd.Series(levels[ytr], index=Xtr.index).loc[table.index].to_numpy())
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, "influence.csv")
    png_path = os.path.join(args.out, "influence.png")
    write_text(csv_path, table.to_csv(index_label="row"))
    _plot(table, png_path, name)
    top = table.head(args.top)
    if args.json:
        print(json.dumps({"data": name, "n_train": int(len(ytr)), "n_validation": int(len(yv)),
                          "n_features": int(X.shape[1]), "classes": [str(v) for v in levels],
                          "model": type(model).__name__, "l2": args.l2,
                          "top": json.loads(top.reset_index(names="row").to_json(orient="records")),
                          "csv": csv_path, "png": png_path}))
    elif not args.quiet:
        print(f"localinf diagnose: {name}; {len(ytr)} training / {len(yv)} validation rows, "
              f"{X.shape[1]} features, classes {', '.join(map(str, levels))}; "
              f"{type(model).__name__}(l2={args.l2:g})")
        print("Most influential training rows by FI_util (eq. 3.1; IV < 0 marks rows whose "
              "removal lowers the validation loss):")
        with pd.option_context("display.width", 120, "display.float_format", "{:.4g}".format):
            print(top.to_string())
        print(f"wrote {csv_path} and {png_path}")
    return 0


def trim(args):
    """Trimming curve: test accuracy after removing the top b rows, per method."""
    from . import LogisticRegression, SoftmaxRegression, trimming_curve
    from .plots import plot_trimming_curve
    from .trimming import METHODS
    frame, target, name = _load(args.data, args.target)
    X, y, levels = _design(frame, target)
    try:
        budgets = [int(b) for b in args.budgets.split(",")]
    except ValueError:
        raise UsageError(f"--budgets must be comma-separated integers; got {args.budgets!r}") from None
    methods = args.methods.split(",")
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise UsageError(f"unknown --methods {', '.join(bad)}; choose from {', '.join(METHODS)}")
    if not (0 < args.val_frac < 1 and 0 < args.test_frac < 1 and args.val_frac + args.test_frac < 1):
        raise UsageError("--val-frac and --test-frac must be in (0, 1) and sum to less than 1")
    u = np.random.default_rng(args.seed).random(len(y))
    val, test = u < args.val_frac, (u >= args.val_frac) & (u < args.val_frac + args.test_frac)
    tr = ~(val | test)
    if max(budgets) >= tr.sum():
        raise UsageError(f"the largest budget must be below the {int(tr.sum())} training rows")
    X = X.to_numpy()
    if args.standardize:
        mu, sd = X[tr].mean(axis=0), X[tr].std(axis=0)
        X = (X - mu) / np.where(sd > 0, sd, 1.0)
    cls = LogisticRegression if len(levels) == 2 else SoftmaxRegression
    fit = lambda X_, y_: cls(l2=args.l2).fit(X_, y_)
    import pandas as pd
    parts = []
    for m in _progress(methods, args, "trimming methods"):
        parts.append(trimming_curve(fit, X[tr], y[tr], X[val], y[val], X[test], y[test], budgets, (m,),
                                    shapley_kw={"progress": not (args.quiet or args.json)}))
    table = pd.concat(parts, ignore_index=True)
    mean = table.groupby(["method", "budget"]).accuracy.mean().unstack("budget")
    csv_path = os.path.join(args.out, "trimming.csv")
    png_path = os.path.join(args.out, "trimming.png")
    fig = plot_trimming_curve(table)
    fig.axes[0].set_title(f"Trimming: {name}")
    _finish(args, table, fig, csv_path, png_path,
            {"data": name, "mean_accuracy": {m: {str(b): v for b, v in row.items()}
                                             for m, row in mean.iterrows()}},
            f"localinf trim: {name}; {int(tr.sum())} training / {int(val.sum())} validation / "
            f"{int(test.sum())} test rows; test accuracy after removing the top b rows:", mean)
    return 0


def active(args):
    """Simulated active learning on a labeled file: the oracle reveals the held-back labels."""
    import pandas as pd
    from . import LogisticRegression, SoftmaxRegression, active_learning
    from .active import STRATEGIES
    from .plots import _plt
    frame, target, name = _load(args.data, args.target)
    X, y, levels = _design(frame, target)
    X = X.to_numpy()
    strategies = args.strategies.split(",")
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad:
        raise UsageError(f"unknown --strategies {', '.join(bad)}; choose from {', '.join(STRATEGIES)}")
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(y))
    # the initial labeled set holds one row of every class, then random rows
    first = np.array([order[y[order] == c][0] for c in range(len(levels))])
    rest = np.setdiff1d(order, first)
    rest = rest[rng.permutation(rest.size)]
    n_val, n_test = int(args.val_frac * len(y)), int(args.test_frac * len(y))
    lab = np.concatenate([first, rest[:max(0, args.initial - first.size)]])
    rest = rest[max(0, args.initial - first.size):]
    val, test, pool = rest[:n_val], rest[n_val:n_val + n_test], rest[n_val + n_test:]
    if args.standardize:
        mu, sd = X[lab].mean(axis=0), X[lab].std(axis=0)
        X = (X - mu) / np.where(sd > 0, sd, 1.0)
    cls = LogisticRegression if len(levels) == 2 else SoftmaxRegression
    fit = lambda X_, y_: cls(l2=args.l2).fit(X_, y_)
    frames = []
    for s in _progress(strategies, args, "strategies"):
        ck = os.path.join(args.out, "checkpoints", f"active-{s}-{args.seed}.json")
        frames.append(active_learning(fit, X[lab], y[lab], X[pool], y[pool], X[test], y[test],
                                      strategy=s, rounds=args.rounds, acquisition_size=args.size,
                                      X_val=X[val], y_val=y[val], seed=args.seed, checkpoint=ck))
    table = pd.concat(frames, ignore_index=True)
    wide = table.pivot_table(index="n_labeled", columns="strategy", values="accuracy")
    csv_path = os.path.join(args.out, "active.csv")
    png_path = os.path.join(args.out, "active.png")
    fig, ax = _plt().subplots(figsize=(6, 4))
    for s in wide.columns:
        ax.plot(wide.index, wide[s], "o-", ms=3, label=s)
    ax.set_xlabel("labeled rows")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Active learning: {name}")
    ax.legend()
    _finish(args, table, fig, csv_path, png_path,
            {"data": name, "accuracy": {s: {str(k): v for k, v in col.items()}
                                        for s, col in wide.items()}},
            f"localinf active: {name}; {lab.size} initial labeled, pool {pool.size}, "
            f"validation {val.size}, test {test.size}; {args.rounds} rounds of {args.size}", wide)
    return 0


def invariance(args):
    """Theorem 1 on the user's data: FI before and after rescaling the perturbation by J."""
    from . import LocalInfluence, LogisticRegression, SoftmaxRegression, check_invariance
    frame, target, name = _load(args.data, args.target)
    X, y, levels = _design(frame, target)
    X = X.to_numpy()
    if args.scales:
        try:
            scales = np.array([float(v) for v in args.scales.split(",")])
        except ValueError:
            raise UsageError(f"--scales must be comma-separated numbers; got {args.scales!r}") from None
        if scales.size != X.shape[1] or np.any(scales == 0):
            raise UsageError(f"--scales needs {X.shape[1]} non-zero numbers (one per feature)")
    else:
        scales = X.std(axis=0)  # omega = diag(sd) nu: perturbations in units of each feature's spread
        scales[scales == 0] = 1.0
    u = np.random.default_rng(args.seed).random(len(y))
    val = u < args.val_frac
    cls = LogisticRegression if len(levels) == 2 else SoftmaxRegression
    inf = LocalInfluence(cls(l2=args.l2).fit(X[~val], y[~val]), X[~val], y[~val])
    q = np.flatnonzero(val)[:args.queries]
    res = check_invariance(inf, np.diag(scales), X[q], y[q])
    kept = inf.metric_rank()
    out = {"data": name, "summary": res.summary(), "max_rel_diff": res.max_rel_diff,
           "max_range_residual": res.max_range_residual, "metric_rank_max": int(kept.max()),
           "n_features": int(X.shape[1]), "n_classes": int(len(levels))}
    if args.json:
        print(json.dumps(out))
    elif not args.quiet:
        print(f"localinf invariance: {name}; J = diag(scales) on {X.shape[1]} features, "
              f"{len(levels)} classes, {q.size} validation queries")
        print(res.summary())
        print(f"G_i keeps at most {int(kept.max())} of {X.shape[1]} directions (rank <= K - 1 = "
              f"{len(levels) - 1}); Theorem 1 needs g_i in range(G_i): see docs/invariance.md")
    return 0


def _finish(args, table, fig, csv_path, png_path, payload, header, shown):
    """Write the long table and the figure atomically, then report (--json, --quiet or text)."""
    from .plots import _plt
    write_text(csv_path, table.to_csv(index=False))
    fig.tight_layout()
    save_figure(fig, png_path)
    _plt().close(fig)
    if args.json:
        print(json.dumps({**payload, "csv": csv_path, "png": png_path}))
    elif not args.quiet:
        print(header)
        print(shown.to_string(float_format="{:.4f}".format))
        print(f"wrote {csv_path} and {png_path}")


def _progress(items, args, what):
    """A tqdm bar on stderr, off with --quiet or --json."""
    from tqdm import tqdm
    return tqdm(items, desc=what, unit="", disable=args.quiet or args.json, file=sys.stderr, leave=False)


def _plot(table, path, name):
    from .plots import _plt, plot_fi_leverage, plot_index
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    plot_index(table, ax=axes[0], title=f"Index plot: {name}")
    plot_fi_leverage(table, ax=axes[1])
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def parser():
    ap = argparse.ArgumentParser(prog="localinf", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command")
    d = sub.add_parser("diagnose", help="influence diagnostics for a CSV/Parquet file (default: embedded data)")
    d.add_argument("data", nargs="?", help="CSV or Parquet file (omit for the embedded dataset)")
    d.add_argument("--target", help="name of the label column")
    d.add_argument("--val-file", help="separate validation file (default: a random split)")
    d.add_argument("--val-frac", type=float, default=0.3, help="validation share of the rows (default 0.3)")
    d.add_argument("--l2", type=float, default=1e-3, help="penalty l2 * ||coef||^2 (default 1e-3)")
    d.add_argument("--model", choices=("auto", "logistic", "softmax"), default="auto",
                   help="auto: logistic for two classes, softmax otherwise")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--standardize", action="store_true",
                    help="z-score the features with the training rows' mean and spread")
    d.add_argument("--top", type=int, default=10, help="rows to print (default 10)")
    d.add_argument("--flag", type=float, default=0.05, help="share of rows flagged (default 0.05)")
    d.add_argument("--out", default="localinf-output", help="output folder (default localinf-output)")
    d.add_argument("--quiet", action="store_true")
    d.add_argument("--json", action="store_true", help="print a JSON summary instead of a table")
    t = sub.add_parser("trim", help="trimming curve: accuracy after removing the top b rows per method")
    t.add_argument("data", nargs="?", help="CSV or Parquet file (omit for the embedded dataset)")
    t.add_argument("--target")
    t.add_argument("--budgets", default="0,5,10,20,40", help="comma-separated budgets")
    t.add_argument("--methods", default="fi,iv,random", help="comma-separated: fi,iv,cook,random,fi_paired,shapley")
    t.add_argument("--val-frac", type=float, default=0.2)
    t.add_argument("--test-frac", type=float, default=0.3)
    t.add_argument("--l2", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--standardize", action="store_true",
                    help="z-score the features with the training rows' mean and spread")
    t.add_argument("--out", default="localinf-output")
    t.add_argument("--quiet", action="store_true")
    t.add_argument("--json", action="store_true")
    a = sub.add_parser("active", help="simulated active learning: FI_active, IV, BALD, random")
    a.add_argument("data", nargs="?", help="CSV or Parquet file (omit for the embedded dataset)")
    a.add_argument("--target")
    a.add_argument("--strategies", default="fi_active,iv,bald,random")
    a.add_argument("--initial", type=int, default=20, help="initial labeled rows (default 20)")
    a.add_argument("--rounds", type=int, default=8)
    a.add_argument("--size", type=int, default=10, help="rows labeled per round (default 10)")
    a.add_argument("--val-frac", type=float, default=0.15)
    a.add_argument("--test-frac", type=float, default=0.3)
    a.add_argument("--l2", type=float, default=1e-2)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--standardize", action="store_true")
    a.add_argument("--out", default="localinf-output")
    a.add_argument("--quiet", action="store_true")
    a.add_argument("--json", action="store_true")
    v = sub.add_parser("invariance", help="does FI change when the perturbation is rescaled (Theorem 1)?")
    v.add_argument("data", nargs="?", help="CSV or Parquet file (omit for the embedded dataset)")
    v.add_argument("--target")
    v.add_argument("--scales", help="comma-separated J = diag(scales) (default: the features' spreads)")
    v.add_argument("--val-frac", type=float, default=0.3)
    v.add_argument("--queries", type=int, default=5, help="validation points compared (default 5)")
    v.add_argument("--l2", type=float, default=1e-3)
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--quiet", action="store_true")
    v.add_argument("--json", action="store_true")
    sub.add_parser("validate", help="run the verification report (python -m localinf.validate)",
                   add_help=False)
    return ap


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "validate":
        from .validate import main as validate_main
        return validate_main(argv[1:])
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["diagnose"] + argv
    ap = parser()
    args = ap.parse_args(argv)
    if args.command is None:
        args = ap.parse_args(["diagnose"])
    try:
        return {"trim": trim, "active": active, "invariance": invariance}.get(args.command, diagnose)(args)
    except (UsageError, LocalInfluenceError) as exc:
        print(f"localinf: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
