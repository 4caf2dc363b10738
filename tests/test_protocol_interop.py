"""In-memory interoperability of the sans-IO protocol with real peers.

A fastws :class:`~fastws.protocol.Protocol` talks to websockets' sans-IO
``websockets.protocol.Protocol`` and to wsproto's ``Connection`` (the objects
both libraries run after the opening handshake, so all three start OPEN),
in both roles: fastws client against a peer server, peer client against a
fastws server. Bytes are shuttled between the two objects in memory, EOF
included; no socket is involved. The opening handshake's own interop is
tested with the handshake.
"""

from __future__ import annotations

from typing import Any

import pytest

from fastws.events import BinaryMessage, CloseReceived, Ping, Pong, TextMessage
from fastws.protocol import Protocol, Side, State

websockets_protocol = pytest.importorskip("websockets.protocol")
websockets_frames = pytest.importorskip("websockets.frames")
wsproto_connection = pytest.importorskip("wsproto.connection")
wsproto_events = pytest.importorskip("wsproto.events")

# Normalized events: ("text", str) / ("binary", bytes) / ("ping", bytes) /
# ("pong", bytes) / ("close", code, reason).
Normal = tuple[Any, ...]


def normalize_fastws(events: list[Any]) -> list[Normal]:
    out: list[Normal] = []
    for event in events:
        if isinstance(event, TextMessage):
            out.append(("text", event.data))
        elif isinstance(event, BinaryMessage):
            out.append(("binary", event.data))
        elif isinstance(event, Ping):
            out.append(("ping", event.data))
        elif isinstance(event, Pong):
            out.append(("pong", event.data))
        elif isinstance(event, CloseReceived):
            out.append(("close", event.code, event.reason))
        else:  # pragma: no cover
            raise AssertionError(event)
    return out


class WebsocketsPeer:
    """websockets' sans-IO protocol; it emits frames, reassembled here."""

    name = "websockets"

    def __init__(self, side: Side) -> None:
        ws_side = websockets_protocol.Side.CLIENT if side is Side.CLIENT else websockets_protocol.Side.SERVER
        self.protocol = websockets_protocol.Protocol(ws_side, max_size=None)
        self.parts: list[bytes] = []
        self.kind = ""
        self.received: list[Normal] = []

    def receive(self, data: bytes) -> None:
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        op = websockets_frames.Opcode
        for frame in self.protocol.events_received():
            if frame.opcode in (op.TEXT, op.BINARY, op.CONT):
                if frame.opcode is not op.CONT:
                    self.kind = "text" if frame.opcode is op.TEXT else "binary"
                self.parts.append(frame.data)
                if frame.fin:
                    data = b"".join(self.parts)
                    self.parts = []
                    self.received.append((self.kind, data.decode() if self.kind == "text" else data))
            elif frame.opcode is op.PING:
                self.received.append(("ping", frame.data))
            elif frame.opcode is op.PONG:
                self.received.append(("pong", frame.data))
            else:
                close = websockets_frames.Close.parse(frame.data)
                self.received.append(("close", close.code, close.reason))

    def output(self) -> list[bytes]:
        return self.protocol.data_to_send()

    def send_text(self, text: str) -> None:
        self.protocol.send_text(text.encode())

    def send_binary(self, data: bytes) -> None:
        self.protocol.send_binary(data)

    def send_fragments(self, parts: list[bytes], text: bool) -> None:
        first, *rest = parts
        (self.protocol.send_text if text else self.protocol.send_binary)(first, fin=not rest)
        for i, part in enumerate(rest):
            self.protocol.send_continuation(part, fin=i == len(rest) - 1)

    def ping(self, data: bytes) -> None:
        self.protocol.send_ping(data)

    def close(self, code: int, reason: str) -> None:
        self.protocol.send_close(code, reason)

    def closed_cleanly(self) -> bool:
        return (
            self.protocol.state is websockets_protocol.State.CLOSED and self.protocol.close_rcvd is not None
        )


