"""Shared helpers of the plots: axes, input checks, row labels placed without overlap."""

import numbers

import numpy as np

from ..exceptions import InputError

# Candidate label offsets (points) around a point, tried in order until one fits.
_OFFSETS = ((5, 4, "left", "bottom"), (5, -4, "left", "top"), (-5, 4, "right", "bottom"),
            (-5, -4, "right", "top"), (0, 10, "center", "bottom"), (0, -10, "center", "top"),
            (12, 0, "left", "center"), (-12, 0, "right", "center"))
ROW_LABEL = "row-label"  # gid of the row-label annotations (tests and users can find them)


def _plt():
    """pyplot, imported on first use (matplotlib falls back to Agg without a display)."""
    import matplotlib.pyplot as plt
    return plt


def _axes(ax, size):
    """``(figure, axes)``: those of ``ax``, or a new figure of ``size`` inches."""
    return (ax.figure, ax) if ax is not None else _plt().subplots(figsize=size)


def frame_with(frame, columns, what="summary_frame", name="frame"):
    """``frame`` if it is a non-empty DataFrame holding ``columns``, else InputError."""
    if not (hasattr(frame, "columns") and hasattr(frame, "sort_index")):
        raise InputError(f"{name} must be the pandas DataFrame {what} returns; "
                         f"got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{name} must be the DataFrame {what} returns; missing columns {missing}")
    if len(frame) == 0:
        raise InputError(f"{name} has no rows: nothing to plot")
    return frame


def finite_column(frame, column, name="frame"):
    """Column ``column`` of ``frame`` as a float array; InputError unless numeric and finite."""
    try:
        values = frame[column].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        raise InputError(f"{name}[{column!r}] must be numeric; got dtype {frame[column].dtype}") from None
    if values.ndim != 1:
        raise InputError(f"{name} has more than one column named {column!r}")
    bad = ~np.isfinite(values)
    if bad.any():
        rows = list(frame.index[bad][:5])
        raise InputError(f"{name}[{column!r}] has {int(bad.sum())} non-finite values "
                         f"(rows {rows}{' ...' if bad.sum() > 5 else ''}): nothing sensible to plot")
    return values


def flags(frame, name="frame"):
    """The ``flagged`` column as a bool array, or None when the frame has none."""
    if "flagged" not in frame.columns:
        return None
    f = frame["flagged"].to_numpy()
    if f.dtype != bool:
        try:
            f = f.astype(float)
        except (TypeError, ValueError):
            raise InputError(f"{name}['flagged'] must be True/False") from None
        if not np.isin(f, (0.0, 1.0)).all():
            raise InputError(f"{name}['flagged'] must be True/False")
        f = f.astype(bool)
    return f


def check_top(top):
    """``top`` as an int >= 0; InputError otherwise."""
    if isinstance(top, (bool, np.bool_)) or not isinstance(top, numbers.Integral) or top < 0:
        raise InputError(f"top must be a non-negative int (rows to label); got {top!r}")
    return int(top)


def largest(values, top):
    """Positions of the ``top`` largest ``values`` (ties: first row first)."""
    return np.argsort(-np.asarray(values), kind="stable")[:top]


def label_points(ax, xs, ys, labels, avoid=(), points=None):
    """Annotate points ``(xs, ys)`` with ``labels``, each at the offset whose text stays
    inside the axes, clear of the labels already placed and of ``avoid`` (artists), and
    covers the fewest of ``points`` (an (m, 2) array of the plotted points, data units).

    Call it last, once the axes limits are final. Returns the annotations.
    """
    ax.autoscale_view()
    renderer = _renderer(ax)
    placed, dots = [], np.zeros((0, 2))
    if renderer is not None:
        placed = [a.get_window_extent(renderer).extents for a in avoid]
        marks = ax.transData.transform(np.column_stack([xs, ys])) if len(xs) else []
        placed += [(u - 3, v - 3, u + 3, v + 3) for u, v in marks]  # the labelled points
        if points is not None and len(points):
            dots = ax.transData.transform(np.asarray(points, dtype=float))
    out = []
    for x, y, text in zip(xs, ys, labels):
        best, best_cover = None, np.inf
        for dx, dy, ha, va in _OFFSETS:
            a = ax.annotate(str(text), (x, y), xytext=(dx, dy), textcoords="offset points",
                            ha=ha, va=va, fontsize=8, gid=ROW_LABEL)
            if renderer is None:
                best = a
                break
            box = a.get_window_extent(renderer).extents
            x0, y0, x1, y1 = ax.bbox.extents
            inside = x0 <= box[0] and box[2] <= x1 and y0 <= box[1] and box[3] <= y1
            cover = np.sum((dots[:, 0] > box[0] - 2) & (dots[:, 0] < box[2] + 2) &
                           (dots[:, 1] > box[1] - 2) & (dots[:, 1] < box[3] + 2))
            if inside and cover < best_cover and not any(_overlap(box, b) for b in placed):
                if best is not None:
                    best.remove()
                best, best_cover = a, cover
                if cover == 0:
                    break
            else:
                a.remove()
        if best is None:  # nowhere clear: the first offset, overlapping
            dx, dy, ha, va = _OFFSETS[0]
            best = ax.annotate(str(text), (x, y), xytext=(dx, dy), textcoords="offset points",
                               ha=ha, va=va, fontsize=8, gid=ROW_LABEL)
        if renderer is not None:
            placed.append(best.get_window_extent(renderer).extents)
        out.append(best)
    return out


def _overlap(a, b):
    """The intersection of boxes ``(x0, y0, x1, y1)`` as a tuple, or None when they do not meet."""
    box = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return box if box[0] < box[2] and box[1] < box[3] else None


def _renderer(ax):
    """The figure's renderer, or None on a canvas without one."""
    try:
        return ax.figure.canvas.get_renderer()
    except AttributeError:
        return None
