"""Fixtures shared by the threading layer's tests.

Most are fixtures that return functions (as in ``tests/asyncio``), so that a
test asks for what it uses and the helpers exist in one place:

* ``sync_server(handler=echo, **serve_options)``: a context manager that
  runs a :func:`fastws.sync.serve` server (``serve_forever`` in a thread)
  and yields it and its URL; ``running(server)`` does it for a server made
  elsewhere; ``echo`` is the echo handler;
* ``loop``: an asyncio event loop running in a thread, for the peers written
  for asyncio (fastws', websockets' and aiohttp's servers and clients);
  ``peer_server(kind, behaviour="echo")`` starts one of those servers there;
* ``raw_client(port)`` opens a WebSocket connection by hand, and
  ``raw_server`` listens and answers one client's opening handshake by
  hand: peers that misbehave on purpose (:class:`RawPeer`, with the
  conformance suite's frame writer and reader, not fastws');
* ``certificate``: a self-signed certificate made at test time;
* two autouse guards: a test that blocks for two minutes dumps every
  thread's stack and ends the run, and a test must leave no fastws thread
  behind.

Every blocking call in these tests has a timeout.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import faulthandler
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from certificates import make_certificate
from conformance.wire import FrameReader, WireFrame, build_frame, build_request, build_response
from fastws.sync import Server, ServerConnection, serve

__all__ = [
    "LoopThread",
    "RawPeer",
    "certificate",
    "echo",
    "loop",
    "no_leftover_threads",
    "peer_server",
    "raw_client",
    "raw_server",
    "running",
    "sync_server",
    "watchdog",
]

T = TypeVar("T")

#: A test that blocks longer than this is a bug: dump the stacks, stop.
WATCHDOG = 120.0


@pytest.fixture(autouse=True)
def watchdog() -> Iterator[None]:
    """Dump every thread's stack and exit if the test blocks for too long."""
    faulthandler.dump_traceback_later(WATCHDOG, exit=True, file=sys.stderr)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Every connection's threads end with the test (within a few seconds)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 10
    while True:
        left = [
            t
            for t in threading.enumerate()
            if t not in before and t.name.startswith("fastws-") and t.is_alive()
        ]
        if not left or time.monotonic() > deadline:
            break
        left[0].join(0.1)
    assert not left, f"threads left running: {[t.name for t in left]}"


def _echo(ws: ServerConnection) -> None:
    for message in ws:
        ws.send(message)


@pytest.fixture
def echo() -> Callable[[ServerConnection], None]:
    """The handler of an echo server (``for message in ws: ws.send(message)``)."""
    return _echo


