"""Index plots: one column of a ``summary_frame`` by row label; FI_util against leverage."""

import numbers

import numpy as np

from ..exceptions import InputError
from ._common import _axes, check_top, finite_column, flags, frame_with, label_points, largest


def plot_index(frame, column="fi_util", threshold=None, top=5, ax=None, title=None):
    """Index plot: one numeric column of a ``summary_frame`` against the row label.

    A stem per row from 0 to its value, at the row label the table prints
    (numeric labels as they are, text labels in sorted order, a few of them as
    ticks), not at the position in the training split. The ``top`` rows of
    largest absolute value are labelled with their row labels; rows marked
    ``flagged`` get a red dot when the frame has that column.

    Parameters
    ----------
    frame : pandas.DataFrame (n, ...)
        A ``summary_frame`` (or any DataFrame) holding ``column``; indexed by
        row labels.
    column : str, default "fi_util"
        The numeric column to plot, e.g. ``"fi_util"``, ``"cooks_d"``,
        ``"hat_diag"``, ``"student_resid"``, ``"iv"``.
    threshold : float or "auto", optional
        Draw a horizontal line at this value. ``"auto"`` is the rule of thumb
        4/n, defined for ``column="cooks_d"`` only (other columns have no
        standard cut-off: give a number).
    top : int, default 5
        Rows to label (largest ``|value|``); 0 labels none.
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).
    title : str, optional
        Default ``"Index plot: <column>"``.

    Returns
    -------
    matplotlib Figure

    Raises
    ------
    InputError
        ``frame`` is not a non-empty DataFrame with ``column``, the column is
        not numeric or not finite, ``threshold`` is not a finite number (or
        ``"auto"`` for ``cooks_d``), ``top`` is not an int >= 0.
    """
    if column is not None and not isinstance(column, str) and hasattr(column, "figure"):
        # the old signature plot_index(frame, ax, title)
        ax, column = column, "fi_util"
        if isinstance(threshold, str) and threshold != "auto":
            title, threshold = threshold, None
    frame_with(frame, [column], "summary_frame")
    top = check_top(top)
    try:
        t = frame.sort_index()
    except TypeError:  # labels of mixed types: the table's order
        t = frame
    values = finite_column(t, column)
    level = _threshold(threshold, column, len(t))
    flagged = flags(t)
    created = ax is None
    fig, ax = _axes(ax, (6, 4))
    numeric = t.index.inferred_type in ("integer", "floating", "mixed-integer-float")
    pos = t.index.to_numpy(dtype=float) if numeric else np.arange(len(t), dtype=float)
    ax.vlines(pos, 0, values, lw=0.8, color="0.5")
    if flagged is not None and flagged.any():
        ax.scatter(pos[flagged], values[flagged], color="C3", s=14, zorder=3,
                   label="flagged (top FI_util)")
    if level is not None:
        name = "4/n" if threshold == "auto" else "threshold"
        ax.axhline(level, color="C1", ls="--", lw=1, label=f"{name} = {level:.3g}", gid="threshold")
    if not numeric:  # text labels: a few of them as ticks
        ticks = np.unique(np.linspace(0, len(t) - 1, min(len(t), 8)).astype(int))
        ax.set_xticks(ticks, [str(t.index[i]) for i in ticks], rotation=30, ha="right", fontsize=7)
    ax.set_xlabel("training row (its label in the table)")
    ax.set_ylabel(str(column))
    ax.set_title(title if title is not None else f"Index plot: {column}")
    legend = ax.legend(loc="best", fontsize=8) if ax.get_legend_handles_labels()[0] else None
    if created:
        fig.tight_layout()
    rows = largest(np.abs(values), top)
    label_points(ax, pos[rows], values[rows], t.index[rows], avoid=[legend] if legend else [],
                 points=np.c_[pos, values])
    return fig


def _threshold(threshold, column, n):
    """The threshold line's height: None, a finite number, or 4/n for ``cooks_d``."""
    if threshold is None:
        return None
    if isinstance(threshold, str):
        if threshold != "auto":
            raise InputError(f"threshold must be a number or 'auto'; got {threshold!r}")
        if column != "cooks_d":
            raise InputError(f"threshold='auto' (4/n) is the rule of thumb for cooks_d only; "
                             f"give a number for {column!r}")
        return 4.0 / n
    if isinstance(threshold, (bool, np.bool_)) or not isinstance(threshold, numbers.Real) \
            or not np.isfinite(threshold):
        raise InputError(f"threshold must be a finite number or 'auto'; got {threshold!r}")
    return float(threshold)


def plot_fi_leverage(frame, ax=None):
    """FI_util against leverage for a ``summary_frame``.

    Parameters
    ----------
    frame : pandas.DataFrame (n, ...)
        A ``summary_frame`` with columns ``fi_util`` and ``hat_diag`` (or
        ``leverage``, its older name); ``flagged`` rows, when the column is
        there, are drawn red.
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib Figure

    Raises
    ------
    InputError
        ``frame`` is not a non-empty DataFrame with those columns, or they are
        not finite.
    """
    frame_with(frame, ["fi_util"], "summary_frame")
    lev = next((c for c in ("hat_diag", "leverage") if c in frame.columns), None)
    if lev is None:
        raise InputError("frame must be the DataFrame summary_frame returns; "
                         "it has neither 'hat_diag' nor 'leverage'")
    x, y = finite_column(frame, lev), finite_column(frame, "fi_util")
    flagged = flags(frame)
    fig, ax = _axes(ax, (5, 4))
    colour = np.where(flagged, "C3", "C0") if flagged is not None else "C0"
    ax.scatter(x, y, s=8, c=colour)
    ax.set_xlabel(f"leverage ({lev})")
    ax.set_ylabel("FI_util")
    ax.set_title("FI_util against leverage")
    return fig
