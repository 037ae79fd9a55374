"""Binary FI_util against this machine's floor, measured in the same process.

Run:  python benchmarks/bench_binary.py            (n = 10^6, d = 100: ~1 minute, ~2 GB RAM)
      python benchmarks/bench_binary.py --quick    (n = 10^5, seconds)

The job timed is everything after the fit: ``LocalInfluence(model, X, y)``
(one pass for H and the minimiser check, the factorisation of H) and
``fi_util(X_val, y_val)`` (the in-sample check, one solve, one pass over X).
Its floor is what the hardware needs for the unavoidable work:

    floor = read(X) + SYRK(n, q) + GEMM(n, q, q)

one streaming read of X, the flops of ``X^T S X`` and those of ``X H^{-1}``
(q = d + 1), each measured here on the same shapes (benchmarks/_floor.py).
Goal (issue tracker): job / floor <= 1.5.

Memory: tracemalloc's peak during the job (numpy reports its buffers), over
the size of X. Goal: <= 0.05 beyond X itself.

Agreement: the closed form against the general per-row route (metric factor,
its eigenpairs, the quadratic form) on the first 20,000 rows.
"""

import argparse
import os
import time
import tracemalloc

import numpy as np

import localinf as li
from localinf.measures.pinv import metric_eig, pinv_quadratic

from _floor import best_of, gemm_seconds, read_seconds, report, syrk_seconds
from bench_reference import logistic_data  # the same data as every logistic bench


def job(model, X, y, Xv, yv):
    return li.LocalInfluence(model, X, y).fi_util(Xv, yv)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n, d = (100_000, 100) if args.quick else (1_000_000, 100)
    q = d + 1
    print(f"localinf {li.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs; n={n}, d={d}")
    X, y = logistic_data(n, d)
    Xv, yv = logistic_data(10_000, d, seed=1)
    t = time.perf_counter()
    model = li.LogisticRegression(l2=1e-3).fit(X, y)
    print(f"    fit: {time.perf_counter() - t:.2f} s (not part of the job)")

    # interleave job and floor so both see the same load
    jobs, floors = [], []
    for _ in range(args.repeat):
        jobs.append(best_of(lambda: job(model, X, y, Xv, yv), 1)[0])
        floors.append(read_seconds(X, 1) + syrk_seconds(n, q, 1) + gemm_seconds(n, q, q, 1))
    t_job, floor = min(jobs), min(floors)
    print(f"[1] binary FI_util job (LocalInfluence + fi_util), best of {args.repeat}:")
    report("job / floor (read + SYRK + GEMM)", t_job, floor, goal=1.5)

    tracemalloc.start()
    fi = job(model, X, y, Xv, yv)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    extra = peak / X.nbytes
    print(f"[2] memory: X {X.nbytes / 2**20:.0f} MiB; peak allocated during the job {peak / 2**20:.1f} MiB "
          f"= {extra:.3f} x X   (goal <= 0.05: {'met' if extra <= 0.05 else 'MISSED'})")

    m = min(n, 20_000)
    bound = li.LocalInfluence(model, X, y).against(Xv, yv)
    R, F, g = bound._parts(slice(0, m))
    lam, U, inv = metric_eig(F, bound.influence.rtol, bound.influence.atol)
    general = pinv_quadratic(U, inv, g)
    err = np.max(np.abs(np.asarray(fi)[:m] - general)) / np.max(general)
    print(f"[3] closed form vs general per-row route, first {m} rows: max |diff| / max = {err:.1e}")


if __name__ == "__main__":
    main()
