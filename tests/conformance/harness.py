"""Loopback glue that runs the fastws peers under test: an echo server and an
echo client, on one of three targets.

* ``asyncio`` (the default): the real thing, ``fastws.serve`` and
  ``fastws.connect`` running the echo handler an application would write
  (``async for message in ws: await ws.send(message)``) on an event loop in
  a background thread, configured as the case needs (``max_size`` directly,
  every other protocol setting, ``fragment_size`` and ``extensions``
  included, through ``protocol_options``; compression only
  when the case asks for it, keepalive pings off).
* ``sansio``: a blocking socket loop around the sans-IO protocol objects
  that does what an I/O layer does and nothing more: read, feed
  ``receive_data`` / ``receive_eof``, echo every text and binary message
  while the connection is open, write ``data_to_send`` and, on ``b""``,
  half-close TCP, drain what the peer still sends (so that closing cannot
  turn into a reset that destroys unread data), then close. It judges the
  protocol layer alone, as embedders of the sans-IO objects use it.
* ``sync``: the threading layer, ``fastws.sync.serve`` and
  ``fastws.sync.connect``, with the echo handler its users write
  (``for message in ws: ws.send(message)``), configured as the asyncio
  target is.

:data:`DEFAULT_TARGET` comes from ``FASTWS_CONFORMANCE_TARGET`` (``asyncio``
when unset). This is the only module that knows how fastws is driven.

Every blocking call has a timeout; every loop ends by a deadline.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CONNECTION_TIMEOUT",
    "DEFAULT_TARGET",
    "TARGETS",
    "AsyncioEchoServer",
    "EchoServer",
    "PeerRecord",
    "SansIOEchoServer",
    "SyncEchoServer",
    "start_echo_client",
]

#: The peers the suite can drive: the asyncio layer, the sans-IO objects, or
#: the threading layer.
TARGETS = ("asyncio", "sansio", "sync")
DEFAULT_TARGET = os.environ.get("FASTWS_CONFORMANCE_TARGET", "asyncio")
if DEFAULT_TARGET not in TARGETS:
    raise ValueError(f"FASTWS_CONFORMANCE_TARGET must be one of {TARGETS}, not {DEFAULT_TARGET!r}")

#: Bound on one connection's whole life (16 MiB echoes fit easily).
CONNECTION_TIMEOUT = 60.0
#: Bound on draining after our EOF, waiting for the peer's.
DRAIN_TIMEOUT = 5.0
_RECV_SIZE = 1 << 18


@dataclass
class PeerRecord:
    """What happened to one connection of the peer under test."""

    #: set when the connection's thread is over.
    done: threading.Event = field(default_factory=threading.Event)
    #: an unexpected exception in fastws or in the glue (with traceback).
    error: str | None = None
    #: the protocol object, for inspection after the case.
    protocol: Any = None
    messages: int = 0

    def wait(self, timeout: float) -> bool:
        """Wait for the connection to end; False on timeout."""
        return self.done.wait(timeout)


def _run_connection(sock: socket.socket, proto: Any, record: PeerRecord, handshake: Any) -> None:
    """The I/O loop of one connection (server or client side)."""
    from fastws.events import BinaryMessage, TextMessage
    from fastws.protocol import State

    record.protocol = proto
    deadline = time.monotonic() + CONNECTION_TIMEOUT
    eof_sent = eof_received = False
    drain_until: float | None = None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            for event in proto.events_received():
                if handshake is not None and handshake(proto, event):
                    continue
                # The application: echo, while the connection is open (an
                # I/O layer would raise ConnectionClosed to the sender).
                if isinstance(event, TextMessage):
                    record.messages += 1
                    if proto.state is State.OPEN:
                        proto.send_text(event.data)
                elif isinstance(event, BinaryMessage):
                    record.messages += 1
                    if proto.state is State.OPEN:
                        proto.send_binary(event.data)
            for chunk in proto.data_to_send():
                if chunk:
                    if not eof_sent:
                        try:
                            sock.sendall(chunk)
                        except (BrokenPipeError, ConnectionResetError):
                            eof_received = True
                elif not eof_sent:
                    eof_sent = True
                    drain_until = time.monotonic() + DRAIN_TIMEOUT
                    try:
                        sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
            if eof_received:
                # Nothing more can arrive; what the protocol had to write in
                # answer to the EOF was written just above.
                return
            now = time.monotonic()
            limit = deadline if drain_until is None else min(deadline, drain_until)
            if now >= limit:
                return
            sock.settimeout(limit - now)
            try:
                data = sock.recv(_RECV_SIZE)
            except TimeoutError:
                return
            except ConnectionResetError:
                data = b""
            if not data:
                eof_received = True
                proto.receive_eof()
            elif eof_sent or proto.state is State.CLOSED:
                continue  # draining: the protocol is done reading.
            else:
                proto.receive_data(data)
    except Exception:
        record.error = traceback.format_exc()
    finally:
        sock.close()
        record.done.set()


def _server_handshake(proto: Any, event: Any) -> bool:
    from fastws.http11 import Request

    if isinstance(event, Request):
        proto.send_response(proto.accept(event))
        return True
    return False


def _client_handshake(proto: Any, event: Any) -> bool:
    from fastws.http11 import Response

    return isinstance(event, Response)


class _Records:
    """The records of an echo server's connections, by client port."""

    def __init__(self, config: Mapping[str, object] | None) -> None:
        self.config = dict(config or {})
        self.host = "127.0.0.1"
        self.records: dict[int, PeerRecord] = {}
        self._lock = threading.Lock()

    def _new_record(self, client_port: int) -> PeerRecord:
        record = PeerRecord()
        with self._lock:
            self.records[client_port] = record
        return record

    def _ended(self, record: PeerRecord) -> None:
        """Add what the target saw outside the connection's own code."""

    def record_for(self, client_port: int, timeout: float = 5.0) -> PeerRecord | None:
        """The record of the connection from ``client_port``, once it ended.

        Returns:
            None if no such connection was accepted in time.
        """
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                record = self.records.pop(client_port, None)
            if record is not None:
                record.wait(max(0.0, end - time.monotonic()))
                self._ended(record)
                return record
            time.sleep(0.001)
        return None

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SansIOEchoServer(_Records):
    """A sans-IO fastws echo server on 127.0.0.1, one thread per connection.

    Args:
        config: keyword arguments for ``fastws.server.ServerProtocol``.
    """

    def __init__(self, config: Mapping[str, object] | None = None) -> None:
        super().__init__(config)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"echo-server-{self.port}", daemon=True
        )
        self._thread.start()

    def _accept_loop(self) -> None:
        from fastws.server import ServerProtocol

        while not self._stop.is_set():
            try:
                sock, addr = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            record = self._new_record(addr[1])
            try:
                proto = ServerProtocol(**self.config)
            except Exception:
                record.error = traceback.format_exc()
                record.done.set()
                sock.close()
                continue
            threading.Thread(
                target=_run_connection, args=(sock, proto, record, _server_handshake), daemon=True
            ).start()

    def close(self) -> None:
        """Stop accepting (connections in progress end by their deadlines)."""
        self._stop.set()
        self.listener.close()
        self._thread.join(2.0)


