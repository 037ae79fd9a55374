"""The command-line options shared by several subcommands, declared once, each validated.

A numeric option is parsed by one of the converters below: a value of the wrong
kind or out of range is an argparse error (exit 2, one line naming the option)
before any data are read.
"""

import argparse
import math


def _converter(kind, parse, ok):
    def convert(text):
        try:
            value = parse(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {kind}; got {text!r}")
        return value
    convert.__name__ = kind
    return convert


def _number(text):
    value = float(text)
    return value if math.isfinite(value) else None


def _count_or_share(text):
    if text.strip().lstrip("+").isdigit():
        return int(text)
    return _number(text)


positive_int = _converter("a positive integer", int, lambda v: v >= 1)
nonneg_int = _converter("an integer >= 0", int, lambda v: v >= 0)
nonneg_float = _converter("a finite number >= 0", _number, lambda v: v >= 0)
fraction = _converter("a number in (0, 1)", _number, lambda v: 0 < v < 1)
share_or_count = _converter("a share in [0, 1) or a whole number of rows", _count_or_share,
                            lambda v: v >= 0 and (isinstance(v, int) or v < 1))


def add_data(p):
    """``DATA`` (optional CSV or Parquet file), ``--target`` and how the file is read and encoded."""
    p.add_argument("data", nargs="?", help="CSV or Parquet file (omit for the embedded dataset)")
    p.add_argument("--target", help="name of the label column")
    p.add_argument("--sep", default=",", help="CSV field separator (default ',')")
    p.add_argument("--decimal", default=".", help="decimal mark of the CSV's numbers (default '.')")
    p.add_argument("--dropna", action="store_true",
                   help="drop rows with missing values (default: refuse them)")
    p.add_argument("--max-levels", type=positive_int, default=50,
                   help="most levels of a text column to one-hot encode (default 50)")
    p.add_argument("--keep-id", action="store_true",
                   help="keep identifier-like columns (all values distinct) as features")


def add_fit(p, l2=1e-3):
    """``--l2`` (the penalty of the fit) and ``--seed`` (the random split)."""
    p.add_argument("--l2", type=nonneg_float, default=l2, help=f"penalty l2 * ||coef||^2 (default {l2:g})")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of the random split (default 0)")


def add_split(p, val_frac, test_frac=None):
    """``--val-frac`` and, when a test share is used, ``--test-frac``."""
    p.add_argument("--val-frac", type=fraction, default=val_frac,
                   help=f"validation share of the rows (default {val_frac:g})")
    if test_frac is not None:
        p.add_argument("--test-frac", type=fraction, default=test_frac,
                       help=f"test share of the rows (default {test_frac:g})")


def add_standardize(p):
    """``--standardize``: z-scores from the training rows."""
    p.add_argument("--standardize", action="store_true",
                   help="z-score the features with the training rows' mean and spread")


def add_report(p, out=True):
    """``--out`` (when files are written), ``--quiet`` and ``--json``."""
    if out:
        p.add_argument("--out", default="localinf-output", help="output folder (default localinf-output)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors and warnings about the results")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of a table")


def add_scheduler(p):
    """``--scheduler``: where the dask tasks of a Parquet dataset run."""
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask scheduler for a Parquet dataset (a directory or glob, read lazily): "
                        "'local' starts a LocalCluster on this machine, an address (tcp://host:8786) "
                        "joins a running one; default: threads in this process")
