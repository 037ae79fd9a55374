"""The ``localinf`` command.

    localinf                                   # diagnose the embedded breast cancer data
    localinf diagnose DATA.csv --target y      # your own CSV or Parquet file
    localinf diagnose 'parts/*.parquet' --target y [--scheduler local|ADDRESS]
                                               # a Parquet dataset, lazily with dask
    localinf trim [DATA.csv --target y]        # trimming curve: FI, IV, random, ...
    localinf active [DATA.csv --target y]      # simulated active learning (resumable)
    localinf invariance [DATA.csv --target y]  # Theorem 1: FI under a rescaled perturbation
    localinf validate [--backend mod:factory]  # the verification report

``diagnose`` fits logistic (two classes) or softmax regression on a training
split, computes FI_util, IV, self-influence, Cook's local influence and
leverage for every training row against the validation split, prints the most
influential rows and writes ``influence.csv`` (all rows, by rank) and
``influence.png`` (index plot and FI against leverage) to ``--out``. Outputs
are written atomically. Bad input exits with status 2 and one line on stderr.
"""

import argparse
import sys

import numpy as np

from ..exceptions import LocalInfluenceError
from ..validation.report import main as validate_main
from . import active, diagnose, invariance, lazy, trim
from .data import is_dataset
from .errors import UsageError
from .options import add_scheduler

__all__ = ["main", "parser", "UsageError"]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2)."""

    def error(self, message):
        print(f"localinf: error: {' '.join(message.split())} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def parser():
    """The argument parser with one subparser per subcommand.

    Returns
    -------
    argparse.ArgumentParser
    """
    ap = _Parser(prog="localinf", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command")
    for command in (diagnose, trim, active, invariance):
        p = sub.add_parser(command.NAME, help=command.HELP)
        command.options(p)
        p.set_defaults(run=command.run)
        if command is diagnose:  # a Parquet dataset larger than memory: read lazily with dask
            add_scheduler(p)
    sub.add_parser("validate", help="run the verification report (python -m localinf.validate)",
                   add_help=False)
    return ap


def main(argv=None):
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``); no subcommand means ``diagnose``.

    Returns
    -------
    int
        Exit status: 0 on success, 2 for bad input (one line on stderr); the
        ``validate`` subcommand returns the report's status.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "validate":
        return validate_main(argv[1:])
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["diagnose"] + argv
    ap = parser()
    try:
        args = ap.parse_args(argv)
        if args.command is None:
            args = ap.parse_args(["diagnose"])
    except SystemExit as exc:  # --help (0) or a one-line argparse error (2)
        return exc.code
    try:
        # numpy's floating-point warnings are noise on the terminal: every result is checked
        # for finiteness and refused with one line (NumericalError) when it is not
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            if args.command == "diagnose" and is_dataset(args.data, args.scheduler):
                return lazy.run(args)
            return args.run(args)
    except (UsageError, LocalInfluenceError) as exc:
        return _fail(exc)
    except OSError as exc:  # writing an output file, reading an input
        where = f" {exc.filename}" if exc.filename else ""
        return _fail(f"cannot access{where}: {exc.strerror or exc}")
    except MemoryError:
        return _fail("out of memory; use fewer rows or features, or raise the memory budget "
                     "(LOCALINF_MEMORY_BUDGET)")


def _fail(message):
    """Print one line on stderr and return exit status 2."""
    print(f"localinf: error: {' '.join(str(message).split())}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
