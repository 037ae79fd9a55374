"""``localinf diagnose DATASET --target y``: a Parquet dataset larger than memory, with dask.

The training rows stay on disk: the fit makes about one pass per Newton step
(:mod:`localinf.models.glm_dask`), the summary frame is written partition by
partition to ``OUT/influence.parquet`` (row-aligned with the input, unsorted,
``flagged`` marking the ``--flag`` rows of highest FI_util), and the ``--top``
rows are found without a sort and printed. No figure and no refits at this scale.
"""

import contextlib
import os
import warnings

import numpy as np

from ..exceptions import LocalInfluenceError
from ..measures.lazy import DaskLocalInfluence
from ..models.glm import LogisticRegression, SoftmaxRegression
from ..models.glm_dask import fit_dask
from .data import is_dataset, load, read_dataset
from .errors import UsageError
from .output import prepare_out, records, to_json


@contextlib.contextmanager
def scheduler(address):
    """dask's scheduler for the run: threads (None), a LocalCluster ('local') or an address.

    Parameters
    ----------
    address : str or None

    Yields
    ------
    None
        While the client (if any) is the default scheduler.
    """
    if not address:
        yield
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("--scheduler needs dask.distributed (pip install 'localinf[dask]')") from None
    try:
        if address == "local":
            cluster = LocalCluster(dashboard_address=":0")
            client = Client(cluster)
        else:
            cluster, client = None, Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"--scheduler {address}: cannot start or reach it: {exc}") from None
    try:
        yield
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _split(args, frame, features):
    """(X, y) of the training and the validation rows."""
    target = args.target
    if args.val_file:
        if is_dataset(args.val_file, args.scheduler):
            vframe, _ = read_dataset(args.val_file, target, args.dropna, args.quiet)
        else:
            vframe, _, _ = load(args.val_file, target, sep=args.sep, decimal=args.decimal,
                                dropna=args.dropna, quiet=args.quiet)
        missing = [c for c in features if c not in vframe.columns]
        if missing:
            raise UsageError(f"{args.val_file}: missing feature column(s) {', '.join(map(repr, missing[:5]))}")
        return frame[features], frame[target], vframe[features], vframe[target]
    train, val = frame.random_split([1 - args.val_frac, args.val_frac], random_state=args.seed)
    return train[features], train[target], val[features], val[target]


def run(args):
    """The diagnose subcommand on a Parquet dataset (a directory or glob), lazily.

    Parameters
    ----------
    args : argparse.Namespace
        The diagnose options, with ``scheduler``.

    Returns
    -------
    int
        0; bad input raises UsageError or a localinf error (exit status 2).
    """
    if args.invariant:
        raise UsageError("--invariant is not available on a Parquet dataset read lazily")
    prepare_out(args.out)
    frame, features = read_dataset(args.data, args.target, args.dropna, args.quiet)
    with scheduler(args.scheduler), warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="dask")  # dask's own deprecation notices
        try:
            return _diagnose(args, frame, features)
        except (UsageError, LocalInfluenceError):
            raise
        except Exception as exc:  # reading a part, a worker lost: one line, exit 2
            raise UsageError(f"{args.data}: {type(exc).__name__}: {' '.join(str(exc).split())}") from None


def _diagnose(args, frame, features):
    import dask
    Xtr, ytr, Xv, yv = _split(args, frame, features)
    if args.standardize:  # z-scores with the training rows' mean and spread
        mu, sd = dask.compute(Xtr.mean(), Xtr.std(ddof=0))
        sd = sd.where(sd > 0, 1.0)
        Xtr, Xv = (Xtr - mu) / sd, (Xv - mu) / sd
    import pandas as pd
    seen = ytr.map_partitions(lambda s: pd.Series(s.dropna().unique()), meta=ytr._meta)
    levels = np.unique(seen.compute().to_numpy())  # per-partition distinct labels: no shuffle
    K = len(levels)
    if K < 2:
        raise UsageError(f"--target {args.target!r} has fewer than two classes in the training rows")
    if args.model == "logistic" and K != 2:
        raise UsageError(f"--model logistic needs two classes; the target has {K}")
    cls = LogisticRegression if (args.model == "logistic" or args.model == "auto" and K == 2) \
        else SoftmaxRegression
    model = fit_dask(cls(l2=args.l2), Xtr, ytr)
    inf = DaskLocalInfluence(model, Xtr, ytr, rtol=args.rtol, atol=args.atol)
    bound = inf.against(Xv, yv)
    path = os.path.join(args.out, "influence.parquet")
    bound.summary_frame(flag_top=args.flag).to_parquet(path, write_index=True, overwrite=True)
    top = bound.top(args.top)
    top["deleting"] = np.where(top["iv"] < 0, "lowers loss", "raises loss")
    shown = [c for c in ("label", "fi_util", "rank", "iv", "deleting", "cooks_d", "hat_diag",
                         "student_resid", "cutoff_sensitive") if c in top]
    if args.json:
        print(to_json({"data": args.data, "n_train": inf.n_, "n_features": inf.d_,
                       "features": features, "classes": [str(v) for v in levels],
                       "model": type(model).__name__, "l2": args.l2, "n_iter": model.n_iter_,
                       "passes": model.n_passes_, "top": records(top[shown]), "parquet": path}))
    elif not args.quiet:
        print(f"localinf diagnose: {args.data} (Parquet, read lazily); {inf.n_} training rows, "
              f"{inf.d_} features, classes {', '.join(map(str, levels))}; "
              f"{type(model).__name__}(l2={args.l2:g}), {model.n_iter_} Newton steps in "
              f"{model.n_passes_} passes")
        print("Most influential training rows by FI_util (eq. 3.1): large FI_util marks a row the "
              "validation loss is sensitive to, not a harmful one; 'deleting' is IV's first-order "
              "prediction of what removing the row does to the validation loss.")
        with pd.option_context("display.width", 120, "display.float_format", "{:.4g}".format):
            print(top[shown].to_string())
        print(f"wrote {path} (every training row, in the input's order)")
    return 0

