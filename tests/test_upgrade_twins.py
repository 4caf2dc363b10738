"""The opening handshake's work for each connection (``fastws._upgrade``), both twins.

``scan_fields``: expected fields are written out by hand; generated heads
are checked against the parser's line-by-line path, which is other code
(one ``_line`` call per line), and the twins against each other.
``accept_key``: the RFC's example, and hashlib with base64 of the standard
library. ``canonical_key`` and ``valid_host``: cases written out by hand,
and the grammars written again here as regular expressions.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import re
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastws.exceptions import InvalidHTTPMessage
from fastws.headers import Headers
from fastws.http11 import Request, RequestParser, Response, _request, _response

#: The header scanner of each codec twin.
SCANNERS = {"fastws._codec": "fastws._upgrade", "fastws._codec_py": "fastws._upgrade_py"}


@pytest.fixture(scope="session")
def upgrade(codec: ModuleType) -> ModuleType:
    """Each twin in turn."""
    return importlib.import_module(SCANNERS[codec.__name__])


@pytest.fixture(scope="session")
def scan(upgrade: ModuleType) -> Any:
    """Each twin's ``scan_fields`` in turn."""
    return upgrade.scan_fields


def _whole(scan: Any, block: bytes, max_headers: int = 128) -> Any:
    return scan(block, 0, len(block), max_headers)


