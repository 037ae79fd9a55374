"""The input contract of the public API and the command line, as reusable checks.

Every public function and CLI command, given any input, either returns finite
results or raises a :class:`~localinf.exceptions.LocalInfluenceError` (the
command line: exit status 2 and one line ``localinf: error: ...`` on stderr);
never another exception, never NaN or inf, never a hang. This module holds
the pieces the contract tests in ``validation/test_contract.py`` are built
from:

* bad arrays, labels, scalars and option values and their hypothesis
  strategies, in :mod:`localinf.validation.contract_inputs` (re-exported here);
* bad CSV files: :func:`bad_csv`, the kinds in :data:`CSV_KINDS`, the strategy
  :func:`csv_kinds`;
* :func:`check_contract` and :func:`check_cli`, which run one call and
  classify its outcome, raising ``AssertionError`` when the contract is broken.

hypothesis is a test dependency (the ``test`` extra), not a runtime one: it is
imported inside the strategy functions only, and ``localinf.validation`` does
not import this module.
"""

import contextlib
import dataclasses
import io
import json
import math
import numbers
import os
import re
from typing import NamedTuple

import numpy as np

from ..exceptions import LocalInfluenceError
from .contract_inputs import (BAD_OPTION_VALUES, BAD_SCALARS, LABEL_KINDS, MATRIX_KINDS, Bad, bad_labels,
                              bad_matrix, labels, matrices, option_values, scalars)

__all__ = ["Bad", "CliResult", "MATRIX_KINDS", "LABEL_KINDS", "BAD_SCALARS", "BAD_OPTION_VALUES",
           "CSV_KINDS", "bad_matrix", "bad_labels", "bad_csv", "matrices", "labels", "scalars",
           "option_values", "csv_kinds", "non_finite", "check_contract", "check_cli"]


CSV_KINDS = (
    "valid", "three_classes", "nan_cell", "inf_cell", "huge_1e300", "huge_1e155", "tiny_1e-300",
    "text_column", "id_column", "many_levels", "single_class", "text_target", "float_target",
    "huge_target", "nan_target", "header_only", "empty_file", "duplicate_columns",
    "constant_column", "collinear", "separable", "ragged", "binary_garbage", "one_row",
    "two_rows", "no_target_column", "bool_column", "date_column", "mixed_column",
    "decimal_comma", "unicode_names", "identical_rows", "rare_class",
)
"""Every family :func:`bad_csv` writes."""


