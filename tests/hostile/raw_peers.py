"""Raw-socket attackers for the hostile-peer tests: a server that answers with crafted bytes.

:func:`raw_server` listens on loopback; for each connection it reads the
client's request head, answers with a 101 computed from its key (or with
the status line given), then runs a script that writes crafted frames.
Nothing here uses fastws: frames come from the tests' own writer
(``conformance/wire.py``), so fastws cannot be both the attacker and the
judge.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable

from conformance.wire import OP_CLOSE, build_frame, build_response, close_payload

__all__ = ["CONTROL", "Script", "close_frame", "raw_server"]

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

#: What must never reach a log line or a terminal raw: C0 controls (CR, LF,
#: ESC, NUL, BEL, ...), DEL and the C1 controls (CSI 0x9b among them).
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def close_frame(code: int, reason: bytes = b"") -> bytes:
    """An unmasked close frame, as a server sends it."""
    return build_frame(OP_CLOSE, close_payload(code, reason))


@contextlib.asynccontextmanager
async def raw_server(script: Script, *, status_line: bytes | None = None) -> AsyncIterator[int]:
    """Serve ``script`` on 127.0.0.1; yield the port.

    Args:
        script: run on each connection after the answer, with its streams;
            the connection is closed when it returns.
        status_line: answer with this status line and no upgrade headers
            instead of a valid 101.
    """

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            if status_line is not None:
                writer.write(status_line + b"\r\nContent-Length: 0\r\n\r\n")
            else:
                match = re.search(rb"(?im)^sec-websocket-key:\s*(\S+)\r$", head)
                assert match is not None, head
                writer.write(build_response(match.group(1).decode()))
            await writer.drain()
            await script(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away first: what the test checks is elsewhere
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)
