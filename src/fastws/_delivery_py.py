"""The protocol's fast lane for whole messages (pure-Python twin).

Most messages arrive as one frame: final, no reserved bit, text or binary.
The sans-IO protocol hands a run of such frames to :func:`deliver_frames`,
which turns each into a message and passes it on, with none of the checks
that fragments, control frames and extensions need; the protocol handles
every other frame itself, one at a time.

``fastws._delivery`` is the compiled twin: same names, results and
exceptions (it also leaves the events it makes untracked by the garbage
collector, since they hold only ``str`` or ``bytes``). ``fastws.codec``
picks the twin, with the codec's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._codec_py import Frame
from .constants import Opcode
from .events import BinaryMessage, TextMessage

__all__ = ["IMPLEMENTATION", "deliver_frames"]

IMPLEMENTATION = "python"

_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY


def deliver_frames(
    frames: list[Any],
    start: int,
    sink: Callable[[Any], object],
    wrap: bool,
    stop: Callable[[int], bool] | None,
) -> tuple[int, bool | BaseException | None]:
    """Hand ``frames[start:]`` over as messages while each is a whole message.

    A frame is a whole message when its ``fin`` is ``True``, its ``rsv1``,
    ``rsv2`` and ``rsv3`` are ``False`` (those very objects, as the parser
    makes them), its opcode is ``Opcode.TEXT`` or ``Opcode.BINARY`` (the
    members themselves), its payload is ``bytes`` (as parsed payloads
    always are) and, for text, decodes as UTF-8. Each
    becomes ``str`` (text) or its payload (binary), wrapped in a
    :class:`~fastws.events.TextMessage` / :class:`~fastws.events.BinaryMessage`
    when ``wrap`` is true, and goes to ``sink``. Then, unless ``stop`` is
    None, ``stop(size)`` is called with the payload's size in bytes.

    Any other frame, or an object that is not this twin's ``Frame``, ends
    the run.

    Args:
        frames: parsed frames.
        start: the index of the first frame to look at.
        sink: called with each message.
        wrap: whether messages are events rather than ``str`` / ``bytes``.
        stop: called after each message; true ends the run there.

    Returns:
        ``(index, outcome)``: ``index`` is that of the first frame not
        handed over; ``outcome`` is None when the lane stopped at a frame
        it does not take (or at the end), True when ``stop`` said so, and
        the exception ``sink`` or ``stop`` raised otherwise (the message
        counts as handed over).
    """
    index = start
    end = len(frames)
    while index < end:
        frame = frames[index]
        if type(frame) is not Frame:
            break
        if (
            frame.fin is not True
            or frame.rsv1 is not False
            or frame.rsv2 is not False
            or frame.rsv3 is not False
        ):
            break
        payload = frame.payload
        if type(payload) is not bytes:
            break
        opcode = frame.opcode
        message: Any
        if opcode is _TEXT:
            try:
                text = payload.decode()
            except UnicodeDecodeError:
                break
            message = TextMessage(text) if wrap else text
        elif opcode is _BINARY:
            message = BinaryMessage(payload) if wrap else payload
        else:
            break
        index += 1
        try:
            sink(message)
            if stop is not None and stop(len(payload)):
                return index, True
        except BaseException as exc:
            return index, exc
    return index, None
