"""Reading the user's data for the command line: a design matrix and labels 0..K-1."""

import csv
import os
import sys

import numpy as np
import pandas as pd

from ..models.glm import LogisticRegression, SoftmaxRegression
from .encoding import Encoder
from .errors import UsageError


def _header(path, sep):
    """The first line of a CSV file split into names (pandas renames duplicates, so read it raw)."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        return next(csv.reader(f, delimiter=sep), [])


def load(path, target, sep=",", decimal=".", dropna=False, quiet=False):
    """The data frame, the label column and a name for the output.

    Parameters
    ----------
    path : str or None
        CSV or Parquet file; None for scikit-learn's breast cancer data.
    target : str or None
        Label column (required with a file).
    sep, decimal : str
        CSV field separator and decimal mark.
    dropna : bool, default False
        Drop rows with a missing value (saying how many) instead of refusing them.
    quiet : bool, default False
        Do not print the note on dropped rows.

    Returns
    -------
    frame : pandas.DataFrame
    target : str
    name : str
    """
    if path is None:
        from sklearn.datasets import load_breast_cancer  # ~0.6 s; only the embedded data need it
        data = load_breast_cancer(as_frame=True)
        return data.frame, "target", "breast cancer (scikit-learn, embedded)"
    if is_dataset(path):
        raise UsageError(f"{path} is a Parquet dataset (a directory or glob): only `localinf "
                         "diagnose` reads those, lazily with dask")
    if not os.path.isfile(path):
        raise UsageError(f"data file not found: {path}")
    if target is None:
        raise UsageError("--target is required with a data file")
    parquet = path.endswith((".parquet", ".pq"))
    try:
        if not parquet:
            names = _header(path, sep)
            dup = sorted({c for c in names if names.count(c) > 1})
            if dup:
                raise UsageError(f"{path} has duplicate column names {', '.join(map(repr, dup))}; "
                                 "rename them so each column has its own name")
        frame = pd.read_parquet(path) if parquet else pd.read_csv(path, sep=sep, decimal=decimal)
    except UsageError:
        raise
    except ImportError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    except Exception as exc:  # malformed file: say which
        raise UsageError(f"cannot read {path}: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
    if target not in frame.columns:
        raise UsageError(f"--target {target!r} is not a column of {path} (columns: "
                         f"{', '.join(map(str, frame.columns[:10]))}{' ...' if frame.shape[1] > 10 else ''})")
    if frame.columns.duplicated().any():
        raise UsageError(f"{path} has duplicate column names; rename them")
    if len(frame) == 0:
        raise UsageError(f"{path} has no rows")
    if dropna:
        kept = frame.dropna()
        if len(kept) < len(frame):
            note(f"--dropna: dropped {len(frame) - len(kept)} rows with missing values from {path}", quiet)
        if len(kept) == 0:
            raise UsageError(f"{path}: every row has a missing value")
        frame = kept
    return frame, target, path


def is_dataset(path, scheduler=None):
    """Whether ``path`` names a Parquet dataset to read lazily with dask: a directory, a glob
    (``*``, ``?``, ``[``) that is not itself an existing file's name, or any Parquet file
    when a ``--scheduler`` is given.

    Parameters
    ----------
    path : str or None
    scheduler : str, optional

    Returns
    -------
    bool
    """
    if path is None:
        return False
    glob = not os.path.isfile(path) and any(c in os.path.basename(path) for c in "*?[")
    return os.path.isdir(path) or glob or bool(scheduler) and path.endswith((".parquet", ".pq"))


def read_dataset(path, target, dropna=False, quiet=False):
    """A Parquet dataset as a lazy dask DataFrame: numeric features and the label column.

    Parameters
    ----------
    path : str
        Directory, glob or file.
    target : str or None
        Label column (required).
    dropna : bool, default False
        Drop rows with a missing value (lazily; the count is not known in advance).
    quiet : bool, default False

    Returns
    -------
    frame : dask.dataframe.DataFrame
    features : list of str
    """
    try:
        import dask.dataframe as dd
    except ImportError:
        raise UsageError(f"{path} is a Parquet dataset: reading it lazily needs dask "
                         "(pip install 'localinf[dask]')") from None
    if target is None:
        raise UsageError("--target is required with a data file")
    try:
        frame = dd.read_parquet(path)
    except Exception as exc:  # no files, not Parquet, unreadable
        raise UsageError(f"cannot read {path}: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
    if target not in frame.columns:
        raise UsageError(f"--target {target!r} is not a column of {path} (columns: "
                         f"{', '.join(map(str, list(frame.columns)[:10]))})")
    features = [str(c) for c in frame.columns if c != target]
    text = [c for c in features if not (pd.api.types.is_numeric_dtype(frame[c].dtype)
                                        or pd.api.types.is_bool_dtype(frame[c].dtype))]
    if text:
        raise UsageError(f"{path}: column {text[0]!r} is not numeric ({frame[text[0]].dtype}); a "
                         "Parquet dataset is read lazily and its features must be numbers: encode "
                         "the column first, or drop it")
    if not features:
        raise UsageError(f"{path} has no feature columns besides --target {target!r}")
    if dropna:
        frame = frame.dropna()
        note(f"--dropna: rows with missing values of {path} are dropped as they are read", quiet)
    return frame, features


def note(text, quiet=False):
    """A note on stderr (what was dropped or assumed), unless ``quiet``.

    Parameters
    ----------
    text : str
    quiet : bool, default False

    Returns
    -------
    None
    """
    if not quiet:
        print(f"localinf: note: {text}", file=sys.stderr)


def warn(text):
    """A warning on stderr, printed even with ``--quiet``: it says the results may not mean
    what they seem to (``--quiet`` silences notes and tables, not this).

    Parameters
    ----------
    text : str

    Returns
    -------
    None
    """
    print(f"localinf: warning: {text}", file=sys.stderr)


def encoder(frame, target, args):
    """The training file's :class:`~localinf.cli.encoding.Encoder`, its notes printed.

    Parameters
    ----------
    frame : pandas.DataFrame
    target : str
    args : argparse.Namespace
        With ``max_levels``, ``keep_id`` and ``quiet``.

    Returns
    -------
    Encoder
    """
    enc = Encoder(target, max_levels=args.max_levels, keep_id=args.keep_id).fit(frame)
    for text in enc.notes_:
        note(text, args.quiet)
    return enc


def read(args, path=None):
    """Load ``args.data`` (or ``path``) with the command line's reading options.

    Parameters
    ----------
    args : argparse.Namespace
    path : str, optional

    Returns
    -------
    frame : pandas.DataFrame
    target : str
    name : str
    """
    return load(path if path is not None else args.data, args.target, sep=args.sep,
                decimal=args.decimal, dropna=args.dropna, quiet=args.quiet)


def numeric(args):
    """Load ``args.data`` and return its design as a float array, labels and levels.

    Returns
    -------
    X : ndarray (n, d)
    y : ndarray of int (n,)
    levels : ndarray (K,)
    name : str
    """
    frame, target, name = read(args)
    enc = encoder(frame, target, args)
    X, y = enc.transform(frame, name)
    return X.to_numpy(), y, enc.levels_, name


def standardize(X, rows):
    """z-scores of every row with the mean and spread of ``rows`` (constant columns kept).

    Parameters
    ----------
    X : ndarray (n, d)
    rows : index array or boolean mask
        The training rows.

    Returns
    -------
    ndarray (n, d)
    """
    mu, sd = X[rows].mean(axis=0), X[rows].std(axis=0)
    return (X - mu) / np.where(sd > 0, sd, 1.0)


def glm_fit(n_classes, l2):
    """``fit(X, y)``: logistic regression for two classes, softmax regression otherwise.

    Parameters
    ----------
    n_classes : int
    l2 : float

    Returns
    -------
    callable
    """
    cls = LogisticRegression if n_classes == 2 else SoftmaxRegression
    return lambda X, y: cls(l2=l2).fit(X, y)


def parse_list(text, option, convert=str, kind="values"):
    """Comma-separated values of a command-line option.

    Parameters
    ----------
    text : str
    option : str
        The option's name, for the error message.
    convert : callable, default str
    kind : str
        What the values are, for the error message.

    Returns
    -------
    list
    """
    try:
        return [convert(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"{option} must be comma-separated {kind}; got {text!r}") from None
