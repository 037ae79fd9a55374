"""Redraw the figures of docs/plots.md from the code on that page.

Runs the page's Python blocks in order, in one namespace, as tests/test_docs.py
does, and saves every Figure the page leaves in a variable ``fig_<name>`` as
``docs/img/plots-<name>.png``. Usage (from the repository root or anywhere)::

    python docs/img/make_plots.py [output folder, default docs/img]
"""

import pathlib
import re
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
PAGE = HERE.parent / "plots.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def main(out=HERE):
    """Run the page's blocks and save its ``fig_*`` figures under ``out``; returns the paths."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    namespace = {"__name__": "__doc__"}
    for k, code in enumerate(BLOCK.findall(PAGE.read_text())):
        exec(compile(code, f"<plots.md block {k}>", "exec"), namespace)  # noqa: S102 - our own page
    paths = []
    for name, fig in namespace.items():
        if name.startswith("fig_") and isinstance(fig, matplotlib.figure.Figure):
            path = out / f"plots-{name[4:].replace('_', '-')}.png"
            fig.savefig(path, dpi=110, bbox_inches="tight")
            paths.append(path)
    plt.close("all")
    return paths


if __name__ == "__main__":
    for p in main(*sys.argv[1:2]):
        print(f"wrote {p}")
