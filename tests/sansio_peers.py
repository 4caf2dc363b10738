"""One interface over three sans-IO WebSocket stacks, for the in-memory interop suites.

``tests/test_interop_sansio.py`` (opening handshake included) and
``tests/test_protocol_interop.py`` (from OPEN on) drive fastws against
websockets' and wsproto's sans-IO objects through the adapters here, and
:class:`Link` moves the bytes between two of them, EOF included; no socket
is involved. Every adapter reports what it received as normalized events:
``("open", subprotocol)``, ``("text", str)``, ``("binary", bytes)``,
``("ping", bytes)``, ``("pong", bytes)``, ``("close", code, reason)``.

The peers answer as their documentation asks of an application: websockets
and fastws answer pings and closes themselves; wsproto's adapter sends the
pong and the close reply, and its server side closes TCP once the closing
handshake is over (RFC 6455 section 7.1.1).
"""

from __future__ import annotations

from typing import Any

from fastws.client import ClientProtocol
from fastws.events import BinaryMessage, CloseReceived, Ping, Pong, TextMessage
from fastws.http11 import Request, Response
from fastws.protocol import Protocol, Side, State
from fastws.server import ServerProtocol

__all__ = ["FastwsPeer", "Link", "Normal", "WebsocketsPeer", "WsprotoPeer", "websockets_peer", "wsproto_peer"]

Normal = tuple[Any, ...]


class _ProtocolPeer:
    """What the two libraries with websockets' sans-IO interface share: bytes in, bytes out."""

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.eof_sent = False

    def out(self) -> bytes:
        chunks = self.protocol.data_to_send()
        if b"" in chunks:
            self.eof_sent = True
        return b"".join(chunks)

    def feed(self, data: bytes) -> None:
        self.protocol.receive_data(data)

    def feed_eof(self) -> None:
        self.protocol.receive_eof()

    def send_ping(self, data: bytes) -> None:
        self.protocol.send_ping(data)

    def send_close(self, code: int, reason: str) -> None:
        self.protocol.send_close(code, reason)


class FastwsPeer(_ProtocolPeer):
    """A fastws ``Protocol``, ``ClientProtocol`` or ``ServerProtocol`` (which accepts every request)."""

    name = "fastws"
    protocol: Protocol

    def events(self) -> list[Normal]:
        result: list[Normal] = []
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
                assert isinstance(protocol, ClientProtocol)
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

    def send_fragments(self, parts: list[bytes], text: bool) -> None:
        first, *rest = parts
        if text:
            self.protocol.send_text(first.decode(), fin=not rest)
        else:
            self.protocol.send_binary(first, fin=not rest)
        for i, part in enumerate(rest):
            self.protocol.send_continuation(part, fin=i == len(rest) - 1)

    def closed_cleanly(self) -> bool:
        return self.protocol.state is State.CLOSED and self.protocol.close_was_clean


class WebsocketsPeer(_ProtocolPeer):
    """websockets' sans-IO ``Protocol`` (or its client and server); it emits frames, reassembled here."""

    name = "websockets"

    def __init__(self, protocol: Any) -> None:
        super().__init__(protocol)
        self._opcode: Any = None
        self._parts: list[bytes] = []

    def events(self) -> list[Normal]:
        from websockets import frames

        result: list[Normal] = []
        protocol = self.protocol
        for event in protocol.events_received():
            if not isinstance(event, frames.Frame):
                if hasattr(event, "path"):  # websockets.http11.Request
                    protocol.send_response(protocol.accept(event))
                else:  # websockets.http11.Response
                    assert protocol.handshake_exc is None, protocol.handshake_exc
                result.append(("open", protocol.subprotocol))
                continue
            opcode = event.opcode
            if opcode is frames.Opcode.PING:
                result.append(("ping", bytes(event.data)))
            elif opcode is frames.Opcode.PONG:
                result.append(("pong", bytes(event.data)))
            elif opcode is frames.Opcode.CLOSE:
                close = frames.Close.parse(event.data)
                result.append(("close", int(close.code), close.reason))
            else:
                if opcode is not frames.Opcode.CONT:
                    self._opcode, self._parts = opcode, []
                self._parts.append(bytes(event.data))
                if event.fin:
                    data = b"".join(self._parts)
                    if self._opcode is frames.Opcode.TEXT:
                        result.append(("text", data.decode()))
                    else:
                        result.append(("binary", data))
        return result

    def send_text(self, data: str) -> None:
        self.protocol.send_text(data.encode())

    def send_binary(self, data: bytes) -> None:
        self.protocol.send_binary(data)

    def send_fragments(self, parts: list[bytes], text: bool) -> None:
        first, *rest = parts
        (self.protocol.send_text if text else self.protocol.send_binary)(first, fin=not rest)
        for i, part in enumerate(rest):
            self.protocol.send_continuation(part, fin=i == len(rest) - 1)

    def closed_cleanly(self) -> bool:
        from websockets.protocol import State as WebsocketsState

        return self.protocol.state is WebsocketsState.CLOSED and self.protocol.close_rcvd is not None


