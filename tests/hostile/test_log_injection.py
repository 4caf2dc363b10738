"""Peer text in exceptions and log lines: escaped, never raw (hostile peers, finding 5).

A close reason, an HTTP reason phrase and a header value are chosen by the
peer; CR, LF and ANSI escape sequences are valid UTF-8 (the C1 controls,
CSI 0x9b among them, valid ISO-8859-1), and written raw they forge log lines
("...\\r\\nCRITICAL ...") or drive the terminal that shows the log. Each
test plays the peer with raw sockets over loopback and checks that
``str()``/``repr()`` of the exception and every fastws log record show the
text with its control characters escaped, while the attributes keep it as
received.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

import fastws
from conformance.wire import OP_CLOSE, OP_TEXT, build_frame, close_payload
from fastws import ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from hostile.raw_peers import CONTROL, close_frame, raw_server

#: A close reason that forges a log line, clears the screen, retitles the
#: terminal and ends with NUL: 55 bytes, a valid close reason.
FORGED = "bye\r\n2026-01-01 CRITICAL forged\x1b[2J\x1b]0;owned\x07\x00"

REQUEST = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)


def fastws_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The formatted messages fastws logged, exception text included."""
    handler = logging.Formatter()
    return [
        handler.format(record)
        for record in caplog.records
        if record.name == "fastws" or record.name.startswith("fastws.")
    ]


def assert_escaped(text: str) -> None:
    assert CONTROL.search(text) is None, f"raw control character in {text!r}"


class TestConnectionClosed:
    async def test_str_and_repr_escape_the_received_reason(self) -> None:
        async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(close_frame(4000, FORGED.encode()))
            await writer.drain()
            await asyncio.wait_for(reader.read(64), 5)  # the client's reply

        async with raw_server(script) as port:
            ws = await fastws.connect(f"ws://127.0.0.1:{port}/", compression=None)
            with pytest.raises(ConnectionClosedError) as info:
                await asyncio.wait_for(ws.recv(), 5)
        exc = info.value
        # The attributes keep what the peer sent...
        assert exc.reason == FORGED
        assert exc.rcvd is not None and exc.rcvd.reason == FORGED
        # ... the renderings escape it.
        for text in (str(exc), repr(exc), str(exc.rcvd), repr(exc.rcvd)):
            assert_escaped(text)
        assert str(exc) == (
            "received 4000 (private use) bye\\r\\n2026-01-01 CRITICAL forged\\x1b[2J\\x1b]0;owned\\x07\\x00; "
            "then sent 4000 (private use)"
        )

    async def test_the_closed_connection_raises_escaped_on_send_too(self) -> None:
        async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(close_frame(1000, b"done\x1b[31m\r\nERROR forged"))
            await writer.drain()
            await asyncio.wait_for(reader.read(64), 5)

        async with raw_server(script) as port:
            ws = await fastws.connect(f"ws://127.0.0.1:{port}/", compression=None)
            await asyncio.wait_for(ws.wait_closed(), 5)
            with pytest.raises(ConnectionClosedOK) as info:
                await ws.send("too late")
        assert info.value.reason == "done\x1b[31m\r\nERROR forged"
        assert_escaped(str(info.value))
        assert "done\\x1b[31m\\r\\nERROR forged" in str(info.value)


class TestServerLogs:
    async def test_handler_ended_by_a_forged_close(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG, logger="fastws")

        async def handler(ws: fastws.ServerConnection) -> None:
            await ws.recv()  # raises ConnectionClosedOK: the server logs how it ended

        async with fastws.serve(handler, "127.0.0.1", 0, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(REQUEST + b"\r\n")
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            writer.write(build_frame(OP_CLOSE, close_payload(1000, FORGED.encode()), mask=True))
            await asyncio.wait_for(reader.read(), 5)  # the close reply, then EOF
            writer.close()
            for _ in range(100):  # the handler task logs as it ends
                if any("handler ended" in line for line in fastws_records(caplog)):
                    break
                await asyncio.sleep(0.01)
        lines = fastws_records(caplog)
        (line,) = [line for line in lines if "handler ended on a closed connection" in line]
        assert "bye\\r\\n2026-01-01 CRITICAL forged\\x1b[2J" in line
        for line in lines:
            assert_escaped(line)

    @pytest.mark.parametrize(
        ("request_line", "header"),
        [
            (b"GET / HTTP/1.1", b"Connection: Upgrade\x1b[2J\x9b2J"),
            (b"GET /\x1b]0;owned\x07 HTTP/1.1", b"Connection: Upgrade"),
        ],
        ids=["header", "request-line"],
    )
    async def test_malformed_request(
        self, caplog: pytest.LogCaptureFixture, request_line: bytes, header: bytes
    ) -> None:
        # The head parser refuses these (400) and the server logs why,
        # quoting the line it refused.
        caplog.set_level(logging.DEBUG, logger="fastws")
        lines = [request_line] + [
            line for line in REQUEST.split(b"\r\n")[1:] if line and not line.startswith(b"Connection:")
        ]
        async with fastws.serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"\r\n".join([*lines, header]) + b"\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 400 "), head
            await asyncio.wait_for(reader.read(), 5)
            writer.close()
        (line,) = [line for line in fastws_records(caplog) if "opening handshake failed" in line]
        assert "\\x1b" in line
        assert_escaped(line)


class TestClientErrors:
    # RFC 9112 section 4: a reason-phrase may hold obs-text (0x80-0xFF).
    STATUS = b"HTTP/1.1 403 Forbidden\x9b2J\x85CRITICAL forged"

    async def test_invalid_status_escapes_the_reason_phrase(self) -> None:
        async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(0)

        async with raw_server(script, status_line=self.STATUS) as port:
            with pytest.raises(InvalidStatus) as info:
                await fastws.connect(f"ws://127.0.0.1:{port}/")
        assert info.value.reason == "Forbidden\x9b2J\x85CRITICAL forged"
        assert_escaped(str(info.value))
        assert str(info.value).endswith("HTTP 403 Forbidden\\x9b2J\\x85CRITICAL forged")

    async def test_browser_style_log_line(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG, logger="fastws")

        async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(0)

        async with raw_server(script, status_line=self.STATUS) as port:
            ws = fastws.WebSocket(f"ws://127.0.0.1:{port}/")
            event = await asyncio.wait_for(ws.wait_closed(), 5)
        assert (event.code, event.wasClean) == (1006, False)
        (line,) = [line for line in fastws_records(caplog) if "failed" in line]
        assert "Forbidden\\x9b2J\\x85CRITICAL forged" in line
        assert_escaped(line)


class TestMessagesAreNotLogged:
    async def test_a_text_message_with_controls_reaches_the_application_intact(self) -> None:
        # Escaping is for rendering only: the data itself is never changed.
        text = "\x1b[2J\r\n\x00"

        async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(build_frame(OP_TEXT, text.encode()) + close_frame(1000))
            await writer.drain()
            await asyncio.wait_for(reader.read(64), 5)

        async with raw_server(script) as port:
            ws = await fastws.connect(f"ws://127.0.0.1:{port}/", compression=None)
            assert await asyncio.wait_for(ws.recv(), 5) == text
