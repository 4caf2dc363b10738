"""The ``fastws`` command (also ``python -m fastws``).

``fastws COMMAND --help`` describes each subcommand; ``fastws --version``
prints the version. The subcommands and their options:

``fastws serve (--echo | MODULE:HANDLER) [--process-request MODULE:FUNCTION] [--host HOST] [--port PORT] [--max-size BYTES] [--tls-cert FILE --tls-key FILE] [--uvloop] [--workers N] [--redis URL] [--proxy-headers] [--forwarded-allow-ips IPS] [--close-timeout SECONDS]``
    A server: an echo server, to test any client, or an application's
    ``async def handler(ws)``. It prints ``listening on ws://HOST:PORT/``
    once it accepts connections and stops cleanly (closing every
    connection with 1001) on Ctrl-C or SIGTERM. ``--workers N`` runs N
    processes on one port (Linux); ``--redis URL`` shares their topics
    (``server.publish``) through Redis; ``--proxy-headers`` takes the
    client's address from ``X-Forwarded-For`` when the peer is one of
    ``--forwarded-allow-ips`` (default ``$FORWARDED_ALLOW_IPS`` or
    127.0.0.1).

``fastws connect URL [--subprotocol NAME]... [--header NAME:VALUE]... [--origin ORIGIN] [--cafile FILE] [--max-size BYTES] [--linger SECONDS]``
    An interactive client: each line of standard input is sent as a text
    message, each message received is printed on standard output with its
    control characters escaped (binary ones as ``[binary N bytes]`` and
    their first bytes in hex). Ends by itself when the connection closes:
    status 0 after a clean closing handshake (1000 or 1001 both ways), 1
    otherwise.

``fastws bench [--quick] [--json FILE] [--no-gc]``
    Times the installed codec twins (masking, UTF-8 validation, frame
    parsing and encoding) against a plain memory copy, in one table;
    ``--quick`` takes under 30 seconds. The garbage collector runs while
    timing, as in applications; ``--no-gc`` turns it off. The comparison with other
    WebSocket libraries is ``python bench/codec_peers.py`` in the source
    tree.

``fastws integrations status [--json]``
    Lists the adapters that speed up websockets, wsproto, aiohttp and
    Tornado: the library version found, the range supported, the state.

``fastws integrations run [--only NAMES] [--verbose] [--force] -- COMMAND...``
    Runs a command with the adapters installed in each Python process it
    starts. ``python -m fastws.integrations`` is the same command.

The code lives in :mod:`fastws.cli`, one module per subcommand.
"""

from __future__ import annotations

import sys

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