@contextlib.contextmanager
def _running(server: Server) -> Iterator[Server]:
    """Run ``server.serve_forever()`` in a thread; shut the server down at the end."""
    thread = threading.Thread(target=server.serve_forever, name="serve-forever", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(10)
        assert not thread.is_alive(), "serve_forever() did not return after shutdown()"


@pytest.fixture
def running() -> Callable[[Server], contextlib.AbstractContextManager[Server]]:
    """``with running(server):`` runs ``serve_forever()`` in a thread, then shuts the server down."""
    return _running


@contextlib.contextmanager
def _sync_server(
    handler: Callable[[ServerConnection], Any] = _echo, scheme: str = "ws", **kwargs: Any
) -> Iterator[tuple[Server, str]]:
    kwargs.setdefault("ping_interval", None)
    with _running(serve(handler, "127.0.0.1", 0, **kwargs)) as server:
        yield (
            server,
            f"{scheme}://{'localhost' if scheme == 'wss' else '127.0.0.1'}:{server.socket.getsockname()[1]}/",
        )


@pytest.fixture
def sync_server() -> Callable[..., contextlib.AbstractContextManager[tuple[Server, str]]]:
    """``with sync_server(handler=echo, scheme="ws", **serve_options) as (server, url):``.

    A running :func:`fastws.sync.serve` server on 127.0.0.1 (keepalive off
    unless ``ping_interval`` is given); ``scheme="wss"`` gives a URL with
    ``localhost``, for certificate checks.
    """
    return _sync_server


class LoopThread:
    """An asyncio event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the loop; return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(cancel_all(), 10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    """An asyncio event loop in a thread, for the asyncio peers."""
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, valid for a day."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


async def _start_peer(kind: str, behaviour: str, ssl: Any, max_size: int) -> tuple[int, Any]:
    """Start an asyncio server of ``kind``; return its port and a stopper coroutine function."""

    async def handler(ws: Any) -> None:
        # fastws' and websockets' asyncio connections share this much API.
        if behaviour == "close":
            await ws.close(4000, f"bye {await ws.recv()}")
            return
        async for message in ws:
            await ws.send(message)

    if kind in ("fastws", "websockets"):
        if kind == "fastws":
            from fastws.asyncio import serve as asyncio_serve
        else:
            from websockets.asyncio.server import serve as asyncio_serve  # type: ignore[assignment]
        server = await asyncio_serve(handler, "127.0.0.1", 0, ssl=ssl, max_size=max_size, ping_interval=None)

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        return next(iter(server.sockets)).getsockname()[1], stop
    if kind == "aiohttp":
        from aiohttp import WSMsgType, web

        async def route(request: Any) -> Any:
            ws = web.WebSocketResponse(max_msg_size=max_size + 1, autoping=True)  # its limit excludes itself
            await ws.prepare(request)
            async for message in ws:
                if behaviour == "close":
                    await ws.close(code=4000, message=f"bye {message.data}".encode())
                    break
                send = ws.send_str if message.type == WSMsgType.TEXT else ws.send_bytes
                await send(message.data)
            return ws

        app = web.Application()
        app.router.add_get("/", route)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl)
        await site.start()
        port: int = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return port, runner.cleanup
    raise ValueError(kind)


@pytest.fixture
def peer_server(loop: LoopThread) -> Callable[..., contextlib.AbstractContextManager[str]]:
    """``with peer_server(kind, behaviour="echo", ssl=None, max_size=2**20) as url:``.

    An asyncio WebSocket server of ``kind`` (``fastws``, ``websockets``,
    ``aiohttp``) on the ``loop`` thread. ``behaviour``: ``echo`` every
    message, or ``close`` with 4000 and the reason ``bye <message>`` after
    the first message.
    """

    @contextlib.contextmanager
    def start(kind: str, behaviour: str = "echo", ssl: Any = None, max_size: int = 2**20) -> Iterator[str]:
        if kind != "fastws":
            pytest.importorskip(kind)
        port, stop = loop.run(_start_peer(kind, behaviour, ssl, max_size))
        try:
            yield f"{'wss' if ssl else 'ws'}://{'localhost' if ssl else '127.0.0.1'}:{port}/"
        finally:
            loop.run(stop())

    return start


class RawPeer:
    """A socket whose opening handshake was done by hand; frames come from ``conformance.wire``.

    Nothing here uses fastws: a peer that misbehaves on purpose is not
    written with the code it tests.

    Attributes:
        sock: the socket.
    """

    def __init__(self, sock: socket.socket, *, client: bool, rest: bytes = b"") -> None:
        self.sock = sock
        self._client = client
        self._reader = FrameReader()
        self._frames: collections.deque[WireFrame] = collections.deque(self._reader.feed(rest))

    def send(self, opcode: int, payload: bytes = b"", **options: Any) -> None:
        """Send one frame (masked by a client); ``options`` go to ``build_frame``."""
        self.sock.sendall(self.frame(opcode, payload, **options))

    def frame(self, opcode: int, payload: bytes = b"", **options: Any) -> bytes:
        """One frame's bytes (masked by a client), to send later or with others."""
        options.setdefault("mask", self._client)
        return build_frame(opcode, payload, **options)

    def read_frame(self) -> WireFrame:
        """The next frame the peer under test sent.

        Raises:
            EOFError: the connection closed first.
        """
        while not self._frames:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the connection closed")
            self._frames.extend(self._reader.feed(data))
        return self._frames.popleft()

    def close(self) -> None:
        self.sock.close()


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read an HTTP head; return it and the bytes that followed it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed during the opening handshake"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _raw_client(port: int, path: str = "/", timeout: float = 5) -> RawPeer:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(build_request("127.0.0.1", port, path, base64.b64encode(os.urandom(16)).decode()))
    head, rest = _read_head(sock)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return RawPeer(sock, client=True, rest=rest)


@pytest.fixture
def raw_client() -> Callable[..., RawPeer]:
    """``raw_client(port, path="/", timeout=5)``: a client :class:`RawPeer` of a fastws server."""
    return _raw_client


class RawServer:
    """A listening socket that answers one client's opening handshake by hand."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(5)
        self.url = f"ws://127.0.0.1:{self.listener.getsockname()[1]}/"

    def accept(self) -> RawPeer:
        """Accept the client and answer 101; return a server :class:`RawPeer`."""
        sock, _ = self.listener.accept()
        sock.settimeout(5)
        head, rest = _read_head(sock)
        match = re.search(rb"(?im)^sec-websocket-key:\s*(\S+)\r?$", head)
        assert match is not None, head
        sock.sendall(build_response(match.group(1).decode()))
        return RawPeer(sock, client=False, rest=rest)

    def pair(self, connect: Callable[[str], T]) -> tuple[T, RawPeer]:
        """Accept the client that ``connect(self.url)`` opens (the fastws client under test).

        Returns:
            What ``connect`` returned, and the server's :class:`RawPeer`.
        """
        accepted: list[RawPeer] = []
        thread = threading.Thread(target=lambda: accepted.append(self.accept()))
        thread.start()
        try:
            client = connect(self.url)
        finally:
            thread.join(5)
        return client, accepted[0]

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    """A listening socket (``.url``) whose ``accept()`` answers a client's handshake by hand."""
    server = RawServer()
    yield server
    server.close()