class WsprotoPeer:
    """wsproto's ``WSConnection`` or post-handshake ``Connection``.

    wsproto leaves pongs, close replies and closing TCP to the application:
    this adapter does them as wsproto's documentation says; a server
    accepts the subprotocol ``chat`` when it is offered.
    """

    name = "wsproto"

    def __init__(self, connection: Any, server: bool) -> None:
        self.connection = connection
        self.server = server
        self.eof_sent = False
        self._buffer: list[bytes] = []
        self._parts: list[Any] = []
        self._closed = False

    def send(self, event: Any) -> None:
        """Send any wsproto event."""
        self._buffer.append(self.connection.send(event))

    def out(self) -> bytes:
        data = b"".join(self._buffer)
        self._buffer = []
        return data

    def feed(self, data: bytes) -> None:
        self.connection.receive_data(data)

    def feed_eof(self) -> None:
        self.connection.receive_data(None)

    def events(self) -> list[Normal]:
        from wsproto import events as ev

        result: list[Normal] = []
        for event in self.connection.events():
            if isinstance(event, ev.Request):
                subprotocol = "chat" if "chat" in event.subprotocols else None
                self.send(ev.AcceptConnection(subprotocol=subprotocol))
                result.append(("open", subprotocol))
            elif isinstance(event, ev.AcceptConnection):
                result.append(("open", event.subprotocol))
            elif isinstance(event, (ev.TextMessage, ev.BytesMessage)):
                self._parts.append(event.data)
                if event.message_finished:
                    if isinstance(event, ev.TextMessage):
                        result.append(("text", "".join(self._parts)))
                    else:
                        result.append(("binary", b"".join(self._parts)))
                    self._parts = []
            elif isinstance(event, ev.Ping):
                result.append(("ping", bytes(event.payload)))
                self.send(event.response())
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
                    self.send(event.response())
                if self.server:
                    # RFC 6455 section 7.1.1: the server closes TCP first.
                    self.eof_sent = True
            else:  # pragma: no cover
                raise AssertionError(event)
        return result

    def send_text(self, data: str) -> None:
        from wsproto.events import TextMessage as WsprotoText

        self.send(WsprotoText(data=data))

    def send_binary(self, data: bytes) -> None:
        from wsproto.events import BytesMessage

        self.send(BytesMessage(data=data))

    def send_fragments(self, parts: list[bytes], text: bool) -> None:
        from wsproto.events import BytesMessage
        from wsproto.events import TextMessage as WsprotoText

        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            self.send(
                WsprotoText(part.decode(), message_finished=last)
                if text
                else BytesMessage(part, message_finished=last)
            )

    def send_ping(self, data: bytes) -> None:
        from wsproto.events import Ping as WsprotoPing

        self.send(WsprotoPing(payload=data))

    def send_close(self, code: int, reason: str) -> None:
        from wsproto.events import CloseConnection

        self.send(CloseConnection(code=code, reason=reason))

    def closed_cleanly(self) -> bool:
        return bool(self.connection.state.name == "CLOSED")


def websockets_peer(side: Side) -> WebsocketsPeer:
    """websockets' sans-IO ``Protocol`` in ``side``'s role, already OPEN."""
    from websockets import protocol

    ws_side = protocol.Side.CLIENT if side is Side.CLIENT else protocol.Side.SERVER
    return WebsocketsPeer(protocol.Protocol(ws_side, max_size=None))


def wsproto_peer(side: Side) -> WsprotoPeer:
    """wsproto's ``Connection`` in ``side``'s role, already OPEN."""
    from wsproto import connection

    kind = connection.ConnectionType.CLIENT if side is Side.CLIENT else connection.ConnectionType.SERVER
    return WsprotoPeer(connection.Connection(kind), server=side is Side.SERVER)


class Link:
    """Moves bytes between two peers until nothing is left to move.

    Args:
        client: the client's adapter.
        server: the server's adapter.
        chunk: deliver bytes in pieces of this size; None for whole.
    """

    def __init__(self, client: Any, server: Any, chunk: int | None = None) -> None:
        self.client = client
        self.server = server
        self.chunk = chunk
        self.received: dict[str, list[Normal]] = {"client": [], "server": []}
        self.eof_delivered = {"client": False, "server": False}

    def _deliver(self, data: bytes, to: Any) -> None:
        if self.chunk is None:
            to.feed(data)
            return
        for start in range(0, len(data), self.chunk):
            to.feed(data[start : start + self.chunk])

    def run(self) -> None:
        """Shuttle bytes both ways until both sides are quiet (bounded)."""
        for _ in range(100):  # each round moves at least one batch
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
                    data = target.out()  # the answer to EOF, if any
                    if data:  # pragma: no cover - nothing may follow EOF
                        raise AssertionError(f"{other} sent {data!r} after EOF")
            if not moved:
                return
        raise AssertionError("the peers did not settle")  # pragma: no cover

    def take(self, name: str) -> list[Normal]:
        """The events ``"client"`` or ``"server"`` received since the last call."""
        events = self.received[name]
        self.received[name] = []
        return events