def start_sansio_echo_client(host: str, port: int, config: Mapping[str, object] | None = None) -> PeerRecord:
    """Start a sans-IO fastws echo client (in a thread) connecting to ws://host:port/.

    Args:
        host: the fuzzing server's address.
        port: its port.
        config: keyword arguments for ``fastws.client.ClientProtocol``.

    Returns:
        The connection's record; ``wait()`` on it after the case.
    """
    record = PeerRecord()

    def main() -> None:
        from fastws.client import ClientProtocol

        try:
            proto = ClientProtocol(f"ws://{host}:{port}/", **dict(config or {}))
            proto.send_request(proto.connect())
            sock = socket.create_connection((host, port), timeout=5.0)
        except Exception:
            record.error = traceback.format_exc()
            record.done.set()
            return
        _run_connection(sock, proto, record, _client_handshake)

    threading.Thread(target=main, name=f"echo-client-{port}", daemon=True).start()
    return record


# -- the asyncio target ----------------------------------------------------------

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()
#: Exceptions the event loop caught outside any handler (in fastws' callbacks).
_loop_errors: list[str] = []


def _loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    text = context.get("message", "")
    if exc is not None:
        text += "\n" + "".join(traceback.format_exception(exc))
    _loop_errors.append(text)


def _event_loop() -> asyncio.AbstractEventLoop:
    """The event loop of the asyncio target, running in a daemon thread."""
    global _loop
    with _loop_lock:
        if _loop is None:
            if os.environ.get("FASTWS_TEST_LOOP", "") == "uvloop":
                import uvloop

                loop = uvloop.new_event_loop()
            else:
                loop = asyncio.new_event_loop()
            loop.set_exception_handler(_loop_error)
            threading.Thread(target=loop.run_forever, name="conformance-loop", daemon=True).start()
            _loop = loop
        return _loop


