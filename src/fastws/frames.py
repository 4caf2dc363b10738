"""Close frames as values: what :class:`fastws.ConnectionClosed` reports.

The codec (:mod:`fastws.codec`) reads and writes frames; this module gives
the payload of a close frame a name of its own, as websockets does, so that
an exception can say which close frame was received and which was sent.
"""

from __future__ import annotations

import dataclasses

from .constants import CloseCode
from .escaping import escape

__all__ = ["Close"]


@dataclasses.dataclass(frozen=True, slots=True)
class Close:
    """The code and reason of a close frame (RFC 6455 section 5.5.1).

    ``str()`` gives ``1000 (normal closure) bye``, with the reason's
    control characters escaped (it comes from the peer); ``repr()`` and the
    attributes keep it as it was received.

    Attributes:
        code: the status code; 1005 (``NO_STATUS_RCVD``) for a close frame
            without one.
        reason: the reason, decoded from UTF-8 ("" when absent).
    """

    code: int
    reason: str = ""

    def __str__(self) -> str:
        if 3000 <= self.code < 4000:
            explanation = "registered"
        elif 4000 <= self.code < 5000:
            explanation = "private use"
        else:
            try:
                explanation = CloseCode(self.code).name.lower().replace("_", " ")
            except ValueError:
                explanation = "unknown"
        text = f"{self.code} ({explanation})"
        return f"{text} {escape(self.reason)}" if self.reason else text
