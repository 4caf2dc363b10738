"""Loopback glue that runs the fastws peers under test: an echo server and an
echo client, each a blocking socket loop around the sans-IO protocol objects.

This is the only module that knows how fastws is driven. It does what an
I/O layer does with a sans-IO protocol and nothing more: read, feed
``receive_data`` / ``receive_eof``, echo every text and binary message while
the connection is open, write ``data_to_send`` and, on ``b""``, half-close
TCP, drain what the peer still sends (so that closing cannot turn into a
reset that destroys unread data), then close. Swap it for the asyncio layer
(``fastws.serve`` / ``fastws.connect``) by keeping :class:`EchoServer` and
:func:`start_echo_client`'s shapes.

Every blocking call has a timeout; every loop ends by a deadline.
"""

from __future__ import annotations

import socket
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CONNECTION_TIMEOUT", "EchoServer", "PeerRecord", "start_echo_client"]

#: Bound on one connection's whole life (16 MiB echoes fit easily).
CONNECTION_TIMEOUT = 60.0
#: Bound on draining after our EOF, waiting for the peer's.
DRAIN_TIMEOUT = 5.0
_RECV_SIZE = 1 << 18


@dataclass
class PeerRecord:
    """What happened to one connection of the peer under test."""

    #: set when the connection's thread is over.
    done: threading.Event = field(default_factory=threading.Event)
    #: an unexpected exception in fastws or in the glue (with traceback).
    error: str | None = None
    #: the protocol object, for inspection after the case.
    protocol: Any = None
    messages: int = 0

    def wait(self, timeout: float) -> bool:
        """Wait for the connection to end; False on timeout."""
        return self.done.wait(timeout)


def _run_connection(sock: socket.socket, proto: Any, record: PeerRecord, handshake: Any) -> None:
    """The I/O loop of one connection (server or client side)."""
    from fastws.events import BinaryMessage, TextMessage
    from fastws.protocol import State

    record.protocol = proto
    deadline = time.monotonic() + CONNECTION_TIMEOUT
    eof_sent = eof_received = False
    drain_until: float | None = None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            for event in proto.events_received():
                if handshake is not None and handshake(proto, event):
                    continue
                # The application: echo, while the connection is open (an
                # I/O layer would raise ConnectionClosed to the sender).
                if isinstance(event, TextMessage):
                    record.messages += 1
                    if proto.state is State.OPEN:
                        proto.send_text(event.data)
                elif isinstance(event, BinaryMessage):
                    record.messages += 1
                    if proto.state is State.OPEN:
                        proto.send_binary(event.data)
            for chunk in proto.data_to_send():
                if chunk:
                    if not eof_sent:
                        try:
                            sock.sendall(chunk)
                        except (BrokenPipeError, ConnectionResetError):
                            eof_received = True
                elif not eof_sent:
                    eof_sent = True
                    drain_until = time.monotonic() + DRAIN_TIMEOUT
                    try:
                        sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
            if eof_received:
                # Nothing more can arrive; what the protocol had to write in
                # answer to the EOF was written just above.
                return
            now = time.monotonic()
            limit = deadline if drain_until is None else min(deadline, drain_until)
            if now >= limit:
                return
            sock.settimeout(limit - now)
            try:
                data = sock.recv(_RECV_SIZE)
            except TimeoutError:
                return
            except ConnectionResetError:
                data = b""
            if not data:
                eof_received = True
                proto.receive_eof()
            elif eof_sent or proto.state is State.CLOSED:
                continue  # draining: the protocol is done reading.
            else:
                proto.receive_data(data)
    except Exception:
        record.error = traceback.format_exc()
    finally:
        sock.close()
        record.done.set()


def _server_handshake(proto: Any, event: Any) -> bool:
    from fastws.handshake import Request

    if isinstance(event, Request):
        proto.send_response(proto.accept(event))
        return True
    return False


def _client_handshake(proto: Any, event: Any) -> bool:
    from fastws.handshake import Response

    return isinstance(event, Response)


class EchoServer:
    """A fastws echo server on 127.0.0.1, one thread per connection.

    Args:
        config: keyword arguments for ``fastws.server.ServerProtocol``.
    """

    def __init__(self, config: Mapping[str, object] | None = None) -> None:
        self.config = dict(config or {})
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.host = "127.0.0.1"
        self.port: int = self.listener.getsockname()[1]
        self.records: dict[int, PeerRecord] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"echo-server-{self.port}", daemon=True
        )
        self._thread.start()

    def _accept_loop(self) -> None:
        from fastws.server import ServerProtocol

        while not self._stop.is_set():
            try:
                sock, addr = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            record = PeerRecord()
            with self._lock:
                self.records[addr[1]] = record
            try:
                proto = ServerProtocol(**self.config)
            except Exception:
                record.error = traceback.format_exc()
                record.done.set()
                sock.close()
                continue
            threading.Thread(
                target=_run_connection, args=(sock, proto, record, _server_handshake), daemon=True
            ).start()

    def record_for(self, client_port: int, timeout: float = 5.0) -> PeerRecord | None:
        """The record of the connection from ``client_port``, once it ended.

        Returns:
            None if no such connection was accepted in time.
        """
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                record = self.records.pop(client_port, None)
            if record is not None:
                record.wait(max(0.0, end - time.monotonic()))
                return record
            time.sleep(0.001)
        return None

    def close(self) -> None:
        """Stop accepting (connections in progress end by their deadlines)."""
        self._stop.set()
        self.listener.close()
        self._thread.join(2.0)

    def __enter__(self) -> EchoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_echo_client(host: str, port: int, config: Mapping[str, object] | None = None) -> PeerRecord:
    """Start a fastws echo client (in a thread) connecting to ws://host:port/.

    Args:
        host: the fuzzing server's address.
        port: its port.
        config: keyword arguments for ``fastws.client.ClientProtocol``.

    Returns:
        The connection's record; ``wait()`` on it after the case.
    """
    record = PeerRecord()

    def main() -> None:
        from fastws.client import ClientProtocol

        try:
            proto = ClientProtocol(f"ws://{host}:{port}/", **dict(config or {}))
            proto.send_request(proto.connect())
            sock = socket.create_connection((host, port), timeout=5.0)
        except Exception:
            record.error = traceback.format_exc()
            record.done.set()
            return
        _run_connection(sock, proto, record, _client_handshake)

    threading.Thread(target=main, name=f"echo-client-{port}", daemon=True).start()
    return record