class WsprotoPeer:
    """wsproto's post-handshake ``Connection``; pings and closes answered as its docs say."""

    name = "wsproto"

    def __init__(self, side: Side) -> None:
        kind = wsproto_connection.ConnectionType
        self.conn = wsproto_connection.Connection(kind.CLIENT if side is Side.CLIENT else kind.SERVER)
        self.side = side
        self.eof_sent = False
        self.out: list[bytes] = []
        self.parts: list[Any] = []
        self.received: list[Normal] = []

    def receive(self, data: bytes) -> None:
        if data:
            self.conn.receive_data(data)
        elif self.conn.state is not wsproto_connection.ConnectionState.CLOSED:
            self.conn.receive_data(None)
        ev = wsproto_events
        for event in self.conn.events():
            if isinstance(event, (ev.TextMessage, ev.BytesMessage)):
                self.parts.append(event.data)
                if event.message_finished:
                    if isinstance(event, ev.TextMessage):
                        self.received.append(("text", "".join(self.parts)))
                    else:
                        self.received.append(("binary", b"".join(self.parts)))
                    self.parts = []
            elif isinstance(event, ev.Ping):
                self.received.append(("ping", bytes(event.payload)))
                self.out.append(self.conn.send(event.response()))
            elif isinstance(event, ev.Pong):
                self.received.append(("pong", bytes(event.payload)))
            elif isinstance(event, ev.CloseConnection):
                self.received.append(("close", event.code, event.reason or ""))
                if self.conn.state is wsproto_connection.ConnectionState.REMOTE_CLOSING:
                    self.out.append(self.conn.send(event.response()))

    def output(self) -> list[bytes]:
        out, self.out = self.out, []
        out = [chunk for chunk in out if chunk]
        # wsproto leaves TCP to its I/O layer; a server's closes it once
        # the closing handshake is over (RFC 6455 section 7.1.1).
        if self.side is Side.SERVER and self.conn.state is wsproto_connection.ConnectionState.CLOSED:
            if not self.eof_sent:
                self.eof_sent = True
                out.append(b"")
        return out

    def send_text(self, text: str) -> None:
        self.out.append(self.conn.send(wsproto_events.TextMessage(text)))

    def send_binary(self, data: bytes) -> None:
        self.out.append(self.conn.send(wsproto_events.BytesMessage(data)))

    def send_fragments(self, parts: list[bytes], text: bool) -> None:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if text:
                message: Any = wsproto_events.TextMessage(part.decode(), message_finished=last)
            else:
                message = wsproto_events.BytesMessage(part, message_finished=last)
            self.out.append(self.conn.send(message))

    def ping(self, data: bytes) -> None:
        self.out.append(self.conn.send(wsproto_events.Ping(data)))

    def close(self, code: int, reason: str) -> None:
        self.out.append(self.conn.send(wsproto_events.CloseConnection(code, reason)))

    def closed_cleanly(self) -> bool:
        return self.conn.state is wsproto_connection.ConnectionState.CLOSED


PEERS = [WebsocketsPeer, WsprotoPeer]


class Pair:
    """A fastws protocol and a peer, wired together in memory."""

    def __init__(self, peer_class: type, fastws_side: Side, **kwargs: Any) -> None:
        self.fastws = Protocol(fastws_side, max_size=None, **kwargs)
        peer_side = Side.SERVER if fastws_side is Side.CLIENT else Side.CLIENT
        self.peer = peer_class(peer_side)
        self.fastws_received: list[Normal] = []

    def run(self) -> None:
        """Shuttle bytes both ways until both sides are quiet (bounded)."""
        for _ in range(100):
            moved = False
            for chunk in self.fastws.data_to_send():
                moved = True
                self.peer.receive(chunk)
            for chunk in self.peer.output():
                moved = True
                if chunk:
                    self.fastws.receive_data(chunk)
                else:
                    self.fastws.receive_eof()
            self.fastws_received += normalize_fastws(self.fastws.events_received())
            if not moved:
                return
        raise AssertionError("the two sides never went quiet")  # pragma: no cover


TEXT = "héllo wörld ✓ \U0001f600"
BINARY = bytes(range(256))
LARGE_TEXT = ("κόσμε " * 60_000)[:300_000]
LARGE_BINARY = bytes(range(256)) * 2048  # 512 KiB


@pytest.fixture(params=PEERS, ids=lambda cls: cls.name)
def peer_class(request: pytest.FixtureRequest) -> type:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=[Side.CLIENT, Side.SERVER], ids=["fastws-client", "fastws-server"])
def side(request: pytest.FixtureRequest) -> Side:
    return request.param  # type: ignore[no-any-return]


