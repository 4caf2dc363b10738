"""Test vectors copied from the specifications, as byte constants.

* RFC 6455 section 5.7 ("Examples"): frames byte for byte.
* RFC 6455 sections 1.2 and 4: the example opening handshake.
* Markus Kuhn's "UTF-8 decoder capability and stress test" (the file that
  Autobahn's cases 6.x are built from), judged by RFC 3629: five- and six-byte
  forms, overlongs, surrogates and code points above U+10FFFF are invalid;
  the noncharacters U+FFFE / U+FFFF are valid UTF-8.

Expected validity is written here by hand from the RFCs; the tests also check
it against CPython's strict decoder, so a typo here cannot go unnoticed.

The oracles at the end (masking as a byte loop, UTF-8 validity and the
fail-fast point) are written from the RFC text and share no code with the
codec twins.
"""

from __future__ import annotations

import functools

__all__ = [
    "BINARY_64K",
    "BINARY_64K_PAYLOAD",
    "BINARY_256",
    "BINARY_256_PAYLOAD",
    "FRAGMENTED_HELLO",
    "KUHN_INVALID",
    "KUHN_VALID",
    "MASKED_HELLO",
    "MASKED_PONG_HELLO",
    "MASK_KEY",
    "RFC_ACCEPT",
    "RFC_EXAMPLES",
    "RFC_KEY",
    "RFC_REQUEST",
    "RFC_RESPONSE",
    "UNMASKED_HELLO",
    "UNMASKED_PING_HELLO",
    "UNMASKED_PONG_HELLO",
    "decodes",
    "first_failure",
    "mask_oracle",
    "pending_oracle",
    "viable",
]

# -- RFC 6455 section 5.7 --------------------------------------------------------

#: The masking key of the masked examples.
MASK_KEY = bytes([0x37, 0xFA, 0x21, 0x3D])

#: "A single-frame unmasked text message (contains "Hello")".
UNMASKED_HELLO = bytes([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])

#: "A single-frame masked text message (contains "Hello")".
MASKED_HELLO = bytes([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])

#: "A fragmented unmasked text message": "Hel" then "lo".
FRAGMENTED_HELLO = (
    bytes([0x01, 0x03, 0x48, 0x65, 0x6C]),
    bytes([0x80, 0x02, 0x6C, 0x6F]),
)

#: "Unmasked Ping request" (contains a body of "Hello").
UNMASKED_PING_HELLO = bytes([0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])

#: The same body in an unmasked Pong (a server's answer).
UNMASKED_PONG_HELLO = bytes([0x8A, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])

#: "masked Ping response" (a Pong, opcode 0xA, as the RFC's bytes show).
MASKED_PONG_HELLO = bytes([0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])


# -- RFC 6455 section 1.3 / 4.1 / 4.2.2: the opening handshake -------------------

#: The example Sec-WebSocket-Key and its Sec-WebSocket-Accept.
RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#: The example request of section 1.2.
RFC_REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)

#: The example response of section 1.2.
RFC_RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"Sec-WebSocket-Protocol: chat\r\n"
    b"\r\n"
)

#: Payload of the 256-byte example; the RFC only says "256 bytes of binary data".
BINARY_256_PAYLOAD = bytes(range(256))

#: "256 bytes binary message in a single unmasked frame": 0x82 0x7E 0x0100.
BINARY_256 = bytes([0x82, 0x7E, 0x01, 0x00]) + BINARY_256_PAYLOAD

#: Payload of the 64 KiB example.
BINARY_64K_PAYLOAD = bytes(i * 7 % 251 for i in range(65536))

#: "64KiB binary message in a single unmasked frame": 0x82 0x7F 0x0000000000010000.
BINARY_64K = bytes([0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]) + BINARY_64K_PAYLOAD

