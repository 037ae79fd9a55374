"""Fit time of LogisticRegression against scikit-learn at the same optimum, and against this machine's floor.

Run:  python benchmarks/bench_fit.py            (n = 10^6, d = 100, l2 = 1e-3; about a minute, ~2 GB RAM)
      python benchmarks/bench_fit.py --quick    (n = 5 * 10^4, d = 20, seconds)

Printed figures (goal from the project's issue tracker):
  1. our fit time / scikit-learn lbfgs fit time, both at the same optimum:
     lbfgs runs at the largest of tol = 1e-6, 1e-8, 1e-10 whose parameters
     agree with ours to 1e-8 (max |param diff|) ................ goal <= 1
  2. our fit time / scikit-learn newton-cholesky fit time (tol = 1e-8).
  3. our fit time / floor, floor = one exact Hessian's flops (BLAS dsyrk of an
     (n, d + 1) matrix) + one read of X, on one BLAS thread as our fit runs:
     what one double-precision Newton step costs at least on this machine.
Also: max |param diff| to each scikit-learn fit, our max|grad R| at the
fitted theta (the exact one-pass formula), scikit-learn's C matched to l2
(its objective 0.5 ||w||^2 + C sum_i loss_i is ours times 2 C n, so
C = 1 / (2 l2 n)), and the passes our fit makes over the data, by kind
(counted on one more, untimed fit).

Every time is the best of ``--repeat`` runs, each round running ours, the
scikit-learn fits and the floor in turn, so all see the same load on the
(shared) machine. Our fit runs its passes on one BLAS thread; scikit-learn's
lbfgs is timed both with the default BLAS threads and with one, and the
faster of the two is the one compared.
"""

import argparse
import os
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression as SkLogistic
from threadpoolctl import threadpool_info, threadpool_limits

import localinf as li
import localinf.models.glm_risk as glm_risk
from localinf.models.glm_risk import risk_derivatives

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _floor import read_seconds, report, syrk_seconds  # noqa: E402
from bench_reference import logistic_data  # noqa: E402  (the same data as every logistic bench)

LBFGS_TOLS = (1e-6, 1e-8, 1e-10)
AGREE = 1e-8


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def params(est):
    return np.r_[est.coef_.ravel(), est.intercept_]


def passes(fit, n):
    """The passes ``fit()`` makes over the rows (glm_risk.risk_terms calls), by kind."""
    kinds, original = {}, glm_risk.risk_terms

    def counted(X, *args, **kw):
        if X.shape[0] < n:
            kind = "Hessian of every 8th row alone"
        elif not kw.get("hessian"):
            kind = "gradient + its round-off bound" if kw.get("roundoff") else "gradient"
        elif kw.get("subsample", 1) > 1:
            kind = "gradient + subsample Hessian"
        else:
            kind = "gradient + single-precision Hessian" if kw.get("single") else "gradient + exact Hessian"
        kinds[kind] = kinds.get(kind, 0) + 1
        return original(X, *args, **kw)
    glm_risk.risk_terms = counted
    try:
        fit()
    finally:
        glm_risk.risk_terms = original
    return kinds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    ap.add_argument("--repeat", type=int, default=2, help="rounds; each time is the best of these")
    ap.add_argument("--l2", type=float, default=1e-3)
    args = ap.parse_args(argv)
    n, d = (50_000, 20) if args.quick else (1_000_000, 100)
    X, y = logistic_data(n, d)
    C = 1.0 / (2.0 * args.l2 * n)
    blas = ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info()
                     if i["user_api"] == "blas")
    print(f"LogisticRegression(l2={args.l2:g}) on n={n}, d={d}; scikit-learn C = 1/(2 l2 n) = {C:.3g}; "
          f"BLAS: {blas}; {os.cpu_count()} cores")
    best = {}
    tol = None
    for _ in range(args.repeat):
        t, ours = timed(lambda: li.LogisticRegression(l2=args.l2).fit(X, y))
        best["ours"] = min(best.get("ours", np.inf), t)
        mine = params(ours)
        for cand in ([tol] if tol else LBFGS_TOLS):
            t, est = timed(lambda: SkLogistic(C=C, tol=cand, max_iter=10_000).fit(X, y))
            gap = float(np.max(np.abs(params(est) - mine)))
            if gap <= AGREE or cand == LBFGS_TOLS[-1]:
                tol, best["lbfgs"], gap_lbfgs = cand, min(best.get("lbfgs", np.inf), t), gap
                break
        with threadpool_limits(limits=1, user_api="blas"):
            t, _ = timed(lambda: SkLogistic(C=C, tol=tol, max_iter=10_000).fit(X, y))
        best["lbfgs1"] = min(best.get("lbfgs1", np.inf), t)
        t, est = timed(lambda: SkLogistic(C=C, tol=1e-8, max_iter=100, solver="newton-cholesky").fit(X, y))
        best["newton-cholesky"] = min(best.get("newton-cholesky", np.inf), t)
        gap_nc = float(np.max(np.abs(params(est) - mine)))
        with threadpool_limits(limits=1, user_api="blas"):  # as our fit runs
            floor = syrk_seconds(n, d + 1, repeat=1) + read_seconds(X, repeat=1)
        best["floor"] = min(best.get("floor", np.inf), floor)
    grad = risk_derivatives(X, y, ours.theta_, 2, True, args.l2, hessian=False)[1]
    kinds = passes(lambda: li.LogisticRegression(l2=args.l2).fit(X, y), n)
    print(f"    our fit: {best['ours']:.3f} s, {ours.n_iter_} steps, max|grad R| = "
          f"{np.max(np.abs(grad)):.1e}; {sum(kinds.values())} passes: "
          + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print(f"    scikit-learn lbfgs (tol={tol:g}): {best['lbfgs']:.3f} s ({best['lbfgs1']:.3f} s on one BLAS "
          f"thread), max |param diff| {gap_lbfgs:.1e}{'' if gap_lbfgs <= AGREE else f'  (does not reach {AGREE:g})'}")
    lbfgs = min(best["lbfgs"], best["lbfgs1"])
    print(f"    scikit-learn newton-cholesky (tol=1e-8): {best['newton-cholesky']:.3f} s, "
          f"max |param diff| {gap_nc:.1e}")
    print(f"[1] our fit / lbfgs fit (the faster of the two) = {best['ours'] / lbfgs:.2f}   "
          f"(goal <= 1: {'met' if best['ours'] <= lbfgs else 'MISSED'})")
    print(f"[2] our fit / newton-cholesky fit = {best['ours'] / best['newton-cholesky']:.2f}")
    print("[3] our fit against the floor (one dsyrk of the design + one read of X, one thread):")
    report("our fit", best["ours"], best["floor"])


if __name__ == "__main__":
    main()
