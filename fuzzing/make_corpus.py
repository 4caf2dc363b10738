"""Write the seed corpora in ``fuzzing/corpus/<harness>/`` (a few tiny files each).

Each seed is the harness's control bytes (see ``CONTROL_BYTES`` and the
layout comment in each harness) followed by the bytes under test, built
here from RFC 6455 / RFC 7692 examples. Run it again after changing a
harness's control layout: ``python fuzzing/make_corpus.py``.
"""

from __future__ import annotations

import hashlib
import pathlib
import struct
import zlib

__all__ = ["SEEDS", "write"]

HERE = pathlib.Path(__file__).resolve().parent
KEY = b"\x37\xfa\x21\x3d"


def _mask(data: bytes, key: bytes = KEY) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def _frame(
    opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, rsv1: bool = False
) -> bytes:
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, n | (0x80 if masked else 0))
    elif n < 65536:
        head = struct.pack("!BBH", b0, 126 | (0x80 if masked else 0), n)
    else:
        head = struct.pack("!BBQ", b0, 127 | (0x80 if masked else 0), n)
    return head + (KEY + _mask(payload) if masked else payload)


def _ctl(size: int, *values: int) -> bytes:
    return bytes(values).ljust(size, b"\x00")


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]


_REQUEST = (
    b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: https://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
_RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: @ACCEPT@\r\nSec-WebSocket-Protocol: chat\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12\r\n\r\n"
)

SEEDS: dict[str, list[bytes]] = {
    "fuzz_frame_parser": [
        # parser, require_mask=True, no limits, validate UTF-8: RFC 6455
        # section 5.7 examples, a fragmented text split in a code point,
        # a ping between fragments, a close with a reason.
        _ctl(24, 1, 1, 0, 0, 1) + _frame(1, b"Hello") + _frame(9, b"Hello") + _frame(8, b"\x03\xe8bye"),
        _ctl(24, 1, 1, 0, 0, 1, 0, 2, 0, 0, 3, 0, 9)
        + _frame(1, "h\u00e9\u20ac".encode()[:3], fin=False)
        + _frame(9, b"")
        + _frame(0, "h\u00e9\u20ac".encode()[3:]),
        _ctl(24, 1, 2, 0, 0, 0)
        + _frame(2, b"\x00" * 256, masked=False)
        + _frame(2, b"\x01" * 300, masked=False),
        # limits: 125-byte frames, 200-byte messages; a 64-bit length.
        _ctl(24, 1, 0, 5, 8, 1) + _frame(2, b"x" * 126) + b"\x82\x7f" + b"\x7f" + b"\xff" * 7,
        # protocol, server side: a fragmented text with a ping inside, a
        # ping, a close; cut in three.
        _ctl(24, 9, 1, 0, 4, 0, 0, 2, 0, 0, 5, 0, 9)
        + _frame(1, b"frag", fin=False)
        + _frame(9, b"in between")
        + _frame(0, b"ment")
        + _frame(9, b"")
        + _frame(8, b"\x03\xe8done"),
        # encoders: opcode 1, fin, a 4-byte key.
        _ctl(24, 0, 2, 1, 0, 2, 1, 0, 0, 1, 2, 3, 4) + b"encode me",
    ],
    "fuzz_utf8": [
        _ctl(30, 0, 1, 2, 3, 4, 2, 0, 1, 0, 5) + "caf\u00e9 \u20ac \U0001f600".encode(),
        _ctl(30, 1, 0, 0, 0, 0, 1, 0, 2) + b"\xed\xa0\x80 surrogate",
        _ctl(30, 2, 9, 9, 9, 9, 0) + b"\xf4\x90\x80\x80 above U+10FFFF",
        _ctl(30, 0, 0, 0, 0, 0, 3, 0, 1, 0, 2, 0, 3) + b"\xf0\x9f\x98\x80",
        _ctl(30, 0) + b"\xc0\xaf overlong",
    ],
    "fuzz_handshake": [
        _ctl(20, 0) + _REQUEST,
        _ctl(20, 0, 1, 3, 3, 3, 3, 2, 0, 0, 20, 0, 60) + _REQUEST,
        _ctl(20, 1) + _RESPONSE,
        _ctl(20, 2, 3, 0, 0, 0, 0, 1, 0, 0, 30) + _REQUEST + _frame(1, b"early"),
        _ctl(20, 3, 1) + _RESPONSE + _frame(1, b"hi", masked=False),
        _ctl(20, 4, 2) + b'permessage-deflate; client_max_window_bits; server_max_window_bits="10", x-foo',
    ],
    "fuzz_deflate": [
        # negotiation: offer parameters (server side), answer (client side).
        _ctl(16, 0) + b"permessage-deflate; client_max_window_bits; server_no_context_takeover",
        _ctl(16, 1) + b"permessage-deflate; server_max_window_bits=12; client_max_window_bits=10",
        # decompression: frames of a compressed message, one inflating a lot.
        _ctl(16, 2, 0, 3) + _frame(1, _deflate(b"Hello " * 20), masked=False, rsv1=True),
        _ctl(16, 2, 1, 1) + _frame(2, _deflate(b"\x00" * 100000), masked=False, rsv1=True),
        # round trip: messages compressed then decompressed.
        _ctl(16, 3, 0, 2) + b"{'type': 'chat', 'text': 'hello, hello, hello'}",
    ],
}


def write() -> None:
    """(Re)write every seed file; names are the SHA-1 of the content, as libFuzzer names them."""
    for harness, seeds in SEEDS.items():
        folder = HERE / "corpus" / harness
        folder.mkdir(parents=True, exist_ok=True)
        for seed in seeds:
            (folder / hashlib.sha1(seed).hexdigest()).write_bytes(seed)


if __name__ == "__main__":
    write()
