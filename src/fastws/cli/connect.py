"""``fastws connect URL``: an interactive WebSocket client, like websocat.

Each line read from standard input (a terminal, a pipe or a file) is sent
as a text message; each message received is printed on standard output, one
line per message. The server chooses what it sends, so its text is printed
with control characters escaped (``\\n``, ``\\x1b``, ``\\u202e``:
:func:`fastws.escaping.escape`): a message cannot clear the screen, retitle
the terminal or forge a line of output. Binary messages are printed as
``[binary N bytes]`` followed by their first bytes in hex. The close code
and reason go to standard error, escaped the same way.

The command ends by itself:

* when the server closes the connection, at once, whether or not standard
  input is still open;
* at the end of the input: after ``--linger`` seconds without a message
  (so that replies to the last lines are printed), it closes the
  connection with 1000.

The exit status is 0 after a clean close (the closing handshake completed
with 1000 or 1001 both ways: the rule of :class:`fastws.ConnectionClosedOK`),
1 otherwise, 2 for a bad option and 130 on Ctrl-C.

Standard input is read with ``os.read`` in a daemon thread, never through
``sys.stdin``'s buffered reader: a thread blocked inside that reader holds
its lock, and an interpreter that exits meanwhile aborts ("Fatal Python
error: _enter_buffered_busy"). The command changes no terminal setting and
no file flag of standard input, so the terminal is left as it was found.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from ..escaping import escape

if TYPE_CHECKING:
    import asyncio

    from ..asyncio.client import ClientConnection

__all__ = ["BINARY_PREVIEW", "HELP", "configure", "render", "run"]

#: The subcommand's line in ``fastws --help``.
HELP = "interactive WebSocket client: send stdin lines, print messages"

#: How many bytes of a binary message are printed in hex.
BINARY_PREVIEW = 64


def configure(parser: argparse.ArgumentParser) -> None:
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


def render(message: str | bytes) -> str:
    """One line of output for a received message, safe for a terminal.

    Args:
        message: a text (``str``) or binary (``bytes``) message.

    Returns:
        The text with its control characters escaped, or ``[binary N
        bytes] HEX`` with the first :data:`BINARY_PREVIEW` bytes in hex.
    """
    if isinstance(message, str):
        return escape(message)
    shown = message[:BINARY_PREVIEW].hex()
    more = " ..." if len(message) > BINARY_PREVIEW else ""
    return f"[binary {len(message)} bytes] {shown}{more}"


def run(args: argparse.Namespace) -> int:
    """Run ``fastws connect``; return the exit status."""
    import asyncio

    # A message may hold characters the terminal's encoding lacks: write
    # them as escapes rather than fail.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        return asyncio.run(_connect(args))
    except KeyboardInterrupt:
        return 130


def _read_stdin(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]) -> None:
    """Put standard input's bytes on ``queue`` as they arrive, then None at its end."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # no standard input at all
        queue.put_nowait(None)
        return

    def read() -> None:
        try:
            while True:
                data = os.read(fd, 65536)
                if not data:
                    break
                loop.call_soon_threadsafe(queue.put_nowait, data)
        except OSError:
            pass
        try:
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:  # the loop is closed: the command is over
            pass

    threading.Thread(target=read, name="fastws-stdin", daemon=True).start()


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _connect(args: argparse.Namespace) -> int:
    import asyncio
    import ssl

    from ..asyncio.client import connect
    from ..exceptions import InvalidHandshake

    headers = []
    for item in args.header:
        name, sep, value = item.partition(":")
        if not sep:
            _say(f"fastws connect: --header needs NAME:VALUE, got {item!r}")
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
        _say(f"fastws connect: {escape(str(exc)) or type(exc).__name__}")
        return 1
    _say(f"connected to {escape(args.url)}" + (f" ({escape(ws.subprotocol)})" if ws.subprotocol else ""))

    chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
    _read_stdin(asyncio.get_running_loop(), chunks)
    received = asyncio.Event()
    receiving = asyncio.create_task(_print_messages(ws, received))
    sending = asyncio.create_task(_send_lines(ws, chunks, received, args.linger))
    try:
        # The first to end decides: the server closed (receiving), or the
        # input ended and the closing handshake was started (sending).
        await asyncio.wait({receiving, sending}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sending.cancel()
        await ws.close()
        await asyncio.wait({receiving, sending})
    code, reason = ws.close_code, ws.close_reason
    _say(f"connection closed: {code}" + (f" {escape(reason)}" if reason else ""))
    return await _exit_status(ws)


async def _exit_status(ws: ClientConnection) -> int:
    # The connection's own verdict: recv() on a closed connection raises
    # ConnectionClosedOK exactly when the closing handshake completed with
    # 1000 or 1001 both ways.
    from ..exceptions import ConnectionClosed, ConnectionClosedOK

    try:
        await ws.recv()
    except ConnectionClosedOK:
        return 0
    except ConnectionClosed:
        return 1
    return 1  # a message after close() returned: not a clean end


async def _print_messages(ws: ClientConnection, received: asyncio.Event) -> None:
    from ..exceptions import ConnectionClosed

    out = sys.stdout
    try:
        async for message in ws:
            received.set()
            out.write(render(message) + "\n")
            out.flush()
    except ConnectionClosed:
        pass  # how it closed is read from the connection afterwards
    except OSError:
        pass  # standard output is gone (a closed pipe): nothing left to do


async def _send_lines(
    ws: ClientConnection, chunks: asyncio.Queue[bytes | None], received: asyncio.Event, linger: float
) -> None:
    from ..exceptions import ConnectionClosed

    try:
        await _send_input(ws, chunks, received, linger)
    except ConnectionClosed:
        pass  # the server closed first: _print_messages has ended too


async def _send_input(
    ws: ClientConnection, chunks: asyncio.Queue[bytes | None], received: asyncio.Event, linger: float
) -> None:
    import asyncio

    pending = b""
    while True:
        data = await chunks.get()
        if data is None:
            break
        lines = (pending + data).split(b"\n")
        pending = lines.pop()
        for line in lines:
            await ws.send(line.rstrip(b"\r").decode("utf-8", "replace"))
    if pending:
        await ws.send(pending.rstrip(b"\r").decode("utf-8", "replace"))
    # Replies to the last lines may still be on their way.
    while linger > 0:
        received.clear()
        try:
            await asyncio.wait_for(received.wait(), linger)
        except asyncio.TimeoutError:
            break
    await ws.close()
