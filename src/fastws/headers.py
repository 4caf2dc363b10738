"""HTTP header fields: the :class:`Headers` multi-dict and the list grammars.

* :class:`Headers`, a case-insensitive, order-preserving multi-dict of
  header fields, which validates names and values;
* parsers and builders of the list-valued headers of the opening handshake:
  token lists (``Connection``), protocol lists (``Upgrade``), subprotocol
  lists (``Sec-WebSocket-Protocol``) and extension lists
  (``Sec-WebSocket-Extensions``), after RFC 9110 section 5.6 and RFC 6455
  sections 4.1 and 9.1.

Field values are decoded as ISO-8859-1, so ``obs-text`` bytes survive a
round trip unchanged; field names are ASCII tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .exceptions import InvalidHeader

if TYPE_CHECKING:
    from .extensions.base import ExtensionHeader, ExtensionParameter

__all__ = [
    "Headers",
    "HeadersLike",
    "build_extension_list",
    "build_subprotocol_list",
    "parse_extension_list",
    "parse_subprotocol_list",
    "parse_token_list",
    "parse_upgrade_list",
]

# RFC 9110 section 5.6.2: token = 1*tchar.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_token_re = re.compile(_TOKEN)
_btoken_re = re.compile(_TOKEN.encode())
# RFC 9110 section 5.5: field-value = *field-content, made of VCHAR, obs-text,
# SP and HTAB; CR, LF, NUL and the other controls are forbidden.
_value_re = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_bvalue_re = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
# RFC 9110 section 5.6.3: OWS = *( SP / HTAB ).
_ows_re = re.compile(r"[ \t]*")
# RFC 9110 section 5.6.4: quoted-string with qdtext and quoted-pair.
_quoted_re = re.compile(r'"((?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*)"')
_unquote_re = re.compile(r"\\(.)")
# RFC 9110 section 7.8: protocol = protocol-name [ "/" protocol-version ].
_protocol_re = re.compile(_TOKEN + r"(?:/" + _TOKEN + r")?")


# --------------------------------------------------------------------------
# Headers


class Headers:
    """A case-insensitive, order-preserving multi-dict of HTTP header fields.

    Names keep the case they were given in (:meth:`raw_items`) and compare
    case-insensitively. ``headers[name]`` is the first value (KeyError when
    absent); :meth:`get_all` returns every value; ``headers[name] = value``
    replaces every field of that name, :meth:`add` appends one.

    Names must be RFC 9110 tokens and values RFC 9110 field values (no CR,
    LF or NUL); leading and trailing whitespace of values is stripped.

    The fields are kept in one flat list, name and value in turn; an index
    by lower-cased name makes lookups fast while a handshake is checked, and
    :meth:`compact` drops it once the headers are only kept for reference
    (lookups then scan the fields): a connection that keeps its request
    pays for its header strings and 16 bytes per field, not more.

    Args:
        items: a mapping, another :class:`Headers` or pairs to add in order.

    Raises:
        ValueError: a name or value is not allowed in an HTTP header.
    """

    __slots__ = ("_fields", "_index")

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __init__(self, items: HeadersLike | None = None) -> None:
        # name, value, name, value, ... (names as given)
        self._fields: list[str] = []
        # lower-cased name -> its values; None once compacted
        self._index: dict[str, list[str]] | None = {}
        if items is not None:
            self.update(items)

    @classmethod
    def _unchecked(cls, fields: list[str]) -> Headers:
        """Headers over ``fields`` (name, value, ...: valid already), compact (see :meth:`compact`)."""
        headers = cls.__new__(cls)
        headers._fields = fields
        headers._index = None
        return headers

    def _add_unchecked(self, name: str, value: str) -> None:
        # Used by the parser, which validated the bytes already.
        fields = self._fields
        fields.append(name)
        fields.append(value)
        index = self._index
        if index is not None:
            key = name.lower()
            if key in index:
                index[key].append(value)
            else:
                index[key] = [value]

    def _values(self, name: str) -> list[str] | None:
        """The values of ``name`` (not a copy), or None when absent."""
        key = name.lower()
        index = self._index
        if index is not None:
            return index.get(key)
        fields = self._fields
        found = [fields[i + 1] for i in range(0, len(fields), 2) if fields[i].lower() == key]
        return found or None

    def _by_name(self) -> dict[str, list[str]]:
        """Every value by lower-cased name, in order: the lookup index itself.

        For code that looks up many names at once (the handshake checks);
        the lists are not copies and must not be changed. Compacted
        headers give a fresh dictionary and stay compact.
        """
        index = self._index
        if index is not None:
            return index
        fields = self._fields
        built: dict[str, list[str]] = {}
        for i in range(0, len(fields), 2):
            built.setdefault(fields[i].lower(), []).append(fields[i + 1])
        return built

    def compact(self) -> None:
        """Drop the lookup index: keep the fields in their least memory.

        Everything works as before; lookups scan the fields instead of
        using the index. Adding a field rebuilds the index.
        """
        self._index = None

    def add(self, name: str, value: str) -> None:
        """Append a field, after any of the same name.

        Raises:
            ValueError: ``name`` is not a token or ``value`` is not a valid
                field value.
        """
        if not isinstance(name, str) or _token_re.fullmatch(name) is None:
            raise ValueError(f"invalid header name: {name!r}")
        if not isinstance(value, str):
            raise TypeError(f"header value must be str, not {type(value).__name__!r}")
        value = value.strip(" \t")
        if _value_re.fullmatch(value) is None:
            raise ValueError(f"invalid value for header {name}: {value!r}")
        if self._index is None:
            self._index = self._by_name()
        self._add_unchecked(name, value)

    def update(self, items: HeadersLike) -> None:
        """Append every field of a mapping, a :class:`Headers` or pairs.

        Raises:
            ValueError: a name or value is not valid.
        """
        pairs: Iterable[tuple[str, str]]
        if isinstance(items, Headers):
            pairs = items.raw_items()
        elif isinstance(items, Mapping):
            pairs = items.items()
        else:
            pairs = items
        for name, value in pairs:
            self.add(name, value)

    def __setitem__(self, name: str, value: str) -> None:
        if name in self:
            del self[name]
        self.add(name, value)

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        if name not in self:
            raise KeyError(name)
        fields = self._fields
        kept: list[str] = []
        for i in range(0, len(fields), 2):
            if fields[i].lower() != key:
                kept += (fields[i], fields[i + 1])
        self._fields = kept
        if self._index is not None:
            del self._index[key]

    def __getitem__(self, name: str) -> str:
        values = self._values(name)
        if values is None:
            raise KeyError(name)
        return values[0]

    def get(self, name: str, default: Any = None) -> Any:
        """The first value of ``name``, or ``default`` when it is absent."""
        values = self._values(name)
        return default if values is None else values[0]

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in order (an empty list when absent)."""
        return list(self._values(name) or ())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._values(name) is not None

    def __iter__(self) -> Iterator[str]:
        """Iterate over the distinct names, lower-cased, in first-seen order."""
        return iter(self.keys())

    def __len__(self) -> int:
        """The number of fields (a repeated name counts each time)."""
        return len(self._fields) // 2

    def keys(self) -> list[str]:
        """The distinct names, lower-cased, in first-seen order."""
        if self._index is not None:
            return list(self._index)
        return list(dict.fromkeys(name.lower() for name in self._fields[::2]))

    def items(self) -> list[tuple[str, str]]:
        """Every field as ``(lower-cased name, value)``, in order."""
        fields = self._fields
        return [(fields[i].lower(), fields[i + 1]) for i in range(0, len(fields), 2)]

    def raw_items(self) -> list[tuple[str, str]]:
        """Every field as ``(name as given, value)``, in order."""
        fields = self._fields
        return list(zip(fields[::2], fields[1::2], strict=True))

    def copy(self) -> Headers:
        """A shallow copy."""
        new = Headers()
        for name, value in self.raw_items():
            new._add_unchecked(name, value)
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self.items() == other.items()

    def __repr__(self) -> str:
        return f"Headers({self.raw_items()!r})"

    def serialize(self) -> bytes:
        """The fields as ``Name: value`` lines, each ending with CRLF."""
        fields = self._fields
        # One format for every line: faster than a string per line.
        return (("%s: %s\r\n" * (len(fields) >> 1)) % tuple(fields)).encode("latin-1")


