"""The sans-IO WebSocket protocol: frames in, events out (RFC 6455 sections 5-7).

No I/O, no clock, no threads. Feed the bytes read from the network to
:meth:`Protocol.receive_data` (and :meth:`Protocol.receive_eof` when the
peer closes TCP), then drain :meth:`Protocol.events_received` and write
everything :meth:`Protocol.data_to_send` returns; an empty ``b""`` item there
means "close the TCP connection now" (half-close, then close).

What it enforces, in the order a frame meets it:

* the codec's :class:`~fastws.codec.FrameParser` judges each header as its
  bytes arrive (opcodes, control frames, masking, sizes: 1002 or 1009,
  before the payload is buffered) and validates text as it arrives (1007);
* RSV bits that no negotiated extension owns (section 5.2): 1002;
* :class:`~fastws.reassembly.Reassembler` joins fragments (section 5.4:
  1002 when out of place) and runs the extensions; a message is bounded by
  ``max_size`` as received and once inflated (a compressed one may take
  deflate's expansion on the wire: :func:`compressed_limit`);
* pings are answered in order (``auto_pong``), pings and pongs reported;
* a close frame starts or completes the closing handshake (its code must
  be one :func:`close_code_valid` accepts, its reason UTF-8), echoing the
  code; nothing after it is processed; data frames after our own close
  frame are discarded; the server closes TCP first (section 7.1.1);
* failing the connection (section 7.1.7): the messages completed before
  the error are delivered first, then the close frame with the error's
  code is queued by the next ``data_to_send()`` (with ``defer_failure``,
  by :meth:`Protocol.commit_failure`), after the application's answers.

Flow control (:mod:`fastws.flow`): the caller bounds the messages its queue
holds, the bytes extensions may inflate or deflate in one turn, or pauses
delivery; the input past that point waits, raw or parsed but not decoded,
in order, until :meth:`Protocol.resume`. Pongs that arrive meanwhile are
reported at once, so keepalive works while an application is slow.

Subclasses (``ClientProtocol``, ``ServerProtocol``) start in
``State.CONNECTING`` and implement ``Protocol._receive_handshake()``.
"""

from __future__ import annotations

import collections
import types
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._twins import deliver_frames
from .closing import Closing
from .codec import Frame, FrameParser, encode_frame
from .constants import Opcode, Side, State, close_code_valid
from .events import BinaryMessage, Event, Ping, Pong, TextMessage
from .exceptions import InvalidFrame, InvalidMessage, InvalidState, InvalidUTF8, ProtocolError
from .extensions.base import Extension
from .flow import FlowControl, check_at_least_one
from .reassembly import Reassembler
from .sending import FrameWriter

if TYPE_CHECKING:
    from .http11 import Request, Response

__all__ = ["DEFAULT_MAX_FRAGMENTS", "Protocol", "Side", "State", "close_code_valid", "compressed_limit"]


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

# The fast lane's queues: their append cannot call back into the protocol.
_BUILTIN_METHOD = types.BuiltinMethodType
_QUEUES = (collections.deque, list)

#: Default for ``max_fragments``: no limit. Fragments are joined into one
#: buffer as they arrive, so they cost no memory beyond the message, which
#: ``max_size`` bounds; many tiny fragments cost the CPU that as many tiny
#: messages do.
DEFAULT_MAX_FRAGMENTS: int | None = None

#: With flow-control limits set, input is parsed at most this many frames
#: at a time (``FrameParser.feed_some``), and the bytes after the point
#: where a limit stopped delivery stay raw (costing their wire size), so
#: that frames parsed ahead of need, which cost an object each, are never
#: more than this many.
PARSE_FRAMES = 128

#: While delivery is stopped, raw input is still parsed, a few frames at a
#: time, while the held frames cost less than this: pongs in it are
#: reported at once (keepalive works while the application is slow).
PARSE_AHEAD = 65536
_AHEAD_FRAMES = 16


def compressed_limit(max_size: int | None) -> int | None:
    """How many bytes a compressed message of ``max_size`` may take on the wire.

    Deflate expands data that does not compress by a few bytes per 64 KiB
    block; ``max_size * 9/8 + 64`` leaves room for that and for the framing
    of fragments, while still refusing a frame from its header.
    """
    return None if max_size is None else max_size + max_size // 8 + 64


