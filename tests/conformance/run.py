"""``python tests/conformance/run.py``: the same as ``python -m tests.conformance``."""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a script: make the repository root importable so that the
    # package (and its relative imports) load as ``tests.conformance``.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.conformance.__main__ import main

    sys.exit(main())
