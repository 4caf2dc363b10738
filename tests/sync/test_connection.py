"""The threaded connection's API: receiving, sending, pings, closing, and its thread safety."""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import pytest

from fastws import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, InvalidState
from fastws.protocol import State
from fastws.sync import ServerConnection, connect


def recv_in_a_thread(ws: Any) -> tuple[threading.Thread, list[BaseException]]:
    """Start a thread that waits in ``ws.recv(10)``; the list gets what it raises."""
    outcome: list[BaseException] = []

    def receive() -> None:
        try:
            ws.recv(10)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=receive)
    thread.start()
    return thread, outcome


class TestReceiving:
    def test_text_and_binary(self, sync_server: Any) -> None:
        with sync_server() as (_, url), connect(url) as ws:
            ws.send("héllo")
            assert ws.recv(5) == "héllo"
            for message in (b"\x00\xff", bytearray(b"ba"), memoryview(b"mv")):
                ws.send(message)
                assert ws.recv(5) == bytes(message)

    def test_recv_timeout_loses_nothing(self, sync_server: Any) -> None:
        def late(ws: ServerConnection) -> None:
            ws.recv()
            time.sleep(0.3)
            ws.send("late")
            ws.recv()

        with sync_server(late) as (_, url), connect(url) as ws:
            ws.send("go")
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.05)
            assert time.monotonic() - started < 0.25
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0)
            assert ws.recv(5) == "late"
            ws.send("done")

    def test_timeout_zero_returns_what_has_arrived(self, sync_server: Any) -> None:
        with sync_server() as (_, url), connect(url) as ws:
            ws.send("a")
            ws.send("b")
            assert ws.recv(5) == "a"
            deadline = time.monotonic() + 5
            while True:  # "b" arrives in the same read or right after
                try:
                    assert ws.recv(timeout=0) == "b"
                    break
                except TimeoutError:
                    assert time.monotonic() < deadline
                    time.sleep(0.01)

    def test_iteration_ends_on_a_normal_close(self, sync_server: Any) -> None:
        def three(ws: ServerConnection) -> None:
            for word in ("one", "two", "three"):
                ws.send(word)

        with sync_server(three) as (_, url), connect(url) as ws:
            assert list(ws) == ["one", "two", "three"]
            assert (ws.close_code, ws.close_reason) == (1000, "")

    def test_iteration_raises_on_an_error_close(self, sync_server: Any) -> None:
        def failing(ws: ServerConnection) -> None:
            ws.send("before")
            raise RuntimeError("boom")

        with sync_server(failing) as (_, url), connect(url) as ws:
            received = []
            with pytest.raises(ConnectionClosedError) as info:
                for message in ws:
                    received.append(message)
            assert received == ["before"]
            assert info.value.code == 1011

    def test_concurrent_recv_is_refused(self, sync_server: Any) -> None:
        with sync_server() as (_, url), connect(url) as ws:
            waiting, outcome = recv_in_a_thread(ws)
            deadline = time.monotonic() + 5
            while not ws._receiving:
                assert time.monotonic() < deadline
                time.sleep(0.005)
            with pytest.raises(InvalidState):
                ws.recv(1)
            ws.close()
            waiting.join(5)
            assert not waiting.is_alive()
        assert isinstance(outcome[0], ConnectionClosedOK)

    def test_close_from_another_thread_ends_recv(self, sync_server: Any) -> None:
        with sync_server() as (_, url), connect(url) as ws:
            thread, outcome = recv_in_a_thread(ws)
            time.sleep(0.1)
            ws.close()
            thread.join(5)
        assert len(outcome) == 1 and isinstance(outcome[0], ConnectionClosedOK)


