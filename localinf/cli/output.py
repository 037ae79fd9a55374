"""Writing a subcommand's results: atomic files, then a table, a JSON line, or nothing."""

import json
import sys

from tqdm import tqdm

from .._core.io import save_figure, write_text
from ..plots import _plt


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
        print(json.dumps({**payload, "csv": csv_path, "png": png_path}))
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
