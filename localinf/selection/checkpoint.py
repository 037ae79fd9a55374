"""Checkpoints of a selection run: written atomically after every round, read back only
by a run with the same settings and data, checked field by field, locked while in use.

The file is a JSON object with exactly the fields ``version`` (:data:`VERSION`),
``key`` (:func:`config_key` of the run), ``chosen`` (the pool indices labeled so
far, in order) and ``results`` (one dict per completed round, fields
:data:`RESULT_FIELDS`). Anything else -- bad JSON, a missing or extra field, a
repeated or out-of-range index, a round count that does not match ``chosen`` --
is a :class:`~localinf.exceptions.CheckpointError` that names the file and the
remedy, never a result.

The key is a SHA-256 of a canonical description of the settings: numbers and
strings by ``repr``, arrays by dtype, shape and bytes, dicts sorted, and
callables by what can be seen of them (:func:`config_key` says what). It holds
no memory address or hash seed, so another process computes the same key.
"""

import contextlib
import functools
import hashlib
import json
import math
import os
import socket
import types

import numpy as np

from .._core.io import write_text
from ..exceptions import CheckpointError

VERSION = 2
RESULT_FIELDS = ("round", "n_labeled", "accuracy", "seconds", "strategy", "seed")
REMEDY = "delete it, or pass restart=True (--fresh on the command line) to start over"
_DEPTH = 6
_SCALARS = (type(None), bool, int, float, complex, str, bytes)


def config_key(*parts):
    """A digest of a run's settings and data.

    Arrays count by dtype, shape and bytes (a reshaped or re-typed array gives
    another key), containers by their items (dicts in sorted order), numbers and
    strings by ``repr``. A callable counts by its qualified name and bytecode
    plus what it can be seen to depend on: the values a closure closes over,
    the arguments of a ``functools.partial``, the object of a bound method, the
    data-valued module globals a function reads (numbers, strings, arrays);
    an object by ``get_params()`` when it has one, else by its public attributes
    (names neither starting nor ending with ``_``, so fitted state such as
    ``coef_`` is no setting). State the key cannot see -- a file the callable
    reads, a global object it mutates -- must be named by the caller (the
    ``checkpoint_key`` of :func:`~localinf.selection.active_learning`).

    Parameters
    ----------
    *parts : any
        The settings and data of the run.

    Returns
    -------
    str
        Hexadecimal SHA-256.
    """
    return hashlib.sha256(_describe(parts).encode()).hexdigest()


def _name(obj):
    module = getattr(obj, "__module__", None) or ""
    return f"{module}.{getattr(obj, '__qualname__', getattr(obj, '__name__', type(obj).__name__))}"


def _array(a):
    if a.dtype.hasobject:
        body = _describe(a.tolist()).encode()
    else:
        body = np.ascontiguousarray(a).tobytes()
    return f"ndarray({a.dtype.str}, {a.dtype!r}, {a.shape}, {hashlib.sha256(body).hexdigest()})"


def _is_data(v):
    """Numbers, strings, arrays and containers of them (the globals a function may read)."""
    if isinstance(v, (_SCALARS, np.generic, np.ndarray)):
        return True
    if isinstance(v, (list, tuple, frozenset)):
        return all(_is_data(x) for x in v)
    return False


def _code(code, d):
    consts = [_code(c, d) if isinstance(c, types.CodeType) else d(c) for c in code.co_consts]
    return (f"code({hashlib.sha256(code.co_code).hexdigest()}, consts=[{', '.join(consts)}], "
            f"names={code.co_names})")


def _global_names(code):
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _global_names(c)
    return names


def _function(fn, d):
    cells = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            cells[name] = cell.cell_contents
        except ValueError:  # an empty cell
            cells[name] = "<empty>"
    used = {n: fn.__globals__[n] for n in sorted(_global_names(fn.__code__))
            if n in fn.__globals__ and _is_data(fn.__globals__[n])}
    return (f"function {_name(fn)}({_code(fn.__code__, d)}, defaults={d(fn.__defaults__)}, "
            f"kwdefaults={d(fn.__kwdefaults__)}, closure={d(cells)}, globals={d(used)})")


