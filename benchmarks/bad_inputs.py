#!/usr/bin/env python
"""A catalogue of bad and extreme inputs to localinf's public API and its ``localinf`` CLI.

Every case feeds one bad or extreme input (NaN/inf/huge/tiny/complex/masked/object/
empty/mis-shaped arrays, reordered DataFrame columns, odd labels, bool/str/NaN/negative/
huge keyword values, separable data, degenerate designs, tampered checkpoints,
malformed CSV files, ...) to one public function, method or subcommand, and classifies
what happened into exactly one outcome:

``ok``            accepted and correct (where the case has an oracle), or finite output
``clear_error``   a :class:`localinf.exceptions.LocalInfluenceError` (CLI: exit status 2
                  and exactly one stderr line ``localinf: error: ...``, or argparse's
                  own usage error)
``traceback``     any other exception (CLI: another exit status, or exit 2 with more
                  stderr than one line)
``silent_nan``    returned normally, but the result (every float array, frame, dict
                  value; for the CLI the CSV files written and strict JSON on stdout)
                  holds NaN or inf
``wrong_answer``  returned finite results that fail the case's oracle (e.g. reordered
                  DataFrame columns must give the same FI_util or be refused; separable
                  data with a tiny penalty must give the FI_util of the true minimiser,
                  reached here by extra plain Newton steps, or be refused; ``l2=True``
                  must be refused; stray ``*.tmp`` files after a failure count here
                  with the reason "stray tmp")
``hang``          did not finish within ``--timeout`` seconds (default 60)
``memory``        MemoryError, or killed for memory (each case runs with an address-space
                  limit, ``--mem-gb``, default 3)

plus ``n/a`` (the function or keyword does not exist in the checkout under test; kept so
the case runs against later code) and ``harness_error`` (a bug of this script: an
exception outside the call under test; should be zero).

Each case runs in its own forked child (``multiprocessing`` with the 'fork' start method,
``--jobs`` at a time, default 2) after the parent imported localinf and built the small
fixtures once. CLI cases run ``python -c "from localinf.cli import main; ..."`` (what the
``localinf`` entry point does; ``python -m localinf.cli`` has no ``__main__``) with the
same interpreter and environment, in a scratch directory.

Usage::

    python benchmarks/bad_inputs.py [--timeout 60] [--only SUBSTRING] [--json PATH]
                                    [--jobs 2] [--mem-gb 3] [--list]

Against another checkout (for instance a frozen baseline), run it from a directory that
is not a checkout, with that checkout first on the path::

    cd /tmp && PYTHONPATH=/path/to/checkout python /path/to/bad_inputs.py --json before.json

The first line printed names the ``localinf`` that was imported; CLI subprocesses inherit
PYTHONPATH, so they test the same checkout. This script never adds a checkout to
``sys.path`` itself.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")

import argparse  # noqa: E402
import copy  # noqa: E402
import dataclasses  # noqa: E402
import glob  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing as mp  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from multiprocessing.connection import wait as mp_wait  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse  # noqa: E402
import scipy.sparse.linalg  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

import localinf as li  # noqa: E402
from localinf.exceptions import LocalInfluenceError  # noqa: E402

OUTCOMES = ("ok", "clear_error", "traceback", "silent_nan", "wrong_answer", "hang", "memory",
            "n/a", "harness_error")
NAN, INF = float("nan"), float("inf")

# --------------------------------------------------------------------------------------
# Signals from a case to the harness
# --------------------------------------------------------------------------------------


class Outcome(Exception):
    """Raised (or returned) by a case to state its outcome directly."""

    def __init__(self, outcome, reason="", detail=""):
        super().__init__(reason)
        assert outcome in OUTCOMES, outcome
        self.outcome, self.reason, self.detail = outcome, reason, detail


def wrong(reason):
    raise Outcome("wrong_answer", reason)


def na(reason):
    raise Outcome("n/a", reason)


def silent_nan(reason):
    raise Outcome("silent_nan", reason)


class Raised(Exception):
    """An exception raised by the call under test (as opposed to by this script)."""

    def __init__(self, exc, tb):
        super().__init__(str(exc))
        self.exc, self.tb = exc, tb


def T(fn, *args, **kw):
    """Run the call under test: its exceptions are classified, the harness's are not."""
    try:
        return fn(*args, **kw)
    except (Outcome, Raised):
        raise
    except BaseException as exc:  # noqa: BLE001 - every failure of the library is data here
        raise Raised(exc, traceback.format_exc()) from None