def _run(coro: Any, timeout: float = 10.0) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, _event_loop()).result(timeout)


def _layer_options(config: Mapping[str, object] | None) -> dict[str, Any]:
    """``serve`` / ``connect`` keyword arguments for a case's protocol settings (asyncio and sync)."""
    protocol_options = dict(config or {})
    options: dict[str, Any] = {
        "ping_interval": None,  # no keepalive pings in the middle of a case
        "compression": None,  # extensions only when the case configures them
        "protocol_options": protocol_options,
    }
    if "max_size" in protocol_options:
        options["max_size"] = protocol_options.pop("max_size")
    return options


async def _echo(ws: Any, record: PeerRecord) -> None:
    """The application: echo every message, as users write it."""
    from fastws import ConnectionClosed

    record.protocol = ws.protocol
    try:
        async for message in ws:
            record.messages += 1
            await ws.send(message)
    except ConnectionClosed:
        pass  # a failed connection: the suite judges how, from the wire
    except Exception:
        record.error = traceback.format_exc()


def _take_errors(record: PeerRecord, errors: list[str]) -> None:
    """Add the errors a target collected outside the connection's code to ``record``."""
    if errors:
        text = "\n".join(errors)
        errors.clear()
        record.error = (record.error + "\n" if record.error else "") + text


class AsyncioEchoServer(_Records):
    """A ``fastws.serve`` echo server on 127.0.0.1.

    Args:
        config: keyword arguments for ``fastws.server.ServerProtocol``.
    """

    def __init__(self, config: Mapping[str, object] | None = None) -> None:
        import fastws

        super().__init__(config)

        async def handler(ws: Any) -> None:
            record = self._new_record(ws.remote_address[1])
            try:
                await _echo(ws, record)
            finally:
                # Done when TCP is closed, as for the sans-IO target (the
                # server closes the connection once the handler returns).
                asyncio.ensure_future(ws.wait_closed()).add_done_callback(lambda _: record.done.set())

        async def start() -> Any:
            return await fastws.serve(handler, self.host, 0, **_layer_options(self.config))

        self.server = _run(start())
        self.port: int = self.server.sockets[0].getsockname()[1]

    def _ended(self, record: PeerRecord) -> None:
        _take_errors(record, _loop_errors)

    def close(self) -> None:
        """Close the server and its connections."""

        async def stop() -> None:
            self.server.close()
            await self.server.wait_closed()

        try:
            _run(stop())
        except TimeoutError:  # pragma: no cover - reported by the cases
            pass


def start_asyncio_echo_client(host: str, port: int, config: Mapping[str, object] | None = None) -> PeerRecord:
    """Start a ``fastws.connect`` echo client connecting to ws://host:port/.

    Args:
        host: the fuzzing server's address.
        port: its port.
        config: keyword arguments for ``fastws.client.ClientProtocol``.

    Returns:
        The connection's record; ``wait()`` on it after the case.
    """
    import fastws

    record = PeerRecord()
    options = _layer_options(config)

    async def main() -> None:
        try:
            async with fastws.connect(f"ws://{host}:{port}/", open_timeout=5.0, **options) as ws:
                await _echo(ws, record)
        except fastws.ConnectionClosed:
            pass
        except Exception:
            # Handshake failures included: the suite's cases all expect one.
            record.error = traceback.format_exc()
        finally:
            _take_errors(record, _loop_errors)
            record.done.set()

    asyncio.run_coroutine_threadsafe(main(), _event_loop())
    return record


# -- the sync target -------------------------------------------------------------