class TestFastwsSends:
    """RFC 6455 sections 5.4-5.6: what fastws sends, a peer understands."""

    def test_messages(self, peer_class: type, side: Side) -> None:
        pair = Pair(peer_class, side)
        pair.fastws.send_text(TEXT)
        pair.fastws.send_binary(BINARY)
        pair.fastws.send_text("")
        pair.fastws.send_text("frag", fin=False)
        pair.fastws.send_continuation("mént", fin=False)
        pair.fastws.send_continuation(b"ed", fin=True)
        pair.fastws.send_text(LARGE_TEXT)
        pair.fastws.send_binary(LARGE_BINARY)
        pair.run()
        assert pair.peer.received == [
            ("text", TEXT),
            ("binary", BINARY),
            ("text", ""),
            ("text", "fragménted"),
            ("text", LARGE_TEXT),
            ("binary", LARGE_BINARY),
        ]

    def test_auto_fragmentation(self, peer_class: type, side: Side) -> None:
        pair = Pair(peer_class, side, fragment_size=1000)
        pair.fastws.send_text(LARGE_TEXT)
        pair.fastws.send_binary(LARGE_BINARY[:10_001])
        pair.run()
        assert pair.peer.received == [("text", LARGE_TEXT), ("binary", LARGE_BINARY[:10_001])]

    def test_ping_is_answered(self, peer_class: type, side: Side) -> None:
        pair = Pair(peer_class, side)
        pair.fastws.send_ping(b"are you there")
        pair.run()
        assert pair.peer.received == [("ping", b"are you there")]
        assert pair.fastws_received == [("pong", b"are you there")]

    def test_close(self, peer_class: type, side: Side) -> None:
        pair = Pair(peer_class, side)
        pair.fastws.send_text("last")
        pair.fastws.send_close(1001, "going away")
        pair.run()
        assert pair.peer.received == [("text", "last"), ("close", 1001, "going away")]
        # Both peers echo the reason along with the code.
        assert pair.fastws_received == [("close", 1001, "going away")]
        assert pair.fastws.close_was_clean
        assert pair.fastws.state is State.CLOSED
        assert pair.peer.closed_cleanly()


class TestPeerSends:
    """RFC 6455 sections 5.4-5.6: what a peer sends, fastws understands."""

    def test_messages(self, peer_class: type, side: Side) -> None:
        pair = Pair(peer_class, side)
        pair.peer.send_text(TEXT)
        pair.peer.send_binary(BINARY)
        pair.peer.send_fragments([b"frag", "mént".encode(), b"ed"], text=True)
        pair.peer.send_fragments([b"\x00", b"", b"\xff"], text=False)
        pair.peer.send_text(LARGE_TEXT)
        pair.peer.send_binary(LARGE_BINARY)
        pair.run()
        assert pair.fastws_received == [
            ("text", TEXT),
            ("binary", BINARY),
            ("text", "fragménted"),
            ("binary", b"\x00\xff"),
            ("text", LARGE_TEXT),
            ("binary", LARGE_BINARY),
        ]
        assert pair.fastws.error is None

    def test_ping_is_answered(self, peer_class: type, side: Side) -> None:
        pair = Pair(peer_class, side)
        pair.peer.ping(b"hb")
        pair.run()
        assert pair.fastws_received == [("ping", b"hb")]
        assert pair.peer.received == [("pong", b"hb")]

    def test_ping_inside_a_fragmented_message(self, peer_class: type, side: Side) -> None:
        pair = Pair(peer_class, side)
        if peer_class is WebsocketsPeer:
            pair.peer.protocol.send_binary(b"part1", fin=False)
            pair.peer.ping(b"mid")
            pair.peer.protocol.send_continuation(b"part2", fin=True)
        else:
            pair.peer.out.append(
                pair.peer.conn.send(wsproto_events.BytesMessage(b"part1", message_finished=False))
            )
            pair.peer.ping(b"mid")
            pair.peer.out.append(pair.peer.conn.send(wsproto_events.BytesMessage(b"part2")))
        pair.run()
        assert pair.fastws_received == [("ping", b"mid"), ("binary", b"part1part2")]
        assert pair.peer.received == [("pong", b"mid")]

    def test_close(self, peer_class: type, side: Side) -> None:
        pair = Pair(peer_class, side)
        pair.peer.send_text("last")
        pair.peer.close(1000, "done")
        pair.run()
        assert pair.fastws_received == [("text", "last"), ("close", 1000, "done")]
        assert pair.peer.received == [("close", 1000, "")]
        assert pair.fastws.close_was_clean
        assert pair.fastws.close_rcvd_then_sent is True
        assert pair.fastws.state is State.CLOSED
        assert pair.peer.closed_cleanly()
