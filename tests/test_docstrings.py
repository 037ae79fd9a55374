"""Every public function, class and method documents its parameters and what it returns.

Public means: the names in ``localinf.__all__`` and in the ``__all__`` of each
layer (``localinf.models``, ``.curvature``, ``.backends``, ``.measures``,
``.selection``, ``.validation``), and the public methods those classes define.
The numpydoc sections are parsed, so a parameter missing from ``Parameters``
or a value returned without a ``Returns`` section fails here. A method that
overrides a documented method of a base class may point to it instead.
"""

import ast
import dataclasses
import importlib
import inspect
import re
import textwrap

import pytest

import localinf

LAYERS = ["localinf", "localinf.models", "localinf.curvature", "localinf.backends",
          "localinf.measures", "localinf.selection", "localinf.validation"]


def sections(doc):
    """``{section title: body}`` of a numpydoc docstring."""
    lines = inspect.cleandoc(doc or "").splitlines()
    out, title, body = {}, None, []
    for k, line in enumerate(lines):
        if k + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[k + 1].strip()) and line.strip():
            if title:
                out[title] = body
            title, body = line.strip(), []
        elif title and not re.fullmatch(r"-{3,}", line.strip()):
            body.append(line)
    if title:
        out[title] = body
    return out


def documented_names(body):
    """Parameter names of a Parameters (or Attributes) section: ``x : type`` lines at its indent."""
    names = set()
    for line in body:
        if line and not line[0].isspace():
            for name in line.split(" : ")[0].split(","):
                names.add(name.strip().lstrip("*").replace("\\", ""))
    return names


def returns_value(func):
    """Whether the function (not its nested functions) returns a value or yields."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError):
        return False
    fn = tree.body[0]

    def walk(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if isinstance(child, (ast.Yield, ast.YieldFrom)):
                return True
            if isinstance(child, ast.Return) and child.value is not None and not (
                    isinstance(child.value, ast.Constant) and child.value.value is None):
                return True
            if walk(child):
                return True
        return False
    return walk(fn)


def params_of(func, skip_self):
    names = list(inspect.signature(func).parameters)
    return names[1:] if skip_self else names


def problems_of_function(func, qualname, skip_self=False):
    doc = inspect.getdoc(func)
    if not doc:
        return [f"{qualname}: no docstring"]
    found = sections(func.__doc__)
    out = []
    params = params_of(func, skip_self)
    if params:
        missing = set(params) - documented_names(found.get("Parameters", []))
        if missing:
            out.append(f"{qualname}: parameters not in its Parameters section: {sorted(missing)}")
    if returns_value(func) and not ({"Returns", "Yields"} & set(found)):
        out.append(f"{qualname}: returns a value but has no Returns section")
    return out


def overrides_documented(cls, name):
    for base in cls.__mro__[1:]:
        if name in vars(base) and inspect.isfunction(vars(base)[name]) and \
                not problems_of_function(vars(base)[name], name, skip_self=True):
            return True
    return False


def problems_of_class(cls, qualname):
    if issubclass(cls, Exception):
        return [] if inspect.getdoc(cls) else [f"{qualname}: no docstring"]
    out = []
    found = sections(cls.__doc__)
    params = [p for p in params_of(cls.__init__, skip_self=True) if p not in ("args", "kwargs")]
    where = set(documented_names(found.get("Parameters", [])))
    if dataclasses.is_dataclass(cls):  # a record documents its fields as attributes
        where |= documented_names(found.get("Attributes", []))
    missing = set(params) - where
    if "__init__" in vars(cls) or dataclasses.is_dataclass(cls):
        if missing:
            out.append(f"{qualname}: constructor parameters not documented: {sorted(missing)}")
    for name, member in vars(cls).items():
        if name.startswith("_") or not inspect.isfunction(member):
            continue
        if overrides_documented(cls, name):
            continue
        skip = not isinstance(inspect.getattr_static(cls, name), (staticmethod,))
        out += problems_of_function(member, f"{qualname}.{name}", skip_self=skip)
    return out


def public_objects():
    seen = {}
    for mod_name in LAYERS:
        mod = importlib.import_module(mod_name)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and id(obj) not in seen:
                seen[id(obj)] = (f"{obj.__module__}.{obj.__qualname__}", obj)
    return sorted(seen.values(), key=lambda t: t[0])


@pytest.mark.parametrize("qualname, obj", public_objects(), ids=lambda v: v if isinstance(v, str) else "")
def test_public_api_is_documented(qualname, obj):
    found = problems_of_class(obj, qualname) if inspect.isclass(obj) else problems_of_function(obj, qualname)
    assert found == []


def test_the_checker_finds_missing_sections():
    def undocumented(a, b):
        """Adds.

        Parameters
        ----------
        a : float
        """
        return a + b

    def documented(a, b):
        """Adds.

        Parameters
        ----------
        a, b : float

        Returns
        -------
        float
        """
        return a + b

    found = problems_of_function(undocumented, "undocumented")
    assert any("['b']" in f for f in found) and any("Returns" in f for f in found)
    assert problems_of_function(documented, "documented") == []


def test_public_names_still_resolve():
    """The names the package exported before the layout change are all still there."""
    before = ["LogisticRegression", "SoftmaxRegression", "LocalInfluence", "check_invariance",
              "InvarianceResult", "InverseHessian", "DampedInverse", "CGInverse", "LissaInverse",
              "AutogradModel", "from_glm", "glm_logits", "fit_mlp", "init_mlp", "last_layer",
              "mlp_logits", "trim", "trimming_curve", "trimming_scores", "select",
              "approximate_fi_util", "fi_pairs", "fi_paired_scores", "tmc_shapley",
              "active_learning", "acquisition_scores", "from_statsmodels", "from_sklearn",
              "plot_index", "plot_fi_leverage", "plot_trimming_curve", "plot_2d",
              "LocalInfluenceError", "InputError", "PerfectSeparationError",
              "SingularHessianError", "NotConvergedError", "NotFittedError"]
    assert set(before) <= set(localinf.__all__)
    assert all(hasattr(localinf, name) for name in localinf.__all__)