def bad_csv(folder, kind, n=60, seed=0):
    """Write a small CSV file (features ``a``, ``b``, ``c``, label column ``y``) of one kind.

    Parameters
    ----------
    folder : str or os.PathLike
        Where the file goes (``<kind>.csv``).
    kind : str
        One of :data:`CSV_KINDS`.
    n : int, default 60
        Rows of the underlying data.
    seed : int, default 0

    Returns
    -------
    str
        The path of the file.
    """
    import pandas as pd
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X @ np.array([1.0, -0.5, 0.3]) + rng.normal(size=n) > 0).astype(int)
    y[:2] = [0, 1]
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["y"] = y
    path = os.path.join(os.fspath(folder), f"{kind}.csv")
    raw = None
    if kind == "valid":
        pass
    elif kind == "three_classes":
        df["y"] = np.digitize(X[:, 0], [-0.4, 0.4])
    elif kind == "nan_cell":
        df.loc[3, "b"] = np.nan
    elif kind == "inf_cell":
        df["b"] = df["b"].astype(object)
        df.loc[3, "b"] = "inf"
    elif kind == "huge_1e300":
        df["a"] *= 1e300
    elif kind == "huge_1e155":
        df["a"] *= 1e155
    elif kind == "tiny_1e-300":
        df["a"] *= 1e-300
    elif kind == "text_column":
        df["t"] = np.array(["red", "green", "blue"])[np.arange(n) % 3]
    elif kind == "id_column":
        df.insert(0, "name", [f"id{k}" for k in range(n)])
    elif kind == "many_levels":
        df["t"] = [f"level{k % (n // 2)}" for k in range(n)]
    elif kind == "single_class":
        df["y"] = 0
    elif kind == "text_target":
        df["y"] = np.where(y == 1, "yes", "no")
    elif kind == "float_target":
        df["y"] = y + 0.5
    elif kind == "huge_target":
        df["y"] = np.where(y == 1, 3e8, 1e6)
    elif kind == "nan_target":
        df["y"] = df["y"].astype(float)
        df.loc[4, "y"] = np.nan
    elif kind == "header_only":
        df = df.iloc[:0]
    elif kind == "empty_file":
        raw = b""
    elif kind == "duplicate_columns":
        raw = ("a,a,c,y\n" + "".join(f"{r[0]},{r[1]},{r[2]},{int(r[3])}\n"
                                     for r in df.to_numpy())).encode()
    elif kind == "constant_column":
        df["b"] = 1.0
    elif kind == "collinear":
        df["c"] = 2.0 * df["a"]
    elif kind == "separable":
        df["y"] = (df["a"] > 0).astype(int)
    elif kind == "ragged":
        raw = ("a,b,c,y\n1,2,3,0\n4,5,1\n7,8,9,1,5,6\n").encode()
    elif kind == "binary_garbage":
        raw = bytes(rng.integers(0, 256, size=400, dtype=np.uint8))
    elif kind == "one_row":
        df = df.iloc[:1]
    elif kind == "two_rows":
        df = df.iloc[:2]
    elif kind == "no_target_column":
        df = df.drop(columns="y")
    elif kind == "bool_column":
        df["f"] = df["a"] > 0
    elif kind == "date_column":
        df["when"] = pd.date_range("2020-01-01", periods=n).strftime("%Y-%m-%d")
    elif kind == "mixed_column":
        df["b"] = df["b"].astype(object)
        df.loc[5, "b"] = "n/a"
    elif kind == "decimal_comma":
        raw = ("a;b;c;y\n" + "".join(f"{str(r[0]).replace('.', ',')};{str(r[1]).replace('.', ',')};"
                                     f"{str(r[2]).replace('.', ',')};{int(r[3])}\n"
                                     for r in df.to_numpy())).encode()
    elif kind == "unicode_names":
        df = df.rename(columns={"a": "\u00e4\u00df", "b": "\u6e29\u5ea6", "c": "x y,z"})
    elif kind == "identical_rows":
        df[["a", "b", "c"]] = 1.0
    elif kind == "rare_class":
        df["y"] = 0
        df.loc[7, "y"] = 1
    else:
        raise ValueError(f"unknown CSV kind {kind!r}; choose from {CSV_KINDS}")
    if raw is None:
        raw = df.to_csv(index=False).encode()
    with open(path, "wb") as f:
        f.write(raw)
    return path


def csv_kinds(kinds=CSV_KINDS):
    """Strategy: a kind of CSV file for :func:`bad_csv`.

    Parameters
    ----------
    kinds : sequence of str, default CSV_KINDS

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of str.
    """
    from hypothesis import strategies as st
    return st.sampled_from(list(kinds))


# -- classifying an outcome ---------------------------------------------------


def _frame_problems(frame, where):
    """Non-finite floats of a DataFrame; NaN accuracy is allowed in a row with an error message."""
    out = []
    allowed = None
    if "accuracy" in frame.columns and "error" in frame.columns:
        err = frame["error"]
        allowed = err.notna().to_numpy() & (err.astype(str).str.len() > 0).to_numpy()
    for col in frame.columns:
        values = frame[col]
        try:
            arr = values.to_numpy(dtype=np.float64) if values.dtype.kind in "iufcb" or \
                str(values.dtype) in ("Int64", "Float64", "boolean") else None
        except (TypeError, ValueError):  # a nullable column holding NA
            arr = values.astype(object).to_numpy()
            out += [f"{where}[{col!r}] holds a missing value"] if values.isna().any() else []
            continue
        if arr is None:
            out += non_finite(list(values), f"{where}[{col!r}]")
            continue
        bad = ~np.isfinite(arr)
        if col == "accuracy" and allowed is not None:
            bad &= ~(np.isnan(arr) & allowed)
        if bad.any():
            out.append(f"{where}[{col!r}] is not finite in {int(bad.sum())} row(s) "
                       f"(first at position {int(np.flatnonzero(bad)[0])})")
    return out