def _describe(obj, depth=0, seen=frozenset()):
    """A canonical string for ``obj`` (see :func:`config_key`); no addresses, no hash seeds."""
    if isinstance(obj, _SCALARS):
        return repr(obj)
    if isinstance(obj, np.generic):
        return f"{obj.dtype.str}:{obj.item()!r}"
    if isinstance(obj, np.ndarray):
        return _array(obj)
    if isinstance(obj, np.ufunc):
        return f"numpy.ufunc {obj.__name__}"
    if isinstance(obj, (type, types.ModuleType, types.BuiltinFunctionType)):
        return _name(obj) if not isinstance(obj, types.ModuleType) else f"module {obj.__name__}"
    if depth > _DEPTH or id(obj) in seen:  # too deep, or a cycle: the type only
        return _name(type(obj))
    seen = seen | {id(obj)}
    d = functools.partial(_describe, depth=depth + 1, seen=seen)
    if isinstance(obj, (list, tuple)):
        return f"{type(obj).__name__}[{', '.join(map(d, obj))}]"
    if isinstance(obj, dict):
        return "dict{" + ", ".join(sorted(f"{d(k)}: {d(v)}" for k, v in obj.items())) + "}"
    if isinstance(obj, (set, frozenset)):
        return "set{" + ", ".join(sorted(map(d, obj))) + "}"
    if isinstance(obj, functools.partial):
        return f"partial({d(obj.func)}, {d(obj.args)}, {d(obj.keywords)})"
    if isinstance(obj, types.MethodType):
        return f"method({d(obj.__self__)}, {d(obj.__func__)})"
    if isinstance(obj, types.FunctionType):
        return _function(obj, d)
    if isinstance(obj, types.CodeType):
        return _code(obj, d)
    get_params = getattr(obj, "get_params", None)
    if callable(get_params):
        try:
            return f"{_name(type(obj))}(params={d(get_params())})"
        except Exception:  # a get_params that needs arguments: fall back to the attributes
            pass
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict):
        public = {k: v for k, v in state.items() if not k.startswith("_") and not k.endswith("_")}
        return f"{_name(type(obj))}({d(public)})"
    return _name(type(obj))


def _int(v):
    return type(v) is int


def _number(v):
    return type(v) is int or (type(v) is float and math.isfinite(v))


def _taken(k, acquisition_size, pool_size):
    """Pool points labeled by the first k rounds."""
    return min(k * acquisition_size, pool_size)


def _problem(state, key, pool_size, n_initial, rounds, acquisition_size, strategy, seed):
    """What is wrong with a parsed checkpoint, as the end of a sentence, or None."""
    fields = ("version", "key", "chosen", "results")
    if not isinstance(state, dict):
        return f"holds a JSON {type(state).__name__}, not an object"
    if set(state) != set(fields):
        return (f"has the fields {sorted(state)}; a localinf checkpoint of version {VERSION} has "
                f"exactly {sorted(fields)}")
    if not _int(state["version"]) or state["version"] != VERSION:
        return f"has version {state['version']!r}; this localinf reads version {VERSION}"
    if not isinstance(state["key"], str):
        return "has a key that is not a string"
    if state["key"] != key:
        return "was written by a run with other settings or data"
    chosen, results = state["chosen"], state["results"]
    if not isinstance(chosen, list) or not all(_int(i) and 0 <= i < pool_size for i in chosen):
        return f"has 'chosen' that is not a list of pool indices 0..{pool_size - 1}"
    if len(set(chosen)) != len(chosen):
        return "labels a pool point twice in 'chosen'"
    if not isinstance(results, list) or len(results) > rounds + 1:
        return f"has 'results' that is not a list of at most {rounds + 1} rounds"
    for i, r in enumerate(results):
        if not isinstance(r, dict) or set(r) != set(RESULT_FIELDS):
            return (f"has a result {i} that is not an object with exactly the fields "
                    f"{list(RESULT_FIELDS)}")
        expected = dict(round=i, n_labeled=n_initial + _taken(i, acquisition_size, pool_size),
                        strategy=strategy, seed=seed)
        wrong = [k for k, v in expected.items() if r[k] != v or type(r[k]) is bool]
        if wrong:
            return f"has a result {i} whose {', '.join(wrong)} do not fit this run"
        if not (_number(r["accuracy"]) and 0 <= r["accuracy"] <= 1):
            return f"has a result {i} whose accuracy is not a number in [0, 1]"
        if not (_number(r["seconds"]) and r["seconds"] >= 0):
            return f"has a result {i} whose seconds is not a number >= 0"
    want = _taken(min(len(results), rounds), acquisition_size, pool_size)
    if len(chosen) != want:
        return (f"has {len(chosen)} labeled points for {len(results)} completed rounds of "
                f"{acquisition_size} (expected {want})")
    return None