HeadersLike = Headers | Mapping[str, str] | Iterable[tuple[str, str]]
"""What ``additional_headers`` and :class:`Headers` accept."""


# --------------------------------------------------------------------------
# Header value grammars


def _parse_list(value: str, name: str, parse_item: Callable[[str, int, str], tuple[Any, int]]) -> list[Any]:
    # RFC 9110 section 5.6.1: "#element" lists; "a recipient MUST accept
    # empty list elements" (like "a, , b" or a leading comma) and OWS
    # surrounds the commas.
    items = []
    pos = 0
    end = len(value)
    while pos < end:
        pos = _ows_re.match(value, pos).end()  # type: ignore[union-attr]
        if pos < end and value[pos] == ",":
            pos += 1
            continue
        if pos == end:
            break
        item, pos = parse_item(value, pos, name)
        items.append(item)
        pos = _ows_re.match(value, pos).end()  # type: ignore[union-attr]
        if pos < end:
            if value[pos] != ",":
                raise InvalidHeader(name, f"expected ',' at position {pos} in {value!r}")
            pos += 1
    return items


def _parse_token(value: str, pos: int, name: str) -> tuple[str, int]:
    match = _token_re.match(value, pos)
    if match is None:
        raise InvalidHeader(name, f"expected a token at position {pos} in {value!r}")
    return match.group(), match.end()


def _parse_protocol(value: str, pos: int, name: str) -> tuple[str, int]:
    match = _protocol_re.match(value, pos)
    if match is None:
        raise InvalidHeader(name, f"expected a protocol at position {pos} in {value!r}")
    return match.group(), match.end()


