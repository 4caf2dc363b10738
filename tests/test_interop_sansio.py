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
from fastws.events import BinaryMessage, CloseReceived, Ping, Pong, TextMessage
from fastws.http11 import Request, Response
from fastws.protocol import State
from fastws.server import ServerProtocol

websockets_client = pytest.importorskip("websockets.client")
websockets_server = pytest.importorskip("websockets.server")
websockets_frames = pytest.importorskip("websockets.frames")
websockets_uri = pytest.importorskip("websockets.uri")
wsproto = pytest.importorskip("wsproto")
wsproto_events = pytest.importorskip("wsproto.events")

__all__: list[str] = []

LARGE = bytes(range(256)) * 1200  # 300 KiB, several frames' worth of reads
TEXT = "h\xe9llo \u20ac \U0001f600"


# -- adapters: one interface over four stacks -----------------------------------------


class Peer:
    """Normalized view of one endpoint: ("text", str), ("binary", bytes),
    ("ping", bytes), ("pong", bytes), ("close", code, reason), ("open", subprotocol)."""

    eof_sent = False

    def out(self) -> bytes:
        raise NotImplementedError

    def feed(self, data: bytes) -> None:
        raise NotImplementedError

    def feed_eof(self) -> None:
        raise NotImplementedError

    def events(self) -> list[tuple[Any, ...]]:
        raise NotImplementedError


class FastwsPeer(Peer):
    def __init__(self, protocol: ClientProtocol | ServerProtocol) -> None:
        self.protocol = protocol

    def out(self) -> bytes:
        chunks = self.protocol.data_to_send()
        if b"" in chunks:
            self.eof_sent = True
        return b"".join(chunks)

    def feed(self, data: bytes) -> None:
        self.protocol.receive_data(data)

    def feed_eof(self) -> None:
        self.protocol.receive_eof()

    def events(self) -> list[tuple[Any, ...]]:
        result: list[tuple[Any, ...]] = []
        protocol = self.protocol
        for event in protocol.events_received():
            if isinstance(event, Request):
                assert isinstance(protocol, ServerProtocol)
                protocol.send_response(protocol.accept(event))
                assert protocol.state is State.OPEN, protocol.handshake_exc
                result.append(("open", protocol.subprotocol))
                # Frames that came with the request are parsed by now.
                result.extend(self.events())
            elif isinstance(event, Response):
                result.append(("open", protocol.subprotocol))
            elif isinstance(event, TextMessage):
                result.append(("text", event.data))
            elif isinstance(event, BinaryMessage):
                result.append(("binary", event.data))
            elif isinstance(event, Ping):
                result.append(("ping", event.data))
            elif isinstance(event, Pong):
                result.append(("pong", event.data))
            elif isinstance(event, CloseReceived):
                result.append(("close", event.code, event.reason))
            else:  # pragma: no cover
                raise AssertionError(event)
        return result

    def send_text(self, data: str) -> None:
        self.protocol.send_text(data)

    def send_binary(self, data: bytes) -> None:
        self.protocol.send_binary(data)

    def send_fragmented_text(self, pieces: list[str]) -> None:
        self.protocol.send_text(pieces[0], fin=False)
        for piece in pieces[1:-1]:
            self.protocol.send_continuation(piece.encode(), fin=False)
        self.protocol.send_continuation(pieces[-1].encode(), fin=True)

    def send_ping(self, data: bytes) -> None:
        self.protocol.send_ping(data)

    def send_close(self, code: int, reason: str) -> None:
        self.protocol.send_close(code, reason)


class WebsocketsPeer(Peer):
    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self._opcode: Any = None
        self._chunks: list[bytes] = []

    def out(self) -> bytes:
        chunks = self.protocol.data_to_send()
        if b"" in chunks:
            self.eof_sent = True
        return b"".join(chunks)

    def feed(self, data: bytes) -> None:
        self.protocol.receive_data(data)

    def feed_eof(self) -> None:
        self.protocol.receive_eof()

    def events(self) -> list[tuple[Any, ...]]:
        frames = websockets_frames
        result: list[tuple[Any, ...]] = []
        protocol = self.protocol
        for event in protocol.events_received():
            if isinstance(event, frames.Frame):
                opcode = event.opcode
                if opcode in (frames.Opcode.TEXT, frames.Opcode.BINARY):
                    self._opcode = opcode
                    self._chunks = [bytes(event.data)]
                elif opcode is frames.Opcode.CONT:
                    self._chunks.append(bytes(event.data))
                elif opcode is frames.Opcode.PING:
                    result.append(("ping", bytes(event.data)))
                    continue
                elif opcode is frames.Opcode.PONG:
                    result.append(("pong", bytes(event.data)))
                    continue
                elif opcode is frames.Opcode.CLOSE:
                    close = frames.Close.parse(event.data)
                    result.append(("close", int(close.code), close.reason))
                    continue
                if event.fin:
                    data = b"".join(self._chunks)
                    if self._opcode is frames.Opcode.TEXT:
                        result.append(("text", data.decode()))
                    else:
                        result.append(("binary", data))
            elif hasattr(event, "path"):  # websockets.http11.Request
                protocol.send_response(protocol.accept(event))
                result.append(("open", protocol.subprotocol))
            else:  # websockets.http11.Response
                assert protocol.handshake_exc is None, protocol.handshake_exc
                result.append(("open", protocol.subprotocol))
        return result

    def send_text(self, data: str) -> None:
        self.protocol.send_text(data.encode())

    def send_binary(self, data: bytes) -> None:
        self.protocol.send_binary(data)

    def send_fragmented_text(self, pieces: list[str]) -> None:
        self.protocol.send_text(pieces[0].encode(), fin=False)
        for piece in pieces[1:-1]:
            self.protocol.send_continuation(piece.encode(), fin=False)
        self.protocol.send_continuation(pieces[-1].encode(), fin=True)

    def send_ping(self, data: bytes) -> None:
        self.protocol.send_ping(data)

    def send_close(self, code: int, reason: str) -> None:
        self.protocol.send_close(code, reason)