def test_a_browser_request(scan: Any) -> None:
    block = (
        b"Host: example.com:8080\r\n"
        b"Connection: Upgrade\r\n"
        b"Upgrade: websocket\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    )
    fields, index = _whole(scan, block)
    assert fields == [
        "Host", "example.com:8080",
        "Connection", "Upgrade",
        "Upgrade", "websocket",
        "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version", "13",
        "Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits",
    ]  # fmt: skip
    assert index == {
        "host": ["example.com:8080"],
        "connection": ["Upgrade"],
        "upgrade": ["websocket"],
        "sec-websocket-key": ["dGhlIHNhbXBsZSBub25jZQ=="],
        "sec-websocket-version": ["13"],
        "sec-websocket-extensions": ["permessage-deflate; client_max_window_bits"],
    }
    assert list(index) == ["host", "connection", "upgrade", "sec-websocket-key",
                           "sec-websocket-version", "sec-websocket-extensions"]  # fmt: skip


def test_no_header_lines(scan: Any) -> None:
    assert scan(b"GET / HTTP/1.1\r\n\r\n", 16, 16, 128) == ([], {})
    assert scan(b"", 0, 0, 0) == ([], {})


def test_whitespace_around_values_is_left_out(scan: Any) -> None:
    block = b"A:x\r\nB: \t y z \t \r\nC:\r\nD:   \r\nE: a\tb\r\n"
    fields, index = _whole(scan, block)
    assert fields == ["A", "x", "B", "y z", "C", "", "D", "", "E", "a\tb"]
    assert index == {"a": ["x"], "b": ["y z"], "c": [""], "d": [""], "e": ["a\tb"]}


def test_repeated_names_keep_their_spelling_and_order(scan: Any) -> None:
    fields, index = _whole(scan, b"X-Tag: 1\r\nx-tag: 2\r\nX-TAG: 3\r\nOther: o\r\n")
    assert fields == ["X-Tag", "1", "x-tag", "2", "X-TAG", "3", "Other", "o"]
    assert index == {"x-tag": ["1", "2", "3"], "other": ["o"]}


def test_every_token_character_and_obs_text(scan: Any) -> None:
    name = b"!#$%&'*+-.^_`|~09AZaz"
    value = bytes(range(0x21, 0x7F)) + b" \t" + bytes(range(0x80, 0x100))
    fields, index = _whole(scan, name + b": " + value + b"\r\n")
    assert fields == ["!#$%&'*+-.^_`|~09AZaz", value.decode("latin-1")]
    assert index == {"!#$%&'*+-.^_`|~09azaz": [value.decode("latin-1")]}


@pytest.mark.parametrize("size", [1, 63, 64, 65, 300])
def test_long_names_are_lower_cased_too(scan: Any, size: int) -> None:
    name = ("N" * size).encode()
    fields, index = _whole(scan, name + b": v\r\nn" + name[1:] + b": w\r\n")
    assert fields == ["N" * size, "v", "n" + "N" * (size - 1), "w"]
    assert index == {"n" * size: ["v", "w"]}


def test_the_bounds_are_respected(scan: Any) -> None:
    data = b"junk\r\nA: 1\r\nB: 2\r\nmore junk"
    assert scan(data, 6, 18, 128) == (["A", "1", "B", "2"], {"a": ["1"], "b": ["2"]})
    assert scan(data, 6, 12, 128) == (["A", "1"], {"a": ["1"]})


def test_max_headers(scan: Any) -> None:
    block = b"".join(b"H%d: v\r\n" % i for i in range(5))
    assert len(_whole(scan, block, max_headers=5)[0]) == 10
    assert _whole(scan, block, max_headers=4) is None
    assert _whole(scan, b"", max_headers=0) == ([], {})
    assert _whole(scan, b"A: 1\r\n", max_headers=0) is None


MALFORMED = [
    b"A 1\r\n",  # no colon
    b"A : 1\r\n",  # whitespace before the colon
    b": 1\r\n",  # no name
    b"A(b): 1\r\n",  # not a token
    b"A\xe9: 1\r\n",  # not ASCII
    b"A: 1\r\nB: 2",  # no CRLF after the last line
    b"A: 1\r",  # CR at the end
    b"A: 1\n",  # bare LF
    b"A: 1\r\r\n",  # CR inside the value
    b"A: 1\rB: 2\r\n",  # bare CR
    b"A: 1\nB: 2\r\n",  # bare LF inside
    b"A: 1\r\n x\r\n",  # obsolete line folding
    b"A: 1\r\n\tx\r\n",  # folding with a tab
    b"A: a\x00b\r\n",  # NUL
    b"A: a\x7fb\r\n",  # DEL
    b"A: a\x1bb\r\n",  # ESC
    b"A: 1\r\n\r\n",  # an empty line inside the block
    b"A",  # a name only
    b"\r\n",  # an empty line
]


@pytest.mark.parametrize("block", MALFORMED)
def test_malformed_lines_give_none(scan: Any, block: bytes) -> None:
    assert _whole(scan, block) is None
    # ... wherever they are in the block.
    assert _whole(scan, b"Host: h\r\n" + block) is None


@pytest.mark.parametrize("data", [bytearray(b"A: 1\r\n"), memoryview(b"A: 1\r\n"), "A: 1\r\n", None])
def test_only_bytes(scan: Any, data: Any) -> None:
    with pytest.raises(TypeError, match=r"^data must be bytes, not (bytearray|memoryview|str|NoneType)$"):
        scan(data, 0, 6, 128)


@pytest.mark.parametrize(("start", "end"), [(-1, 6), (0, 7), (4, 3), (7, 7)])
def test_bounds_outside_the_data(scan: Any, start: int, end: int) -> None:
    with pytest.raises(ValueError, match="start and end"):
        scan(b"A: 1\r\n", start, end, 128)


# Generated heads: well-formed lines, lines with the bytes that matter for
# the grammar (separators, whitespace, CR, LF, controls, obs-text) mixed in,
# and random bytes.
_GOOD_NAME = st.text(alphabet="!#aZ09-_.~", min_size=1, max_size=6).map(str.encode)
_GOOD_VALUE = st.lists(st.sampled_from([b"a", b"Z", b" ", b"\t", b":", b"\x80", b"\xff"]), max_size=8).map(
    b"".join
)
_ANY_NAME = st.text(alphabet="!#aZ09-_. (:\xe9", max_size=6).map(lambda s: s.encode("latin-1"))
_ANY_VALUE = st.lists(
    st.sampled_from([b"a", b"Z", b" ", b"\t", b":", b"\r", b"\n", b"\x00", b"\x7f", b"\x80", b"\xff"]),
    max_size=8,
).map(b"".join)
_LINE = st.one_of(
    st.tuples(_GOOD_NAME, st.sampled_from([b":", b": ", b":\t "]), _GOOD_VALUE).map(
        lambda p: b"".join(p) + b"\r\n"
    ),
    st.tuples(_GOOD_NAME, _GOOD_VALUE).map(lambda nv: nv[0] + b":" + nv[1] + b"\r\n"),
    st.tuples(_ANY_NAME, _ANY_VALUE).map(lambda nv: nv[0] + b":" + nv[1] + b"\r\n"),
    st.binary(max_size=6),
)
_BLOCK = st.lists(_LINE, max_size=6).map(b"".join)


def _line_by_line(block: bytes, max_headers: int) -> list[tuple[str, str]] | None:
    """The fields as the parser's line-by-line path reads them, or None if it refuses them."""
    parser = RequestParser(max_headers=max_headers)
    try:
        # One byte at a time: the head never arrives whole, so the scanner is not used.
        for byte in b"GET / HTTP/1.1\r\n" + block:
            assert parser.feed(bytes([byte])) is None
        result = parser.feed(b"\r\n")
    except InvalidHTTPMessage:
        return None
    if result is None:
        return None
    request, _ = result
    return request.headers.raw_items()


@given(block=_BLOCK, max_headers=st.integers(0, 8))
def test_generated_heads_agree_with_the_line_by_line_path(scan: Any, block: bytes, max_headers: int) -> None:
    scanned = _whole(scan, block, max_headers)
    if b"\r\n\r\n" in b"\r\n" + block or not (block == b"" or block.endswith(b"\r\n")):
        # An empty line inside, or an unfinished last line: never header lines.
        assert scanned is None
        return
    expected = _line_by_line(block, max_headers)
    if expected is None:
        assert scanned is None
        return
    assert scanned is not None
    fields, index = scanned
    assert list(zip(fields[::2], fields[1::2], strict=True)) == expected
    by_name: dict[str, list[str]] = {}
    for name, value in expected:
        by_name.setdefault(name.lower(), []).append(value)
    assert index == by_name


@pytest.mark.c_extension
@given(block=_BLOCK, max_headers=st.integers(0, 8))
def test_the_twins_agree(block: bytes, max_headers: int) -> None:
    compiled = importlib.import_module("fastws._upgrade").scan_fields
    pure = importlib.import_module("fastws._upgrade_py").scan_fields
    for start in (0, len(block) // 2):
        assert compiled(block, start, len(block), max_headers) == pure(block, start, len(block), max_headers)


def test_common_names_and_their_look_alikes(scan: Any) -> None:
    block = b"HOST: a\r\nhost: b\r\nHost: c\r\nHosts: d\r\nHos: e\r\nUser-agent: f\r\nuser-agent: g\r\n"
    fields, index = _whole(scan, block)
    assert fields == [
        "HOST",
        "a",
        "host",
        "b",
        "Host",
        "c",
        "Hosts",
        "d",
        "Hos",
        "e",
        "User-agent",
        "f",
        "user-agent",
        "g",
    ]
    assert index == {"host": ["a", "b", "c"], "hosts": ["d"], "hos": ["e"], "user-agent": ["f", "g"]}


# -- scan_request_line ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "target"),
    [
        (b"GET / HTTP/1.1", "/"),
        (b"GET /chat?room=1&x=%41 HTTP/1.1", "/chat?room=1&x=%41"),
        (b"GET /~!$&'()*+,;=:@[]{} HTTP/1.1", "/~!$&'()*+,;=:@[]{}"),
        # Anything else is for the whole grammar to read:
        (b"GET http://example.com/ HTTP/1.1", None),  # absolute-form
        (b"GET * HTTP/1.1", None),
        (b"GET  HTTP/1.1", None),
        (b"GET /a b HTTP/1.1", None),
        (b"GET /\xe9 HTTP/1.1", None),
        (b"GET /\x7f HTTP/1.1", None),
        (b"GET /\t HTTP/1.1", None),
        (b"GET / HTTP/1.0", None),
        (b"GET / HTTP/2.0", None),
        (b"GET / HTTP/1.1 ", None),
        (b"get / HTTP/1.1", None),
        (b"POST / HTTP/1.1", None),
        (b" GET / HTTP/1.1", None),
        (b"GET / http/1.1", None),
        (b"GET /", None),
        (b"", None),
    ],
)
def test_scan_request_line(upgrade: ModuleType, line: bytes, target: str | None) -> None:
    assert upgrade.scan_request_line(line) == target


def test_scan_request_line_takes_bytes(upgrade: ModuleType) -> None:
    with pytest.raises(TypeError, match=r"^line must be bytes, not (bytearray|str)$"):
        upgrade.scan_request_line(bytearray(b"GET / HTTP/1.1"))


@given(
    line=st.lists(
        st.sampled_from([b"GET", b" ", b"/", b"a", b"\x7f", b"\xe9", b"HTTP/1.1", b"?"]), max_size=8
    ).map(b"".join)
)
def test_generated_request_lines_agree_with_the_grammar(upgrade: ModuleType, line: bytes) -> None:
    expected = re.fullmatch(rb"GET (/[!-~]*) HTTP/1\.1", line)
    assert upgrade.scan_request_line(line) == (None if expected is None else expected.group(1).decode())


# -- accept_key -----------------------------------------------------------------------


def _reference_accept(key: str) -> str:
    digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode("latin-1")).digest()
    return base64.b64encode(digest).decode()


