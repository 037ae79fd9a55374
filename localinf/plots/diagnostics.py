"""The influence bubble plot (leverage, studentized residual, Cook's distance) and
FI_util against IV (sensitive, and which way deletion is predicted to go)."""

import numpy as np

from ..exceptions import InputError
from ._common import _axes, check_top, finite_column, flags, frame_with, label_points, largest

MAX_AREA = 900.0  # points^2 of the biggest bubble
SIZES = ("cooks_d", "fi_util")


def plot_influence(frame, size="cooks_d", top=5, ax=None):
    """Influence plot: studentized residual against leverage, bubble area by ``size``.

    The plot of R's ``car::influencePlot`` and statsmodels'
    ``plot_influence``: x is the leverage ``hat_diag``, y the studentized
    residual ``student_resid``, and each row a bubble whose AREA is
    proportional to its ``size`` value (the largest gets 900 points^2; a dot
    marks every row, so rows with a tiny bubble stay visible). The ``top``
    rows by ``size`` are labelled with their row labels. Reference lines:
    ``student_resid`` = 0 and +-2, and leverage 2 and 3 times its mean (the
    mean of ``hat_diag`` is p/n for an unpenalised fit). When no
    ``student_resid`` is negative (softmax models: the residual has no sign)
    only the +2 line is drawn.

    Parameters
    ----------
    frame : pandas.DataFrame (n, ...)
        A ``summary_frame`` with columns ``hat_diag``, ``student_resid`` and
        ``size``; indexed by row labels.
    size : {"cooks_d", "fi_util"}, default "cooks_d"
        Column setting the bubble areas (must be >= 0).
    top : int, default 5
        Rows to label (largest ``size``); 0 labels none.
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib Figure

    Raises
    ------
    InputError
        ``frame`` is not a non-empty DataFrame with those columns, they are
        not finite (or ``size`` is negative), ``size`` is not one of the two
        names, ``top`` is not an int >= 0.
    """
    if not isinstance(size, str) or size not in SIZES:
        raise InputError(f"size must be one of {SIZES}; got {size!r}")
    frame_with(frame, ["hat_diag", "student_resid", size], "summary_frame")
    top = check_top(top)
    h, r, s = (finite_column(frame, c) for c in ("hat_diag", "student_resid", size))
    if (s < 0).any():
        raise InputError(f"frame[{size!r}] must be >= 0 to be a bubble area")
    created = ax is None
    fig, ax = _axes(ax, (6.5, 4.5))
    area = MAX_AREA * s / s.max() if s.max() > 0 else np.zeros_like(s)
    ax.scatter(h, r, s=area, alpha=0.35, color="C0", edgecolors="C0", linewidths=0.6,
               gid="bubbles", label=f"area proportional to {size}")
    ax.scatter(h, r, s=4, color="k", zorder=3, gid="points")
    signed = (r < 0).any()
    ax.autoscale_view()
    refs = []
    for level in ((-2.0, 0.0, 2.0) if signed else (2.0,)):
        ax.axhline(level, color="0.4" if level else "0.6", lw=0.8, ls="-" if level == 0 else "--",
                   gid="ref-h")
        if level:
            refs.append(ax.text(0.995, level, f"{level:+g}", transform=ax.get_yaxis_transform(),
                                ha="right", va="bottom", fontsize=7, color="0.3"))
    hbar = h.mean()
    for k in (2, 3):
        ax.axvline(k * hbar, color="0.6", lw=0.8, ls=":", gid="ref-v")
        refs.append(ax.text(k * hbar, 0.99, f" {k}" + r"$\bar{h}$", transform=ax.get_xaxis_transform(),
                            ha="left", va="top", fontsize=7, color="0.3"))
    if not signed:
        ax.set_ylim(bottom=0)
    ax.set_xlabel("leverage (hat_diag); dotted: 2 and 3 times its mean")
    ax.set_ylabel("studentized residual (student_resid)")
    ax.set_title(f"Influence plot: bubble area proportional to {size}")
    if created:
        fig.tight_layout()
    rows = largest(s, top)
    label_points(ax, h[rows], r[rows], frame.index[rows], avoid=refs, points=np.c_[h, r])
    return fig


