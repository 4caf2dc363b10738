"""permessage-deflate conformance (RFC 7692): the ground of Autobahn groups 12 and 13.

An oracle of our own, written from RFC 7692 on top of the standard
library's ``zlib`` and :mod:`.wire` (it never imports fastws): a fuzzing
client that offers permessage-deflate to a fastws server and a fuzzing
server that answers a fastws client's offer, each then exchanging
compressed messages with the fastws echo peer of :mod:`.harness`.

Every frame the peer sends is judged as it arrives: masking direction, RSV1
only on the first frame of a message (RFC 7692 section 6.1), never RSV2 or
RSV3, the fragmentation rules, and the payload inflated with *exactly* the
negotiated window (``2**max_window_bits`` bytes) and context takeover: a
peer that points farther back than it agreed to, or into a previous
message after agreeing not to, fails with "invalid distance too far back".
The handshake answer is judged against the offer (section 7.1).

* Group 12 (different payloads): five kinds of data (JSON, a bitmap image,
  English prose, HTML, random bytes) at 16 B to 128 KiB, sent whole and
  auto-fragmented (the compressed message cut into frames of 256 B to
  32 KiB), with an uncompressed message every fifth message; the fastws
  peer fragments its echoes at the same size.
* Group 13 (different parameters): every combination of the four
  parameters, offered by the oracle to a fastws server, and answered by
  the oracle to a fastws client, with several offers in one header too.
"""

from __future__ import annotations

import base64
import os
import random
import re
import socket
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .session import CaseFailed, Result
from .wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_TEXT,
    FrameReader,
    WireError,
    accept_key,
    build_frame,
    close_payload,
    parse_close_payload,
    read_http_head,
)

__all__ = [
    "DEFLATE_CASES",
    "DeflateCase",
    "Params",
    "parse_answer",
    "run_against_client",
    "run_against_server",
]

TIMEOUT = 10.0
_TAIL = b"\x00\x00\xff\xff"


# -- payloads (group 12's five kinds) ----------------------------------------------


def _json(rng: random.Random, size: int) -> bytes:
    items = []
    n = 0
    i = 0
    while n < size:
        item = (
            f'{{"id": {i}, "user": "user{rng.randint(0, 999)}", "active": {rng.choice(["true", "false"])}, '
            f'"score": {rng.random():.4f}, "tags": ["a", "b{rng.randint(0, 9)}"]}}'
        )
        items.append(item)
        n += len(item) + 2
        i += 1
    return ("[" + ", ".join(items) + "]").encode()[:size]


