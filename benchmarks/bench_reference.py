"""Speed and memory of the reference backend, as ratios against baselines run in the same process.

Run:  python benchmarks/bench_reference.py            (full sizes, a few minutes, ~6 GB RAM)
      python benchmarks/bench_reference.py --quick    (small sizes, seconds)

Printed figures (goals from the project's issue tracker):
  1. FI_util time / statsmodels Logit(method="newton") fit time, same data,
     n = 10^6, d = 100 ......................................... goal <= 0.25
  2. naive per-sample autograd FI_util time / our FI_util time, n = 2000, d = 20
     .......................................................... goal >= 300
  3. FI_active seconds, 5000 pool x 5000 labeled, d = 100 ...... goal < 3 s (2 cores)
  4. peak memory of FI_util (X itself + everything it allocates) / size of X,
     n = 10^6, d = 100 ......................................... goal <= 3

"FI_util time" is everything after the fit: building LocalInfluence (Hessian at
theta_hat, its factorisation, the minimiser check) plus ``fi_util`` itself.
Timings are the best of ``--repeat`` runs; memory is traced with tracemalloc
(numpy reports its buffers to it) in a separate run so tracing costs no time.
"""

import argparse
import os
import sys
import time
import tracemalloc

import numpy as np

import localinf as li


def logistic_data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    beta = rng.normal(size=d) * 2 / np.sqrt(d)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ beta) - 0.3))).astype(np.int64)
    return X, y


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def fi_util_job(model, X, y, Xv, yv):
    return li.LocalInfluence(model, X, y).fi_util(Xv, yv)


def bench_vs_statsmodels(n, d, repeat):
    import statsmodels.api as sm
    X, y = logistic_data(n, d)
    Xv, yv = logistic_data(10_000, d, seed=1)
    t_fit, model = best_of(lambda: li.LogisticRegression().fit(X, y), 1)
    Xd = sm.add_constant(X, prepend=False)  # statsmodels needs the constant column; not timed
    t_sm, res = best_of(lambda: sm.Logit(y, Xd).fit(method="newton", disp=0), repeat)
    Xd = None  # free the copy before FI_util is timed
    t_fi, fi = best_of(lambda: fi_util_job(model, X, y, Xv, yv), repeat)
    gap = np.max(np.abs(np.append(model.coef_, model.intercept_) - res.params))
    print(f"[1] n={n}, d={d}: our fit {t_fit:.2f} s, statsmodels Logit fit {t_sm:.2f} s "
          f"(max |param diff| {gap:.1e}); FI_util {t_fi:.2f} s")
    ratio = t_fi / t_sm
    print(f"    FI_util / statsmodels fit = {ratio:.3f}   (goal <= 0.25: {'met' if ratio <= 0.25 else 'MISSED'})")
    print(f"    our fit / statsmodels fit = {t_fit / t_sm:.3f}   (information)")
    return X, y, Xv, yv, model


def bench_memory(X, y, Xv, yv, model):
    tracemalloc.start()
    tracemalloc.reset_peak()
    fi_util_job(model, X, y, Xv, yv)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ratio = (X.nbytes + peak) / X.nbytes
    print(f"[4] peak memory of FI_util: X {X.nbytes / 2**20:.0f} MiB + {peak / 2**20:.0f} MiB allocated "
          f"= {ratio:.2f} x size of X   (goal <= 3: {'met' if ratio <= 3 else 'MISSED'})")


def bench_vs_naive(n, d, repeat):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from bruteforce import BruteForce  # per-sample autograd, written from the definitions
    X, y = logistic_data(n, d, seed=2)
    Xv, yv = logistic_data(500, d, seed=3)
    model = li.LogisticRegression(l2=0.01).fit(X, y)
    t_ours, ours = best_of(lambda: fi_util_job(model, X, y, Xv, yv), repeat)
    t_naive, naive = best_of(lambda: BruteForce(X, y, 2, 0.01, True, model.theta_).fi_util(Xv, yv), 1)
    err = np.max(np.abs(ours - naive)) / np.max(np.abs(naive))
    ratio = t_naive / t_ours
    print(f"[2] n={n}, d={d}: naive autograd loop {t_naive:.2f} s, ours {t_ours * 1e3:.1f} ms, "
          f"max rel. difference {err:.1e}")
    print(f"    speed-up = {ratio:.0f}x   (goal >= 300: {'met' if ratio >= 300 else 'MISSED'})")


def bench_fi_active(m_pool, n_lab, d, repeat):
    X, y = logistic_data(n_lab, d, seed=4)
    Xp, _ = logistic_data(m_pool, d, seed=5)
    model = li.LogisticRegression(l2=1e-3).fit(X, y)
    t, _ = best_of(lambda: li.LocalInfluence(model, X, y).fi_active(Xp), repeat)
    print(f"[3] FI_active, {m_pool} pool x {n_lab} labeled, d={d}: {t:.2f} s "
          f"(goal < 3 s: {'met' if t < 3 else 'MISSED'}; pairs per second {m_pool * n_lab / t:.2e})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run; goals not meaningful)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.quick:
        big, naive, act = (50_000, 20), (200, 5), (500, 500, 20)
    else:
        big, naive, act = (1_000_000, 100), (2000, 20), (5000, 5000, 100)
    print(f"localinf {li.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    data = bench_vs_statsmodels(*big, args.repeat)
    bench_vs_naive(*naive, args.repeat)
    bench_fi_active(*act, args.repeat)
    bench_memory(*data)


if __name__ == "__main__":
    main()
