"""Run Tornado's own test runner with a fastws adapter installed first.

Usage: ``FASTWS_PEER_ADAPTER=tornado python tornado_runner.py tornado.test.websocket_test``
(arguments go to ``tornado.test.runtests``). The adapter's call count is
printed to stderr and written to ``FASTWS_PEER_MARKER`` at exit.
"""

from __future__ import annotations

import atexit
import sys

import fastws_peer_plugin

__all__ = ["main"]


def main() -> None:
    """Install the adapter, then hand over to ``tornado.test.runtests.main``."""
    fastws_peer_plugin.activate()
    atexit.register(
        lambda: print(fastws_peer_plugin._summary_line(fastws_peer_plugin.report()), file=sys.stderr)
    )
    from tornado.test.runtests import main as tornado_main

    sys.argv = ["tornado.test.runtests", *sys.argv[1:]]
    tornado_main()


if __name__ == "__main__":
    main()
