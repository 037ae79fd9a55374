"""Atomic file output (private): an interrupted run leaves the old file or none,
never half of one, and no temporary file behind."""

import os
import tempfile


def _file_mode():
    """The mode a new file gets under the current umask (``0o666 & ~umask``)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _atomic(path, suffix, write):
    """Write through a temporary file in the same folder, then rename it over ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=suffix)
    try:
        write(fd, tmp)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text(path, text):
    """Write ``text`` to ``path`` atomically, with the permissions the umask gives."""
    def write(fd, tmp):
        with os.fdopen(fd, "w") as f:
            f.write(text)
    _atomic(path, ".tmp", write)


def save_figure(fig, path, dpi=110):
    """``fig.savefig`` to ``path`` atomically, with the permissions the umask gives."""
    def write(fd, tmp):
        os.close(fd)
        fig.savefig(tmp, dpi=dpi)
    _atomic(path, os.path.splitext(path)[1] or ".png", write)