#: (name, wire bytes, expected frames as (fin, opcode, payload), masked?).
RFC_EXAMPLES: list[tuple[str, bytes, list[tuple[bool, int, bytes]], bool]] = [
    ("unmasked-text", UNMASKED_HELLO, [(True, 0x1, b"Hello")], False),
    ("masked-text", MASKED_HELLO, [(True, 0x1, b"Hello")], True),
    (
        "fragmented-text",
        FRAGMENTED_HELLO[0] + FRAGMENTED_HELLO[1],
        [(False, 0x1, b"Hel"), (True, 0x0, b"lo")],
        False,
    ),
    ("unmasked-ping", UNMASKED_PING_HELLO, [(True, 0x9, b"Hello")], False),
    ("unmasked-pong", UNMASKED_PONG_HELLO, [(True, 0xA, b"Hello")], False),
    ("masked-pong", MASKED_PONG_HELLO, [(True, 0xA, b"Hello")], True),
    ("binary-256", BINARY_256, [(True, 0x2, BINARY_256_PAYLOAD)], False),
    ("binary-64k", BINARY_64K, [(True, 0x2, BINARY_64K_PAYLOAD)], False),
]

# -- Markus Kuhn's UTF-8 stress test, judged by RFC 3629 ---------------------------

#: Well-formed UTF-8 (section numbers of the stress test file).
KUHN_VALID: dict[str, bytes] = {
    "1-kosme": bytes.fromhex("cebae1bdb9cf83cebcceb5"),
    # 2.1 first possible sequence of each length
    "2.1.1-U+0000": b"\x00",
    "2.1.2-U+0080": b"\xc2\x80",
    "2.1.3-U+0800": b"\xe0\xa0\x80",
    "2.1.4-U+10000": b"\xf0\x90\x80\x80",
    # 2.2 last possible sequence of each length (within RFC 3629)
    "2.2.1-U+007F": b"\x7f",
    "2.2.2-U+07FF": b"\xdf\xbf",
    "2.2.3-U+FFFF": b"\xef\xbf\xbf",
    "2.2.4-U+10FFFF": b"\xf4\x8f\xbf\xbf",
    # 2.3 other boundary conditions
    "2.3.1-U+D7FF": b"\xed\x9f\xbf",
    "2.3.2-U+E000": b"\xee\x80\x80",
    "2.3.3-U+FFFD": b"\xef\xbf\xbd",
    "2.3.4-U+10FFFF": b"\xf4\x8f\xbf\xbf",
    # 5.3 noncharacters are valid UTF-8
    "5.3.1-U+FFFE": b"\xef\xbf\xbe",
    "5.3.2-U+FFFF": b"\xef\xbf\xbf",
    "5.3.3-U+FDD0": b"\xef\xb7\x90",
    "5.3.4-U+1FFFE": b"\xf0\x9f\xbf\xbe",
    "5.3.5-U+10FFFE": b"\xf4\x8f\xbf\xbe",
    "mixed": "a\u00e9\u4e2d\U0001f600z".encode(),
}

