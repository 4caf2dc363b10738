"""``fastws serve``: a WebSocket server from the command line.

``fastws serve --echo`` answers every message with itself, handy to test
any client. The server prints ``listening on ws://HOST:PORT/`` (one line
per socket) once it accepts connections and stops cleanly, closing every
connection with 1001, on Ctrl-C or SIGTERM.

The handler is chosen by :func:`handler_for`; a new way to pick one (a
``module:function`` of the user's, say) is one more branch there and one
more option in :func:`configure`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..asyncio.server import ServerConnection

__all__ = ["HELP", "configure", "handler_for", "run"]

HELP = "run a WebSocket echo server"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``fastws serve`` to ``parser``."""
    parser.add_argument("--echo", action="store_true", help="echo every message back (the only mode so far)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port, 0 for any free one (default: 8765)")
    parser.add_argument(
        "--max-size",
        type=int,
        default=2**20,
        help="largest message accepted, in bytes; 0 for no limit (default: 1 MiB)",
    )
    parser.add_argument("--tls-cert", help="certificate chain (PEM) to serve wss://")
    parser.add_argument("--tls-key", help="private key (PEM) of --tls-cert")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")


async def _echo(ws: ServerConnection) -> None:
    # The callback API: every message is answered inside the read that
    # brought it, without a task switch per message.
    ws.on_message = ws.send_nowait
    await ws.wait_closed()


def handler_for(args: argparse.Namespace) -> Callable[[ServerConnection], Awaitable[None]] | str:
    """The connection handler the options ask for, or why there is none.

    Returns:
        The handler, or an error message for the command line.
    """
    if args.echo:
        return _echo
    return "only --echo is supported so far"


def run(args: argparse.Namespace) -> int:
    """Run ``fastws serve`` until Ctrl-C or SIGTERM; return the exit status."""
    handler = handler_for(args)
    if isinstance(handler, str):
        print(f"fastws serve: {handler}", file=sys.stderr)
        return 2
    if bool(args.tls_cert) != bool(args.tls_key):
        print("fastws serve: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    import asyncio

    coroutine = _serve(args, handler)
    try:
        if args.uvloop:
            import uvloop

            uvloop.run(coroutine)
        else:
            asyncio.run(coroutine)
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(args: argparse.Namespace, handler: Callable[[ServerConnection], Awaitable[None]]) -> None:
    import asyncio
    import signal
    import ssl

    from ..asyncio.server import serve

    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)

    loop = asyncio.get_running_loop()
    stop: asyncio.Future[None] = loop.create_future()

    def request_stop(*_: Any) -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, request_stop)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    async with serve(handler, args.host, args.port, ssl=context, max_size=args.max_size or None) as server:
        for sock in server.sockets:
            host, port = sock.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            print(f"listening on {'wss' if context else 'ws'}://{shown}:{port}/", flush=True)
        await stop
    print("server closed", file=sys.stderr, flush=True)
