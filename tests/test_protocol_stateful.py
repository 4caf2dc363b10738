"""A fastws client and a fastws server, driven against each other by hypothesis.

Random sends (text, binary, manual fragments cut anywhere, even inside a
code point, pings between fragments), random outgoing fragment sizes on each
side, and random cut points on the wire: every step checks that what each
side received is, in order and intact, a prefix of what the other side sent;
the final flush checks that everything arrived exactly once and that the
closing handshake completed cleanly on both sides.

Example counts come from the hypothesis profile loaded in ``conftest.py``
(bounded); each example is at most ``stateful_step_count`` steps.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from fastws.events import BinaryMessage, CloseReceived, Ping, Pong, TextMessage
from fastws.protocol import Protocol, Side, State

SIDES = st.sampled_from([Side.CLIENT, Side.SERVER])
FRAGMENT_SIZES = st.one_of(st.none(), st.integers(1, 64), st.integers(65, 70_000))
CLOSE_CODES = st.sampled_from([1000, 1001, 1003, 1008, 1011, 3000, 4999])


class End:
    """One end: a Protocol, the bytes it sent not yet delivered, what it saw."""

    def __init__(self, side: Side, fragment_size: int | None) -> None:
        self.protocol = Protocol(side, fragment_size=fragment_size, max_fragments=None)
        self.wire = bytearray()
        self.eof = False  # EOF queued after self.wire
        self.eof_delivered = False
        self.sent: list[Any] = []  # data messages, as the peer should see them
        self.pings: list[bytes] = []
        self.received: list[Any] = []  # data messages received
        self.pings_received: list[bytes] = []
        self.pongs_received: list[bytes] = []
        self.closes_received: list[CloseReceived] = []
        self.called_close = False

    def collect_output(self) -> None:
        for chunk in self.protocol.data_to_send():
            assert not self.eof, "nothing may be sent after EOF"
            if chunk:
                self.wire += chunk
            else:
                self.eof = True

    def collect_events(self) -> None:
        for event in self.protocol.events_received():
            if isinstance(event, (TextMessage, BinaryMessage)):
                self.received.append(event)
            elif isinstance(event, Ping):
                self.pings_received.append(event.data)
            elif isinstance(event, Pong):
                self.pongs_received.append(event.data)
            else:
                assert isinstance(event, CloseReceived)
                self.closes_received.append(event)


class ProtocolPair(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ends: dict[Side, End] = {}

    @initialize(client_fragment=FRAGMENT_SIZES, server_fragment=FRAGMENT_SIZES)
    def setup(self, client_fragment: int | None, server_fragment: int | None) -> None:
        self.ends = {
            Side.CLIENT: End(Side.CLIENT, client_fragment),
            Side.SERVER: End(Side.SERVER, server_fragment),
        }

    def other(self, side: Side) -> End:
        return self.ends[Side.SERVER if side is Side.CLIENT else Side.CLIENT]

    def can_send(self, side: Side) -> bool:
        return self.ends[side].protocol.state is State.OPEN

    # -- sending -------------------------------------------------------------------

    @rule(side=SIDES, text=st.text(max_size=40))
    def send_text(self, side: Side, text: str) -> None:
        end = self.ends[side]
        if not self.can_send(side):
            return
        end.protocol.send_text(text)
        end.sent.append(TextMessage(text))
        end.collect_output()

    @rule(side=SIDES, data=st.binary(max_size=300))
    def send_binary(self, side: Side, data: bytes) -> None:
        end = self.ends[side]
        if not self.can_send(side):
            return
        end.protocol.send_binary(data)
        end.sent.append(BinaryMessage(data))
        end.collect_output()

    @rule(
        side=SIDES,
        text=st.booleans(),
        content=st.text(max_size=30),
        draw=st.data(),
    )
    def send_fragments(self, side: Side, text: bool, content: str, draw: st.DataObject) -> None:
        """A manually fragmented message cut anywhere (inside code points too),
        with pings between fragments."""
        end = self.ends[side]
        if not self.can_send(side):
            return
        payload = content.encode()
        cuts = sorted(draw.draw(st.lists(st.integers(0, len(payload)), max_size=5)))
        pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
        protocol = end.protocol
        (protocol.send_text if text else protocol.send_binary)(pieces[0], fin=len(pieces) == 1)
        for i, piece in enumerate(pieces[1:], start=2):
            if draw.draw(st.booleans()):
                ping = draw.draw(st.binary(max_size=125))
                protocol.send_ping(ping)
                end.pings.append(ping)
            protocol.send_continuation(piece, fin=i == len(pieces))
        end.sent.append(TextMessage(content) if text else BinaryMessage(payload))
        end.collect_output()

    @rule(side=SIDES, data=st.binary(max_size=125))
    def send_ping(self, side: Side, data: bytes) -> None:
        end = self.ends[side]
        if not self.can_send(side):
            return
        end.protocol.send_ping(data)
        end.pings.append(data)
        end.collect_output()

    @rule(side=SIDES, code=CLOSE_CODES, reason=st.text(max_size=10))
    def send_close(self, side: Side, code: int, reason: str) -> None:
        end = self.ends[side]
        if not self.can_send(side):
            return
        end.protocol.send_close(code, reason)
        end.called_close = True
        end.collect_output()

    # -- the wire --------------------------------------------------------------------

    def deliver(self, side: Side, count: int) -> None:
        """Move ``count`` bytes from ``side``'s wire to the other end."""
        source, target = self.ends[side], self.other(side)
        chunk = bytes(source.wire[:count])
        del source.wire[:count]
        if chunk:
            target.protocol.receive_data(chunk)
        if not source.wire and source.eof and not source.eof_delivered:
            source.eof_delivered = True
            target.protocol.receive_eof()
        target.collect_events()
        target.collect_output()

    @precondition(
        lambda self: any(end.wire or (end.eof and not end.eof_delivered) for end in self.ends.values())
    )
    @rule(side=SIDES, draw=st.data())
    def deliver_some(self, side: Side, draw: st.DataObject) -> None:
        wire = self.ends[side].wire
        self.deliver(side, draw.draw(st.integers(1, max(1, len(wire)))))

    # -- checks --------------------------------------------------------------------

    @invariant()
    def received_in_order_and_intact(self) -> None:
        for side, end in self.ends.items():
            peer = self.other(side)
            assert end.received == peer.sent[: len(end.received)]
            assert end.pings_received == peer.pings[: len(end.pings_received)]
            assert end.pongs_received == end.pings[: len(end.pongs_received)]
            assert end.protocol.error is None

    def teardown(self) -> None:
        if not self.ends:
            return
        # Flush: deliver everything, both ways, until nothing moves.
        for _ in range(20):
            moved = False
            for side, end in self.ends.items():
                if end.wire or (end.eof and not end.eof_delivered):
                    moved = True
                    self.deliver(side, len(end.wire))
            if not moved:
                break
        client, server = self.ends[Side.CLIENT], self.ends[Side.SERVER]
        for side, end in self.ends.items():
            peer = self.other(side)
            assert end.protocol.error is None
            if not (end.called_close or peer.called_close):
                # No close: everything sent arrived exactly once, in order,
                # and every ping was answered.
                assert end.received == peer.sent
                assert end.pings_received == peer.pings
                assert end.pongs_received == end.pings
        closers = [end for end in self.ends.values() if end.called_close]
        if len(closers) == 1:
            # One side started the closing handshake: everything it sent
            # before arrived (its close frame came after it on the wire).
            initiator = closers[0]
            responder = server if initiator is client else client
            assert responder.received == initiator.sent
            assert responder.protocol.close_rcvd_then_sent is True
            assert initiator.protocol.close_rcvd_then_sent is False
        if closers:
            # The closing handshake completed: close frames both ways, the
            # server closed TCP, the client answered the EOF.
            for side, end in self.ends.items():
                peer = self.other(side)
                assert end.protocol.close_was_clean
                assert end.protocol.state is State.CLOSED
                assert len(end.closes_received) == 1
                code = peer.protocol.close_sent[0]  # type: ignore[index]
                assert end.closes_received[0].code == code
                assert end.eof and end.eof_delivered
        else:
            # Close now, from the client, and check the handshake.
            client.protocol.send_close(1000, "bye")
            client.collect_output()
            for _ in range(10):
                for side, end in self.ends.items():
                    if end.wire or (end.eof and not end.eof_delivered):
                        self.deliver(side, len(end.wire))
            assert server.closes_received == [CloseReceived(1000, "bye")]
            assert client.closes_received == [CloseReceived(1000, "")]
            assert client.protocol.state is State.CLOSED
            assert server.protocol.state is State.CLOSED
            assert client.protocol.close_was_clean and server.protocol.close_was_clean
            assert not client.protocol.close_expected()
            assert not server.protocol.close_expected()


ProtocolPair.TestCase.settings = settings(stateful_step_count=40, deadline=None)
TestProtocolPair = ProtocolPair.TestCase
