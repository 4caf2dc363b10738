"""Data frames to messages: fragmentation and extensions (RFC 6455 sections 5.4, 9).

:class:`Reassembler` takes the data frames of a connection in order (text,
binary, continuation) once the protocol has checked their reserved bits, and
returns each message when its last frame arrives. It owns what a message in
progress needs: the extensions that decode frames (permessage-deflate
inflates them here), the buffer its fragments are joined into, the size and
fragment-count limits, and the UTF-8 validation of text that an extension
transformed (the codec validates all other text as it arrives). It knows
nothing of control frames, state or output: the protocol does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .codec import Utf8Validator
from .constants import Opcode
from .exceptions import InvalidFrame, InvalidUTF8, PayloadTooBig

if TYPE_CHECKING:
    from .codec import Frame
    from .extensions.base import Extension

__all__ = ["Reassembler"]

_CONT = Opcode.CONTINUATION
_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY


class Reassembler:
    """Joins the data frames of each message, through the extensions.

    Args:
        extensions: the negotiated extensions, in negotiation order; frames
            go through them in reverse order (section 9.1).
        max_size: largest message, in bytes once decoded; None: no limit.
        max_fragments: most frames a message may be split into; None: no
            limit.
        meter: where the bytes the extensions produce are added up, in its
            ``work`` attribute (the connection's
            :class:`~fastws.flow.FlowControl`).

    Attributes:
        opcode: the opcode of the fragmented message in progress
            (``Opcode.TEXT`` or ``Opcode.BINARY``), 0 when none is; read
            only.
    """

    __slots__ = ("_buffer", "_count", "_utf8", "extensions", "max_fragments", "max_size", "meter", "opcode")

    def __init__(
        self,
        extensions: Sequence[Extension] = (),
        *,
        max_size: int | None = None,
        max_fragments: int | None = None,
        meter: Any,
    ) -> None:
        self.extensions = list(extensions)
        self.max_size = max_size
        self.max_fragments = max_fragments
        self.meter = meter
        # The message in progress: its opcode (0: none; an attribute, not a
        # property, as the protocol reads it for every read), its payload so
        # far (fragments are joined as they arrive, so they cost no memory
        # beyond the message), its frame count, the validator of its text.
        self.opcode = 0
        self._buffer = bytearray()
        self._count = 0
        self._utf8: Utf8Validator | None = None

    @property
    def in_message(self) -> bool:
        """Whether a fragmented message is open (its first frame arrived)."""
        return self.opcode != 0

    def feed(self, frame: Frame) -> tuple[int, bytes | bytearray] | None:
        """Take the next data frame; return the message it completes, if any.

        Args:
            frame: a text, binary or continuation frame.

        Returns:
            ``(opcode, payload)`` when ``frame`` ends a message (``Opcode.TEXT``
            with its UTF-8 bytes, not decoded yet, or ``Opcode.BINARY``), else
            None.

        Raises:
            InvalidFrame: a continuation frame without an open message, or a
                new message inside an open one (1002).
            PayloadTooBig: the message exceeds ``max_size`` once decoded, or
                ``max_fragments`` (1009).
            InvalidUTF8: decoded text is not UTF-8 (1007).
            ProtocolError: an extension refused the frame.
        """
        # Section 5.4: fragments of one message arrive in order, a
        # continuation frame only inside a fragmented message, and "the
        # fragments of one message MUST NOT be interleaved between the
        # fragments of another message".
        opcode = self.opcode
        if frame.opcode == _CONT:
            if not opcode:
                raise InvalidFrame("continuation frame without a message to continue")
            limit = self.max_fragments
            if limit is not None and self._count >= limit:
                raise PayloadTooBig(f"message has more than {limit} fragments")
        elif opcode:
            raise InvalidFrame("new data frame inside a fragmented message")
        else:
            opcode = _TEXT if frame.opcode == _TEXT else _BINARY
        payload = frame.payload
        if self.extensions:
            before = len(self._buffer)
            limit = self.max_size
            for extension in reversed(self.extensions):
                frame = extension.decode(frame, max_size=None if limit is None else limit - before)
            payload = frame.payload
            self.meter.work += len(payload)
            size = before + len(payload)
            if limit is not None and size > limit:
                raise PayloadTooBig(f"message of at least {size} bytes exceeds the limit of {limit} bytes")
            if not self.opcode and opcode == _TEXT and not frame.fin:
                # The codec could not validate text that an extension
                # transformed: validate the decoded fragments one by one, so
                # an invalid byte still fails in the fragment where it shows.
                self._utf8 = Utf8Validator()
        if frame.fin and not self.opcode:
            return opcode, payload  # a message in one frame: no copy
        self.opcode = opcode
        self._buffer += payload
        self._count += 1
        utf8 = self._utf8
        if utf8 is not None and not utf8.feed(payload):
            raise InvalidUTF8("invalid UTF-8 in a text message")
        if not frame.fin:
            return None
        buffer = self._buffer
        self.opcode = 0
        self._buffer = bytearray()
        self._count = 0
        if utf8 is not None:
            self._utf8 = None
            # A code point may be split across fragments, but not left open
            # at the end of the message.
            if not utf8.finish():
                raise InvalidUTF8("incomplete UTF-8 sequence at the end of a text message")
        return opcode, buffer if opcode == _TEXT else bytes(buffer)
