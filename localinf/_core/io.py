"""Atomic file output (private): an interrupted run leaves the old file or none,
never half of one."""

import os
import tempfile


def _replace(tmp, path):
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_text(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same folder."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    _replace(tmp, path)


def save_figure(fig, path, dpi=110):
    """``fig.savefig`` through a temporary file in the same folder."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=os.path.splitext(path)[1] or ".png")
    os.close(fd)
    fig.savefig(tmp, dpi=dpi)
    _replace(tmp, path)
