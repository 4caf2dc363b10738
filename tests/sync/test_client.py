"""fastws.sync.connect: the opening handshake's options, timeouts and failures, TLS, Unix sockets."""

from __future__ import annotations

import socket
import ssl
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from certificates import client_context, server_context
from fastws import InvalidHandshake, InvalidMessage, InvalidStatus
from fastws.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from fastws.http11 import Request
from fastws.sync import ServerConnection, connect, unix_connect, unix_serve


class TestHandshake:
    def test_subprotocol(self, sync_server: Any) -> None:
        with sync_server(subprotocols=["chat", "superchat"]) as (_, url):
            with connect(url, subprotocols=["superchat", "other"]) as ws:
                assert ws.subprotocol == "superchat"
            with connect(url, subprotocols=["other"]) as ws:
                assert ws.subprotocol is None

    def test_headers_origin_and_user_agent(self, sync_server: Any) -> None:
        requests: list[Request] = []

        def process_request(connection: ServerConnection, request: Request) -> None:
            requests.append(request)

        with sync_server(process_request=process_request) as (_, url):
            options: dict[str, Any] = {
                "additional_headers": {"X-Token": "secret"},
                "origin": "https://example.com",
                "user_agent_header": "tester/1",
            }
            with connect(url, **options) as ws:
                assert ws.request is not None and ws.request.headers["X-Token"] == "secret"
            with connect(url, user_agent_header=None):
                pass
        headers = requests[0].headers
        assert (headers["X-Token"], headers["Origin"], headers["User-Agent"]) == (
            "secret",
            "https://example.com",
            "tester/1",
        )
        assert "User-Agent" not in requests[1].headers

    def test_compression(self, sync_server: Any) -> None:
        with sync_server() as (_, url):
            with connect(url) as ws:  # permessage-deflate by default
                assert ws.response is not None
                assert "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", "")
                ws.send("squeeze me " * 1000)
                assert ws.recv(5) == "squeeze me " * 1000
            with connect(url, compression=None) as ws:
                assert ws.response is not None
                assert "Sec-WebSocket-Extensions" not in ws.response.headers
            factory = ClientPerMessageDeflateFactory(client_max_window_bits=10)
            with connect(url, compression=factory) as ws:
                ws.send(b"\x00" * 10000)
                assert ws.recv(5) == b"\x00" * 10000
        with pytest.raises(ValueError):
            connect(url, compression="brotli")

    def test_refused(self, sync_server: Any) -> None:
        def process_request(connection: ServerConnection, request: Request) -> Any:
            return connection.respond(403, "go away\n")

        with sync_server(process_request=process_request) as (_, url):
            with pytest.raises(InvalidStatus) as info:
                connect(url)
            assert info.value.status == 403

    def test_not_a_websocket_server(self) -> None:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]

            def answer() -> None:
                sock, _ = listener.accept()
                with sock:
                    sock.recv(65536)
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")

            thread = threading.Thread(target=answer)
            thread.start()
            with pytest.raises(InvalidHandshake):
                connect(f"ws://127.0.0.1:{port}/")
            thread.join(5)

    def test_server_closes_during_the_handshake(self) -> None:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]

            def hang_up() -> None:
                sock, _ = listener.accept()
                sock.recv(65536)
                sock.close()

            thread = threading.Thread(target=hang_up)
            thread.start()
            with pytest.raises(InvalidMessage):
                connect(f"ws://127.0.0.1:{port}/")
            thread.join(5)

    def test_open_timeout(self) -> None:
        with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts, never answers
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                connect(f"ws://127.0.0.1:{listener.getsockname()[1]}/", open_timeout=0.3)
            assert time.monotonic() - started < 3

    def test_connection_refused(self) -> None:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
        with pytest.raises(OSError):
            connect(f"ws://127.0.0.1:{port}/", open_timeout=2)

    def test_host_port_and_sock(self, sync_server: Any) -> None:
        with sync_server() as (server, _):
            port = server.socket.getsockname()[1]
            with connect("ws://example.invalid/", host="127.0.0.1", port=port) as ws:
                assert ws.request is not None and ws.request.headers["Host"] == "example.invalid"
                ws.send("via host and port")
                assert ws.recv(5) == "via host and port"
            sock = socket.create_connection(("127.0.0.1", port))
            with connect("ws://somewhere/", sock=sock) as ws:
                ws.send("via sock")
                assert ws.recv(5) == "via sock"

    def test_messages_right_after_the_response(self, sync_server: Any) -> None:
        def greet(ws: ServerConnection) -> None:
            ws.send("welcome")  # may share a TCP segment with the 101
            ws.recv()

        with sync_server(greet) as (_, url), connect(url) as ws:
            assert ws.recv(5) == "welcome"
            ws.send("bye")

    @pytest.mark.parametrize("uri", ["http://x/", "ws://", "ws://host:port/"])
    def test_invalid_uri(self, uri: str) -> None:
        with pytest.raises(ValueError):
            connect(uri)

    def test_bad_write_limit_fails_before_connecting(self) -> None:
        # Nothing listens at this URI: a connection attempt would raise OSError.
        with pytest.raises(ValueError, match="write_limit"):
            connect("ws://127.0.0.1:1/", write_limit=(10, 20))
        with pytest.raises(TypeError, match="write_limit"):
            connect("ws://127.0.0.1:1/", write_limit=None)  # type: ignore[arg-type]


