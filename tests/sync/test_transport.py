"""fastws.sync.transport: reads and writes with deadlines, plain and TLS, half-close and abort."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from certificates import client_context, server_context
from fastws.sync.transport import Transport, wait_for


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """Two connected TCP sockets on 127.0.0.1."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        server, _ = listener.accept()
    try:
        yield client, server
    finally:
        client.close()
        server.close()


@pytest.fixture
def tls_pair(
    pair: tuple[socket.socket, socket.socket], certificate: tuple[Path, Path]
) -> Iterator[tuple[Transport, Transport]]:
    """Two TLS transports connected to each other."""
    client_sock, server_sock = pair
    wrapped: list[ssl.SSLSocket] = []
    server_sock.settimeout(5)
    thread = threading.Thread(
        target=lambda: wrapped.append(server_context(certificate).wrap_socket(server_sock, server_side=True))
    )
    thread.start()
    client = client_context(certificate).wrap_socket(client_sock, server_hostname="localhost")
    thread.join(5)
    transports = Transport(client), Transport(wrapped[0])
    try:
        yield transports
    finally:
        for transport in transports:
            transport.close()


def read_exactly(transport: Transport, count: int, timeout: float = 5) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < count:
        got = transport.recv(65536, max(0.0, deadline - time.monotonic()))
        assert got, "nothing more arrived"
        data += got
    return data


class TestPlain:
    def test_read_with_and_without_timeout(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, server = pair
        transport = Transport(client)
        assert transport.remote_address == server.getsockname()
        assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        started = time.monotonic()
        assert transport.recv(16, 0.05) is None
        assert 0.04 < time.monotonic() - started < 2
        server.sendall(b"hello")
        assert transport.recv(16, 5) == b"hello"
        server.sendall(b"again")
        assert transport.read(16) == b"again"

    def test_writes(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, server = pair
        transport = Transport(client)
        transport.write(b"one ")
        transport.writev([b"two ", b"three ", memoryview(b"four")])
        assert transport.sendall(b" five", time.monotonic() + 5)
        server.settimeout(5)
        data = b""
        while len(data) < 23:
            data += server.recv(100)
        assert data == b"one two three four five"

    def test_a_deadline_bounds_the_wait_for_room(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, _ = pair
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        transport = Transport(client)
        client.setblocking(False)
        quiet = 0
        while quiet < 3:  # fill every buffer between the two sockets, until they stay full
            try:
                client.send(b"x" * 65536)
                quiet = 0
            except BlockingIOError:
                quiet += 1
                time.sleep(0.05)
        client.setblocking(True)
        started = time.monotonic()
        assert not transport.sendall(b"ping", time.monotonic() + 0.1)
        assert time.monotonic() - started < 2
        assert not wait_for(client, True, 0)

    def test_half_close_then_abort(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, server = pair
        transport = Transport(client)
        transport.send_eof()
        server.settimeout(5)
        assert server.recv(10) == b""  # our half is closed...
        server.sendall(b"still")
        assert read_exactly(transport, 5) == b"still"  # ...theirs is not
        woken: list[bytes] = []
        reader = threading.Thread(target=lambda: woken.append(transport.read(16)))
        reader.start()
        time.sleep(0.1)
        transport.abort()  # wakes the blocked reader
        reader.join(5)
        assert woken == [b""]
        transport.close()
        transport.close()  # idempotent


class TestTLS:
    def test_echo_both_ways_at_once(self, tls_pair: tuple[Transport, Transport]) -> None:
        """A read and a write run at once, in two threads, on each side (never inside OpenSSL together)."""
        client, server = tls_pair
        assert client.tls and server.tls
        payload = bytes(range(256)) * 4096  # 1 MiB, many TLS records
        received: dict[str, bytes] = {}
        threads = [
            threading.Thread(target=lambda: client.write(payload)),
            threading.Thread(target=lambda: server.write(payload[::-1])),
            threading.Thread(target=lambda: received.update(server=read_exactly(server, len(payload), 20))),
            threading.Thread(target=lambda: received.update(client=read_exactly(client, len(payload), 20))),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
            assert not thread.is_alive()
        assert received == {"server": payload, "client": payload[::-1]}

    def test_timeout_and_close_notify(self, tls_pair: tuple[Transport, Transport]) -> None:
        client, server = tls_pair
        assert client.recv(64, 0.05) is None
        assert server.sendall(b"last words", time.monotonic() + 5)
        server.send_eof()  # close_notify, then our half of TCP
        assert read_exactly(client, 10) == b"last words"
        assert client.recv(64, 5) == b""
        client.write(b"after")  # the server may still read
        assert read_exactly(server, 5) == b"after"
