"""Whole-network influence of a ReLU network: time, memory and agreement by route.

A ReLU network has no Hessian at its kinks, and Adam leaves it short of a
minimiser, so the exact influence formulas do not apply to it as a whole.
localinf offers three ways around that, compared here on scikit-learn's
digits (features standardised on the training split; a seeded split of 1200
training and 597 validation rows):

* the last layer alone (``li.last_layer(net)``): after ``fit_mlp(...,
  activation="relu")`` (Adam, then ``finish="last_layer"``) the last layer is
  at the exact minimiser of the risk with the hidden layers frozen, so the
  restricted formulas are exact;
* the whole network with every H^-1 replaced by ``(G + lambda I)^-1``, G the
  generalised Gauss-Newton matrix of the penalised risk
  (``curvature="ggn", at_minimiser=False``), solved densely (Cholesky: the
  REFERENCE every other route is compared with), by conjugate gradients on
  matrix-free G-products, or by CG preconditioned with K-FAC;
* K-FAC in place of G (``curvature="kfac", at_minimiser=False``), alone and
  with the one validation solve u = (G + lambda I)^-1 gbar_V done by CG on G
  (``query_curvature="ggn"``), the mix docs/curvature.md recommends for tanh
  networks.

For FI_util on the validation set it prints, per route and damping lambda:
time (set-up, the validation solve with IV, the per-row pass), as a ratio to
the dense reference's time and in units of a GEMM of the same size measured
in this process (so that numbers from different machines can be compared);
peak memory traced by tracemalloc in a separate pass over the first rows; and
agreement with the reference: Spearman correlation and top-k overlap (the
share of the reference's k largest rows among the route's k largest) for
k = 10, 50, 1 % and 5 % of n, and max|FI - FI_ref| / max FI_ref. CG solves
each of FI's n (K - 1) metric right-hand sides separately (hundreds of
G-products each), so the CG routes score only a few rows (``--cg-rows``);
their FI_util time is extrapolated to all n and their agreement is on those
rows only (Spearman and overlaps need all of them: ``--cg-rows 0`` scores
every row, which takes hours). IV, which needs the one validation solve only, is
compared on all rows for every route.

Last, a smooth (softplus) network of the same depth, fitted to its exact
minimiser (``finish="minimiser"``), where both the exact Hessian and G exist:
FI_util and IV with G against the same with H (reported, not asserted).

Nothing here asserts a time. ``--quick`` runs tiny sizes (the digits 0, 1 and
2 only, 150 training rows) in about 20 s (used by
validation/test_check_bench_relu.py). The default run takes about two
minutes on one core (``OPENBLAS_NUM_THREADS=1``; ``--threads`` sets BLAS
threads here).
"""

import argparse
import resource
import sys
import time
import tracemalloc
import warnings

import numpy as np
from scipy.stats import spearmanr

import localinf as li

SIZES = {
    "default": dict(n_train=1200, n_val=597, hidden=(32, 32), epochs=60, batch_size=64,
                    learning_rate=1e-3, cg_rows=1, mem_rows=250, smooth_hidden=(16, 16),
                    smooth_n=1200, gemm_rows=2048, dampings=(0.0, 1e-3), classes=10),
    # quick: the digits 0, 1 and 2 only (K = 3), so that CG's per-row solves stay few
    "quick": dict(n_train=150, n_val=80, hidden=(8, 8), epochs=20, batch_size=32,
                  learning_rate=3e-3, cg_rows=1, mem_rows=40, smooth_hidden=(4,), smooth_n=150,
                  gemm_rows=256, dampings=(0.0, 1e-3), classes=3),
}
L2 = 1e-3


