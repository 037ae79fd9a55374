"""Plots for influence results (matplotlib; every function returns the Figure).

* :func:`plot_index` - FI_util by training row, flagged rows highlighted;
* :func:`plot_fi_leverage` - FI_util against leverage;
* :func:`plot_trimming_curve` - test accuracy against budget, one line per method;
* :func:`plot_2d` - a two-feature training set, the rows a method removes and the
  decision boundary before and after (the paper's Figure 1).
"""

import numpy as np

from ._core.checks import check_labels, check_matrix
from .exceptions import InputError


def _plt():
    """pyplot, imported on first use (matplotlib falls back to Agg without a display)."""
    import matplotlib.pyplot as plt
    return plt


def _axes(ax, size):
    """``(figure, axes)``: those of ``ax``, or a new figure of ``size`` inches."""
    return (ax.figure, ax) if ax is not None else _plt().subplots(figsize=size)


def _frame_with(frame, columns, what):
    """InputError unless ``frame`` is a DataFrame holding ``columns``."""
    missing = [c for c in columns if c not in getattr(frame, "columns", ())]
    if missing or not hasattr(frame, "sort_index"):
        raise InputError(f"frame must be the DataFrame {what} returns; missing columns {missing}")
    return frame


def plot_index(frame, ax=None, title="Index plot"):
    """FI_util per row of a ``summary_frame``, at the row labels of its index.

    The x axis is the row label the table prints (numeric labels as they are,
    text labels in sorted order), not the position in the training split.

    Parameters
    ----------
    frame : pandas.DataFrame (n, ...)
        A ``summary_frame`` (columns ``fi_util`` and ``flagged``).
    ax : matplotlib Axes, optional
    title : str, default "Index plot"

    Returns
    -------
    matplotlib Figure
    """
    t = _frame_with(frame, ["fi_util", "flagged"], "summary_frame").sort_index()
    fig, ax = _axes(ax, (6, 4))
    numeric = t.index.inferred_type in ("integer", "floating", "mixed-integer-float")
    pos = t.index.to_numpy(dtype=float) if numeric else np.arange(len(t))
    flagged = t["flagged"].to_numpy()
    ax.vlines(pos, 0, t["fi_util"], lw=0.8, color="0.5")
    ax.scatter(pos[flagged], t["fi_util"].to_numpy()[flagged], color="C3", s=14, zorder=3, label="flagged")
    if not numeric:  # text labels: a few of them as ticks
        ticks = np.unique(np.linspace(0, len(t) - 1, min(len(t), 8)).astype(int))
        ax.set_xticks(ticks, [str(t.index[i]) for i in ticks], rotation=30, ha="right", fontsize=7)
    ax.set_xlabel("training row (its label in the table)")
    ax.set_ylabel("FI_util")
    ax.set_title(title)
    ax.legend()
    return fig


def plot_fi_leverage(frame, ax=None):
    """FI_util against leverage for a ``summary_frame``.

    Parameters
    ----------
    frame : pandas.DataFrame (n, ...)
        A ``summary_frame`` (columns ``fi_util``, ``leverage``, ``flagged``).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Figure
    """
    _frame_with(frame, ["fi_util", "leverage", "flagged"], "summary_frame")
    fig, ax = _axes(ax, (5, 4))
    ax.scatter(frame["leverage"], frame["fi_util"], s=8,
               c=np.where(frame["flagged"], "C3", "C0"))
    ax.set_xlabel("leverage")
    ax.set_ylabel("FI_util")
    ax.set_title("FI_util against leverage")
    return fig


def plot_trimming_curve(table, ax=None):
    """Mean test accuracy by budget and method from :func:`localinf.trimming_curve`.

    Parameters
    ----------
    table : pandas.DataFrame
        The table :func:`localinf.trimming_curve` returns.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Figure
    """
    _frame_with(table, ["budget", "method", "accuracy"], "trimming_curve")
    accuracy = np.asarray(table["accuracy"], dtype=object)
    if not any(isinstance(a, (int, float)) and np.isfinite(a) for a in accuracy):
        raise InputError("table has no row with a finite accuracy: nothing to plot")
    fig, ax = _axes(ax, (6, 4))
    mean = table.groupby(["budget", "method"]).accuracy.mean().unstack()
    for m in mean.columns:
        ax.plot(mean.index, mean[m], "o-", ms=3, label=m)
    ax.set_xlabel("points removed (b)")
    ax.set_ylabel("test accuracy")
    ax.legend()
    return fig


def plot_2d(fit, X, y, removed, ax=None, title=None):
    """Training set with the removed rows circled and the decision boundary of the
    model fitted before (dashed) and after (solid) removing them.

    Parameters
    ----------
    fit : callable
        ``fit(X, y) -> model``.
    X : array_like (n, 2)
    y : array_like (n,)
    removed : array_like of int
        Removed rows.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Figure
    """
    X = check_matrix(X, "X")
    if X.shape[1] != 2:
        raise InputError("plot_2d needs exactly two features")
    y, _ = check_labels(y, "y", X.shape[0])
    removed = np.asarray(removed)
    removed = removed if removed.size else np.zeros(0, dtype=int)
    if removed.dtype.kind not in "iu" or removed.ndim != 1 or \
            (removed.size and not (0 <= removed.min() and removed.max() < len(y))):
        raise InputError(f"removed must be row indices in 0..{len(y) - 1}")
    fig, ax = _axes(ax, (5, 5))
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=10, alpha=0.5)
    ax.scatter(X[removed, 0], X[removed, 1], facecolors="none", edgecolors="k", s=60, label="removed")
    lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    grid = np.column_stack([g0.ravel(), g1.ravel()])
    keep = np.setdiff1d(np.arange(len(y)), removed)
    for model, style in ((fit(X, y), "--"), (fit(X[keep], y[keep]), "-")):
        z = model.predict(grid).reshape(g0.shape)
        ax.contour(g0, g1, z, levels=np.arange(int(np.max(y))) + 0.5, colors="k", linestyles=style,
                   linewidths=1)
    ax.set_title(title or "boundary before (dashed) and after (solid) trimming")
    ax.legend(loc="best", fontsize=8)
    return fig