#: Ill-formed UTF-8.
KUHN_INVALID: dict[str, bytes] = {
    # 1 with a bad byte in the middle (Autobahn 6.3.1)
    "1-kosme-broken": bytes.fromhex("cebae1bdb9cf83cebcceb5eda080656469746564"),
    # 2.1 / 2.2: five- and six-byte forms and the four-byte range above U+10FFFF
    "2.1.5-five-bytes": b"\xf8\x88\x80\x80\x80",
    "2.1.6-six-bytes": b"\xfc\x84\x80\x80\x80\x80",
    "2.2.4-U+1FFFFF": b"\xf7\xbf\xbf\xbf",
    "2.2.5-five-bytes-last": b"\xfb\xbf\xbf\xbf\xbf",
    "2.2.6-six-bytes-last": b"\xfd\xbf\xbf\xbf\xbf\xbf",
    "2.3.5-U+110000": b"\xf4\x90\x80\x80",
    "above-10FFFF-F4BF": b"\xf4\xbf\xbf\xbf",
    # 3.1 unexpected continuation bytes
    "3.1.1-first-continuation": b"\x80",
    "3.1.2-last-continuation": b"\xbf",
    "3.1.3-2-continuations": b"\x80\xbf",
    "3.1.4-3-continuations": b"\x80\xbf\x80",
    "3.1.5-4-continuations": b"\x80\xbf\x80\xbf",
    "3.1.8-7-continuations": b"\x80\xbf\x80\xbf\x80\xbf\x80",
    "3.1.9-all-64-continuations": bytes(range(0x80, 0xC0)),
    "continuation-after-ascii": b"abc\x80",
    "continuation-after-complete": b"\xc3\xa9\xa9",
    # 3.2 lonely start characters, each followed by a space
    "3.2.1-lonely-2-byte-starts": b"".join(bytes([b, 0x20]) for b in range(0xC0, 0xE0)),
    "3.2.2-lonely-3-byte-starts": b"".join(bytes([b, 0x20]) for b in range(0xE0, 0xF0)),
    "3.2.3-lonely-4-byte-starts": b"".join(bytes([b, 0x20]) for b in range(0xF0, 0xF8)),
    "3.2.4-lonely-5-byte-starts": b"".join(bytes([b, 0x20]) for b in range(0xF8, 0xFC)),
    "3.2.5-lonely-6-byte-starts": b"".join(bytes([b, 0x20]) for b in range(0xFC, 0xFE)),
    # 3.3 sequences with the last continuation byte missing (truncated)
    "3.3.1-C0": b"\xc0",
    "3.3.2-E0-80": b"\xe0\x80",
    "3.3.3-F0-80-80": b"\xf0\x80\x80",
    "3.3.6-DF": b"\xdf",
    "3.3.7-EF-BF": b"\xef\xbf",
    "3.3.8-F7-BF-BF": b"\xf7\xbf\xbf",
    "truncated-C3": b"\xc3",
    "truncated-E2-82": b"\xe2\x82",
    "truncated-F0-9F-98": b"\xf0\x9f\x98",
    "truncated-F4-8F-BF": b"\xf4\x8f\xbf",
    "truncated-then-ascii": b"\xe2\x82a",
    "truncated-then-lead": b"\xf0\x9f\xc3\xa9",
    # 3.4 concatenation of incomplete sequences
    "3.4-concatenated": b"\xc0\xe0\x80\xf0\x80\x80\xdf\xef\xbf\xf7\xbf\xbf",
    # 3.5 impossible bytes
    "3.5.1-FE": b"\xfe",
    "3.5.2-FF": b"\xff",
    "3.5.3-FE-FE-FF-FF": b"\xfe\xfe\xff\xff",
    "F5": b"\xf5\x80\x80\x80",
    "F6": b"\xf6\x80\x80\x80",
    "F7": b"\xf7\x80\x80\x80",
    "F8": b"\xf8",
    "FB": b"\xfb",
    "FC": b"\xfc",
    "FD": b"\xfd",
    # 4.1 overlong ASCII "/"
    "4.1.1-C0-AF": b"\xc0\xaf",
    "4.1.2-E0-80-AF": b"\xe0\x80\xaf",
    "4.1.3-F0-80-80-AF": b"\xf0\x80\x80\xaf",
    "4.1.4-F8-80-80-80-AF": b"\xf8\x80\x80\x80\xaf",
    "4.1.5-FC-80-80-80-80-AF": b"\xfc\x80\x80\x80\x80\xaf",
    # 4.2 maximum overlong sequences
    "4.2.1-C1-BF": b"\xc1\xbf",
    "4.2.2-E0-9F-BF": b"\xe0\x9f\xbf",
    "4.2.3-F0-8F-BF-BF": b"\xf0\x8f\xbf\xbf",
    "4.2.4-F8-87-BF-BF-BF": b"\xf8\x87\xbf\xbf\xbf",
    "4.2.5-FC-83-BF-BF-BF-BF": b"\xfc\x83\xbf\xbf\xbf\xbf",
    # 4.3 overlong NUL
    "4.3.1-C0-80": b"\xc0\x80",
    "4.3.2-E0-80-80": b"\xe0\x80\x80",
    "4.3.3-F0-80-80-80": b"\xf0\x80\x80\x80",
    "4.3.4-F8-80-80-80-80": b"\xf8\x80\x80\x80\x80",
    "4.3.5-FC-80-80-80-80-80": b"\xfc\x80\x80\x80\x80\x80",
    # 5.1 single UTF-16 surrogates (ED A0 80 .. ED BF BF)
    "5.1.1-U+D800": b"\xed\xa0\x80",
    "5.1.2-U+DB7F": b"\xed\xad\xbf",
    "5.1.3-U+DB80": b"\xed\xae\x80",
    "5.1.4-U+DBFF": b"\xed\xaf\xbf",
    "5.1.5-U+DC00": b"\xed\xb0\x80",
    "5.1.6-U+DF80": b"\xed\xbe\x80",
    "5.1.7-U+DFFF": b"\xed\xbf\xbf",
    # 5.2 paired UTF-16 surrogates
    "5.2.1-U+D800-U+DC00": b"\xed\xa0\x80\xed\xb0\x80",
    "5.2.4-U+DB7F-U+DFFF": b"\xed\xad\xbf\xed\xbf\xbf",
    "5.2.8-U+DBFF-U+DFFF": b"\xed\xaf\xbf\xed\xbf\xbf",
    # Autobahn 6.4.x: fail fast in the middle of a longer message
    "6.4.1": b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64",
    "6.4.2": b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80",
}


