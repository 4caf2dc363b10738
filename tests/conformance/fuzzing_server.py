"""The fuzzing server: drives a WebSocket *client* under test with crafted bytes.

It listens on loopback, accepts one connection, validates the client's
opening handshake strictly (RFC 6455 section 4.1, 4.2.1) and answers 101
(section 4.2.2), then plays a case from :mod:`.cases` (sending unmasked
frames, as a server must) and judges the echoes, the close frame and the TCP
closing order: the server -- this fuzzer -- closes TCP first.
"""

from __future__ import annotations

import base64
import binascii
import socket
import time

from .cases import Case
from .session import CaseFailed, Result, Session, run_session
from .wire import WireError, build_response, read_http_head

__all__ = ["ACCEPT_TIMEOUT", "FuzzingServer", "check_request"]

#: Bound on waiting for the client to connect and send its handshake.
ACCEPT_TIMEOUT = 5.0


def check_request(head_start: str, headers: dict[str, list[str]], tokens: dict[str, list[str]]) -> str:
    """Validate a client handshake (section 4.1); return its Sec-WebSocket-Key.

    Raises:
        CaseFailed: the request breaks section 4.1.
    """
    parts = head_start.split(" ")
    if len(parts) != 3 or parts[0] != "GET" or parts[2] != "HTTP/1.1" or not parts[1].startswith("/"):
        raise CaseFailed(f"handshake: request line {head_start!r}")
    if len(headers.get("host", [])) != 1:
        raise CaseFailed("handshake: there must be exactly one Host header")
    if "websocket" not in tokens["upgrade"]:
        raise CaseFailed(f"handshake: Upgrade is {headers.get('upgrade')}")
    if "upgrade" not in tokens["connection"]:
        raise CaseFailed(f"handshake: Connection is {headers.get('connection')}")
    if headers.get("sec-websocket-version") != ["13"]:
        raise CaseFailed(f"handshake: Sec-WebSocket-Version is {headers.get('sec-websocket-version')}")
    keys = headers.get("sec-websocket-key", [])
    if len(keys) != 1:
        raise CaseFailed(f"handshake: Sec-WebSocket-Key is {keys}")
    try:
        raw = base64.b64decode(keys[0].encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise CaseFailed(f"handshake: Sec-WebSocket-Key {keys[0]!r} is not base64") from None
    # Section 4.1: "a randomly selected 16-byte value that has been base64-encoded".
    if len(raw) != 16:
        raise CaseFailed(f"handshake: Sec-WebSocket-Key decodes to {len(raw)} bytes, not 16")
    return keys[0]


class FuzzingServer:
    """A one-connection fuzzing server on 127.0.0.1 (a fresh port per case)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.listener = socket.create_server((host, 0))
        self.listener.settimeout(ACCEPT_TIMEOUT)
        self.host = host
        self.port: int = self.listener.getsockname()[1]

    def close(self) -> None:
        """Stop listening."""
        self.listener.close()

    def __enter__(self) -> FuzzingServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _handshake(self, sock: socket.socket) -> bytes:
        sock.settimeout(ACCEPT_TIMEOUT)
        buffer = b""
        deadline = time.monotonic() + ACCEPT_TIMEOUT
        while True:
            try:
                parsed = read_http_head(buffer)
            except WireError as exc:
                raise CaseFailed(f"handshake: malformed request: {exc}") from None
            if parsed is not None:
                break
            if time.monotonic() > deadline:
                raise CaseFailed("handshake: no complete request in time")
            try:
                data = sock.recv(65536)
            except TimeoutError:
                raise CaseFailed("handshake: no complete request in time") from None
            if not data:
                raise CaseFailed(f"handshake: connection closed; received {buffer[:200]!r}")
            buffer += data
        head, rest = parsed
        tokens = {name: head.tokens(name) for name in ("upgrade", "connection")}
        try:
            key = check_request(head.start_line, head.headers, tokens)
        except CaseFailed:
            sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            raise
        if rest:
            raise CaseFailed(f"handshake: the client sent {len(rest)} bytes before the server's answer")
        sock.sendall(build_response(key))
        return rest

    def run_case(self, case: Case) -> Result:
        """Accept the client under test and run ``case`` against it.

        Returns:
            The verdict, with reasons.
        """
        result = Result(case.name, "client")
        start = time.monotonic()
        try:
            sock, _ = self.listener.accept()
        except TimeoutError:
            result.fail(f"the client did not connect within {ACCEPT_TIMEOUT} s")
            result.duration = time.monotonic() - start
            return result
        try:
            try:
                rest = self._handshake(sock)
            except CaseFailed as exc:
                result.fail(str(exc))
                return result
            except OSError as exc:
                result.fail(f"handshake: {exc!r}")
                return result
            session = Session(sock, peer_is_server=False, initial=rest)
            run_session(session, case, result)
        finally:
            sock.close()
            result.duration = time.monotonic() - start
        return result
