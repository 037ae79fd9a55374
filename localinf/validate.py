"""``python -m localinf.validate``: the verification report (:mod:`localinf.validation.report`)."""

import sys

from .validation.report import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
