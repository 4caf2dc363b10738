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

from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("websockets.protocol")
wsproto_events = pytest.importorskip("wsproto.events")

from fastws.protocol import Protocol, Side, State  # noqa: E402
from sansio_peers import FastwsPeer, Link, Normal, websockets_peer, wsproto_peer  # noqa: E402

PEERS = [websockets_peer, wsproto_peer]


class Pair:
    """A fastws protocol and a peer, wired together in memory, both OPEN."""

    def __init__(self, make_peer: Callable[[Side], Any], fastws_side: Side, **kwargs: Any) -> None:
        self.fastws = Protocol(fastws_side, max_size=None, **kwargs)
        peer_side = Side.SERVER if fastws_side is Side.CLIENT else Side.CLIENT
        self.peer = make_peer(peer_side)
        ours = FastwsPeer(self.fastws)
        if fastws_side is Side.CLIENT:
            self.link = Link(ours, self.peer)
            self.ours, self.theirs = "client", "server"
        else:
            self.link = Link(self.peer, ours)
            self.ours, self.theirs = "server", "client"
        self.fastws_received: list[Normal] = []
        self.peer_received: list[Normal] = []

    def run(self) -> None:
        """Shuttle bytes both ways until both sides are quiet."""
        self.link.run()
        self.fastws_received += self.link.take(self.ours)
        self.peer_received += self.link.take(self.theirs)


TEXT = "héllo wörld ✓ \U0001f600"
BINARY = bytes(range(256))
LARGE_TEXT = ("κόσμε " * 60_000)[:300_000]
LARGE_BINARY = bytes(range(256)) * 2048  # 512 KiB


@pytest.fixture(params=PEERS, ids=lambda make: make.__name__.removesuffix("_peer"))
def peer_class(request: pytest.FixtureRequest) -> Callable[[Side], Any]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=[Side.CLIENT, Side.SERVER], ids=["fastws-client", "fastws-server"])
def side(request: pytest.FixtureRequest) -> Side:
    return request.param  # type: ignore[no-any-return]


class TestFastwsSends:
    """RFC 6455 sections 5.4-5.6: what fastws sends, a peer understands."""

    def test_messages(self, peer_class: Callable[[Side], Any], side: Side) -> None:
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
        assert pair.peer_received == [
            ("text", TEXT),
            ("binary", BINARY),
            ("text", ""),
            ("text", "fragménted"),
            ("text", LARGE_TEXT),
            ("binary", LARGE_BINARY),
        ]

    def test_auto_fragmentation(self, peer_class: Callable[[Side], Any], side: Side) -> None:
        pair = Pair(peer_class, side, fragment_size=1000)
        pair.fastws.send_text(LARGE_TEXT)
        pair.fastws.send_binary(LARGE_BINARY[:10_001])
        pair.run()
        assert pair.peer_received == [("text", LARGE_TEXT), ("binary", LARGE_BINARY[:10_001])]

    def test_ping_is_answered(self, peer_class: Callable[[Side], Any], side: Side) -> None:
        pair = Pair(peer_class, side)
        pair.fastws.send_ping(b"are you there")
        pair.run()
        assert pair.peer_received == [("ping", b"are you there")]
        assert pair.fastws_received == [("pong", b"are you there")]

    def test_close(self, peer_class: Callable[[Side], Any], side: Side) -> None:
        pair = Pair(peer_class, side)
        pair.fastws.send_text("last")
        pair.fastws.send_close(1001, "going away")
        pair.run()
        assert pair.peer_received == [("text", "last"), ("close", 1001, "going away")]
        # Both peers echo the reason along with the code.
        assert pair.fastws_received == [("close", 1001, "going away")]
        assert pair.fastws.close_was_clean
        assert pair.fastws.state is State.CLOSED
        assert pair.peer.closed_cleanly()


class TestPeerSends:
    """RFC 6455 sections 5.4-5.6: what a peer sends, fastws understands."""

    def test_messages(self, peer_class: Callable[[Side], Any], side: Side) -> None:
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

    def test_ping_is_answered(self, peer_class: Callable[[Side], Any], side: Side) -> None:
        pair = Pair(peer_class, side)
        pair.peer.send_ping(b"hb")
        pair.run()
        assert pair.fastws_received == [("ping", b"hb")]
        assert pair.peer_received == [("pong", b"hb")]

    def test_ping_inside_a_fragmented_message(self, peer_class: Callable[[Side], Any], side: Side) -> None:
        pair = Pair(peer_class, side)
        if peer_class is websockets_peer:
            pair.peer.protocol.send_binary(b"part1", fin=False)
            pair.peer.send_ping(b"mid")
            pair.peer.protocol.send_continuation(b"part2", fin=True)
        else:
            pair.peer.send(wsproto_events.BytesMessage(b"part1", message_finished=False))
            pair.peer.send_ping(b"mid")
            pair.peer.send(wsproto_events.BytesMessage(b"part2"))
        pair.run()
        assert pair.fastws_received == [("ping", b"mid"), ("binary", b"part1part2")]
        assert pair.peer_received == [("pong", b"mid")]

    def test_close(self, peer_class: Callable[[Side], Any], side: Side) -> None:
        pair = Pair(peer_class, side)
        pair.peer.send_text("last")
        pair.peer.send_close(1000, "done")
        pair.run()
        assert pair.fastws_received == [("text", "last"), ("close", 1000, "done")]
        assert pair.peer_received == [("close", 1000, "")]
        assert pair.fastws.close_was_clean
        assert pair.fastws.close_rcvd_then_sent is True
        assert pair.fastws.state is State.CLOSED
        assert pair.peer.closed_cleanly()