def non_finite(value, where="result", depth=0):
    """Where a result holds a float that is NaN or inf.

    Looks through numbers, ndarrays (float, complex and object), pandas Series
    and DataFrames, dicts, lists, tuples, dataclasses, and the public
    attributes of other objects that are floats or float arrays (not deeper).
    A DataFrame with columns ``accuracy`` and ``error`` (``trimming_curve``) may
    hold NaN accuracy in a row whose ``error`` is non-empty, as documented.

    Parameters
    ----------
    value : object
    where : str, default "result"
        The name of ``value`` in the messages.
    depth : int, default 0
        Recursion depth (containers deeper than 8 levels are not inspected).

    Returns
    -------
    list of str
        One message per place with a non-finite value; empty when all is finite.
    """
    if depth > 8 or value is None or isinstance(value, (str, bytes, bool, np.bool_)):
        return []
    if isinstance(value, numbers.Number):
        try:
            ok = math.isfinite(abs(value)) if isinstance(value, complex) else math.isfinite(value)
        except (TypeError, ValueError, OverflowError):
            ok = True  # a huge int is finite
        return [] if ok else [f"{where} = {value!r}"]
    mod = type(value).__module__ or ""
    if mod.startswith("pandas"):
        import pandas as pd
        if isinstance(value, pd.DataFrame):
            return _frame_problems(value, where)
        if isinstance(value, pd.Series):
            return _frame_problems(value.to_frame(name=value.name if value.name is not None else 0),
                                   where)
        if isinstance(value, pd.Index):
            return non_finite(np.asarray(value), where, depth + 1)
        return []
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc":
            bad = ~np.isfinite(value)
            if bad.any():
                first = tuple(int(k) for k in np.argwhere(bad)[0])
                return [f"{where} is not finite at {int(bad.sum())} entr(y/ies) (first at {first})"]
            return []
        if value.dtype.kind == "O":
            out = []
            for k, v in enumerate(value.ravel()[:10000]):
                out += non_finite(v, f"{where}.flat[{k}]", depth + 1)
            return out
        return []
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            out += non_finite(v, f"{where}[{k!r}]", depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        out = []
        for k, v in enumerate(value):
            out += non_finite(v, f"{where}[{k}]", depth + 1)
        return out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = []
        for f in dataclasses.fields(value):
            out += non_finite(getattr(value, f.name, None), f"{where}.{f.name}", depth + 1)
        return out
    out = []
    for name, v in sorted(getattr(value, "__dict__", {}).items()):
        if name.startswith("_"):
            continue
        if isinstance(v, (float, np.floating)) or \
                isinstance(v, np.ndarray) and v.dtype.kind in "fc":
            out += non_finite(v, f"{where}.{name}", depth + 1)
    return out


def check_contract(call):
    """Run ``call()`` and classify the outcome under the input contract.

    Parameters
    ----------
    call : callable
        Without arguments, e.g. ``lambda: model.fit(X, y)``.

    Returns
    -------
    str
        ``"ok"``: it returned and every float in the result is finite (see
        :func:`non_finite`); ``"clear_error"``: it raised a
        :class:`~localinf.exceptions.LocalInfluenceError`.

    Raises
    ------
    AssertionError
        It raised any other exception (the message gives its type and text), or
        the result holds NaN or inf (the message says where).
    """
    try:
        result = call()
    except LocalInfluenceError:
        return "clear_error"
    except Exception as exc:  # the contract is broken: say how
        raise AssertionError(f"raised {type(exc).__module__}.{type(exc).__qualname__}, not a "
                             f"localinf error: {' '.join(str(exc).split())[:500]}") from exc
    problems = non_finite(result)
    if problems:
        raise AssertionError("returned non-finite values: " + "; ".join(problems[:5]))
    return "ok"


class CliResult(NamedTuple):
    """What one command-line run gave.

    Attributes
    ----------
    outcome : str
        ``"ok"`` (exit 0) or ``"clear_error"`` (exit 2 with one error line).
    code : int
        The exit status.
    stdout, stderr : str
        Everything printed.
    """

    outcome: str
    code: int
    stdout: str
    stderr: str


def _reject_constant(name):
    raise ValueError(f"not strict JSON: {name}")


# tempfile.mkstemp names: "tmp" and 8 characters, then the suffix.
_TEMP_NAME = re.compile(r"^tmp[a-z0-9_]{8}(\..*)?$")


def _litter(folder):
    """Temporary or lock files left under ``folder``."""
    out = []
    for root, _, files in os.walk(folder):
        for name in files:
            if name.endswith((".tmp", ".lock")) or _TEMP_NAME.match(name):
                out.append(os.path.join(root, name))
    return sorted(out)


def check_cli(main, argv, tmp_path):
    """Run ``main(argv)`` (``localinf.cli.main``) in this process and check the command line's contract.

    The entry point is passed in because the command line is a layer above
    this one.

    The output folder is ``tmp_path / "out"`` unless ``argv`` names one (the
    ``invariance`` command writes no files). Checked: the exit status is 0,
    or 2 with exactly one stderr line starting with ``localinf: error:``, the
    last one, every other stderr line being a ``localinf: note:`` (no
    traceback, no second error); with ``--json`` and status 0 the stdout is
    strict JSON (no NaN, Infinity); no temporary (``*.tmp``, ``tmpXXXXXXXX.*``)
    or lock file (``*.lock``) is left under ``tmp_path``.

    Parameters
    ----------
    main : callable
        ``localinf.cli.main``.
    argv : list of str
        Arguments after ``localinf`` (the subcommand first). Use ``--quiet`` or
        ``--json`` to keep progress bars off stderr.
    tmp_path : str or os.PathLike
        A fresh folder for this run's output.

    Returns
    -------
    CliResult

    Raises
    ------
    AssertionError
        Naming the broken part of the contract and the captured output.
    """
    argv = [str(a) for a in argv]
    tmp = os.fspath(tmp_path)
    writes = not argv or argv[0] != "invariance"
    if writes and "--out" not in argv and not any(a.startswith("--out=") for a in argv):
        argv = argv + ["--out", os.path.join(tmp, "out")]
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # main should return; count a SystemExit as its status
                code = exc.code
    except Exception as exc:
        raise AssertionError(f"localinf {' '.join(argv)} raised {type(exc).__qualname__}: "
                             f"{' '.join(str(exc).split())[:500]}\nstderr: {err.getvalue()[-2000:]}") \
            from exc
    stdout, stderr = out.getvalue(), err.getvalue()
    shown = (f"localinf {' '.join(argv)} -> exit {code!r}\nstdout: {stdout[-1500:]}\n"
             f"stderr: {stderr[-1500:]}")
    if "Traceback" in stderr:
        raise AssertionError("a traceback on stderr: " + shown)
    if code == 2:
        lines = [line for line in stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("localinf: error:")]
        others = [line for line in lines if not line.startswith(("localinf: error:", "localinf: note:"))]
        if len(errors) != 1 or lines[-1] != errors[0] or others:
            raise AssertionError("exit 2 without exactly one final 'localinf: error:' line: " + shown)
        outcome = "clear_error"
    elif code == 0:
        if "--json" in argv:
            try:
                json.loads(stdout, parse_constant=_reject_constant)
            except ValueError as exc:
                raise AssertionError(f"--json output is not strict JSON ({exc}): " + shown) from None
        outcome = "ok"
    else:
        raise AssertionError("exit status neither 0 nor 2: " + shown)
    left = _litter(tmp)
    if left:
        raise AssertionError(f"temporary or lock files left behind {left}: " + shown)
    return CliResult(outcome, code, stdout, stderr)