def load(path, key, *, pool_size, n_initial, rounds, acquisition_size, strategy, seed):
    """The saved state of a run, checked against the run, or an empty state.

    Parameters
    ----------
    path : str or None
        The checkpoint; None or a missing file gives the empty state.
    key : str
        :func:`config_key` of the current run; a checkpoint with another key is refused.
    pool_size : int
        The entries of ``chosen`` must be distinct indices in ``0..pool_size - 1``.
    n_initial : int
        Labeled points before the first round (for each result's ``n_labeled``).
    rounds : int
    acquisition_size : int
        The run's rounds and points per round: k completed rounds (k <= rounds)
        must have labeled ``min(k * acquisition_size, pool_size)`` points, and
        there are at most ``rounds + 1`` results (round 0 is the initial fit).
    strategy : str
    seed : int
        Every result must carry the run's strategy and seed.

    Returns
    -------
    dict
        ``chosen`` (list of int) and ``results`` (list of dict).

    Raises
    ------
    CheckpointError
        The file cannot be read, is not valid JSON, lacks or adds a field, has a
        value of the wrong type or range, or was written by another run. The
        message names the file and the remedy.
    """
    if path is None or not os.path.exists(path):
        return {"chosen": [], "results": []}
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(exc).__name__}); "
                              f"{REMEDY}") from None
    try:
        state = json.loads(text)
    except ValueError:
        problem = "is not valid JSON (empty, truncated or edited)"
    else:
        problem = _problem(state, key, pool_size, n_initial, rounds, acquisition_size, strategy, seed)
    if problem is not None:
        raise CheckpointError(f"checkpoint {path} {problem}; {REMEDY}")
    return state


def discard(path):
    """Delete a checkpoint, if there is one (``restart=True``).

    Parameters
    ----------
    path : str or None

    Returns
    -------
    None
    """
    if path is None:
        return
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise CheckpointError(f"checkpoint {path} cannot be deleted ({exc.strerror}); "
                              "delete it by hand or choose another path") from None


def save(path, key, chosen, results):
    """Write the state atomically (nothing when path is None).

    Parameters
    ----------
    path : str or None
    key : str
    chosen : list of int
    results : list of dict

    Returns
    -------
    None
    """
    if path is not None:
        write_text(path, json.dumps({"version": VERSION, "key": key, "chosen": chosen,
                                     "results": results}))


def _holder(lock):
    """``(pid, host)`` written in a lock file; None where it cannot be read or parsed."""
    try:
        with open(lock, encoding="utf-8") as f:
            words = f.read().split()
    except (OSError, UnicodeDecodeError):
        return None
    if not words or not words[0].isdigit() or int(words[0]) <= 0:
        return None  # empty: another run may be writing its pid right now
    return int(words[0]), words[1] if len(words) > 1 else socket.gethostname()


def _is_stale(holder):
    """Whether the run that wrote the lock is known to have ended (a dead pid on this host)."""
    if holder is None or os.name == "nt":  # unreadable, or no safe liveness probe
        return False
    pid, host = holder
    if host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive but not ours (PermissionError), or unknown: keep the lock
        return False
    return False


def _acquire(path, lock, token):
    for attempt in (0, 1):
        try:
            os.makedirs(os.path.dirname(os.path.abspath(lock)), exist_ok=True)
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(lock)
            if attempt == 0 and _is_stale(holder) and _holder(lock) == holder:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(lock)  # its run has ended: take the lock over
                continue
            who = f", held by pid {holder[0]} on {holder[1]}" if holder else ""
            raise CheckpointError(f"checkpoint {path} is in use by another run (lock file {lock}"
                                  f"{who}); wait for that run to end, or delete {lock} if no run "
                                  "is using the checkpoint") from None
        except OSError as exc:
            raise CheckpointError(f"cannot create the lock file {lock} of checkpoint {path} "
                                  f"({exc.strerror}); choose another path") from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(token)
        return


@contextlib.contextmanager
def locked(path):
    """Hold the lock of a checkpoint for the duration of a ``with`` block.

    The lock is the file ``path + ".lock"``, created exclusively
    (``O_CREAT | O_EXCL``) and holding the pid and host name of the run; it is
    removed when the block ends, normally or by an exception. A second run on
    the same checkpoint meanwhile gets a :class:`CheckpointError` that names
    the lock file, so two runs never interleave their rounds. A lock whose pid
    is no longer alive on this host is stale (its run was killed) and is taken
    over; a lock of another host, of a live pid, or one that cannot be read is
    respected, and the message says to delete it if no run is using it. Taking
    over a stale lock is best effort: two runs that find the same stale lock at
    the same instant may both proceed.

    Parameters
    ----------
    path : str or None
        The checkpoint; None locks nothing.

    Yields
    ------
    str or None
        The lock file.
    """
    if path is None:
        yield None
        return
    lock = path + ".lock"
    token = f"{os.getpid()} {socket.gethostname()}\n"
    _acquire(path, lock, token)
    try:
        yield lock
    finally:
        try:
            with open(lock, encoding="utf-8") as f:
                ours = f.read() == token
        except OSError:
            ours = False
        if ours:  # never remove a lock another run has taken over
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)
