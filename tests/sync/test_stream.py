"""The threaded connection's bounds and clocks: flow control, back-pressure, the background
thread, keepalive, the closing handshake's timeout, and failing after a protocol error."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from conformance.wire import OP_CLOSE, OP_PING, OP_TEXT, parse_close_payload
from fastws import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK
from fastws.options import FAILURE_GRACE, HOLD_LIMIT
from fastws.protocol import State
from fastws.sync import ServerConnection, connect
from fastws.sync.stream import TAKEOVER_DELAY

CHUNK = 65536


#: A reserved opcode: a frame with it is a protocol error (1002).
RESERVED_OPCODE = 0x3


def send_forever(ws: ServerConnection) -> None:
    """Send 64 KiB messages until the connection closes."""
    try:
        while True:
            ws.send(b"x" * CHUNK)
    except ConnectionClosed:
        pass


def stalled(progress: list[int], quiet: float = 0.5, limit: float = 20) -> bool:
    """Wait until ``progress[0]`` stops growing for ``quiet`` seconds (False after ``limit``)."""
    deadline = time.monotonic() + limit
    last, since = progress[0], time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if progress[0] != last:
            last, since = progress[0], time.monotonic()
        elif time.monotonic() - since >= quiet:
            return True
    return False


class TestFlowControl:
    def test_an_application_that_does_not_read_stops_reading(self, sync_server: Any) -> None:
        """The queue is bounded, the input behind it too; then TCP pushes back; nothing is lost."""
        release = threading.Event()
        state: dict[str, Any] = {}
        received: list[bytes] = []

        def sleepy(ws: ServerConnection) -> None:
            release.wait(30)
            with ws._lock:
                state["queued"] = len(ws._queue)
                state["queued_bytes"] = sum(map(len, ws._queue))
                state["held"] = ws.protocol.held_bytes
            received.extend(ws.recv(10) for _ in range(200))

        options = {"max_queue": 16, "max_queue_bytes": 2**20, "compression": None}
        with sync_server(sleepy, **options) as (_, url), connect(url, compression=None) as ws:
            sent = [0]

            def flood() -> None:
                for n in range(200):
                    ws.send(n.to_bytes(4, "big") * (CHUNK // 4))
                    sent[0] += 1

            sender = threading.Thread(target=flood)
            sender.start()
            try:
                assert stalled(sent), "send() never blocked"
                assert sent[0] < 200
            finally:
                release.set()
            sender.join(30)
            assert not sender.is_alive()
        assert state["queued"] <= 16
        assert state["queued_bytes"] <= 2**20 + CHUNK
        assert state["held"] <= HOLD_LIMIT + 4096
        assert received == [n.to_bytes(4, "big") * (CHUNK // 4) for n in range(200)]

    def test_taking_messages_resumes_reading(self, sync_server: Any) -> None:
        count = 1000

        def burst(ws: ServerConnection) -> None:
            for n in range(count):
                ws.send(str(n))
            ws.recv()

        with sync_server(burst) as (_, url), connect(url, max_queue=(8, 2)) as ws:
            time.sleep(0.3)  # the background thread fills the queue, then stops
            with ws._lock:
                assert len(ws._queue) <= 8
            assert [ws.recv(5) for _ in range(count)] == [str(n) for n in range(count)]
            ws.send("done")


class TestBackPressure:
    def test_send_blocks_while_the_peer_does_not_read(self, sync_server: Any, raw_client: Any) -> None:
        progress = [0]
        outcome: list[BaseException] = []

        def producer(ws: ServerConnection) -> None:
            try:
                while True:
                    ws.send(b"x" * CHUNK)
                    progress[0] += 1
            except BaseException as exc:
                outcome.append(exc)

        with sync_server(producer, close_timeout=1) as (server, _):
            peer = raw_client(server.socket.getsockname()[1])
            peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            try:
                assert stalled(progress), "send() never blocked"
                # Memory stays bounded: the kernel's buffers hold the rest.
                assert progress[0] < 200
                (connection,) = server.connections
                with connection._lock:
                    assert connection._outbox_bytes <= 32768
            finally:
                peer.close()
            deadline = time.monotonic() + 10
            while not outcome and time.monotonic() < deadline:
                time.sleep(0.02)
        assert outcome and isinstance(outcome[0], ConnectionClosedError)

    def test_close_is_bounded_when_the_peer_does_not_read(self, sync_server: Any, raw_client: Any) -> None:
        """The close frame cannot be written: the connection is cut off at close_timeout."""
        durations: list[float] = []
        closed = threading.Event()

        def producer(ws: ServerConnection) -> None:
            threading.Thread(target=send_forever, args=(ws,)).start()
            time.sleep(0.5)  # the sender is blocked by now
            started = time.monotonic()
            ws.close()
            durations.append(time.monotonic() - started)
            closed.set()

        with sync_server(producer, close_timeout=0.5) as (server, _):
            peer = raw_client(server.socket.getsockname()[1])
            try:
                assert closed.wait(10)
                assert 0.4 < durations[0] < 2
            finally:
                peer.close()

    def test_a_ping_flood_does_not_queue_pongs(self, sync_server: Any, raw_client: Any) -> None:
        """A peer that sends pings and never reads: answers wait up to write_limit, then reading stops."""

        def idle(ws: ServerConnection) -> None:
            ws.recv()

        with sync_server(idle, write_limit=4096) as (server, _):
            peer = raw_client(server.socket.getsockname()[1])
            peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sent = [0]
            pings = peer.frame(OP_PING, b"p" * 125) * 64

            def flood() -> None:
                peer.sock.settimeout(0.5)
                try:
                    while sent[0] < 100_000:
                        peer.sock.sendall(pings)
                        sent[0] += 64
                except OSError:
                    pass

            flooder = threading.Thread(target=flood)
            flooder.start()
            try:
                assert stalled(sent)
                (connection,) = server.connections
                with connection._lock:
                    assert connection._outbox_bytes <= 4096 + 131
            finally:
                flooder.join(10)
                peer.close()


class TestCoalescing:
    def test_a_burst_is_answered_in_few_writes(self, sync_server: Any, raw_client: Any) -> None:
        writes: list[int] = []

        def echo_counting(ws: ServerConnection) -> None:
            write = ws.transport.write

            def counting(data: Any) -> None:
                writes.append(len(data))
                write(data)

            ws.transport.write = counting  # type: ignore[method-assign]
            for _ in range(50):
                ws.send(ws.recv())
            ws.recv()

        with sync_server(echo_counting) as (server, _):
            peer = raw_client(server.socket.getsockname()[1])
            try:
                peer.sock.sendall(b"".join(peer.frame(OP_TEXT, str(n).encode()) for n in range(50)))
                assert [peer.read_frame().payload for _ in range(50)] == [str(n).encode() for n in range(50)]
            finally:
                peer.close()
        assert len(writes) < 10  # one write per message without coalescing

    def test_held_back_messages_go_out_when_the_application_goes_away(
        self, sync_server: Any, raw_client: Any
    ) -> None:
        def busy(ws: ServerConnection) -> None:
            first = ws.recv()  # the second message is queued by now
            ws.send(f"re: {first}")  # held back, to be written with the next ones...
            time.sleep(2)  # ... but the application goes away
            ws.recv()

        with sync_server(busy) as (server, _):
            peer = raw_client(server.socket.getsockname()[1])
            try:
                peer.sock.sendall(peer.frame(OP_TEXT, b"one") + peer.frame(OP_TEXT, b"two"))
                started = time.monotonic()
                assert peer.read_frame().payload == b"re: one"
                assert time.monotonic() - started < TAKEOVER_DELAY + 0.5
            finally:
                peer.close()


class TestBackgroundThread:
    def test_pings_answered_while_the_application_is_busy(self, sync_server: Any) -> None:
        round_trips: list[float] = []

        def pinger(ws: ServerConnection) -> None:
            ws.recv()
            for _ in range(3):
                started = time.monotonic()
                assert ws.ping().wait(5)
                round_trips.append(time.monotonic() - started)
            ws.send("done")

        with sync_server(pinger) as (_, url), connect(url) as ws:
            ws.send("go")
            time.sleep(0.5)  # busy: not in recv()
            assert ws.recv(5) == "done"
        assert len(round_trips) == 3
        assert max(round_trips) < TAKEOVER_DELAY + 0.5

    def test_the_peers_close_is_seen_while_the_application_only_sends(self, sync_server: Any) -> None:
        def closer(ws: ServerConnection) -> None:
            ws.close(1001)

        with sync_server(closer) as (_, url):
            ws = connect(url)
            assert ws.wait_closed(5)  # nobody called recv()
            assert ws.state is State.CLOSED
            with pytest.raises(ConnectionClosedOK) as info:
                ws.send("too late")
            assert info.value.code == 1001

    def test_no_thread_left_after_close(self, sync_server: Any) -> None:
        with sync_server() as (_, url):
            ws = connect(url)
            thread = ws._thread
            assert thread is not None and thread.is_alive()
            ws.close()
            thread.join(5)
            assert not thread.is_alive()


class TestKeepalive:
    def test_keepalive_measures_latency(self, sync_server: Any) -> None:
        with sync_server(ping_interval=0.05) as (_, url), connect(url, ping_interval=0.05) as ws:
            deadline = time.monotonic() + 5
            while ws.latency == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert ws.latency > 0
            ws.send("alive")
            assert ws.recv(5) == "alive"

    def test_server_drops_a_peer_that_stops_answering_pings(self, sync_server: Any, raw_client: Any) -> None:
        outcome: list[BaseException] = []

        def handler(ws: ServerConnection) -> None:
            try:
                ws.recv()
            except BaseException as exc:
                outcome.append(exc)

        with sync_server(handler, ping_interval=0.1, ping_timeout=0.2) as (server, _):
            peer = raw_client(server.socket.getsockname()[1])
            try:
                started = time.monotonic()
                frames = [peer.read_frame()]
                while frames[-1].opcode != OP_CLOSE:
                    frames.append(peer.read_frame())
                assert OP_PING in [frame.opcode for frame in frames]
                assert parse_close_payload(frames[-1].payload)[0] == 1011
                assert time.monotonic() - started < 2
            finally:
                peer.close()
            deadline = time.monotonic() + 5
            while not outcome and time.monotonic() < deadline:
                time.sleep(0.02)
        assert isinstance(outcome[0], ConnectionClosedError)
        assert outcome[0].sent is not None and outcome[0].sent.code == 1011

    def test_client_drops_a_server_that_stops_answering_pings(self, raw_server: Any) -> None:
        ws, peer = raw_server.pair(
            lambda url: connect(url, ping_interval=0.1, ping_timeout=0.2, close_timeout=0.5)
        )
        try:
            with pytest.raises(ConnectionClosedError) as info:
                ws.recv(5)
            assert info.value.sent is not None and info.value.sent.code == 1011
            assert ws.wait_closed(5)
        finally:
            peer.close()


class TestClosingHandshake:
    def test_a_peer_that_never_answers_the_close_is_cut_off(self, raw_server: Any) -> None:
        ws, peer = raw_server.pair(lambda url: connect(url, close_timeout=0.3))
        try:
            started = time.monotonic()
            ws.close()
            assert 0.25 < time.monotonic() - started < 3
            assert ws.close_code == 1006
            with pytest.raises(ConnectionClosedError):
                ws.recv(1)
        finally:
            peer.close()

    def test_server_closes_after_the_client_goes_silent(self, sync_server: Any, raw_client: Any) -> None:
        def closer(ws: ServerConnection) -> None:
            ws.close(1000)

        with sync_server(closer, close_timeout=0.3) as (server, _):
            peer = raw_client(server.socket.getsockname()[1])
            try:
                deadline = time.monotonic() + 5
                while server.connections and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert not server.connections  # cut off, though the client never answered
            finally:
                peer.close()


class TestFailing:
    def test_messages_before_an_error_are_answered_first(self, sync_server: Any, raw_client: Any) -> None:
        with sync_server() as (server, _):
            peer = raw_client(server.socket.getsockname()[1])
            try:
                # A valid message, then a reserved opcode, in one write.
                peer.sock.sendall(peer.frame(OP_TEXT, b"hello") + peer.frame(RESERVED_OPCODE))
                started = time.monotonic()
                echo = peer.read_frame()
                assert (echo.opcode, echo.payload) == (OP_TEXT, b"hello")
                close = peer.read_frame()
                assert close.opcode == OP_CLOSE and parse_close_payload(close.payload)[0] == 1002
                assert time.monotonic() - started < FAILURE_GRACE / 2
            finally:
                peer.close()

    def test_the_failure_waits_at_most_the_grace_period(self, sync_server: Any, raw_client: Any) -> None:
        def slow(ws: ServerConnection) -> None:
            ws.recv()
            time.sleep(3)  # does not come back to recv() in time

        with sync_server(slow) as (server, _):
            peer = raw_client(server.socket.getsockname()[1])
            try:
                peer.sock.sendall(peer.frame(OP_TEXT, b"hello") + peer.frame(RESERVED_OPCODE))
                started = time.monotonic()
                close = peer.read_frame()
                elapsed = time.monotonic() - started
                assert close.opcode == OP_CLOSE and parse_close_payload(close.payload)[0] == 1002
                assert FAILURE_GRACE * 0.8 < elapsed < FAILURE_GRACE + 1
            finally:
                peer.close()

    def test_message_too_big(self, sync_server: Any) -> None:
        with sync_server(max_size=1000) as (_, url), connect(url) as ws:
            ws.send(b"x" * 1001)
            with pytest.raises(ConnectionClosedError) as info:
                ws.recv(5)
            assert info.value.code == 1009

    def test_invalid_utf8_from_the_server(self, raw_server: Any) -> None:
        ws, peer = raw_server.pair(lambda url: connect(url, close_timeout=0.5))
        try:
            peer.send(OP_TEXT, b"\xc3\x28")  # invalid UTF-8
            with pytest.raises(ConnectionClosedError) as info:
                ws.recv(5)
            assert info.value.sent is not None and info.value.sent.code == 1007
        finally:
            peer.close()
            ws.close()
