"""Refusing work before allocating it: a memory budget and a budget of floating-point operations.

Each method estimates its peak memory (bytes) and its arithmetic (flops) from
the shapes alone and calls :func:`check_cost` before it allocates. Above a
budget the call raises :class:`~localinf.exceptions.BudgetError` with
the estimate and the remedy, instead of running for minutes and then failing
in numpy's allocator (or taking the machine's memory).

Budgets: :func:`set_budget`, else the environment variables
``LOCALINF_MEMORY_BUDGET`` (bytes; suffixes K, M, G, T) and
``LOCALINF_FLOPS_BUDGET``, else the defaults: 80 % of the memory available when
the check runs, and 2e12 flops (a minute or more on one core).
"""

import os
import re

from ..exceptions import InputError, BudgetError

_DEFAULT_FLOPS = 2e12
_SET = {"memory": None, "flops": None}
_UNITS = {"": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}


def _available_memory():
    """Bytes of memory available now (Linux: MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _parse(text, name):
    m = re.fullmatch(r"\s*([0-9.eE+]+)\s*([KMGT]?)i?B?\s*", str(text))
    try:
        value = float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise InputError(f"{name} must be a positive number of bytes (e.g. 8G); got {text!r}")
    return value


def set_budget(memory=None, flops=None):
    """Set the budgets every method checks before it allocates (None: back to the default).

    Parameters
    ----------
    memory : float or str, optional
        Bytes (``8e9`` or ``"8G"``).
    flops : float, optional
        Floating-point operations.

    Returns
    -------
    dict
        The budgets now in force: ``{"memory": bytes or None, "flops": float}``.
    """
    _SET["memory"] = None if memory is None else _parse(memory, "memory")
    _SET["flops"] = None if flops is None else _parse(flops, "flops")
    return budget()


def budget():
    """The budgets in force: ``{"memory": bytes or None (unknown), "flops": float}``.

    Returns
    -------
    dict
    """
    memory = _SET["memory"]
    if memory is None and os.environ.get("LOCALINF_MEMORY_BUDGET"):
        memory = _parse(os.environ["LOCALINF_MEMORY_BUDGET"], "LOCALINF_MEMORY_BUDGET")
    if memory is None:
        avail = _available_memory()
        memory = None if avail is None else 0.8 * avail
    flops = _SET["flops"]
    if flops is None:
        flops = _parse(os.environ["LOCALINF_FLOPS_BUDGET"], "LOCALINF_FLOPS_BUDGET") \
            if os.environ.get("LOCALINF_FLOPS_BUDGET") else _DEFAULT_FLOPS
    return {"memory": memory, "flops": flops}


def _bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}"
        n /= 1024


def check_cost(what, remedy, nbytes=0.0, flops=0.0):
    """Raise BudgetError when ``nbytes`` or ``flops`` exceed the budget.

    Parameters
    ----------
    what : str
        The computation, for the message (with its shapes).
    remedy : str
        What to do instead.
    nbytes : float
        Estimated peak memory in bytes.
    flops : float
        Estimated floating-point operations.

    Returns
    -------
    None
    """
    b = budget()
    if b["memory"] is not None and nbytes > b["memory"]:
        raise BudgetError(
            f"{what} needs about {_bytes(nbytes)} of memory, above the budget of {_bytes(b['memory'])}: "
            f"{remedy}, or raise the budget (localinf.set_budget(memory=...) or LOCALINF_MEMORY_BUDGET)")
    if flops > b["flops"]:
        raise BudgetError(
            f"{what} needs about {flops:.1e} floating-point operations, above the budget of "
            f"{b['flops']:.1e} (a minute or more on one core): {remedy}, or raise the budget "
            "(localinf.set_budget(flops=...) or LOCALINF_FLOPS_BUDGET)")


def check_memory(nbytes, what, remedy):
    """:func:`check_cost` for memory alone.

    Parameters
    ----------
    nbytes : float
    what, remedy : str

    Returns
    -------
    None
    """
    check_cost(what, remedy, nbytes=nbytes)


def check_table(what, n, m, p):
    """Refuse an (n, m) table of training x query values (and its (p, m) solves) above the budget.

    Parameters
    ----------
    what : str
        The measure's name.
    n, m, p : int
        Training rows, query rows, parameters.

    Returns
    -------
    None
    """
    check_cost(f"{what} for {n} training x {m} query rows",
               "pass fewer query rows at a time, or use fi_util (the mean over a validation set)",
               nbytes=8.0 * (n + 2 * p) * m)


def check_inverse(p):
    """Refuse a dense (p, p) Hessian with its factor and inverse above the budget.

    Parameters
    ----------
    p : int
        Parameters.

    Returns
    -------
    None
    """
    check_cost(f"the exact inverse Hessian ({p} x {p})",
               "use curvature='cg' or 'kfac', or a model with fewer parameters",
               nbytes=24.0 * p * p, flops=float(p) ** 3)
