"""``localinf [diagnose] [DATA --target COLUMN]``: influence diagnostics for every training row."""

import os
import warnings

import numpy as np
import pandas as pd

from .._core.io import save_figure, write_text
from ..exceptions import InSampleWarning
from ..measures.local_influence import LocalInfluence
from ..models.glm import LogisticRegression, SoftmaxRegression
from ..plots import _plt, plot_fi_leverage, plot_index
from .data import encoder, read, standardize, warn
from .errors import UsageError
from ..selection.deletion import deletion_effect
from .options import (add_data, add_fit, add_report, add_split, add_standardize, nonneg_float,
                      nonneg_int, share_or_count)
from .output import prepare_out, records, to_json

NAME = "diagnose"
REFIT_MAX_N = 5000
_REFERENCE = {"data": "training inputs' covariance",
              "model": "Fisher metric of all training predictions"}
HELP = "influence diagnostics for a CSV/Parquet file (default: embedded data)"


def options(p):
    """The data, a validation file or share, the fit, and how many rows to print and flag."""
    add_data(p)
    p.add_argument("--val-file", help="separate validation file (default: a random split)")
    add_split(p, val_frac=0.3)
    add_fit(p, l2=1e-3)
    p.add_argument("--model", choices=("auto", "logistic", "softmax"), default="auto",
                   help="auto: logistic for two classes, softmax otherwise")
    add_standardize(p)
    p.add_argument("--top", type=nonneg_int, default=10, help="rows to print (default 10)")
    p.add_argument("--flag", type=share_or_count, default=0.05,
                   help="share (0 <= s < 1) or number of rows flagged (default 0.05)")
    p.add_argument("--rtol", type=nonneg_float, default=1e-10,
                   help="relative rank cut-off of the metric's pseudo-inverse (default 1e-10)")
    p.add_argument("--atol", type=nonneg_float, default=0.0,
                   help="absolute rank cut-off of the metric's pseudo-inverse (default 0)")
    p.add_argument("--invariant", choices=("data", "model"), default=None,
                   help="unit-invariant FI_util (beyond the paper): whiten by the training inputs' "
                        "covariance (data) or by the Fisher metric of all predictions (model); adds "
                        "the column invariance_defect")
    p.add_argument("--refits", type=nonneg_int, default=REFIT_MAX_N,
                   help="refit without each printed row to measure its deletion effect when the "
                        f"training rows are at most this many (default {REFIT_MAX_N}; 0: never)")
    add_report(p)