def accepts(fn, name):
    """Whether ``fn`` takes keyword ``name`` (True when it takes **kwargs or has no signature)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return True
    return name in sig.parameters


def KW(fn, *args, **kw):
    """``T(fn, ...)``, or n/a when ``fn`` has no such keyword in this checkout."""
    missing = [k for k in kw if not accepts(fn, k)]
    if missing:
        na(f"{getattr(fn, '__qualname__', fn)} has no keyword {', '.join(missing)}")
    return T(fn, *args, **kw)


def need(obj, name):
    """``getattr(obj, name)`` or n/a."""
    if not hasattr(obj, name):
        na(f"{getattr(obj, '__name__', type(obj).__name__)} has no attribute {name}")
    return getattr(obj, name)


def lib(name):
    """A public name of localinf, or n/a."""
    return need(li, name)


# --------------------------------------------------------------------------------------
# Scanning results for NaN/inf and comparing them
# --------------------------------------------------------------------------------------

_SKIP_KEYS = ("seconds", "seconds_fi", "seconds_forest", "error")


def nonfinite(obj, where="result", depth=0):
    """Description of the first NaN/inf found in ``obj`` (arrays, frames, dicts, ...), or None."""
    if depth > 5 or obj is None or isinstance(obj, (str, bytes, bool, np.bool_)):
        return None
    if isinstance(obj, (int, np.integer)):
        return None
    if isinstance(obj, (float, np.floating, complex, np.complexfloating)):
        return None if np.isfinite(obj) else f"{where} = {obj}"
    if isinstance(obj, np.ma.MaskedArray):
        obj = obj.compressed()
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc":
            bad = ~np.isfinite(obj)
            if bad.any():
                return f"{where}: {int(bad.sum())} of {obj.size} entries non-finite"
        elif obj.dtype == object:
            for k, v in enumerate(obj.ravel()[:200]):
                r = nonfinite(v, f"{where}[{k}]", depth + 1)
                if r:
                    return r
        return None
    if isinstance(obj, pd.DataFrame):
        for c in obj.columns:
            if str(c) in _SKIP_KEYS:
                continue
            r = nonfinite(obj[c], f"{where}[{c!r}]", depth + 1)
            if r:
                return r
        return None
    if isinstance(obj, pd.Series):
        if pd.api.types.is_numeric_dtype(obj.dtype) and not pd.api.types.is_bool_dtype(obj.dtype):
            a = obj.to_numpy(dtype=float, na_value=np.nan)
            bad = ~np.isfinite(a)
            if bad.any():
                return f"{where}: {int(bad.sum())} of {a.size} entries non-finite"
        return None
    if isinstance(obj, dict):
        for k, v in obj.items():
            if str(k) in _SKIP_KEYS:
                continue
            r = nonfinite(v, f"{where}[{k!r}]", depth + 1)
            if r:
                return r
        return None
    if isinstance(obj, (list, tuple)):
        for k, v in enumerate(obj[:200]):
            r = nonfinite(v, f"{where}[{k}]", depth + 1)
            if r:
                return r
        return None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            r = nonfinite(getattr(obj, f.name), f"{where}.{f.name}", depth + 1)
            if r:
                return r
        return None
    if hasattr(obj, "theta_"):
        return nonfinite(np.asarray(getattr(obj, "theta_"), dtype=float), f"{where}.theta_", depth + 1)
    return None


def assert_finite(obj, where="result"):
    r = nonfinite(obj, where)
    if r:
        silent_nan(r)
    return obj


def numeric_parts(obj):
    """Flatten a result into a list of float arrays for comparison."""
    if obj is None:
        return []
    if isinstance(obj, (bool, np.bool_, int, float, np.integer, np.floating)):
        return [np.asarray([obj], dtype=float)]
    if isinstance(obj, np.ma.MaskedArray):
        return [np.asarray(obj.filled(np.nan), dtype=float)]
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "biuf":
            return [obj.astype(float)]
        if obj.dtype.kind == "c":
            return [obj.real.astype(float), obj.imag.astype(float)]
        return []
    if isinstance(obj, pd.DataFrame):
        return [obj[c].to_numpy(dtype=float) for c in obj.columns
                if str(c) not in _SKIP_KEYS and pd.api.types.is_numeric_dtype(obj[c].dtype)]
    if isinstance(obj, pd.Series):
        return [obj.to_numpy(dtype=float)] if pd.api.types.is_numeric_dtype(obj.dtype) else []
    if isinstance(obj, dict):
        return [a for k, v in obj.items() if str(k) not in _SKIP_KEYS for a in numeric_parts(v)]
    if isinstance(obj, (list, tuple)):
        return [a for v in obj for a in numeric_parts(v)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [a for f in dataclasses.fields(obj) for a in numeric_parts(getattr(obj, f.name))]
    if hasattr(obj, "theta_"):
        return [np.asarray(obj.theta_, dtype=float)]
    return []


def differs(a, b, rtol=1e-8):
    """None when a and b agree to rtol (relative to the largest magnitude), else a reason."""
    A, B = numeric_parts(a), numeric_parts(b)
    if len(A) != len(B):
        return f"{len(A)} numeric parts vs {len(B)}"
    for x, y in zip(A, B):
        if x.shape != y.shape:
            return f"shape {x.shape} vs {y.shape}"
        if x.size == 0:
            continue
        fx, fy = np.isfinite(x), np.isfinite(y)
        if not np.array_equal(fx, fy):
            return "non-finite entries differ"
        if not fx.any():
            continue
        scale = max(float(np.max(np.abs(y[fy]))), float(np.max(np.abs(x[fx]))), 1e-300)
        err = float(np.max(np.abs(x[fx] - y[fy]))) / scale
        if err > rtol:
            return f"max rel. difference {err:.1e}"
    return None


def same(a, b, what, rtol=1e-8):
    r = differs(a, b, rtol)
    if r:
        wrong(f"{what}: {r}")


# --------------------------------------------------------------------------------------
# Fixtures (built once in the parent, shared with the forked children)
# --------------------------------------------------------------------------------------

COLS = ["a", "b", "c", "d", "e"]


def make_problem(seed, n, d, K, signal_=1.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, K)) * signal_
    Z = X @ W
    Z -= Z.max(axis=1, keepdims=True)
    P = np.exp(Z)
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    y[:K] = np.arange(K)
    return X, y


class Fixtures:
    pass


def build_fixtures():
    f = Fixtures()
    X, y = make_problem(1, 160, 3, 2)
    f.XB, f.yB, f.XBv, f.yBv = X[:120], y[:120], X[120:], y[120:]
    f.yBv[:2] = [0, 1]
    X, y = make_problem(3, 200, 3, 3)
    f.XM, f.yM, f.XMv, f.yMv = X[:150], y[:150], X[150:], y[150:]
    f.yMv[:3] = [0, 1, 2]
    f.dfB = pd.DataFrame(f.XB, columns=COLS[:3])
    f.dfBv = pd.DataFrame(f.XBv, columns=COLS[:3])
    f.MB = li.LogisticRegression(l2=1e-3).fit(f.XB, f.yB)
    f.MBdf = li.LogisticRegression(l2=1e-3).fit(f.dfB, f.yB)
    f.MM = li.SoftmaxRegression(l2=1e-3).fit(f.XM, f.yM)
    f.LIB = li.LocalInfluence(f.MB, f.dfB, f.yB)
    f.LIM = li.LocalInfluence(f.MM, f.XM, f.yM)
    f.LIBag = li.LocalInfluence(f.MB, f.XB, f.yB, backend="autograd")
    f.fitB = lambda X, y: li.LogisticRegression(l2=1e-2).fit(X, y)
    f.fitM = lambda X, y: li.SoftmaxRegression(l2=1e-2).fit(X, y)
    # warm the caches the children would otherwise each fill
    f.LIB.fi_util(f.XBv, f.yBv)
    f.scoresB = np.asarray(f.LIB.fi_util(f.XBv, f.yBv))
    return f


FX = None
BASE = None          # scratch directory of this run (CLI data, checkpoints)
TIMEOUT = 60.0
DEADLINE = None      # set in the child: the case's own deadline (monotonic clock)

# --------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------

CASES = {}


def case(name, fn):
    assert name not in CASES, name
    CASES[name] = fn


def scratch(tag="case"):
    return tempfile.mkdtemp(prefix=re.sub(r"[^A-Za-z0-9_.-]", "_", tag)[:40] + "-", dir=BASE)


# --------------------------------------------------------------------------------------
# Operations that take (X, y), and the bad X / y variants applied to each
# --------------------------------------------------------------------------------------


class Op:
    """A public call taking one X (and maybe one y) that the variants replace.

    fit: the call fits a model on X (a different number of columns is then a valid
    other problem, not an error). empty: expectation for X with zero rows.
    """

    def __init__(self, family, name, X, y, run, *, K=2, fit=False, empty="refuse", y_variants=True,
                 x_variants=True):
        self.family, self.name, self.X, self.y, self.run = family, name, X, y, run
        self.K, self.fit, self.empty = K, fit, empty
        self.y_variants = y_variants and y is not None
        self.x_variants = x_variants


def x_variants(op):
    X, y = op.X, op.y
    n, d = X.shape
    cols = COLS[:d]
    V = {}

    def put(name, Xb, expect, yb=None, garbage=None):
        V[name] = (Xb, (y if yb is None else yb), expect, garbage)

    for label, val in (("nan", NAN), ("inf", INF), ("-inf", -INF)):
        B = X.copy()
        B[1, 1] = val
        put(label, B, "refuse")
    put("all*1e155", X * 1e155, "run")
    put("all*1e300", X * 1e300, "run")
    B = X.copy()
    B[0, 0] = 1.7e308
    put("one_entry=1.7e308", B, "run")
    put("all*1e-300", X * 1e-300, "run")
    put("all*1e-315(subnormal)", X * 1e-315, "run")
    put("complex", X + 0.5j, "refuse")
    put("complex_zero_imag", X.astype(complex), "same")
    m = np.ma.masked_array(X.copy(), mask=np.zeros(X.shape, bool))
    m.data[1, 1] = 1e6
    m.mask[1, 1] = True
    put("masked_array", m, "masked", garbage=np.array(m.data))
    put("object_floats", X.astype(object), "same")
    o = X.astype(object)
    o[1, 1] = "a"
    put("object_with_str", o, "refuse")
    put("str_numbers", X.astype(str), "same")
    put("bool", X > 0, "run")
    put("float32", X.astype(np.float32), "run")
    put("list_of_lists", X.tolist(), "same")
    put("ragged_lists", [list(r) for r in X[:-1]] + [list(X[-1, :-1])], "refuse")
    put("fortran_order", np.asfortranarray(X), "same")
    wide = np.zeros((n, 2 * d))
    wide[:, ::2] = X
    put("strided_view", wide[:, ::2], "same")
    ro = X.copy()
    ro.flags.writeable = False
    put("read_only", ro, "same")
    put("zero_rows", X[:0], op.empty, yb=None if y is None else y[:0])
    put("zero_columns", X[:, :0], "refuse")
    put("1-D", X[:, 0], "refuse")
    put("3-D", X[:, :, None], "refuse")
    put("fewer_columns", X[:, :-1], "run" if op.fit else "refuse")
    put("extra_column", np.c_[X, np.ones(n)], "run" if op.fit else "refuse")
    if y is not None:
        put("fewer_rows_than_y", X[:-1], "refuse")
    put("scalar", 5.0, "refuse")
    put("None", None, "refuse")
    put("string", "X.csv", "refuse")
    put("sparse_csr", scipy.sparse.csr_matrix(X), "same")
    df = pd.DataFrame(X, columns=cols)
    put("DataFrame", df, "same")
    put("DataFrame_reordered_columns", df[cols[::-1]], "run" if op.fit else "same")
    put("DataFrame_extra_column", df.assign(zz=1.0), "run" if op.fit else "same")
    put("DataFrame_missing_column", df[cols[:-1]], "run" if op.fit else "refuse")
    s = df.astype(object)
    s.iloc[1, 0] = "x"
    put("DataFrame_str_cell", s, "refuse")
    nn = df.astype("Float64")
    nn.iloc[1, 1] = pd.NA
    put("DataFrame_nullable_NA", nn, "refuse")
    put("DataFrame_nullable_Float64", df.astype("Float64"), "same")
    put("DataFrame_int_column_names", pd.DataFrame(X), "same")
    put("DataFrame_duplicate_column_names", pd.DataFrame(X, columns=[cols[0]] * d), "same")
    return V


def y_variants(op):
    X, y, K = op.X, op.y, op.K
    n = len(y)
    V = {}

    def put(name, yb, expect, garbage=None):
        V[name] = (X, yb, expect, garbage)

    put("labels+1", y + 1, "refuse")
    put("labels*1e6", y * 10**6, "refuse")
    put("labels*3e8", y * 3 * 10**8, "refuse")
    put("labels*2**62", y.astype(np.int64) * 2**62, "refuse")
    put("float_labels", y.astype(float), "same")
    put("labels+0.5", y + 0.5, "refuse")
    if K == 2:
        put("bool_labels", y.astype(bool), "same")
    put("str_digit_labels", y.astype(str), "same")
    put("str_word_labels", np.array(["ant", "bee", "cat", "dog"])[y], "run" if op.fit else "refuse")
    for label, val in (("nan_label", NAN), ("inf_label", INF)):
        b = y.astype(float)
        b[1] = val
        put(label, b, "refuse")
    b = y.copy()
    b[1] = -1
    put("negative_label", b, "refuse")
    put("single_class", np.zeros_like(y), "refuse" if op.fit else "run")
    put("length_n-1", y[:-1], "refuse")
    put("length_1", y[:1], "refuse")
    put("empty", y[:0], "refuse")
    put("two_columns", np.c_[y, y], "refuse")
    put("column_vector", y[:, None], "same")
    put("object_ints", y.astype(object), "same")
    put("list", y.tolist(), "same")
    put("complex_zero_imag", y + 0j, "same")
    put("complex", y + 0.5j, "refuse")
    m = np.ma.masked_array(y.copy(), mask=np.zeros(n, bool))
    m.data[1] = (y[1] + 1) % K
    m.mask[1] = True
    put("masked_array", m, "masked", garbage=np.array(m.data))
    put("uint64", y.astype(np.uint64), "same")
    put("int8", y.astype(np.int8), "same")
    put("pandas_Categorical", pd.Categorical(y), "same")
    na_ = pd.array(y, dtype="Int64")
    na_[1] = pd.NA
    put("pandas_Int64_with_NA", na_, "refuse")
    return V


def run_variant(op, Xb, yb, expect, garbage):
    call = (lambda: op.run(Xb, yb)) if op.y is not None else (lambda: op.run(Xb, None))
    res = T(call)
    assert_finite(res)
    if expect == "refuse":
        wrong("accepted (should be refused)")
    if expect == "same":
        ref = T(op.run, op.X, op.y)
        same(res, ref, "differs from the clean input")
    if expect == "masked":
        gX = garbage if garbage is not None and Xb is not op.X else op.X
        gy = garbage if garbage is not None and Xb is op.X else op.y
        try:
            ref = op.run(gX, gy)
        except Exception:  # noqa: BLE001 - the unmasked data are refused: the mask was not ignored
            return res
        if differs(res, ref, 1e-10) is None:
            wrong("mask ignored: the masked entry was used as data")
    return res


def register_ops(ops):
    for op in ops:
        if op.x_variants:
            for vname, (Xb, yb, expect, garbage) in x_variants(op).items():
                case(f"{op.family}/{op.name}[X:{vname}]",
                     lambda op=op, Xb=Xb, yb=yb, e=expect, g=garbage: run_variant(op, Xb, yb, e, g))
        if op.y_variants:
            for vname, (Xb, yb, expect, garbage) in y_variants(op).items():
                case(f"{op.family}/{op.name}[y:{vname}]",
                     lambda op=op, Xb=Xb, yb=yb, e=expect, g=garbage: run_variant(op, Xb, yb, e, g))


def build_ops(f):
    LR, SR, LI = li.LogisticRegression, li.SoftmaxRegression, li.LocalInfluence
    skl = None
    try:
        from sklearn.linear_model import LogisticRegression as SkLR
        skl = SkLR(C=10.0, tol=1e-10, max_iter=10_000).fit(f.XB, f.yB)
    except Exception:  # noqa: BLE001
        pass
    f.skl = skl
    ops = [
        Op("fit", "LogisticRegression.fit", f.XB, f.yB, lambda X, y: LR(l2=1e-3).fit(X, y), fit=True),
        Op("fit", "SoftmaxRegression.fit", f.XM, f.yM, lambda X, y: SR(l2=1e-3).fit(X, y), K=3, fit=True),
        Op("fit", "fit_mlp", f.XB[:60], f.yB[:60],
           lambda X, y: lib("fit_mlp")(X, y, hidden=(3,), l2=1e-2), fit=True),
        Op("influence", "LocalInfluence(X,y)", f.XB, f.yB,
           lambda X, y: LI(f.MB, X, y).fi_util(f.XBv, f.yBv)),
        Op("influence", "LocalInfluence(X,y,backend=autograd)", f.XB, f.yB,
           lambda X, y: LI(f.MB, X, y, backend="autograd").fi_util(f.XBv, f.yBv)),
        Op("predict", "LogisticRegression.predict_proba", f.XBv, None,
           lambda X, y: f.MBdf.predict_proba(X), empty="run"),
        Op("predict", "SoftmaxRegression.predict_proba", f.XMv, None,
           lambda X, y: f.MM.predict_proba(X), K=3, empty="run"),
        Op("predict", "LogisticRegression.predict", f.XBv, None, lambda X, y: f.MBdf.predict(X), empty="run"),
        Op("predict", "LogisticRegression.score", f.XBv, f.yBv, lambda X, y: f.MBdf.score(X, y)),
        Op("predict", "SoftmaxRegression.score", f.XMv, f.yMv, lambda X, y: f.MM.score(X, y), K=3),
        Op("predict", "LogisticRegression.loss", f.XBv, f.yBv, lambda X, y: f.MBdf.loss(X, y), empty="run"),
        Op("predict", "LogisticRegression.risk", f.XBv, f.yBv, lambda X, y: f.MBdf.risk(X, y)),
        Op("measure", "fi_util", f.XBv, f.yBv, lambda X, y: f.LIB.fi_util(X, y)),
        Op("measure", "fi_util[softmax]", f.XMv, f.yMv, lambda X, y: f.LIM.fi_util(X, y), K=3),
        Op("measure", "fi_util[autograd]", f.XBv, f.yBv, lambda X, y: f.LIBag.fi_util(X, y)),
        Op("measure", "influence_value", f.XBv, f.yBv, lambda X, y: f.LIB.influence_value(X, y)),
        Op("measure", "fi", f.XBv[:5], f.yBv[:5], lambda X, y: f.LIB.fi(X, y), empty="run"),
        Op("measure", "influence", f.XBv[:5], f.yBv[:5], lambda X, y: f.LIB.influence(X, y), empty="run"),
        Op("measure", "fi_active", f.XBv, None, lambda X, y: f.LIB.fi_active(X), empty="run"),
        Op("measure", "summary_frame", f.XBv, f.yBv, lambda X, y: f.LIB.summary_frame(X, y)),
        Op("measure", "gradient(0,...)", f.XBv[:5], f.yBv[:5], lambda X, y: f.LIB.gradient(0, X, y),
           empty="run"),
        Op("measure", "check_invariance", f.XBv[:5], f.yBv[:5],
           lambda X, y: lib("check_invariance")(f.LIB, np.diag([1.0, 2.0, 3.0]), X, y)),
        Op("selection", "acquisition_scores[iv]", f.XBv, None,
           lambda X, y: li.acquisition_scores("iv", f.MB, f.XB, f.yB, X, X_val=f.XBv, y_val=f.yBv),
           empty="run"),
        Op("selection", "acquisition_scores[bald]", f.XBv, None,
           lambda X, y: li.acquisition_scores("bald", f.MB, f.XB, f.yB, X, n_samples=16), empty="run"),
        Op("selection", "acquisition_scores[fi_active]", f.XBv, None,
           lambda X, y: li.acquisition_scores("fi_active", f.MB, f.XB, f.yB, X), empty="run"),
        Op("selection", "trimming_scores[fi](X_val)", f.XBv, f.yBv,
           lambda X, y: li.trimming_scores("fi", f.MB, f.XB, f.yB, X, y)),
        Op("selection", "fi_pairs(X_val)", f.XBv, f.yBv, lambda X, y: li.fi_pairs(f.LIB, X, y)),
        Op("selection", "approximate_fi_util(X_val)", f.XBv, f.yBv,
           lambda X, y: li.approximate_fi_util(f.MB, f.XB, f.yB, X, y, n_estimators=10)),
        Op("selection", "trim(X)", f.XB, f.yB, lambda X, y: li.trim(f.fitB, X, y, f.XBv, f.yBv, 3),
           fit=True),
        Op("selection", "trimming_curve(X)", f.XB, f.yB,
           lambda X, y: li.trimming_curve(f.fitB, X, y, f.XBv, f.yBv, f.XBv, f.yBv, [0, 3],
                                          methods=("fi", "iv", "random"), random_seeds=2), fit=True),
        Op("selection", "active_learning(X_pool)", f.XBv, f.yBv,
           lambda X, y: li.active_learning(f.fitB, f.XB[:20], f.yB[:20], X, y, f.XBv, f.yBv,
                                           strategy="iv", rounds=2, acquisition_size=3,
                                           X_val=f.XBv, y_val=f.yBv)),
        Op("selection", "tmc_shapley(X)", f.XB[:30], f.yB[:30],
           lambda X, y: li.tmc_shapley(f.fitB, X, y, f.XBv, f.yBv, n_permutations=2), fit=True),
    ]
    if skl is not None:
        ops.append(Op("interop", "from_sklearn(X)", f.XB, f.yB,
                      lambda X, y: li.from_sklearn(skl, X, y).fi_util(f.XBv, f.yBv)))
    return ops


# --------------------------------------------------------------------------------------
# Keyword values
# --------------------------------------------------------------------------------------

VALUES = [
    ("nan", NAN), ("inf", INF), ("-inf", -INF), ("-1", -1), ("0", 0), ("0.5", 0.5), ("1", 1),
    ("True", True), ("False", False), ("None", None), ("'1'", "1"), ("1.5", 1.5), ("2", 2),
    ("2.0", 2.0), ("np.int64(2)", np.int64(2)), ("1e300", 1e300), ("1e-300", 1e-300),
    ("np.float64(nan)", np.float64("nan")), ("[1]", [1]), ("1+0j", 1 + 0j), ("10**12", 10**12),
]
CORE = ("nan", "inf", "-1", "0", "0.5", "True", "None", "'1'", "1.5", "2", "1e300")
_BAD_TYPE = {"True", "False", "'1'", "[1]", "1+0j", "nan", "np.float64(nan)"}


def expectation(kind, label):
    """'refuse' or 'run' for a keyword of ``kind`` given value ``label``."""
    if kind == "seed" and label == "[1]":
        return "run"
    if label in _BAD_TYPE:
        return "refuse"
    if kind == "penalty":       # finite >= 0
        return "refuse" if label in ("inf", "-inf", "-1", "None") else "run"
    if kind == "tol":           # >= 0; inf (accept anything) is allowed
        return "refuse" if label in ("-inf", "-1", "None") else "run"
    if kind == "positive":      # finite > 0
        return "refuse" if label in ("inf", "-inf", "-1", "0", "None") else "run"
    if kind == "count":         # integer >= 1 (None: the default)
        return "run" if label in ("1", "2", "2.0", "np.int64(2)", "10**12", "None") else "refuse"
    if kind == "seed":          # integer >= 0 or a sequence of them (None: fresh entropy)
        return "run" if label in ("0", "1", "2", "2.0", "np.int64(2)", "10**12", "None", "[1]") else "refuse"
    if kind == "budget":        # integer in 0..n
        return "run" if label in ("0", "1", "2", "2.0", "np.int64(2)") else "refuse"
    if kind == "alpha":         # (0, 1]
        return "run" if label in ("0.5", "1", "1e-300") else "refuse"
    if kind == "unit":          # [0, 1]
        return "run" if label in ("0", "0.5", "1", "1e-300") else "refuse"
    if kind == "index":         # column index 0..d-1 (d = 3)
        return "run" if label in ("0", "1", "2", "np.int64(2)") else "refuse"
    raise ValueError(kind)


def keyword_case(run, kind, label, value, invariant=None, check=None, overrides=None):
    res = run(value)
    assert_finite(res)
    if (overrides or {}).get(label, expectation(kind, label)) == "refuse":
        wrong(f"{label} accepted (should be refused)")
    if invariant is not None:
        same(res, T(run, invariant), f"result depends on a value that must not change it ({label})")
    if check is not None:
        check(res, label, value)
    return res


def register_keywords(family, subject, run, kind, labels=None, invariant=None, check=None, overrides=None):
    for label, value in VALUES:
        if labels is not None and label not in labels:
            continue
        case(f"{family}/{subject}={label}",
             lambda label=label, value=value: keyword_case(run, kind, label, value, invariant, check, overrides))


def build_keyword_cases(f):
    LR, SR, LI = li.LogisticRegression, li.SoftmaxRegression, li.LocalInfluence
    K = "keywords"
    register_keywords(K, "LogisticRegression(l2)", lambda v: T(lambda: LR(l2=v).fit(f.XB, f.yB)), "penalty")
    register_keywords(K, "LogisticRegression(tol)", lambda v: T(lambda: LR(l2=1e-3, tol=v).fit(f.XB, f.yB)),
                      "tol")
    register_keywords(K, "LogisticRegression(max_iter)",
                      lambda v: T(lambda: LR(l2=1e-3, max_iter=v).fit(f.XB, f.yB)), "count",
                      invariant=100)
    register_keywords(K, "SoftmaxRegression(l2)", lambda v: T(lambda: SR(l2=v).fit(f.XM, f.yM)), "penalty",
                      labels=CORE)
    register_keywords(K, "SoftmaxRegression(tol)", lambda v: T(lambda: SR(l2=1e-3, tol=v).fit(f.XM, f.yM)),
                      "tol", labels=CORE)
    register_keywords(K, "SoftmaxRegression(max_iter)",
                      lambda v: T(lambda: SR(l2=1e-3, max_iter=v).fit(f.XM, f.yM)), "count",
                      labels=CORE, invariant=100)
    li_fi = lambda **kw: KW(LI, f.MB, f.XB, f.yB, **kw).fi_util(f.XBv, f.yBv)
    register_keywords(K, "LocalInfluence(rtol)", lambda v: T(lambda: li_fi(rtol=v)), "tol")
    register_keywords(K, "LocalInfluence(atol)", lambda v: T(lambda: li_fi(atol=v)), "tol")
    register_keywords(K, "LocalInfluence(grad_rtol)", lambda v: T(lambda: li_fi(grad_rtol=v)), "tol")
    register_keywords(K, "LocalInfluence(chunk_size)", lambda v: T(lambda: li_fi(chunk_size=v)), "count",
                      invariant=7)

    def set_attr(name):
        def run(v):
            inf = copy.copy(f.LIB)
            T(setattr, inf, name, v)
            return T(inf.fi_util, f.XBv, f.yBv)
        return run
    register_keywords(K, "LocalInfluence.rtol(assigned)", set_attr("rtol"), "tol", labels=CORE)
    register_keywords(K, "LocalInfluence.atol(assigned)", set_attr("atol"), "tol", labels=CORE)
    register_keywords(K, "fi_active(agg='quantile',q)",
                      lambda v: T(f.LIB.fi_active, f.XBv, agg="quantile", q=v), "unit")

    def flag_check(res, label, value):
        n = len(res)
        k = int(np.asarray(res["flagged"]).sum())
        want = {"2": 2, "2.0": 2, "np.int64(2)": 2, "1": None, "0.5": round(0.5 * n), "0": 0, "1e-300": 0}
        if label in want and want[label] is not None and k != want[label]:
            wrong(f"flag_top={label} flagged {k} rows, expected {want[label]}")

    for label, value in VALUES:
        exp = "refuse" if label in _BAD_TYPE or label in ("inf", "-inf", "-1", "None", "1.5") else "run"

        def run_flag(value=value, label=label, exp=exp):
            res = T(f.LIB.summary_frame, f.XBv, f.yBv, flag_top=value)
            assert_finite(res)
            if exp == "refuse":
                wrong(f"flag_top={label} accepted (flagged {int(res['flagged'].sum())} rows)")
            flag_check(res, label, value)
            return res
        case(f"{K}/summary_frame(flag_top)={label}", run_flag)
    register_keywords(K, "cook_local_influence(covariate)",
                      lambda v: T(f.LIB.cook_local_influence, perturbation="covariate", covariate=v), "index")
    register_keywords(K, "select(budget)", lambda v: T(li.select, f.scoresB, v), "budget")
    register_keywords(K, "trim(budget)", lambda v: T(li.trim, f.fitB, f.XB, f.yB, f.XBv, f.yBv, v), "budget",
                      labels=CORE + ("10**12", "2.0", "False"))
    register_keywords(K, "trimming_curve(budgets=[b])",
                      lambda v: T(li.trimming_curve, f.fitB, f.XB, f.yB, f.XBv, f.yBv, f.XBv, f.yBv, [v],
                                  methods=("fi", "random"), random_seeds=1), "budget",
                      labels=CORE + ("10**12", "2.0", "False"))
    register_keywords(K, "trimming_curve(random_seeds)",
                      lambda v: T(li.trimming_curve, f.fitB, f.XB, f.yB, f.XBv, f.yBv, f.XBv, f.yBv, [0, 2],
                                  methods=("random",), random_seeds=v), "count", labels=CORE)
    register_keywords(K, "trimming_scores('random',seed)",
                      lambda v: T(li.trimming_scores, "random", f.MB, f.XB, f.yB, f.XBv, f.yBv, seed=v), "seed")
    register_keywords(K, "approximate_fi_util(alpha)",
                      lambda v: T(li.approximate_fi_util, f.MB, f.XB, f.yB, f.XBv, f.yBv, alpha=v,
                                  n_estimators=10), "alpha", labels=CORE + ("1", "1e-300", "-inf"))
    register_keywords(K, "approximate_fi_util(seed)",
                      lambda v: T(li.approximate_fi_util, f.MB, f.XB, f.yB, f.XBv, f.yBv, seed=v,
                                  n_estimators=10), "seed", labels=CORE + ("10**12",))
    register_keywords(K, "approximate_fi_util(n_estimators)",
                      lambda v: T(li.approximate_fi_util, f.MB, f.XB, f.yB, f.XBv, f.yBv, n_estimators=v),
                      "count", labels=CORE)
    LI30 = LI(li.LogisticRegression(l2=1e-2).fit(f.XB[:30], f.yB[:30]), f.XB[:30], f.yB[:30])
    register_keywords(K, "fi_pairs(max_pairs)", lambda v: T(li.fi_pairs, LI30, f.XBv, f.yBv, max_pairs=v),
                      "count", labels=CORE + ("10**12",))
    register_keywords(K, "tmc_shapley(n_permutations)",
                      lambda v: T(li.tmc_shapley, f.fitB, f.XB[:30], f.yB[:30], f.XBv, f.yBv, n_permutations=v),
                      "count", labels=CORE)
    register_keywords(K, "tmc_shapley(truncation)",
                      lambda v: T(li.tmc_shapley, f.fitB, f.XB[:30], f.yB[:30], f.XBv, f.yBv, n_permutations=2,
                                  truncation=v), "tol", labels=CORE)
    register_keywords(K, "tmc_shapley(seed)",
                      lambda v: T(li.tmc_shapley, f.fitB, f.XB[:30], f.yB[:30], f.XBv, f.yBv, n_permutations=2,
                                  seed=v), "seed", labels=CORE)

    def al(**kw):
        base = dict(strategy="random", rounds=2, acquisition_size=3, X_val=f.XBv, y_val=f.yBv)
        base.update(kw)
        return KW(li.active_learning, f.fitB, f.XB[:20], f.yB[:20], f.XB[20:], f.yB[20:], f.XBv, f.yBv, **base)
    register_keywords(K, "active_learning(rounds)", lambda v: al(rounds=v), "count",
                      labels=CORE + ("10**12",))
    register_keywords(K, "active_learning(acquisition_size)", lambda v: al(acquisition_size=v), "count",
                      labels=CORE + ("10**12",))
    register_keywords(K, "active_learning(seed)", lambda v: al(seed=v), "seed", labels=CORE + ("10**12",))
    register_keywords(K, "active_learning(alpha)", lambda v: al(alpha=v, strategy="iv"), "alpha",
                      labels=CORE + ("1", "1e-300"))
    register_keywords(K, "acquisition_scores('random',seed)",
                      lambda v: KW(li.acquisition_scores, "random", f.MB, f.XB, f.yB, f.XBv, seed=v), "seed",
                      labels=CORE)
    register_keywords(K, "acquisition_scores('bald',n_samples)",
                      lambda v: KW(li.acquisition_scores, "bald", f.MB, f.XB, f.yB, f.XBv, n_samples=v), "count",
                      labels=CORE + ("10**12",))
    register_keywords(K, "acquisition_scores('bald',seed)",
                      lambda v: KW(li.acquisition_scores, "bald", f.MB, f.XB, f.yB, f.XBv, seed=v, n_samples=8),
                      "seed", labels=CORE)
    mlp = lambda **kw: KW(lib("fit_mlp"), f.XB[:60], f.yB[:60], **{"hidden": (3,), "l2": 1e-2, **kw})
    register_keywords(K, "fit_mlp(l2)", lambda v: mlp(l2=v), "penalty", labels=CORE + ("-inf",))
    register_keywords(K, "fit_mlp(tol)", lambda v: mlp(tol=v, maxiter=2000), "tol", labels=CORE)
    register_keywords(K, "fit_mlp(maxiter)", lambda v: mlp(maxiter=v), "count", labels=CORE + ("10**12",))
    register_keywords(K, "fit_mlp(seed)", lambda v: mlp(seed=v), "seed", labels=CORE)
    register_keywords(K, "fit_mlp(epochs,method=adam)", lambda v: mlp(method="adam", epochs=v), "count",
                      labels=CORE)
    register_keywords(K, "fit_mlp(batch_size,method=adam)", lambda v: mlp(method="adam", epochs=3, batch_size=v),
                      "count", labels=CORE + ("10**12",))
    register_keywords(K, "fit_mlp(learning_rate,method=adam,finish=False)",
                      lambda v: mlp(method="adam", epochs=3, learning_rate=v, finish=False), "positive",
                      labels=CORE)
    if f.skl is not None:
        register_keywords(K, "from_sklearn(rtol)", lambda v: KW(li.from_sklearn, f.skl, f.XB, f.yB, rtol=v), "tol",
                          labels=CORE + ("-inf",))
    sm_res = _sm_logit(f)
    if sm_res is not None:
        register_keywords(K, "from_statsmodels(rtol)", lambda v: KW(li.from_statsmodels, sm_res, rtol=v), "tol",
                          labels=CORE + ("-inf",))
    register_keywords(K, "init_mlp(seed)", lambda v: KW(lib("init_mlp"), (3, 4, 1), seed=v), "seed", labels=CORE)
    ag = lambda **kw: KW(lib("AutogradModel"), lambda p, X: X @ p, np.zeros(3), 2, **kw)
    register_keywords(K, "AutogradModel(l2)", lambda v: ag(l2=v), "penalty", labels=CORE)
    register_keywords(K, "AutogradModel(n_classes)",
                      lambda v: KW(lib("AutogradModel"), lambda p, X: X @ p, np.zeros(3), v), "count",
                      labels=CORE + ("1",))
    # curvature operators: the answer must be H^{-1} b (or the call refused)
    H = f.LIB.H_inv_.hessian if getattr(f.LIB.H_inv_, "hessian", None) is not None else np.eye(f.LIB.p_)
    b = np.arange(1.0, H.shape[0] + 1)
    exact = np.linalg.solve(H, b)

    def solve_check(rtol):
        def check(res, label, value):
            r = differs(res, exact, rtol)
            if r:
                wrong(f"H^-1 b wrong: {r}")
        return check
    register_keywords(K, "InverseHessian(rtol)", lambda v: T(lambda: lib("InverseHessian")(H, rtol=v).matvec(b)),
                      "tol", labels=CORE, check=solve_check(1e-8))
    register_keywords(K, "DampedInverse(damping)",
                      lambda v: T(lambda: lib("DampedInverse")(H, damping=v).matvec(b)), "penalty", labels=CORE)
    hvp = lambda v: H @ v
    register_keywords(K, "CGInverse(tol)", lambda v: T(lambda: lib("CGInverse")(hvp, H.shape[0], tol=v).matvec(b)),
                      "tol", labels=CORE + ("1e-300",),
                      check=lambda r, l, v: solve_check(1e-6)(r, l, v) if l == "1e-300" else None)
    register_keywords(K, "CGInverse(maxiter)",
                      lambda v: T(lambda: lib("CGInverse")(hvp, H.shape[0], maxiter=v).matvec(b)), "count",
                      labels=CORE + ("10**12",), check=lambda r, l, v: None)
    register_keywords(K, "CGInverse(damping)",
                      lambda v: T(lambda: lib("CGInverse")(hvp, H.shape[0], damping=v).matvec(b)), "penalty",
                      labels=CORE)
    register_keywords(K, "LissaInverse(depth)",
                      lambda v: T(lambda: lib("LissaInverse")(hvp, H.shape[0], depth=v).matvec(b)), "count",
                      labels=CORE, check=lambda r, l, v: solve_check(1e-3)(r, l, v) if l in ("None",) else None)
    register_keywords(K, "LissaInverse(scale)",
                      lambda v: T(lambda: lib("LissaInverse")(hvp, H.shape[0], scale=v).matvec(b)), "positive",
                      labels=CORE, overrides={"None": "run"})
    register_keywords(K, "LocalInfluence(backend=autograd,curvature=cg,tol)",
                      lambda v: T(lambda: LI(f.MB, f.XB, f.yB, backend="autograd", curvature="cg",
                                             curvature_options={"tol": v}).fi_util(f.XBv, f.yBv)),
                      "positive", labels=CORE)
    register_keywords(K, "LocalInfluence(backend=autograd,curvature=exact,damping)",
                      lambda v: T(lambda: LI(f.MB, f.XB, f.yB, backend="autograd",
                                             curvature_options={"damping": v}).fi_util(f.XBv, f.yBv)),
                      "penalty", labels=CORE)
    register_keywords(K, "LocalInfluence(backend=autograd,svd_rank)",
                      lambda v: KW(LI, f.MB, f.XB, f.yB, backend="autograd", svd_rank=v).fi_util(f.XBv, f.yBv),
                      "count", labels=CORE)


def _sm_logit(f):
    try:
        import statsmodels.api as sm
        return sm.Logit(f.yB, sm.add_constant(f.XB)).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    except Exception:  # noqa: BLE001
        return None


# --------------------------------------------------------------------------------------
# Separable data at several penalties: the oracle continues the fit by plain Newton steps
# --------------------------------------------------------------------------------------


def glm_derivatives(theta, X, y, K, fit_intercept, l2):
    """Risk, gradient and Hessian of mean NLL + l2 ||coef||^2 (reference class 0), computed
    so that probabilities within 1e-16 of 1 keep their complements accurately."""
    n, d = X.shape
    Xt = np.c_[X, np.ones(n)] if fit_intercept else X
    q = Xt.shape[1]
    W = theta.reshape(K - 1, q).T
    eta = np.zeros((n, K))
    eta[:, 1:] = Xt @ W
    rows = np.arange(n)
    D = eta - eta[rows, y][:, None]
    D[rows, y] = -np.inf
    mx = D.max(axis=1)
    with np.errstate(over="ignore"):
        loss = np.where(mx < 0, np.log1p(np.exp(D).sum(axis=1)),
                        mx + np.log(np.exp(-mx) + np.exp(D - mx[:, None]).sum(axis=1)))
    mask = np.zeros((K - 1, q))
    mask[:, :d] = 1.0
    mask = mask.ravel()
    R = loss.mean() + l2 * np.sum(mask * theta ** 2)
    P = np.exp(eta - logsumexp(eta, axis=1, keepdims=True))
    others = P.copy()
    others[rows, y] = 0.0
    r = P[:, 1:].copy()
    pos = np.flatnonzero(y > 0)
    r[pos, y[pos] - 1] = -others[pos].sum(axis=1)  # P_y - 1 = -(sum of the others)
    g = (r[:, :, None] * Xt[:, None, :]).reshape(n, -1).mean(axis=0) + 2 * l2 * mask * theta
    pi = P[:, 1:]
    S = -pi[:, :, None] * pi[:, None, :]
    for k in range(K - 1):
        comp = np.delete(P, k + 1, axis=1).sum(axis=1)
        S[:, k, k] = pi[:, k] * comp
    H = np.einsum("ikl,ia,ib->kalb", S, Xt, Xt).reshape((K - 1) * q, (K - 1) * q) / n
    H += np.diag(2 * l2 * mask)
    return R, g, H


def newton_to_minimiser(theta, X, y, K, fit_intercept, l2, max_iter=3000):
    theta = np.array(theta, dtype=float)
    converged = False
    for _ in range(max_iter):
        R, g, H = glm_derivatives(theta, X, y, K, fit_intercept, l2)
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(H, g, rcond=None)[0]
        dec = float(g @ step)
        if not np.isfinite(dec):
            break
        if np.linalg.norm(step) <= 1e-13 * max(1.0, np.linalg.norm(theta)):
            converged = True
            break
        t = 1.0
        while t > 1e-12:
            if glm_derivatives(theta - t * step, X, y, K, fit_intercept, l2)[0] <= R - 1e-4 * t * dec:
                break
            t *= 0.5
        if t <= 1e-12:
            theta = theta - step  # the line search cannot see progress at this precision
        else:
            theta = theta - t * step
    return theta, converged


def separable_data(K, seed=0, n=60):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(4 * n, 2))
    s = X[:, 0] + 0.5 * X[:, 1]
    if K == 2:
        keep = np.abs(s) > 0.3
        y = (s > 0).astype(int)
    else:
        keep = (np.abs(s + 0.6) > 0.2) & (np.abs(s - 0.6) > 0.2)
        y = np.digitize(s, [-0.6, 0.6])
    X, y = X[keep], y[keep]
    return X[:n], y[:n], X[n:n + 20], y[n:n + 20]


def separable_case(K, l2):
    X, y, Xv, yv = separable_data(K)
    cls = li.LogisticRegression if K == 2 else li.SoftmaxRegression
    model = T(lambda: cls(l2=l2).fit(X, y))
    if l2 == 0:
        wrong("separable data with l2=0 accepted: no minimiser exists")
    fi = T(lambda: li.LocalInfluence(model, X, y).fi_util(Xv, yv))
    assert_finite(fi)
    theta_star, ok = newton_to_minimiser(model.theta_, X, y, K, True, l2)
    rel_theta = np.linalg.norm(model.theta_ - theta_star) / max(np.linalg.norm(theta_star), 1e-300)
    if not ok and rel_theta < 1e-8:
        return fi
    m2 = copy.deepcopy(model)
    m2.theta_ = theta_star
    try:
        fi_true = np.asarray(li.LocalInfluence(m2, X, y).fi_util(Xv, yv))
    except LocalInfluenceError as exc:
        if rel_theta > 1e-6:
            wrong(f"fit stopped {rel_theta:.1e} (rel.) from the minimiser, where LocalInfluence refuses "
                  f"({type(exc).__name__}); results given at a non-minimiser")
        return fi
    err = differs(fi, fi_true, 1e-4)
    if err:
        wrong(f"theta {rel_theta:.1e} (rel.) from the true minimiser (|theta*| = "
              f"{np.linalg.norm(theta_star):.3g}); FI_util off: {err}")
    return fi


def build_separable_cases():
    for K, label in ((2, "logistic"), (3, "softmax")):
        for l2 in (0, 1e-16, 1e-13, 1e-10, 1e-6, 1e-3, 1):
            case(f"separable/{label}(l2={l2:g})", lambda K=K, l2=l2: separable_case(K, l2))

    def quasi():
        X, y, Xv, yv = separable_data(2)
        X = np.r_[X, [[0.0, 0.0], [0.0, 0.0]]]  # two points on the separating line, one of each class
        y = np.r_[y, [0, 1]]
        m = T(lambda: li.LogisticRegression(l2=0).fit(X, y))
        wrong(f"quasi-separable data with l2=0 accepted (|theta| = {np.linalg.norm(m.theta_):.3g})")
    case("separable/logistic_quasi_complete(l2=0)", quasi)

    def d_gt_n_l2_0():
        X, y = make_problem(5, 10, 30, 2)
        m = T(lambda: li.LogisticRegression(l2=0).fit(X, y))
        wrong(f"d > n with l2=0 accepted (|theta| = {np.linalg.norm(m.theta_):.3g})")
    case("separable/logistic_d>n(l2=0)", d_gt_n_l2_0)

    def mlp_separable():
        X, y, Xv, yv = separable_data(2)
        return T(lambda: li.fit_mlp(X, y, hidden=(3,), l2=1e-10).theta_)
    case("separable/fit_mlp(l2=1e-10)", mlp_separable)


# --------------------------------------------------------------------------------------
# Hand-written API cases
# --------------------------------------------------------------------------------------


def refuse(fn, *args, **kw):
    """The call must be refused: accepted -> wrong_answer (after the NaN scan)."""
    res = T(fn, *args, **kw)
    assert_finite(res)
    wrong("accepted (should be refused)")


def run_ok(fn, *args, **kw):
    return assert_finite(T(fn, *args, **kw))


def warned(ws):
    return [w for w in ws if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning,
                                                         FutureWarning))]


def must_warn(fn, what):
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        res = T(fn)
    assert_finite(res)
    if not warned(ws):
        wrong(f"{what}: no warning")
    return res


def build_api_cases(f):
    LR, SR, LI = li.LogisticRegression, li.SoftmaxRegression, li.LocalInfluence

    # ---- fit_intercept values -------------------------------------------------------
    ref_true = LR(l2=1e-3, fit_intercept=True).fit(f.XB, f.yB).theta_
    ref_false = LR(l2=1e-3, fit_intercept=False).fit(f.XB, f.yB).theta_

    def fi_case(value, expect):
        m = T(lambda: LR(l2=1e-3, fit_intercept=value).fit(f.XB, f.yB))
        th = np.asarray(m.theta_)
        means_true = th.shape == ref_true.shape and differs(th, ref_true) is None
        means_false = th.shape == ref_false.shape and differs(th, ref_false) is None
        if expect == "refuse":
            wrong(f"fit_intercept={value!r} accepted (means {'True' if means_true else 'False'})")
        if expect == "not_true" and means_true:
            wrong(f"fit_intercept={value!r} silently means True")
        if expect == "true" and not means_true:
            wrong(f"fit_intercept={value!r} does not mean True")
        if expect == "false" and not means_false:
            wrong(f"fit_intercept={value!r} does not mean False")
        T(m.predict_proba, f.XBv)
        return T(lambda: LI(m, f.XB, f.yB).fi_util(f.XBv, f.yBv))
    for label, value, expect in (("'no'", "no", "not_true"), ("'False'", "False", "not_true"),
                                 ("'0'", "0", "not_true"), ("'yes'", "yes", "true"), ("1", 1, "true"),
                                 ("2", 2, "true"), ("0", 0, "false"), ("None", None, "false"),
                                 ("np.False_", np.False_, "false"), ("nan", NAN, "refuse"),
                                 ("[]", [], "refuse"), ("'true'", "true", "true")):
        case(f"fit_intercept/LogisticRegression(fit_intercept={label})", lambda v=value, e=expect: fi_case(v, e))

    def sr_no():
        m = T(lambda: SR(l2=1e-3, fit_intercept="no").fit(f.XM, f.yM))
        if np.asarray(m.theta_).size == 2 * 4:
            wrong("SoftmaxRegression(fit_intercept='no') silently means True")
        return T(m.predict_proba, f.XMv)
    case("fit_intercept/SoftmaxRegression(fit_intercept='no')", sr_no)

    # ---- in-sample validation --------------------------------------------------------
    fresh = lambda: LI(f.MB, f.dfB, f.yB)
    for name, fn in (
            ("fi_util(X_train)", lambda: fresh().fi_util(f.XB, f.yB)),
            ("fi_util(DataFrame_train)", lambda: fresh().fi_util(f.dfB, f.yB)),
            ("fi_util(train_rows_0..29)", lambda: fresh().fi_util(f.XB[:30], f.yB[:30])),
            ("influence_value(X_train)", lambda: fresh().influence_value(f.XB, f.yB)),
            ("summary_frame(X_train)", lambda: fresh().summary_frame(f.XB, f.yB)),
            ("against(X_train)", lambda: fresh().against(f.XB, f.yB).fi_util()),
            ("trimming_scores(fi,X_val=X)", lambda: li.trimming_scores("fi", f.MB, f.XB, f.yB, f.XB, f.yB)),
            ("trim(X_val=X)", lambda: li.trim(f.fitB, f.XB, f.yB, f.XB, f.yB, 3)[1]),
            ("trimming_curve(X_val=X)", lambda: li.trimming_curve(f.fitB, f.XB, f.yB, f.XB, f.yB, f.XBv, f.yBv,
                                                                  [0, 3], methods=("fi",))),
            ("approximate_fi_util(X_val=X)", lambda: li.approximate_fi_util(f.MB, f.XB, f.yB, f.XB, f.yB,
                                                                            n_estimators=10)[0]),
            ("fi_pairs(X_val=X)", lambda: li.fi_pairs(LI(LR(l2=1e-2).fit(f.XB[:30], f.yB[:30]), f.XB[:30],
                                                         f.yB[:30]), f.XB[:30], f.yB[:30])[2])):
        case(f"in_sample/{name}", lambda fn=fn, name=name: must_warn(fn, "validation = training data"))

    # ---- score / loss with bad y (explicit ones from the brief) ------------------------
    case("predict/score(y_length_1)", lambda: refuse(f.MB.score, f.XBv, f.yBv[:1]))

    def score_column():
        r = T(f.MB.score, f.XBv, f.yBv[:, None])
        good = f.MB.score(f.XBv, f.yBv)
        if abs(r - good) > 1e-12:
            wrong(f"score with y of shape (m, 1) = {r:.3f}, with y of shape (m,) = {good:.3f}")
        return r
    case("predict/score(y_column_vector)", score_column)

    # ---- model state ----------------------------------------------------------------
    def unfitted(call):
        m = LR(l2=1e-3)
        return T(call, m)
    for name, call in (("predict_proba", lambda m: m.predict_proba(f.XBv)), ("score", lambda m: m.score(f.XBv, f.yBv)),
                       ("coef_", lambda m: m.coef_), ("risk", lambda m: m.risk(f.XBv, f.yBv)),
                       ("LocalInfluence", lambda m: LI(m, f.XB, f.yB)),
                       ("from_glm", lambda m: li.from_glm(m))):
        case(f"model_state/unfitted.{name}", lambda call=call: refuse(unfitted, call))

    # Settings changed after fit take effect at the next fit (l2_, fit_intercept_ are what
    # theta_ was fitted with): the fitted model must answer exactly as before the change.
    def toggled():
        m = copy.deepcopy(f.MB)
        m.fit_intercept = False
        r = T(m.predict_proba, f.XBv)
        same(r, f.MB.predict_proba(f.XBv), "predict_proba after fit_intercept=False", rtol=0)
        return r
    case("model_state/fit_intercept_toggled_after_fit.predict_proba", toggled)

    def l2_changed():
        m = copy.deepcopy(f.MB)
        m.l2 = 5.0
        r = T(lambda: LI(m, f.XB, f.yB).fi_util(f.XBv, f.yBv))
        same(r, LI(f.MB, f.XB, f.yB).fi_util(f.XBv, f.yBv), "fi_util after l2=5", rtol=0)
        return r
    case("model_state/l2_changed_after_fit.LocalInfluence", l2_changed)

    def theta_nan():
        m = copy.deepcopy(f.MB)
        m.theta_ = np.full_like(m.theta_, np.nan)
        return refuse(lambda: LI(m, f.XB, f.yB).fi_util(f.XBv, f.yBv))
    case("model_state/theta_nan.LocalInfluence", theta_nan)

    def theta_short():
        m = copy.deepcopy(f.MB)
        m.theta_ = m.theta_[:-1]
        return refuse(lambda: LI(m, f.XB, f.yB).fi_util(f.XBv, f.yBv))
    case("model_state/theta_wrong_length.LocalInfluence", theta_short)

    def theta_nan_predict():
        m = copy.deepcopy(f.MB)
        m.theta_ = np.full_like(m.theta_, np.nan)
        return refuse(m.predict_proba, f.XBv)
    case("model_state/theta_nan.predict_proba", theta_nan_predict)

    # ---- LocalInfluence constructor -------------------------------------------------
    from sklearn.linear_model import LogisticRegression as SkLR
    for name, fn in (
            ("model=None", lambda: LI(None, f.XB, f.yB)),
            ("model='logistic'", lambda: LI("logistic", f.XB, f.yB)),
            ("model=sklearn", lambda: LI(SkLR().fit(f.XB, f.yB), f.XB, f.yB)),
            ("model_fitted_on_other_rows", lambda: LI(f.MB, f.XB[::-1] * 1.1, f.yB)),
            ("y_permuted", lambda: LI(f.MB, f.XB, np.random.default_rng(0).permutation(f.yB))),
            ("X_rows_permuted_y_not", lambda: LI(f.MB, f.XB[np.random.default_rng(1).permutation(120)], f.yB)),
            ("backend='bogus'", lambda: LI(f.MB, f.XB, f.yB, backend="bogus")),
            ("backend=None", lambda: LI(f.MB, f.XB, f.yB, backend=None)),
            ("curvature='cg'(reference)", lambda: LI(f.MB, f.XB, f.yB, curvature="cg")),
            ("curvature='bogus'(autograd)", lambda: LI(f.MB, f.XB, f.yB, backend="autograd", curvature="bogus")),
            ("curvature='kfac'(GLM)", lambda: LI(f.MB, f.XB, f.yB, backend="autograd", curvature="kfac")),
            ("curvature=LinearOperator(wrong shape)",
             lambda: LI(f.MB, f.XB, f.yB, backend="autograd",
                        curvature=scipy.sparse.linalg.aslinearoperator(np.eye(2)))),
            ("curvature_options={'bogus':1}",
             lambda: LI(f.MB, f.XB, f.yB, backend="autograd", curvature_options={"bogus": 1})),
            ("curvature_options='fast'", lambda: LI(f.MB, f.XB, f.yB, backend="autograd", curvature_options="fast")),
            ("svd_rank=2(reference)", lambda: LI(f.MB, f.XB, f.yB, svd_rank=2)),
            ("svd_options={'seed':-1}", lambda: LI(f.MB, f.XB, f.yB, backend="autograd", svd_rank=1,
                                                  svd_options={"seed": -1})),
            ("query_curvature='bogus'", lambda: LI(f.MB, f.XB, f.yB, backend="autograd", query_curvature="bogus")),
            ("X_train*1.001", lambda: LI(f.MB, f.XB * 1.001, f.yB))):
        case(f"influence/LocalInfluence({name})", lambda fn=fn: refuse(fn))
    case("influence/LocalInfluence(X_train+1e-12)", lambda: run_ok(lambda: LI(f.MB, f.XB + 1e-12, f.yB)
                                                                    .fi_util(f.XBv, f.yBv)))
    case("influence/LocalInfluence(svd_rank=100>d)",
         lambda: run_ok(lambda: KW(LI, f.MB, f.XB, f.yB, backend="autograd", svd_rank=100).fi_util(f.XBv, f.yBv)))

    # ---- methods with bad secondary arguments ----------------------------------------
    n = len(f.yB)
    for name, rows in (("[]", []), ("[n]", [n]), ("[-1]", [-1]), ("[0.5]", [0.5]), ("bool_mask", f.yB > 0),
                       ("2-D", [[0, 1]]), ("slice(0,5)", slice(0, 5)), ("'0'", "0"), ("[True,False]", [True, False])):
        case(f"measure/fi_util(rows={name})", lambda rows=rows: refuse(f.LIB.fi_util, f.XBv, f.yBv, rows=rows))
    for name, rows in (("[0,0](duplicates)", [0, 0]), ("np.int8([1,2])", np.array([1, 2], np.int8)),
                       ("range(5)", range(5))):
        def rows_ok(rows=rows):
            res = T(f.LIB.fi_util, f.XBv, f.yBv, rows=rows)
            same(np.asarray(res), f.scoresB[np.asarray(list(rows) if isinstance(rows, range) else rows)],
                 "rows subset differs from the full FI_util")
            return res
        case(f"measure/fi_util(rows={name})", rows_ok)
    for name, kw in (("agg='bogus'", dict(agg="bogus")), ("agg=None", dict(agg=None)),
                     ("agg='quantile',q=None", dict(agg="quantile")), ("agg=len", dict(agg=len))):
        case(f"measure/fi_active({name})", lambda kw=kw: refuse(f.LIB.fi_active, f.XBv, **kw))
    for name, kw in (("perturbation='bogus'", dict(perturbation="bogus")), ("kind='bogus'", dict(kind="bogus")),
                     ("perturbation='covariate',covariate=None", dict(perturbation="covariate")),
                     ("perturbation='response'(softmax)", None)):
        if kw is None:
            case(f"measure/cook_local_influence({name})",
                 lambda: refuse(f.LIM.cook_local_influence, perturbation="response"))
        else:
            case(f"measure/cook_local_influence({name})", lambda kw=kw: refuse(f.LIB.cook_local_influence, **kw))
    for kind in ("total", "local"):
        for pert in ("case-weight", "response"):
            case(f"measure/cook_local_influence(perturbation={pert},kind={kind})",
                 lambda kind=kind, pert=pert: run_ok(f.LIB.cook_local_influence, perturbation=pert, kind=kind))
    for meth in ("mixed_partial", "metric", "dtheta_domega"):
        for label, i in (("n", n), ("-n-1", -n - 1), ("1.5", 1.5), ("'0'", "0"), ("None", None), ("True", True)):
            case(f"measure/{meth}(i={label})", lambda meth=meth, i=i: refuse(getattr(f.LIB, meth), i))
        case(f"measure/{meth}(i=-1)", lambda meth=meth: run_ok(getattr(f.LIB, meth), -1))
    case("measure/gradient(i=n)", lambda: refuse(f.LIB.gradient, n, f.XBv[:3], f.yBv[:3]))
    case("measure/summary_frame(index=wrong_length)", lambda: refuse(f.LIB.summary_frame, f.XBv, f.yBv,
                                                                     index=list(range(5))))
    case("measure/summary_frame(index=duplicates)", lambda: run_ok(f.LIB.summary_frame, f.XBv, f.yBv,
                                                                   index=[0] * n))
    for name in ("metric_rank", "leverage", "self_influence"):
        case(f"measure/{name}()", lambda name=name: run_ok(getattr(f.LIB, name)))
        case(f"measure/{name}()[softmax]", lambda name=name: run_ok(getattr(f.LIM, name)))
    case("measure/fi_util(val=1_row)", lambda: run_ok(f.LIB.fi_util, f.XBv[:1], f.yBv[:1]))
    case("measure/fi_active(pool=1_row)", lambda: run_ok(f.LIB.fi_active, f.XBv[:1]))

    # ---- degenerate designs ----------------------------------------------------------
    Xc = np.c_[f.XB, np.ones(n)]
    case("degenerate/constant_column/fit(l2=0)", lambda: refuse(lambda: LR(l2=0).fit(Xc, f.yB)))
    LIc = lambda: LI(LR(l2=1e-3).fit(Xc, f.yB), Xc, f.yB)
    Xcv = np.c_[f.XBv, np.ones(len(f.yBv))]
    case("degenerate/constant_column/fi_util(l2=1e-3)", lambda: run_ok(lambda: LIc().fi_util(Xcv, f.yBv)))
    case("degenerate/constant_column/summary_frame", lambda: run_ok(lambda: LIc().summary_frame(Xcv, f.yBv)))
    for kind in ("total", "local"):
        case(f"degenerate/constant_column/cook(covariate=const,kind={kind})",
             lambda kind=kind: run_ok(lambda: LIc().cook_local_influence(perturbation="covariate", covariate=3,
                                                                         kind=kind)))
        case(f"degenerate/constant_column/cook(case-weight,kind={kind})",
             lambda kind=kind: run_ok(lambda: LIc().cook_local_influence(kind=kind)))
    X0 = np.zeros_like(f.XB)
    case("degenerate/all_zero_X/fi_util(l2=1e-3)",
         lambda: run_ok(lambda: LI(LR(l2=1e-3).fit(X0, f.yB), X0, f.yB).fi_util(f.XBv, f.yBv)))
    case("degenerate/all_zero_X/cook(local)",
         lambda: run_ok(lambda: LI(LR(l2=1e-3).fit(X0, f.yB), X0, f.yB).cook_local_influence(kind="local")))
    case("degenerate/all_zero_X/fit(l2=0)", lambda: refuse(lambda: LR(l2=0).fit(X0, f.yB)))
    case("degenerate/identical_rows_mixed_labels/fit(l2=0)",
         lambda: refuse(lambda: LR(l2=0).fit(np.ones((20, 2)), np.arange(20) % 2)))
    Xd, yd = np.r_[f.XB, f.XB], np.r_[f.yB, f.yB]

    def dup_rows():
        fi = np.asarray(T(lambda: LI(LR(l2=1e-3).fit(Xd, yd), Xd, yd).fi_util(f.XBv, f.yBv)))
        same(fi[:n], fi[n:], "duplicated rows get different FI_util")
        return fi
    case("degenerate/duplicated_rows/fi_util_equal", dup_rows)
    Xcol = np.c_[f.XB, f.XB[:, 0]]
    case("degenerate/duplicated_column/fit(l2=0)", lambda: refuse(lambda: LR(l2=0).fit(Xcol, f.yB)))
    case("degenerate/duplicated_column/fi_util(l2=1e-3)",
         lambda: run_ok(lambda: LI(LR(l2=1e-3).fit(Xcol, f.yB), Xcol, f.yB)
                        .fi_util(np.c_[f.XBv, f.XBv[:, 0]], f.yBv)))
    Xn = np.c_[f.XB, f.XB[:, 0] + 1e-9 * np.random.default_rng(0).normal(size=n)]
    case("degenerate/near_collinear(1e-9)/fit(l2=0)",
         lambda: run_ok(lambda: LI(LR(l2=0).fit(Xn, f.yB), Xn, f.yB).fi_util(Xn[:10], f.yB[:10])))
    Xs = f.XB * np.array([1e-8, 1.0, 1e8])
    case("degenerate/column_scales_1e-8..1e8/fi_util(l2=0)",
         lambda: run_ok(lambda: LI(LR(l2=0).fit(Xs, f.yB), Xs, f.yB).fi_util(Xs[:10], f.yB[:10])))
    X2, y2 = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1])
    case("degenerate/n=2/fit(l2=0)", lambda: refuse(lambda: LR(l2=0).fit(X2, y2)))
    case("degenerate/n=1/fit", lambda: refuse(lambda: LR(l2=1).fit(X2[:1], y2[:1])))
    LI2 = lambda: LI(LR(l2=1.0).fit(X2, y2), X2, y2)
    case("degenerate/n=2/summary_frame", lambda: run_ok(lambda: LI2().summary_frame(X2, y2)))
    case("degenerate/n=2/cook(response,local)",
         lambda: run_ok(lambda: LI2().cook_local_influence(perturbation="response", kind="local")))
    case("degenerate/n=2/fi_active", lambda: run_ok(lambda: LI2().fi_active(X2)))
    case("degenerate/n=2/fi_pairs", lambda: run_ok(lambda: li.fi_pairs(LI2(), X2, y2)))
    case("degenerate/n=2/trim(budget=1)", lambda: refuse(lambda: li.trim(lambda X, y: LR(l2=1.0).fit(X, y),
                                                                         X2, y2, X2, y2, 1)))
    case("degenerate/n=2/trimming_curve(budgets=[1])",
         lambda: run_ok(lambda: li.trimming_curve(lambda X, y: LR(l2=1.0).fit(X, y), X2, y2, X2, y2, X2, y2, [1],
                                                  methods=("fi",))))
    case("degenerate/trimming_curve(budget=n_minus_1)",
         lambda: run_ok(lambda: li.trimming_curve(f.fitB, f.XB, f.yB, f.XBv, f.yBv, f.XBv, f.yBv, [n - 1],
                                                  methods=("fi",))))
    X3, y3 = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), np.array([0, 1, 2])
    case("degenerate/n=3,K=3/softmax_fi_util",
         lambda: run_ok(lambda: LI(SR(l2=1.0).fit(X3, y3), X3, y3).fi_util(X3, y3)))
    Xw, yw = make_problem(7, 10, 50, 2)
    LIw = lambda: LI(LR(l2=1e-3).fit(Xw, yw), Xw, yw)
    case("degenerate/d>n/fi_util(l2=1e-3)", lambda: run_ok(lambda: LIw().fi_util(Xw, yw)))
    case("degenerate/d>n/cook(local)", lambda: run_ok(lambda: LIw().cook_local_influence(kind="local")))
    case("degenerate/d>n/check_invariance",
         lambda: run_ok(lambda: li.check_invariance(LIw(), np.eye(50) * 2, Xw[:3], yw[:3])))
    Xw3, yw3 = make_problem(8, 12, 40, 3)
    case("degenerate/d>n/softmax_fi_util(l2=1e-3)",
         lambda: run_ok(lambda: LI(SR(l2=1e-3).fit(Xw3, yw3), Xw3, yw3).fi_util(Xw3, yw3)))
    rng = np.random.default_rng(11)
    X1000 = rng.normal(size=(1000, 2))
    y1000 = np.arange(1000)
    case("degenerate/1000_classes/SoftmaxRegression.fit",
         lambda: run_ok(lambda: SR(l2=1e-2).fit(X1000, y1000).theta_.shape))
    X50, y50 = make_problem(12, 300, 3, 50)
    case("degenerate/50_classes/softmax_fi_util",
         lambda: run_ok(lambda: LI(SR(l2=1e-2).fit(X50, y50), X50, y50).fi_util(X50[:20], y50[:20])))
    case("degenerate/labels_3e8/SoftmaxRegression.fit",
         lambda: refuse(lambda: SR(l2=1e-2).fit(f.XB, f.yB * 300_000_000)))
    case("degenerate/X_int64_huge/fit", lambda: run_ok(lambda: LR(l2=1e-3).fit((f.XB * 2**60).astype(np.int64),
                                                                               f.yB)))

    # ---- selection: other bad arguments ----------------------------------------------
    case("selection/trimming_scores(method='bogus')",
         lambda: refuse(li.trimming_scores, "bogus", f.MB, f.XB, f.yB, f.XBv, f.yBv))
    case("selection/trimming_scores(method='shapley',fit=None)",
         lambda: refuse(li.trimming_scores, "shapley", f.MB, f.XB, f.yB, f.XBv, f.yBv))
    case("selection/trimming_scores(influence_kw={'bogus':1})",
         lambda: refuse(li.trimming_scores, "fi", f.MB, f.XB, f.yB, f.XBv, f.yBv, influence_kw={"bogus": 1}))
    case("selection/trimming_scores(shapley_kw={'seed':1})",
         lambda: refuse(li.trimming_scores, "shapley", f.MB, f.XB[:20], f.yB[:20], f.XBv, f.yBv, fit=f.fitB,
                        shapley_kw={"seed": 1}))
    sc = f.scoresB.copy()
    sc[3] = np.nan
    case("selection/select(scores_with_nan)", lambda: refuse(li.select, sc, 2))
    case("selection/select(scores_2-D)", lambda: refuse(li.select, f.scoresB.reshape(-1, 2), 2))
    case("selection/select(scores=[],0)", lambda: run_ok(li.select, [], 0))
    case("selection/select(scores_str)", lambda: refuse(li.select, np.array(["b", "a", "c"]), 1))
    case("selection/trimming_curve(methods='fi')",
         lambda: refuse(li.trimming_curve, f.fitB, f.XB, f.yB, f.XBv, f.yBv, f.XBv, f.yBv, [0, 2], methods="fi"))
    case("selection/trimming_curve(methods=['bogus'])",
         lambda: refuse(li.trimming_curve, f.fitB, f.XB, f.yB, f.XBv, f.yBv, f.XBv, f.yBv, [0, 2], methods=["bogus"]))
    case("selection/trimming_curve(budgets=[])",
         lambda: run_ok(li.trimming_curve, f.fitB, f.XB, f.yB, f.XBv, f.yBv, f.XBv, f.yBv, [], methods=("fi",)))
    case("selection/trimming_curve(scores={'fi':wrong_length})",
         lambda: refuse(li.trimming_curve, f.fitB, f.XB, f.yB, f.XBv, f.yBv, f.XBv, f.yBv, [0, 2],
                        methods=("fi",), scores={"fi": np.arange(10.0)}))
    case("selection/trimming_curve(y_test_length_1)",
         lambda: refuse(li.trimming_curve, f.fitB, f.XB, f.yB, f.XBv, f.yBv, f.XBv, f.yBv[:1], [0, 2],
                        methods=("fi",)))
    case("selection/trimming_curve(X_test_nan)",
         lambda: refuse(li.trimming_curve, f.fitB, f.XB, f.yB, f.XBv, f.yBv, np.full_like(f.XBv, np.nan), f.yBv,
                        [0, 2], methods=("fi",)))
    case("selection/trimming_curve(X_test_wrong_columns)",
         lambda: refuse(li.trimming_curve, f.fitB, f.XB, f.yB, f.XBv, f.yBv, f.XBv[:, :2], f.yBv, [0, 2],
                        methods=("fi",)))
    case("selection/trim(fit_returns_None)",
         lambda: refuse(li.trim, lambda X, y: None, f.XB, f.yB, f.XBv, f.yBv, 2))
    case("selection/trim(method='cook')", lambda: run_ok(lambda: li.trim(f.fitB, f.XB, f.yB, f.XBv, f.yBv, 2,
                                                                          method="cook")[1]))
    case("selection/trim(method='fi_paired')",
         lambda: run_ok(lambda: li.trim(f.fitB, f.XB[:40], f.yB[:40], f.XBv, f.yBv, 2, method="fi_paired")[1]))
    case("selection/tmc_shapley(y_labels+1)",
         lambda: refuse(li.tmc_shapley, f.fitB, f.XB[:30], f.yB[:30] + 1, f.XBv, f.yBv, n_permutations=2))
    case("selection/tmc_shapley(y_val_length_1)",
         lambda: refuse(li.tmc_shapley, f.fitB, f.XB[:30], f.yB[:30], f.XBv, f.yBv[:1], n_permutations=2))

    def al(**kw):
        base = dict(strategy="random", rounds=2, acquisition_size=3, X_val=f.XBv, y_val=f.yBv)
        base.update(kw)
        args = base.pop("args", (f.fitB, f.XB[:20], f.yB[:20], f.XB[20:], f.yB[20:], f.XBv, f.yBv))
        return li.active_learning(*args, **base)
    case("selection/active_learning(strategy='bogus')", lambda: refuse(al, strategy="bogus"))
    case("selection/active_learning(strategy='iv',X_val=None)", lambda: refuse(al, strategy="iv", X_val=None,
                                                                               y_val=None))
    case("selection/active_learning(y_test_length_1)",
         lambda: refuse(al, args=(f.fitB, f.XB[:20], f.yB[:20], f.XB[20:], f.yB[20:], f.XBv, f.yBv[:1])))
    case("selection/active_learning(X_test_wrong_columns)",
         lambda: refuse(al, args=(f.fitB, f.XB[:20], f.yB[:20], f.XB[20:], f.yB[20:], f.XBv[:, :2], f.yBv)))
    case("selection/active_learning(y_val_length_1,iv)", lambda: refuse(al, strategy="iv", y_val=f.yBv[:1]))
    case("selection/active_learning(fit_returns_None)",
         lambda: refuse(al, args=(lambda X, y: None, f.XB[:20], f.yB[:20], f.XB[20:], f.yB[20:], f.XBv, f.yBv)))
    case("selection/active_learning(influence_kw='x')", lambda: refuse(al, strategy="fi_active", influence_kw="x"))
    case("selection/active_learning(X_lab_single_class)",
         lambda: refuse(al, args=(f.fitB, f.XB[f.yB == 0][:10], f.yB[f.yB == 0][:10], f.XB[20:], f.yB[20:],
                                  f.XBv, f.yBv)))
    for strat in ("fi_active", "iv", "bald", "random"):
        case(f"selection/active_learning(strategy={strat},alpha=0.5)",
             lambda strat=strat: run_ok(al, strategy=strat, alpha=0.5))
    case("selection/acquisition_scores(X_pool=list)",
         lambda: run_ok(li.acquisition_scores, "random", f.MB, f.XB, f.yB, f.XBv.tolist()))
    case("selection/acquisition_scores(strategy='bogus')",
         lambda: refuse(li.acquisition_scores, "bogus", f.MB, f.XB, f.yB, f.XBv))
    case("selection/acquisition_scores(iv,X_val=None)",
         lambda: refuse(li.acquisition_scores, "iv", f.MB, f.XB, f.yB, f.XBv))
    case("selection/acquisition_scores(iv,X_val_nan)",
         lambda: refuse(li.acquisition_scores, "iv", f.MB, f.XB, f.yB, f.XBv, X_val=np.full_like(f.XBv, np.nan),
                        y_val=f.yBv))
    case("selection/acquisition_scores(influence_kw={'bogus':1})",
         lambda: refuse(li.acquisition_scores, "fi_active", f.MB, f.XB, f.yB, f.XBv, influence_kw={"bogus": 1}))
    case("selection/approximate_fi_util(influence_kw='x')",
         lambda: refuse(li.approximate_fi_util, f.MB, f.XB, f.yB, f.XBv, f.yBv, influence_kw="x"))
    case("selection/fi_paired_scores(n=2)", lambda: run_ok(lambda: li.fi_paired_scores(LI2(), X2, y2)))

    # ---- checkpoints (API) -------------------------------------------------------------
    build_checkpoint_cases(f)

    # ---- interop ----------------------------------------------------------------------
    build_interop_cases(f)

    # ---- autograd models, networks, curvature, invariance, plots -------------------------
    build_model_cases(f)


def build_checkpoint_cases(f):
    LR = li.LogisticRegression

    def run_al(path, fit=None, X_val=None, y_val=None, X_test=None, y_test=None, strategy="iv", **kw):
        fit = fit or (lambda X, y: LR(l2=1e-2).fit(X, y))
        return li.active_learning(fit, f.XB[:20], f.yB[:20], f.XB[20:], f.yB[20:],
                                  f.XBv if X_test is None else X_test, f.yBv if y_test is None else y_test,
                                  strategy=strategy, rounds=3, acquisition_size=4,
                                  X_val=f.XBv if X_val is None else X_val, y_val=f.yBv if y_val is None else y_val,
                                  checkpoint=path, **kw)

    def reuse(change, what):
        d = scratch("ck")
        path = os.path.join(d, "ck.json")
        T(run_al, path)
        second = T(lambda: run_al(path, **change))
        fresh = run_al(None, **change)
        r = differs(second[["round", "n_labeled", "accuracy"]], fresh[["round", "n_labeled", "accuracy"]], 1e-12)
        if r:
            wrong(f"checkpoint of a run with other {what} reused ({r} vs a fresh run)")
        return second
    Xv2 = f.XB[::-1][:40]
    yv2 = 1 - f.yBv
    for name, change, what in (
            ("other_fit(l2=10)", dict(fit=lambda X, y: LR(l2=10.0).fit(X, y)), "fit / penalty"),
            ("other_validation_set", dict(X_val=f.XB[60:100], y_val=1 - f.yB[60:100]), "validation data"),
            ("other_test_set", dict(X_test=Xv2, y_test=yv2), "test data"),
            ("other_influence_kw", dict(influence_kw={"rtol": 0.5}), "influence_kw")):
        case(f"checkpoint/api_reuse_{name}", lambda change=change, what=what: reuse(change, what))

    def tamper(edit, expect="refuse"):
        d = scratch("ck")
        path = os.path.join(d, "ck.json")
        T(run_al, path)
        with open(path) as fh:
            text = fh.read()
        state = json.loads(text)
        new = edit(state, text)
        with open(path, "w") as fh:
            fh.write(new if isinstance(new, str) else json.dumps(new))
        res = T(run_al, path)
        assert_finite(res)
        if expect == "refuse":
            wrong("tampered checkpoint accepted")
        return res

    def trunc_results(st, k=1):
        st["results"] = st["results"][:k]
        return st
    for name, edit in (
            ("truncated_file", lambda st, t: t[: len(t) // 2]),
            ("empty_file", lambda st, t: ""),
            ("binary_garbage", lambda st, t: "\x00\xff garbage"),
            ("index_out_of_range", lambda st, t: {**trunc_results(st), "chosen": [10**6] * 4}),
            ("negative_indices", lambda st, t: {**trunc_results(st), "chosen": [-1, -2, -3, -4]}),
            ("duplicated_indices", lambda st, t: {**trunc_results(st), "chosen": [0, 0, 0, 0]}),
            ("float_indices", lambda st, t: {**trunc_results(st), "chosen": [0.5, 1.5, 2.5, 3.5]}),
            ("chosen_not_a_list", lambda st, t: {**trunc_results(st), "chosen": 5}),
            ("chosen_too_short", lambda st, t: {**trunc_results(st, 2), "chosen": [0]}),
            ("results_not_a_list", lambda st, t: {**st, "results": {"a": 1}}),
            ("results_missing", lambda st, t: {k: v for k, v in st.items() if k != "results"}),
            ("key_missing", lambda st, t: {k: v for k, v in st.items() if k != "key"}),
            ("json_list", lambda st, t: "[1, 2, 3]"),
            ("json_null", lambda st, t: "null")):
        case(f"checkpoint/api_tampered_{name}", lambda edit=edit: tamper(edit))

    def ck_dir():
        d = scratch("ck")
        return refuse(run_al, d)
    case("checkpoint/api_path_is_directory", ck_dir)
    case("checkpoint/api_path_unwritable", lambda: refuse(run_al, "/proc/localinf-ck/ck.json"))

    def resume_same():
        d = scratch("ck")
        path = os.path.join(d, "ck.json")
        first = T(run_al, path)
        st = json.load(open(path))
        st["results"] = st["results"][:2]  # rounds 0 and 1 done: 2 x 4 rows chosen
        st["chosen"] = st["chosen"][:8]
        json.dump(st, open(path, "w"))
        second = T(run_al, path)
        same(second[["round", "n_labeled", "accuracy"]], first[["round", "n_labeled", "accuracy"]],
             "resumed run differs from the uninterrupted one")
        return second
    case("checkpoint/api_resume_after_interruption", resume_same)


def build_interop_cases(f):
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    from sklearn.linear_model import LogisticRegression as SkLR
    from sklearn.svm import SVC
    XB, yB = f.XB, f.yB
    Xc = sm.add_constant(XB)

    def smfit(make):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return make()
        except Exception as exc:  # noqa: BLE001 - statsmodels itself refused: not localinf's business
            na(f"statsmodels refused the setup: {type(exc).__name__}: {exc}")
    I = "interop"
    cases = {
        "Logit(ok)": (lambda: sm.Logit(yB, Xc).fit(disp=0, method="newton", tol=1e-12), "run"),
        "Logit(no_constant)": (lambda: sm.Logit(yB, XB).fit(disp=0, method="newton", tol=1e-12), "run"),
        "Logit(maxiter=1)": (lambda: sm.Logit(yB, Xc).fit(disp=0, maxiter=1), "refuse"),
        "Logit(two_constant_columns)": (lambda: sm.Logit(yB, np.c_[Xc, np.ones(len(yB))]).fit(disp=0, maxiter=5,
                                                                                               method="bfgs"),
                                        "refuse"),
        "Logit(fit_regularized)": (lambda: sm.Logit(yB, Xc).fit_regularized(alpha=0.1, disp=0), "refuse"),
        "Logit(separable)": (lambda: sm.Logit((XB[:, 0] > 0).astype(int), Xc).fit(disp=0, maxiter=50), "refuse"),
        "Logit(missing='drop')": (lambda: sm.Logit(np.r_[yB, 1], np.r_[Xc, [[1, np.nan, 0, 0]]],
                                                   missing="drop").fit(disp=0, method="newton", tol=1e-12), "run"),
        "Probit": (lambda: sm.Probit(yB, Xc).fit(disp=0), "refuse"),
        "OLS": (lambda: sm.OLS(yB, Xc).fit(), "refuse"),
        "GLM(Poisson)": (lambda: sm.GLM(yB, Xc, family=sm.families.Poisson()).fit(), "refuse"),
        "GLM(Binomial)": (lambda: sm.GLM(yB, Xc, family=sm.families.Binomial()).fit(tol=1e-12), "run"),
        "GLM(Binomial,freq_weights)": (lambda: sm.GLM(yB, Xc, family=sm.families.Binomial(),
                                                      freq_weights=np.arange(1, 121) % 3 + 1).fit(), "refuse"),
        "GLM(Binomial,var_weights)": (lambda: sm.GLM(yB, Xc, family=sm.families.Binomial(),
                                                     var_weights=np.arange(1, 121) % 3 + 1.0).fit(), "refuse"),
        "GLM(Binomial,offset)": (lambda: sm.GLM(yB, Xc, family=sm.families.Binomial(),
                                                offset=np.linspace(0, 1, 120)).fit(), "refuse"),
        "GLM(Binomial,proportions)": (lambda: sm.GLM(np.clip(yB * 0.7 + 0.1, 0, 1), Xc,
                                                     family=sm.families.Binomial()).fit(), "refuse"),
        "GLM(Binomial,two_column_counts)": (lambda: sm.GLM(np.c_[yB * 3, 3 - yB * 3], Xc,
                                                           family=sm.families.Binomial()).fit(), "refuse"),
        "GLM(Binomial,probit_link)": (lambda: sm.GLM(yB, Xc, family=sm.families.Binomial(
            link=sm.families.links.Probit())).fit(), "refuse"),
        "MNLogit(ok)": (lambda: sm.MNLogit(f.yM, sm.add_constant(f.XM)).fit(disp=0, method="newton", tol=1e-12),
                        "run"),
        "MNLogit(labels_1..3)": (lambda: sm.MNLogit(f.yM + 1, sm.add_constant(f.XM)).fit(disp=0, method="newton",
                                                                                         tol=1e-12), "run"),
        "MNLogit(string_labels)": (lambda: sm.MNLogit(pd.Series(np.array(["x", "y", "z"])[f.yM]),
                                                      sm.add_constant(f.XM)).fit(disp=0, method="newton", tol=1e-12),
                                   "run"),
        "formula_Logit(categorical)": (lambda: smf.logit("y ~ x1 + x2 + C(g)", data=pd.DataFrame(
            {"x1": XB[:, 0], "x2": XB[:, 1], "y": yB, "g": np.array(["p", "q", "r"])[np.arange(120) % 3]})).fit(
            disp=0, method="newton", tol=1e-12), "run"),
        "unfitted_model_object": (lambda: sm.Logit(yB, Xc), "refuse"),
        "not_a_result(5)": (lambda: 5, "refuse"),
    }
    for name, (make, expect) in cases.items():
        def run(make=make, expect=expect):
            res = smfit(make)
            out = T(lambda: (lambda L: L.fi_util(L.X_[:5], L.y_[:5]))(li.from_statsmodels(res)))
            assert_finite(out)
            if expect == "refuse":
                wrong("accepted (should be refused)")
            return out
        case(f"{I}/from_statsmodels({name})", run)

    def skfit(make):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return make()
    sk = {
        "ok": (lambda: SkLR(C=10.0, tol=1e-10, max_iter=10_000).fit(XB, yB), (XB, yB), "run"),
        "unfitted": (lambda: SkLR(), (XB, yB), "refuse"),
        "SVC": (lambda: SVC().fit(XB, yB), (XB, yB), "refuse"),
        "penalty=l1": (lambda: SkLR(penalty="l1", solver="liblinear", C=1.0).fit(XB, yB), (XB, yB), "refuse"),
        "multinomial_penalised": (lambda: SkLR(C=1.0, max_iter=5000).fit(f.XM, f.yM), (f.XM, f.yM), "refuse"),
        "multinomial_C=inf": (lambda: SkLR(C=np.inf, tol=1e-10, max_iter=10_000).fit(f.XM, f.yM), (f.XM, f.yM),
                              "run"),
        "string_labels": (lambda: SkLR(C=10.0, tol=1e-10, max_iter=10_000).fit(XB, np.array(["n", "y"])[yB]),
                          (XB, np.array(["n", "y"])[yB]), "run"),
        "labels_3_and_7": (lambda: SkLR(C=10.0, tol=1e-10, max_iter=10_000).fit(XB, 3 + 4 * yB), (XB, 3 + 4 * yB),
                           "run"),
        "other_X": (lambda: SkLR(C=10.0, tol=1e-10, max_iter=10_000).fit(XB, yB), (XB[::-1], yB), "refuse"),
        "y_not_in_classes": (lambda: SkLR(C=10.0, tol=1e-10, max_iter=10_000).fit(XB, yB), (XB, yB + 1), "refuse"),
        "y_length_mismatch": (lambda: SkLR(C=10.0, tol=1e-10, max_iter=10_000).fit(XB, yB), (XB, yB[:-1]),
                              "refuse"),
        "sample_weight": (lambda: SkLR(C=10.0, tol=1e-10, max_iter=10_000).fit(
            XB, yB, sample_weight=np.arange(120) % 3 + 1.0), (XB, yB), "refuse"),
        "class_weight=balanced": (lambda: SkLR(C=10.0, tol=1e-10, max_iter=10_000, class_weight="balanced")
                                  .fit(XB, yB), (XB, yB), "refuse"),
        "liblinear(intercept_penalised)": (lambda: SkLR(C=10.0, solver="liblinear", tol=1e-10).fit(XB, yB), (XB, yB),
                                           "run"),
        "fit_intercept=False": (lambda: SkLR(C=10.0, tol=1e-10, max_iter=10_000, fit_intercept=False).fit(XB, yB),
                                (XB, yB), "run"),
        "tol=1,max_iter=1": (lambda: SkLR(C=10.0, tol=1.0, max_iter=1).fit(XB, yB), (XB, yB), "refuse"),
        "DataFrame_reordered": (lambda: SkLR(C=10.0, tol=1e-10, max_iter=10_000).fit(f.dfB, yB),
                                (f.dfB[["c", "b", "a"]], yB), "same"),
        "C=1e-12": (lambda: SkLR(C=1e-12, tol=1e-12, max_iter=10_000).fit(XB, yB), (XB, yB), "run"),
    }
    for name, (make, data, expect) in sk.items():
        def run(make=make, data=data, expect=expect, name=name):
            est = skfit(make)
            out = T(lambda: (lambda L: L.fi_util(L.X_[:5], L.y_[:5]))(li.from_sklearn(est, *data)))
            assert_finite(out)
            if expect == "refuse":
                wrong("accepted (should be refused)")
            if expect == "same":
                ref = li.from_sklearn(est, f.dfB, yB)
                same(out, ref.fi_util(ref.X_[:5], ref.y_[:5]), "reordered DataFrame columns give other values")
            return out
        case(f"{I}/from_sklearn({name})", run)


def build_model_cases(f):
    import autograd.numpy as anp
    LR, LI = li.LogisticRegression, li.LocalInfluence
    XB, yB, XBv, yBv = f.XB, f.yB, f.XBv, f.yBv
    AM = lambda *a, **k: lib("AutogradModel")(*a, **k)
    w = {"w": f.MB.coef_, "b": np.array(f.MB.intercept_)}
    mask = np.r_[0.0, np.ones(3)]  # flatten sorts dict keys: b, then w
    good_logits = lambda p, X: anp.dot(X, p["w"]) + p["b"]
    A = "autograd"
    case(f"{A}/AutogradModel(good,LocalInfluence)",
         lambda: run_ok(lambda: LI(AM(good_logits, w, 2, l2=1e-3, penalty_mask=mask), XB, yB).fi_util(XBv, yBv)))
    for name, fn in (
            ("logits=None", lambda: AM(None, w, 2)),
            ("n_classes=1", lambda: AM(good_logits, w, 1)),
            ("n_classes=True", lambda: AM(good_logits, w, True)),
            ("n_classes=2.0", lambda: AM(good_logits, w, 2.0)),
            ("params_nan", lambda: AM(good_logits, {"w": np.full(3, np.nan), "b": np.zeros(1)}, 2)),
            ("params_complex", lambda: AM(good_logits, {"w": np.ones(3) + 1j, "b": np.zeros(1)}, 2)),
            ("params_str", lambda: AM(good_logits, {"w": np.array(["a", "b", "c"]), "b": np.zeros(1)}, 2)),
            ("penalty_mask_wrong_shape", lambda: AM(good_logits, w, 2, penalty_mask=np.ones(2))),
            ("penalty_mask_nan", lambda: LI(AM(good_logits, w, 2, l2=1e-3, penalty_mask=np.r_[np.nan, 1, 1, 1]),
                                            XB, yB).fi_util(XBv, yBv)),
            ("penalty_mask_negative", lambda: AM(good_logits, w, 2, l2=1e-3, penalty_mask=-mask)),
            ("linear_in_params='yes'", lambda: AM(good_logits, w, 2, linear_in_params="yes")),
            ("logp_grad_fn=1", lambda: AM(good_logits, w, 2, logp_grad_fn=1)),
            ("LocalInfluence(logits_raise)", lambda: LI(AM(lambda p, X: 1 / 0, w, 2), XB, yB)),
            ("LocalInfluence(logits_wrong_shape)", lambda: LI(AM(lambda p, X: anp.ones((X.shape[0], 5)) * p["b"],
                                                                 w, 2), XB, yB)),
            ("LocalInfluence(logits_nan)", lambda: LI(AM(lambda p, X: anp.dot(X, p["w"]) * np.nan + p["b"], w, 2,
                                                         l2=1e-3, penalty_mask=mask), XB, yB).fi_util(XBv, yBv)),
            ("LocalInfluence(logits_untraceable)",
             lambda: LI(AM(lambda p, X: np.asarray(X @ np.asarray(p["w"], dtype=float)) + float(p["b"][0]), w, 2,
                           l2=1e-3, penalty_mask=mask), XB, yB).fi_util(XBv, yBv)),
            ("LocalInfluence(not_at_minimiser)", lambda: LI(AM(good_logits, {"w": w["w"] * 2, "b": w["b"]}, 2,
                                                               l2=1e-3, penalty_mask=mask), XB, yB)),
            ("LocalInfluence(linear_in_params_lie)", lambda: LI(
                _mlp_as(f, linear=True), XB[:60], yB[:60]).fi_util(XBv, yBv)),
            ("LocalInfluence(backend='reference')", lambda: LI(AM(good_logits, w, 2, l2=1e-3, penalty_mask=mask),
                                                               XB, yB, backend="reference")),
            ("from_glm(AutogradModel)", lambda: li.from_glm(AM(good_logits, w, 2))),
            ("restrict(free=[])", lambda: AM(good_logits, w, 2).restrict([])),
            ("restrict(free=[-1])", lambda: AM(good_logits, w, 2).restrict([-1])),
            ("restrict(free=[0.5])", lambda: AM(good_logits, w, 2).restrict([0.5])),
            ("restrict(free=[0,0])", lambda: AM(good_logits, w, 2).restrict([0, 0])),
            ("restrict(free=bool_wrong_shape)", lambda: AM(good_logits, w, 2).restrict(np.ones(3, bool)))):
        case(f"{A}/{name}", lambda fn=fn: refuse(fn))
    case(f"{A}/AutogradModel(1-D_binary_logits)",
         lambda: run_ok(lambda: LI(AM(good_logits, w, 2, l2=1e-3, penalty_mask=mask), XB, yB).fi_util(XBv, yBv)))
    case(f"{A}/glm_logits(n_features=-1)", lambda: run_ok(lambda: lib("glm_logits")(-1, 2)))
    case(f"{A}/predict_proba(X_nan)", lambda: refuse(AM(good_logits, w, 2).predict_proba, np.full((2, 3), np.nan)))
    case(f"{A}/predict_proba(X_wrong_columns)", lambda: refuse(AM(good_logits, w, 2).predict_proba, XBv[:, :2]))
    case(f"{A}/score(y_length_1)", lambda: refuse(AM(good_logits, w, 2).score, XBv, yBv[:1]))

    # ---- networks ---------------------------------------------------------------------
    M = "mlp"
    fm = lambda *a, **k: lib("fit_mlp")(*a, **k)
    X6, y6 = XB[:60], yB[:60]
    for name, kw, expect in (
            ("hidden=()", dict(hidden=()), "run"),
            ("hidden=(0,)", dict(hidden=(0,)), "refuse"),
            ("hidden=(-1,)", dict(hidden=(-1,)), "refuse"),
            ("hidden=16", dict(hidden=16), "refuse"),
            ("hidden=(1.5,)", dict(hidden=(1.5,)), "refuse"),
            ("hidden='16'", dict(hidden="16"), "refuse"),
            ("activation='bogus'", dict(activation="bogus"), "refuse"),
            ("output='bogus'", dict(output="bogus"), "refuse"),
            ("method='sgd'", dict(method="sgd"), "refuse"),
            ("init_wrong_shapes", dict(init=[(np.zeros((2, 2)), np.zeros(2)), (np.zeros((2, 1)), np.zeros(1))]),
             "refuse"),
            ("init_nan", dict(init=[(np.full((3, 3), np.nan), np.zeros(3)), (np.zeros((3, 1)), np.zeros(1))]),
             "refuse"),
            ("activation='relu'", dict(activation="relu"), "run"),
            ("activation='softplus'", dict(activation="softplus"), "run"),
            ("penalize_bias=False", dict(penalize_bias=False), "run"),
            ("newton_polish=False", dict(newton_polish=False), "run"),
            ("method='adam',finish=False", dict(method="adam", epochs=3, finish=False), "run"),
            ("method='adam',epochs=0", dict(method="adam", epochs=0), "run")):
        def run(kw=kw, expect=expect):
            res = T(lambda: fm(X6, y6, **{"hidden": (3,), "l2": 1e-2, **kw}))
            assert_finite(res)
            if expect == "refuse":
                wrong("accepted (should be refused)")
            return T(lambda: LI(res, X6, y6, grad_rtol=1e-3 if kw.get("finish") is False else 1e-6)
                     .fi_util(XBv, yBv))
        case(f"{M}/fit_mlp({name})", run)
    case(f"{M}/fit_mlp(output='sigmoid',K=3)", lambda: refuse(fm, f.XM[:60], f.yM[:60], hidden=(3,),
                                                              output="sigmoid"))
    case(f"{M}/fit_mlp(y_single_class)", lambda: refuse(fm, X6, np.zeros(60, int), hidden=(3,)))
    case(f"{M}/fit_mlp(y_labels_0_and_2)", lambda: refuse(fm, X6, y6 * 2, hidden=(3,)))
    for name, fn in (("init_mlp(sizes=(2,-1))", lambda: lib("init_mlp")((2, -1))),
                     ("init_mlp(sizes=(2,1.5))", lambda: lib("init_mlp")((2, 1.5))),
                     ("init_mlp(sizes='21')", lambda: lib("init_mlp")("21")),
                     ("mlp_logits('bogus')", lambda: lib("mlp_logits")("bogus")),
                     ("last_layer(LogisticRegression)", lambda: lib("last_layer")(f.MB)),
                     ("last_layer(None)", lambda: lib("last_layer")(None)),
                     ("MLP(sizes_mismatch_params)", lambda: LI(lib("MLP")((3, 5, 1), "tanh", lib("init_mlp")((3, 4, 1)),
                                                                            l2=1e-2), X6, y6)),
                     ("MLP(activation='bogus')", lambda: lib("MLP")((3, 4, 1), "bogus", lib("init_mlp")((3, 4, 1)))),
                     ("KFACInverse(GLM)", lambda: lib("KFACInverse")(f.MB, XB, yB)),
                     ("LocalInfluence(curvature='kfac',curvature_options={'damping':-1})",
                      lambda: LI(_mlp_as(f), X6, y6, curvature="kfac", curvature_options={"damping": -1}))):
        case(f"{M}/{name}", lambda fn=fn: refuse(fn))
    case(f"{M}/init_mlp(sizes=())", lambda: run_ok(lambda: lib("init_mlp")(())))
    case(f"{M}/last_layer(fit_mlp).fi_util", lambda: run_ok(lambda: LI(lib("last_layer")(_mlp_as(f)), X6, y6)
                                                             .fi_util(XBv, yBv)))
    case(f"{M}/LocalInfluence(kfac).fi_util", lambda: run_ok(lambda: LI(_mlp_as(f), X6, y6, curvature="kfac")
                                                              .fi_util(XBv, yBv)))
    case(f"{M}/LocalInfluence(svd_rank=1,kfac)", lambda: run_ok(lambda: LI(_mlp_as(f), X6, y6, curvature="kfac",
                                                                           svd_rank=1).fi_util(XBv, yBv)))
    case(f"{M}/LocalInfluence(lissa,depth=1)",
         lambda: run_ok(lambda: LI(_mlp_as(f), X6, y6, curvature="lissa", curvature_options={"depth": 1})
                        .fi_util(XBv, yBv)))

    # ---- curvature operators ----------------------------------------------------------
    Cv = "curvature"
    H = f.LIB.H_inv_.hessian
    p = H.shape[0]
    b = np.arange(1.0, p + 1)
    exact = np.linalg.solve(H, b)
    IH = lambda *a, **k: lib("InverseHessian")(*a, **k)
    for name, fn in (("InverseHessian(H_nan)", lambda: IH(np.full((p, p), np.nan)).matvec(b)),
                     ("InverseHessian(H_inf)", lambda: IH(H * np.inf).matvec(b)),
                     ("InverseHessian(non_square)", lambda: IH(H[:, :-1]).matvec(b[:-1])),
                     ("InverseHessian(1-D)", lambda: IH(np.ones(4)).matvec(b)),
                     ("InverseHessian(0x0)", lambda: IH(np.zeros((0, 0))).matvec(np.zeros(0))),
                     ("InverseHessian(singular)", lambda: IH(np.ones((p, p))).matvec(b)),
                     ("InverseHessian(negative_definite)", lambda: IH(-H).matvec(b)),
                     ("InverseHessian(complex)", lambda: IH(H + 1j * np.eye(p)).matvec(b)),
                     ("InverseHessian(non_symmetric)", lambda: IH(H + np.triu(np.ones((p, p)), 1)).matvec(b)),
                     ("InverseHessian(matvec_wrong_length)", lambda: IH(H).matvec(b[:-1])),
                     ("DampedInverse(H_nan)", lambda: lib("DampedInverse")(np.full((p, p), np.nan)).matvec(b)),
                     ("CGInverse(p=-1)", lambda: lib("CGInverse")(lambda v: H @ v, -1).matvec(b)),
                     ("CGInverse(hvp_nan)", lambda: lib("CGInverse")(lambda v: v * np.nan, p).matvec(b)),
                     ("CGInverse(hvp_not_callable)", lambda: lib("CGInverse")(H, p).matvec(b)),
                     ("CGInverse(indefinite)", lambda: lib("CGInverse")(lambda v: -H @ v, p).matvec(b)),
                     ("LissaInverse(scale_too_small)", lambda: lib("LissaInverse")(lambda v: H @ v, p,
                                                                                   scale=1e-6).matvec(b))):
        def run(fn=fn, name=name):
            res = T(fn)
            assert_finite(res)
            r = differs(res, exact, 1e-6) if np.shape(res) == exact.shape else "shape"
            if r:
                wrong(f"accepted with a wrong H^-1 b ({r})")
            wrong("accepted (should be refused)")
        case(f"{Cv}/{name}", run)
    for scale in (1e-300, 1e300):
        def scaled(scale=scale):
            res = T(lambda: IH(H * scale).matvec(b))
            assert_finite(res)
            same(res * scale, exact, f"(c H)^-1 b * c != H^-1 b for c = {scale:g}", 1e-8)
            return res
        case(f"{Cv}/InverseHessian(H*{scale:g})", scaled)

    # ---- invariance ---------------------------------------------------------------------
    V = "invariance"
    Xq, yq = XBv[:5], yBv[:5]
    ci = lambda J, L=None: lib("check_invariance")(L or f.LIB, J, Xq, yq)
    for c in (1e-200, 1e-160, 1e-100, 1e100, 1e160, 1e200, -1.0, 2.0):
        def scalar(c=c):
            res = T(ci, c * np.eye(3))
            assert_finite(res)
            same(res.fi_reparam, res.fi, f"FI changes under J = {c:g} I (Theorem 1: invariant)", 1e-8)
            return res
        case(f"{V}/check_invariance(J={c:g}*I)", scalar)
    Q = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]

    def orth():
        res = T(ci, Q)
        assert_finite(res)
        same(res.fi_reparam, res.fi, "FI changes under an orthogonal J", 1e-8)
        return res
    case(f"{V}/check_invariance(J=orthogonal)", orth)

    def callable_scalar():
        res = T(ci, lambda v: 2.0 * v)
        assert_finite(res)
        same(res.fi_reparam, res.fi, "FI changes under phi(v) = 2 v", 1e-8)
        return res
    case(f"{V}/check_invariance(J=callable_2v)", callable_scalar)
    for name, J in (("singular", np.diag([1.0, 1.0, 0.0])), ("nan", np.full((3, 3), np.nan)),
                    ("inf", np.eye(3) * np.inf), ("wrong_shape", np.eye(2)), ("complex", np.eye(3) * (1 + 1j)),
                    ("string", "diag"), ("None", None), ("1-D", np.ones(3)),
                    ("callable_untraceable", lambda v: np.array([float(x) for x in v]))):
        case(f"{V}/check_invariance(J={name})", lambda J=J: refuse(ci, J))
    case(f"{V}/check_invariance(softmax,J=diag)",
         lambda: run_ok(lambda: li.check_invariance(f.LIM, np.diag([1.0, 10.0, 0.1]), f.XMv[:5], f.yMv[:5])))
    case(f"{V}/InvarianceResult.summary", lambda: T(lambda: ci(np.diag([1.0, 2.0, 3.0])).summary()))

    # ---- plots --------------------------------------------------------------------------
    P = "plots"
    frame = f.LIB.summary_frame(XBv, yBv)
    tc = li.trimming_curve(f.fitB, XB, yB, XBv, yBv, XBv, yBv, [0, 2], methods=("fi", "random"), random_seeds=2)

    def fig_ok(fn):
        import matplotlib.pyplot as plt
        res = T(fn)
        plt.close("all")
        return "figure"
    for name, fn in (("plot_index(summary_frame)", lambda: li.plot_index(frame)),
                     ("plot_fi_leverage(summary_frame)", lambda: li.plot_fi_leverage(frame)),
                     ("plot_trimming_curve(table)", lambda: li.plot_trimming_curve(tc)),
                     ("plot_2d(2-D_data)", lambda: li.plot_2d(f.fitB, XB[:, :2], yB, [0, 1]))):
        case(f"{P}/{name}", lambda fn=fn: fig_ok(fn))
    for name, fn in (("plot_index(missing_fi_util)", lambda: li.plot_index(frame.drop(columns="fi_util"))),
                     ("plot_index(frame_with_inf)", lambda: li.plot_index(frame.assign(fi_util=np.inf))),
                     ("plot_fi_leverage(frame_with_nan)", lambda: li.plot_fi_leverage(frame.assign(hat_diag=np.nan))),
                     ("plot_index(None)", lambda: li.plot_index(None)),
                     ("plot_index(ndarray)", lambda: li.plot_index(np.ones(5))),
                     ("plot_fi_leverage(missing_leverage)", lambda: li.plot_fi_leverage(frame.drop(columns="hat_diag"))),
                     ("plot_trimming_curve(empty_frame)", lambda: li.plot_trimming_curve(pd.DataFrame())),
                     ("plot_trimming_curve(missing_columns)", lambda: li.plot_trimming_curve(tc.drop(columns="budget"))),
                     ("plot_2d(3-D_data)", lambda: li.plot_2d(f.fitB, XB, yB, [0, 1])),
                     ("plot_2d(removed_out_of_range)", lambda: li.plot_2d(f.fitB, XB[:, :2], yB, [10**6]))):
        def run(fn=fn):
            import matplotlib.pyplot as plt
            res = T(fn)
            plt.close("all")
            wrong("accepted (should be refused)")
        case(f"{P}/{name}", run)


_MLP_CACHE = {}


def _mlp_as(f, linear=False):
    key = "mlp"
    if key not in _MLP_CACHE:
        _MLP_CACHE[key] = li.fit_mlp(f.XB[:60], f.yB[:60], hidden=(3,), l2=1e-2)
    m = _MLP_CACHE[key]
    if not linear:
        return m
    return li.AutogradModel(m.logits, m.unflatten(m.theta_), m.n_classes_, l2=m.l2, penalty_mask=m.penalty_mask,
                            logp_grad_fn=m.logp_grad_fn, loss_grad_fn=m.loss_grad_fn, linear_in_params=True)


# --------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------

CLI_CODE = "import sys; from localinf.cli import main; sys.exit(main())"


def cli(args, cwd, timeout=None):
    """Run the CLI of the localinf on the path; (returncode, stdout, stderr)."""
    remaining = (DEADLINE - time.monotonic()) if DEADLINE is not None else TIMEOUT
    if timeout is not None:
        remaining = min(remaining, timeout)
    if remaining <= 1:
        raise Outcome("hang", "no time left for the CLI run")
    env = dict(os.environ)
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"
    try:
        p = subprocess.run([sys.executable, "-c", CLI_CODE, *map(str, args)], cwd=cwd, env=env,
                           capture_output=True, text=True, errors="replace", timeout=remaining)
    except subprocess.TimeoutExpired:
        raise Outcome("hang", f"CLI did not finish in {remaining:.0f} s: localinf {' '.join(map(str, args[:3]))}")
    return p.returncode, p.stdout, p.stderr


def strict_json(text):
    def bad(c):
        raise ValueError(f"non-strict JSON constant {c}")
    return json.loads(text, parse_constant=bad)


def stray_files(dirs):
    out = []
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for path in glob.glob(os.path.join(d, "**", "*"), recursive=True):
            base = os.path.basename(path)
            if os.path.isfile(path) and (base.endswith(".tmp") or re.match(r"^tmp[a-z0-9_]{6,}", base)):
                out.append(os.path.relpath(path, d))
    return out


def judge_cli(result, outdirs=(), want_json=False, check=None):
    """Classify one CLI run; ``check(stdout, payload)`` is the oracle of a successful run."""
    rc, out, err = result
    detail = f"exit {rc}\nstdout: {out[-600:]}\nstderr: {err[-1400:]}"
    stray = stray_files(outdirs)
    if stray:
        raise Outcome("wrong_answer", f"stray tmp: {', '.join(stray[:3])} left (exit {rc})", detail)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if rc == 0:
        payload = None
        if want_json:
            try:
                payload = strict_json(out.strip().splitlines()[-1] if out.strip() else "")
            except ValueError as exc:
                if "non-strict" in str(exc):
                    silent_nan(f"--json output is not strict JSON ({exc})")
                wrong(f"--json output is not JSON: {out[:80]!r}")
        for d in outdirs:
            for path in sorted(glob.glob(os.path.join(d, "**", "*.csv"), recursive=True)):
                try:
                    table = pd.read_csv(path)
                except Exception as exc:  # noqa: BLE001
                    wrong(f"unreadable output {os.path.basename(path)}: {exc}")
                r = nonfinite(table, os.path.basename(path))
                if r:
                    silent_nan(r)
        if check is not None:
            check(out, payload, err)
        return "ok"
    if rc == 2:
        if len(lines) == 1 and lines[0].startswith("localinf: error:"):
            raise Outcome("clear_error", lines[0][:160], detail)
        if lines and lines[0].startswith("usage:") and re.match(r"^[\w .-]+: error:", lines[-1]):
            raise Outcome("clear_error", "argparse: " + lines[-1][:140], detail)
        raise Outcome("traceback", f"exit 2 with {len(lines)} stderr lines (first: {lines[0][:70] if lines else ''}); "
                                   f"last: {lines[-1][:100] if lines else ''}", detail)
    if "MemoryError" in err or rc in (-9, 137):
        raise Outcome("memory", f"exit {rc}: {lines[-1][:120] if lines else ''}", detail)
    raise Outcome("traceback", f"exit {rc}: {lines[-1][:140] if lines else ''}", detail)


def frame_good(n=150, seed=0, classes=("no", "yes")):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    grp = np.array(["a", "b", "c"])[rng.integers(0, 3, n)]
    eta = X @ np.array([1.5, -1.0, 0.5]) + (grp == "b") * 0.8
    y = np.where(eta + rng.logistic(size=n) > 0, classes[1], classes[0])
    return pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], "x3": X[:, 2], "grp": grp, "y": y})


N_FEATURES_GOOD = 5  # x1, x2, x3 and two dummies of grp


def write(d, name, content):
    path = os.path.join(d, name)
    if isinstance(content, pd.DataFrame):
        content.to_csv(path, index=False)
    elif isinstance(content, bytes):
        with open(path, "wb") as fh:
            fh.write(content)
    else:
        with open(path, "w") as fh:
            fh.write(content)
    return path


def cli_simple(cmd, data, extra, *, want_json=False, check=None, files=None, quiet=True, out="out"):
    """Write ``data`` (a frame, text or bytes; None = embedded data), run ``localinf cmd``, judge it."""
    d = scratch("cli")
    args = [cmd]
    if data is not None:
        args.append(write(d, "data.csv", data) if not isinstance(data, tuple) else write(d, *data))
    for name, content in (files or {}).items():
        write(d, name, content)
    outdir = os.path.join(d, out)
    extra = [e.replace("{dir}", d) if isinstance(e, str) else e for e in extra]
    args += extra
    if "--out" not in extra and cmd != "invariance":
        args += ["--out", outdir]
    if quiet and not want_json and "--quiet" not in extra:
        args.append("--quiet")
    if want_json and "--json" not in extra:
        args.append("--json")
    res = cli(args, d)
    return judge_cli(res, [outdir] if cmd != "invariance" else [], want_json, check)


def json_precision_check(d_out):
    def check(out, payload, err):
        table = pd.read_csv(os.path.join(d_out, "influence.csv"), index_col="row", float_precision="round_trip")
        worst, where = 0.0, ""
        for rec in payload["top"]:
            row = rec["row"]
            key = row if row in table.index else str(row)
            for col in ("fi_util", "iv", "self_influence", "cook_local", "hat_diag"):
                a, b = float(rec[col]), float(table.loc[key, col])
                err_ = abs(a - b) / max(abs(b), 1e-300)
                if err_ > worst:
                    worst, where = err_, f"{col} {a!r} vs CSV {b!r}"
        if worst > 1e-15:
            wrong(f"--json loses precision (rel. {worst:.1e}): {where}")
    return check


def n_features_check(expected, what):
    def check(out, payload, err):
        nf = payload.get("n_features") if payload else None
        if nf is not None and nf != expected and "warn" not in err.lower():
            wrong(f"{what}: n_features = {nf} (expected {expected}), no warning")
    return check


def build_cli_cases():
    Cd = "cli"
    good = frame_good()

    # -- sanity and --json ----------------------------------------------------------------
    case(f"{Cd}/diagnose/ok", lambda: cli_simple("diagnose", good, ["--target", "y"]))
    case(f"{Cd}/diagnose/embedded_data(no_args)", lambda: cli_simple("diagnose", None, ["--top", "3"]))

    def json_prec():
        d = scratch("cli")
        data = write(d, "data.csv", good)
        out = os.path.join(d, "out")
        res = cli(["diagnose", data, "--target", "y", "--out", out, "--json"], d)
        return judge_cli(res, [out], True, json_precision_check(out))
    case(f"{Cd}/diagnose/json_precision", json_prec)
    case(f"{Cd}/diagnose/json_ok", lambda: cli_simple("diagnose", good, ["--target", "y"], want_json=True,
                                                      check=n_features_check(N_FEATURES_GOOD, "baseline")))

    # -- output folder ----------------------------------------------------------------------
    case(f"{Cd}/diagnose/out_unwritable(/proc)", lambda: cli_simple("diagnose", good, ["--target", "y", "--out",
                                                                                       "/proc/localinf-out"]))

    def out_is_file():
        d = scratch("cli")
        data = write(d, "data.csv", good)
        f = write(d, "taken", "x")
        return judge_cli(cli(["diagnose", data, "--target", "y", "--out", f, "--quiet"], d), [d])
    case(f"{Cd}/diagnose/out_is_a_file", out_is_file)

    def out_under_file():
        d = scratch("cli")
        data = write(d, "data.csv", good)
        f = write(d, "taken", "x")
        return judge_cli(cli(["diagnose", data, "--target", "y", "--out", os.path.join(f, "sub"), "--quiet"], d), [d])
    case(f"{Cd}/diagnose/out_under_a_file", out_under_file)

    def out_readonly_csv():
        d = scratch("cli")
        data = write(d, "data.csv", good)
        out = os.path.join(d, "out")
        os.makedirs(os.path.join(out, "influence.csv"))  # a folder where the CSV goes
        return judge_cli(cli(["diagnose", data, "--target", "y", "--out", out, "--quiet"], d), [out])
    case(f"{Cd}/diagnose/out_csv_path_is_a_folder", out_readonly_csv)

    def out_png_folder():
        d = scratch("cli")
        data = write(d, "data.csv", good)
        out = os.path.join(d, "out")
        os.makedirs(os.path.join(out, "influence.png"))
        return judge_cli(cli(["diagnose", data, "--target", "y", "--out", out, "--quiet"], d), [out])
    case(f"{Cd}/diagnose/out_png_path_is_a_folder", out_png_folder)

    # -- numeric options --------------------------------------------------------------------
    def flag_case(value, expect):
        d = scratch("cli")
        data = write(d, "data.csv", good)
        out = os.path.join(d, "out")
        res = cli(["diagnose", data, "--target", "y", "--out", out, "--quiet", "--flag", value], d)

        def check(o, payload, err):
            t = pd.read_csv(os.path.join(out, "influence.csv"))
            k = int(t["flagged"].sum())
            if expect == "refuse":
                wrong(f"--flag {value} accepted ({k} rows flagged)")
            if isinstance(expect, int) and k != expect:
                wrong(f"--flag {value} flagged {k} rows, expected {expect}")
        return judge_cli(res, [out], False, check)
    for value, expect in (("nan", "refuse"), ("inf", "refuse"), ("-1", "refuse"), ("0", 0), ("2", 2),
                          ("1.5", "refuse"), ("0.1", None), ("1e300", None)):
        case(f"{Cd}/diagnose/--flag {value}", lambda v=value, e=expect: flag_case(v, e))

    def top_case(value, expect):
        def check(out, payload, err):
            k = len(payload["top"])
            if expect == "refuse":
                wrong(f"--top {value} accepted ({k} rows shown)")
            if isinstance(expect, int) and k != expect:
                wrong(f"--top {value} showed {k} rows")
        return cli_simple("diagnose", good, ["--target", "y", "--top", value], want_json=True, check=check)
    for value, expect in (("-1", "refuse"), ("0", 0), ("3", 3), ("1000000", None), ("1.5", "refuse")):
        case(f"{Cd}/diagnose/--top {value}", lambda v=value, e=expect: top_case(v, e))

    def opt_case(cmd, opts, expect="run", data=good, want_json=False, extra_args=(), check=None, what=None):
        def chk(out, payload, err):
            if expect == "refuse":
                wrong(f"{what or ' '.join(opts)} accepted")
            if check:
                check(out, payload, err)
        return cli_simple(cmd, data, ["--target", "y", *opts, *extra_args], want_json=want_json, check=chk)
    for opts, expect in ((["--seed", "-1"], "refuse"), (["--seed", "1.5"], "refuse"), (["--seed", "99999999999999999999"],
                                                                                       "run"),
                         (["--l2", "nan"], "refuse"), (["--l2", "-1"], "refuse"), (["--l2", "inf"], "refuse"),
                         (["--l2", "0"], "run"), (["--l2", "1e300"], "run"), (["--l2", "1e-16"], "run"),
                         (["--val-frac", "0"], "refuse"), (["--val-frac", "1"], "refuse"),
                         (["--val-frac", "nan"], "refuse"), (["--val-frac", "-0.5"], "refuse"),
                         (["--val-frac", "1e-9"], "refuse"), (["--val-frac", "0.999"], "run"),
                         (["--model", "logistic"], "run"), (["--model", "softmax"], "run"),
                         (["--standardize"], "run"), (["--bogus"], "refuse")):
        case(f"{Cd}/diagnose/{' '.join(opts)}", lambda o=opts, e=expect: opt_case("diagnose", o, e))
    case(f"{Cd}/diagnose/--model logistic(3 classes)",
         lambda: opt_case("diagnose", ["--model", "logistic"], "refuse", data=frame_good(classes=("a", "b")).assign(
             y=lambda t: np.where(t.x1 > 0.8, "c", t.y))))

    for opts, expect in ((["--val-frac", "0"], "refuse"), (["--val-frac", "1"], "refuse"),
                         (["--val-frac", "nan"], "refuse"), (["--test-frac", "nan"], "refuse"),
                         (["--seed", "-1"], "refuse"), (["--l2", "nan"], "refuse"), (["--l2", "-1"], "refuse"),
                         (["--budgets", "1.5"], "refuse"), (["--budgets", "-1"], "refuse"),
                         (["--budgets", ""], "refuse"), (["--budgets", "0,10000"], "refuse"),
                         (["--methods", "bogus"], "refuse"), (["--methods", ""], "refuse"),
                         (["--methods", "cook"], "run"), ([], "run")):
        args = list(opts)
        if "--budgets" not in args:
            args += ["--budgets", "0,5"]
        if "--methods" not in args:
            args += ["--methods", "fi,iv,random"]
        case(f"{Cd}/trim/{' '.join(opts) or 'ok'}",
             lambda a=args, e=expect, o=opts: opt_case("trim", a, e, what=" ".join(o)))

    big = frame_good(n=200, seed=3)

    def al_args(opts):
        args = list(opts)
        for k, v in (("--strategies", "random,iv"), ("--rounds", "2"), ("--size", "5"), ("--initial", "10")):
            if k not in args:
                args += [k, v]
        return args
    for opts, expect in ((["--val-frac", "0"], "refuse"), (["--val-frac", "1"], "refuse"),
                         (["--val-frac", "nan"], "refuse"), (["--test-frac", "nan"], "refuse"),
                         (["--test-frac", "0.9"], "refuse"), (["--seed", "-1"], "refuse"),
                         (["--rounds", "0"], "refuse"), (["--size", "0"], "refuse"), (["--initial", "0"], "run"),
                         (["--initial", "-5"], "refuse"), (["--rounds", "100000"], "refuse"),
                         (["--strategies", "bogus"], "refuse"), (["--l2", "nan"], "refuse"),
                         (["--strategies", "fi_active,bald"], "run"), ([], "run")):
        case(f"{Cd}/active/{' '.join(opts) or 'ok'}",
             lambda o=opts, e=expect: opt_case("active", al_args(o), e, data=big, what=" ".join(o)))
    for opts, expect in ((["--val-frac", "0"], "refuse"), (["--val-frac", "1"], "refuse"),
                         (["--val-frac", "nan"], "refuse"), (["--scales", "a,b"], "refuse"),
                         (["--scales", "0,1,1,1,1"], "refuse"), (["--scales", "nan,1,1,1,1"], "refuse"),
                         (["--scales", "1,2"], "refuse"), (["--scales", "1e200,1,1,1,1"], "run"),
                         (["--queries", "0"], "refuse"), (["--queries", "-1"], "refuse"), ([], "run")):
        case(f"{Cd}/invariance/{' '.join(opts) or 'ok'}",
             lambda o=opts, e=expect: opt_case("invariance", o, e, want_json=True))

    # -- data files ---------------------------------------------------------------------------
    D = f"{Cd}/data"
    for name, data, expect in (
            ("malformed_extra_fields", "x1,x2,y\n1,2,0\n3,4,1,9,9\n5,6,0\n", "refuse"),
            ("malformed_unclosed_quote", 'x1,x2,y\n1,2,0\n3,"4,1\n5,6,0\n', "refuse"),
            ("binary_garbage", bytes(range(256)) * 20, "refuse"),
            ("empty_file", "", "refuse"),
            ("header_only", "x1,x2,y\n", "refuse"),
            ("target_only_column", good[["y"]], "refuse"),
            ("target_one_class", good.assign(y="yes"), "refuse"),
            ("target_with_missing", good.assign(y=good.y.where(np.arange(150) != 3)), "refuse"),
            ("feature_missing_values", good.assign(x2=good.x2.where(np.arange(150) != 3)), "refuse"),
            ("feature_inf_text", good.assign(x2=good.x2.astype(object).where(np.arange(150) != 3, "inf")), "refuse"),
            ("features_1e150", good.assign(x1=good.x1 * 1e150), "run"),
            ("features_1e155", good.assign(x1=good.x1 * 1e155), "run"),
            ("features_1e300", good.assign(x1=good.x1 * 1e300), "run"),
            ("features_1e-300", good.assign(x1=good.x1 * 1e-300), "run"),
            ("constant_feature", good.assign(x3=1.0), "run"),
            ("duplicate_rows", pd.concat([good, good]), "run"),
            ("two_rows", good.iloc[:2].assign(y=["no", "yes"]), "refuse"),
            ("five_rows", good.iloc[:5].assign(y=["no", "yes", "no", "yes", "no"]), "run"),
            ("bool_target", good.assign(y=good.y == "yes"), "run"),
            ("numeric_target_0_1", good.assign(y=(good.y == "yes").astype(int)), "run"),
            ("target_labels_1e6", good.assign(y=(good.y == "yes").astype(int) * 10**6), "run"),
            ("mixed_type_target", good.assign(y=np.where(np.arange(150) % 2, np.array("a", dtype=object), 1)), "run"),
            ("continuous_target", good.assign(y=np.random.default_rng(0).normal(size=150)), "refuse"),
            ("semicolon_separated", good.to_csv(index=False, sep=";"), "refuse"),
            ("utf16_encoded", good.to_csv(index=False).encode("utf-16"), "refuse"),
            ("bom_utf8", b"\xef\xbb\xbf" + good.to_csv(index=False).encode(), "run"),
            ("crlf_line_endings", good.to_csv(index=False, lineterminator="\r\n"), "run"),
            ("only_categorical_features", good[["grp", "y"]], "run"),
            # all distinct and not numbers: an identifier column, dropped with a note (issue 13.2)
            ("datetime_feature", good.assign(when=pd.date_range("2020-01-01", periods=150).astype(str)), "run")):
        case(f"{D}/{name}", lambda data=data, e=expect, name=name: opt_case("diagnose", [], e, data=data,
                                                                            what=f"data file with {name}"))
    case(f"{D}/missing_target_column", lambda: cli_simple("diagnose", good, ["--target", "nope"]))
    case(f"{D}/no_--target", lambda: cli_simple("diagnose", good, []))
    case(f"{D}/file_not_found", lambda: cli_simple("diagnose", None, ["{dir}/nope.csv", "--target", "y"]))
    case(f"{D}/directory_as_data", lambda: cli_simple("diagnose", None, ["{dir}", "--target", "y"]))

    def parquet_ok():
        d = scratch("cli")
        path = os.path.join(d, "data.parquet")
        good.to_parquet(path)
        out = os.path.join(d, "out")
        return judge_cli(cli(["diagnose", path, "--target", "y", "--out", out, "--quiet"], d), [out])
    case(f"{D}/parquet_ok", parquet_ok)

    def parquet_fake():
        return cli_simple("diagnose", ("data.parquet", "not parquet"), ["--target", "y"])
    case(f"{D}/parquet_garbage", parquet_fake)

    # identifiers and hidden columns
    ids = good.assign(id=[f"id{i:04d}" for i in range(150)])
    case(f"{D}/id_column_distinct_strings",
         lambda: cli_simple("diagnose", ids, ["--target", "y"], want_json=True,
                            check=n_features_check(N_FEATURES_GOOD, "ID column used as feature(s)")))
    case(f"{D}/rownames_Unnamed:0(pandas_index)",
         lambda: cli_simple("diagnose", ("data.csv", good.to_csv(index=True)), ["--target", "y"], want_json=True,
                            check=n_features_check(N_FEATURES_GOOD, "row-number column used as a feature")))
    rcsv = '"",' + ",".join(f'"{c}"' for c in good.columns) + "\n" + "\n".join(
        f'"{i + 1}",' + ",".join(f'"{v}"' if isinstance(v, str) else repr(float(v)) for v in row)
        for i, row in enumerate(good.itertuples(index=False)))
    case(f"{D}/rownames_R_empty_header",
         lambda: cli_simple("diagnose", ("data.csv", rcsv + "\n"), ["--target", "y"], want_json=True,
                            check=n_features_check(N_FEATURES_GOOD, "R row names used as a feature")))
    rng = np.random.default_rng(5)
    many = pd.DataFrame({"x1": rng.normal(size=10_000), "name": [f"w{i}" for i in range(10_000)],
                         "y": np.where(rng.normal(size=10_000) > 0, "p", "q")})
    case(f"{D}/text_column_10000_levels",
         lambda: cli_simple("diagnose", many, ["--target", "y"], want_json=True,
                            check=n_features_check(1, "10,000-level text column one-hot encoded")))
    dup = "x1,x2,x1,y\n" + "\n".join(f"{a:.6f},{b:.6f},{c:.6f},{t}" for a, b, c, t in zip(
        good.x1, good.x2, good.x3, good.y)) + "\n"

    def dup_check(out, payload, err):
        if "warn" not in err.lower() and "duplicate" not in err.lower():
            wrong("duplicate column header silently renamed by pandas (no warning)")
    case(f"{D}/duplicate_headers", lambda: cli_simple("diagnose", ("data.csv", dup), ["--target", "y"],
                                                      want_json=True, check=dup_check))
    dupt = "x1,y,x2,y\n" + "\n".join(f"{a:.6f},{t},{b:.6f},{t}" for a, b, t in zip(good.x1, good.x2, good.y)) + "\n"
    case(f"{D}/duplicate_target_header", lambda: cli_simple("diagnose", ("data.csv", dupt), ["--target", "y"],
                                                            want_json=True, check=dup_check))
    comma = "x1,x2,x3,y\n" + "\n".join(
        '"' + f"{a:.3f}".replace(".", ",") + '","' + f"{b:.3f}".replace(".", ",") + f'",{c:.3f},{t}'
        for a, b, c, t in zip(good.x1, good.x2, good.x3, good.y)) + "\n"
    case(f"{D}/decimal_comma_numbers",
         lambda: cli_simple("diagnose", ("data.csv", comma), ["--target", "y"], want_json=True,
                            check=n_features_check(3, "decimal-comma numbers read as categories")))

    # -- --val-file ----------------------------------------------------------------------------
    V = f"{Cd}/val_file"
    tr, va = good.iloc[:100], good.iloc[100:]

    def val_run(val, extra=(), oracle=None):
        d = scratch("cli")
        data = write(d, "data.csv", tr)
        vpath = write(d, "val.csv", val) if not isinstance(val, str) else val.replace("{dir}", d)
        out = os.path.join(d, "out")
        res = cli(["diagnose", data, "--target", "y", "--val-file", vpath, "--out", out, "--quiet", *extra], d)
        return judge_cli(res, [out], False, oracle(d, out) if oracle else None)

    def expected_fi(val):
        X = pd.get_dummies(tr.drop(columns=["y"]), drop_first=True, dtype=float)
        levels = np.sort(tr.y.unique())
        y = np.searchsorted(levels, tr.y.to_numpy())
        v = val.copy()
        v["grp"] = pd.Categorical(v["grp"], categories=sorted(tr.grp.unique()))
        Xv = pd.get_dummies(v.drop(columns=["y"])[list(tr.drop(columns=["y"]).columns)], drop_first=True, dtype=float)
        Xv = Xv[X.columns]
        yv = np.searchsorted(levels, v.y.to_numpy())
        m = li.LogisticRegression(l2=1e-3).fit(X.to_numpy(), y)
        return np.asarray(li.LocalInfluence(m, X, y).summary_frame(Xv.to_numpy(), yv)["fi_util"])

    def fi_oracle(val, what):
        def make(d, out):
            def check(o, payload, err):
                t = pd.read_csv(os.path.join(out, "influence.csv"), index_col="row").sort_index()
                want = expected_fi(val)
                r = differs(t["fi_util"].to_numpy(), want, 1e-6)
                if r:
                    wrong(f"{what}: FI_util differs from the correctly encoded validation set ({r})")
            return check
        return make

    def refuse_oracle(what):
        def make(d, out):
            def check(o, payload, err):
                if "warn" not in err.lower():
                    wrong(f"{what} silently accepted")
            return check
        return make
    case(f"{V}/ok", lambda: val_run(va, oracle=fi_oracle(va, "baseline")))
    case(f"{V}/reordered_columns", lambda: val_run(va[["y", "grp", "x3", "x1", "x2"]], oracle=fi_oracle(va, "reordered")))
    case(f"{V}/missing_column", lambda: val_run(va.drop(columns="x2"), oracle=refuse_oracle("validation file lacking x2")))
    case(f"{V}/extra_column", lambda: val_run(va.assign(extra=1.0), oracle=fi_oracle(va, "extra column")))
    vu = va.assign(grp=np.where(np.arange(len(va)) % 5 == 0, "zzz", va.grp))
    case(f"{V}/unseen_level", lambda: val_run(vu, oracle=refuse_oracle("unseen level 'zzz'")))
    v1 = va.assign(grp="b")
    case(f"{V}/one_level_of_categorical", lambda: val_run(v1, oracle=fi_oracle(v1, "single-level column")))
    case(f"{V}/unseen_target_value", lambda: val_run(va.assign(y=np.where(np.arange(len(va)) == 0, "maybe", va.y))))
    case(f"{V}/missing_target_column", lambda: val_run(va.drop(columns="y")))
    case(f"{V}/file_not_found", lambda: val_run("{dir}/nope.csv"))
    case(f"{V}/header_only", lambda: val_run(va.iloc[:0]))
    case(f"{V}/one_class_only", lambda: val_run(va.assign(y="yes"), oracle=fi_oracle(va.assign(y="yes"), "one class")))
    case(f"{V}/nan_feature", lambda: val_run(va.assign(x1=va.x1.where(np.arange(len(va)) != 2))))
    case(f"{V}/str_in_numeric_column", lambda: val_run(va.assign(x1=va.x1.astype(object).where(
        np.arange(len(va)) != 2, "oops")), oracle=refuse_oracle("text in a numeric validation column")))

    def in_sample():
        d = scratch("cli")
        data = write(d, "data.csv", tr)
        out = os.path.join(d, "out")
        res = cli(["diagnose", data, "--target", "y", "--val-file", data, "--out", out, "--quiet"], d)

        def check(o, payload, err):
            if "warn" not in err.lower():
                wrong("validation file = training file (in-sample): no warning")
        return judge_cli(res, [out], False, check)
    case(f"{V}/same_as_training_file(in_sample)", in_sample)

    # -- trim --json NaN, stray files -----------------------------------------------------------
    def trim_nan():
        g = frame_good(n=150, seed=4)
        n = len(g)
        u = np.random.default_rng(0).random(n)
        ntr = int((u >= 0.5).sum())
        return cli_simple("trim", g, ["--target", "y", "--budgets", f"0,{ntr - 1}", "--methods", "random"],
                          want_json=True)
    case(f"{Cd}/trim/json_with_failed_refit(NaN)", trim_nan)

    def trim_json_ok():
        return cli_simple("trim", good, ["--target", "y", "--budgets", "0,5", "--methods", "fi,random"], want_json=True)
    case(f"{Cd}/trim/json_ok", trim_json_ok)

    # -- checkpoints via the CLI ---------------------------------------------------------------
    K_ = f"{Cd}/checkpoint"

    def active(d, out, *extra):
        data = os.path.join(d, "data.csv")
        if not os.path.exists(data):
            write(d, "data.csv", big)
        return cli(["active", data, "--target", "y", "--out", out, "--quiet", *al_args(list(extra))], d)

    def l2_reuse():
        d = scratch("cli")
        out, out2 = os.path.join(d, "out"), os.path.join(d, "fresh")
        first = active(d, out, "--l2", "0.01")
        if first[0] != 0:
            return judge_cli(first, [out])
        second = active(d, out, "--l2", "100")

        def check(o, payload, err):
            fresh = active(d, out2, "--l2", "100")
            if fresh[0] != 0:
                raise Outcome("harness_error", "fresh run failed")
            a = pd.read_csv(os.path.join(out, "active.csv"))
            b = pd.read_csv(os.path.join(out2, "active.csv"))
            r = differs(a[["round", "n_labeled", "accuracy"]], b[["round", "n_labeled", "accuracy"]], 1e-12)
            if r:
                wrong(f"second run with --l2 100 reused the --l2 0.01 checkpoint ({r} vs a fresh run)")
        return judge_cli(second, [out], False, check)
    case(f"{K_}/active_other_l2_reuses_checkpoint", l2_reuse)

    def other_split():
        d = scratch("cli")
        out = os.path.join(d, "out")
        first = active(d, out)
        if first[0] != 0:
            return judge_cli(first, [out])
        return judge_cli(active(d, out, "--val-frac", "0.2"), [out])
    case(f"{K_}/active_other_val_frac", other_split)

    def tamper_cli(edit):
        d = scratch("cli")
        out = os.path.join(d, "out")
        first = active(d, out)
        if first[0] != 0:
            return judge_cli(first, [out])
        ck = os.path.join(out, "checkpoints", "active-iv-0.json")
        text = open(ck).read()
        st = json.loads(text)
        new = edit(st, text)
        with open(ck, "w") as fh:
            fh.write(new if isinstance(new, str) else json.dumps(new))
        res = active(d, out)

        def check(o, payload, err):
            wrong("tampered checkpoint accepted")
        return judge_cli(res, [out], False, check)

    def tr1(st):
        st["results"] = st["results"][:1]
        return st
    for name, edit in (("truncated", lambda st, t: t[: len(t) // 2]),
                       ("indices_out_of_range", lambda st, t: {**tr1(st), "chosen": [10**6] * 5}),
                       ("indices_duplicated", lambda st, t: {**tr1(st), "chosen": [0] * 5}),
                       ("indices_negative", lambda st, t: {**tr1(st), "chosen": [-1] * 5}),
                       ("chosen_not_a_list", lambda st, t: {**tr1(st), "chosen": 7}),
                       ("key_changed", lambda st, t: {**st, "key": "0" * 64})):
        case(f"{K_}/active_tampered_{name}", lambda edit=edit: tamper_cli(edit))

    # -- misc ----------------------------------------------------------------------------------
    case(f"{Cd}/misc/unknown_subcommand", lambda: judge_cli(cli(["bogus"], scratch("cli")), []))
    case(f"{Cd}/misc/validate(--bogus)", lambda: judge_cli(cli(["validate", "--bogus"], scratch("cli")), []))
    case(f"{Cd}/misc/diagnose_--standardize_constant_feature",
         lambda: cli_simple("diagnose", good.assign(x3=2.0), ["--target", "y", "--standardize"]))


# --------------------------------------------------------------------------------------
# Running the cases
# --------------------------------------------------------------------------------------


def classify_exception(exc, tb):
    msg = str(exc).strip().splitlines()[0][:150] if str(exc).strip() else ""
    if isinstance(exc, LocalInfluenceError):  # BudgetError too: a refusal before allocating
        return "clear_error", f"{type(exc).__name__}: {msg}"
    if isinstance(exc, MemoryError):
        return "memory", f"{type(exc).__name__}: {msg}"
    if isinstance(exc, TypeError) and "unexpected keyword argument" in msg:
        return "n/a", msg
    if isinstance(exc, AttributeError) and "module 'localinf" in msg and "has no attribute" in msg:
        return "n/a", msg
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    where = ""
    for fr in reversed(frames):
        if "/localinf/" in fr.filename:
            where = f" @ {fr.filename.split('/localinf/')[-1]}:{fr.lineno}"
            break
    return "traceback", f"{type(exc).__name__}: {msg}{where}"


def run_case(name):
    """Run one case in this process; returns (outcome, reason, n_warnings, detail)."""
    fn = CASES[name]
    detail = ""
    n_warn = 0
    try:
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")
            res = fn()
        n_warn = len(warned(ws))
        if isinstance(res, Outcome):
            return res.outcome, res.reason, n_warn, res.detail
        bad = nonfinite(res)
        if bad:
            return "silent_nan", bad, n_warn, detail
        return "ok", "", n_warn, detail
    except Outcome as o:
        return o.outcome, o.reason, n_warn, o.detail
    except Raised as r:
        outcome, reason = classify_exception(r.exc, r.tb)
        return outcome, reason, n_warn, r.tb[-2000:]
    except MemoryError as exc:
        return "memory", f"MemoryError outside the call under test: {exc}", n_warn, ""
    except BaseException as exc:  # noqa: BLE001
        tb = traceback.format_exc()
        return "harness_error", f"{type(exc).__name__}: {str(exc)[:150]}", n_warn, tb[-2000:]


def _child(name, conn, mem_bytes, timeout):
    global DEADLINE
    try:
        os.setpgrp()
    except OSError:
        pass
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    if mem_bytes:
        try:
            resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
        except (ValueError, OSError):
            pass
    DEADLINE = time.monotonic() + timeout - 1.0
    t = time.monotonic()
    try:
        outcome, reason, n_warn, detail = run_case(name)
    except BaseException as exc:  # noqa: BLE001
        outcome, reason, n_warn, detail = "harness_error", repr(exc)[:150], 0, ""
    try:
        conn.send((outcome, reason, n_warn, detail, time.monotonic() - t))
    except Exception:  # noqa: BLE001
        pass
    conn.close()
    os._exit(0)


def run_all(names, jobs, timeout, mem_bytes, on_result):
    ctx = mp.get_context("fork")
    pending = list(names)
    running = {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                name = pending.pop(0)
                r, w = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, args=(name, w, mem_bytes, timeout), daemon=False)
                proc.start()
                w.close()
                running[proc.sentinel] = (name, proc, r, time.monotonic())
            ready = mp_wait(list(running) + [v[2] for v in running.values()], timeout=0.25)
            now = time.monotonic()
            for sentinel in list(running):
                name, proc, r, t0 = running[sentinel]
                result = None
                if r in ready or sentinel in ready:
                    try:
                        if r.poll():
                            result = r.recv()
                    except (EOFError, OSError):
                        result = None
                    if result is None and proc.is_alive():
                        continue
                    proc.join(5)
                    if proc.is_alive():
                        _kill(proc)
                    if result is None:
                        code = proc.exitcode
                        if code in (-signal.SIGKILL,):
                            result = ("memory", "child killed (SIGKILL; out of memory?)", 0, "", now - t0)
                        else:
                            result = ("traceback", f"child died (exit code {code}"
                                      f"{', segfault' if code == -signal.SIGSEGV else ''})", 0, "", now - t0)
                    del running[sentinel]
                    r.close()
                    on_result(name, result)
                elif now - t0 > timeout:
                    _kill(proc)
                    del running[sentinel]
                    r.close()
                    on_result(name, ("hang", f"no result after {timeout:.0f} s", 0, "", now - t0))
    finally:
        for name, proc, r, t0 in running.values():
            _kill(proc)


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass
    try:
        proc.kill()
    except Exception:  # noqa: BLE001
        pass
    proc.join(5)


def build_all():
    global FX
    FX = build_fixtures()
    register_ops(build_ops(FX))
    build_keyword_cases(FX)
    build_separable_cases()
    build_api_cases(FX)
    build_cli_cases()


def main(argv=None):
    global TIMEOUT, BASE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per case (default 60)")
    ap.add_argument("--only", action="append", default=None,
                    help="run only cases whose name contains this substring (repeatable)")
    ap.add_argument("--json", help="write all results to this JSON file")
    ap.add_argument("--jobs", type=int, default=2, help="cases run at a time (default 2)")
    ap.add_argument("--mem-gb", type=float, default=3.0, help="address-space limit per case in GiB (default 3)")
    ap.add_argument("--list", action="store_true", help="list the case names and exit")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args(argv)
    TIMEOUT = args.timeout
    t_start = time.monotonic()
    BASE = tempfile.mkdtemp(prefix="localinf-bad-inputs-")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_all()
    names = [n for n in CASES if not args.only or any(s in n for s in args.only)]
    if args.list:
        print("\n".join(names))
        return 0
    vm = 0
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                vm = int(line.split()[1]) * 1024
    except OSError:
        pass
    mem_bytes = int(max(args.mem_gb * 2**30, vm + 2**30)) if args.mem_gb > 0 else 0
    try:
        cli_pkg = subprocess.run([sys.executable, "-c", "import localinf, os; print(os.path.dirname(localinf.__file__))"],
                                 cwd=BASE, capture_output=True, text=True, timeout=120).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        cli_pkg = f"? ({exc})"
    if cli_pkg != os.path.dirname(li.__file__):
        print(f"WARNING: the CLI subprocesses import localinf from {cli_pkg}, not {os.path.dirname(li.__file__)}")
    print(f"localinf {getattr(li, '__version__', '?')} from {os.path.dirname(li.__file__)} (CLI: {cli_pkg}); "
          f"python {sys.version.split()[0]}; {len(names)} cases, {args.jobs} at a time, "
          f"timeout {args.timeout:g} s, memory limit {mem_bytes / 2**30:.1f} GiB", flush=True)
    results = {}
    order = list(names)
    shown = [0]

    def on_result(name, result):
        results[name] = result
        while shown[0] < len(order) and order[shown[0]] in results:
            n = order[shown[0]]
            outcome, reason, n_warn, detail, secs = results[n]
            text = f"{n}: {outcome}" + (f" ({reason})" if reason else "")
            print(text.replace("\n", " "), flush=True)
            shown[0] += 1
    try:
        run_all(names, max(1, args.jobs), args.timeout, mem_bytes, on_result)
    finally:
        if not args.keep:
            shutil.rmtree(BASE, ignore_errors=True)
    total = time.monotonic() - t_start
    counts = {o: 0 for o in OUTCOMES}
    for outcome, *_ in results.values():
        counts[outcome] += 1
    fam_counts = {}
    for n, (outcome, *_) in results.items():
        fam = n.split("/")[0]
        fam_counts.setdefault(fam, {o: 0 for o in OUTCOMES})[outcome] += 1
    print()
    print(f"{'family':<14}" + "".join(f"{o:>14}" for o in OUTCOMES) + f"{'total':>8}")
    for fam, c in sorted(fam_counts.items()):
        print(f"{fam:<14}" + "".join(f"{c[o]:>14}" for o in OUTCOMES) + f"{sum(c.values()):>8}")
    print(f"{'all':<14}" + "".join(f"{counts[o]:>14}" for o in OUTCOMES) + f"{sum(counts.values()):>8}")
    print(f"\n{len(results)} cases in {total:.0f} s")
    if args.json:
        payload = {
            "localinf": os.path.dirname(li.__file__), "localinf_cli": cli_pkg,
            "version": getattr(li, "__version__", None),
            "python": sys.version.split()[0], "timeout": args.timeout, "jobs": args.jobs,
            "memory_limit_bytes": mem_bytes, "total_seconds": total, "counts": counts,
            "counts_by_family": fam_counts,
            "cases": [{"name": n, "family": n.split("/")[0], "outcome": results[n][0], "reason": results[n][1],
                       "warnings": results[n][2], "seconds": round(results[n][4], 3), "detail": results[n][3]}
                      for n in order if n in results],
        }
        with open(args.json, "w") as fh:
            json.dump(payload, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
