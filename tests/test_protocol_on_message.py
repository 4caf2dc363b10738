"""``Protocol.on_message`` (messages handed to a function) and large sends
that are not copied into their frame.

Frames are built by the hand-written builder of ``test_protocol.py`` (RFC
6455 section 5.2), not by the codec under test; both twins run this file.
"""

from __future__ import annotations

import collections
import gc
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from fastws.events import BinaryMessage, CloseReceived, Ping, Pong, TextMessage
from fastws.protocol import Protocol, Side, State
from test_protocol import BINARY, CLOSE, CONT, PING, PONG, RSV1, TEXT, close_payload, frame, server_close


def server(**kwargs: Any) -> tuple[Protocol, list[Any]]:
    """A server protocol whose messages are collected by ``on_message``."""
    protocol = Protocol(Side.SERVER, **kwargs)
    got: list[Any] = []
    protocol.on_message = got.append
    return protocol, got


def pausing_server() -> tuple[Protocol, list[Any], Callable[[Any], None]]:
    """A server protocol whose function takes a message, then pauses; the function too."""
    protocol = Protocol(Side.SERVER)
    got: list[Any] = []

    def take_one(message: Any) -> None:
        got.append(message)
        protocol.pause()

    protocol.on_message = take_one
    return protocol, got, take_one


