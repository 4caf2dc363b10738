"""Flow control in the sans-IO protocol: limits per call, frames held in order.

The caller bounds what one call delivers (``max_queue``, ``max_queue_bytes``,
``max_work``, ``pause()``); the frames past that point are held, parsed but
not decoded, and delivered by ``resume()``. Frames are built by the
hand-written builder of ``test_protocol.py``; compressed payloads by zlib
itself (RFC 7692 section 7.2.1), not by the code under test.
"""

from __future__ import annotations

import random
import warnings
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastws.events import BinaryMessage, CloseReceived, Ping, Pong, TextMessage
from fastws.exceptions import InvalidFrame
from fastws.flow import HELD_FRAME_OVERHEAD, FlowControl
from fastws.protocol import Protocol, Side, State, compressed_limit
from test_protocol import BINARY, CLOSE, CONT, PING, PONG, RSV1, TEXT, close_payload, failed, frame, server

permessage_deflate = pytest.importorskip("fastws.extensions.permessage_deflate")


def deflate(data: bytes) -> bytes:
    """RFC 7692 section 7.2.1: raw DEFLATE, without the trailing 00 00 ff ff."""
    compressor = zlib.compressobj(wbits=-15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def take(protocol: Protocol) -> list[Any]:
    """Drain the events and tell the protocol the caller's queue is empty again."""
    events = protocol.events_received()
    protocol.flow.queued = 0
    return events


def messages(count: int, size: int = 3) -> list[bytes]:
    return [bytes([65 + i % 26]) * size for i in range(count)]


class TestQueueLimits:
    """``max_queue`` / ``max_queue_bytes``: stop delivering when the caller's queue is full."""

    def test_max_queue_holds_the_rest_in_order(self) -> None:
        p = server(max_queue=3)
        payloads = messages(10)
        p.receive_data(b"".join(frame(BINARY, m) for m in payloads))
        assert p.events_received() == [BinaryMessage(m) for m in payloads[:3]]
        assert p.paused and p.flow.queued == 3 and p.flow.queued_bytes == 9
        # Each held frame costs its payload and the overhead, nothing decoded.
        assert p.held_bytes == 7 * (3 + HELD_FRAME_OVERHEAD)
        # The caller took two: one... then resume delivers up to the limit.
        p.flow.queued = 1
        p.resume()
        assert p.events_received() == [BinaryMessage(m) for m in payloads[3:5]]
        got = []
        for _ in range(10):
            got += take(p)
            p.resume()
        got += take(p)
        assert got == [BinaryMessage(m) for m in payloads[5:]]
        assert not p.paused and p.held_bytes == 0

    def test_new_data_goes_behind_held_frames(self) -> None:
        p = server(max_queue=1)
        p.receive_data(frame(TEXT, b"one") + frame(TEXT, b"two"))
        assert take(p) == [TextMessage("one")]
        # The queue has room again, but "two" comes first.
        p.receive_data(frame(TEXT, b"three"))
        assert take(p) == [TextMessage("two")]
        p.receive_data(b"")
        assert take(p) == [TextMessage("three")]

    def test_max_queue_bytes_counts_payload_bytes(self) -> None:
        p = server(max_queue_bytes=10)
        # UTF-8 bytes, not characters: "é" is 2 bytes.
        p.receive_data(frame(TEXT, "éé".encode()) + frame(TEXT, b"abcdef") + frame(TEXT, b"x"))
        assert p.events_received() == [TextMessage("éé"), TextMessage("abcdef")]
        assert p.flow.queued_bytes == 10 and p.paused
        p.flow.queued = 1  # "éé" taken: 6 bytes left, under the limit
        p.resume()
        assert p.events_received() == [TextMessage("x")]

    def test_a_message_larger_than_max_queue_bytes_still_enters_an_empty_queue(self) -> None:
        p = server(max_queue_bytes=4)
        p.receive_data(frame(BINARY, b"0123456789") + frame(BINARY, b"z"))
        assert p.events_received() == [BinaryMessage(b"0123456789")]
        p.flow.queued = 0
        p.resume()
        assert p.events_received() == [BinaryMessage(b"z")]

    def test_queued_cannot_grow(self) -> None:
        p = server(max_queue=2)
        p.receive_data(frame(TEXT, b"a"))
        with pytest.raises(ValueError, match=r"queued must be in \[0, 1\], not 2"):
            p.flow.queued = 2
        with pytest.raises(ValueError):
            p.flow.queued = -1

    @pytest.mark.parametrize("name", ["max_queue", "max_queue_bytes", "max_work"])
    def test_limits_must_be_positive(self, name: str) -> None:
        with pytest.raises(ValueError, match=f"{name} must be >= 1"):
            server(**{name: 0})
        assert getattr(FlowControl(**{name: 5}), name) == 5

    def test_without_limits_nothing_is_counted_or_held(self) -> None:
        p = server()
        p.receive_data(b"".join(frame(BINARY, m) for m in messages(50)))
        assert len(p.events_received()) == 50
        assert p.flow.queued == 0 and not p.paused

    def test_every_cut_gives_the_same_messages(self) -> None:
        payloads = [b"a" * 3, b"b" * 130, b"c", b"d" * 70000, b"e" * 5]
        data = b"".join(frame(BINARY, m) for m in payloads)
        data += frame(TEXT, b"fr", fin=False) + frame(PING, b"!") + frame(CONT, b"ag")
        expected = [BinaryMessage(m) for m in payloads] + [TextMessage("frag")]
        for cut in (*range(1, 20), 135, 140, 70000, 70150, len(data) - 3):
            p = server(max_queue=2)
            got = []
            for piece in (data[:cut], data[cut:]):
                p.receive_data(piece)
                for _ in range(10):
                    got += [e for e in take(p) if not isinstance(e, Ping)]
                    p.resume()
            got += [e for e in take(p) if not isinstance(e, Ping)]
            assert got == expected, cut


class TestHeldFrames:
    """What happens to control frames, errors and EOF behind held messages."""

    def test_pongs_are_reported_at_once_pings_wait_their_turn(self) -> None:
        # A pong answers our keepalive: it is seen ahead of held messages. A
        # ping is answered in its turn, so that nothing is answered that a
        # held frame would have stopped (an invalid one fails the connection).
        p = server(max_queue=1)
        p.receive_data(frame(TEXT, b"a") + frame(TEXT, b"b") + frame(PING, b"hi") + frame(PONG, b"yo"))
        assert p.events_received() == [TextMessage("a"), Pong(b"yo")]
        assert p.data_to_send() == []
        p.flow.queued = 0
        p.resume()
        assert p.events_received() == [TextMessage("b"), Ping(b"hi")]
        assert p.data_to_send() == [frame(PONG, b"hi", mask=None)]

    def test_no_pong_for_a_ping_behind_an_invalid_frame(self) -> None:
        p = server(max_queue=1)
        p.receive_data(frame(TEXT, b"a") + frame(CONT, b"no message to continue") + frame(PING, b"late"))
        assert take(p) == [TextMessage("a")]
        p.resume()
        assert p.events_received() == []
        assert p.data_to_send() == failed(1002, "continuation frame without a message to continue")

    def test_close_frame_waits_its_turn_and_ends_the_input(self) -> None:
        p = server(max_queue=1)
        p.receive_data(
            frame(TEXT, b"a") + frame(TEXT, b"b") + frame(CLOSE, close_payload(1000)) + frame(PING, b"late")
        )
        assert p.events_received() == [TextMessage("a")]
        assert p.data_to_send() == []  # the ping after the close frame is not answered
        assert p.state is State.OPEN
        p.receive_data(frame(TEXT, b"after close"))  # nothing after the close frame counts
        p.flow.queued = 0
        p.resume()
        assert p.events_received() == [TextMessage("b"), CloseReceived(1000, "")]
        assert p.data_to_send() == [frame(CLOSE, close_payload(1000), mask=None), b""]
        assert p.state is State.CLOSED

    def test_an_error_fails_the_connection_after_the_held_messages(self) -> None:
        p = server(max_queue=1)
        p.receive_data(frame(TEXT, b"a") + frame(TEXT, b"b") + bytes([0x83, 0x80]) + b"\x00" * 4)
        assert take(p) == [TextMessage("a")]
        assert p.error is None and p.data_to_send() == []
        p.resume()
        assert take(p) == [TextMessage("b")]
        assert isinstance(p.error, InvalidFrame)
        assert p.data_to_send() == failed(1002, "reserved opcode 3")

    def test_eof_waits_behind_held_messages(self) -> None:
        p = server(max_queue=1)
        p.receive_data(frame(BINARY, b"1") + frame(BINARY, b"2"))
        p.receive_eof()
        assert take(p) == [BinaryMessage(b"1")]
        assert p.state is State.OPEN
        p.resume()
        assert take(p) == [BinaryMessage(b"2")]
        assert p.state is State.CLOSED and p.data_to_send() == [b""]

    def test_send_close_processes_held_frames(self) -> None:
        # After our close frame data frames are discarded: the peer's close
        # frame behind them is seen at once.
        p = server(max_queue=1)
        p.receive_data(frame(TEXT, b"a") + frame(TEXT, b"b") + frame(CLOSE, close_payload(1001)))
        assert take(p) == [TextMessage("a")]
        p.send_close(1000)
        assert take(p) == [CloseReceived(1001, "")]
        assert p.state is State.CLOSED

    def test_fail_drops_held_frames(self) -> None:
        p = server(max_queue=1)
        p.receive_data(frame(TEXT, b"a") + frame(TEXT, b"b"))
        p.fail(1011, "bye")
        p.flow.queued = 0
        p.resume()
        assert p.events_received() == [TextMessage("a")]
        assert p.held_bytes == 0 and not p.paused


class TestWorkBudget:
    """``max_work``: bytes inflated or deflated before delivery stops for this turn."""

    def test_compressed_frames_are_held_at_their_wire_size(self) -> None:
        p = server(extensions=[permessage_deflate.PerMessageDeflate()], max_queue=1)
        big = b"x" * 500_000
        wire = deflate(big)
        p.receive_data(frame(BINARY, wire, rsv=RSV1) * 3)
        assert p.events_received() == [BinaryMessage(big)]
        # Two held, not inflated: they cost their compressed size.
        assert p.held_bytes == 2 * (len(wire) + HELD_FRAME_OVERHEAD)
        assert p.flow.work == len(big)

    def test_work_budget_stops_and_resumes(self) -> None:
        p = server(extensions=[permessage_deflate.PerMessageDeflate()], max_work=1_000_000)
        big = b"y" * 600_000
        p.receive_data(frame(BINARY, deflate(big), rsv=RSV1) * 3 + frame(TEXT, b"plain"))
        # 600 KB, then 1.2 MB: the budget is spent after the second message.
        assert p.events_received() == [BinaryMessage(big)] * 2
        assert p.paused
        p.resume()
        assert p.events_received() == []  # still spent until the caller resets it
        p.flow.work = 0
        p.resume()
        assert p.events_received() == [BinaryMessage(big), TextMessage("plain")]
        assert not p.paused

    def test_sending_counts_too(self) -> None:
        p = server(extensions=[permessage_deflate.PerMessageDeflate()], max_work=100)
        p.send_text("z" * 150)
        assert p.flow.work == 150 and p.flow.worked_out()
        p.receive_data(frame(TEXT, b"held"))
        assert p.events_received() == [] and p.paused


class TestCompressedLimit:
    """A compressed message may take deflate's expansion on the wire; inflated, max_size holds."""

    def test_incompressible_message_at_max_size_is_accepted(self) -> None:
        data = random.Random(6455).randbytes(2**20)  # 1 MiB that zlib cannot shrink
        wire = deflate(data)
        assert len(wire) > len(data)
        p = server(extensions=[permessage_deflate.PerMessageDeflate()], max_size=len(data))
        p.receive_data(frame(BINARY, wire, rsv=RSV1))
        assert p.events_received() == [BinaryMessage(data)]
        assert p.error is None

    def test_limits_on_the_wire(self) -> None:
        assert compressed_limit(None) is None
        assert compressed_limit(2**20) == 2**20 + 2**17 + 64
        p = server(extensions=[permessage_deflate.PerMessageDeflate()], max_size=1000)
        # Uncompressed frames keep the plain limit, from the header.
        p.receive_data(frame(BINARY, length=1001, payload=b"")[:4])
        assert p.data_to_send() == failed(
            1009, "message of at least 1001 bytes exceeds the limit of 1000 bytes"
        )
        p = server(extensions=[permessage_deflate.PerMessageDeflate()], max_size=1000)
        p.receive_data(frame(BINARY, length=1190, payload=b"", rsv=RSV1)[:4])
        assert p.data_to_send() == failed(
            1009, "compressed message of at least 1190 bytes exceeds the limit of 1189 bytes"
        )
        # Without the extension, RSV1 frames get no allowance.
        p = server(max_size=1000)
        assert p.max_size == 1000

    def test_inflated_size_is_still_bounded(self) -> None:
        p = server(extensions=[permessage_deflate.PerMessageDeflate()], max_size=1000)
        p.receive_data(frame(BINARY, deflate(b"q" * 5000), rsv=RSV1))
        assert p.events_received() == []
        (close, eof) = p.data_to_send()
        assert close[2:4] == (1009).to_bytes(2, "big") and eof == b""


class TestDeprecatedNames:
    def test_max_message_size(self) -> None:
        with pytest.warns(DeprecationWarning, match="max_message_size is deprecated; use max_size"):
            p = Protocol(Side.SERVER, max_message_size=7)
        assert p.max_size == 7
        with pytest.warns(DeprecationWarning):
            assert p.max_message_size == 7
        with pytest.warns(DeprecationWarning):
            p.max_message_size = 9
        assert p.max_size == 9
        with pytest.raises(TypeError, match="unexpected keyword argument 'max_msg'"):
            Protocol(Side.SERVER, max_msg=3)

    def test_data_to_send_fail(self) -> None:
        p = server()
        p.receive_data(bytes([0x83, 0x80]) + b"\x00" * 4)
        with pytest.warns(DeprecationWarning, match="defer_failure"):
            assert p.data_to_send(fail=False) == []
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            p.defer_failure = True
            assert p.data_to_send() == [] and p.failure_pending
            p.commit_failure()
            assert p.data_to_send() == failed(1002, "reserved opcode 3")


class TestRawInput:
    """Input past the point where delivery stopped stays raw, at its wire size."""

    def test_a_large_read_is_kept_raw_past_the_limit(self) -> None:
        from fastws.protocol import PARSE_AHEAD, PARSE_FRAMES

        p = server(max_queue=1)
        # 64 KiB of empty masked frames: 10,922 frames, 6 bytes each.
        data = frame(BINARY) * 10922
        p.receive_data(data)
        assert p.events_received() == [BinaryMessage(b"")]
        # At most one slice's frames and the parse-ahead window are objects;
        # the rest costs its wire size.
        objects = PARSE_FRAMES + PARSE_AHEAD // HELD_FRAME_OVERHEAD + 16
        assert p.held_bytes <= len(data) + objects * HELD_FRAME_OVERHEAD
        got = 0
        for _ in range(20000):
            got += len(take(p))
            p.resume()
            if not p.paused:
                break
        assert got + len(take(p)) == 10921
        assert p.held_bytes == 0

    def test_a_pong_behind_held_messages_is_seen(self) -> None:
        # Keepalive while the application is slow: the pong arrives behind
        # messages that cannot be delivered, and is still reported.
        p = server(max_queue=1)
        p.receive_data(frame(TEXT, b"x" * 1000) * 20 + frame(PONG, b"keepalive"))
        assert p.events_received() == [TextMessage("x" * 1000), Pong(b"keepalive")]
        p.receive_data(frame(TEXT, b"y") + frame(PONG, b"again"))
        assert p.events_received() == [Pong(b"again")]

    def test_parse_ahead_is_bounded(self) -> None:
        from fastws.protocol import PARSE_AHEAD, PARSE_FRAMES

        p = server(max_queue=1)
        data = frame(BINARY, b"z" * 1000) * 300 + frame(PONG, b"late")
        p.receive_data(data)
        # The pong lies past the parse-ahead window: not seen yet; the held
        # frames are one batch, the rest is raw.
        assert p.events_received() == [BinaryMessage(b"z" * 1000)]
        assert p.flow.held_cost <= max(PARSE_AHEAD, PARSE_FRAMES * (1000 + HELD_FRAME_OVERHEAD))
        assert p.held_bytes <= len(data) + PARSE_FRAMES * HELD_FRAME_OVERHEAD
        got = []
        for _ in range(400):
            got += take(p)
            p.resume()
        # Every message, in order; the pong once, seen ahead of the last
        # ones as soon as the parse-ahead window reached it.
        assert [e for e in got if isinstance(e, BinaryMessage)] == [BinaryMessage(b"z" * 1000)] * 299
        assert [e for e in got if not isinstance(e, BinaryMessage)] == [Pong(b"late")]


class TestLimitArithmetic:
    """``blocked``, ``delivered`` and ``worked_out`` against the plain definitions of the limits.

    FlowControl orders its checks for the common case and caches
    ``limited`` and ``active``; these hold it to what the limits mean,
    whatever the order in which they were set, changed or unset.
    """

    @staticmethod
    def expected(
        limits: tuple[int | None, int | None, int | None], sizes: list[int], work: int, paused: bool
    ) -> bool:
        max_queue, max_queue_bytes, max_work = limits
        return (
            paused
            or (max_queue is not None and len(sizes) >= max_queue)
            or (max_queue_bytes is not None and sum(sizes) >= max_queue_bytes)
            or (max_work is not None and work >= max_work)
        )

    @settings(max_examples=300, deadline=None)
    @given(
        first=st.tuples(*[st.none() | st.integers(1, 40)] * 3),
        then=st.tuples(*[st.none() | st.integers(1, 40)] * 3),
        sizes=st.lists(st.integers(0, 12), max_size=8),
        work=st.integers(0, 50),
        paused=st.booleans(),
    )
    def test_checks_follow_the_limits(
        self,
        first: tuple[int | None, int | None, int | None],
        then: tuple[int | None, int | None, int | None],
        sizes: list[int],
        work: int,
        paused: bool,
    ) -> None:
        flow = FlowControl(max_queue=first[0], max_queue_bytes=first[1], max_work=first[2])
        flow.max_queue, flow.max_queue_bytes, flow.max_work = then
        if paused:
            flow.pause()
        flow.work = work
        counted: list[int] = []
        for size in sizes:
            counted.append(size)
            assert flow.delivered(size) == self.expected(then, counted, work, paused)
            assert flow.blocked() == self.expected(then, counted, work, paused)
        assert flow.worked_out() == (then[2] is not None and work >= then[2])
        assert flow.limited == (then[0] is not None or then[1] is not None)
        assert flow.active == (flow.limited or then[2] is not None or paused)
        flow.unpause()
        assert not flow.paused
        assert flow.blocked() == self.expected(then, counted, work, False)
