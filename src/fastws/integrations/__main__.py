"""``python -m fastws.integrations``: the same as ``fastws integrations`` (:mod:`fastws.cli.integrations`)."""

from __future__ import annotations

import sys

from ..cli.integrations import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