#: Errors the threading layer logged (its background threads, its server).
_sync_errors: list[str] = []


class _SyncErrors(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        _sync_errors.append(self.format(record))


def _watch_sync_errors() -> None:
    """Collect the threading layer's error logs (once)."""
    logger = logging.getLogger("fastws")
    if not any(isinstance(handler, _SyncErrors) for handler in logger.handlers):
        handler = _SyncErrors(logging.ERROR)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger.addHandler(handler)


def _sync_echo(ws: Any, record: PeerRecord) -> None:
    """The application: echo every message, as users of the threading layer write it."""
    from fastws import ConnectionClosed

    record.protocol = ws.protocol
    try:
        for message in ws:
            record.messages += 1
            ws.send(message)
    except ConnectionClosed:
        pass  # a failed connection: the suite judges how, from the wire
    except Exception:
        record.error = traceback.format_exc()


class SyncEchoServer(_Records):
    """A ``fastws.sync.serve`` echo server on 127.0.0.1 (a thread per connection).

    Args:
        config: keyword arguments for ``fastws.server.ServerProtocol``.
    """

    def __init__(self, config: Mapping[str, object] | None = None) -> None:
        from fastws.sync import serve

        super().__init__(config)
        _watch_sync_errors()

        def handler(ws: Any) -> None:
            record = self._new_record(ws.remote_address[1])
            try:
                _sync_echo(ws, record)
                # Done when TCP is closed, as for the other targets (the
                # server would close the connection once the handler returns).
                ws.close()
            finally:
                record.done.set()

        self.server = serve(handler, self.host, 0, open_timeout=5.0, **_layer_options(self.config))
        self.port: int = self.server.socket.getsockname()[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, name=f"sync-echo-{self.port}", daemon=True
        )
        self._thread.start()

    def _ended(self, record: PeerRecord) -> None:
        _take_errors(record, _sync_errors)

    def close(self) -> None:
        """Shut the server down (connections in progress are closed with 1001)."""
        self.server.shutdown()
        self._thread.join(5.0)


def start_sync_echo_client(host: str, port: int, config: Mapping[str, object] | None = None) -> PeerRecord:
    """Start a ``fastws.sync.connect`` echo client (in a thread) connecting to ws://host:port/.

    Takes and returns what :func:`start_sansio_echo_client` does.
    """
    from fastws import ConnectionClosed
    from fastws.sync import connect

    _watch_sync_errors()
    record = PeerRecord()
    options = _layer_options(config)

    def main() -> None:
        try:
            with connect(f"ws://{host}:{port}/", open_timeout=5.0, **options) as ws:
                _sync_echo(ws, record)
        except ConnectionClosed:
            pass
        except Exception:
            # Handshake failures included: the suite's cases all expect one.
            record.error = traceback.format_exc()
        finally:
            _take_errors(record, _sync_errors)
            record.done.set()

    threading.Thread(target=main, name=f"sync-echo-client-{port}", daemon=True).start()
    return record


# -- the target chooser ------------------------------------------------------------


def EchoServer(config: Mapping[str, object] | None = None, target: str | None = None) -> Any:
    """A fastws echo server on 127.0.0.1 for ``target`` (default: :data:`DEFAULT_TARGET`).

    Returns:
        An object with ``host``, ``port``, ``record_for(client_port)`` and ``close()``.
    """
    target = target or DEFAULT_TARGET
    if target == "asyncio":
        return AsyncioEchoServer(config)
    if target == "sansio":
        return SansIOEchoServer(config)
    if target == "sync":
        return SyncEchoServer(config)
    raise ValueError(f"unknown target {target!r}")


def start_echo_client(
    host: str, port: int, config: Mapping[str, object] | None = None, target: str | None = None
) -> PeerRecord:
    """Start a fastws echo client for ``target`` (default: :data:`DEFAULT_TARGET`).

    Returns:
        The connection's record; ``wait()`` on it after the case.
    """
    target = target or DEFAULT_TARGET
    if target == "asyncio":
        return start_asyncio_echo_client(host, port, config)
    if target == "sansio":
        return start_sansio_echo_client(host, port, config)
    if target == "sync":
        return start_sync_echo_client(host, port, config)
    raise ValueError(f"unknown target {target!r}")