def test_accept_key_of_the_rfc_example(upgrade: ModuleType) -> None:
    # RFC 6455 section 1.3.
    assert upgrade.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("size", [0, 1, 19, 20, 27, 28, 55, 56, 64, 100, 8192])
def test_accept_key_of_any_length(upgrade: ModuleType, size: int) -> None:
    key = "".join(chr(0x20 + (i * 7) % 0xE0) for i in range(size))  # ISO-8859-1 text
    assert upgrade.accept_key(key) == _reference_accept(key)


@given(key=st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=80))
def test_accept_key_generated(upgrade: ModuleType, key: str) -> None:
    assert upgrade.accept_key(key) == _reference_accept(key)


def test_accept_key_refuses_what_is_not_latin_1_text(upgrade: ModuleType) -> None:
    with pytest.raises(UnicodeEncodeError):
        upgrade.accept_key("key\u0100")
    with pytest.raises(TypeError, match=r"^key must be str, not bytes$"):
        upgrade.accept_key(b"dGhlIHNhbXBsZSBub25jZQ==")


# -- canonical_key and valid_host -------------------------------------------------------

_KEY_GRAMMAR = re.compile(r"[A-Za-z0-9+/]{21}[AQgw]==")
_HOST_GRAMMAR = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?")


@pytest.mark.parametrize(
    ("key", "canonical"),
    [
        ("dGhlIHNhbXBsZSBub25jZQ==", True),
        ("AAAAAAAAAAAAAAAAAAAAAA==", True),
        ("+/+/+/+/+/+/+/+/+/+/+w==", True),
        ("AAAAAAAAAAAAAAAAAAAAAB==", False),  # bits past the 16 bytes
        ("AAAAAAAAAAAAAAAAAAAAAA=", False),
        ("AAAAAAAAAAAAAAAAAAAAAA===", False),
        ("AAAAAAAAAAAAAAAAAAAA-A==", False),  # base64url
        ("AAAAAAAAAAAAAAAAAAAA\u00e9A==", False),
        ("AAAAAAAAAAAAAAAAAAAAAAAA", False),
        ("", False),
    ],
)
def test_canonical_key(upgrade: ModuleType, key: str, canonical: bool) -> None:
    assert upgrade.canonical_key(key) is canonical


