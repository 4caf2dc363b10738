"""``fastws serve``: a WebSocket server from the command line.

``fastws serve --echo`` answers every message with itself, handy to test
any client; ``fastws serve module:handler`` runs an application's handler
(``async def handler(ws)``, or a plain function that sets callbacks: see
:func:`fastws.asyncio.serve`), as uvicorn runs ``module:app``. The server
prints ``listening on ws://HOST:PORT/`` (one line per socket) once it accepts
connections and stops cleanly, closing every connection with 1001, on
Ctrl-C or SIGTERM.

``--workers N`` runs N processes on one port (:mod:`fastws.cli.workers`);
``--redis URL`` makes them one broadcast domain (``server.publish`` reaches
the subscribers of every worker, and of every host sharing that Redis);
``--proxy-headers`` believes ``X-Forwarded-For`` from ``--forwarded-allow-ips``
(``ws.client_address``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..asyncio.server import ServerConnection

__all__ = ["HELP", "configure", "handler_for", "load", "run"]

#: The subcommand's line in ``fastws --help``.
HELP = "run a WebSocket server: an echo server, or an application's handler"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``fastws serve`` to ``parser``."""
    parser.add_argument(
        "app",
        nargs="?",
        help="the connection handler, as module:function (async def handler(ws), or a plain function that sets callbacks)",
    )
    parser.add_argument("--echo", action="store_true", help="echo every message back")
    parser.add_argument(
        "--process-request",
        metavar="MODULE:FUNCTION",
        help="called with (connection, request) before each handshake; may answer it (serve(process_request=))",
    )
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
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes on the same port (Linux: SO_REUSEPORT)"
    )
    parser.add_argument(
        "--redis", metavar="URL", help="share topics through this Redis (redis://host:port/db)"
    )
    parser.add_argument(
        "--proxy-headers",
        action="store_true",
        help="take the client's address from X-Forwarded-For, when the peer is a trusted proxy",
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        default=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        help="trusted proxies: addresses and networks, comma-separated, or * "
        "(default: $FORWARDED_ALLOW_IPS or 127.0.0.1)",
    )
    parser.add_argument(
        "--close-timeout", type=float, default=10.0, help="seconds a closing handshake may take (default: 10)"
    )


async def _echo(ws: ServerConnection) -> None:
    # The callback API: every message is answered inside the read that
    # brought it, without a task switch per message.
    ws.on_message = ws.send_nowait
    await ws.wait_closed()


def load(name: str) -> Any:
    """The object ``module:attribute`` names (the attribute may be dotted).

    Raises:
        ValueError: ``name`` has no ``:``.
        ImportError: the module cannot be imported.
        AttributeError: the module has no such attribute.
    """
    module_name, _, attribute = name.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected module:function, not {name!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as uvicorn does: apps in the current folder
    value: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


def handler_for(args: argparse.Namespace) -> Callable[[ServerConnection], Awaitable[None] | None] | str:
    """The connection handler the options ask for, or why there is none.

    Returns:
        The handler, or an error message for the command line.
    """
    if args.echo and args.app:
        return "give either --echo or module:handler, not both"
    if args.echo:
        return _echo
    if not args.app:
        return "give module:handler (async def handler(ws), or a plain function) or --echo"
    try:
        handler = load(args.app)
    except (ValueError, ImportError, AttributeError) as exc:
        return f"cannot load {args.app}: {exc}"
    if not callable(handler):
        return f"{args.app} is not a function"
    return handler  # type: ignore[no-any-return]


def run(args: argparse.Namespace) -> int:
    """Run ``fastws serve`` until Ctrl-C or SIGTERM; return the exit status."""
    handler = handler_for(args)
    if isinstance(handler, str):
        print(f"fastws serve: {handler}", file=sys.stderr)
        return 2
    if bool(args.tls_cert) != bool(args.tls_key):
        print("fastws serve: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("fastws serve: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.workers > 1 and getattr(args, "worker", None) is None:
        from .workers import supervise

        return supervise(args)
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


async def _serve(
    args: argparse.Namespace, handler: Callable[[ServerConnection], Awaitable[None] | None]
) -> None:
    import asyncio
    import signal
    import ssl

    from ..asyncio.server import serve

    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    options: dict[str, Any] = {"close_timeout": args.close_timeout}
    if args.process_request:
        options["process_request"] = load(args.process_request)
    if args.redis:
        from ..pubsub import RedisPubSub

        options["pubsub"] = RedisPubSub(args.redis)
    if args.proxy_headers:
        options["forwarded_allow_ips"] = args.forwarded_allow_ips
    worker = getattr(args, "worker", None)
    if worker is not None:
        options["reuse_port"] = True

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
    if worker is not None:
        _stop_with_the_supervisor(loop, request_stop)
    async with serve(
        handler, args.host, args.port, ssl=context, max_size=args.max_size or None, **options
    ) as server:
        suffix = "" if worker is None else f" (worker {worker}, pid {os.getpid()})"
        for sock in server.sockets:
            host, port = sock.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            # One write per line: the workers share the supervisor's stdout,
            # and print() writes the end of line separately when unbuffered.
            print(
                f"listening on {'wss' if context else 'ws'}://{shown}:{port}/{suffix}\n", end="", flush=True
            )
        await stop
    print("server closed", file=sys.stderr, flush=True)


def _stop_with_the_supervisor(loop: Any, request_stop: Callable[[], None]) -> None:
    """Stop this worker, as on SIGTERM, when its supervisor is gone.

    A supervisor killed outright (SIGKILL, the OOM killer) sends no SIGTERM:
    its workers would serve on, and hold the port, with no one to stop
    them. The end of the supervisor closes the pipe behind its sentinel,
    which then reads as ready: no polling.
    """
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def gone() -> None:
        # The end of a pipe stays readable: once is enough.
        loop.remove_reader(sentinel)
        request_stop()

    loop.add_reader(sentinel, gone)