class Protocol(Closing):
    """A WebSocket connection after the opening handshake, without I/O.

    Usable directly in state ``OPEN`` (tests, embedding behind another
    HTTP stack that did the handshake), or through ``ClientProtocol`` /
    ``ServerProtocol``, which start in ``CONNECTING``.

    Args:
        side: :attr:`Side.CLIENT` masks every frame it sends and refuses
            masked frames; :attr:`Side.SERVER` does the opposite.
        state: the initial state, ``OPEN`` unless a subclass performs the
            opening handshake.
        max_size: largest message accepted, in bytes (as received, and
            again after extensions decode it); None for no limit. Larger
            messages fail the connection with 1009.
        max_frame_size: largest single frame accepted, in bytes; None to
            bound frames only by ``max_size``.
        max_fragments: most frames a message may be split into; None (the
            default) for no limit. More fail the connection with 1009.
        auto_pong: answer each ping with a pong automatically. Pings are
            reported as :class:`~fastws.events.Ping` events either way.
        fragment_size: cut outgoing messages into frames of at most this
            many payload bytes; None sends each message as one frame.
        extensions: the negotiated extensions, in negotiation order.
        subprotocol: the negotiated subprotocol, if any.
        max_queue, max_queue_bytes, max_work: the limits of :attr:`flow`.
        max_message_size: the old name of ``max_size`` (deprecated).

    Raises:
        ValueError: a limit is negative, or ``max_fragments``,
            ``fragment_size`` or a limit of :attr:`flow` is below 1.

    Attributes:
        flow: the receive-side flow control (:class:`~fastws.flow.FlowControl`):
            the caller reports its queue in ``flow.queued`` and resets
            ``flow.work``.
        defer_failure: when True, a protocol error found in the input does
            not fail the connection at the next :meth:`data_to_send`: the
            caller does it with :meth:`commit_failure` (``send_close``,
            ``fail`` and ``receive_eof`` do too), typically once its
            application has answered the messages that came before the error.
    """

    # Also declared, with the same names, in protocol.pxd (the compiled twin).
    __slots__ = (
        "_eof_held",
        "_extensions",
        "_input_ended",
        "_max_size",
        "_on_message",
        "_plain",
        "_reassembler",
        "_rsv_allowed",
        "_sink_is_queue",
        "auto_pong",
        "defer_failure",
        "flow",
        "handshake_exc",
        "subprotocol",
    )

    def __init__(
        self,
        side: Side,
        *,
        state: State = State.OPEN,
        max_size: int | None = 2**20,
        max_frame_size: int | None = None,
        max_fragments: int | None = DEFAULT_MAX_FRAGMENTS,
        auto_pong: bool = True,
        fragment_size: int | None = None,
        extensions: Sequence[Extension] = (),
        subprotocol: str | None = None,
        max_queue: int | None = None,
        max_queue_bytes: int | None = None,
        max_work: int | None = None,
        **deprecated: Any,
    ) -> None:
        if deprecated:
            max_size = _deprecated_max_size(deprecated)
        side = side if type(side) is Side else Side(side)  # an Enum call costs more than a field
        state = state if type(state) is State else State(state)
        flow = FlowControl(max_queue=max_queue, max_queue_bytes=max_queue_bytes, max_work=max_work)
        self.flow = flow
        # Section 5.1: "A server MUST NOT mask any frames that it sends to
        # the client. A client MUST close a connection if it detects a
        # masked frame." and "The server MUST close the connection upon
        # receiving a frame that is not masked." Section 8.1: text must be
        # UTF-8; the parser checks it as bytes arrive, so invalid text fails
        # in the fragment, even in the read, where it shows up.
        parser = FrameParser(require_mask=side is _SERVER, max_frame_size=max_frame_size, validate_utf8=True)
        reassembler = Reassembler(
            max_fragments=check_at_least_one("max_fragments", max_fragments), meter=flow
        )
        # Section 5.3: a client masks every frame with a fresh key from a
        # strong source of entropy (encode_frame(mask=True): os.urandom).
        writer = FrameWriter(
            mask=True if side is _CLIENT else None,
            fragment_size=check_at_least_one("fragment_size", fragment_size),
            meter=flow,
        )
        super().__init__(side, state, writer, parser)
        self._reassembler = reassembler
        self.subprotocol = subprotocol
        self.auto_pong = bool(auto_pong)
        self._max_size = max_size
        self.extensions = extensions  # also applies max_size
        self.on_message = None
        self.defer_failure = False
        self.handshake_exc: Exception | None = None
        # Whether the input has ended behind held frames (a close frame or
        # an error is held: nothing received after it counts), and whether
        # the peer's EOF waits behind held frames or raw input.
        self._input_ended = False
        self._eof_held = False

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
        self._plain = not self._extensions
        self._reassembler.extensions = self._extensions
        self._writer.extensions = self._extensions
        self.max_size = self._max_size

    @property
    def max_size(self) -> int | None:
        """Largest message accepted, in bytes (None: no limit)."""
        return self._max_size

    @max_size.setter
    def max_size(self, value: int | None) -> None:
        if value is not None and value < 0:
            raise ValueError("max_size must be >= 0")
        self._max_size = value
        self._reassembler.max_size = value
        parser = self._parser
        parser.max_message_size = value
        # RSV1 marks a compressed message (permessage-deflate): it may take
        # deflate's expansion on the wire; inflated, max_size holds again.
        parser.max_compressed_size = compressed_limit(value) if self._rsv_allowed & 0x40 else None

    @property
    def max_message_size(self) -> int | None:
        """Deprecated: use :attr:`max_size`."""
        warnings.warn("max_message_size is deprecated; use max_size", DeprecationWarning, stacklevel=2)
        return self._max_size

    @max_message_size.setter
    def max_message_size(self, value: int | None) -> None:
        warnings.warn("max_message_size is deprecated; use max_size", DeprecationWarning, stacklevel=2)
        self.max_size = value

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
        return self._reassembler.max_fragments

    @max_fragments.setter
    def max_fragments(self, value: int | None) -> None:
        self._reassembler.max_fragments = check_at_least_one("max_fragments", value)

    @property
    def fragment_size(self) -> int | None:
        """Largest payload of an outgoing frame (None: one frame per message)."""
        return self._writer.fragment_size

    @fragment_size.setter
    def fragment_size(self, value: int | None) -> None:
        self._writer.fragment_size = check_at_least_one("fragment_size", value)

    @property
    def on_message(self) -> Callable[[str | bytes], object] | None:
        """A function that takes each complete data message, or None (the default).

        It gets ``str`` for text and ``bytes`` for binary, as soon as
        :meth:`receive_data` has the message, instead of an event queued for
        :meth:`events_received` (one object less per message); with queue
        limits set (:attr:`flow`), a message counts as queued, as an event
        would. A message is passed on before the events of the frames that
        follow it. The function may send, close or fail the connection (the
        frames that follow are then handled as in that state), or
        :meth:`pause`. If it raises, the exception propagates out of
        :meth:`receive_data` and the frames that followed the message are
        held, as after :meth:`pause`: nothing is lost, and :meth:`resume`
        goes on with them.
        """
        return self._on_message

    @on_message.setter
    def on_message(self, sink: Callable[[str | bytes], object] | None) -> None:
        self._on_message = sink
        # A list's or deque's append cannot call back (see _lane).
        self._sink_is_queue = (
            type(sink) is _BUILTIN_METHOD and type(sink.__self__) in _QUEUES and sink.__name__ == "append"
        )

    # -- flow control ----------------------------------------------------------

    @property
    def paused(self) -> bool:
        """Whether delivery is paused, or input waits (see :mod:`fastws.flow`)."""
        flow = self.flow
        return flow.paused or bool(flow.held) or bool(flow.unparsed)

    @property
    def held_bytes(self) -> int:
        """What the input received and not processed yet costs, in bytes.

        Raw input counts its size, held frames their payload plus
        :data:`~fastws.flow.HELD_FRAME_OVERHEAD`, the frame still arriving its
        buffered bytes. A caller bounds memory by reading no more while this
        is above its limit.
        """
        flow = self.flow
        return len(flow.unparsed) + flow.held_cost + self._parser.buffered

    def pause(self) -> None:
        """Stop delivering messages after the current one; hold what follows.

        For callbacks (``on_message``) whose answers filled the caller's
        write buffer. Pongs are still reported as they arrive.
        """
        self.flow.pause()

    def resume(self) -> None:
        """Undo :meth:`pause` and deliver held messages, within the limits.

        Afterwards, drain :meth:`events_received` and :meth:`data_to_send`;
        :attr:`paused` says whether frames are still held.
        """
        flow = self.flow
        flow.unpause()
        if flow.held or flow.unparsed or self._eof_held:
            self._drain()

    # -- output ----------------------------------------------------------------

    def events_received(self) -> list[Event | Request | Response]:
        """Return the events received since the last call, and forget them.

        Returns:
            The ``Request`` (server) or ``Response`` (client) of the opening
            handshake, then events in the order their frames arrived (while
            frames are held, pongs come ahead of them).
        """
        events = self._events
        self._events = []
        return events

    def data_to_send(self, *, fail: bool | None = None) -> list[bytes]:
        """Return the bytes to write to the network since the last call.

        If the input broke the protocol, this is when the connection fails
        (unless ``defer_failure``): the close frame and ``b""`` are queued
        after what was sent so far.

        Args:
            fail: deprecated; ``fail=False`` was the old spelling of
                ``defer_failure`` for one call.

        Returns:
            Chunks to write in order (a large unmasked message may be two
            chunks, its header and the very ``bytes`` object that was sent);
            ``b""`` means: close the TCP connection (half-close, then close)
            after writing what precedes.
        """
        if fail is not None:
            warnings.warn(
                "data_to_send(fail=...) is deprecated; set Protocol.defer_failure and call commit_failure()",
                DeprecationWarning,
                stacklevel=2,
            )
        if self._pending_failure is not None and (not self.defer_failure if fail is None else fail):
            self.commit_failure()
        return self._take_output()

    def _take_output(self) -> list[bytes]:
        """``data_to_send()`` with ``defer_failure`` set: what was queued, handed over."""
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
        if self._input_ended:
            return  # a close frame or an error is held: nothing later counts
        flow = self.flow
        if flow.held or flow.unparsed:
            flow.unparsed += data  # behind what waits already
            self._drain()
            return
        if not flow.active:
            self._parse(data)
            return
        if flow.blocked():
            flow.unparsed += data
            self._parse_ahead()
            return
        view = data
        if type(view) is not memoryview or view.itemsize != 1 or view.ndim != 1 or not view.c_contiguous:
            view = memoryview(data).cast("B")  # a transport's read buffer is already one
        size = len(view)
        start = 0
        while True:
            frames, used, error = self._feed(view[start:] if start else view, PARSE_FRAMES)
            self._process(frames, error)
            start += used
            if start >= size or self._discard:
                return
            if flow.held or flow.blocked():
                # Delivery stopped: the rest stays raw, at its wire size.
                flow.unparsed += view[start:]
                self._parse_ahead()
                return

    def receive_eof(self) -> None:
        """Signal that the peer closed the TCP connection (EOF).

        The connection becomes ``CLOSED``; if we had not closed our side,
        ``data_to_send`` ends with ``b""``. Idempotent. During the opening
        handshake (``CONNECTING``, client and server roles), this fails it:
        ``handshake_exc`` becomes an :class:`~fastws.InvalidMessage`. While
        input waits (see :attr:`paused`), the EOF waits behind it.
        """
        if self._eof_rcvd:
            return
        flow = self.flow
        if (flow.held or flow.unparsed) and not self._discard:
            self._eof_held = True
            return
        self._eof_held = False
        if self.state is _CONNECTING and self.handshake_exc is None:
            self.handshake_exc = InvalidMessage("connection closed during the opening handshake")
        if self._pending_failure is not None:
            self.commit_failure()
        self._eof_rcvd = True
        self._discard = True
        self._drop_input()
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
            if rest is not None and self.state is _OPEN and rest:
                self.receive_data(rest)
            return
        if self._discard or state is _CLOSED or self._input_ended:
            # Section 7.1.7: "An endpoint MUST NOT continue to attempt to
            # process data (including a responding Close frame) from the
            # remote endpoint after being instructed to _Fail the WebSocket
            # Connection_"; and nothing may follow the peer's close frame.
            return
        # CLOSING after our close frame: look for the peer's close frame.
        self._parse(data)

    def _receive_handshake(self, data: bytes) -> bytes | None:
        """Process opening-handshake bytes (state ``CONNECTING``).

        Subclasses implement it. When the handshake completes, they set
        ``self.state = State.OPEN`` (and ``subprotocol`` / ``extensions``)
        and return the bytes that followed it, which are parsed as frames.
        When it fails, they set ``handshake_exc`` and call :meth:`_send_eof`.

        Returns:
            The bytes left over after the handshake, or None while it is
            incomplete.

        Raises:
            InvalidState: always, in the base class.
        """
        raise InvalidState("the base Protocol has no opening handshake; create it in state OPEN")

    # -- frame processing ----------------------------------------------------------

    def _parse(self, data: Any) -> None:
        """Parse bytes and process the frames."""
        frames, _, error = self._feed(data)
        self._process(frames, error)

    def _feed(self, data: Any, max_frames: int = 0) -> tuple[list[Frame], int, ProtocolError | None]:
        """Parse bytes: the frames (at most ``max_frames``; 0: all), the bytes
        consumed, and the error that stopped the parser, if any (the frames
        completed before it come first)."""
        try:
            if max_frames:
                frames, used = self._parser.feed_some(data, max_frames)
                return frames, used, None
            return self._parser.feed(data), len(data), None
        except ProtocolError as exc:
            # It is kept (``error``); its traceback would keep the parser's
            # frames, and with them this protocol, in a reference cycle.
            exc.__traceback__ = None
            return exc.frames, len(data), exc

    def _process(self, frames: list[Frame], error: ProtocolError | None) -> None:
        """Process complete frames in order, then the error that ended them.

        Runs of whole messages go through the fast lane (``deliver_frames``),
        every other frame through :meth:`_frame`. The frames after the point
        where a flow-control limit stopped delivery are held.
        """
        end = len(frames)
        taken = 0
        try:
            while taken < end:
                lane = self._lane()
                if lane is not None:
                    sink, wrap, stop = lane
                    taken, outcome = deliver_frames(frames, taken, sink, wrap, stop)
                    if outcome is not None:
                        if isinstance(outcome, BaseException):
                            raise outcome  # from on_message: held below, like any other
                        if self._discard or self.flow.blocked():
                            break
                    if taken == end:
                        continue
                frame = frames[taken]
                taken += 1
                if self._frame(frame):
                    break
            else:
                if error is not None:
                    self._fail_exc(error)
                return
        except BaseException:
            # on_message raised: keep what follows for resume(), lose nothing.
            self.flow.pause()
            self._hold(frames, taken, error)
            raise
        if not self._discard:
            self._hold(frames, taken, error)

    def _lane(self) -> tuple[Callable[[Any], object], bool, Callable[[int], bool] | None] | None:
        """``deliver_frames``' sink, wrap and stop; None without a lane (extension,
        message in progress, not OPEN). A list's or deque's ``append`` cannot call
        back: checked only when a queue limit counts; a callback after each message.
        """
        if not self._plain or self.state is not _OPEN or self._reassembler.opcode or self._discard:
            return None
        flow = self.flow
        sink = self._on_message
        if sink is None:
            return self._events.append, True, flow.delivered if flow.limited else None
        if self._sink_is_queue:
            return sink, False, flow.delivered if flow.limited else None
        return sink, False, self._after_callback

    def _after_callback(self, size: int) -> bool:
        """After ``on_message`` took a message of ``size``: whether to stop the fast lane."""
        flow = self.flow
        return (
            (flow.delivered(size) if flow.limited else flow.blocked())
            or self._discard
            or self.state is not _OPEN
        )

    def _hold(self, frames: list[Frame], start: int, error: ProtocolError | None) -> None:
        """Hold ``frames[start:]``, then ``error``; pongs are reported now.

        Pongs answer our pings (keepalive): they are seen at once, ahead of
        the held frames. Everything else waits its turn, pings included, so
        that nothing is answered that a held frame would have stopped. A
        close frame, like an error, ends the input: nothing after it counts.
        """
        flow = self.flow
        for index in range(start, len(frames)):
            frame = frames[index]
            opcode = frame.opcode
            if opcode is _PONG and not (frame.rsv1 or frame.rsv2 or frame.rsv3):
                self._frame(frame)  # an invalid one fails the connection in its turn
                continue
            flow.hold_frame(frame)
            if opcode is _CLOSE:
                self._end_input()
                return
        if error is not None:
            flow.hold_end(error)
            self._end_input()

    def _end_input(self) -> None:
        """A close frame or an error is held: nothing received later counts."""
        self._input_ended = True
        self.flow.unparsed.clear()

    def _parse_ahead(self) -> None:
        """While delivery is stopped, parse some raw input for its control frames."""
        flow = self.flow
        unparsed = flow.unparsed
        while unparsed and flow.held_cost < PARSE_AHEAD and not self._input_ended:
            frames, used, error = self._feed(unparsed, _AHEAD_FRAMES)
            del unparsed[:used]
            self._hold(frames, 0, error)

    def _drain(self) -> None:
        """Go on with what waits, in order, while no limit stops it.

        Held frames first, then raw input a slice at a time, then the
        peer's EOF; when a limit stops delivery, parse ahead for control
        frames.
        """
        flow = self.flow
        unparsed = flow.unparsed
        while True:
            if self._discard:
                self._drop_input()
                return
            held = flow.held
            if held:
                item = held[0]
                if isinstance(item, ProtocolError):
                    flow.pop_end()
                    self._fail_exc(item)
                    continue
                # A data frame waits while a limit holds; a control frame
                # delivers no message and goes through at once.
                if item.opcode < 8 and self.state is _OPEN and flow.blocked():
                    break
                try:
                    self._frame(flow.pop_frame())
                except BaseException:
                    flow.pause()  # on_message raised: the rest waits
                    raise
            elif unparsed:
                if self.state is _OPEN and flow.blocked():
                    break
                frames, used, error = self._feed(unparsed, PARSE_FRAMES)
                del unparsed[:used]  # before processing, which may end the input
                self._process(frames, error)
            else:
                if self._eof_held:
                    self.receive_eof()
                return
        self._parse_ahead()

    def _drop_input(self) -> None:
        """Forget what waits (the connection closed or failed); a held EOF counts now."""
        self.flow.drop()
        if self._eof_held:
            self.receive_eof()

    def _frame(self, frame: Frame) -> bool:
        """Process one frame, any kind, with every check.

        Returns:
            True when processing must stop here: the connection closed or
            failed (nothing later counts), or a flow-control limit was
            reached (later frames are held).
        """
        if self._discard:
            return True
        opcode = frame.opcode
        if (
            (opcode is _BINARY or opcode is _TEXT)
            and frame.fin
            and self._plain
            and not (frame.rsv1 or frame.rsv2 or frame.rsv3)
            and self.state is _OPEN
            and not self._reassembler.opcode
        ):
            # The common case first: a whole message in one plain frame.
            return self._deliver(opcode, frame.payload)
        rsv = (0x40 if frame.rsv1 else 0) | (0x20 if frame.rsv2 else 0) | (0x10 if frame.rsv3 else 0)
        if opcode >= 8:
            # Section 5.2: "RSV1, RSV2, RSV3: MUST be 0 unless an extension
            # is negotiated that defines meanings for non-zero values."
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
                    self._output.append(encode_frame(_PONG, frame.payload, mask=self._writer.mask))
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
        try:
            message = self._reassembler.feed(frame)
        except ProtocolError as exc:
            return self._fail_exc(exc)
        if message is None:
            return False
        return self._deliver(*message)

    def _deliver(self, opcode: int, payload: bytes | bytearray) -> bool:
        """Emit a complete message.

        Returns:
            True if it failed the connection, or if a flow-control limit
            stops delivery after it.
        """
        sink = self._on_message
        message: str | bytes
        if opcode == _TEXT:
            try:
                message = payload.decode()
            except UnicodeDecodeError:
                return self._fail_exc(InvalidUTF8("invalid UTF-8 in a text message"))
        else:
            # Binary payloads are bytes here: the reassembler joins fragments
            # into a bytes object (only text keeps its bytearray to decode).
            message = payload  # type: ignore[assignment]
        if sink is None:
            self._events.append(TextMessage(message) if opcode == _TEXT else BinaryMessage(message))  # type: ignore[arg-type]
        else:
            sink(message)
        flow = self.flow
        if flow.limited:
            return flow.delivered(len(payload))
        return flow.paused or flow.worked_out()


def _deprecated_max_size(options: dict[str, Any]) -> int | None:
    """Accept ``max_message_size=`` (the old name of ``max_size``) with a warning.

    Raises:
        TypeError: another unknown keyword argument.
    """
    unknown = [name for name in options if name != "max_message_size"]
    if unknown:
        raise TypeError(f"Protocol() got an unexpected keyword argument {unknown[0]!r}")
    warnings.warn("max_message_size is deprecated; use max_size", DeprecationWarning, stacklevel=3)
    value: int | None = options["max_message_size"]
    return value
