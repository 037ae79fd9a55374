"""``localinf active``: simulated active learning; the oracle reveals the held-back labels."""

import os

import numpy as np
import pandas as pd

from ..plots import _plt
from ..selection.active import STRATEGIES, active_learning
from .data import glm_fit, numeric, parse_list, standardize
from .errors import UsageError
from .options import add_data, add_fit, add_report, add_split, add_standardize, positive_int
from .output import finish, prepare_out, progress

NAME = "active"
HELP = "simulated active learning: FI_active, IV, BALD, random"


def options(p):
    """The data, the initial labeled set, rounds and batch size, the split, the fit."""
    add_data(p)
    p.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated strategies")
    p.add_argument("--initial", type=positive_int, default=20, help="initial labeled rows (default 20)")
    p.add_argument("--rounds", type=positive_int, default=8, help="rounds of labeling (default 8)")
    p.add_argument("--size", type=positive_int, default=10, help="rows labeled per round (default 10)")
    add_split(p, val_frac=0.15, test_frac=0.3)
    add_fit(p, l2=1e-2)
    add_standardize(p)
    p.add_argument("--fresh", action="store_true",
                   help="ignore and overwrite the checkpoints in OUT/checkpoints instead of resuming")
    add_report(p)


def run(args):
    """Split into labeled, pool, validation and test rows; run each strategy (resumable).

    Returns the exit status (0); bad input raises UsageError or a localinf error.
    """
    prepare_out(args.out)
    X, y, levels, name = numeric(args)
    strategies = parse_list(args.strategies, "--strategies")
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad:
        raise UsageError(f"unknown --strategies {', '.join(bad)}; choose from {', '.join(STRATEGIES)}")
    if args.val_frac + args.test_frac >= 1:
        raise UsageError("--val-frac and --test-frac must sum to less than 1 (the rest is the pool)")
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
        X = standardize(X, lab)
    fit = glm_fit(len(levels), args.l2)
    frames = []
    for s in progress(strategies, args, "strategies"):
        ck = os.path.join(args.out, "checkpoints", f"active-{s}-{args.seed}.json")
        frames.append(active_learning(fit, X[lab], y[lab], X[pool], y[pool], X[test], y[test],
                                      strategy=s, rounds=args.rounds, acquisition_size=args.size,
                                      X_val=X[val], y_val=y[val], seed=args.seed, checkpoint=ck,
                                      restart=args.fresh))
    table = pd.concat(frames, ignore_index=True)
    wide = table.pivot_table(index="n_labeled", columns="strategy", values="accuracy")
    fig, ax = _plt().subplots(figsize=(6, 4))
    for s in wide.columns:
        ax.plot(wide.index, wide[s], "o-", ms=3, label=s)
    ax.set_xlabel("labeled rows")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Active learning: {name}")
    ax.legend()
    finish(args, table, fig, os.path.join(args.out, "active.csv"), os.path.join(args.out, "active.png"),
           {"data": name, "accuracy": {s: {str(k): v for k, v in col.items()} for s, col in wide.items()}},
           f"localinf active: {name}; {lab.size} initial labeled, pool {pool.size}, "
           f"validation {val.size}, test {test.size}; {args.rounds} rounds of {args.size}", wide)
    return 0