def deflate(data: bytes) -> bytes:
    """RFC 7692 section 7.2.1: raw DEFLATE, without the final empty block's tail."""
    compressor = zlib.compressobj(wbits=-15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


class TestOnMessage:
    def test_messages_go_to_the_function_not_to_events(self) -> None:
        protocol, got = server()
        protocol.receive_data(frame(TEXT, "héllo".encode()) + frame(BINARY, b"\x00\xff"))
        assert got == ["héllo", b"\x00\xff"]
        assert type(got[1]) is bytes
        assert protocol.events_received() == []

    def test_message_cut_anywhere(self) -> None:
        data = frame(TEXT, "añb€".encode() * 40) + frame(BINARY, bytes(range(256)) * 3)
        for cut in range(1, len(data)):
            protocol, got = server()
            protocol.receive_data(data[:cut])
            protocol.receive_data(data[cut:])
            assert got == ["añb€" * 40, bytes(range(256)) * 3], cut

    def test_fragmented_message_is_delivered_once_complete(self) -> None:
        protocol, got = server()
        protocol.receive_data(frame(TEXT, b"ab", fin=False) + frame(CONT, b"c", fin=False))
        assert got == []
        protocol.receive_data(frame(CONT, "é".encode(), fin=True))
        assert got == ["abcé"]

    def test_control_frames_stay_events_and_pings_are_answered(self) -> None:
        protocol, got = server()
        protocol.receive_data(
            frame(BINARY, b"1") + frame(PING, b"p") + frame(PONG, b"q") + frame(BINARY, b"2")
        )
        assert got == [b"1", b"2"]
        assert protocol.events_received() == [Ping(b"p"), Pong(b"q")]
        assert protocol.data_to_send() == [frame(PONG, b"p", mask=None)]

    def test_invalid_utf8_fails_the_connection_and_is_not_delivered(self) -> None:
        protocol, got = server()
        protocol.receive_data(frame(TEXT, b"ok") + frame(TEXT, b"\xff"))
        assert got == ["ok"]
        assert protocol.data_to_send() == [server_close(1007, "invalid UTF-8 in a text message"), b""]

    def test_function_may_answer_from_inside_receive_data(self) -> None:
        protocol = Protocol(Side.SERVER)
        protocol.on_message = protocol.send_binary
        protocol.receive_data(frame(BINARY, b"one") + frame(BINARY, b"two"))
        assert protocol.data_to_send() == [frame(BINARY, b"one", mask=None), frame(BINARY, b"two", mask=None)]

    def test_closing_from_the_function_discards_later_data_frames(self) -> None:
        protocol = Protocol(Side.SERVER)
        got: list[Any] = []

        def close_after_first(message: Any) -> None:
            got.append(message)
            protocol.send_close(1000, "bye")

        protocol.on_message = close_after_first
        protocol.receive_data(
            frame(BINARY, b"1") + frame(BINARY, b"2") + frame(CLOSE, close_payload(1000, b"ok"))
        )
        # RFC 6455 section 5.5.1: after our close frame data frames may be
        # discarded; the peer's close frame is still processed.
        assert got == [b"1"]
        assert protocol.events_received() == [CloseReceived(1000, "ok")]
        assert protocol.data_to_send() == [server_close(1000, "bye"), b""]
        assert protocol.state is State.CLOSED

    def test_an_exception_propagates_and_the_connection_can_be_failed(self) -> None:
        protocol = Protocol(Side.SERVER)

        def boom(message: Any) -> None:
            raise RuntimeError(message)

        protocol.on_message = boom
        with pytest.raises(RuntimeError, match="first"):
            protocol.receive_data(frame(TEXT, b"first") + frame(TEXT, b"second"))
        protocol.fail(1011, "internal error")
        assert protocol.data_to_send() == [server_close(1011, "internal error"), b""]

    def test_an_exception_loses_nothing(self) -> None:
        # The frames after the message whose callback raised are held, as
        # after pause(); resume() delivers the rest, in order, and answers
        # the ping among them in its turn.
        protocol = Protocol(Side.SERVER)
        got: list[Any] = []

        def picky(message: Any) -> None:
            got.append(message)
            if message == "bad":
                raise ValueError("bad message")

        protocol.on_message = picky
        data = frame(TEXT, b"bad") + frame(TEXT, b"two") + frame(PING, b"p") + frame(BINARY, b"three")
        with pytest.raises(ValueError, match="bad message"):
            protocol.receive_data(data)
        assert got == ["bad"]
        assert protocol.paused
        assert protocol.events_received() == []
        assert protocol.data_to_send() == []
        protocol.receive_data(frame(TEXT, b"four"))  # held behind the others
        assert got == ["bad"]
        protocol.resume()
        assert got == ["bad", "two", b"three", "four"]
        assert protocol.events_received() == [Ping(b"p")]
        assert protocol.data_to_send() == [b"\x8a\x01p"]
        assert not protocol.paused

    def test_pause_from_the_function_holds_the_rest(self) -> None:
        protocol, got, _ = pausing_server()
        protocol.receive_data(frame(TEXT, b"a") + frame(TEXT, b"b") + frame(CLOSE, close_payload(1000)))
        assert got == ["a"]
        assert protocol.paused and protocol.state is State.OPEN
        protocol.resume()
        assert got == ["a", "b"]
        protocol.resume()
        # The close frame waited its turn behind the held message.
        assert protocol.events_received() == [CloseReceived(1000, "")]
        assert protocol.state is State.CLOSED

    def test_none_goes_back_to_events(self) -> None:
        protocol, got = server()
        protocol.receive_data(frame(TEXT, b"a"))
        protocol.on_message = None
        protocol.receive_data(frame(TEXT, b"b"))
        assert got == ["a"]
        assert protocol.events_received() == [TextMessage("b")]

    def test_messages_decoded_by_an_extension(self) -> None:
        permessage_deflate = pytest.importorskip("fastws.extensions.permessage_deflate")
        protocol, got = server(extensions=[permessage_deflate.PerMessageDeflate()])
        text = "compressible " * 50
        protocol.receive_data(frame(TEXT, deflate(text.encode()), rsv=RSV1) + frame(BINARY, b"plain"))
        assert got == [text, b"plain"]
        assert protocol.events_received() == []


class TestLargeSendsAreNotCopied:
    """A server's large ``bytes`` message: header + the very object sent."""

    @pytest.mark.parametrize("size", [65536, 200_000])
    def test_server_binary(self, size: int) -> None:
        protocol = Protocol(Side.SERVER)
        payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
        protocol.send_binary(payload)
        chunks = protocol.data_to_send()
        assert chunks[0] == bytes([0x82, 127]) + size.to_bytes(8, "big")
        assert chunks[1] is payload
        assert len(chunks) == 2

    def test_server_text(self) -> None:
        protocol = Protocol(Side.SERVER)
        payload = "x" * 70_000
        protocol.send_text(payload)
        chunks = protocol.data_to_send()
        assert b"".join(chunks) == frame(TEXT, payload.encode(), mask=None)

    def test_small_messages_stay_one_chunk(self) -> None:
        protocol = Protocol(Side.SERVER)
        protocol.send_binary(b"y" * 65535)
        assert protocol.data_to_send() == [frame(BINARY, b"y" * 65535, mask=None)]

    def test_mutable_buffers_are_copied(self) -> None:
        protocol = Protocol(Side.SERVER)
        payload = bytearray(b"z" * 70_000)
        protocol.send_binary(payload)
        chunks = protocol.data_to_send()
        payload[:] = bytes(len(payload))  # changing it afterwards changes nothing sent
        assert b"".join(chunks) == frame(BINARY, b"z" * 70_000, mask=None)

    def test_client_frames_are_masked_copies(self) -> None:
        protocol = Protocol(Side.CLIENT)
        payload = b"w" * 70_000
        protocol.send_binary(payload)
        chunks = protocol.data_to_send()
        assert len(chunks) == 1
        data = chunks[0]
        assert data[:2] == bytes([0x82, 0xFF]) and int.from_bytes(data[2:10], "big") == 70_000
        key = data[10:14]
        assert bytes(b ^ key[i % 4] for i, b in enumerate(data[14:])) == payload

    def test_fragmented_and_cut_messages(self) -> None:
        protocol = Protocol(Side.SERVER, fragment_size=100_000)
        payload = b"v" * 250_000
        protocol.send_binary(payload)
        assert b"".join(protocol.data_to_send()) == (
            frame(BINARY, b"v" * 100_000, fin=False, mask=None)
            + frame(CONT, b"v" * 100_000, fin=False, mask=None)
            + frame(CONT, b"v" * 50_000, mask=None)
        )


class TestWholeMessageLane:
    """Runs of whole messages take the fast lane; every other frame the full
    path. Order, limits and events come out the same either way."""

    MIXED = (
        frame(TEXT, b"a"),
        frame(PING, b"p"),
        frame(BINARY, b"b"),
        frame(TEXT, b"fr", fin=False),
        frame(CONT, b"ag"),
        frame(TEXT, "é".encode()),
        frame(PONG, b""),
        frame(BINARY, b""),
    )

    def test_mixed_frames_keep_their_order_in_events(self) -> None:
        protocol = Protocol(Side.SERVER)
        protocol.receive_data(b"".join(self.MIXED))
        assert protocol.events_received() == [
            TextMessage("a"),
            Ping(b"p"),
            BinaryMessage(b"b"),
            TextMessage("frag"),
            TextMessage("é"),
            Pong(b""),
            BinaryMessage(b""),
        ]
        assert protocol.data_to_send() == [b"\x8a\x01p"]

    @pytest.mark.parametrize("queue", [list, collections.deque], ids=["list", "deque"])
    def test_mixed_frames_keep_their_order_in_a_queue(self, queue: Any) -> None:
        protocol = Protocol(Side.SERVER)
        got = queue()
        protocol.on_message = got.append
        protocol.receive_data(b"".join(self.MIXED))
        assert list(got) == ["a", b"b", "frag", "é", b""]
        assert protocol.events_received() == [Ping(b"p"), Pong(b"")]

    @pytest.mark.parametrize("queue", [list, collections.deque], ids=["list", "deque"])
    def test_a_queue_within_max_queue_holds_the_rest(self, queue: Any) -> None:
        protocol = Protocol(Side.SERVER, max_queue=2)
        got = queue()
        protocol.on_message = got.append
        protocol.receive_data(b"".join(frame(TEXT, str(i).encode()) for i in range(5)))
        assert list(got) == ["0", "1"]
        assert protocol.paused and protocol.flow.queued == 2
        protocol.flow.queued = 0
        protocol.resume()
        assert list(got) == ["0", "1", "2", "3"]
        protocol.flow.queued = 0
        protocol.resume()
        assert list(got) == ["0", "1", "2", "3", "4"]

    def test_replacing_the_function_changes_how_delivery_stops(self) -> None:
        # A function may pause after each message; a list's append cannot
        # call back, so it runs unchecked. Each assignment counts at once.
        protocol, got, pausing = pausing_server()
        assert protocol.on_message is pausing
        protocol.receive_data(b"".join(frame(TEXT, str(i).encode()) for i in range(4)))
        assert got == ["0"] and protocol.paused
        protocol.on_message = got.append
        protocol.resume()
        assert got == ["0", "1", "2", "3"] and not protocol.paused
        protocol.on_message = pausing
        protocol.receive_data(frame(TEXT, b"4") + frame(TEXT, b"5"))
        assert got == ["0", "1", "2", "3", "4"] and protocol.paused
        protocol.on_message = None
        protocol.resume()
        assert got == ["0", "1", "2", "3", "4"]
        assert protocol.events_received() == [TextMessage("5")]

    def test_invalid_utf8_in_a_run_fails_after_the_valid_ones(self) -> None:
        protocol, got = server()
        protocol.receive_data(frame(TEXT, b"ok") + frame(TEXT, b"\xff") + frame(TEXT, b"lost"))
        assert got == ["ok"]
        assert protocol.data_to_send()[0] == server_close(1007, "invalid UTF-8 in a text message")

    def test_events_of_the_compiled_twin_are_not_tracked_by_the_collector(self) -> None:
        from fastws.codec import IMPLEMENTATION

        protocol = Protocol(Side.SERVER)
        protocol.receive_data(frame(TEXT, b"a") + frame(BINARY, b"b"))
        events = protocol.events_received()
        assert events == [TextMessage("a"), BinaryMessage(b"b")]
        tracked = [gc.is_tracked(event) for event in events]
        assert tracked == ([False, False] if IMPLEMENTATION == "cython" else [True, True])