def digits(n_train, n_val, classes=10, seed=0):
    """A seeded split of scikit-learn's digits, standardised by the training rows.

    Pixels that are constant on the training rows keep scale 1 (they stay 0).

    Parameters
    ----------
    n_train, n_val : int
    classes : int, default 10
        Keep the digits 0 .. classes - 1 only.
    seed : int, default 0

    Returns
    -------
    X, y, X_val, y_val : ndarray
    """
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X, y = X[y < classes], y[y < classes]
    order = np.random.default_rng(seed).permutation(len(y))
    tr, va = order[:n_train], order[n_train:n_train + n_val]
    mu, sd = X[tr].mean(0), X[tr].std(0)
    sd[sd == 0] = 1.0
    X = (X - mu) / sd
    return X[tr], y[tr], X[va], y[va]


def gemm_floor(p, rows, repeats=3):
    """The machine's floor: the best time of ``A^T A`` for A (rows, p), and its GFLOP/s.

    This is the kernel that forms the dense GGN (with rows = n K), so route
    times divided by it are comparable across machines.
    """
    A = np.random.default_rng(0).standard_normal((rows, p))
    A.T @ A  # warm-up
    best = min(timed(lambda: A.T @ A)[0] for _ in range(repeats))
    return best, 2.0 * rows * p * p / best / 1e9


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def top_overlap(f, ref, k):
    """Share of the k largest entries of ``ref`` that are among the k largest of ``f``."""
    k = max(1, min(int(k), f.size))
    return len(set(np.argsort(f)[-k:]) & set(np.argsort(ref)[-k:])) / k


def agreement(f, ref, ks):
    """Spearman correlation, top-k overlaps and max|f - ref| / max|ref|."""
    f, ref = np.asarray(f, float), np.asarray(ref, float)
    rho = float(spearmanr(f, ref).correlation) if f.size > 2 else float("nan")
    return {"spearman": rho, "overlap": {k: top_overlap(f, ref, k) for k in ks},
            "max_rel": float(np.max(np.abs(f - ref)) / np.max(np.abs(ref)))}