# -- oracles ---------------------------------------------------------------------


def mask_oracle(data: bytes, key: bytes, offset: int = 0) -> bytes:
    """RFC 6455 section 5.3 byte by byte: octet i XOR key[(i + offset) % 4]."""
    return bytes(b ^ key[(i + offset) % 4] for i, b in enumerate(data))


def decodes(data: bytes) -> bool:
    """Whether CPython's strict decoder (RFC 3629) accepts ``data``."""
    try:
        bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Fail-fast needs more than the decoder: CPython's incremental decoder accepts
# ``ED A0`` (a surrogate prefix) until the third byte. A prefix P is *viable*
# when some valid UTF-8 string starts with P, i.e. when P followed by at most
# three continuation bytes decodes. RFC 3629 section 4 restricts the second
# byte of a sequence to one of 80..8F, 80..9F, 90..BF, A0..BF or 80..BF
# depending on the lead byte, and later bytes to 80..BF; so one of
# {80, 8F, 90, 9F, A0, BF} (the ends of those intervals) followed by up to two
# 80 bytes finds a completion whenever one exists.
_CANDIDATES = (0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF)
_COMPLETIONS = (b"", *(bytes([byte]) + b"\x80" * more for byte in _CANDIDATES for more in range(3)))


@functools.lru_cache(maxsize=1 << 16)
def viable(prefix: bytes) -> bool:
    """Whether some valid UTF-8 string starts with ``prefix``."""
    return any(decodes(prefix + completion) for completion in _COMPLETIONS)


@functools.lru_cache(maxsize=1 << 12)
def first_failure(data: bytes) -> int | None:
    """Index of the first byte after which ``data[:i + 1]`` is not viable.

    Viability is prefix-closed (a viable prefix's prefixes are viable), so a
    binary search finds the boundary.
    """
    if viable(data):
        return None
    low, high = 0, len(data)  # data[:low] viable, data[:high] not
    while high - low > 1:
        mid = (low + high) // 2
        if viable(data[:mid]):
            low = mid
        else:
            high = mid
    return high - 1


def pending_oracle(prefix: bytes) -> int:
    """Bytes of the incomplete sequence at the end of a viable prefix."""
    for held in range(min(3, len(prefix)) + 1):
        if decodes(prefix[: len(prefix) - held]):
            return held
    raise AssertionError(f"not a viable prefix: {prefix!r}")
