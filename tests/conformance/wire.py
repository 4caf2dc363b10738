"""RFC 6455 on the wire, written from the RFC: the conformance suite's oracle.

Nothing here imports fastws. The fuzzers build every byte they send with
:func:`build_frame` and read every byte they receive with :class:`FrameReader`,
so that a bug in fastws' codec cannot hide itself by agreeing with itself.

The reader only *parses* (RFC 6455 section 5.2); judging what the peer sent
(masking direction, reserved bits, control-frame rules, UTF-8) is the
fuzzers' job, so that every violation is reported with its own reason.

UTF-8 is judged twice, by two independent means: CPython's strict decoder
(fast, used for whole messages) and :func:`utf8_invalid_at`, a small DFA
written from the RFC 3629 section 4 grammar, which also tells at which byte
a sequence stops being a prefix of valid UTF-8 (the fail-fast point).
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from dataclasses import dataclass

__all__ = [
    "GUID",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameReader",
    "HttpHead",
    "WireError",
    "WireFrame",
    "accept_key",
    "build_frame",
    "build_header",
    "build_request",
    "build_response",
    "close_payload",
    "mask_payload",
    "parse_close_payload",
    "read_http_head",
    "utf8_invalid_at",
    "utf8_valid",
]

# RFC 6455 section 11.8 (opcode registry).
OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

#: RFC 6455 section 1.3: the GUID appended to Sec-WebSocket-Key.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WireError(Exception):
    """Bytes that cannot be parsed as frames or as an HTTP head."""


# -- masking (section 5.3) ----------------------------------------------------


def mask_payload(payload: bytes, key: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte ``key``: octet i ^= key[i % 4].

    Masking and unmasking are the same operation (section 5.3). One
    big-integer XOR keeps a 16 MiB payload in the tens of milliseconds.

    Args:
        payload: the bytes to (un)mask.
        key: the 4-byte masking key.

    Returns:
        The (un)masked bytes.

    Raises:
        ValueError: ``key`` is not 4 bytes.
    """
    if len(key) != 4:
        raise ValueError("a masking key is 4 bytes")
    n = len(payload)
    if n == 0:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")
    return value.to_bytes(n, "big")


# -- building frames (section 5.2) --------------------------------------------