def parse_token_list(value: str, name: str = "Connection") -> list[str]:
    """Parse a comma-separated token list such as ``keep-alive, Upgrade``.

    Args:
        value: the header value (several fields joined with ``", "``).
        name: the header's name, for error messages.

    Returns:
        The tokens in order, case preserved; empty elements are skipped.

    Raises:
        InvalidHeader: an element is not a token.
    """
    return _parse_list(value, name, _parse_token)


def parse_upgrade_list(value: str, name: str = "Upgrade") -> list[str]:
    """Parse ``Upgrade``: a comma-separated list of protocols (RFC 9110 section 7.8).

    Args:
        value: the header value (several fields joined with ``", "``).
        name: the header's name, for error messages.

    Returns:
        The protocols in order, such as ``websocket`` or ``HTTP/2.0``.

    Raises:
        InvalidHeader: an element is not ``protocol-name [ "/" protocol-version ]``.
    """
    return _parse_list(value, name, _parse_protocol)


def _parse_extension_param(value: str, pos: int, name: str) -> tuple[ExtensionParameter, int]:
    param, pos = _parse_token(value, pos, name)
    pos = _ows_re.match(value, pos).end()  # type: ignore[union-attr]
    if pos < len(value) and value[pos] == "=":
        pos = _ows_re.match(value, pos + 1).end()  # type: ignore[union-attr]
        if pos < len(value) and value[pos] == '"':
            match = _quoted_re.match(value, pos)
            if match is None:
                raise InvalidHeader(name, f"invalid quoted string at position {pos} in {value!r}")
            text = _unquote_re.sub(r"\1", match.group(1))
            pos = match.end()
            # RFC 6455 section 9.1: "When using the quoted-string syntax
            # variant, the value after quoted-string unescaping MUST conform
            # to the 'token' ABNF."
            if _token_re.fullmatch(text) is None:
                raise InvalidHeader(name, f"parameter value {text!r} of {param} is not a token")
            return (param, text), pos
        text, pos = _parse_token(value, pos, name)
        return (param, text), pos
    return (param, None), pos


def _parse_extension(value: str, pos: int, name: str) -> tuple[ExtensionHeader, int]:
    # RFC 6455 section 9.1: extension = extension-token *( ";" extension-param ).
    ext, pos = _parse_token(value, pos, name)
    params: list[ExtensionParameter] = []
    while True:
        after = _ows_re.match(value, pos).end()  # type: ignore[union-attr]
        if after >= len(value) or value[after] != ";":
            return (ext, params), pos
        pos = _ows_re.match(value, after + 1).end()  # type: ignore[union-attr]
        param, pos = _parse_extension_param(value, pos, name)
        params.append(param)


def parse_extension_list(value: str, name: str = "Sec-WebSocket-Extensions") -> list[ExtensionHeader]:
    """Parse ``Sec-WebSocket-Extensions`` (RFC 6455 section 9.1, RFC 7692 section 5.1).

    ``permessage-deflate; client_max_window_bits, x-foo; a="1"`` gives
    ``[("permessage-deflate", [("client_max_window_bits", None)]),
    ("x-foo", [("a", "1")])]``.

    Args:
        value: the header value (several fields joined with ``", "``).
        name: the header's name, for error messages.

    Returns:
        ``(extension name, [(parameter, value or None), ...])`` in order;
        quoted values are unescaped.

    Raises:
        InvalidHeader: the value does not follow the grammar, or a quoted
            value is not a token once unescaped.
    """
    return _parse_list(value, name, _parse_extension)


def parse_subprotocol_list(value: str, name: str = "Sec-WebSocket-Protocol") -> list[str]:
    """Parse ``Sec-WebSocket-Protocol``: a comma-separated list of tokens.

    Raises:
        InvalidHeader: an element is not a token (RFC 6455 section 4.1).
    """
    return _parse_list(value, name, _parse_token)


def build_extension_list(extensions: Sequence[ExtensionHeader]) -> str:
    """Build a ``Sec-WebSocket-Extensions`` value.

    Raises:
        ValueError: a name or value is not a token.
    """
    parts = []
    for ext, params in extensions:
        if _token_re.fullmatch(ext) is None:
            raise ValueError(f"invalid extension name: {ext!r}")
        items = [ext]
        for param, value in params:
            if _token_re.fullmatch(param) is None:
                raise ValueError(f"invalid extension parameter name: {param!r}")
            if value is None:
                items.append(param)
            elif _token_re.fullmatch(value) is None:
                raise ValueError(f"invalid extension parameter value: {value!r}")
            else:
                items.append(f"{param}={value}")
        parts.append("; ".join(items))
    return ", ".join(parts)


def build_subprotocol_list(subprotocols: Sequence[str]) -> str:
    """Build a ``Sec-WebSocket-Protocol`` value.

    Raises:
        ValueError: a subprotocol is not a token.
    """
    for subprotocol in subprotocols:
        if not isinstance(subprotocol, str) or _token_re.fullmatch(subprotocol) is None:
            raise ValueError(f"invalid subprotocol: {subprotocol!r}")
    return ", ".join(subprotocols)
