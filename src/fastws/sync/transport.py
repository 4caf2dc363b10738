"""The socket under a threaded connection: reads and writes, plain or TLS, with deadlines.

A :class:`Transport` is shared by the threads of one connection: at most one
of them reads at a time and at most one writes at a time (the connection's
read and write roles, :mod:`fastws.sync.stream`), but a read and a write may
run at once, in two threads.

* Plain sockets (TCP, Unix) stay in blocking mode: a read without a
  deadline is one ``recv`` system call, a write one ``sendall``; a
  deadline adds a ``poll`` before the call. Reads allocate their ``bytes``
  (as large as what arrived): a connection keeps no read buffer, which
  matters with a thread per connection and thousands of connections.
* TLS sockets run in non-blocking mode, each OpenSSL call under a lock:
  OpenSSL does not allow ``SSL_read`` and ``SSL_write`` on the same
  connection at once from two threads (a blocking read would hold that lock
  for as long as it waits), so both wait for readiness with ``poll``,
  outside the lock, and call OpenSSL only when it can answer at once.

Closing: :meth:`Transport.send_eof` half-closes (after a TLS close_notify),
so the peer's last bytes can still be read; :meth:`Transport.abort` shuts
both directions down, which wakes a thread blocked in a read or a write on
the socket; :meth:`Transport.close` releases the file descriptor, once no
thread uses it.
"""

from __future__ import annotations

import math
import select
import socket
import ssl
import threading
import time
from typing import Any

__all__ = ["Transport", "wait_for"]

_READ = 1
_WRITE = 2

#: While a TLS write waits for the peer's data (a renegotiation in TLS 1.2),
#: it looks again at least this often: the read role may be the one to
#: consume that data, and nothing tells the writer when it has.
_TLS_READ_RETRY = 0.01

if hasattr(select, "poll"):
    _POLLIN = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR
    _POLLOUT = select.POLLOUT | select.POLLHUP | select.POLLERR

    def wait_for(sock: socket.socket, writing: bool, timeout: float | None) -> bool:
        """Wait until ``sock`` is readable (or writable); False if ``timeout`` passed first.

        Args:
            sock: the socket.
            writing: wait for room to write rather than for data to read.
            timeout: seconds, None to wait as long as it takes.
        """
        poller = select.poll()
        poller.register(sock, _POLLOUT if writing else _POLLIN)
        # Milliseconds, rounded up: a wait that rounds to 0 would spin.
        return bool(poller.poll(None if timeout is None else max(0, math.ceil(timeout * 1000))))

else:  # pragma: no cover - Windows

    def wait_for(sock: socket.socket, writing: bool, timeout: float | None) -> bool:
        """Wait until ``sock`` is readable (or writable); False if ``timeout`` passed first.

        Args:
            sock: the socket.
            writing: wait for room to write rather than for data to read.
            timeout: seconds, None to wait as long as it takes.
        """
        if timeout is not None:
            timeout = max(0.0, timeout)
        if writing:
            _, ready, errors = select.select([], [sock], [sock], timeout)
        else:
            ready, _, errors = select.select([sock], [], [sock], timeout)
        return bool(ready or errors)


#: A send that returns at once with what fits, where the system has it.
_DONTWAIT: int | None = getattr(socket, "MSG_DONTWAIT", None)


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