class WsprotoPeer(Peer):
    """wsproto leaves pongs, close replies and closing TCP to the application."""

    def __init__(self, connection: Any, server: bool) -> None:
        self.connection = connection
        self.server = server
        self._buffer: list[bytes] = []
        self._text: list[Any] = []
        self._closed = False

    def _send(self, event: Any) -> None:
        self._buffer.append(self.connection.send(event))

    def out(self) -> bytes:
        data = b"".join(self._buffer)
        self._buffer = []
        return data

    def feed(self, data: bytes) -> None:
        self.connection.receive_data(data)

    def feed_eof(self) -> None:
        self.connection.receive_data(None)

    def events(self) -> list[tuple[Any, ...]]:
        ev = wsproto_events
        result: list[tuple[Any, ...]] = []
        for event in self.connection.events():
            if isinstance(event, ev.Request):
                self._send(ev.AcceptConnection(subprotocol="chat" if "chat" in event.subprotocols else None))
                result.append(("open", "chat" if "chat" in event.subprotocols else None))
            elif isinstance(event, ev.AcceptConnection):
                result.append(("open", event.subprotocol))
            elif isinstance(event, (ev.TextMessage, ev.BytesMessage)):
                self._text.append(event.data)
                if event.message_finished:
                    kind = "text" if isinstance(event, ev.TextMessage) else "binary"
                    joined = "".join(self._text) if kind == "text" else b"".join(self._text)
                    result.append((kind, joined))
                    self._text = []
            elif isinstance(event, ev.Ping):
                result.append(("ping", bytes(event.payload)))
                self._send(event.response())
            elif isinstance(event, ev.Pong):
                result.append(("pong", bytes(event.payload)))
            elif isinstance(event, ev.CloseConnection):
                if self._closed:
                    # wsproto reports EOF after the closing handshake as a
                    # second CloseConnection (1006): not a frame, skip it.
                    continue
                self._closed = True
                result.append(("close", event.code, event.reason or ""))
                if self.connection.state.name == "REMOTE_CLOSING":
                    self._send(event.response())
                if self.server:
                    # RFC 6455 section 7.1.1: the server closes TCP first.
                    self.eof_sent = True
            else:  # pragma: no cover
                raise AssertionError(event)
        return result

    def send_text(self, data: str) -> None:
        self._send(wsproto_events.TextMessage(data=data))

    def send_binary(self, data: bytes) -> None:
        self._send(wsproto_events.BytesMessage(data=data))

    def send_fragmented_text(self, pieces: list[str]) -> None:
        for index, piece in enumerate(pieces):
            self._send(wsproto_events.TextMessage(data=piece, message_finished=index == len(pieces) - 1))

    def send_ping(self, data: bytes) -> None:
        self._send(wsproto_events.Ping(payload=data))

    def send_close(self, code: int, reason: str) -> None:
        self._send(wsproto_events.CloseConnection(code=code, reason=reason))


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
    peer._send(
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


class Link:
    """Moves bytes between two peers until nothing is left to move."""

    def __init__(self, client: Any, server: Any, chunk: int | None) -> None:
        self.client = client
        self.server = server
        self.chunk = chunk
        self.received: dict[str, list[tuple[Any, ...]]] = {"client": [], "server": []}
        self.eof_delivered = {"client": False, "server": False}

    def _deliver(self, data: bytes, to: Any) -> None:
        if self.chunk is None:
            to.feed(data)
            return
        for start in range(0, len(data), self.chunk):
            to.feed(data[start : start + self.chunk])

    def run(self) -> None:
        for _ in range(50):  # bounded: each round moves at least one batch
            moved = False
            for source, target, other in (
                (self.client, self.server, "server"),
                (self.server, self.client, "client"),
            ):
                data = source.out()
                if data:
                    moved = True
                    self._deliver(data, target)
                    self.received[other].extend(target.events())
                if source.eof_sent and not self.eof_delivered[other]:
                    self.eof_delivered[other] = True
                    moved = True
                    target.feed_eof()
                    self.received[other].extend(target.events())
                    data = target.out()  # the answer to EOF (ours), if any
                    if data:  # pragma: no cover - nothing may follow EOF
                        raise AssertionError(f"{other} sent {data!r} after EOF")
            if not moved:
                return
        raise AssertionError("the peers did not settle")

    def take(self, name: str) -> list[tuple[Any, ...]]:
        events = self.received[name]
        self.received[name] = []
        return events


def exchange(sender: Any, link: Link, receiver_name: str) -> None:
    sender.send_text(TEXT)
    sender.send_binary(b"\x00\x01\xfe\xff")
    sender.send_fragmented_text(["fra", "g\xe9", "mented"])
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
