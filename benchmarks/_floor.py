"""This machine's floor, measured in the calling process: what the hardware does on the same shapes.

Every benchmark divides its time by a floor measured here, in the same run, so
that the ratio says how far a kernel is from what the memory and the BLAS can
do, and does not depend on how busy the (shared) machine was that day.

* ``read_seconds(X)``: one streaming read of X (a sum over it, chunk by chunk):
  the least any pass over the data costs.
* ``gemm_seconds(n, k, m)``: an (n, k) @ (k, m) product on row chunks, as an
  exact kernel does it (the flops of ``X H^{-1}``).
* ``syrk_seconds(n, k)``: ``A^T A`` for an (n, k) A on row chunks (BLAS dsyrk),
  the flops of a Gauss-Newton / Fisher matrix.

Each is the best of ``repeat`` runs; benchmarks interleave them with the
measured kernel so both see the same load.
"""

import time

import numpy as np
import scipy.linalg.blas as blas

CHUNK = 8192


def best_of(fn, repeat=3):
    """``(best seconds, last result)`` of ``repeat`` calls of ``fn()``."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def read_seconds(X, repeat=3, chunk=CHUNK):
    """One streaming read of X (n, d): the memory-bandwidth floor of a pass over it."""
    def once():
        s = 0.0
        for a in range(0, X.shape[0], chunk):
            s += float(X[a:a + chunk].sum())
        return s
    return best_of(once, repeat)[0]


def gemm_seconds(n, k, m, repeat=3, chunk=CHUNK, rng=None):
    """An (n, k) @ (k, m) product on row chunks (inputs resident in cache per chunk).

    The (chunk, k) block is reused for every chunk, so this is the arithmetic
    floor; add :func:`read_seconds` for the memory traffic of the real X.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    A = rng.standard_normal((min(chunk, n), k))
    B = np.asfortranarray(rng.standard_normal((k, m)))
    out = np.empty((A.shape[0], m))
    reps = -(-n // A.shape[0])
    def once():
        for _ in range(reps):
            np.matmul(A, B, out=out)
    return best_of(once, repeat)[0]


def syrk_seconds(n, k, repeat=3, chunk=CHUNK, rng=None):
    """``A^T A`` for an (n, k) A on row chunks, accumulated (BLAS dsyrk)."""
    rng = np.random.default_rng(0) if rng is None else rng
    A = np.asfortranarray(rng.standard_normal((min(chunk, n), k)))
    reps = -(-n // A.shape[0])
    def once():
        C = np.zeros((k, k), order="F")
        for _ in range(reps):
            C = blas.dsyrk(1.0, A, beta=1.0, c=C, trans=1, lower=1, overwrite_c=1)
        return C
    return best_of(once, repeat)[0]


def report(label, seconds, floor, goal=None):
    """Print ``label: seconds, floor, ratio`` (and whether a goal on the ratio is met)."""
    ratio = seconds / floor
    tail = "" if goal is None else f"   (goal <= {goal:g}: {'met' if ratio <= goal else 'MISSED'})"
    print(f"    {label}: {seconds:.3f} s, floor {floor:.3f} s, ratio {ratio:.2f}{tail}")
    return ratio
