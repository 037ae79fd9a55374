"""Autograd backend against the reference backend, and curvature choices, in one process.

Run:  python benchmarks/bench_autograd.py [--quick]

Prints
  1. FI_util time, autograd backend / reference backend, logistic regression,
     n = 20000, d = 50 (goal <= 5), with the max relative difference;
  2. for a small tanh network, FI_util and influence_value with exact, K-FAC,
     KFSVD (K-FAC + rank-1 SVD of M_i), rank-1 SVD with the exact Hessian, CG
     and LiSSA: time, relative error, and for FI_util the
     Spearman correlation and top-b overlap with exact.
"""

import argparse
import time

import numpy as np

import localinf as li


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def glm_ratio(n, d):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ (rng.normal(size=d) / np.sqrt(d))))).astype(int)
    model = li.LogisticRegression(l2=1e-3).fit(X, y)
    Xv, yv = X[:1000], y[:1000]
    t_ref, ref = timed(lambda: li.LocalInfluence(model, X, y).fi_util(Xv, yv))
    t_ag, ag = timed(lambda: li.LocalInfluence(model, X, y, backend="autograd").fi_util(Xv, yv))
    err = np.max(np.abs(ag - ref)) / np.max(np.abs(ref))
    print(f"[1] logistic n={n}, d={d}: reference {t_ref:.3f} s, autograd {t_ag:.2f} s, "
          f"ratio {t_ag / t_ref:.1f} (goal <= 5: {'met' if t_ag / t_ref <= 5 else 'MISSED'}); "
          f"max rel. difference {err:.1e}")


def curvatures(n):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 2))
    y = ((X[:, 0] ** 2 + X[:, 1] + 0.3 * rng.normal(size=n)) > 0.5).astype(int)
    model = li.fit_mlp(X, y, hidden=(8, 8), activation="tanh", l2=3e-3)
    print(f"[2] tanh MLP 2-8-8-1, n={n}, p={model.theta_.size}: FI_util / IV by curvature")
    base = {}
    from scipy.stats import spearmanr
    runs = [("exact", "exact", {}, None), ("kfac", "kfac", {}, None),
            ("kfsvd1", "kfac", {}, 1), ("svd1", "exact", {}, 1),
            ("cg", "cg", {"tol": 1e-10}, None), ("lissa", "lissa", {"depth": 500}, None)]
    for name, curv, opts, k in runs:
        t, inf = timed(lambda: li.LocalInfluence(model, X, y, curvature=curv, curvature_options=opts,
                                                 svd_rank=k))
        t_iv, iv = timed(lambda: inf.influence_value(X, y))
        if name != "lissa":  # LiSSA costs `depth` HVPs per right-hand side; FI_util needs n K of them
            t_fi, fi = timed(lambda: inf.fi_util(X, y))
        else:
            t_fi, fi = float("nan"), None
        if name == "exact":
            base = {"iv": iv, "fi": fi}
        e_iv = np.max(np.abs(iv - base["iv"])) / np.max(np.abs(base["iv"]))
        e_fi = (np.max(np.abs(fi - base["fi"])) / np.max(np.abs(base["fi"]))) if fi is not None else float("nan")
        print(f"    {name:6s} setup {t:6.2f} s  IV {t_iv:6.2f} s (rel. err {e_iv:.1e})  "
              f"FI_util {t_fi:6.2f} s (rel. err {e_fi:.1e})")
        if fi is not None and name != "exact":
            b = max(5, n // 20)
            top = len(set(np.argsort(fi)[-b:]) & set(np.argsort(base["fi"])[-b:]))
            print(f"           FI_util vs exact: Spearman {spearmanr(fi, base['fi']).correlation:.3f}, "
                  f"top-{b} overlap {top}/{b}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    glm_ratio(*((2000, 10) if args.quick else (20000, 50)))
    curvatures(100 if args.quick else 400)


if __name__ == "__main__":
    main()
