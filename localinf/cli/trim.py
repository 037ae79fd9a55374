"""``localinf trim``: test accuracy after removing the top b rows, per trimming method."""

import os

import numpy as np
import pandas as pd

from ..plots import plot_trimming_curve
from ..selection.trimming import METHODS, trimming_curve
from .data import glm_fit, numeric, parse_list, standardize
from .errors import UsageError
from .options import add_data, add_fit, add_report, add_split, add_standardize
from .output import finish, prepare_out, progress

NAME = "trim"
HELP = "trimming curve: accuracy after removing the top b rows per method"


def options(p):
    """The data, its three-way split, the fit, the budgets and the trimming methods."""
    add_data(p)
    add_split(p, val_frac=0.2, test_frac=0.3)
    add_fit(p, l2=1e-3)
    add_standardize(p)
    p.add_argument("--budgets", default="0,5,10,20,40", help="comma-separated budgets")
    p.add_argument("--methods", default="fi,iv,random", help=f"comma-separated: {','.join(METHODS)}")
    add_report(p)


def run(args):
    """Split, score each method once, refit at each budget, write and print the curve.

    Returns the exit status (0); bad input raises UsageError or a localinf error.
    """
    prepare_out(args.out)
    X, y, levels, name = numeric(args)
    budgets = parse_list(args.budgets, "--budgets", int, "integers")
    if min(budgets) < 0:
        raise UsageError(f"--budgets must be integers >= 0; got {args.budgets!r}")
    methods = parse_list(args.methods, "--methods")
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
    if args.standardize:
        X = standardize(X, tr)
    fit = glm_fit(len(levels), args.l2)
    parts = []
    for m in progress(methods, args, "trimming methods"):
        parts.append(trimming_curve(fit, X[tr], y[tr], X[val], y[val], X[test], y[test], budgets, (m,),
                                    shapley_kw={"progress": not (args.quiet or args.json)}))
    table = pd.concat(parts, ignore_index=True)
    mean = table.groupby(["method", "budget"]).accuracy.mean().unstack("budget")
    fig = plot_trimming_curve(table)
    fig.axes[0].set_title(f"Trimming: {name}")
    finish(args, table, fig, os.path.join(args.out, "trimming.csv"), os.path.join(args.out, "trimming.png"),
           {"data": name, "mean_accuracy": {m: {str(b): v for b, v in row.items()}
                                            for m, row in mean.iterrows()}},
           f"localinf trim: {name}; {int(tr.sum())} training / {int(val.sum())} validation / "
           f"{int(test.sum())} test rows; test accuracy after removing the top b rows:", mean)
    return 0
