"""The command-line options shared by several subcommands, declared once."""


def add_data(p):
    """``DATA`` (optional CSV or Parquet file) and ``--target``."""
    p.add_argument("data", nargs="?", help="CSV or Parquet file (omit for the embedded dataset)")
    p.add_argument("--target", help="name of the label column")


def add_fit(p, l2=1e-3):
    """``--l2`` (the penalty of the fit) and ``--seed`` (the random split)."""
    p.add_argument("--l2", type=float, default=l2, help=f"penalty l2 * ||coef||^2 (default {l2:g})")
    p.add_argument("--seed", type=int, default=0, help="seed of the random split (default 0)")


def add_split(p, val_frac, test_frac=None):
    """``--val-frac`` and, when a test share is used, ``--test-frac``."""
    p.add_argument("--val-frac", type=float, default=val_frac,
                   help=f"validation share of the rows (default {val_frac:g})")
    if test_frac is not None:
        p.add_argument("--test-frac", type=float, default=test_frac,
                       help=f"test share of the rows (default {test_frac:g})")


def add_standardize(p):
    """``--standardize``: z-scores from the training rows."""
    p.add_argument("--standardize", action="store_true",
                   help="z-score the features with the training rows' mean and spread")


def add_report(p, out=True):
    """``--out`` (when files are written), ``--quiet`` and ``--json``."""
    if out:
        p.add_argument("--out", default="localinf-output", help="output folder (default localinf-output)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of a table")
