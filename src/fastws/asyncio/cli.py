"""The ``fastws serve`` and ``fastws connect`` subcommands.

* ``fastws serve --echo [--host H] [--port P] [--max-size N] [--tls-cert F
  --tls-key F]``: an echo server, handy to test any client. It prints
  ``listening on ws://HOST:PORT/`` once it accepts connections and stops
  cleanly (closing every connection with 1001) on Ctrl-C or SIGTERM.
* ``fastws connect URL``: an interactive client, like websocat: each line
  read from standard input (a terminal or a pipe) is sent as a text
  message, each message received is printed on standard output (binary
  ones as ``[binary N bytes] <hex>``). At the end of the input the
  connection is closed normally (after ``--linger`` seconds without a
  message, so that replies to the last lines are printed); when the server closes it, the command
  ends, with status 0 after a normal closure and 1 otherwise.

The module imports neither asyncio nor the rest of fastws until a command
runs, so that ``fastws --help`` stays instant. :data:`SUBCOMMANDS` is what
``fastws.__main__`` registers; ``python -m fastws.asyncio.cli`` also works.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "SUBCOMMANDS",
    "add_subcommands",
    "configure_connect",
    "configure_serve",
    "main",
    "run_connect",
    "run_serve",
]


def configure_serve(parser: argparse.ArgumentParser) -> None:
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


def configure_connect(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``fastws connect`` to ``parser``."""
    parser.add_argument("url", help="ws:// or wss:// URL")
    parser.add_argument("--subprotocol", action="append", default=[], help="offer a subprotocol (repeatable)")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="add a request header (repeatable)",
    )
    parser.add_argument("--origin", help="Origin header to send")
    parser.add_argument("--cafile", help="trust this CA certificate (PEM) for wss://")
    parser.add_argument(
        "--max-size",
        type=int,
        default=2**24,
        help="largest message accepted, in bytes; 0 for no limit (default: 16 MiB)",
    )
    parser.add_argument(
        "--linger",
        type=float,
        default=0.5,
        help="at the end of the input, wait until no message has arrived for this many "
        "seconds before closing, so replies are printed (default: 0.5)",
    )


#: name -> (help, configure, "module:function" runner), the shape of
#: ``fastws.__main__.Command``.
SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], str]] = {
    "serve": ("run a WebSocket echo server", configure_serve, "fastws.asyncio.cli:run_serve"),
    "connect": (
        "interactive WebSocket client: send stdin lines, print messages",
        configure_connect,
        "fastws.asyncio.cli:run_connect",
    ),
}


def add_subcommands(subparsers: Any) -> None:
    """Add ``serve`` and ``connect`` to an argparse ``add_subparsers()`` object.

    Each subparser gets ``func`` (the runner) as a default.
    """
    for name, (help_text, configure, runner) in SUBCOMMANDS.items():
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        configure(parser)
        parser.set_defaults(func=_RUNNERS[runner])


# -- serve ---------------------------------------------------------------------------


def run_serve(args: argparse.Namespace) -> int:
    """Run ``fastws serve``; return the exit status."""
    if not args.echo:
        print("fastws serve: only --echo is supported so far", file=sys.stderr)
        return 2
    if bool(args.tls_cert) != bool(args.tls_key):
        print("fastws serve: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    import asyncio

    coroutine = _serve(args)
    try:
        if args.uvloop:
            import uvloop

            uvloop.run(coroutine)
        else:
            asyncio.run(coroutine)
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(args: argparse.Namespace) -> None:
    import asyncio
    import signal
    import ssl

    from .server import ServerConnection, serve

    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)

    async def echo(ws: ServerConnection) -> None:
        # The callback API: every message is answered inside the read that
        # brought it, without a task switch per message.
        ws.on_message = ws.send_nowait
        await ws.wait_closed()

    stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def request_stop() -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            asyncio.get_running_loop().add_signal_handler(sig, request_stop)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    async with serve(echo, args.host, args.port, ssl=context, max_size=args.max_size or None) as server:
        for sock in server.sockets:
            host, port = sock.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            print(f"listening on {'wss' if context else 'ws'}://{shown}:{port}/", flush=True)
        await stop
    print("server closed", file=sys.stderr, flush=True)


