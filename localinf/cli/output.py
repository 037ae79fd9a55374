"""Writing a subcommand's results: atomic files, then a table, a JSON line, or nothing.

JSON keeps every digit (Python's shortest round-trip repr of each float) and
writes ``null`` for a missing value, so the output is strict JSON.
"""

import json
import math
import os
import sys
import tempfile

import numpy as np

from tqdm import tqdm

from .._core.io import save_figure, write_text
from ..plots import _plt
from .errors import UsageError


def _plain(value):
    """JSON-ready Python values: numpy scalars and arrays unwrapped, NaN and inf as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(payload):
    """Strict JSON with full float precision and ``null`` for NaN/inf.

    Parameters
    ----------
    payload : dict
        Values may be numpy scalars, arrays, lists and dicts.

    Returns
    -------
    str
    """
    return json.dumps(_plain(payload), allow_nan=False)


def records(frame, index="row"):
    """A DataFrame as a list of dicts with its index as ``index`` (every digit kept).

    Parameters
    ----------
    frame : pandas.DataFrame
    index : str, default "row"

    Returns
    -------
    list of dict
    """
    return frame.reset_index(names=index).to_dict(orient="records")


def prepare_out(folder):
    """Make sure ``folder`` can be written, before anything is computed.

    Parameters
    ----------
    folder : str

    Returns
    -------
    None

    Raises
    ------
    UsageError
        Naming the folder, when it is a file or cannot be created or written.
    """
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UsageError(f"--out {folder} is a file, not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"--out {folder}: cannot write there ({exc.strerror or exc})") from None


def finish(args, table, fig, csv_path, png_path, payload, header, shown):
    """Write the long table and the figure atomically, then report (--json, --quiet or text).

    Parameters
    ----------
    args : argparse.Namespace
        With ``json`` and ``quiet``.
    table : pandas.DataFrame
        Written to ``csv_path``.
    fig : matplotlib Figure
        Written to ``png_path`` and closed.
    csv_path, png_path : str
    payload : dict
        The JSON summary (the paths are added).
    header : str
        First line of the text report.
    shown : pandas.DataFrame
        The table printed in the text report.

    Returns
    -------
    None
    """
    write_text(csv_path, table.to_csv(index=False))
    fig.tight_layout()
    save_figure(fig, png_path)
    _plt().close(fig)
    if args.json:
        print(to_json({**payload, "csv": csv_path, "png": png_path}))
    elif not args.quiet:
        print(header)
        print(shown.to_string(float_format="{:.4f}".format))
        print(f"wrote {csv_path} and {png_path}")


def progress(items, args, what):
    """A tqdm bar on stderr over ``items``, off with --quiet or --json.

    Parameters
    ----------
    items : iterable
    args : argparse.Namespace
    what : str
        The bar's label.

    Returns
    -------
    iterable
    """
    return tqdm(items, desc=what, unit="", disable=args.quiet or args.json, file=sys.stderr, leave=False)
