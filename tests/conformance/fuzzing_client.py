"""The fuzzing client: drives a WebSocket *server* under test with crafted bytes.

It opens a TCP connection to the server, performs the opening handshake with
bytes of its own (RFC 6455 section 4.1) and checks the answer strictly, then
plays a case from :mod:`.cases` (masking every frame it sends, as a client
must) and judges the echoes, the close frame and the TCP closing order.
"""

from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Callable

from .cases import Case
from .session import CaseFailed, Result, Session, run_session
from .wire import WireError, accept_key, build_request, read_http_head

__all__ = ["HANDSHAKE_TIMEOUT", "handshake", "run_case"]

#: Bound on connecting and on the opening handshake.
HANDSHAKE_TIMEOUT = 5.0


def handshake(sock: socket.socket, host: str, port: int, path: str = "/") -> bytes:
    """Send a client handshake on ``sock`` and validate the server's answer.

    Returns:
        Bytes received after the response head (normally none).

    Raises:
        CaseFailed: the answer is not a valid 101 for our key.
    """
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    sock.settimeout(HANDSHAKE_TIMEOUT)
    sock.sendall(build_request(host, port, path, key))
    buffer = b""
    deadline = time.monotonic() + HANDSHAKE_TIMEOUT
    while True:
        try:
            parsed = read_http_head(buffer)
        except WireError as exc:
            raise CaseFailed(f"handshake: malformed response: {exc}") from None
        if parsed is not None:
            break
        if time.monotonic() > deadline:
            raise CaseFailed("handshake: no complete response in time")
        try:
            data = sock.recv(65536)
        except TimeoutError:
            raise CaseFailed("handshake: no complete response in time") from None
        if not data:
            raise CaseFailed(f"handshake: connection closed; received {buffer[:200]!r}")
        buffer += data
    head, rest = parsed
    # Section 4.2.2 / 4.1: the answer must be a 101 with these headers.
    parts = head.start_line.split(" ", 2)
    if len(parts) < 2 or parts[0] != "HTTP/1.1" or parts[1] != "101":
        raise CaseFailed(f"handshake: status line {head.start_line!r}, expected HTTP/1.1 101")
    if "websocket" not in head.tokens("upgrade"):
        raise CaseFailed(f"handshake: Upgrade is {head.headers.get('upgrade')}")
    if "upgrade" not in head.tokens("connection"):
        raise CaseFailed(f"handshake: Connection is {head.headers.get('connection')}")
    if head.get("sec-websocket-accept") != accept_key(key):
        raise CaseFailed(
            f"handshake: Sec-WebSocket-Accept is {head.headers.get('sec-websocket-accept')}, "
            f"expected {accept_key(key)}"
        )
    for name in ("sec-websocket-extensions", "sec-websocket-protocol"):
        if name in head.headers:
            raise CaseFailed(f"handshake: the server sent {name} although the client offered none")
    return rest


def run_case(case: Case, host: str, port: int, *, on_connect: Callable[[int], None] | None = None) -> Result:
    """Run ``case`` against the server at (host, port).

    Args:
        case: the case to play.
        host: the server's address.
        port: its port.
        on_connect: called with our local port once connected (to find the
            server's record of this connection).

    Returns:
        The verdict, with reasons.
    """
    result = Result(case.name, "server")
    start = time.monotonic()
    sock = socket.create_connection((host, port), timeout=HANDSHAKE_TIMEOUT)
    if on_connect is not None:
        on_connect(sock.getsockname()[1])
    try:
        try:
            rest = handshake(sock, host, port, f"/{case.name}")
        except CaseFailed as exc:
            result.fail(str(exc))
            return result
        except OSError as exc:
            result.fail(f"handshake: {exc!r}")
            return result
        session = Session(sock, peer_is_server=True, initial=rest)
        run_session(session, case, result)
    finally:
        sock.close()
        result.duration = time.monotonic() - start
    return result
