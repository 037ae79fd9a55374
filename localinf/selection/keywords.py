"""Keyword dictionaries passed through to another function, checked against its signature."""

import inspect

from ..exceptions import InputError


def checked_keywords(func, kw, argument):
    """``kw`` as a dict after checking every key is a keyword-only argument of ``func``.

    Parameters
    ----------
    func : callable
    kw : dict or None
    argument : str
        The user's argument name, for the error message.

    Returns
    -------
    dict
    """
    if kw is None:
        return {}
    if not isinstance(kw, dict):
        raise InputError(f"{argument} must be a dict of keyword arguments; got {type(kw).__name__}")
    params = inspect.signature(func).parameters
    allowed = [k for k, v in params.items() if v.kind is v.KEYWORD_ONLY]
    unknown = sorted(str(k) for k in kw if k not in allowed)
    if unknown:
        raise InputError(f"{argument}: unknown keyword(s) {unknown} for {func.__qualname__}")
    return dict(kw)
