"""Every Python code block in README.md and docs/*.md runs without error.

The blocks of one page run in order in one namespace, as a reader would run
them (a tutorial builds on its earlier steps), in a fresh interpreter."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def blocks():
    for page in PAGES:
        for code in BLOCK.findall(page.read_text()):
            yield page, code


RUNNER = """
import sys
import matplotlib
matplotlib.use("Agg")
namespace = {"__name__": "__doc__"}
for k, code in enumerate(sys.argv[2:]):
    exec(compile(code, f"<{sys.argv[1]} block {k}>", "exec"), namespace)
"""


@pytest.mark.parametrize("page", [p for p in PAGES if BLOCK.search(p.read_text())], ids=lambda p: p.name)
def test_code_blocks_run(page, tmp_path):
    """In a fresh interpreter per page, so a block cannot lean on a module another test imported."""
    import subprocess
    import sys
    res = subprocess.run([sys.executable, "-c", RUNNER, page.name, *BLOCK.findall(page.read_text())],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]


def test_there_are_examples():
    assert len(list(blocks())) >= 2


def test_docs_site_builds_strictly(tmp_path):
    """`mkdocs build --strict` fails on broken links and pages missing from the nav."""
    import subprocess
    import sys
    root = pathlib.Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path)],
                         cwd=root, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "curvature" / "index.html").exists()
