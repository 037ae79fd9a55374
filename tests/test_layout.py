"""The package's layers: imports point down only, no import cycle, no imports of
localinf modules inside functions, no file much over 450 lines.

The source is parsed (never imported), so a violation is found even in code no
test runs. The checker is itself tested on a small package with each defect.
"""

import ast
import pathlib

import pytest

import localinf

PKG = pathlib.Path(localinf.__file__).resolve().parent

# Lowest first. A module may import from its own component or a lower layer;
# components in the same layer do not import each other.
LAYERS = [
    {"exceptions"},
    {"_core"},
    {"models"},
    {"curvature"},
    {"backends"},
    {"measures"},
    {"selection"},
    {"validation"},
    {"interop", "plots"},
    {"cli", "validate", "__init__"},
]
MAX_LINES = 460


def modules(root):
    """``{dotted name: path}`` for every .py file of the package at ``root``."""
    out = {}
    for path in root.rglob("*.py"):
        parts = (root.name,) + path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name, path, known):
    """``[(target module, line, inside a function?)]`` for the package's own imports."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    root = name.split(".")[0]
    found = []

    def resolve(dotted):
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == root:
                        found.append((resolve(alias.name), child.lineno, in_function))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - (child.level - 1)]
                    mod = ".".join(base + ([child.module] if child.module else []))
                else:
                    mod = child.module or ""
                if mod.split(".")[0] != root:
                    continue
                targets = [f"{mod}.{a.name}" for a in child.names if f"{mod}.{a.name}" in known]
                for target in targets or [resolve(mod)]:
                    found.append((target, child.lineno, in_function))
            visit(child, inside)

    visit(tree, False)
    return found


def component(name):
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_of(comp, layers):
    for rank, members in enumerate(layers):
        if comp in members:
            return rank
    raise AssertionError(f"component {comp!r} is in no layer: add it to LAYERS")


def violations(root, layers=LAYERS, max_lines=MAX_LINES):
    """Every layering defect of the package at ``root``, as readable lines."""
    known = modules(root)
    graph = {name: set() for name in known}
    out = []
    for name, path in sorted(known.items()):
        n_lines = len(path.read_text().splitlines())
        if n_lines > max_lines:
            out.append(f"{name}: {n_lines} lines (over {max_lines})")
        for target, line, in_function in imports(name, path, known):
            if target is None:
                out.append(f"{name}:{line}: imports a module that does not exist")
                continue
            if in_function:
                out.append(f"{name}:{line}: imports {target} inside a function")
            if target != name:
                graph[name].add(target)
            a, b = component(name), component(target)
            if a != b and layer_of(b, layers) >= layer_of(a, layers):
                out.append(f"{name}:{line}: imports {target} ({b!r} is not below {a!r})")
    out += [f"import cycle: {' -> '.join(c)}" for c in cycles(graph)]
    return out


def cycles(graph):
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def strong(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp) + [sorted(comp)[0]])

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_localinf_is_layered():
    assert violations(PKG) == []


def test_every_component_has_a_layer():
    comps = {component(name) for name in modules(PKG)}
    placed = set().union(*LAYERS)
    assert comps <= placed, comps - placed


def test_measures_talk_to_backends_through_the_protocol_only():
    """No measure converts a model to autograd or tells backends apart: measures/ and
    selection/ import nothing from a concrete backend or the GLM-to-autograd wrapper,
    and probe no object with hasattr."""
    known = modules(PKG)
    concrete = {"localinf.backends.autograd", "localinf.backends.reference",
                "localinf.backends.mixed", "localinf.backends.kfsvd", "localinf.models.glm_autograd"}
    for name, path in known.items():
        if component(name) not in ("measures", "selection"):
            continue
        targets = {t for t, _, _ in imports(name, path, known)}
        assert not targets & concrete, (name, targets & concrete)
        assert "hasattr(" not in path.read_text(), name


@pytest.mark.parametrize("pattern, home", [
    ("range(0, ", "localinf._core.chunks"),  # the one row-chunk iterator
    ("t *= 0.5", "localinf.models.newton"),  # the one line search
    ("sqrtP[:, 1:]", "localinf.models.multinomial"),  # the class-indicator factor
    ("cho_factor(", None),  # Cholesky: the GLM's Newton step and InverseHessian only
])
def test_each_piece_is_written_once(pattern, home):
    found = sorted(name for name, path in modules(PKG).items() if pattern in path.read_text())
    if home is None:
        assert found == ["localinf.curvature.exact", "localinf.models.glm"], found
    else:
        assert found == [home], found


def write(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize("files, expected", [
    ({"low/__init__.py": "", "low/a.py": "from ..high import b\n", "high/__init__.py": "",
      "high/b.py": "X = 1\n"}, "'high' is not below 'low'"),
    ({"low/__init__.py": "", "low/a.py": "from . import b\n", "low/b.py": "from . import a\n"},
     "import cycle: pkg.low.a -> pkg.low.b -> pkg.low.a"),
    ({"low/__init__.py": "", "low/a.py": "def f():\n    from . import b\n", "low/b.py": ""},
     "inside a function"),
    ({"low/__init__.py": "", "low/a.py": "import pkg.high.b\n", "high/__init__.py": "",
      "high/b.py": ""}, "'high' is not below 'low'"),
    ({"low/__init__.py": "", "low/a.py": "x = 1\n" * 20}, "20 lines (over 10)"),
])
def test_the_checker_finds_each_defect(tmp_path, files, expected):
    root = tmp_path / "pkg"
    write(root, {"__init__.py": "", **files})
    found = violations(root, layers=[{"low"}, {"high"}, {"__init__"}], max_lines=10)
    assert any(expected in v for v in found), found


def test_the_checker_accepts_clean_code_and_third_party_imports_in_functions(tmp_path):
    root = tmp_path / "pkg"
    write(root, {"__init__.py": "from .high import b\n", "low/__init__.py": "", "low/a.py": "X = 1\n",
                 "high/__init__.py": "", "high/b.py": "from ..low.a import X\n\ndef f():\n    import json\n"})
    assert violations(root, layers=[{"low"}, {"high"}, {"__init__"}]) == []
