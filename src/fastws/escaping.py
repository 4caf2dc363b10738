"""Make text that came from a peer safe to write to a log or a terminal.

A peer chooses close reasons, HTTP reason phrases, header values and message
text. Written raw, CR and LF forge log lines, ANSI escape sequences (ESC,
or the one-byte C1 CSI ``\\x9b``) retitle or clear a terminal, and the
Unicode bidirectional overrides reorder what a reader sees. :func:`escape`
renders every such character as a visible escape (``\\r``, ``\\x1b``,
``\\u202e``), the way ``repr()`` does, and leaves every other character,
quotes and backslashes included, as it is.

Every place where fastws renders peer-controlled text goes through it:
exception messages (``str()`` of every :class:`fastws.WebSocketError`), log
lines, and the output of the ``fastws`` command.
"""

from __future__ import annotations

import re

__all__ = ["escape"]

# C0 controls and DEL, the C1 controls (NEL U+0085 among them), the bidi
# marks, embeddings, overrides and isolates (the "Trojan Source" set, CVE-
# 2021-42574), the line and paragraph separators that str.splitlines() and
# some log viewers treat as line breaks, and lone surrogates, which no
# terminal can encode.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")

_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _render(match: re.Match[str]) -> str:
    char = match.group()
    short = _SHORT.get(char)
    if short is not None:
        return short
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """Escape the characters of ``text`` that could change a log or a terminal.

    Args:
        text: text that came from a peer (a close reason, a header value,
            a message).

    Returns:
        ``text`` with control characters (C0, DEL, C1), bidirectional
        formatting characters, line and paragraph separators and lone
        surrogates written as ``\\t``, ``\\n``, ``\\r``, ``\\xNN`` or
        ``\\uNNNN``; ``text`` itself when it has none. Escaping escaped
        text changes nothing.
    """
    # Every unsafe character is also non-printable for str.isprintable(),
    # so the common case costs one C-level scan.
    if text.isprintable():
        return text
    return _UNSAFE.sub(_render, text)