class Transport:
    """A connected socket (TCP, Unix or TLS) shared by the threads of one connection.

    Args:
        sock: the connected socket; a :class:`ssl.SSLSocket` whose handshake
            is complete for TLS. The transport owns it from now on.

    Attributes:
        sock: the socket.
        write: ``write(data)`` writes all of ``data``, waiting for room as
            long as it takes (:meth:`sendall` without a deadline).
        read: ``read(size)`` returns what has arrived (at most ``size``
            bytes), waiting as long as it takes (:meth:`recv` without a
            timeout).
        tls: whether it is a TLS socket.
        local_address: the socket's own address, read once (still
            available after it is closed).
        remote_address: the peer's address, read once (the same).
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.tls = isinstance(sock, ssl.SSLSocket)
        self._tls_lock = threading.Lock()
        self._closed = False
        try:
            self.local_address: Any = sock.getsockname()
            self.remote_address: Any = sock.getpeername()
        except OSError:
            self.local_address = self.remote_address = None
        self.write = self._tls_write if self.tls else sock.sendall
        self.read = self._tls_read if self.tls else sock.recv
        if self.tls:
            sock.setblocking(False)
        else:
            sock.settimeout(None)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                # WebSocket frames are small and answered at once: waiting to
                # fill a segment (Nagle) would add a round trip of delay.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- reading -----------------------------------------------------------------

    def recv(self, size: int, timeout: float | None = None) -> bytes | None:
        """Read what has arrived, at most ``size`` bytes, waiting for it if need be.

        Args:
            size: the most bytes to return.
            timeout: seconds to wait at most; None to wait as long as it
                takes.

        Returns:
            The bytes; ``b""`` at the end of the stream; None if nothing
            arrived within ``timeout``.

        Raises:
            OSError: the connection failed (reset, TLS error, ...).
        """
        sock = self.sock
        if not self.tls:
            if timeout is not None and not wait_for(sock, False, timeout):
                return None
            return sock.recv(size)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._tls_lock:
                try:
                    return sock.recv(size)
                except (ssl.SSLWantReadError, BlockingIOError):
                    writing = False
                except ssl.SSLWantWriteError:
                    writing = True
            if not wait_for(sock, writing, _remaining(deadline)):
                return None

    def _tls_read(self, size: int) -> bytes:
        data = self.recv(size, None)
        assert data is not None
        return data

    # -- writing -----------------------------------------------------------------

    def sendall(self, data: bytes | memoryview, deadline: float | None = None) -> int:
        """Write ``data``, waiting for room as long as it takes, or until ``deadline``.

        ``write()`` is the same without a deadline, and cheaper.

        Args:
            data: the bytes.
            deadline: a :func:`time.monotonic` time; None to wait as long
                as it takes. On a TLS socket it applies until the first
                byte is written (OpenSSL wants a write it could not finish
                retried with the same data); on a plain socket where the
                system has no ``MSG_DONTWAIT`` (Windows), until the socket
                is writable, so ``data`` should then be small.

        Returns:
            How many bytes were written: all of them, unless the deadline
            passed.

        Raises:
            OSError: the connection failed.
        """
        if deadline is None:
            self.write(data)
            return len(data)
        if self.tls:
            return self._tls_sendall(data, deadline)
        sock = self.sock
        if _DONTWAIT is None:  # pragma: no cover - Windows
            if not wait_for(sock, True, _remaining(deadline)):
                return 0
            sock.sendall(data)
            return len(data)
        view = memoryview(data).cast("B")
        written = 0
        while written < len(view):
            try:
                written += sock.send(view[written:], _DONTWAIT)
            except BlockingIOError:
                if not wait_for(sock, True, _remaining(deadline)):
                    break
        return written

    def _tls_write(self, data: bytes | memoryview) -> None:
        self._tls_sendall(data, None)

    def writev(self, chunks: list[bytes]) -> None:
        """Write several chunks, in order, waiting for room as long as it takes.

        One system call for all of them on a plain socket (a large message
        is a header and its payload, not joined).
        """
        if self.tls or not hasattr(self.sock, "sendmsg"):
            if sum(map(len, chunks)) <= 65536:
                self.write(b"".join(chunks))
            else:
                for chunk in chunks:
                    self.write(chunk)
            return
        sendmsg = self.sock.sendmsg
        pending: list[Any] = list(chunks)
        while pending:
            sent = sendmsg(pending)
            # A blocking socket takes everything unless a signal cuts it short.
            while pending and sent >= len(pending[0]):
                sent -= len(pending.pop(0))
            if sent:
                pending[0] = memoryview(pending[0])[sent:]

    def _tls_sendall(self, data: bytes | memoryview, deadline: float | None) -> int:
        sock = self.sock
        view = memoryview(data).cast("B")
        written = 0
        while written < len(view):
            with self._tls_lock:
                try:
                    sent = sock.send(view[written:])
                except (ssl.SSLWantWriteError, BlockingIOError):
                    sent, writing = 0, True
                except ssl.SSLWantReadError:
                    sent, writing = 0, False
            if sent:
                written += sent
                deadline = None  # a part is written: the rest must follow
                continue
            timeout = _remaining(deadline)
            if timeout is not None and timeout <= 0:
                break
            if not writing:
                timeout = _TLS_READ_RETRY if timeout is None else min(timeout, _TLS_READ_RETRY)
            wait_for(sock, writing, timeout)
        return written

    # -- closing -----------------------------------------------------------------

    def send_eof(self) -> None:
        """Close our half of the connection (after a TLS close_notify); reading goes on."""
        sock = self.sock
        if self.tls:
            with self._tls_lock:
                try:
                    # SSL_shutdown: sends close_notify. In non-blocking mode it
                    # returns before the peer's own close_notify; reading goes on.
                    sock.unwrap()  # type: ignore[attr-defined]
                except (ssl.SSLError, OSError, ValueError):
                    pass
        try:
            # socket.socket's shutdown, not SSLSocket's: that one drops the
            # TLS state, and the peer's last records could not be read.
            socket.socket.shutdown(sock, socket.SHUT_WR)
        except OSError:
            pass

    def abort(self) -> None:
        """Shut both directions down at once; a thread blocked on the socket wakes up."""
        try:
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        """Release the socket; call it once no thread reads or writes. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.sock.close()
        except OSError:  # pragma: no cover - already closed
            pass
