"""fastws.sync.serve: handlers, the handshake's hooks and checks, timeouts, shutdown."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import pytest

from fastws import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from fastws.http11 import Request, Response
from fastws.sync import Server, ServerConnection, connect, serve


def http_status(port: int, request: bytes, timeout: float = 5) -> tuple[int, bytes]:
    """Send raw bytes; return the status code of the answer and what followed, until EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]), data


class TestOptions:
    def test_bad_write_limit_fails_before_the_socket_is_made(self) -> None:
        # The port is taken: binding first would raise OSError instead.
        with socket.create_server(("127.0.0.1", 0)) as taken:
            port = taken.getsockname()[1]
            with pytest.raises(ValueError, match="write_limit"):
                serve(lambda ws: None, "127.0.0.1", port, write_limit=-1)
            with pytest.raises(TypeError, match="write_limit"):
                serve(lambda ws: None, "127.0.0.1", port, write_limit="64k")  # type: ignore[arg-type]
            with pytest.raises(OSError):
                serve(lambda ws: None, "127.0.0.1", port)


class TestHandlers:
    def test_handler_return_closes_with_1000(self, sync_server: Any) -> None:
        def quick(ws: ServerConnection) -> None:
            ws.send("hi")

        with sync_server(quick) as (_, url), connect(url) as ws:
            assert ws.recv(5) == "hi"
            with pytest.raises(ConnectionClosedOK) as info:
                ws.recv(5)
            assert info.value.code == 1000

    def test_handler_exception_closes_with_1011(self, sync_server: Any, caplog: Any) -> None:
        def broken(ws: ServerConnection) -> None:
            raise ZeroDivisionError("oops")

        with caplog.at_level(logging.ERROR, logger="fastws.server"):
            with sync_server(broken) as (_, url), connect(url) as ws:
                with pytest.raises(ConnectionClosedError) as info:
                    ws.recv(5)
                assert (info.value.code, info.value.reason) == (1011, "internal error")
        assert any("handler failed" in record.message for record in caplog.records)

    def test_handler_ending_on_a_closed_connection(self, sync_server: Any) -> None:
        outcome: list[BaseException] = []

        def reader(ws: ServerConnection) -> None:
            try:
                ws.recv()
            except ConnectionClosed as exc:
                outcome.append(exc)
                raise

        with sync_server(reader) as (_, url):
            connect(url).close(4000, "client leaves")
            deadline = time.monotonic() + 5
            while not outcome and time.monotonic() < deadline:
                time.sleep(0.01)
        assert outcome[0].code == 4000

    def test_many_connections_at_once(self, sync_server: Any) -> None:
        with sync_server() as (server, url):
            clients = [connect(url) for _ in range(20)]
            assert len(server.connections) == 20
            for index, ws in enumerate(clients):
                ws.send(f"#{index}")
            assert [ws.recv(5) for ws in clients] == [f"#{i}" for i in range(20)]
            for ws in clients:
                ws.close()