class TestSending:
    def test_fragments(self, sync_server: Any) -> None:
        with sync_server() as (_, url), connect(url) as ws:
            ws.send(["héllo", " ", "wörld"])
            assert ws.recv(5) == "héllo wörld"
            ws.send(iter([b"ab", bytearray(b"cd"), memoryview(b"ef")]))
            assert ws.recv(5) == b"abcdef"
            ws.send([])  # nothing at all
            ws.send("after")
            assert ws.recv(5) == "after"

    def test_mixed_fragments_fail_the_connection(self, sync_server: Any) -> None:
        with sync_server() as (_, url), connect(url) as ws:
            with pytest.raises(TypeError):
                ws.send(["text", b"bytes"])
            with pytest.raises(ConnectionClosedError) as info:
                ws.recv(5)
            assert info.value.sent is not None and info.value.sent.code == 1011

    def test_a_fragment_generator_that_raises_fails_the_connection(self, sync_server: Any) -> None:
        def fragments() -> Any:
            yield "one"
            raise KeyError("two")

        with sync_server() as (_, url), connect(url) as ws:
            with pytest.raises(KeyError):
                ws.send(fragments())
            assert ws.state in (State.CLOSING, State.CLOSED)

    @pytest.mark.parametrize("message", [{"a": 1}, 42, None, 1.5])
    def test_unsupported_types(self, message: Any, sync_server: Any) -> None:
        with sync_server() as (_, url), connect(url) as ws:
            with pytest.raises(TypeError):
                ws.send(message)
            ws.send("still open")
            assert ws.recv(5) == "still open"

    def test_first_fragment_of_a_wrong_type(self, sync_server: Any) -> None:
        with sync_server() as (_, url), connect(url) as ws:
            with pytest.raises(TypeError):
                ws.send([1, 2])
            ws.send("still open")
            assert ws.recv(5) == "still open"

    def test_send_after_close(self, sync_server: Any) -> None:
        with sync_server() as (_, url):
            ws = connect(url)
            ws.close()
            with pytest.raises(ConnectionClosedOK):
                ws.send("late")
            with pytest.raises(ConnectionClosedOK):
                ws.send(["late", "r"])
            with pytest.raises(ConnectionClosedOK):
                ws.ping()
            with pytest.raises(ConnectionClosedOK):
                ws.pong()


class TestPings:
    def test_ping_event_and_latency(self, sync_server: Any) -> None:
        with sync_server() as (_, url), connect(url) as ws:
            assert ws.latency == 0.0
            event = ws.ping()
            assert isinstance(event, threading.Event)
            # The application is not in recv(): the background thread
            # reads the pong as soon as it arrives.
            assert event.wait(5)
            assert 0 < ws.latency < 1

    def test_ping_payloads(self, sync_server: Any) -> None:
        with sync_server() as (_, url), connect(url) as ws:
            assert ws.ping("same").wait(5)
            assert ws.ping(b"same").wait(5)  # the first one was answered
            with pytest.raises(ValueError):
                ws.ping(b"x" * 126)

    def test_same_payload_while_waiting(self, sync_server: Any) -> None:
        def silent(ws: ServerConnection) -> None:
            ws.protocol.auto_pong = False  # this server does not answer pings
            ws.recv()

        with sync_server(silent) as (_, url), connect(url) as ws:
            ws.ping("same")
            with pytest.raises(InvalidState):
                ws.ping(b"same")

    def test_a_pong_acknowledges_earlier_pings(self, sync_server: Any) -> None:
        with sync_server() as (_, url), connect(url) as ws:
            events = [ws.ping(str(i)) for i in range(5)]
            for event in events:
                assert event.wait(5)

    def test_unanswered_ping_and_ack_on_close(self, sync_server: Any) -> None:
        def silent(ws: ServerConnection) -> None:
            ws.protocol.auto_pong = False  # this server does not answer pings
            ws.recv()

        with sync_server(silent) as (_, url), connect(url) as ws:
            plain = ws.ping()
            acked = ws.ping(ack_on_close=True)
            assert not plain.wait(0.2)
            ws.send("end")
            ws.wait_closed(5)
            assert acked.is_set() and not plain.is_set()

    def test_unsolicited_pong(self, sync_server: Any) -> None:
        with sync_server() as (_, url), connect(url) as ws:
            ws.pong("heartbeat")
            ws.send("still here")
            assert ws.recv(5) == "still here"