# -- connect -------------------------------------------------------------------------


def run_connect(args: argparse.Namespace) -> int:
    """Run ``fastws connect``; return the exit status."""
    import asyncio

    try:
        return asyncio.run(_connect(args))
    except KeyboardInterrupt:
        return 130


def _stdin_lines(loop: Any, queue: Any) -> None:
    """Read standard input in a daemon thread (works for terminals, pipes and files)."""
    import threading

    def read() -> None:
        stream = sys.stdin.buffer
        try:
            for line in iter(stream.readline, b""):
                loop.call_soon_threadsafe(queue.put_nowait, line)
        except (OSError, ValueError, RuntimeError):
            pass
        try:
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:  # the loop is gone: the command is over
            pass

    threading.Thread(target=read, name="fastws-stdin", daemon=True).start()


async def _connect(args: argparse.Namespace) -> int:
    import asyncio
    import ssl

    from ..exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake
    from .client import connect

    headers = []
    for item in args.header:
        name, sep, value = item.partition(":")
        if not sep:
            print(f"fastws connect: --header needs NAME:VALUE, got {item!r}", file=sys.stderr)
            return 2
        headers.append((name.strip(), value.strip()))
    options: dict[str, Any] = {
        "subprotocols": args.subprotocol or None,
        "additional_headers": headers or None,
        "origin": args.origin,
        "max_size": args.max_size or None,
    }
    if args.cafile:
        options["ssl"] = ssl.create_default_context(cafile=args.cafile)
    try:
        ws = await connect(args.url, **options)
    except (OSError, InvalidHandshake, ValueError, asyncio.TimeoutError) as exc:
        print(f"fastws connect: {exc or type(exc).__name__}", file=sys.stderr)
        return 1
    print(f"connected to {args.url}" + (f" ({ws.subprotocol})" if ws.subprotocol else ""), file=sys.stderr)

    received = asyncio.Event()

    async def printer() -> None:
        out = sys.stdout
        async for message in ws:
            received.set()
            if isinstance(message, str):
                out.write(message + "\n")
            else:
                out.write(f"[binary {len(message)} bytes] {message.hex()}\n")
            out.flush()

    lines: asyncio.Queue[bytes | None] = asyncio.Queue()
    _stdin_lines(asyncio.get_running_loop(), lines)

    async def sender() -> None:
        while True:
            line = await lines.get()
            if line is None:
                break
            await ws.send(line.rstrip(b"\r\n").decode("utf-8", "replace"))
        # Replies to the last lines may still be on their way.
        while args.linger > 0:
            received.clear()
            try:
                await asyncio.wait_for(received.wait(), args.linger)
            except asyncio.TimeoutError:
                break
        await ws.close()

    receiving = asyncio.create_task(printer())
    sending = asyncio.create_task(sender())
    try:
        await asyncio.wait({receiving, sending}, return_when=asyncio.FIRST_EXCEPTION)
        if not receiving.done():
            # Input ended and close() returned: the connection is closed.
            await asyncio.wait_for(receiving, 1)
    except (ConnectionClosed, asyncio.TimeoutError):
        pass
    finally:
        sending.cancel()
        await ws.close()
    try:
        receiving.result()
    except ConnectionClosed:
        pass
    code, reason = ws.close_code, ws.close_reason
    print(f"connection closed: {code}" + (f" {reason}" if reason else ""), file=sys.stderr)
    try:
        await ws.recv()
    except ConnectionClosedOK:
        return 0
    except ConnectionClosed:
        return 1
    return 0  # pragma: no cover - recv() cannot return after close


_RUNNERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "fastws.asyncio.cli:run_serve": run_serve,
    "fastws.asyncio.cli:run_connect": run_connect,
}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fastws.asyncio.cli serve|connect ...``."""
    parser = argparse.ArgumentParser(prog="fastws")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