class TestTLS:
    def test_echo_over_tls(self, sync_server: Any, certificate: tuple[Path, Path]) -> None:
        options = {"ssl": server_context(certificate), "max_size": 2**22}
        with sync_server(scheme="wss", **options) as (_, url):
            with connect(url, ssl=client_context(certificate), max_size=2**22) as ws:
                assert isinstance(ws.transport.sock, ssl.SSLSocket)
                ws.send("secret")
                assert ws.recv(5) == "secret"
                payload = bytes(range(256)) * 8192  # 2 MiB through TLS records
                ws.send(payload)
                assert ws.recv(10) == payload
            assert ws.close_code == 1000

    def test_default_context_verifies_the_certificate(
        self, sync_server: Any, certificate: tuple[Path, Path]
    ) -> None:
        with sync_server(scheme="wss", ssl=server_context(certificate)) as (_, url):
            # The default context trusts the system's CAs only.
            with pytest.raises(ssl.SSLCertVerificationError):
                connect(url)
            with pytest.raises(ssl.SSLCertVerificationError):
                connect(url, ssl=client_context(certificate), server_hostname="other.example")

    def test_ssl_options_and_schemes(self, certificate: tuple[Path, Path]) -> None:
        with pytest.raises(ValueError):
            connect("ws://localhost/", ssl=client_context(certificate))
        with pytest.raises(ValueError):
            connect("wss://localhost/", ssl=False)

    def test_reading_and_writing_at_once(self, sync_server: Any, certificate: tuple[Path, Path]) -> None:
        """TLS: one thread receives while another sends (OpenSSL calls never overlap)."""
        count = 200

        def chatter(ws: ServerConnection) -> None:
            sender = threading.Thread(target=lambda: [ws.send(b"s" * 5000) for _ in range(count)])
            sender.start()
            for _ in range(count):
                ws.recv()
            sender.join(30)

        with sync_server(chatter, scheme="wss", ssl=server_context(certificate)) as (_, url):
            with connect(url, ssl=client_context(certificate)) as ws:
                received: list[Any] = []
                reader = threading.Thread(target=lambda: received.extend(ws.recv(10) for _ in range(count)))
                reader.start()
                for _ in range(count):
                    ws.send(b"c" * 5000)
                reader.join(30)
                assert received == [b"s" * 5000] * count


@pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets")
class TestUnix:
    def test_unix_socket(self, running: Any, echo: Any, tmp_path: Path) -> None:
        path = str(tmp_path / "ws.sock")
        with running(unix_serve(echo, path)) as server:
            assert server.socket.family == socket.AF_UNIX
            with unix_connect(path) as ws:
                ws.send("over a Unix socket")
                assert ws.recv(5) == "over a Unix socket"
            # A stale socket file is replaced.
        with running(unix_serve(echo, path)), unix_connect(path, "ws://localhost/chat") as ws:
            assert ws.request is not None and ws.request.path == "/chat"