def plot_fi_iv(frame, top=5, ax=None, yscale="log"):
    """FI_util (sensitivity) against IV (the first-order effect of deleting the row).

    IV follows localinf's sign convention: deleting row i changes the mean
    validation loss by about +IV_i/n, so IV < 0 predicts the row harmful
    (deleting it lowers the validation loss) and IV > 0 helpful. A vertical
    line marks IV = 0; a horizontal line the FI_util of the least sensitive
    ``flagged`` row (the 95th percentile of FI_util when the frame has no
    ``flagged`` column or flags none). The two upper quadrants are annotated
    "sensitive, predicted harmful" (IV < 0) and "sensitive, predicted
    helpful" (IV > 0); the ``top`` rows by FI_util are labelled with their row
    labels. Large FI_util marks a sensitive row, not a harmful one: the
    quadrant says which way the first-order prediction goes. FI_util is
    heavy-tailed, so its axis is logarithmic by default (rows with FI_util 0
    sit on the bottom edge).

    Parameters
    ----------
    frame : pandas.DataFrame (n, ...)
        A ``summary_frame(X_val, y_val)`` with columns ``fi_util`` and ``iv``
        (``flagged`` optional); indexed by row labels.
    top : int, default 5
        Rows to label (largest FI_util); 0 labels none.
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).
    yscale : {"log", "linear"}, default "log"
        Scale of the FI_util axis.

    Returns
    -------
    matplotlib Figure

    Raises
    ------
    InputError
        ``frame`` is not a non-empty DataFrame with those columns, they are
        not finite (or FI_util is negative), ``top`` is not an int >= 0,
        ``yscale`` is neither name.
    """
    if not isinstance(yscale, str) or yscale not in ("log", "linear"):
        raise InputError(f"yscale must be 'log' or 'linear'; got {yscale!r}")
    frame_with(frame, ["fi_util", "iv"], "summary_frame(X_val, y_val)")
    top = check_top(top)
    fi, iv = finite_column(frame, "fi_util"), finite_column(frame, "iv")
    if (fi < 0).any():
        raise InputError("frame['fi_util'] must be >= 0 (FI_util is a sensitivity)")
    flagged = flags(frame)
    if flagged is not None and flagged.any():
        level, what = fi[flagged].min(), "least flagged FI_util"
    else:
        level, what = np.quantile(fi, 0.95), "95th percentile"
    created = ax is None
    fig, ax = _axes(ax, (6.5, 4.5))
    low, high = _fi_limits(fi, yscale)
    shown = np.maximum(fi, low) if yscale == "log" else fi  # FI_util 0 on the bottom edge
    colour = np.where(flagged, "C3", "C0") if flagged is not None else "C0"
    ax.scatter(iv, shown, s=12, c=colour, alpha=0.8, gid="points")
    if flagged is not None and flagged.any():
        ax.scatter([], [], s=12, c="C3", label="flagged")
    ax.axvline(0.0, color="0.4", lw=0.8, gid="iv-zero")
    ax.axhline(level, color="C1", ls="--", lw=1, gid="fi-threshold", label=f"{what} = {level:.3g}")
    span = np.abs(iv).max() * 1.1 or 1.0
    ax.set_xlim(-span, span)  # IV = 0 in the middle, the quadrants the same width
    if yscale == "log":
        ax.set_yscale("log")
    ax.set_ylim(low, high)
    quads = [ax.text(0.02, 0.97, "sensitive,\npredicted harmful (IV < 0)", transform=ax.transAxes,
                     ha="left", va="top", fontsize=8, color="C3", gid="quadrant"),
             ax.text(0.98, 0.97, "sensitive,\npredicted helpful (IV > 0)", transform=ax.transAxes,
                     ha="right", va="top", fontsize=8, color="C2", gid="quadrant")]
    ax.set_xlabel("IV: deleting the row changes the mean validation loss by about IV/n")
    ax.set_ylabel("FI_util (sensitivity, >= 0)")
    ax.set_title("FI_util against IV: large FI is sensitive, not necessarily harmful")
    legend = ax.legend(loc="upper center", fontsize=7)  # between the quadrant names
    if created:
        fig.tight_layout()
    rows = largest(fi, top)
    label_points(ax, iv[rows], shown[rows], frame.index[rows], avoid=[*quads, legend],
                 points=np.c_[iv, shown])
    return fig


def _fi_limits(fi, yscale):
    """FI_util axis limits ``(low, high)``, with room at the top for the quadrant names and
    the legend (a third of the height)."""
    positive = fi[fi > 0]
    if yscale == "linear":
        high = fi.max() if fi.max() > 0 else 1.0
        return -0.02 * high, 1.5 * high
    if positive.size == 0:
        return 1e-3, 10.0
    low, high = positive.min() / 2, positive.max()
    if high / low < 100:  # a narrow range: at least two decades, centred
        low, high = np.sqrt(low * high) / 10, np.sqrt(low * high) * 10
    return low, high * (high / low) ** 0.5
