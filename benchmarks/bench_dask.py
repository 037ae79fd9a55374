"""Dask against in-memory: fit + FI_util at 10^6 x 100, and a 2*10^7 x 50 Parquet run.

    python benchmarks/bench_dask.py            # 10^6 x 100: times, their ratio, agreement
    python benchmarks/bench_dask.py --quick    # 10^5 x 20
    python benchmarks/bench_dask.py --active   # FI_active, 200 pool points, softmax 2*10^5 x 50, K = 10:
                                               # exact percentiles in passes against in memory
    python benchmarks/bench_dask.py --big DIR  # writes 2*10^7 x 50 Parquet to DIR in parts
                                               # (reuses them if DIR holds them), fits and scores
                                               # it on a LocalCluster, reports the peak memory of
                                               # each worker, deletes DIR (unless --keep)

The default mode runs both paths in one process on the same data (dask's
threaded scheduler, the array in row blocks of ``--block`` rows). The big mode
never holds the whole array: it writes the Parquet parts one at a time, and
the workers read them back block by block.
"""

import argparse
import os
import shutil
import threading
import time

import numpy as np


def make(n, d, seed=0, start=0):
    """Rows start..start+n of a logistic problem with d features (the same rows for a seed)."""
    rng = np.random.default_rng([seed, start])
    X = rng.normal(size=(n, d))
    beta = np.random.default_rng(seed).normal(size=d) / np.sqrt(d)
    y = (X @ beta + rng.logistic(size=n) > 0).astype(np.int64)
    return X, y


