"""``localinf invariance``: Theorem 1 on the user's data, FI before and after rescaling the
perturbation by J."""

import numpy as np

from ..measures.invariance import check_invariance
from ..measures.local_influence import LocalInfluence
from .data import glm_fit, numeric, parse_list
from .errors import UsageError
from .options import add_data, add_fit, add_report, add_split, positive_int
from .output import to_json

NAME = "invariance"
HELP = "does FI change when the perturbation is rescaled (Theorem 1)?"


def options(p):
    """The data, the rescaling J = diag(scales), the validation queries and the fit."""
    add_data(p)
    add_split(p, val_frac=0.3)
    p.add_argument("--queries", type=positive_int, default=5, help="validation points compared (default 5)")
    p.add_argument("--scales", help="comma-separated J = diag(scales) (default: the features' spreads)")
    add_fit(p, l2=1e-3)
    add_report(p, out=False)


def run(args):
    """Compare FI in the features' units with FI after ``omega = diag(scales) nu``.

    Returns the exit status (0); bad input raises UsageError or a localinf error.
    """
    X, y, levels, name = numeric(args)
    if args.scales:
        scales = np.array(parse_list(args.scales, "--scales", float, "numbers"))
        if scales.size != X.shape[1] or np.any(scales == 0):
            raise UsageError(f"--scales needs {X.shape[1]} non-zero numbers (one per feature)")
    else:
        scales = X.std(axis=0)  # omega = diag(sd) nu: perturbations in units of each feature's spread
        scales[scales == 0] = 1.0
    val = np.random.default_rng(args.seed).random(len(y)) < args.val_frac
    inf = LocalInfluence(glm_fit(len(levels), args.l2)(X[~val], y[~val]), X[~val], y[~val])
    q = np.flatnonzero(val)[:args.queries]
    res = check_invariance(inf, np.diag(scales), X[q], y[q])
    kept = inf.metric_rank()
    out = {"data": name, "summary": res.summary(), "max_rel_diff": res.max_rel_diff,
           "max_range_residual": res.max_range_residual, "metric_rank_max": int(kept.max()),
           "n_features": int(X.shape[1]), "n_classes": int(len(levels))}
    if args.json:
        print(to_json(out))
    elif not args.quiet:
        print(f"localinf invariance: {name}; J = diag(scales) on {X.shape[1]} features, "
              f"{len(levels)} classes, {q.size} validation queries")
        print(res.summary())
        print(f"G_i keeps at most {int(kept.max())} of {X.shape[1]} directions (rank <= K - 1 = "
              f"{len(levels) - 1}); Theorem 1 needs g_i in range(G_i): see docs/invariance.md")
    return 0
