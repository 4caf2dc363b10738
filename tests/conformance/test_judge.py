"""The judge can fail: the fuzzers against deliberately broken raw peers.

Each test runs a real case against a tiny scripted peer (raw sockets, bytes
from wire.py, no fastws) that breaks one rule, and checks the verdict and
its reason. A well-behaved scripted peer must get OK, so that the failures
are caused by the broken rule and nothing else.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from . import session
from .cases import CASES, Case
from .fuzzing_client import run_case
from .fuzzing_server import FuzzingServer
from .wire import (
    OP_CLOSE,
    OP_TEXT,
    FrameReader,
    WireFrame,
    build_frame,
    build_request,
    build_response,
    close_payload,
    read_http_head,
)

BY_NAME = {case.name: case for case in CASES}
ECHO = BY_NAME["6.2.1"]  # a valid text message, echoed, then a clean close
FAIL = BY_NAME["7.3.2"]  # a 1-byte close payload: the peer must fail with 1002


class Peer:
    """The scripted side of one connection, past the handshake."""

    def __init__(self, sock: socket.socket, mask: bool, initial: bytes = b"") -> None:
        self.sock = sock
        self.mask = mask
        self.reader = FrameReader()
        self.pending: list[WireFrame] = self.reader.feed(initial)

    def recv_frame(self) -> WireFrame | None:
        for _ in range(1000):
            if self.pending:
                return self.pending.pop(0)
            data = self.sock.recv(65536)
            if not data:
                return None
            self.pending.extend(self.reader.feed(data))
        raise AssertionError("no complete frame in 1000 reads")

    def send(self, opcode: int, payload: bytes = b"", **kw: object) -> None:
        self.sock.sendall(build_frame(opcode, payload, mask=True if self.mask else None, **kw))  # type: ignore[arg-type]

    def wait_eof(self) -> None:
        self.sock.settimeout(2.0)
        for _ in range(1000):
            if not self.sock.recv(65536):
                return


Script = Callable[[Peer], None]


def _read_head(sock: socket.socket) -> tuple[object, bytes]:
    """Read an HTTP head (bounded: at most 100 reads, each with a timeout)."""
    buffer = b""
    for _ in range(100):
        parsed = read_http_head(buffer)
        if parsed is not None:
            return parsed
        data = sock.recv(65536)
        if not data:
            break
        buffer += data
    raise AssertionError(f"no HTTP head: {buffer!r}")


def good_echo(peer: Peer) -> None:
    """Echo messages, echo the close, then the server closes (or waits)."""
    while (frame := peer.recv_frame()) is not None:
        if frame.opcode == OP_CLOSE:
            peer.send(OP_CLOSE, frame.payload)
            break
        peer.send(frame.opcode, frame.payload)


def _run_server_script(script: Script, case: Case, *, wrong_accept: bool = False) -> session.Result:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5.0)
    port = listener.getsockname()[1]

    def serve() -> None:
        sock, _ = listener.accept()
        sock.settimeout(5.0)
        with sock:
            head, rest = _read_head(sock)
            key = head.get("sec-websocket-key") or ""  # type: ignore[attr-defined]
            sock.sendall(build_response("x" + key if wrong_accept else key))
            if wrong_accept:
                return
            peer = Peer(sock, mask=False, initial=rest)
            script(peer)
            sock.shutdown(socket.SHUT_WR)
            peer.wait_eof()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        return run_case(case, "127.0.0.1", port)
    finally:
        thread.join(5.0)
        listener.close()


def _run_client_script(script: Script, case: Case, *, client_closes_first: bool = False) -> session.Result:
    with FuzzingServer() as fuzzer:

        def connect() -> None:
            sock = socket.create_connection((fuzzer.host, fuzzer.port), timeout=5.0)
            with sock:
                sock.sendall(build_request(fuzzer.host, fuzzer.port, "/", "dGhlIHNhbXBsZSBub25jZQ=="))
                _, rest = _read_head(sock)
                peer = Peer(sock, mask=True, initial=rest)
                script(peer)
                if client_closes_first:
                    sock.shutdown(socket.SHUT_WR)
                peer.wait_eof()

        thread = threading.Thread(target=connect, daemon=True)
        thread.start()
        result = fuzzer.run_case(case)
        thread.join(5.0)
    return result


@pytest.fixture
def short_close_timeout(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(session, "CLOSE_TIMEOUT", 0.3)
    yield


class TestAgainstScriptedServers:
    def test_good_peer_is_ok(self) -> None:
        result = _run_server_script(good_echo, ECHO)
        assert result.verdict == "OK", result

    def test_wrong_accept_key(self) -> None:
        result = _run_server_script(good_echo, ECHO, wrong_accept=True)
        assert result.verdict == "FAILED" and "Sec-WebSocket-Accept" in str(result)

    def test_masked_frame_from_server(self) -> None:
        def script(peer: Peer) -> None:
            frame = peer.recv_frame()
            assert frame is not None
            peer.sock.sendall(build_frame(frame.opcode, frame.payload, mask=True))
            good_echo(peer)

        result = _run_server_script(script, ECHO)
        assert result.verdict == "FAILED" and "masked frame" in str(result)

    def test_non_minimal_length(self) -> None:
        def script(peer: Peer) -> None:
            frame = peer.recv_frame()
            assert frame is not None
            peer.send(frame.opcode, frame.payload, length_bits=64)
            good_echo(peer)

        result = _run_server_script(script, ECHO)
        assert result.verdict == "FAILED" and "in 64 bits" in str(result)

    def test_bare_drop_instead_of_failing(self) -> None:
        def script(peer: Peer) -> None:
            peer.recv_frame()  # then close TCP without a close frame

        result = _run_server_script(script, FAIL)
        assert result.verdict == "FAILED" and "without a close frame" in str(result)

    def test_wrong_close_code(self) -> None:
        def script(peer: Peer) -> None:
            peer.recv_frame()
            peer.send(OP_CLOSE, close_payload(1000))
            peer.recv_frame()

        result = _run_server_script(script, FAIL)
        assert result.verdict == "FAILED" and "Close([1002])" in str(result)

    def test_frame_after_close(self) -> None:
        def script(peer: Peer) -> None:
            good_echo(peer)
            peer.send(OP_TEXT, b"late")

        result = _run_server_script(script, ECHO)
        assert result.verdict == "FAILED" and "after its close frame" in str(result)

    def test_server_that_does_not_close_tcp(self, short_close_timeout: None) -> None:
        def script(peer: Peer) -> None:
            good_echo(peer)
            peer.sock.settimeout(2.0)
            peer.sock.recv(1)  # wait for the client to give up and close

        result = _run_server_script(script, ECHO)
        assert result.verdict == "FAILED" and "did not close the TCP connection" in str(result)

    def test_invalid_utf8_from_server(self) -> None:
        def script(peer: Peer) -> None:
            peer.recv_frame()
            peer.send(OP_TEXT, b"\xed\xa0\x80")
            good_echo(peer)

        result = _run_server_script(script, ECHO)
        assert result.verdict == "FAILED" and "not UTF-8" in str(result)

    def test_echo_dropped_before_failing_is_non_strict(self) -> None:
        def script(peer: Peer) -> None:
            for _ in range(2):
                peer.recv_frame()
            peer.send(OP_CLOSE, close_payload(1002))
            while (frame := peer.recv_frame()) is not None and frame.opcode != OP_CLOSE:
                pass

        result = _run_server_script(script, BY_NAME["3.2"])
        assert result.verdict == "NON-STRICT", result


class TestAgainstScriptedClients:
    def test_good_peer_is_ok(self) -> None:
        result = _run_client_script(good_echo, ECHO)
        assert result.verdict == "OK", result

    def test_unmasked_frame_from_client(self) -> None:
        def script(peer: Peer) -> None:
            frame = peer.recv_frame()
            assert frame is not None
            peer.sock.sendall(build_frame(frame.opcode, frame.payload))
            good_echo(peer)

        result = _run_client_script(script, ECHO)
        assert result.verdict == "FAILED" and "unmasked frame" in str(result)

    def test_client_that_closes_tcp_first(self) -> None:
        result = _run_client_script(good_echo, ECHO, client_closes_first=True)
        assert result.verdict == "FAILED" and "before the server" in str(result)

    def test_client_may_close_first_when_failing(self) -> None:
        def script(peer: Peer) -> None:
            peer.recv_frame()
            peer.send(OP_CLOSE, close_payload(1002))

        result = _run_client_script(script, FAIL, client_closes_first=True)
        assert result.verdict == "OK", result