def compare(n, d, block):
    import dask
    import dask.array as da
    import localinf as li
    from localinf.measures.lazy import DaskLocalInfluence
    from localinf.models.glm_dask import fit_dask
    X, y = make(n, d)
    Xv, yv = make(n // 100, d, start=n)
    t0 = time.perf_counter()
    model = li.LogisticRegression(l2=1e-4).fit(X, y)
    t1 = time.perf_counter()
    fi = li.LocalInfluence(model, X, y).fi_util(Xv, yv)
    t2 = time.perf_counter()
    with dask.config.set(scheduler="threads"):
        Xd, yd = da.from_array(X, chunks=(block, d)), da.from_array(y, chunks=block)
        t3 = time.perf_counter()
        lazy = fit_dask(li.LogisticRegression(l2=1e-4), Xd, yd)
        t4 = time.perf_counter()
        fi_d = DaskLocalInfluence(lazy, Xd, yd).fi_util(Xv, yv).compute()
        t5 = time.perf_counter()
    theta = np.max(np.abs(lazy.theta_ - model.theta_) / np.abs(model.theta_))
    agree = np.max(np.abs(fi_d - fi) / fi)  # row by row: rows with a tiny FI_util weigh in fully
    scale = np.max(np.abs(fi_d - fi)) / np.max(fi)  # against the largest value
    print(f"n = {n}, d = {d}, dask blocks of {block} rows, threaded scheduler")
    print(f"fit      in-memory {t1 - t0:7.2f} s   dask {t4 - t3:7.2f} s   ratio {(t4 - t3) / (t1 - t0):.2f}"
          f"   ({model.n_iter_} iterations; dask {lazy.n_passes_} passes)")
    print(f"FI_util  in-memory {t2 - t1:7.2f} s   dask {t5 - t4:7.2f} s   ratio {(t5 - t4) / (t2 - t1):.2f}")
    print(f"fit + FI_util ratio {(t5 - t3) / (t2 - t0):.2f}")
    print(f"agreement: theta max rel {theta:.1e}, FI_util max rel {agree:.1e} (row by row), "
          f"max |diff| / max FI_util {scale:.1e}")
    small = np.argsort(np.abs(fi_d - fi) / fi)[-3:]
    print(f"    the rows of largest relative difference have FI_util / max = "
          f"{', '.join(f'{v:.1e}' for v in fi[small] / np.max(fi))}")


def write_parquet(path, n, d, part):
    """``n`` rows in Parquet files of ``part`` rows each, one part in memory at a time."""
    import pandas as pd
    os.makedirs(path, exist_ok=True)
    names = [f"x{j}" for j in range(d)]
    for k, start in enumerate(range(0, n, part)):
        X, y = make(min(part, n - start), d, start=start)
        frame = pd.DataFrame(X, columns=names).assign(y=y)
        frame.to_parquet(os.path.join(path, f"part-{k:04d}.parquet"), index=False)
    return names


class Sampler(threading.Thread):
    """Samples the resident memory of the workers' processes (psutil) until stopped."""

    def __init__(self, pids, every=0.2):
        super().__init__(daemon=True)
        import psutil
        self.procs = {pid: psutil.Process(pid) for pid in pids}
        self.peak = dict.fromkeys(pids, 0)
        self.every, self.done = every, threading.Event()

    def run(self):
        while not self.done.is_set():
            for pid, proc in self.procs.items():
                try:
                    self.peak[pid] = max(self.peak[pid], proc.memory_info().rss)
                except Exception:
                    pass
            time.sleep(self.every)


def compare_active(n, d, K, m, block):
    """FI_active of m pool points, every aggregation, in memory and on dask (passes counted)."""
    import dask
    import dask.array as da
    import localinf as li
    from localinf.measures import lazy as lazy_module
    from localinf.measures.lazy import DaskLocalInfluence
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    eta = X @ rng.normal(size=(d, K - 1)) / np.sqrt(d) * 3 + rng.logistic(size=(n, K - 1))
    y = np.argmax(np.column_stack([np.zeros(n), eta]), axis=1)
    model = li.SoftmaxRegression(l2=1e-3).fit(X, y)
    pool = rng.normal(size=(m, d))
    inf = li.LocalInfluence(model, X, y)
    passes, run_pass = [], lazy_module.run_pass

    def counted(*args):
        passes.append(1)
        return run_pass(*args)

    lazy_module.run_pass = counted
    print(f"FI_active: softmax n = {n}, d = {d}, K = {K}, {m} pool points; dask blocks of {block} rows")
    with dask.config.set(scheduler="threads"):
        lazy = DaskLocalInfluence(model, da.from_array(X, chunks=(block, d)), da.from_array(y, chunks=block))
        for agg in ("trimmed_mean", "median", "mean"):
            t0 = time.perf_counter()
            want = inf.fi_active(pool, agg=agg)
            t1 = time.perf_counter()
            passes.clear()
            got = lazy.fi_active(pool, agg=agg)
            t2 = time.perf_counter()
            print(f"  {agg:12s} in-memory {t1 - t0:6.2f} s   dask {t2 - t1:6.2f} s   ratio "
                  f"{(t2 - t1) / (t1 - t0):4.2f}   {len(passes)} passes   max rel diff "
                  f"{np.max(np.abs(got - want) / want):.1e}")
    lazy_module.run_pass = run_pass


def big(path, n, d, part, workers, keep=False):
    import dask.dataframe as dd
    from distributed import Client, LocalCluster
    import localinf as li
    from localinf.measures.lazy import DaskLocalInfluence
    from localinf.models.glm_dask import fit_dask
    t0 = time.perf_counter()
    parts = -(-n // part)
    reuse = os.path.isdir(path) and len(os.listdir(path)) == parts
    names = [f"x{j}" for j in range(d)] if reuse else write_parquet(path, n, d, part)
    size = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    print(f"{'reused' if reuse else 'wrote'} {n} x {d} in {path}: {size / 2 ** 30:.1f} GiB in {parts} "
          f"parts of {part} rows ({part * d * 8 / 2 ** 20:.0f} MiB in memory each), "
          f"{time.perf_counter() - t0:.0f} s")
    Xv, yv = make(10_000, d, start=n)
    try:
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None, memory_limit="4GiB") as cluster, Client(cluster) as client:
            pids = list(client.run(os.getpid).values())
            sampler = Sampler(pids)
            sampler.start()
            frame = dd.read_parquet(path)
            X, y = frame[names], frame["y"]
            t1 = time.perf_counter()
            model = fit_dask(li.LogisticRegression(l2=1e-4), X, y)
            t2 = time.perf_counter()
            inf = DaskLocalInfluence(model, X, y)
            bound = inf.against(Xv, yv)
            fi = bound.fi_util()
            import dask
            total, largest = map(float, dask.compute(fi.sum(), fi.max()))
            t3 = time.perf_counter()
            top = bound.top(5)
            t4 = time.perf_counter()
            sampler.done.set()
            sampler.join()
        print(f"fit {t2 - t1:.0f} s ({model.n_iter_} iterations, {model.n_passes_} passes); "
              f"influence object + validation binding + FI_util (sum and max) {t3 - t2:.0f} s; "
              f"top 5 {t4 - t3:.0f} s")
        print(f"FI_util: sum {total:.6e}, max {largest:.6e}; top rows {top.index.tolist()}")
        for pid, peak in sampler.peak.items():
            print(f"worker {pid}: peak resident memory {peak / 2 ** 20:.0f} MiB")
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)
            print(f"deleted {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10^5 x 20")
    ap.add_argument("--big", metavar="DIR", help="the 2*10^7 x 50 Parquet run, written to DIR")
    ap.add_argument("--block", type=int, default=125_000, help="rows per dask block (default 125000)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster workers for --big")
    ap.add_argument("--keep", action="store_true", help="keep the --big dataset (default: delete it)")
    ap.add_argument("--active", action="store_true", help="FI_active in passes against in memory")
    args = ap.parse_args()
    if args.active:
        compare_active(*((20_000, 10, 4, 50, 5_000) if args.quick else (200_000, 50, 10, 200, 25_000)))
    elif args.big:
        n, d, part = (400_000, 10, 50_000) if args.quick else (20_000_000, 50, 250_000)
        big(args.big, n, d, part, args.workers, args.keep)
    elif args.quick:
        compare(100_000, 20, 12_500)
    else:
        compare(1_000_000, 100, args.block)


if __name__ == "__main__":
    main()