class TestClosing:
    def test_close_code_and_reason(self, sync_server: Any) -> None:
        seen: list[Any] = []

        def handler(ws: ServerConnection) -> None:
            try:
                ws.recv()
            except ConnectionClosed as exc:
                seen.append((exc.code, exc.reason, type(exc)))

        with sync_server(handler) as (_, url):
            ws = connect(url)
            assert ws.close_code is None and ws.close_reason is None
            ws.close(4001, "done here")
            assert (ws.close_code, ws.close_reason) == (4001, "")  # the echo has no reason
            assert ws.state is State.CLOSED
            ws.close()  # again: nothing happens
            assert ws.wait_closed(0)
        assert seen == [(4001, "done here", ConnectionClosedError)]

    def test_invalid_close_code(self, sync_server: Any) -> None:
        with sync_server() as (_, url), connect(url) as ws:
            with pytest.raises(ValueError):
                ws.close(1006)
            with pytest.raises(ValueError):
                ws.close(1000, "x" * 124)
            ws.send("open")
            assert ws.recv(5) == "open"

    @pytest.mark.parametrize(
        ("code", "expected"),
        [(1000, ConnectionClosedOK), (1001, ConnectionClosedOK), (4000, ConnectionClosedError)],
    )
    def test_server_closes(self, code: int, expected: type[ConnectionClosed], sync_server: Any) -> None:
        def closer(ws: ServerConnection) -> None:
            ws.close(code, "reason")

        with sync_server(closer) as (_, url), connect(url) as ws:
            with pytest.raises(expected) as info:
                ws.recv(5)
            assert (info.value.code, info.value.reason) == (code, "reason")
            assert info.value.sent is not None and info.value.sent.code == code
            assert info.value.rcvd_then_sent is True  # the server closed first
            assert ws.wait_closed(5)

    def test_context_manager_closes_normally(self, sync_server: Any) -> None:
        codes: list[int] = []

        def handler(ws: ServerConnection) -> None:
            try:
                ws.recv()
            except ConnectionClosedOK as exc:
                codes.append(exc.code)

        with sync_server(handler) as (_, url):
            with connect(url) as ws:
                pass
            assert ws.wait_closed(0)
            deadline = time.monotonic() + 5
            while not codes and time.monotonic() < deadline:
                time.sleep(0.01)
        assert codes == [1000]

    def test_attributes(self, sync_server: Any) -> None:
        with sync_server() as (_, url), connect(url) as ws:
            assert ws.state is State.OPEN
            assert ws.subprotocol is None
            assert ws.local_address[0] == ws.remote_address[0] == "127.0.0.1"
            assert ws.request is not None and ws.response is not None
            assert ws.response.status == 101
            assert "OPEN" in repr(ws)
            assert ws.ping_interval == 20 and ws.ping_timeout == 20
        assert "CLOSED" in repr(ws)


class TestThreadSafety:
    """Every method may be called from any thread; messages never interleave."""

    THREADS = 8
    MESSAGES = 50

    def test_concurrent_sends_never_interleave(self, sync_server: Any) -> None:
        received: list[Any] = []
        done = threading.Event()

        def collect(ws: ServerConnection) -> None:
            for message in ws:
                received.append(message)
            done.set()

        with sync_server(collect, max_size=2**22) as (_, url), connect(url) as ws:

            def sender(index: int) -> None:
                for n in range(self.MESSAGES):
                    tag = f"{index}:{n}:"
                    if n % 3 == 0:
                        ws.send([tag, "x" * 1000, "y" * 3000, tag])  # fragmented
                    elif n % 3 == 1:
                        ws.send((tag + "z" * 70000 + tag).encode())  # header + payload
                    else:
                        ws.send(tag * 2)

            threads = [threading.Thread(target=sender, args=(i,)) for i in range(self.THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
                assert not thread.is_alive()
        assert done.wait(10)
        assert len(received) == self.THREADS * self.MESSAGES
        per_thread: dict[str, list[int]] = collections.defaultdict(list)
        for message in received:
            text = message.decode() if isinstance(message, bytes) else message
            index, n, _ = text.split(":", 2)
            tag = f"{index}:{n}:"
            n_int = int(n)
            expected = (
                tag + "x" * 1000 + "y" * 3000 + tag
                if n_int % 3 == 0
                else tag + "z" * 70000 + tag
                if n_int % 3 == 1
                else tag * 2
            )
            assert text == expected
            per_thread[index].append(n_int)
        # Each thread's messages arrive in the order it sent them.
        assert all(ns == sorted(ns) for ns in per_thread.values())

    def test_recv_in_one_thread_while_others_send(self, sync_server: Any) -> None:
        count = 300
        with sync_server() as (_, url), connect(url) as ws:
            received: list[Any] = []

            def receive() -> None:
                for _ in range(2 * count):
                    received.append(ws.recv(10))

            receiver = threading.Thread(target=receive)
            receiver.start()
            senders = [
                threading.Thread(target=lambda p=p: [ws.send(f"{p}{i}") for i in range(count)]) for p in "ab"
            ]
            for sender in senders:
                sender.start()
            for thread in [*senders, receiver]:
                thread.join(30)
                assert not thread.is_alive()
        assert sorted(received) == sorted(f"{p}{i}" for p in "ab" for i in range(count))
        assert [m for m in received if m[0] == "a"] == [f"a{i}" for i in range(count)]

    def test_pings_and_closes_from_many_threads(self, sync_server: Any) -> None:
        with sync_server() as (_, url):
            ws = connect(url)
            events = []
            lock = threading.Lock()

            def pinger() -> None:
                for _ in range(20):
                    try:
                        event = ws.ping()
                    except ConnectionClosed:
                        return
                    with lock:
                        events.append(event)

            threads = [threading.Thread(target=pinger) for _ in range(4)]
            threads += [threading.Thread(target=ws.close) for _ in range(3)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(10)
                assert not thread.is_alive()
            assert ws.wait_closed(5)
            assert ws.close_code == 1000