def build_header(
    opcode: int,
    length: int,
    *,
    fin: bool = True,
    rsv: int | tuple[bool, bool, bool] = 0,
    mask: bytes | None = None,
    length_bits: int | None = None,
) -> bytes:
    """Serialize a frame header announcing ``length`` payload bytes, masking key included.

    The payload is not part of it: a test can announce more than it sends.

    Args:
        opcode: 0-15, reserved ones included.
        length: the payload length to announce.
        fin: the FIN bit.
        rsv: the three reserved bits as one number, RSV1 = 4, RSV2 = 2,
            RSV3 = 1 (their positions 0x40, 0x20, 0x10 in octet 0), or as
            a ``(rsv1, rsv2, rsv3)`` tuple of booleans.
        mask: None for an unmasked frame (server to client), or the 4-byte
            key, which follows the length.
        length_bits: force the 7, 16 or 64-bit length encoding; None picks
            the shortest one, as section 5.2 requires of senders.

    Returns:
        The header's bytes.

    Raises:
        ValueError: a field is out of range.
    """
    if isinstance(rsv, tuple):
        rsv = rsv[0] << 2 | rsv[1] << 1 | rsv[2]
    if not 0 <= opcode <= 15 or not 0 <= rsv <= 7:
        raise ValueError("opcode is 4 bits and rsv 3 bits")
    if length_bits is None:
        length_bits = 7 if length <= 125 else 16 if length <= 0xFFFF else 64
    head = bytearray([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if mask is not None else 0
    # "The length of the payload data, in bytes: if 0-125, that is the payload
    # length. If 126, the following 2 bytes interpreted as a 16-bit unsigned
    # integer are the payload length. If 127, the following 8 bytes
    # interpreted as a 64-bit unsigned integer (the most significant bit MUST
    # be 0) are the payload length."
    if length_bits == 7:
        if length > 125:
            raise ValueError("payload too long for the 7-bit length")
        head.append(mask_bit | length)
    elif length_bits == 16:
        if length > 0xFFFF:
            raise ValueError("payload too long for the 16-bit length")
        head.append(mask_bit | 126)
        head += struct.pack("!H", length)
    elif length_bits == 64:
        head.append(mask_bit | 127)
        head += struct.pack("!Q", length)
    else:
        raise ValueError("length_bits is 7, 16 or 64")
    return bytes(head) + (mask or b"")


def build_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int | tuple[bool, bool, bool] = 0,
    mask: bytes | bool | None = None,
    length_bits: int | None = None,
) -> bytes:
    """Serialize one frame, with any header field value, legal or not.

    Args:
        opcode: 0-15, reserved ones included.
        payload: the unmasked payload.
        fin: the FIN bit.
        rsv: the reserved bits, as :func:`build_header` takes them.
        mask: None (or False) for an unmasked frame (server to client), a
            4-byte key, or True for a fresh random key.
        length_bits: force the 7, 16 or 64-bit length encoding (see
            :func:`build_header`).

    Returns:
        The frame's bytes.

    Raises:
        ValueError: a field is out of range.
    """
    key = os.urandom(4) if mask is True else None if mask is None or mask is False else bytes(mask)
    header = build_header(opcode, len(payload), fin=fin, rsv=rsv, mask=key, length_bits=length_bits)
    return header + (payload if key is None else mask_payload(payload, key))


def close_payload(code: int | None = None, reason: bytes = b"") -> bytes:
    """The payload of a close frame (section 5.5.1): 2-byte code, then reason.

    Args:
        code: the status code, or None for an empty payload (then ``reason``
            must be empty).
        reason: the reason's bytes, sent as given (even if not UTF-8).

    Returns:
        The payload bytes.
    """
    if code is None:
        return reason
    return struct.pack("!H", code) + reason


def parse_close_payload(payload: bytes) -> tuple[int | None, bytes]:
    """Split a close payload into (code, reason bytes); (None, b"") if empty.

    Raises:
        WireError: the payload is 1 byte long (section 5.5.1 allows 0 or >= 2).
    """
    if not payload:
        return None, b""
    if len(payload) < 2:
        raise WireError("close payload of 1 byte")
    return struct.unpack("!H", payload[:2])[0], payload[2:]


# -- reading frames ------------------------------------------------------------


@dataclass(frozen=True)
class WireFrame:
    """One frame as it was on the wire; ``payload`` is already unmasked."""

    fin: bool
    rsv: int
    opcode: int
    masked: bool
    payload: bytes
    #: the payload-length field as encoded: 7, 16 or 64 (bits).
    length_bits: int


class FrameReader:
    """Incremental frame parser: bytes cut anywhere in, frames out.

    It enforces nothing but the structure of section 5.2 (and the rule that
    the 64-bit length has its top bit clear, which it cannot parse past).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[WireFrame]:
        """Append ``data`` and return every frame now complete, in order.

        Raises:
            WireError: a 64-bit length with its most significant bit set.
        """
        buf = self._buffer
        buf += data
        frames: list[WireFrame] = []
        while True:
            if len(buf) < 2:
                return frames
            b0, b1 = buf[0], buf[1]
            masked = bool(b1 & 0x80)
            n = b1 & 0x7F
            pos = 2
            bits = 7
            if n == 126:
                if len(buf) < 4:
                    return frames
                n = struct.unpack_from("!H", buf, 2)[0]
                pos, bits = 4, 16
            elif n == 127:
                if len(buf) < 10:
                    return frames
                n = struct.unpack_from("!Q", buf, 2)[0]
                if n >> 63:
                    raise WireError("64-bit payload length with the most significant bit set")
                pos, bits = 10, 64
            end = pos + (4 if masked else 0) + n
            if len(buf) < end:
                return frames
            if masked:
                key = bytes(buf[pos : pos + 4])
                payload = mask_payload(bytes(buf[pos + 4 : end]), key)
            else:
                payload = bytes(buf[pos:end])
            # bytearray drops its front in O(1): no quadratic copying.
            del buf[:end]
            frames.append(
                WireFrame(
                    fin=bool(b0 & 0x80),
                    rsv=(b0 >> 4) & 0x7,
                    opcode=b0 & 0x0F,
                    masked=masked,
                    payload=payload,
                    length_bits=bits,
                )
            )


# -- UTF-8 (RFC 3629 section 4) ------------------------------------------------


def _second_byte_range(lead: int) -> tuple[int, int, int] | None:
    """For a lead byte: (continuation bytes needed, low, high of the 2nd byte).

    From the RFC 3629 grammar:
        UTF8-2 = %xC2-DF UTF8-tail
        UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
                 %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
        UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
                 %xF4 %x80-8F 2( UTF8-tail )
    """
    if 0xC2 <= lead <= 0xDF:
        return 1, 0x80, 0xBF
    if lead == 0xE0:
        return 2, 0xA0, 0xBF
    if 0xE1 <= lead <= 0xEC or 0xEE <= lead <= 0xEF:
        return 2, 0x80, 0xBF
    if lead == 0xED:
        return 2, 0x80, 0x9F  # excludes the surrogates U+D800..U+DFFF
    if lead == 0xF0:
        return 3, 0x90, 0xBF
    if 0xF1 <= lead <= 0xF3:
        return 3, 0x80, 0xBF
    if lead == 0xF4:
        return 3, 0x80, 0x8F  # nothing above U+10FFFF
    return None  # 0x80-0xC1 and 0xF5-0xFF never start a sequence


def _utf8_scan(data: bytes) -> tuple[int | None, int]:
    """(index of the first impossible byte or None, continuation bytes still due)."""
    need = lo = hi = 0
    for i, byte in enumerate(data):
        if need:
            if not lo <= byte <= hi:
                return i, need
            lo, hi = 0x80, 0xBF
            need -= 1
        elif byte >= 0x80:
            rng = _second_byte_range(byte)
            if rng is None:
                return i, 0
            need, lo, hi = rng
    return None, need


def utf8_invalid_at(data: bytes) -> int | None:
    """The index of the first byte at which ``data`` stops being a prefix of
    some valid UTF-8 string, or None if it still is one.

    This is the earliest point where a fail-fast validator must reject a
    text message. ``data`` may end inside a sequence and still return None.
    """
    return _utf8_scan(data)[0]


def utf8_valid(data: bytes) -> bool:
    """Whether ``data`` is complete, valid UTF-8 (by the RFC 3629 DFA)."""
    return _utf8_scan(data) == (None, 0)


# -- the opening handshake (section 4) -----------------------------------------


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (section 4.2.2, item 5.4):
    base64 of the SHA-1 of the key (as sent, trimmed) concatenated with GUID."""
    digest = hashlib.sha1((key.strip() + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def build_request(host: str, port: int, path: str, key: str) -> bytes:
    """A minimal, valid client opening handshake (section 4.1)."""
    return (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n"
    ).encode("ascii")


def build_response(key: str) -> bytes:
    """The server's 101 answer to a request carrying ``key`` (section 4.2.2)."""
    return (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n"
        "\r\n"
    ).encode("ascii")


@dataclass(frozen=True)
class HttpHead:
    """An HTTP/1.1 request or response head: start line and headers."""

    start_line: str
    #: lower-cased names -> every value, in order.
    headers: dict[str, list[str]]

    def get(self, name: str) -> str | None:
        """The single value of a header, or None when absent or repeated."""
        values = self.headers.get(name.lower(), [])
        return values[0] if len(values) == 1 else None

    def tokens(self, name: str) -> list[str]:
        """A comma-separated header's tokens, lower-cased, across all lines."""
        return [
            t.strip().lower() for v in self.headers.get(name.lower(), []) for t in v.split(",") if t.strip()
        ]


def read_http_head(buffer: bytes, limit: int = 16384) -> tuple[HttpHead, bytes] | None:
    """Parse an HTTP head from the start of ``buffer``.

    Returns:
        (head, bytes after the head), or None while the head is incomplete.

    Raises:
        WireError: the head is malformed or longer than ``limit``.
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > limit:
            raise WireError("HTTP head too long")
        return None
    try:
        text = buffer[:end].decode("ascii")
    except UnicodeDecodeError:
        raise WireError("HTTP head is not ASCII") from None
    lines = text.split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise WireError(f"malformed header line {line!r}")
        headers.setdefault(name.lower(), []).append(value.strip())
    return HttpHead(lines[0], headers), buffer[end + 4 :]
