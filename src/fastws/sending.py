"""The sending half of a connection: messages to frames (RFC 6455 sections 5.2-5.5, 9).

:class:`FrameWriter` turns an outgoing message or fragment into the bytes of
its frames: cut at ``fragment_size``, passed through the negotiated
extensions (permessage-deflate compresses here), masked with a fresh key by
a client (section 5.3). A large unmasked ``bytes`` message is not copied into
its frame: it comes out as two chunks, the header and the very object, for a
transport to send with one ``writev``.

:class:`Sender` is the part of :class:`~fastws.protocol.Protocol` that sends
data and control frames: ``send_text``, ``send_binary``,
``send_continuation``, ``send_ping``, ``send_pong``. It checks that the
state allows them; the closing handshake (``send_close``) is the protocol's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .codec import Frame, encode_frame, encode_frame_header
from .constants import MAX_CONTROL_PAYLOAD, Opcode, State
from .exceptions import InvalidState

if TYPE_CHECKING:
    from .extensions.base import Extension

__all__ = ["ZERO_COPY_MIN", "FrameWriter", "Sender"]

#: Unmasked ``bytes`` messages of at least this many bytes are written as
#: header + payload instead of being copied into one frame: past this size
#: the copy costs more than a second chunk does.
ZERO_COPY_MIN = 65536
_ZERO_COPY = ZERO_COPY_MIN  # a C integer in the compiled twin (sending.pxd)

_CONT = Opcode.CONTINUATION
_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_PING = Opcode.PING
_PONG = Opcode.PONG
_OPEN = State.OPEN
_CLOSING = State.CLOSING


class FrameWriter:
    """Encodes the data frames of one side of a connection.

    Args:
        mask: True for a client (every frame masked with a fresh key), None
            for a server.
        fragment_size: largest payload of a frame; None: one frame per call.
        extensions: the negotiated extensions, applied in negotiation order.
        meter: where the bytes passed through the extensions are added up,
            in its ``work`` attribute (the connection's
            :class:`~fastws.flow.FlowControl`).
    """

    __slots__ = ("extensions", "fragment_size", "mask", "meter")

    def __init__(
        self,
        *,
        mask: bool | None,
        fragment_size: int | None = None,
        extensions: Sequence[Extension] = (),
        meter: Any,
    ) -> None:
        self.mask = mask
        self.fragment_size = fragment_size
        self.extensions = list(extensions)
        self.meter = meter

    def write(self, output: list[bytes], opcode: int, payload: Any, fin: bool) -> None:
        """Append the frames of a message or fragment to ``output``.

        Args:
            output: where the encoded chunks go, in order.
            opcode: ``Opcode.TEXT`` / ``Opcode.BINARY`` for a message or its
                first fragment, ``Opcode.CONTINUATION`` after that.
            payload: bytes-like; text already UTF-8 encoded.
            fin: whether this ends the message.

        Raises:
            TypeError: ``payload`` is not bytes-like.
        """
        if self.extensions:
            self._write_extended(output, opcode, payload, fin)
            return
        size = self.fragment_size
        mask = self.mask
        if size is None or len(payload) <= size:
            if type(payload) is bytes and len(payload) >= _ZERO_COPY and mask is None:
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

    def _write_extended(self, output: list[bytes], opcode: int, payload: Any, fin: bool) -> None:
        """``write`` through the extensions, one piece of ``fragment_size`` at a time."""
        size = self.fragment_size
        data = bytes(payload)
        self.meter.work += len(data)
        pieces = (
            [data]
            if size is None or len(data) <= size
            else [data[i : i + size] for i in range(0, len(data), size)]
        )
        last = len(pieces) - 1
        for i, piece in enumerate(pieces):
            frame = Frame(opcode, piece, fin if i == last else False)
            for extension in self.extensions:
                frame = extension.encode(frame)
            output.append(
                encode_frame(
                    frame.opcode,
                    frame.payload,
                    fin=frame.fin,
                    mask=self.mask,
                    rsv1=frame.rsv1,
                    rsv2=frame.rsv2,
                    rsv3=frame.rsv3,
                )
            )
            opcode = _CONT


class Sender:
    """Sending data and control frames: a base of :class:`~fastws.protocol.Protocol`.

    It holds the connection's ``state``, its :class:`FrameWriter`
    (``_writer``), its output list (``_output``) and whether EOF was sent
    (``_eof_sent``).
    """

    # Also declared, with the same names, in sending.pxd (the compiled twin).
    __slots__ = ("_eof_sent", "_output", "_send_frag", "_writer", "state")

    def __init__(self, state: State, writer: FrameWriter) -> None:
        self.state: State = state
        self._writer: FrameWriter = writer
        self._output: list[bytes] = []
        self._eof_sent = False
        # Outgoing fragmented message: its opcode (0: none).
        self._send_frag = 0

    def _check_data_send(self, continuation: bool) -> None:
        if self.state is not _OPEN:
            raise InvalidState(f"cannot send a data frame in state {self.state.name}")
        if continuation:
            if not self._send_frag:
                raise InvalidState("no fragmented message is in progress")
        elif self._send_frag:
            raise InvalidState("a fragmented message is in progress; use send_continuation()")

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
        if self.state is not _OPEN or self._send_frag:
            self._check_data_send(False)  # raises
        self._writer.write(self._output, _TEXT, data.encode() if isinstance(data, str) else data, fin)
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
        if self.state is not _OPEN or self._send_frag:
            self._check_data_send(False)  # raises
        self._writer.write(self._output, _BINARY, data, fin)
        if not fin:
            self._send_frag = _BINARY

    def _send_whole(self, data: str | bytes | bytearray | memoryview) -> None:
        """Send a whole message: ``str`` as text, bytes-like as binary.

        ``send_text`` / ``send_binary`` without ``fin``, in one positional
        call, for the I/O layers' sends of whole messages.

        Raises:
            InvalidState: as :meth:`send_binary`.
            TypeError: ``data`` is neither str nor bytes-like.
        """
        if self.state is not _OPEN or self._send_frag:
            self._check_data_send(False)  # raises
        if isinstance(data, str):
            self._writer.write(self._output, _TEXT, data.encode(), True)
        else:
            self._writer.write(self._output, _BINARY, data, True)

    def send_continuation(self, data: str | bytes | bytearray | memoryview, *, fin: bool) -> None:
        """Send the next fragment of the message started with ``fin=False``.

        Args:
            data: the fragment (``str`` is encoded to UTF-8).
            fin: True for the last fragment.

        Raises:
            InvalidState: the connection is not OPEN, or no fragmented
                message is in progress.
        """
        self._check_data_send(True)
        self._writer.write(self._output, _CONT, data.encode() if isinstance(data, str) else data, fin)
        if fin:
            self._send_frag = 0

    def _send_control(self, opcode: int, data: Any) -> None:
        # Section 5.5.1: control frames may be sent after a close frame
        # (only data frames are forbidden), but not once EOF was sent.
        if self.state is not _OPEN and (self.state is not _CLOSING or self._eof_sent):
            raise InvalidState(f"cannot send a control frame in state {self.state.name}")
        payload = data.encode() if isinstance(data, str) else bytes(data)
        if len(payload) > MAX_CONTROL_PAYLOAD:
            # Section 5.5: "All control frames MUST have a payload length of
            # 125 bytes or less".
            raise ValueError(f"control frame too long: {len(payload)} bytes")
        self._output.append(encode_frame(opcode, payload, mask=self._writer.mask))

    def send_ping(self, data: str | bytes = b"") -> None:
        """Send a ping.

        Args:
            data: the application data, at most 125 bytes.

        Raises:
            InvalidState: the connection is neither OPEN nor CLOSING.
            ValueError: ``data`` is longer than 125 bytes.
        """
        self._send_control(_PING, data)

    def send_pong(self, data: str | bytes = b"") -> None:
        """Send a pong (as an answer to a ping, or unsolicited as a heartbeat).

        Args:
            data: the application data, at most 125 bytes.

        Raises:
            InvalidState: the connection is neither OPEN nor CLOSING.
            ValueError: ``data`` is longer than 125 bytes.
        """
        self._send_control(_PONG, data)
