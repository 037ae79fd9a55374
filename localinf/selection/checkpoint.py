"""Checkpoints of a selection run: written atomically after every round, read back only
by a run with the same settings and data."""

import hashlib
import json
import os

import numpy as np

from .._core.io import write_text
from ..exceptions import InputError


def config_key(*parts):
    """A digest of a run's settings and data (arrays by their bytes, others by repr).

    Parameters
    ----------
    *parts : ndarray or any object with a stable repr

    Returns
    -------
    str
        Hexadecimal SHA-256.
    """
    h = hashlib.sha256()
    for p in parts:
        h.update(np.ascontiguousarray(p).tobytes() if isinstance(p, np.ndarray) else repr(p).encode())
    return h.hexdigest()


def load(path, key):
    """The saved state of a run, or an empty one.

    Parameters
    ----------
    path : str or None
    key : str
        :func:`config_key` of the current run; a checkpoint with another key is refused.

    Returns
    -------
    dict
        ``chosen`` (list of int) and ``results`` (list of dict).
    """
    if path is None or not os.path.exists(path):
        return {"chosen": [], "results": []}
    with open(path) as f:
        state = json.load(f)
    if state.get("key") != key:
        raise InputError(f"checkpoint {path} was written by a run with other settings or data; "
                         "remove it or choose another path")
    return state


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
        write_text(path, json.dumps({"key": key, "chosen": chosen, "results": results}))