def _bitmap(rng: random.Random, size: int) -> bytes:
    # 24-bit rows of a gradient with 2 bits of noise, as an uncompressed
    # image is (whole-row integer XOR keeps it fast).
    width = 3 * 256
    row = bytes(((x * 3) & 0xFF) if x % 3 == 0 else ((x // 7) & 0xFF) for x in range(width))
    low_bits = int.from_bytes(b"\x03" * width, "big")
    base = int.from_bytes(row, "big")
    out = [b"BM" + bytes(52)]
    n = 54
    while n < size:
        noise = int.from_bytes(rng.randbytes(width), "big") & low_bits
        out.append((base ^ noise).to_bytes(width, "big"))
        n += width
    return b"".join(out)[:size]


_WORDS = (
    "the of and to a in that it was he for on his with as I had at by be not which this but from "
    "they all she were my there one so him said been have would them more when if no into what"
).split()


def _prose(rng: random.Random, size: int) -> bytes:
    words = []
    n = 0
    while n < size:
        word = rng.choice(_WORDS)
        if rng.random() < 0.08:
            word += "."
        words.append(word)
        n += len(word) + 1
    return " ".join(words).encode()[:size]


def _html(rng: random.Random, size: int) -> bytes:
    parts = ["<!DOCTYPE html><html><head><title>page</title></head><body>"]
    n = len(parts[0])
    while n < size:
        part = (
            f'<div class="row r{rng.randint(0, 20)}"><a href="/item/{rng.randint(0, 9999)}">item</a></div>\n'
        )
        parts.append(part)
        n += len(part)
    return "".join(parts).encode()[:size]


def _random(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


#: name -> (maker, opcode).
PAYLOADS: dict[str, tuple[Callable[[random.Random, int], bytes], int]] = {
    "json": (_json, OP_TEXT),
    "bitmap": (_bitmap, OP_BINARY),
    "prose": (_prose, OP_TEXT),
    "html": (_html, OP_TEXT),
    "random": (_random, OP_BINARY),
}

#: Group 12's sizes and auto-fragmentation (0: one frame).
GROUP12 = [
    (16, 0),
    (64, 0),
    (256, 0),
    (1024, 0),
    (4096, 0),
    (8192, 0),
    (16384, 0),
    (32768, 0),
    (65536, 0),
    (131072, 0),
    (8192, 256),
    (16384, 256),
    (32768, 1024),
    (65536, 4096),
    (131072, 4096),
    (65536, 32768),
    (131072, 32768),
    (131072, 1024),
]


# -- parameters and the oracle's codec --------------------------------------------------


@dataclass(frozen=True)
class Params:
    """Negotiated permessage-deflate parameters."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15


_BITS = re.compile(r"8|9|1[0-5]")


def _split_params(element: str) -> tuple[str, list[tuple[str, str | None]]]:
    parts = [p.strip() for p in element.split(";")]
    params: list[tuple[str, str | None]] = []
    for part in parts[1:]:
        name, sep, value = part.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        params.append((name.strip(), value if sep else None))
    return parts[0], params


def parse_answer(value: str, offer: list[tuple[str, str | None]]) -> Params:
    """Judge a server's answer to one offer (RFC 7692 section 7.1).

    Raises:
        CaseFailed: the answer is malformed or not allowed by the offer.
    """
    elements = [e for e in value.split(",") if e.strip()]
    if len(elements) != 1:
        raise CaseFailed(f"handshake: expected one extension in the answer, got {value!r}")
    name, params = _split_params(elements[0])
    if name != "permessage-deflate":
        raise CaseFailed(f"handshake: answered {name!r}, which was not offered")
    offered = dict(offer)
    seen: dict[str, str | None] = {}
    for pname, pvalue in params:
        if pname in seen:
            raise CaseFailed(f"handshake: {pname} repeated in {value!r}")
        seen[pname] = pvalue
        if pname in ("server_no_context_takeover", "client_no_context_takeover"):
            if pvalue is not None:
                raise CaseFailed(f"handshake: {pname} with a value in {value!r}")
        elif pname in ("server_max_window_bits", "client_max_window_bits"):
            if pvalue is None or not _BITS.fullmatch(pvalue):
                raise CaseFailed(f"handshake: invalid {pname} in {value!r}")
        else:
            raise CaseFailed(f"handshake: unknown parameter {pname} in {value!r}")
    # 7.1.1.1: an offered server_no_context_takeover must be accepted by
    # including it (or the whole offer declined).
    if "server_no_context_takeover" in offered and "server_no_context_takeover" not in seen:
        raise CaseFailed(f"handshake: server_no_context_takeover offered but not in {value!r}")
    # 7.1.2.1: "the same or smaller value as the offer".
    server_bits = seen.get("server_max_window_bits")
    if "server_max_window_bits" in offered:
        if server_bits is None:
            raise CaseFailed(f"handshake: server_max_window_bits offered but not in {value!r}")
        if int(server_bits) > int(offered["server_max_window_bits"] or 15):
            raise CaseFailed(f"handshake: server_max_window_bits larger than offered in {value!r}")
    # 7.1.2.2: client_max_window_bits only if offered, not above its value.
    client_bits = seen.get("client_max_window_bits")
    if client_bits is not None:
        if "client_max_window_bits" not in offered:
            raise CaseFailed(f"handshake: client_max_window_bits answered but not offered in {value!r}")
        if offered["client_max_window_bits"] is not None and int(client_bits) > int(
            offered["client_max_window_bits"]
        ):
            raise CaseFailed(f"handshake: client_max_window_bits larger than offered in {value!r}")
    elif offered.get("client_max_window_bits") is not None:
        client_bits = offered["client_max_window_bits"]
    return Params(
        "server_no_context_takeover" in seen,
        "client_no_context_takeover" in seen or "client_no_context_takeover" in offered,
        int(server_bits or 15),
        int(client_bits or 15),
    )


class Deflater:
    """The oracle's sender (RFC 7692 section 7.2.1): compress the whole
    message, remove the 4-byte tail, then cut the result into frames."""

    def __init__(self, bits: int, no_context_takeover: bool) -> None:
        # zlib cannot deflate with 8 bits; 9 bits never points farther back
        # than 250 bytes, so the stream stays within a 256-byte window.
        self.bits = max(bits, 9)
        self.nct = no_context_takeover
        self.obj: Any = None

    def compress(self, data: bytes) -> bytes:
        if self.obj is None or self.nct:
            self.obj = zlib.compressobj(6, zlib.DEFLATED, -self.bits)
        out = self.obj.compress(data) + self.obj.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(_TAIL)
        return out[:-4]


class Inflater:
    """The oracle's receiver (section 7.2.2), with exactly the agreed window."""

    def __init__(self, bits: int, no_context_takeover: bool) -> None:
        self.bits = bits
        self.nct = no_context_takeover
        self.obj: Any = None

    def decompress(self, data: bytes) -> bytes:
        if self.obj is None or self.nct:
            self.obj = zlib.decompressobj(-self.bits)
        try:
            out = self.obj.decompress(data + _TAIL)
        except zlib.error as exc:
            raise CaseFailed(
                f"the peer's deflate data does not inflate with the agreed window: {exc}"
            ) from None
        if self.obj.eof:
            self.obj = None
        return out


# -- a compressed session -------------------------------------------------------------


class DeflateSession:
    """Messages out compressed, echoes in, every frame judged."""

    def __init__(self, sock: socket.socket, *, peer_is_server: bool, initial: bytes, params: Params) -> None:
        self.sock = sock
        self.peer_is_server = peer_is_server
        self.reader = FrameReader()
        self.pending = list(self.reader.feed(initial)) if initial else []
        if peer_is_server:
            self.deflater = Deflater(params.client_max_window_bits, params.client_no_context_takeover)
            self.inflater = Inflater(params.server_max_window_bits, params.server_no_context_takeover)
        else:
            self.deflater = Deflater(params.server_max_window_bits, params.server_no_context_takeover)
            self.inflater = Inflater(params.client_max_window_bits, params.client_no_context_takeover)

    def send_message(self, opcode: int, data: bytes, *, compress: bool, fragment: int) -> None:
        payload = self.deflater.compress(data) if compress else data
        mask = True if self.peer_is_server else None
        if not fragment or len(payload) <= fragment:
            pieces = [payload]
        else:
            pieces = [payload[i : i + fragment] for i in range(0, len(payload), fragment)]
        out = []
        for i, piece in enumerate(pieces):
            out.append(
                build_frame(
                    opcode if i == 0 else OP_CONT,
                    piece,
                    fin=i == len(pieces) - 1,
                    rsv=4 if compress and i == 0 else 0,
                    mask=mask,
                )
            )
        self.sock.sendall(b"".join(out))

    def _frame(self, deadline: float) -> Any:
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CaseFailed("no answer in time")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                raise CaseFailed("no answer in time") from None
            if not data:
                raise CaseFailed("TCP closed before the expected answer")
            try:
                self.pending.extend(self.reader.feed(data))
            except WireError as exc:
                raise CaseFailed(str(exc)) from None
        frame = self.pending.pop(0)
        # RFC 6455 section 5.1: masking direction.
        if frame.masked == self.peer_is_server:
            raise CaseFailed(
                f"frame masked={frame.masked} from the {'server' if self.peer_is_server else 'client'}"
            )
        # RFC 7692 section 6.1 and RFC 6455 section 5.2: RSV2/RSV3 are not negotiated.
        if frame.rsv & 0b011:
            raise CaseFailed(f"RSV2/RSV3 set on a frame (rsv={frame.rsv})")
        return frame

    def receive_message(self, deadline: float) -> tuple[int, bytes, bool, list[int]]:
        """The next data message: (opcode, inflated payload, compressed?, frame sizes)."""
        frames = []
        while True:
            frame = self._frame(deadline)
            if frame.opcode >= 8:
                if frame.rsv:
                    raise CaseFailed("RSV bit on a control frame")
                if frame.opcode == OP_CLOSE:
                    code, reason = parse_close_payload(frame.payload)
                    raise CaseFailed(f"the peer closed ({code}, {reason!r}) instead of echoing")
                continue  # pings and pongs are not expected here; ignored
            if not frames and frame.opcode == OP_CONT:
                raise CaseFailed("continuation frame without a message")
            if frames and frame.opcode != OP_CONT:
                raise CaseFailed("new data frame inside a fragmented message")
            if frames and frame.rsv:
                # RFC 7692 section 6.1: RSV1 only on the first frame.
                raise CaseFailed("RSV1 set on a continuation frame")
            frames.append(frame)
            if frame.fin:
                break
        compressed = bool(frames[0].rsv & 0b100)
        data = b"".join(f.payload for f in frames)
        if compressed:
            data = self.inflater.decompress(data)
        return frames[0].opcode, data, compressed, [len(f.payload) for f in frames]

    def close(self, result: Result, deadline: float, expect: int = 1000) -> None:
        """Close handshake: send 1000 (unless the peer is to close first), expect ``expect``."""
        mask = True if self.peer_is_server else None
        if expect == 1000:
            self.sock.sendall(build_frame(OP_CLOSE, close_payload(1000), mask=mask))
        while True:
            frame = self._frame(deadline)
            if frame.opcode == OP_CLOSE:
                code, _ = parse_close_payload(frame.payload)
                if code != expect:
                    result.fail(f"close code {code}, expected {expect}")
                break
            if frame.opcode < 8 and expect == 1000:
                result.fail("data frame after our close frame")
                return
        if expect != 1000:
            try:
                self.sock.sendall(build_frame(OP_CLOSE, close_payload(expect), mask=mask))
            except OSError:
                return  # the failing peer may have closed TCP already
        if self.peer_is_server:
            # Section 7.1.1: the server closes TCP first.
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                rest = self.sock.recv(1 << 16)
            except ConnectionResetError:
                return
            except TimeoutError:
                result.fail("the server did not close TCP after the closing handshake")
                return
            if rest:
                result.fail(f"{len(rest)} bytes after the close frame")


# -- cases -----------------------------------------------------------------------


@dataclass(frozen=True)
class DeflateCase:
    """One compression case, for both roles.

    ``offers`` is what the oracle offers to a fastws server (and the offers
    a fastws client is configured to make, as ClientPerMessageDeflateFactory
    keyword arguments in ``client_factories``); ``answer`` is what the
    oracle answers a fastws client with (None: the default server answer).
    """

    name: str
    group: int
    description: str
    payload: str = "json"
    size: int = 1024
    fragment: int = 0
    count: int = 10
    offers: tuple[str, ...] = ("permessage-deflate; client_max_window_bits",)
    server_factory: dict[str, Any] = field(default_factory=dict)
    client_factories: tuple[dict[str, Any], ...] = ({},)
    answer: str = "permessage-deflate"
    max_size: int | None = None
    #: a close code the fastws peer must fail with (the bomb case).
    expect_close: int | None = None


def _group12() -> list[DeflateCase]:
    cases = []
    for i, kind in enumerate(PAYLOADS, start=1):
        for j, (size, fragment) in enumerate(GROUP12, start=1):
            cases.append(
                DeflateCase(
                    name=f"12.{i}.{j}",
                    group=12,
                    description=f"{kind} messages of {size} bytes, "
                    + (f"auto-fragmented at {fragment} bytes" if fragment else "one frame each"),
                    payload=kind,
                    size=size,
                    fragment=fragment,
                    count=12 if size <= 16384 else 4,
                )
            )
    # The bomb: 16 MiB of zeros compress to about 16 KiB.
    cases.append(
        DeflateCase(
            name="12.6.1",
            group=12,
            description="a compressed message inflating to 16 MiB against a 1 MiB limit: 1009",
            payload="zeros",
            size=16 * 2**20,
            count=1,
            max_size=2**20,
            expect_close=1009,
        )
    )
    return cases


# (client offer parameters, as factory kwargs) x (server answer); each
# parameter set is tried in both roles.
_PARAM_SETS: list[tuple[dict[str, Any], str]] = (
    [
        ({}, "permessage-deflate"),
        ({"client_no_context_takeover": True}, "permessage-deflate; client_no_context_takeover"),
        ({"server_no_context_takeover": True}, "permessage-deflate; server_no_context_takeover"),
        (
            {"server_no_context_takeover": True, "client_no_context_takeover": True},
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ),
    ]
    + [
        (
            {"server_max_window_bits": s, "client_max_window_bits": c},
            f"permessage-deflate; server_max_window_bits={s}; client_max_window_bits={c}",
        )
        for s in (8, 9, 11, 15)
        for c in (8, 10, 15)
    ]
    + [
        (
            {"server_no_context_takeover": True, "server_max_window_bits": 8, "client_max_window_bits": 8},
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8",
        ),
        (
            {"client_no_context_takeover": True, "server_max_window_bits": 9, "client_max_window_bits": True},
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9",
        ),
    ]
)


def _offer(kwargs: dict[str, Any]) -> str:
    parts = ["permessage-deflate"]
    if kwargs.get("server_no_context_takeover"):
        parts.append("server_no_context_takeover")
    if kwargs.get("client_no_context_takeover"):
        parts.append("client_no_context_takeover")
    if "server_max_window_bits" in kwargs:
        parts.append(f"server_max_window_bits={kwargs['server_max_window_bits']}")
    bits = kwargs.get("client_max_window_bits", True)
    if bits is True:
        parts.append("client_max_window_bits")
    elif bits is not None:
        parts.append(f"client_max_window_bits={bits}")
    return "; ".join(parts)


def _group13() -> list[DeflateCase]:
    cases = []
    free = {"server_max_window_bits": None, "client_max_window_bits": None}
    for i, (kwargs, answer) in enumerate(_PARAM_SETS, start=1):
        for j, (server_factory, label) in enumerate([(free, "honouring"), ({}, "default")], start=1):
            cases.append(
                DeflateCase(
                    name=f"13.{i}.{j}",
                    group=13,
                    description=f"offer {_offer(kwargs)!r} ({label} server) / answer {answer!r}",
                    payload="json" if i % 2 else "prose",
                    size=[64, 1024, 8192][i % 3],
                    fragment=[0, 512][(i + j) % 2],
                    count=10,
                    offers=(_offer(kwargs),),
                    server_factory=server_factory,
                    client_factories=(kwargs,),
                    answer=answer,
                )
            )
    # Several offers: the first acceptable one wins; unacceptable ones are skipped.
    cases.append(
        DeflateCase(
            name="13.20.1",
            group=13,
            description="several offers: invalid, then no context takeover with 8 bits, then plain",
            offers=(
                "permessage-deflate; client_max_window_bits=16",
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=8",
                "permessage-deflate",
            ),
            client_factories=(
                {"server_no_context_takeover": True, "server_max_window_bits": 8},
                {},
            ),
            answer="permessage-deflate; server_no_context_takeover; server_max_window_bits=8",
        )
    )
    cases.append(
        DeflateCase(
            name="13.20.2",
            group=13,
            description="several offers; the fastws client's second offer matches the answer",
            offers=("x-webkit-deflate-frame", "permessage-deflate; server_max_window_bits=10"),
            client_factories=({"server_no_context_takeover": True}, {}),
            answer="permessage-deflate; server_max_window_bits=10",
        )
    )
    return cases


DEFLATE_CASES: list[DeflateCase] = _group12() + _group13()


_MESSAGES: dict[str, list[tuple[int, bytes, bool]]] = {}


def _messages(case: DeflateCase) -> list[tuple[int, bytes, bool]]:
    """(opcode, payload, compress?) for each message; every fifth uncompressed."""
    cached = _MESSAGES.get(case.name)
    if cached is not None:
        return cached
    rng = random.Random(case.name)
    if case.payload == "zeros":
        messages = [(OP_BINARY, bytes(case.size), True)]
    else:
        maker, opcode = PAYLOADS[case.payload]
        messages = [(opcode, maker(rng, case.size), i % 5 != 4) for i in range(case.count)]
    _MESSAGES[case.name] = messages
    return messages


def _play(session: DeflateSession, case: DeflateCase, result: Result) -> None:
    deadline = time.monotonic() + TIMEOUT
    for opcode, data, compress in _messages(case):
        session.send_message(opcode, data, compress=compress, fragment=case.fragment)
        if case.expect_close is not None:
            session.close(result, deadline, expect=case.expect_close)
            return
        got_opcode, got, _, sizes = session.receive_message(deadline)
        if (got_opcode, got) != (opcode, data):
            result.fail(
                f"echo differs: opcode {got_opcode}, {len(got)} bytes {got[:20]!r}; sent {len(data)} bytes"
            )
            return
        # The peer cuts the message at the fragment size before compressing
        # each piece; incompressible data then grows by deflate's stored
        # block overhead (5 bytes a block) and the flush marker, no more.
        if case.fragment and max(sizes) > case.fragment + case.fragment // 128 + 16:
            result.fail(
                f"echo frames {sizes} exceed the fragment size {case.fragment} by more than deflate's overhead"
            )
    session.close(result, deadline)


# -- running against a fastws server (the oracle is the client) -------------------------


def run_against_server(
    case: DeflateCase, host: str, port: int, *, on_connect: Callable[[int], None] | None = None
) -> Result:
    """Offer ``case.offers`` to the fastws server at (host, port) and play the case.

    ``on_connect`` is called with our local port once connected.
    """
    result = Result(case.name, "server")
    start = time.monotonic()
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    if on_connect is not None:
        on_connect(sock.getsockname()[1])
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET /{case.name} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Extensions: {', '.join(case.offers)}\r\n\r\n"
            ).encode()
        )
        buffer = b""
        deadline = time.monotonic() + TIMEOUT
        parsed = None
        while parsed is None and time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                break
            buffer += data
            parsed = read_http_head(buffer)
        if parsed is None:
            result.fail("handshake: no response")
            return result
        head, rest = parsed
        if head.start_line.split(" ")[1:2] != ["101"] or head.get("sec-websocket-accept") != accept_key(key):
            result.fail(f"handshake: {head.start_line!r}")
            return result
        answer = head.get("sec-websocket-extensions")
        if answer is None:
            result.fail("handshake: the server did not accept permessage-deflate")
            return result
        # Which offer was accepted: the first one the answer is valid for.
        params = None
        errors = []
        for offer in case.offers:
            name, offer_params = _split_params(offer)
            if name != "permessage-deflate" or any(
                p == "client_max_window_bits" and v is not None and not _BITS.fullmatch(v)
                for p, v in offer_params
            ):
                continue
            try:
                params = parse_answer(answer, offer_params)
                break
            except CaseFailed as exc:
                errors.append(str(exc))
        if params is None:
            result.fail(f"handshake: answer {answer!r} fits no valid offer: {errors}")
            return result
        session = DeflateSession(sock, peer_is_server=True, initial=rest, params=params)
        _play(session, case, result)
    except CaseFailed as exc:
        result.fail(str(exc))
    except OSError as exc:
        result.fail(f"socket: {exc!r}")
    finally:
        sock.close()
        result.duration = time.monotonic() - start
    return result


# -- running against a fastws client (the oracle is the server) -------------------------


def run_against_client(
    case: DeflateCase, listener: socket.socket, offer_check: Callable[[str], None]
) -> Result:
    """Accept the fastws client on ``listener``, answer ``case.answer``, play the case.

    Args:
        case: the case.
        listener: a listening socket the client connects to.
        offer_check: judges the client's Sec-WebSocket-Extensions offer
            (raises CaseFailed).
    """
    result = Result(case.name, "client")
    start = time.monotonic()
    listener.settimeout(TIMEOUT)
    try:
        sock, _ = listener.accept()
    except TimeoutError:
        result.fail("the client did not connect")
        return result
    try:
        sock.settimeout(TIMEOUT)
        buffer = b""
        parsed = None
        deadline = time.monotonic() + TIMEOUT
        while parsed is None and time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                break
            buffer += data
            parsed = read_http_head(buffer)
        if parsed is None:
            result.fail("handshake: no request")
            return result
        head, rest = parsed
        offer = ", ".join(head.headers.get("sec-websocket-extensions", []))
        offer_check(offer)
        key = head.get("sec-websocket-key") or ""
        sock.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(key)}\r\n"
                f"Sec-WebSocket-Extensions: {case.answer}\r\n\r\n"
            ).encode()
        )
        # The answer's parameters, judged against the offer the client made.
        offers = [_split_params(e) for e in offer.split(",") if e.strip()]
        params = None
        for name, offer_params in offers:
            if name != "permessage-deflate":
                continue
            try:
                params = parse_answer(case.answer, offer_params)
                break
            except CaseFailed:
                continue
        if params is None:
            raise CaseFailed(f"the case's answer {case.answer!r} fits none of the client's offers {offer!r}")
        session = DeflateSession(sock, peer_is_server=False, initial=rest, params=params)
        _play(session, case, result)
    except CaseFailed as exc:
        result.fail(str(exc))
    except (OSError, WireError) as exc:
        result.fail(f"socket: {exc!r}")
    finally:
        sock.close()
        result.duration = time.monotonic() - start
    return result
