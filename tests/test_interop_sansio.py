"""In-memory interop with real peers' sans-IO stacks (no sockets).

A fastws ``ClientProtocol`` against websockets' ``ServerProtocol`` and
wsproto's server ``WSConnection``; websockets' ``ClientProtocol`` and
wsproto's client against a fastws ``ServerProtocol``. Each pair performs the
opening handshake with a subprotocol, exchanges text, binary, fragmented and
large messages and a ping in both directions, then closes cleanly, started
by either side; bytes travel whole or cut into small chunks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fastws.client import ClientProtocol
from fastws.protocol import State
from fastws.server import ServerProtocol
from sansio_peers import FastwsPeer, Link, WebsocketsPeer, WsprotoPeer

websockets_client = pytest.importorskip("websockets.client")
websockets_server = pytest.importorskip("websockets.server")
websockets_frames = pytest.importorskip("websockets.frames")
websockets_uri = pytest.importorskip("websockets.uri")
wsproto = pytest.importorskip("wsproto")
wsproto_events = pytest.importorskip("wsproto.events")

LARGE = bytes(range(256)) * 1200  # 300 KiB, several frames' worth of reads
TEXT = "h\xe9llo \u20ac \U0001f600"


# -- the pairs ------------------------------------------------------------------------


def fastws_client() -> FastwsPeer:
    protocol = ClientProtocol("ws://localhost:8765/chat?x=1", subprotocols=["superchat", "chat"])
    protocol.send_request(protocol.connect())
    return FastwsPeer(protocol)


def fastws_server() -> FastwsPeer:
    return FastwsPeer(ServerProtocol(subprotocols=["chat"]))


def websockets_client_peer() -> WebsocketsPeer:
    uri = websockets_uri.parse_uri("ws://localhost:8765/chat?x=1")
    protocol = websockets_client.ClientProtocol(uri, subprotocols=["superchat", "chat"], max_size=None)
    protocol.send_request(protocol.connect())
    return WebsocketsPeer(protocol)


def websockets_server_peer() -> WebsocketsPeer:
    return WebsocketsPeer(websockets_server.ServerProtocol(subprotocols=["chat"], max_size=None))


def wsproto_client_peer() -> WsprotoPeer:
    peer = WsprotoPeer(wsproto.WSConnection(wsproto.ConnectionType.CLIENT), server=False)
    peer.send(
        wsproto_events.Request(host="localhost:8765", target="/chat?x=1", subprotocols=["superchat", "chat"])
    )
    return peer


def wsproto_server_peer() -> WsprotoPeer:
    return WsprotoPeer(wsproto.WSConnection(wsproto.ConnectionType.SERVER), server=True)


PAIRS: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
    "fastws-websockets": (fastws_client, websockets_server_peer),
    "fastws-wsproto": (fastws_client, wsproto_server_peer),
    "websockets-fastws": (websockets_client_peer, fastws_server),
    "wsproto-fastws": (wsproto_client_peer, fastws_server),
    "fastws-fastws": (fastws_client, fastws_server),
}


def exchange(sender: Any, link: Link, receiver_name: str) -> None:
    sender.send_text(TEXT)
    sender.send_binary(b"\x00\x01\xfe\xff")
    sender.send_fragments([b"fra", "g\xe9".encode(), b"mented"], text=True)
    sender.send_binary(LARGE)
    sender.send_text("")
    sender.send_ping(b"are you there")
    link.run()
    received = link.take(receiver_name)
    assert received == [
        ("text", TEXT),
        ("binary", b"\x00\x01\xfe\xff"),
        ("text", "frag\xe9mented"),
        ("binary", LARGE),
        ("text", ""),
        ("ping", b"are you there"),
    ]
    sender_name = "server" if receiver_name == "client" else "client"
    assert link.take(sender_name) == [("pong", b"are you there")]


@pytest.mark.parametrize("closer", ["client", "server"])
@pytest.mark.parametrize("chunk", [None, 7], ids=["whole", "chunks-of-7"])
@pytest.mark.parametrize("pair", list(PAIRS))
def test_interop(pair: str, chunk: int | None, closer: str) -> None:
    make_client, make_server = PAIRS[pair]
    client = make_client()
    server = make_server()
    link = Link(client, server, chunk)
    link.run()
    # Opening handshake: the server prefers "chat", the client offered both.
    assert link.take("client") == [("open", "chat")]
    assert link.take("server") == [("open", "chat")]
    for peer in (client, server):
        if isinstance(peer, FastwsPeer):
            assert peer.protocol.state is State.OPEN
            assert peer.protocol.subprotocol == "chat"

    exchange(client, link, "server")
    exchange(server, link, "client")

    # Closing handshake, started by either side.
    initiator = client if closer == "client" else server
    initiator.send_close(1000, "bye")
    link.run()
    assert link.take("server" if closer == "client" else "client") == [("close", 1000, "bye")]
    # The reply echoes the code; whether it echoes the reason is each stack's choice.
    (reply,) = link.take(closer)
    assert reply[:2] == ("close", 1000)
    # The server closed TCP first and the client followed.
    assert server.eof_sent
    assert link.eof_delivered["client"]
    for peer in (client, server):
        if isinstance(peer, FastwsPeer):
            protocol = peer.protocol
            assert protocol.state is State.CLOSED
            assert protocol.close_was_clean
            assert protocol.close_code == 1000
            assert protocol.handshake_exc is None
            assert protocol.error is None


def test_frames_in_the_same_packet_as_the_101_from_websockets() -> None:
    # websockets' server may write its first message right after the 101;
    # both must arrive in one read and nothing may be lost.
    client = fastws_client()
    server = websockets_server_peer()
    server.feed(client.out())
    server.events()  # accepts
    server.protocol.send_text(b"first")
    server.protocol.send_binary(b"second")
    client.feed(server.out())
    assert client.events() == [("open", "chat"), ("text", "first"), ("binary", b"second")]


def test_frames_in_the_same_packet_as_the_request_from_fastws() -> None:
    # The reverse: a client that does not wait for the 101 (RFC 6455 section
    # 4.1 says it must); a fastws server keeps the frames for after the 101.
    uri = websockets_uri.parse_uri("ws://localhost/")
    protocol = websockets_client.ClientProtocol(uri)
    request = protocol.connect()
    protocol.send_request(request)
    data = b"".join(protocol.data_to_send())
    protocol.state = websockets_client.OPEN  # cheat, to send a frame before the answer
    protocol.send_text(b"eager")
    data += b"".join(protocol.data_to_send())
    server = fastws_server()
    server.feed(data)
    assert server.events() == [("open", None), ("text", "eager")]


def test_rejection_is_understood_by_websockets() -> None:
    uri = websockets_uri.parse_uri("ws://localhost/")
    protocol = websockets_client.ClientProtocol(uri, origin="https://evil.example")
    protocol.send_request(protocol.connect())
    server = ServerProtocol(origins=["https://good.example"])
    server.receive_data(b"".join(protocol.data_to_send()))
    (request,) = server.events_received()
    server.send_response(server.accept(request))
    output = server.data_to_send()
    assert output[-1] == b""
    protocol.receive_data(b"".join(output))
    protocol.receive_eof()
    (response,) = protocol.events_received()
    assert response.status_code == 403
    assert b"origin not allowed: 'https://evil.example'" in response.body
    assert isinstance(protocol.handshake_exc, Exception)
    assert "403" in str(protocol.handshake_exc)


def test_rejection_by_websockets_is_understood_by_fastws() -> None:
    client = ClientProtocol("ws://localhost/", origin="https://evil.example")
    client.send_request(client.connect())
    server = websockets_server.ServerProtocol(origins=["https://good.example"])
    server.receive_data(b"".join(client.data_to_send()))
    (request,) = server.events_received()
    server.send_response(server.accept(request))
    client.receive_data(b"".join(server.data_to_send()))
    assert client.events_received() == []
    exc = client.handshake_exc
    assert exc is not None
    assert exc.status == 403  # type: ignore[attr-defined]
    assert client.data_to_send() == [b""]
    assert client.state is State.CLOSED
