"""Dense Hessian and Gauss-Newton matrix of a network's risk: closed-form blocks against the
previous assembly, in one process, interleaved.

Network: a tanh MLP 64-128-64-10 (p = 17161) on the first 1500 rows of
scikit-learn's digits (``--quick``: 64-16-8-10 on 300 rows), fitted by L-BFGS
with weight decay 1e-3 for ``--fit-iter`` iterations. How far the fit went does
not change the work of either assembly; it is printed for the record.

* Hessian. Old: the previous assembly, kept here: the gradient on the data is
  traced once and each row of H is one reverse pass through that trace (p
  passes). New: ``model.risk_on(X, y).hessian()``, layer blocks from per-row
  curvature of the pre-activations (localinf/models/mlp_hessian.py).
* Gauss-Newton. Old: the previous Fisher route for networks, kept here: the
  per-row gradients of the K log-probabilities, ``A^T A`` per row chunk. New:
  ``GaussNewton(risk).dense()``, the same blocks without second derivatives.

Floors (benchmarks/_floor.py, measured in this run):

* "block GEMMs": the matrix products the closed form does, each timed as a
  plain GEMM of the same shape: the new assembly's arithmetic floor;
* "p passes": p times the GEMMs of one forward and one backward pass over the
  data, the least that any assembly from p Hessian-vector (or vector-Jacobian)
  products must do (a forward-over-reverse product does about twice that).

Old and new alternate ``--repeat`` times; the best of each is printed with
their ratio and the largest difference relative to the largest entry.
"""

import argparse
import os
import sys
import time

import numpy as np
from autograd import grad, make_vjp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import localinf as li  # noqa: E402
from _floor import best_of, gemm_seconds, report  # noqa: E402
from localinf._core.chunks import row_chunks  # noqa: E402
from localinf.curvature.ggn import GaussNewton  # noqa: E402


def old_hessian(model, X, y, rows=1 << 15):
    """The previous assembly: per row chunk one trace of the gradient, one reverse pass per row of H."""
    theta, p = model.theta_, model.theta_.size
    H, e = np.zeros((p, p)), np.zeros(p)
    for sl in row_chunks(X.shape[0], rows):
        vjp, _ = make_vjp(grad(model.loss_sum_fn))(theta, X[sl], y[sl], None)
        for j in range(p):
            e[j] = 1.0
            H[j] += vjp(e)
            e[j] = 0.0
    H /= X.shape[0]
    H[np.diag_indices(p)] += 2.0 * model.l2 * model.penalty_mask
    return H


def old_fisher(model, X, entries=1 << 23):
    """The previous Gauss-Newton route: per-row gradients of log P (m, K, p), A^T A per chunk."""
    theta, p, K = model.theta_, model.theta_.size, model.n_classes_
    F = np.zeros((p, p))
    for sl in row_chunks(X.shape[0], max(1, entries // (K * p))):
        A = np.asarray(model.logp_grad_fn(theta, X[sl]))
        root = np.sqrt(np.exp(np.asarray(model.log_proba_fn(theta, X[sl]))))
        A = (A * root[:, :, None]).reshape(-1, p)
        F += A.T @ A
    F /= X.shape[0]
    F[np.diag_indices(p)] += 2.0 * model.l2 * model.penalty_mask
    return F


def block_gemms(sizes, n, gauss_newton):
    """``(rows, n, cols)`` of each product the closed form does, as mlp_curvature does them."""
    ins = [a + 1 for a in sizes[:-1]]
    units = list(sizes[1:])
    out = []
    for l in range(len(units)):
        for m in range(l, len(units)):
            pairs = ins[l] * (ins[l] + 1) // 2 if l == m else ins[l] * ins[m]
            out.append((pairs, n, units[l] * units[m]))
            if not gauss_newton and m >= l + 2:
                out.append((ins[l] * units[m], n, units[l] * units[m - 1]))
    return out


def pass_seconds(sizes, n, loops=20, repeat=5):
    """One forward and one backward pass's GEMMs (per layer: forward, input and weight
    gradients), timed over ``loops`` passes (small products: one alone is too short to time)."""
    rng = np.random.default_rng(0)
    pairs = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        pairs += [(rng.standard_normal((n, a + 1)), rng.standard_normal((a + 1, b))),
                  (rng.standard_normal((n, b)), rng.standard_normal((b, a))),
                  (rng.standard_normal((n, a + 1)).T, rng.standard_normal((n, b)))]

    def passes():
        for _ in range(loops):
            for A, B in pairs:
                A @ B
    return best_of(passes, repeat)[0] / loops


def floor_of(shapes, repeat):
    return sum(gemm_seconds(r, k, c, repeat=repeat) for r, k, c in shapes)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def rel(A, B):
    return float(np.max(np.abs(A - B)) / np.max(np.abs(B)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a small network on 300 rows")
    ap.add_argument("--repeat", type=int, default=None, help="old/new alternations (default 1, quick 3)")
    ap.add_argument("--fit-iter", type=int, default=None, help="L-BFGS iterations (default 200, quick 100)")
    ap.add_argument("--parts", default="hessian,ggn")
    args = ap.parse_args()
    repeat = args.repeat or (3 if args.quick else 1)
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    n = 300 if args.quick else 1500
    X, y = X[:n] / 16.0, y[:n]
    hidden = (16, 8) if args.quick else (128, 64)
    t_fit, model = timed(lambda: li.fit_mlp(
        X, y, hidden=hidden, activation="tanh", l2=1e-3, tol=1e-9, finish="none",
        maxiter=args.fit_iter or (100 if args.quick else 200), newton_polish=False))
    sizes, p = model.layer_sizes_, model.theta_.size
    print(f"digits, tanh MLP {'-'.join(map(str, sizes[:-1]))}-{sizes[-1] + 1}, n={n}, p={p}: fit "
          f"{t_fit:.0f} s ({model.n_iter_} L-BFGS iterations, max|grad R| {model.grad_norm_:.1e})",
          flush=True)
    risk = model.risk_on(X, y)
    passes = p * pass_seconds(sizes, n)
    runs = {"hessian": (lambda: old_hessian(model, X, y), risk.hessian, False),
            "ggn": (lambda: old_fisher(model, X), lambda: GaussNewton(risk).dense(), True)}
    for part in args.parts.split(","):
        old_fn, new_fn, gn = runs[part]
        t_old, t_new = [], []
        for _ in range(repeat):  # alternated, so load from other processes hits both alike
            t, old = timed(old_fn)
            t_old.append(t)
            t, new = timed(new_fn)
            t_new.append(t)
        err = rel(new, old)
        del old, new
        floor = floor_of(block_gemms(sizes, n, gn), 3)
        print(f"[{part}] old {min(t_old):.2f} s, new {min(t_new):.2f} s (best of {repeat}): "
              f"speed-up {min(t_old) / min(t_new):.1f}x; max |new - old| / max |old| {err:.1e}")
        report("new over its block GEMMs", min(t_new), floor)
        report("new over p passes", min(t_new), passes)
        report("old over p passes", min(t_old), passes)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