class TestHandshake:
    def test_process_request_refuses(self, sync_server: Any) -> None:
        def process_request(connection: ServerConnection, request: Request) -> Response | None:
            if request.path != "/ok":
                return connection.respond(404, "not here\n")
            return None

        with sync_server(process_request=process_request) as (_, url):
            with pytest.raises(InvalidStatus) as info:
                connect(url + "nope")
            assert info.value.status == 404
            with connect(url + "ok") as ws:
                ws.send("in")
                assert ws.recv(5) == "in"

    def test_process_response_and_failures(self, sync_server: Any, caplog: Any) -> None:
        def process_response(connection: ServerConnection, request: Request, response: Response) -> None:
            if request.path == "/fail":
                raise RuntimeError("hook failed")
            response.headers["X-Hook"] = "yes"

        with sync_server(process_response=process_response) as (_, url):
            with connect(url) as ws:
                assert ws.response is not None and ws.response.headers["X-Hook"] == "yes"
            with caplog.at_level(logging.ERROR, logger="fastws.server"):
                with pytest.raises(InvalidStatus) as info:
                    connect(url + "fail")
            assert info.value.status == 500

    def test_origins_and_subprotocols(self, sync_server: Any) -> None:
        options = {"origins": ["https://good.example"], "subprotocols": ["v2", "v1"]}
        with sync_server(**options) as (_, url):
            with pytest.raises(InvalidStatus) as info:
                connect(url, origin="https://evil.example")
            assert info.value.status == 403
            with connect(url, origin="https://good.example", subprotocols=["v1", "v2"]) as ws:
                assert ws.subprotocol == "v2"  # the server's preference

    @pytest.mark.parametrize(
        ("allowed", "address"), [(None, "127.0.0.1"), ("127.0.0.1", "203.0.113.7"), ("10.0.0.1", "127.0.0.1")]
    )
    def test_client_address_behind_a_proxy(self, sync_server: Any, allowed: str | None, address: str) -> None:
        seen: list[Any] = []

        def who(ws: ServerConnection) -> None:
            seen.append(ws.client_address)

        with sync_server(who, forwarded_allow_ips=allowed) as (_, url):
            connect(url, additional_headers={"X-Forwarded-For": "203.0.113.7"}).close()
            deadline = time.monotonic() + 5
            while not seen and time.monotonic() < deadline:
                time.sleep(0.01)
        assert seen[0][0] == address

    def test_malformed_request(self, sync_server: Any) -> None:
        with sync_server() as (server, _):
            port = server.socket.getsockname()[1]
            status, _ = http_status(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status == 426  # not an upgrade
            status, _ = http_status(port, b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status == 405
            status, _ = http_status(port, b"GET /" + b"x" * 9000 + b" HTTP/1.1\r\n")
            assert status == 414

    def test_slow_handshake_is_dropped(self, sync_server: Any) -> None:
        with sync_server(open_timeout=0.3) as (server, _):
            with socket.create_connection(server.socket.getsockname()) as sock:
                sock.settimeout(5)
                sock.sendall(b"GET / HTTP/1.1\r\n")  # ... and nothing more
                started = time.monotonic()
                assert sock.recv(65536) == b""
                assert time.monotonic() - started < 3


class TestLifecycle:
    def test_shutdown_closes_connections_with_1001(self, running: Any, echo: Any) -> None:
        server = serve(echo, "127.0.0.1", 0, ping_interval=None)
        with running(server):
            url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"
            clients = [connect(url) for _ in range(3)]
            started = time.monotonic()
            server.shutdown()
            assert time.monotonic() - started < 5
            for ws in clients:
                with pytest.raises(ConnectionClosedOK) as info:
                    ws.recv(5)
                assert (info.value.code, info.value.reason) == (1001, "server shutting down")
            assert not server.connections
            with pytest.raises(OSError):
                connect(url, open_timeout=2)
            server.shutdown()  # idempotent

    def test_shutdown_waits_for_handlers_at_most_close_timeout(self, running: Any) -> None:
        release = threading.Event()

        def stubborn(ws: ServerConnection) -> None:
            release.wait(10)  # ignores the closing connection

        server = serve(stubborn, "127.0.0.1", 0, close_timeout=0.3, ping_interval=None)
        try:
            with running(server):
                ws = connect(f"ws://127.0.0.1:{server.socket.getsockname()[1]}/")
                started = time.monotonic()
                server.shutdown()
                assert time.monotonic() - started < 3
                with pytest.raises(ConnectionClosedOK):
                    ws.recv(5)
        finally:
            release.set()

    def test_shutdown_from_a_handler(self, running: Any) -> None:
        server: list[Server] = []

        def stopper(ws: ServerConnection) -> None:
            ws.recv()
            server[0].shutdown()

        server.append(serve(stopper, "127.0.0.1", 0, ping_interval=None))
        with running(server[0]):
            ws = connect(f"ws://127.0.0.1:{server[0].socket.getsockname()[1]}/")
            ws.send("stop")
            with pytest.raises(ConnectionClosedOK) as info:
                ws.recv(5)
            assert info.value.code == 1001

    def test_serve_forever_runs_once(self, echo: Any) -> None:
        server = serve(echo, "127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            deadline = time.monotonic() + 5
            while not server._serving and time.monotonic() < deadline:
                time.sleep(0.01)
            with pytest.raises(RuntimeError):
                server.serve_forever()
        finally:
            server.shutdown()
            thread.join(5)
        with pytest.raises(RuntimeError):
            server.serve_forever()

    def test_context_manager_and_fileno(self, echo: Any) -> None:
        with serve(echo, "127.0.0.1", 0) as server:
            assert server.fileno() == server.socket.fileno()
            thread = threading.Thread(target=server.serve_forever)
            thread.start()
        thread.join(5)
        assert not thread.is_alive()

    def test_listening_socket(self, running: Any, echo: Any) -> None:
        sock = socket.create_server(("127.0.0.1", 0))
        with running(serve(echo, sock=sock, ping_interval=None)) as server:
            assert server.socket is sock
            with connect(f"ws://127.0.0.1:{sock.getsockname()[1]}/") as ws:
                ws.send("given socket")
                assert ws.recv(5) == "given socket"

    def test_handler_thread_per_connection(self, sync_server: Any) -> None:
        names: list[str] = []

        def who(ws: ServerConnection) -> None:
            names.append(threading.current_thread().name)
            ws.recv()

        with sync_server(who) as (_, url):
            first, second = connect(url), connect(url)
            first.send("x")
            second.send("y")
            first.close()
            second.close()
        assert len(set(names)) == 2 and all(name.startswith("fastws-handler-") for name in names)
