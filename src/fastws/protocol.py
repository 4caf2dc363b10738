"""The sans-IO WebSocket protocol: frames in, events out (RFC 6455 sections 5-7).

No I/O, no clock, no threads. Feed the bytes read from the network to
:meth:`Protocol.receive_data` (and :meth:`Protocol.receive_eof` when the
peer closes TCP), then drain :meth:`Protocol.events_received` and write
everything :meth:`Protocol.data_to_send` returns; an empty ``b""`` item there
means "close the TCP connection now" (half-close, then close).

The rules this module enforces, in the order a frame meets them:

* The codec's :class:`~fastws.codec.FrameParser` judges each header as soon
  as its bytes arrive: reserved opcodes, fragmented or oversized control
  frames, masking (a server requires masked frames, a client unmasked ones,
  section 5.1), the 64-bit length's top bit, the frame and message size
  limits. Any failure there fails the connection with the error's
  ``close_code`` (1002, or 1009 for sizes), after the frames completed
  before the error in the same read have been processed, in order.
* RSV1-3 must be 0 unless a negotiated extension owns the bit (section
  5.2); control frames never carry one. Otherwise: 1002.
* A continuation frame needs an open fragmented message, and a text or
  binary frame must not start while one is open (section 5.4): 1002.
  Control frames may arrive between fragments and are handled at once.
* Text is validated as UTF-8 as its bytes arrive (fail fast, 1007: in the
  fragment, even in the read, where the first invalid byte shows up); a
  code point split across fragments is valid.
* A message may not exceed ``max_message_size`` bytes (1009, refused from
  the header before its payload is buffered) nor ``max_fragments`` frames
  (1009).
* Pings are answered with a pong carrying the same payload, in order, even
  while a fragmented message is open, unless ``auto_pong`` is off; every
  ping and pong is also reported as an event.
* A close frame, even in the middle of a fragmented message, starts or
  completes the closing handshake (OPEN -> CLOSING -> CLOSED). Its code
  must be one RFC 6455 lets an endpoint send (see ``_VALID_CLOSE_CODES``),
  a 1-byte payload is invalid (1002), the reason must be UTF-8 (1007).
  The reply echoes the code (an empty close is answered with an empty
  close). Nothing after the peer's close frame is processed, and data
  frames received after our own close frame are discarded.
* The server closes TCP first (section 7.1.1): once the closing handshake
  is over, its ``data_to_send`` ends with ``b""``; the client waits for the
  server's EOF (``close_expected()`` is True) and answers it with its own.
* Failing the connection (section 7.1.7) = a close frame with the error's
  code (if no close frame was sent yet), then ``b""``; nothing received
  after the error is processed. The messages completed before the error
  are delivered first, and the close frame is queued by the next
  ``data_to_send()``, after whatever the application sent in answer to
  them (an echo server echoes them before the connection fails).

Subclasses (``ClientProtocol``, ``ServerProtocol``) start in
``State.CONNECTING`` and implement :meth:`Protocol._receive_handshake`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any

from .codec import Frame, FrameParser, Utf8Validator, encode_frame, encode_frame_header
from .constants import MAX_CONTROL_PAYLOAD, Opcode
from .events import BinaryMessage, CloseReceived, Event, Ping, Pong, TextMessage
from .exceptions import (
    InvalidCloseCode,
    InvalidFrame,
    InvalidMessage,
    InvalidState,
    InvalidUTF8,
    PayloadTooBig,
    ProtocolError,
)
from .extensions.base import Extension

__all__ = ["DEFAULT_MAX_FRAGMENTS", "Protocol", "Side", "State"]


class Side(enum.IntEnum):
    """Which end of the connection a protocol object plays."""

    CLIENT = 0
    SERVER = 1


class State(enum.IntEnum):
    """Connection states, numbered as the browser's ``WebSocket.readyState``.

    * ``CONNECTING``: the opening handshake is in progress (subclasses only);
    * ``OPEN``: messages flow both ways;
    * ``CLOSING``: a close frame was sent or received; the client stays here
      after the closing handshake until the server closes TCP;
    * ``CLOSED``: nothing more will be sent or processed (the closing
      handshake is over and EOF was sent or received, or the connection
      failed).
    """

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


_CONNECTING = State.CONNECTING
_OPEN = State.OPEN
_CLOSING = State.CLOSING
_CLOSED = State.CLOSED
_CLIENT = Side.CLIENT
_SERVER = Side.SERVER

_CONT = Opcode.CONTINUATION
_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_CLOSE = Opcode.CLOSE
_PING = Opcode.PING
_PONG = Opcode.PONG

# RFC 6455 section 7.4.1 defines 1000-1003 and 1007-1011 for endpoints to
# send; 1004 is reserved, and 1005, 1006 and 1015 "MUST NOT be set as a
# status code in a Close control frame by an endpoint". Section 7.4.2: 0-999
# are not used, 1000-2999 are reserved for the protocol and its extensions,
# 3000-3999 are registered with IANA, 4000-4999 are private. The issue this
# module implements asks for exactly 1000-1003, 1007-1011 and 3000-4999 and
# for 1002 on anything else, so 1012-1014 (registered with IANA after the
# RFC: service restart, try again later, bad gateway) are refused too, as
# Autobahn's strict "invalid close code" cases expect. The same set bounds
# what send_close() accepts, so a fastws peer never refuses what fastws sends.
_VALID_CLOSE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011))

#: Default for ``max_fragments``. A fragment costs the receiver a ``bytes``
#: object and a list slot (about 40 bytes) on top of its payload until the
#: message completes, and a frame's worth of CPU. 1024 fragments bound that
#: overhead to about 40 KiB per connection, and a 1 MiB message may still be
#: cut into fragments of 1 KiB, far smaller than what real senders use
#: (browsers do not fragment; libraries that do cut at 4-64 KiB). It also
#: stops a peer from holding a message open forever with empty continuation
#: frames. Raise it, or pass None, for peers that fragment finely.
DEFAULT_MAX_FRAGMENTS = 1024

#: Unmasked messages of at least this many bytes (``bytes`` objects) are
#: sent as two chunks, header and payload, instead of being copied into one
#: frame: past this size the copy costs more than a second chunk does.
_ZERO_COPY_MIN = 65536

#: Longest close reason that fits a control frame: 125 - 2 bytes of code.
_MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2


def _close_code_valid(code: int) -> bool:
    return code in _VALID_CLOSE_CODES or 3000 <= code <= 4999


def _check_at_least_one(name: str, value: int | None) -> int | None:
    """Return an optional count limit, refusing values below 1.

    Args:
        name: the option's name, for the error message.
        value: the limit, or None for none.

    Returns:
        ``value``.

    Raises:
        ValueError: ``value`` is less than 1.
    """
    if value is not None and value < 1:
        raise ValueError(f"{name} must be >= 1")
    return value


def _truncate_reason(reason: str) -> bytes:
    """Encode a close reason, cut to 123 bytes on a code point boundary."""
    data = reason.encode()
    if len(data) > _MAX_CLOSE_REASON:
        data = data[:_MAX_CLOSE_REASON].decode(errors="ignore").encode()
    return data


class Protocol:
    """A WebSocket connection after the opening handshake, without I/O.

    Usable directly in state ``OPEN`` (tests, embedding behind another
    HTTP stack that did the handshake), or through ``ClientProtocol`` /
    ``ServerProtocol``, which start in ``CONNECTING``.

    Args:
        side: :attr:`Side.CLIENT` masks every frame it sends and refuses
            masked frames; :attr:`Side.SERVER` does the opposite.
        state: the initial state, ``OPEN`` unless a subclass performs the
            opening handshake.
        max_message_size: largest message accepted, in bytes (the payload
            as received, and again after extensions decode it); None for no
            limit. Larger messages fail the connection with 1009.
        max_frame_size: largest single frame accepted, in bytes; None to
            bound frames only by ``max_message_size``.
        max_fragments: most frames a message may be split into; None for no
            limit. More fail the connection with 1009.
        auto_pong: answer each ping with a pong automatically. Pings are
            reported as :class:`~fastws.events.Ping` events either way.
        fragment_size: cut outgoing messages into frames of at most this
            many payload bytes; None sends each message as one frame.
        extensions: the negotiated extensions, in negotiation order.
        subprotocol: the negotiated subprotocol, if any.

    Raises:
        ValueError: a limit is negative, or ``max_fragments`` /
            ``fragment_size`` is below 1.

    Attributes:
        on_message: None (the default), or a function that takes each
            complete data message (``str`` for text, ``bytes`` for binary)
            as soon as :meth:`receive_data` has it, instead of queuing a
            :class:`~fastws.events.TextMessage` or
            :class:`~fastws.events.BinaryMessage` event (one object and one
            dispatch less per message). Control frames are still reported
            by :meth:`events_received`; a message is passed on before the
            events of the frames that follow it. It may send (what it sends
            comes out of the next :meth:`data_to_send`), close or fail the
            connection: frames after that point are then handled as in that
            state. If it raises, the exception propagates out of
            :meth:`receive_data` and the frames that followed the message in
            the same data are lost; the caller should then :meth:`fail` the
            connection (1011).
    """

    __slots__ = (
        "_discard",
        "_eof_rcvd",
        "_eof_sent",
        "_events",
        "_extensions",
        "_frag_chunks",
        "_frag_opcode",
        "_frag_size",
        "_fragment_size",
        "_mask",
        "_max_fragments",
        "_max_message_size",
        "_output",
        "_parser",
        "_pending_failure",
        "_rsv_allowed",
        "_send_frag",
        "_utf8",
        "auto_pong",
        "close_rcvd",
        "close_rcvd_then_sent",
        "close_sent",
        "error",
        "handshake_exc",
        "on_message",
        "side",
        "state",
        "subprotocol",
    )

    def __init__(
        self,
        side: Side,
        *,
        state: State = State.OPEN,
        max_message_size: int | None = 2**20,
        max_frame_size: int | None = None,
        max_fragments: int | None = DEFAULT_MAX_FRAGMENTS,
        auto_pong: bool = True,
        fragment_size: int | None = None,
        extensions: Sequence[Extension] = (),
        subprotocol: str | None = None,
    ) -> None:
        side = Side(side)
        self.side: Side = side
        self.state: State = State(state)
        self.subprotocol = subprotocol
        self.auto_pong = bool(auto_pong)
        self._max_fragments = _check_at_least_one("max_fragments", max_fragments)
        self._fragment_size = _check_at_least_one("fragment_size", fragment_size)
        self._max_message_size = max_message_size
        # Section 5.1: "A server MUST NOT mask any frames that it sends to
        # the client. A client MUST close a connection if it detects a
        # masked frame." and "The server MUST close the connection upon
        # receiving a frame that is not masked."
        # Section 8.1: text must be UTF-8. The parser checks it as bytes
        # arrive, so invalid text fails in the fragment, even in the read,
        # where it shows up (messages an extension transformed are checked
        # after decoding, below).
        self._parser = FrameParser(
            require_mask=side is _SERVER,
            max_frame_size=max_frame_size,
            max_message_size=max_message_size,
            validate_utf8=True,
        )
        # Section 5.3: a client masks every frame with a fresh key from a
        # strong source of entropy (encode_frame(mask=True): os.urandom).
        self._mask: bool | None = True if side is _CLIENT else None
        self._extensions: list[Extension] = []
        self._rsv_allowed = 0
        self.extensions = extensions
        self._events: list[Any] = []
        self.on_message: Callable[[str | bytes], object] | None = None
        self._output: list[bytes] = []
        self.close_rcvd: CloseReceived | None = None
        self.close_sent: tuple[int, str] | None = None
        self.close_rcvd_then_sent: bool | None = None
        self.error: Exception | None = None
        self.handshake_exc: Exception | None = None
        self._discard = False
        self._eof_sent = False
        self._eof_rcvd = False
        # Incoming fragmented message: its opcode (0: none), the payloads
        # received so far, their total decoded size, the UTF-8 validator.
        self._frag_opcode = 0
        self._frag_chunks: list[bytes] = []
        self._frag_size = 0
        self._utf8: Any = None
        # Outgoing fragmented message: its opcode (0: none).
        self._send_frag = 0
        # A protocol error found in the input, whose failure (close frame,
        # EOF) waits for the next data_to_send(); see _fail_exc().
        self._pending_failure: ProtocolError | None = None

    # -- configuration -------------------------------------------------------

    @property
    def extensions(self) -> list[Extension]:
        """The negotiated extensions, in negotiation order."""
        return self._extensions

    @extensions.setter
    def extensions(self, extensions: Sequence[Extension]) -> None:
        self._extensions = list(extensions)
        allowed = 0
        for extension in self._extensions:
            allowed |= (
                (0x40 if extension.rsv1 else 0)
                | (0x20 if extension.rsv2 else 0)
                | (0x10 if extension.rsv3 else 0)
            )
        self._rsv_allowed = allowed

    @property
    def max_message_size(self) -> int | None:
        """Largest message accepted, in bytes (None: no limit)."""
        return self._max_message_size

    @max_message_size.setter
    def max_message_size(self, value: int | None) -> None:
        self._parser.max_message_size = value
        self._max_message_size = value

    @property
    def max_frame_size(self) -> int | None:
        """Largest frame accepted, in bytes (None: bounded by the message limit)."""
        return self._parser.max_frame_size

    @max_frame_size.setter
    def max_frame_size(self, value: int | None) -> None:
        self._parser.max_frame_size = value

    @property
    def max_fragments(self) -> int | None:
        """Most frames a message may be split into (None: no limit)."""
        return self._max_fragments

    @max_fragments.setter
    def max_fragments(self, value: int | None) -> None:
        self._max_fragments = _check_at_least_one("max_fragments", value)

    @property
    def fragment_size(self) -> int | None:
        """Largest payload of an outgoing frame (None: one frame per message)."""
        return self._fragment_size

    @fragment_size.setter
    def fragment_size(self, value: int | None) -> None:
        self._fragment_size = _check_at_least_one("fragment_size", value)

    # -- close information -----------------------------------------------------

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
    def close_was_clean(self) -> bool:
        """Whether close frames were both sent and received (section 7.1.4)."""
        return self.close_rcvd is not None and self.close_sent is not None

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

    # -- output ----------------------------------------------------------------

    def events_received(self) -> list[Event]:
        """Return the events received since the last call, and forget them.

        Returns:
            Events in the order their frames arrived.
        """
        events = self._events
        self._events = []
        return events

    @property
    def failure_pending(self) -> bool:
        """Whether the input broke the protocol and the failure is not sent yet.

        The closing frame is queued by the next ``data_to_send()`` (unless
        it is called with ``fail=False``), by ``send_close``, ``fail`` or
        ``receive_eof``.
        """
        return self._pending_failure is not None

    def data_to_send(self, *, fail: bool = True) -> list[bytes]:
        """Return the bytes to write to the network since the last call.

        If the input broke the protocol, this is when the connection fails:
        the close frame and ``b""`` are queued after what was sent so far.

        Args:
            fail: False to leave a pending failure pending, so that a caller
                that hands messages to its application later (asyncio) can
                send the answers to messages that arrived before the error
                first, and fail the connection afterwards.

        Returns:
            Chunks to write in order (a large unmasked message may be
            two chunks, its header and the very ``bytes`` object that was
            sent, not copied); ``b""`` means: close the TCP
            connection (half-close, then close) after writing what precedes.
        """
        if fail and self._pending_failure is not None:
            self._commit_failure()
        output = self._output
        self._output = []
        return output

    # -- input -----------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes received from the network.

        Afterwards, call :meth:`events_received` and :meth:`data_to_send`.

        Args:
            data: the bytes, cut anywhere.

        Raises:
            InvalidState: EOF was already received.
            TypeError: ``data`` is not bytes-like.
        """
        if self.state is not _OPEN:
            self._receive_data_not_open(data)
            return
        try:
            frames = self._parser.feed(data)
        except ProtocolError as exc:
            # Frames completed before the error are still valid: process
            # them in order, then fail (unless they closed the connection).
            if not self._process(exc.frames):
                self._fail_exc(exc)
            return
        # --- _process(frames), inlined for the common case -----------------
        if self._extensions:
            self._process(frames)
            return
        append = self._events.append
        sink = self.on_message
        frag = self._frag_opcode
        remaining = iter(frames)
        for frame in remaining:
            if frame.rsv1 or frame.rsv2 or frame.rsv3:
                if self._frame(frame):
                    return
                continue
            opcode = frame.opcode
            if opcode is _TEXT:
                if frame.fin and not frag:
                    try:
                        text = frame.payload.decode()
                    except UnicodeDecodeError:
                        self._fail_exc(InvalidUTF8("invalid UTF-8 in a text message"))
                        return
                    if sink is None:
                        append(TextMessage(text))
                        continue
                    sink(text)
                    if self.state is not _OPEN:
                        # The callback closed or failed the connection: the
                        # rest goes through the checks of that state.
                        self._process(list(remaining))
                        return
                    continue
            elif opcode is _BINARY:
                if frame.fin and not frag:
                    if sink is None:
                        append(BinaryMessage(frame.payload))
                        continue
                    sink(frame.payload)
                    if self.state is not _OPEN:
                        self._process(list(remaining))
                        return
                    continue
            if self._frame(frame):
                return
            frag = self._frag_opcode

    def receive_eof(self) -> None:
        """Signal that the peer closed the TCP connection (EOF).

        The connection becomes ``CLOSED``; if we had not closed our side,
        ``data_to_send`` ends with ``b""``. Idempotent. During the opening
        handshake (``CONNECTING``, client and server roles), this fails it:
        ``handshake_exc`` becomes an :class:`~fastws.InvalidMessage`.
        """
        if self._eof_rcvd:
            return
        if self.state is _CONNECTING and self.handshake_exc is None:
            self.handshake_exc = InvalidMessage("connection closed during the opening handshake")
        if self._pending_failure is not None:
            self._commit_failure()
        self._eof_rcvd = True
        self._discard = True
        self.state = _CLOSED
        if not self._eof_sent:
            self._send_eof()

    def _receive_data_not_open(self, data: Any) -> None:
        """``receive_data`` in any state but OPEN."""
        state = self.state
        if self._eof_rcvd:
            raise InvalidState("data received after EOF")
        if state is _CONNECTING:
            rest = self._receive_handshake(bytes(data))
            if rest is None or self.state is not _OPEN:
                return
            if rest:
                self.receive_data(rest)
            return
        if self._discard or state is _CLOSED:
            # Section 7.1.7: "An endpoint MUST NOT continue to attempt to
            # process data (including a responding Close frame) from the
            # remote endpoint after being instructed to _Fail the WebSocket
            # Connection_"; and nothing may follow the peer's close frame.
            return
        # CLOSING after our close frame: look for the peer's close frame.
        try:
            frames = self._parser.feed(data)
        except ProtocolError as exc:
            if not self._process(exc.frames):
                self._fail_exc(exc)
            return
        self._process(frames)

    def _receive_handshake(self, data: bytes) -> bytes | None:
        """Process opening-handshake bytes (state ``CONNECTING``).

        Subclasses implement it. When the handshake completes, they set
        ``self.state = State.OPEN`` (and ``subprotocol`` / ``extensions``)
        and return the bytes that followed it, which are parsed as frames.
        When it fails, they set ``handshake_exc`` and call :meth:`_send_eof`.

        Args:
            data: bytes received from the network.

        Returns:
            The bytes left over after the handshake, or None while it is
            incomplete.

        Raises:
            InvalidState: always, in the base class.
        """
        raise InvalidState("the base Protocol has no opening handshake; create it in state OPEN")

    # -- frame processing ----------------------------------------------------------

    def _process(self, frames: list[Frame]) -> bool:
        """Process complete frames in order.

        Returns:
            True when processing stopped (close received, connection failed).
        """
        frame_handler = self._frame
        for frame in frames:
            if frame_handler(frame):
                return True
        return False

    def _frame(self, frame: Frame) -> bool:
        """Process one frame, any kind, with every check (the slow path).

        Returns:
            True when no later frame may be processed.
        """
        if self._discard:
            return True
        opcode = frame.opcode
        rsv = (0x40 if frame.rsv1 else 0) | (0x20 if frame.rsv2 else 0) | (0x10 if frame.rsv3 else 0)
        if opcode >= 8:
            # Section 5.2: "RSV1, RSV2, RSV3: MUST be 0 unless an extension
            # is negotiated that defines meanings for non-zero values. If a
            # nonzero value is received and none of the negotiated
            # extensions defines the meaning of such a nonzero value, the
            # receiving endpoint MUST _Fail the WebSocket Connection_."
            # Extensions here only ever transform data frames.
            if rsv:
                return self._fail_exc(InvalidFrame("reserved bits set on a control frame"))
            if opcode == _PING:
                self._events.append(Ping(frame.payload))
                # Section 5.5.2: "Upon receipt of a Ping frame, an endpoint
                # MUST send a Pong frame in response, unless it already
                # received a Close frame." -- and we cannot send after our
                # own close frame either, so only while OPEN.
                if self.auto_pong and self.state is _OPEN:
                    self._output.append(encode_frame(_PONG, frame.payload, mask=self._mask))
                return False
            if opcode == _PONG:
                # Section 5.5.3: "A response to an unsolicited Pong frame is
                # not expected." Reported, otherwise ignored.
                self._events.append(Pong(frame.payload))
                return False
            return self._receive_close(frame.payload)

        if self.state is not _OPEN:
            # After our close frame (section 5.5.1: "there is no guarantee
            # that the endpoint that has already sent a Close frame will
            # continue to process data"): data frames are discarded.
            return False
        if rsv & ~self._rsv_allowed:
            return self._fail_exc(InvalidFrame("reserved bits set without a negotiated extension"))

        # Section 5.4: fragments of one message arrive in order, a
        # continuation frame only inside a fragmented message, and "the
        # fragments of one message MUST NOT be interleaved between the
        # fragments of another message".
        frag = self._frag_opcode
        if opcode == _CONT:
            if not frag:
                return self._fail_exc(InvalidFrame("continuation frame without a message to continue"))
        elif frag:
            return self._fail_exc(InvalidFrame("new data frame inside a fragmented message"))

        payload = frame.payload
        if self._extensions:
            limit = self._max_message_size
            max_size = None if limit is None else limit - (self._frag_size if frag else 0)
            try:
                for extension in reversed(self._extensions):
                    frame = extension.decode(frame, max_size=max_size)
            except ProtocolError as exc:
                return self._fail_exc(exc)
            payload = frame.payload
            size = len(payload) + (self._frag_size if frag else 0)
            if limit is not None and size > limit:
                return self._fail_exc(
                    PayloadTooBig(f"message of at least {size} bytes exceeds the limit of {limit} bytes")
                )
        else:
            size = 0

        if not frag:
            if frame.fin:
                return self._deliver(opcode, payload)
            # First frame of a fragmented message. The parser validates text
            # as its bytes arrive (fail fast, even inside a frame that comes
            # in pieces) unless an extension may have transformed it; then
            # the decoded fragments are validated here, one by one, so an
            # invalid byte still fails the connection in the fragment where
            # it arrives, not at the end of the message.
            if opcode == _TEXT and self._extensions:
                utf8 = self._utf8 = Utf8Validator()
                if not utf8.feed(payload):
                    return self._fail_exc(InvalidUTF8("invalid UTF-8 in a text message"))
            else:
                self._utf8 = None
            self._frag_opcode = _TEXT if opcode == _TEXT else _BINARY
            self._frag_chunks = [payload]
            self._frag_size = size
            return False

        chunks = self._frag_chunks
        limit = self._max_fragments
        if limit is not None and len(chunks) >= limit:
            return self._fail_exc(PayloadTooBig(f"message has more than {limit} fragments"))
        utf8 = self._utf8
        if utf8 is not None and not utf8.feed(payload):
            return self._fail_exc(InvalidUTF8("invalid UTF-8 in a text message"))
        chunks.append(payload)
        self._frag_size = size
        if not frame.fin:
            return False
        self._frag_opcode = 0
        self._frag_chunks = []
        self._frag_size = 0
        if utf8 is not None:
            self._utf8 = None
            # A code point may be split across fragments, but not left
            # open at the end of the message.
            if not utf8.finish():
                return self._fail_exc(InvalidUTF8("incomplete UTF-8 sequence at the end of a text message"))
        return self._deliver(frag, chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def _deliver(self, opcode: int, payload: bytes) -> bool:
        """Emit a complete message; False, or True if it failed the connection."""
        sink = self.on_message
        if opcode == _TEXT:
            try:
                text = payload.decode()
            except UnicodeDecodeError:
                return self._fail_exc(InvalidUTF8("invalid UTF-8 in a text message"))
            if sink is None:
                self._events.append(TextMessage(text))
            else:
                sink(text)
        elif sink is None:
            self._events.append(BinaryMessage(payload))
        else:
            sink(payload)
        return False

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
            if not _close_code_valid(code):
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
            self._output.append(encode_frame(_CLOSE, payload[:2] if length else b"", mask=self._mask))
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

    # -- failing -----------------------------------------------------------------

    def _fail_exc(self, exc: ProtocolError) -> bool:
        """The input broke the protocol: stop reading, fail soon; returns True.

        Nothing received from now on is processed (section 7.1.7), and
        ``error`` is set at once. The close frame and EOF are queued by the
        next :meth:`data_to_send` (or ``receive_eof`` / ``send_close`` /
        ``fail``), not here: the messages completed before the error are
        delivered first, and an application that answers them right away
        (an echo) gets its answers out before the connection fails, in the
        order the peer sent what they answer. Until then the state stays
        what it was.
        """
        if self.error is None:
            self.error = exc
        self._discard = True
        if self._pending_failure is None and not self._eof_sent:
            self._pending_failure = exc
        return True

    def _commit_failure(self) -> None:
        """Queue the pending failure's close frame and EOF."""
        exc = self._pending_failure
        self._pending_failure = None
        if exc is not None:
            self.fail(exc.close_code, str(exc))

    def fail(self, code: int, reason: str = "") -> None:
        """Fail the connection (RFC 6455 section 7.1.7).

        Sends a close frame with ``code`` (unless one was sent already, or
        ``code`` is 1006, which means "no close frame"), then EOF, and
        ignores everything received afterwards. Events completed before
        remain available. Does nothing once EOF was sent.

        Args:
            code: the close code; it is not validated, so that any failure
                can be reported.
            reason: the close reason, cut to 123 bytes if longer.
        """
        if self._pending_failure is not None:
            # The protocol error found in the input decides the code.
            self._commit_failure()
        if self._eof_sent:
            return
        self._discard = True
        if self.close_sent is None and self.state in (_OPEN, _CLOSING) and code != 1006:
            payload = code.to_bytes(2, "big") + _truncate_reason(reason)
            self._output.append(encode_frame(_CLOSE, payload, mask=self._mask))
            self.close_sent = (code, reason)
        self._send_eof()

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

    # -- sending ---------------------------------------------------------------

    def _send_frames(self, opcode: int, payload: Any, fin: bool) -> None:
        """Queue a data message or fragment, cut at ``fragment_size``."""
        size = self._fragment_size
        output = self._output
        mask = self._mask
        if self._extensions:
            self._send_frames_ext(opcode, payload, fin)
            return
        if size is None or len(payload) <= size:
            if mask is None and type(payload) is bytes and len(payload) >= _ZERO_COPY_MIN:
                # A large unmasked message is not copied into its frame:
                # the header and the (immutable) payload are two chunks,
                # which a transport can send with one writev/sendmsg.
                output.append(encode_frame_header(opcode, len(payload), fin=fin))
                output.append(payload)
                return
            output.append(encode_frame(opcode, payload, fin=fin, mask=mask))
            return
        view = memoryview(payload).cast("B")
        last = len(view) - size
        start = 0
        while start < last:
            output.append(encode_frame(opcode, view[start : start + size], fin=False, mask=mask))
            opcode = _CONT
            start += size
        output.append(encode_frame(opcode, view[start:], fin=fin, mask=mask))

    def _send_frames_ext(self, opcode: int, payload: Any, fin: bool) -> None:
        """``_send_frames`` through the negotiated extensions."""
        size = self._fragment_size
        data = bytes(payload)
        pieces = (
            [data]
            if size is None or len(data) <= size
            else [data[i : i + size] for i in range(0, len(data), size)]
        )
        last = len(pieces) - 1
        for i, piece in enumerate(pieces):
            frame = Frame(opcode, piece, fin if i == last else False)
            for extension in self._extensions:
                frame = extension.encode(frame)
            self._output.append(
                encode_frame(
                    frame.opcode,
                    frame.payload,
                    fin=frame.fin,
                    mask=self._mask,
                    rsv1=frame.rsv1,
                    rsv2=frame.rsv2,
                    rsv3=frame.rsv3,
                )
            )
            opcode = _CONT

    def _check_data_send(self) -> None:
        if self.state is not _OPEN:
            raise InvalidState(f"cannot send a data frame in state {self.state.name}")

    def send_text(self, data: str | bytes, *, fin: bool = True) -> None:
        """Send a text message, or the first fragment of one.

        Args:
            data: the text; ``bytes`` are taken as already UTF-8 encoded.
            fin: False to start a fragmented message, continued with
                :meth:`send_continuation`.

        Raises:
            InvalidState: the connection is not OPEN, or a fragmented
                message is in progress.
            TypeError: ``data`` is neither str nor bytes-like.
        """
        self._check_data_send()
        if self._send_frag:
            raise InvalidState("a fragmented message is in progress; use send_continuation()")
        payload = data.encode() if isinstance(data, str) else data
        self._send_frames(_TEXT, payload, fin)
        if not fin:
            self._send_frag = _TEXT

    def send_binary(self, data: bytes | bytearray | memoryview, *, fin: bool = True) -> None:
        """Send a binary message, or the first fragment of one.

        Args:
            data: the message.
            fin: False to start a fragmented message, continued with
                :meth:`send_continuation`.

        Raises:
            InvalidState: the connection is not OPEN, or a fragmented
                message is in progress.
            TypeError: ``data`` is not bytes-like.
        """
        if self.state is not _OPEN:
            raise InvalidState(f"cannot send a data frame in state {self.state.name}")
        if self._send_frag:
            raise InvalidState("a fragmented message is in progress; use send_continuation()")
        if fin and type(data) is bytes and len(data) < _ZERO_COPY_MIN and not self._extensions:
            # The common case, inlined: a small message in one frame.
            size = self._fragment_size
            if size is None or len(data) <= size:
                self._output.append(encode_frame(_BINARY, data, mask=self._mask))
                return
        self._send_frames(_BINARY, data, fin)
        if not fin:
            self._send_frag = _BINARY

    def send_continuation(self, data: str | bytes | bytearray | memoryview, *, fin: bool) -> None:
        """Send the next fragment of the message started with ``fin=False``.

        Args:
            data: the fragment (``str`` is encoded to UTF-8).
            fin: True for the last fragment.

        Raises:
            InvalidState: the connection is not OPEN, or no fragmented
                message is in progress.
        """
        self._check_data_send()
        if not self._send_frag:
            raise InvalidState("no fragmented message is in progress")
        payload = data.encode() if isinstance(data, str) else data
        self._send_frames(_CONT, payload, fin)
        if fin:
            self._send_frag = 0

    def _check_control_send(self, data: Any) -> bytes:
        # Section 5.5.1: control frames may be sent after a close frame
        # (only data frames are forbidden), but not once EOF was sent.
        if self.state is not _OPEN and (self.state is not _CLOSING or self._eof_sent):
            raise InvalidState(f"cannot send a control frame in state {self.state.name}")
        payload = data.encode() if isinstance(data, str) else bytes(data)
        if len(payload) > MAX_CONTROL_PAYLOAD:
            # Section 5.5: "All control frames MUST have a payload length of
            # 125 bytes or less".
            raise ValueError(f"control frame too long: {len(payload)} bytes")
        return payload

    def send_ping(self, data: str | bytes = b"") -> None:
        """Send a ping.

        Args:
            data: the application data, at most 125 bytes.

        Raises:
            InvalidState: the connection is neither OPEN nor CLOSING.
            ValueError: ``data`` is longer than 125 bytes.
        """
        payload = self._check_control_send(data)
        self._output.append(encode_frame(_PING, payload, mask=self._mask))

    def send_pong(self, data: str | bytes = b"") -> None:
        """Send a pong (as an answer to a ping, or unsolicited as a heartbeat).

        Args:
            data: the application data, at most 125 bytes.

        Raises:
            InvalidState: the connection is neither OPEN nor CLOSING.
            ValueError: ``data`` is longer than 125 bytes.
        """
        payload = self._check_control_send(data)
        self._output.append(encode_frame(_PONG, payload, mask=self._mask))

    def send_close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake.

        Args:
            code: the close code: 1000-1003, 1007-1011 or 3000-4999; or
                1005 (with an empty reason) to send a close frame without
                a payload.
            reason: the close reason, at most 123 bytes once UTF-8 encoded.

        When the input already broke the protocol (``error`` is set and
        the failure not yet sent), the failure's close frame is sent
        instead, with its code.

        Raises:
            InvalidState: the connection is not OPEN.
            ValueError: the code is not one an endpoint may send, or the
                reason is too long or given with code 1005.
        """
        if self._pending_failure is not None:
            # The input already broke the protocol: its failure's close
            # frame (1002, 1007, 1009) is the one to send.
            self._commit_failure()
            return
        if self.state is not _OPEN:
            raise InvalidState(f"cannot send a close frame in state {self.state.name}")
        if code == 1005:
            if reason:
                raise ValueError("a close frame without a code cannot carry a reason")
            payload = b""
        else:
            if not _close_code_valid(code):
                raise ValueError(f"invalid close code {code}")
            data = reason.encode()
            if len(data) > _MAX_CLOSE_REASON:
                raise ValueError(f"close reason too long: {len(data)} bytes")
            payload = code.to_bytes(2, "big") + data
        self._output.append(encode_frame(_CLOSE, payload, mask=self._mask))
        self.close_sent = (code, reason)
        self.state = _CLOSING
        # Data frames are discarded from now on: invalid text in them must
        # not fail the connection and lose the peer's close frame.
        self._parser.validate_utf8 = False