@pytest.mark.parametrize(
    ("host", "valid"),
    [
        ("example.com", True),
        ("example.com:8080", True),
        ("127.0.0.1:80", True),
        ("[::1]", True),
        ("[::1]:8765", True),
        ("[2001:DB8::a.b]:", True),
        ("", True),  # reg-name may be empty
        (":80", True),
        ("%41~!$&'()*+,;=", True),
        ("a:b", False),
        ("a b", False),
        ("[]", False),
        ("[::1", False),
        ("[::g]", False),
        ("[::1]x", False),
        ("[::1]:8x", False),
        ("ex\u00e9mple", False),
        ("a/b", False),
        ("a:80:80", False),
    ],
)
def test_valid_host(upgrade: ModuleType, host: str, valid: bool) -> None:
    assert upgrade.valid_host(host) is valid


_HOSTISH = st.text(alphabet="aZ09-.:[]%~!=+/ \u00e9\u0100", max_size=12)


@given(text=_HOSTISH)
def test_generated_hosts_and_keys_follow_the_grammars(upgrade: ModuleType, text: str) -> None:
    assert upgrade.valid_host(text) is (_HOST_GRAMMAR.fullmatch(text) is not None)
    key = (text * 24)[:21] + "Q=="
    assert upgrade.canonical_key(key) is (_KEY_GRAMMAR.fullmatch(key) is not None)


@pytest.mark.parametrize("name", ["canonical_key", "valid_host"])
def test_the_grammars_take_only_text(upgrade: ModuleType, name: str) -> None:
    label = "key" if name == "canonical_key" else "host"
    with pytest.raises(TypeError, match=rf"^{label} must be str, not NoneType$"):
        getattr(upgrade, name)(None)


# -- the messages made without their __init__ ----------------------------------------


def test_fast_messages_are_the_dataclasses() -> None:
    headers = Headers([("Upgrade", "websocket")])
    request = _request("/chat?x=1", headers)
    response = _response(101, "Switching Protocols", headers)
    assert type(request) is Request and type(response) is Response
    assert request == Request("/chat?x=1", headers)
    assert response == Response(101, "Switching Protocols", headers, b"")
    assert _response(400, "Bad Request", headers, b"no") == Response(400, "Bad Request", headers, b"no")
    assert repr(request) == repr(Request("/chat?x=1", headers))
    with pytest.raises(AttributeError):
        request.path = "/other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        response.status = 200  # type: ignore[misc]
