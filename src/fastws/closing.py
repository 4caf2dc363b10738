"""The closing half of a connection: close frames, and failing it (RFC 6455 section 7).

:class:`Closing` is the part of :class:`~fastws.protocol.Protocol` that
starts, answers and completes the closing handshake (``send_close``, the
peer's close frame), fails the connection (``fail``, and the protocol errors
found in the input, whose close frame may wait for :meth:`Closing.commit_failure`),
ends the TCP connection (``b""`` in the output) and reports how it closed
(``close_code``, ``close_reason``, ``close_was_clean``).

The rules, quoted where they are enforced:

* a close frame's code must be one an endpoint may send
  (:func:`~fastws.constants.close_code_valid`), its reason UTF-8, its
  payload not 1 byte long (1002 / 1007);
* the first close frame received is answered with the same code (section
  5.5.1), and nothing after it is processed;
* the server closes TCP first (section 7.1.1); the client waits for it;
* failing = a close frame with the error's code (unless one was sent),
  then closing TCP; nothing received afterwards is processed (7.1.7).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .codec import encode_frame
from .constants import MAX_CONTROL_PAYLOAD, Opcode, Side, State, close_code_valid
from .events import CloseReceived
from .exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidCloseCode,
    InvalidFrame,
    InvalidState,
    InvalidUTF8,
    ProtocolError,
)
from .frames import Close
from .sending import Sender

if TYPE_CHECKING:
    # A module, not the class: the compiled twin's name FrameParser is the
    # C type closing.pxd cimports.
    from . import codec
    from .sending import FrameWriter

__all__ = ["Closing"]

_OPEN = State.OPEN
_CLOSING = State.CLOSING
_CLOSED = State.CLOSED
_SERVER = Side.SERVER
_CLOSE = Opcode.CLOSE

#: Longest close reason that fits a control frame: 125 - 2 bytes of code.
_MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2

#: RFC 6455 section 7.4.1: 1000 (normal closure) and 1001 (going away) end a
#: connection normally; 1005 is what a close frame without a code reports.
_OK_CLOSE_CODES = frozenset((1000, 1001, 1005))


def _truncate_reason(reason: str) -> bytes:
    """Encode a close reason, cut to 123 bytes on a code point boundary."""
    data = reason.encode()
    if len(data) > _MAX_CLOSE_REASON:
        data = data[:_MAX_CLOSE_REASON].decode(errors="ignore").encode()
    return data


class Closing(Sender):
    """Closing and failing: a base of :class:`~fastws.protocol.Protocol`, on :class:`~fastws.sending.Sender`.

    It holds the close frames sent and received, the error, the side, the
    parser and the event list; the state and the output are
    :class:`~fastws.sending.Sender`'s. See :mod:`fastws.closing`.
    """

    # Also declared, with the same names, in closing.pxd (the compiled twin).
    __slots__ = (
        "_discard",
        "_eof_rcvd",
        "_events",
        "_parser",
        "_pending_failure",
        "close_rcvd",
        "close_rcvd_then_sent",
        "close_sent",
        "error",
        "side",
    )

    def __init__(self, side: Side, state: State, writer: FrameWriter, parser: codec.FrameParser) -> None:
        super().__init__(state, writer)
        self.side: Side = side
        self._parser: codec.FrameParser = parser
        self._events: list[Any] = []
        self._eof_rcvd = False
        self.close_rcvd: CloseReceived | None = None
        self.close_sent: tuple[int, str] | None = None
        self.close_rcvd_then_sent: bool | None = None
        self.error: Exception | None = None
        self._discard = False
        # A protocol error found in the input, whose failure (close frame,
        # EOF) waits for commit_failure(); see _fail_exc().
        self._pending_failure: ProtocolError | None = None

    def resume(self) -> None:
        """Deliver what was held back (the protocol's)."""
        raise NotImplementedError

    def _drop_input(self) -> None:
        """Forget the input that waits (the protocol's)."""
        raise NotImplementedError

    @property
    def close_code(self) -> int:
        """The code of the peer's close frame; 1006 if none was received."""
        close = self.close_rcvd
        return 1006 if close is None else close.code

    @property
    def close_reason(self) -> str:
        """The reason of the peer's close frame; empty if none was received."""
        close = self.close_rcvd
        return "" if close is None else close.reason

    @property
    def closed_ok(self) -> bool:
        """Whether :meth:`closed_exception` gives :class:`~fastws.ConnectionClosedOK`.

        True when close frames went both ways, each with 1000, 1001 or no
        code (1005): the closing handshake completed normally.
        """
        rcvd = self.close_rcvd
        sent = self.close_sent
        return (
            rcvd is not None
            and sent is not None
            and rcvd.code in _OK_CLOSE_CODES
            and sent[0] in _OK_CLOSE_CODES
        )

    @property
    def close_was_clean(self) -> bool:
        """Whether close frames were both sent and received (section 7.1.4)."""
        return self.close_rcvd is not None and self.close_sent is not None

    def closed_exception(self, cause: BaseException | None = None) -> ConnectionClosed:
        """The exception that tells an application how the connection closed.

        It carries the close frames received and sent (``rcvd``, ``sent``,
        ``rcvd_then_sent``): :class:`~fastws.ConnectionClosedOK` when the
        closing handshake completed with 1000 or 1001 (or 1005, a close
        frame without a code) both ways, :class:`~fastws.ConnectionClosedError`
        otherwise.

        Args:
            cause: what ended the connection when the protocol does not
                know (an I/O error); the protocol's own :attr:`error`, if
                any, comes first. It becomes the exception's ``__cause__``.
        """
        close = self.close_rcvd
        rcvd = None if close is None else Close(close.code, close.reason)
        sent = None if self.close_sent is None else Close(*self.close_sent)
        rcvd_then_sent = self.close_rcvd_then_sent if rcvd is not None and sent is not None else None
        kind = ConnectionClosedOK if self.closed_ok else ConnectionClosedError
        exc: ConnectionClosed = kind(rcvd, sent, rcvd_then_sent)
        cause = self.error or cause
        if cause is not None:
            exc.__cause__ = cause
        return exc

    def close_expected(self) -> bool:
        """Whether the TCP connection is expected to close soon.

        Call it after ``receive_*``, ``send_close`` or ``fail``; when it is
        True, close the transport after a timeout unless the peer closes it
        first.

        Returns:
            True once a close frame or EOF was sent (or a close frame
            received) and the peer's EOF has not arrived yet.
        """
        if self._pending_failure is not None:
            return True
        return (self.state is _CLOSING or self._eof_sent) and not self._eof_rcvd

    @property
    def failure_pending(self) -> bool:
        """Whether the input broke the protocol and the failure is not sent yet."""
        return self._pending_failure is not None

    def commit_failure(self) -> None:
        """Fail the connection now for the pending protocol error, if any.

        Queues the close frame with the error's code, then EOF.
        """
        exc = self._pending_failure
        self._pending_failure = None
        if exc is not None:
            self.fail(exc.close_code, str(exc))

    def _receive_close(self, payload: bytes) -> bool:
        """Process the peer's close frame; always returns True."""
        length = len(payload)
        if length == 0:
            # Section 7.1.5: "If this Close control frame contains no status
            # code, _The WebSocket Connection Close Code_ is considered to
            # be 1005."
            code, reason = 1005, ""
        elif length == 1:
            # Section 5.5.1: "If there is a body, the first two bytes of the
            # body MUST be a 2-byte unsigned integer".
            return self._fail_exc(InvalidFrame("close frame with a 1-byte payload"))
        else:
            code = payload[0] << 8 | payload[1]
            if not close_code_valid(code):
                return self._fail_exc(InvalidCloseCode(f"invalid close code {code}"))
            try:
                # Section 5.5.1: the reason's "data is not guaranteed to be
                # human readable" but it is UTF-8 encoded.
                reason = payload[2:].decode()
            except UnicodeDecodeError:
                return self._fail_exc(InvalidUTF8("invalid UTF-8 in the close reason"))
        close = CloseReceived(code, reason)
        self.close_rcvd = close
        self._events.append(close)
        self._discard = True
        if self.close_sent is None:
            # Section 5.5.1: "If an endpoint receives a Close frame and did
            # not previously send a Close frame, the endpoint MUST send a
            # Close frame in response. (When sending a Close frame in
            # response, the endpoint typically echos the status code it
            # received.)"
            self._output.append(encode_frame(_CLOSE, payload[:2] if length else b"", mask=self._writer.mask))
            self.close_sent = (code, "")
            self.close_rcvd_then_sent = True
        else:
            self.close_rcvd_then_sent = False
        self.state = _CLOSING
        # Section 7.1.1: "the underlying TCP connection, in most normal
        # cases, SHOULD be closed first by the server"; the client waits
        # for it (close_expected() is True while CLOSING).
        if self.side is _SERVER:
            self._send_eof()
        return True

    def _fail_exc(self, exc: ProtocolError) -> bool:
        """The input broke the protocol: stop reading, fail soon; returns True.

        Nothing received from now on is processed (section 7.1.7), and
        ``error`` is set at once. The close frame and EOF are queued by
        :meth:`commit_failure`, not here: the messages completed before the
        error are delivered first, and an application that answers them
        right away (an echo) gets its answers out before the connection
        fails, in the order the peer sent what they answer. Until then the
        state stays what it was.
        """
        if self.error is None:
            self.error = exc
        self._discard = True
        if self._pending_failure is None and not self._eof_sent:
            self._pending_failure = exc
        self._drop_input()
        return True

    def fail(self, code: int, reason: str = "") -> None:
        """Fail the connection (RFC 6455 section 7.1.7).

        Sends a close frame with ``code`` (unless one was sent already, or
        ``code`` is 1006, which means "no close frame"), then EOF, and
        ignores everything received afterwards, held frames included.
        Events completed before remain available. Does nothing once EOF was
        sent.

        Args:
            code: the close code; it is not validated, so that any failure
                can be reported.
            reason: the close reason, cut to 123 bytes if longer.
        """
        if self._pending_failure is not None:
            # The protocol error found in the input decides the code.
            self.commit_failure()
        if self._eof_sent:
            return
        self._discard = True
        if self.close_sent is None and self.state in (_OPEN, _CLOSING) and code != 1006:
            payload = code.to_bytes(2, "big") + _truncate_reason(reason)
            self._output.append(encode_frame(_CLOSE, payload, mask=self._writer.mask))
            self.close_sent = (code, reason)
        self._send_eof()
        self._drop_input()

    def _send_eof(self) -> None:
        """Queue EOF (``b""``): the TCP connection should be closed now.

        The connection becomes ``CLOSED``. Subclasses call it when the
        opening handshake fails.
        """
        if not self._eof_sent:
            self._eof_sent = True
            self._output.append(b"")
        self._discard = True
        self.state = _CLOSED

    def send_close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake.

        Held frames are processed at once (data frames are discarded from
        now on), so that the peer's close frame, if held, is seen.

        Args:
            code: the close code: 1000-1003, 1007-1014 or 3000-4999; or
                1005 (with an empty reason) to send a close frame without
                a payload.
            reason: the close reason, at most 123 bytes once UTF-8 encoded.

        When the input already broke the protocol (``error`` is set and the
        failure not yet sent), the failure's close frame is sent instead.

        Raises:
            InvalidState: the connection is not OPEN.
            ValueError: the code is not one an endpoint may send, or the
                reason is too long or given with code 1005.
        """
        if self._pending_failure is not None:
            # The input already broke the protocol: its failure's close
            # frame (1002, 1007, 1009) is the one to send.
            self.commit_failure()
            return
        if self.state is not _OPEN:
            raise InvalidState(f"cannot send a close frame in state {self.state.name}")
        if code == 1005:
            if reason:
                raise ValueError("a close frame without a code cannot carry a reason")
            payload = b""
        else:
            if not close_code_valid(code):
                raise ValueError(f"invalid close code {code}")
            data = reason.encode()
            if len(data) > _MAX_CLOSE_REASON:
                raise ValueError(f"close reason too long: {len(data)} bytes")
            payload = code.to_bytes(2, "big") + data
        self._output.append(encode_frame(_CLOSE, payload, mask=self._writer.mask))
        self.close_sent = (code, reason)
        self.state = _CLOSING
        # Data frames are discarded from now on: invalid text in them must
        # not fail the connection and lose the peer's close frame.
        self._parser.validate_utf8 = False
        self.resume()
