"""The header lines of an HTTP head read in one pass (pure-Python twin).

:class:`fastws.http11.RequestParser` and ``ResponseParser`` read a head
that arrived whole with :func:`scan_fields` instead of line by line. It
accepts exactly the lines that the line-by-line path accepts (RFC 9110
section 5: ``field-name ":" OWS field-value OWS`` and CRLF, read as
ISO-8859-1); on anything else it returns None, and that path, which gives
the precise error, reads the head instead.

``fastws._headscan`` is the compiled twin: same names, results and
exceptions. ``fastws._twins`` picks the twin, with the codec's.
"""

from __future__ import annotations

import re

from .headers import _TOKEN

__all__ = ["IMPLEMENTATION", "scan_fields"]

IMPLEMENTATION = "python"

# One pass over a block of header lines: each match is a line's
# (name, value, "") with the value's leading whitespace left out, except
# that from the first position where no line matches, the rest of the block
# is one match ("", "", rest). A value starts with a visible character, so
# the whitespace before it is never split two ways: a line matches in one
# way only, and a line that does not match is refused in time linear in its
# size. The block is valid exactly when that last kind of match is absent.
_FIELD_VALUE = r":[ \t]*((?:[\x21-\x7e\x80-\xff][\t\x20-\x7e\x80-\xff]*)?)\r\n"
_fields_re = re.compile("(" + _TOKEN + ")" + _FIELD_VALUE + r"|([\s\S]+)")
_OWS = (" ", "\t")


def scan_fields(
    data: bytes, start: int, end: int, max_headers: int
) -> tuple[list[str], dict[str, list[str]]] | None:
    """The header lines of ``data[start:end]`` as ``(fields, index)``, or None.

    Args:
        data: the bytes of a head.
        start: where its first header line starts.
        end: just past the CRLF of its last header line (``start`` when it
            has none).
        max_headers: the most lines accepted.

    Returns:
        ``fields``: name, value, name, value, ... in order, names as sent,
        values without the whitespace around them; ``index``: each
        lower-cased name and its values, in order (what
        :class:`~fastws.headers.Headers` keeps). None when a line is
        malformed or there are more than ``max_headers``.

    Raises:
        TypeError: ``data`` is not ``bytes``.
        ValueError: ``start`` and ``end`` do not lie within ``data``, in order.
    """
    if type(data) is not bytes:
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    if start < 0 or end > len(data) or start > end:
        raise ValueError("start and end must lie within data, in order")
    # Field names are ASCII tokens and values are read as ISO-8859-1:
    # decoding the block once gives the same strings as per field.
    lines = _fields_re.findall(data[start:end].decode("latin-1"))
    if len(lines) > max_headers or (lines and lines[-1][2]):
        return None
    fields: list[str] = []
    index: dict[str, list[str]] = {}
    for name, value, _ in lines:
        if value[-1:] in _OWS:
            value = value.rstrip(" \t")
        fields.append(name)
        fields.append(value)
        key = name.lower()
        values = index.get(key)
        if values is None:
            index[key] = [value]
        else:
            values.append(value)
    return fields, index