def run(args):
    """Fit, compute the summary frame against the validation rows, write and print it.

    The training file's encoder (levels, dummy columns, label values) is fitted
    once and applied to the validation file; standardisation uses the training
    rows' mean and spread.

    Returns the exit status (0); bad input raises UsageError or a localinf error.
    """
    prepare_out(args.out)
    frame, target, name = read(args)
    enc = encoder(frame, target, args)
    X, y = enc.transform(frame, name)
    levels = enc.levels_
    if args.val_file:
        vframe, _, _ = read(args, args.val_file)
        Xv, yv = enc.transform(vframe, args.val_file)
        Xtr, ytr = X, y
    else:
        is_val = np.random.default_rng(args.seed).random(len(y)) < args.val_frac
        if is_val.all() or not is_val.any():
            raise UsageError(f"--val-frac {args.val_frac} leaves no training or no validation rows "
                             f"out of {len(y)}")
        Xtr, ytr, Xv, yv = X[~is_val], y[~is_val], X[is_val], y[is_val]
    if args.standardize:  # z-scores with the training rows' mean and spread
        both = standardize(np.vstack([Xtr.to_numpy(), Xv.to_numpy()]), slice(0, len(Xtr)))
        Xtr = pd.DataFrame(both[:len(Xtr)], index=Xtr.index, columns=Xtr.columns)
        Xv = pd.DataFrame(both[len(Xtr):], index=Xv.index, columns=Xv.columns)
    K = len(levels)
    if args.model == "logistic" and K != 2:
        raise UsageError(f"--model logistic needs two classes; the target has {K}")
    cls = LogisticRegression if (args.model == "logistic" or args.model == "auto" and K == 2) \
        else SoftmaxRegression
    model = cls(l2=args.l2).fit(Xtr, ytr)
    inf = LocalInfluence(model, Xtr, ytr, rtol=args.rtol, atol=args.atol, invariant=args.invariant)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InSampleWarning)
        table = inf.summary_frame(Xv, yv, flag_top=args.flag).sort_values("rank")
    for w in caught:
        warn(str(w.message))
    table.insert(0, "label", pd.Series(levels[ytr], index=Xtr.index).loc[table.index].to_numpy())
    # FI_util is sensitivity; whether deleting a row helps is IV's sign (first order)
    table["deleting"] = np.where(table["iv"] < 0, "lowers loss", "raises loss")
    csv_path = os.path.join(args.out, "influence.csv")
    png_path = os.path.join(args.out, "influence.png")
    write_text(csv_path, table.to_csv(index_label="row"))
    _figure(table, png_path, name)
    top = table.head(args.top).copy()
    # rank(G_i) <= K - 1: Theorem 1 fails generically, unless FI is whitened by a reference metric
    unit_dependent = K - 1 < X.shape[1] and args.invariant is None
    refits = 0 < len(ytr) <= args.refits
    if refits:  # the exact change of the validation log-loss, one refit per printed row
        fit = lambda A, b: cls(l2=args.l2).fit(A, b)
        top["refit_dloss"] = deletion_effect(fit, Xtr, ytr, Xv, yv, Xtr.index.get_indexer(top.index))
    if args.json:
        print(to_json({"data": name, "n_train": len(ytr), "n_validation": len(yv),
                       "n_features": X.shape[1], "features": list(X.columns),
                       "classes": [str(v) for v in levels], "model": type(model).__name__,
                       "l2": args.l2, "fi_depends_on_units": bool(unit_dependent),
                       "invariant": args.invariant,
                       "standardized": bool(args.standardize), "notes": enc.notes_ + [str(w.message) for w in caught],
                       "top": records(top), "csv": csv_path, "png": png_path}))
    elif not args.quiet:
        print(f"localinf diagnose: {name}; {len(ytr)} training / {len(yv)} validation rows, "
              f"{X.shape[1]} features, classes {', '.join(map(str, levels))}; "
              f"{type(model).__name__}(l2={args.l2:g})")
        print("Most influential training rows by FI_util (eq. 3.1): large FI_util marks a row the "
              "validation loss is sensitive to, not a harmful one. 'deleting' is IV's first-order "
              "prediction of what removing the row does to the validation loss"
              + ("; refit_dloss is the exact change of the mean validation log-loss after removing "
                 "it and refitting (< 0: removing it helps)." if refits else "."))
        if unit_dependent:
            print(f"FI ranks here depend on the feature units: the metric G_i has rank K - 1 = {K - 1} "
                  f"< d = {X.shape[1]}, where Theorem 1 does not hold; "
                  + ("the features are in training standard deviations (--standardize)."
                     if args.standardize else "--standardize ranks in training standard deviations.")
                  + " --invariant data|model gives an FI_util that does not depend on them.")
        elif args.invariant:
            print(f"FI_util is whitened by the {_REFERENCE[args.invariant]} (--invariant "
                  f"{args.invariant}, beyond the paper): it does not depend on the units of the "
                  "perturbation; invariance_defect (0 to 1) is the share of the row's validation "
                  "gradient that the paper's metric cannot see, 0 where the paper's FI_util is "
                  "unit-free too." + (" The fit itself still depends on units through the "
                                      "penalty (--l2)." if args.l2 > 0 else ""))
        shaky = int(top["cutoff_sensitive"].sum())
        if shaky:
            print(f"{shaky} of these {len(top)} rows are cutoff_sensitive: their FI_util comes from a "
                  "direction in which their own prediction barely moves (a metric eigenvalue below "
                  "1e-6 of the largest) and changes with --rtol/--atol; do not read their rank.")
        print("Classic diagnostics beside them: cooks_d is Cook's distance (how far deleting the row "
              "moves the fitted parameters, R's cooks.distance), hat_diag the leverage, "
              "student_resid the studentized residual (" + ("|.| > 2: a poorly fitted row" if K == 2 else
              f"non-negative; its square is about chi-square with {K - 1} d.f.") + "); the CSV "
              "has DFBETAS, DFFITS and the other residuals too.")
        shown = [c for c in ("label", "fi_util", "rank", "iv", "deleting", "refit_dloss", "cooks_d",
                             "hat_diag", "student_resid", "cutoff_sensitive", "invariance_defect")
                 if c in top]
        with pd.option_context("display.width", 120, "display.float_format", "{:.4g}".format):
            print(top[shown].to_string())
        print(f"wrote {csv_path} (every digit) and {png_path}")
    return 0


def _figure(table, path, name):
    """Index plot and FI against leverage, side by side."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    plot_index(table, ax=axes[0], title=f"Index plot: {name}")
    plot_fi_leverage(table, ax=axes[1])
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
