"""Reading the user's data for the command line: a design matrix and labels 0..K-1."""

import os

import numpy as np
import pandas as pd

from ..models.glm import LogisticRegression, SoftmaxRegression


class UsageError(Exception):
    """Bad input from the command line: reported in one line, exit status 2."""


def load(path, target):
    """The data frame, the label column and a name for the output.

    Parameters
    ----------
    path : str or None
        CSV or Parquet file; None for scikit-learn's breast cancer data.
    target : str or None
        Label column (required with a file).

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


def design(frame, target):
    """Numeric design (categorical columns one-hot, first level dropped) and labels 0..K-1.

    Parameters
    ----------
    frame : pandas.DataFrame
    target : str

    Returns
    -------
    X : pandas.DataFrame (n, d)
    y : ndarray of int (n,)
    levels : ndarray (K,)
        The label values, sorted; ``levels[y]`` recovers them.
    """
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


def numeric(args):
    """Load ``args.data`` and return its design as a float array, labels and levels.

    Returns
    -------
    X : ndarray (n, d)
    y : ndarray of int (n,)
    levels : ndarray (K,)
    name : str
    """
    frame, target, name = load(args.data, args.target)
    X, y, levels = design(frame, target)
    return X.to_numpy(), y, levels, name


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