def quiet(fn):
    """Run ``fn`` with ApproximateFitWarning filtered: at_minimiser=False is the point here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", li.ApproximateFitWarning)
        return fn()


def routes(damping):
    """(name, model transform, LocalInfluence keywords, scores all rows) for one damping."""
    ggn = lambda **o: dict(curvature="ggn", at_minimiser=False,
                           curvature_options=dict(damping=damping, **o))
    whole = lambda net: net
    return [
        ("GGN dense (reference)", whole, ggn(solver="dense"), True),
        ("GGN CG", whole, ggn(solver="cg"), False),
        ("GGN CG + K-FAC precond.", whole, ggn(solver="cg", preconditioner="kfac"), False),
        ("K-FAC", whole, dict(curvature="kfac", at_minimiser=False,
                              curvature_options={"damping": damping}), True),
        ("K-FAC, u by GGN CG", whole, dict(curvature="kfac", at_minimiser=False,
                                           curvature_options={"damping": damping},
                                           query_curvature="ggn",
                                           query_curvature_options={"damping": damping,
                                                                    "solver": "cg"}), True),
    ]


LAST_LAYER = ("last layer (exact)", li.last_layer, {}, True)


def run_route(route, net, X, y, Xv, yv, cg_rows):
    """Time one route: set-up, the validation solve with IV, and FI_util.

    Returns
    -------
    dict
        ``setup``, ``solve_iv``, ``fi`` (seconds; for a route scored on a subset,
        the per-row time extrapolated to every row), ``rows`` (the rows scored,
        None for all), ``fi_values``, ``iv``, ``n_hvp`` (CG routes) and ``inf``.
    """
    name, transform, kw, all_rows = route
    t_setup, inf = timed(lambda: quiet(lambda: li.LocalInfluence(transform(net), X, y, **kw)))
    bound = inf.against(Xv, yv)
    t_iv, iv = timed(bound.influence_value)  # the solve u = C^-1 gbar_V, then n dot products
    rows = None if all_rows or cg_rows <= 0 else np.arange(min(cg_rows, len(y)))
    t_fi, fi = timed(lambda: bound.fi_util(rows=rows))
    if rows is not None:
        t_fi *= len(y) / rows.size
    ops = (inf.H_inv_, inf.H_inv_query_)
    n_hvp = sum(getattr(op, "n_hvp", 0) for op in {id(o): o for o in ops}.values())
    return {"setup": t_setup, "solve_iv": t_iv, "fi": t_fi, "rows": rows, "fi_values": fi,
            "iv": iv, "n_hvp": n_hvp, "inf": inf}


def peak_memory(route, net, X, y, Xv, yv, rows):
    """tracemalloc's peak (MiB) over set-up, the validation solve and FI_util on ``rows``
    (``rows`` empty: set-up and the validation solve only)."""
    name, transform, kw, _ = route
    tracemalloc.start()
    try:
        inf = quiet(lambda: li.LocalInfluence(transform(net), X, y, **kw))
        bound = inf.against(Xv, yv)
        bound.influence_value()
        if rows.size:
            bound.fi_util(rows=rows)
        return tracemalloc.get_traced_memory()[1] / 2 ** 20
    finally:
        tracemalloc.stop()


def fmt_overlaps(ov, ks):
    return " ".join(f"{ov[k]:.2f}" for k in ks)


def relu_part(S, ks_of):
    X, y, Xv, yv = digits(S["n_train"], S["n_val"], S["classes"])
    t_fit, net = timed(lambda: li.fit_mlp(X, y, hidden=S["hidden"], activation="relu", l2=L2,
                                          epochs=S["epochs"], batch_size=S["batch_size"],
                                          learning_rate=S["learning_rate"], seed=0))
    p, n, K = net.theta_.size, len(y), net.n_classes_
    ks = ks_of(n)
    g_last = float(np.max(np.abs(li.last_layer(net).risk_on(X, y).grad())))
    acc = float(np.mean(net.predict(Xv) == yv))
    t_gemm, gflops = gemm_floor(p, S["gemm_rows"])
    print(f"machine floor: A^T A with A ({S['gemm_rows']}, {p}) in {t_gemm * 1e3:.1f} ms = "
          f"{gflops:.1f} GFLOP/s (best of 3); 1 'GEMM unit' below = this time")
    sizes = "-".join(map(str, (X.shape[1], *S["hidden"], K)))
    print(f"[1] digits, ReLU MLP {sizes} (p = {p}), n = {n} training / {len(yv)} validation rows, "
          f"l2 = {L2:g}")
    print(f"    fit_mlp: method={net.method_}, finish={net.finish_}, {S['epochs']} epochs "
          f"(batch {S['batch_size']}, learning rate {S['learning_rate']:g}), {t_fit:.1f} s; "
          f"validation accuracy {acc:.3f}; max|grad R| whole network {net.grad_norm_:.1e}, "
          f"last layer {g_last:.1e}")
    ev = np.linalg.eigvalsh(li.GaussNewton(net.risk_on(X, y)).dense())
    print(f"    G (penalty included): eigenvalues {ev[0]:.2e} .. {ev[-1]:.2e} (2 l2 = {2 * L2:g}); "
          f"cond {ev[-1] / ev[0]:.0f}")
    print(f"    agreement with the reference, FI_util: Spearman, top-k overlap (share) for k = "
          f"{', '.join(map(str, ks))} (10, 50, 1 % and 5 % of n = {n}), max|diff|/max|ref|; IV: "
          "Spearman, max|diff|/max|ref|")
    out = {"p": p, "n": n, "acc": acc, "grad_norm": net.grad_norm_, "grad_last": g_last,
           "gemm_s": t_gemm, "gflops": gflops, "ks": ks, "runs": {}}
    last = run_route(LAST_LAYER, net, X, y, Xv, yv, S["cg_rows"])
    for lam in S["dampings"]:
        print(f"    damping lambda = {lam:g}:")
        runs = {}
        for route in routes(lam) + [LAST_LAYER]:
            runs[route[0]] = last if route is LAST_LAYER else run_route(route, net, X, y, Xv, yv,
                                                                        S["cg_rows"])
        ref = runs["GGN dense (reference)"]
        t_ref = ref["setup"] + ref["solve_iv"] + ref["fi"]
        for name, r in runs.items():
            total = r["setup"] + r["solve_iv"] + r["fi"]
            base = ref["fi_values"] if r["rows"] is None else ref["fi_values"][r["rows"]]
            a = agreement(r["fi_values"], base, ks)
            a["iv_spearman"] = float(spearmanr(r["iv"], ref["iv"]).correlation)
            a["iv_max_rel"] = float(np.max(np.abs(r["iv"] - ref["iv"])) / np.max(np.abs(ref["iv"])))
            r.update(total=total, ratio=total / t_ref, agreement=a)
            scope = "" if r["rows"] is None else f" (FI on {r['rows'].size} rows, time x {n}/{r['rows'].size})"
            hvp = f", {r['n_hvp']} G-products" if r["n_hvp"] else ""
            print(f"      {name:24s} setup {r['setup']:6.2f} s  u+IV {r['solve_iv']:6.2f} s  "
                  f"FI_util {r['fi']:8.1f} s  total {total:8.1f} s = {total / t_ref:7.2f} x ref = "
                  f"{total / t_gemm:8.0f} GEMM units{hvp}{scope}")
            if r["rows"] is None:
                agree = (f"Spearman {a['spearman']:.3f}, top-k {fmt_overlaps(a['overlap'], ks)}, "
                         f"max rel. diff {a['max_rel']:.1e}")
            else:
                agree = f"max rel. diff on its rows {a['max_rel']:.1e} (Spearman, top-k: need all rows)"
            print(f"      {'':24s} FI_util: {agree}; IV: Spearman {a['iv_spearman']:.3f}, "
                  f"max rel. diff {a['iv_max_rel']:.1e}")
        out["runs"][lam] = runs
    # Peak memory: damping does not change what is stored, so one damping; a separate pass,
    # since tracing slows autograd's many small allocations down.
    # The CG routes' per-row pass stores the same chunk arrays as the others' (their solves
    # add a few p-vectors), so for them the pass covers set-up and u only: tracing their
    # thousands of G-products would take minutes.
    rows = np.arange(min(S["mem_rows"], n))
    print(f"    peak traced memory (tracemalloc; set-up, u and IV, FI_util on the first {rows.size} "
          f"rows; CG routes: set-up, u and IV only; damping {S['dampings'][0]:g}); the dense G "
          f"alone is {p * p * 8 / 2 ** 20:.0f} MiB:")
    mem = {}
    for route in routes(S["dampings"][0]) + [LAST_LAYER]:
        r_rows = rows if route[3] else np.arange(0)
        mem[route[0]] = peak_memory(route, net, X, y, Xv, yv, r_rows)
    base = mem["GGN dense (reference)"]
    print("      " + "; ".join(f"{k} {v:.0f} MiB ({v / base:.2f} x ref)" for k, v in mem.items()))
    out["memory_mib"] = mem
    return out


def smooth_part(S, ks_of):
    """GGN-based influence against exact-Hessian influence at an exact minimiser."""
    X, y, Xv, yv = digits(S["smooth_n"], S["n_val"], S["classes"])
    t_fit, net = timed(lambda: li.fit_mlp(X, y, hidden=S["smooth_hidden"], activation="softplus",
                                          l2=L2, finish="minimiser", seed=0))
    p, n = net.theta_.size, len(y)
    ks = ks_of(n)
    sizes = "-".join(map(str, (X.shape[1], *S["smooth_hidden"], net.n_classes_)))
    print(f"[2] digits, softplus MLP {sizes} (p = {p}), n = {n}, at its exact minimiser: fit "
          f"{t_fit:.1f} s (method={net.method_}, finish={net.finish_}, max|grad R| "
          f"{net.grad_norm_:.1e}); validation accuracy {np.mean(net.predict(Xv) == yv):.3f}")
    t_ex, (ex, fi_ex, iv_ex) = timed(lambda: _scores(li.LocalInfluence(net, X, y), Xv, yv))
    t_gg, (gg, fi_gg, iv_gg) = timed(lambda: _scores(li.LocalInfluence(net, X, y, curvature="ggn"),
                                                      Xv, yv))
    H = ex.H_inv_.hessian
    G = li.GaussNewton(net.risk_on(X, y)).dense()
    dHG = float(np.linalg.norm(H - G, 2))
    lam_H, lam_G = np.linalg.eigvalsh(H), np.linalg.eigvalsh(G)
    gbar = ex.against(Xv, yv).gbar_
    uH, uG = np.linalg.solve(H, gbar), np.linalg.solve(G, gbar)
    du = float(np.linalg.norm(uG - uH) / np.linalg.norm(uH))
    a = agreement(fi_gg, fi_ex, ks)
    a["iv_spearman"] = float(spearmanr(iv_gg, iv_ex).correlation)
    a["iv_max_rel"] = float(np.max(np.abs(iv_gg - iv_ex)) / np.max(np.abs(iv_ex)))
    med = float(np.median(np.abs(fi_gg - fi_ex) / np.maximum(np.abs(fi_ex), 1e-300)))
    print(f"    ||H - G||_2 = {dHG:.2e}: {dHG / lam_H[-1]:.3f} of lambda_max(H) = {lam_H[-1]:.2e}, "
          f"{dHG / lam_H[0]:.1f} x lambda_min(H) = {lam_H[0]:.2e} (lambda_min(G) = {lam_G[0]:.2e}); "
          f"u = C^-1 gbar_V differs by {du:.2f} (relative); exact FI_util + IV {t_ex:.1f} s, "
          f"GGN {t_gg:.1f} s")
    print(f"    GGN against exact H, FI_util: Spearman {a['spearman']:.3f}, top-k (k = "
          f"{', '.join(map(str, ks))}) {fmt_overlaps(a['overlap'], ks)}, max rel. diff "
          f"{a['max_rel']:.2e}, median per-row rel. diff {med:.2e}; IV: Spearman "
          f"{a['iv_spearman']:.4f}, max rel. diff {a['iv_max_rel']:.2e}")
    a["median_rel"] = med
    return {"p": p, "n": n, "grad_norm": net.grad_norm_, "H_G_rel": dHG / lam_H[-1], "u_rel": du,
            "agreement": a}


def _scores(inf, Xv, yv):
    bound = inf.against(Xv, yv)
    return inf, bound.fi_util(), bound.influence_value()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes, seconds (checks the script runs)")
    ap.add_argument("--cg-rows", type=int, default=None,
                    help="training rows the CG routes score (0: all, hours; default 1)")
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (threadpoolctl)")
    ap.add_argument("--parts", default="relu,smooth")
    args = ap.parse_args(argv)
    S = dict(SIZES["quick" if args.quick else "default"])
    if args.cg_rows is not None:
        S["cg_rows"] = args.cg_rows
    # k = 10, 50, 1 % and 5 % of n, in that order (capped at n; repeats dropped)
    ks_of = lambda n: list(dict.fromkeys(min(k, n) for k in (10, 50, max(1, round(0.01 * n)),
                                                                max(1, round(0.05 * n)))))
    from threadpoolctl import threadpool_info, threadpool_limits
    limits = threadpool_limits(args.threads) if args.threads else None
    blas = ", ".join(f"{i['internal_api']} {i['num_threads']} thread(s)" for i in threadpool_info())
    print(f"bench_relu_digits{' --quick' if args.quick else ''}: {blas}")
    out, t0 = {}, time.perf_counter()
    try:
        if "relu" in args.parts:
            out["relu"] = relu_part(S, ks_of)
        if "smooth" in args.parts:
            out["smooth"] = smooth_part(S, ks_of)
    finally:
        if limits is not None:
            limits.restore_original_limits()
    print(f"total {time.perf_counter() - t0:.0f} s; peak RSS of the process "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB", flush=True)
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
