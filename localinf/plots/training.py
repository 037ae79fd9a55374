"""Plots of trimming results: accuracy against budget, and a trimmed two-feature set."""

import numpy as np

from .._core.checks import check_labels, check_matrix
from ..exceptions import InputError
from ._common import _axes, frame_with


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
    frame_with(table, ["budget", "method", "accuracy"], "trimming_curve", name="table")
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
