"""The conformance case table, written from RFC 6455.

Each :class:`Case` is a script of steps that a fuzzer (client or server)
plays against a fastws peer that echoes every text and binary message:

* :class:`Send` writes frames (built by :mod:`.wire`, masked by the fuzzing
  client, unmasked by the fuzzing server), whole or cut into TCP "chops";
* :class:`Wait` pauses (still reading);
* :class:`Expect` reads until the listed items have arrived, in order, within
  a bounded time: reassembled messages, pongs, the peer's close frame.

Case names and groups follow the ground of Autobahn|Testsuite's case groups
1-7, 9 and 10 (framing, pings, reserved bits, opcodes, fragmentation, UTF-8,
close, limits, auto-fragmentation); cases past Autobahn's numbering, and the
``.f`` variants of the UTF-8 stress-test cases (the same bytes, one byte per
fragment, with a fail-fast check), are our own additions.

Verdicts (as Autobahn grades them): ``OK``; ``NON-STRICT`` when the peer did
the right thing only late (e.g. rejected invalid UTF-8 at the end of the
message, not in the fragment where it occurred) or dropped the echo of a
message that arrived intact before a protocol error; ``FAILED`` otherwise.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    close_payload,
    utf8_invalid_at,
    utf8_valid,
)

__all__ = [
    "CASES",
    "Case",
    "Close",
    "Expect",
    "F",
    "Fragmented",
    "FramePart",
    "Message",
    "Pong",
    "Send",
    "Step",
    "Wait",
    "binary_payload",
    "text_payload",
]

OK = "OK"
NON_STRICT = "NON-STRICT"

#: Every wait in a case is bounded: the default for an expected answer.
TIMEOUT = 5.0
#: How long a fail-fast case waits for the close before sending the rest.
FAIL_FAST = 1.0
#: Pause between TCP chops sent "one at a time" (TCP_NODELAY is set).
CHOP_PAUSE = 0.001


# -- what the fuzzer sends -------------------------------------------------------


@dataclass(frozen=True)
class F:
    """A frame to send. Any field value, legal or not."""

    opcode: int
    payload: bytes = b""
    fin: bool = True
    rsv: int = 0

    def __repr__(self) -> str:
        bits = "" if self.fin else " fin=0"
        bits += f" rsv={self.rsv}" if self.rsv else ""
        return f"F(op={self.opcode}{bits} len={len(self.payload)})"


@dataclass(frozen=True)
class FramePart:
    """A slice of one frame's bytes, so a frame can be delivered across steps.

    ``start``/``stop`` count payload bytes; the part that starts at 0 also
    carries the header (and masking key).
    """

    frame: F
    start: int
    stop: int | None = None


@dataclass(frozen=True)
class Fragmented:
    """A whole message as frames of ``size`` payload bytes, built when sent
    (so the case table stays small when a message has 65536 fragments)."""

    opcode: int
    payload: bytes
    size: int

    def frames(self) -> tuple[F, ...]:
        """The frames: ``opcode`` first, then continuations; FIN on the last."""
        chunks = [self.payload[i : i + self.size] for i in range(0, len(self.payload), self.size)] or [b""]
        last = len(chunks) - 1
        return tuple(F(self.opcode if i == 0 else OP_CONT, c, fin=i == last) for i, c in enumerate(chunks))


@dataclass(frozen=True)
class Send:
    """Write frames, in one write or in chops.

    Attributes:
        frames: frames, frame parts, fragmented messages, or raw bytes
            sent as they are.
        chop: None: one write; an int n: writes of n bytes; a tuple: the
            first writes' sizes, then the rest in one write; "frame": one
            write per frame.
        pause: seconds between writes (the fuzzer keeps reading meanwhile).
    """

    frames: tuple[F | FramePart | Fragmented | bytes, ...]
    chop: int | tuple[int, ...] | str | None = None
    pause: float = 0.0


@dataclass(frozen=True)
class Wait:
    """Pause (bounded), still reading what the peer sends."""

    seconds: float


# -- what the fuzzer expects -------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """A complete data message from the peer (reassembled from its frames).

    ``fragment_size``: when set, the message must arrive in
    ceil(len / fragment_size) frames (1 if empty) of at most that many bytes.
    """

    opcode: int
    payload: bytes
    fragment_size: int | None = None

    def __repr__(self) -> str:
        kind = {OP_TEXT: "text", OP_BINARY: "binary"}.get(self.opcode, str(self.opcode))
        head = self.payload[:24]
        more = "..." if len(self.payload) > 24 else ""
        frag = f", fragment_size={self.fragment_size}" if self.fragment_size else ""
        return f"Message({kind}, {len(self.payload)} bytes {head!r}{more}{frag})"


@dataclass(frozen=True)
class Pong:
    """A pong from the peer, with this exact payload."""

    payload: bytes = b""


@dataclass(frozen=True)
class Close:
    """The peer's close frame, with one of these codes (None: empty payload)."""

    codes: frozenset[int | None]

    def __repr__(self) -> str:
        return f"Close({sorted(self.codes, key=lambda c: -1 if c is None else c)})"


Item = Message | Pong | Close


@dataclass(frozen=True)
class Expect:
    """Read until ``items`` have arrived in order, within ``timeout`` seconds.

    Attributes:
        items: the strict expectation (verdict OK).
        alternatives: other acceptable sequences, each with its verdict.
        timeout: bound on the wait.
        on_timeout: when nothing conclusive arrived in time, these steps are
            played and the wait starts again; the verdict is then at best
            NON-STRICT (the peer should not have needed them).
    """

    items: tuple[Item, ...]
    alternatives: tuple[tuple[str, tuple[Item, ...]], ...] = ()
    timeout: float = TIMEOUT
    on_timeout: tuple[Step, ...] = ()


Step = Send | Wait | Expect


@dataclass(frozen=True)
class Case:
    """One conformance case.

    Attributes:
        name: "group.sub.n", as Autobahn numbers its cases.
        group: the case group (1-10).
        description: what is sent and what must happen.
        steps: the script; it ends with the peer's close frame expected.
        config: keyword arguments for the fastws protocol under test.
        slow: marked ``slow`` in pytest.
    """

    name: str
    group: int
    description: str
    steps: tuple[Step, ...]
    config: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    slow: bool = False


# -- payloads ------------------------------------------------------------------------

_TEXT_UNIT = "Hello-µ@ßöäüàá-UTF-8!! κόσμε € 𝄞 ".encode()


def text_payload(n: int) -> bytes:
    """Exactly ``n`` bytes of valid UTF-8 mixing 1- to 4-byte code points."""
    data = (_TEXT_UNIT * (n // len(_TEXT_UNIT) + 1))[:n]
    # Cutting may split the last code point: replace its bytes with ASCII.
    lead = n - 1
    while lead >= 0 and 0x80 <= data[lead] < 0xC0:
        lead -= 1
    if lead >= 0 and data[lead] >= 0xC0:
        size = 2 if data[lead] < 0xE0 else 3 if data[lead] < 0xF0 else 4
        if n - lead < size:
            data = data[:lead] + b"*" * (n - lead)
    return data


def binary_payload(n: int, seed: int = 0) -> bytes:
    """``n`` reproducible pseudo-random bytes (mostly not UTF-8).

    A random block of a prime length, repeated: it never lines up with
    fragment or chop sizes, and costs nothing for 16 MiB.
    """
    block = random.Random(seed).randbytes(min(n, 4099))
    return (block * (n // 4099 + 1))[:n]


# -- building blocks -----------------------------------------------------------------


def _close_frame(code: int | None = 1000, reason: bytes = b"") -> F:
    return F(OP_CLOSE, close_payload(code, reason))


def _close(*codes: int | None) -> Close:
    return Close(frozenset(codes))


def _echo(*sends: Step, expect: tuple[Item, ...] = (), timeout: float = TIMEOUT) -> tuple[Step, ...]:
    """Play ``sends``, expect ``expect``, then close the connection cleanly."""
    return (
        *sends,
        Expect(tuple(expect), timeout=timeout),
        Send((_close_frame(1000),)),
        Expect((_close(1000),), timeout=timeout),
    )


def _fail(
    *sends: Step, code: int = 1002, before: tuple[Item, ...] = (), timeout: float = TIMEOUT
) -> tuple[Step, ...]:
    """Play ``sends``, then the peer must fail the connection with ``code``.

    Items in ``before`` arrived intact before the error: they must be
    delivered first; a peer that drops them is NON-STRICT.
    """
    alternatives = ((NON_STRICT, (_close(code),)),) if before else ()
    return (*sends, Expect((*before, _close(code)), alternatives=alternatives, timeout=timeout))


def _text(data: str | bytes, fin: bool = True) -> F:
    return F(OP_TEXT, data.encode() if isinstance(data, str) else data, fin)


def _msg(data: str | bytes, fragment_size: int | None = None) -> Message:
    return Message(OP_TEXT, data.encode() if isinstance(data, str) else data, fragment_size)


def _bmsg(data: bytes, fragment_size: int | None = None) -> Message:
    return Message(OP_BINARY, data, fragment_size)


def _fragments(opcode: int, payload: bytes, size: int) -> tuple[Fragmented]:
    """``payload`` as a fragmented message of frames of ``size`` bytes."""
    return (Fragmented(opcode, payload, size),)


CASES: list[Case] = []


def _case(name: str, description: str, steps: tuple[Step, ...], **kw: object) -> None:
    CASES.append(Case(name, int(name.split(".")[0]), description, steps, **kw))  # type: ignore[arg-type]


# -- 1: framing ----------------------------------------------------------------------

_LENGTHS = (0, 125, 126, 127, 128, 65535, 65536)

for _sub, (_op, _kind, _make) in enumerate(
    ((OP_TEXT, "text", text_payload), (OP_BINARY, "binary", binary_payload)), start=1
):
    for _i, _n in enumerate(_LENGTHS, start=1):
        _p = _make(_n)
        _case(
            f"1.{_sub}.{_i}",
            f"Send a {_kind} message of {_n} bytes; it is echoed.",
            _echo(Send((F(_op, _p),)), expect=(Message(_op, _p),)),
        )
    _p = _make(65536)
    _case(
        f"1.{_sub}.8",
        f"Send a {_kind} message of 65536 bytes in TCP chops of 997 bytes; it is echoed.",
        _echo(Send((F(_op, _p),), chop=997), expect=(Message(_op, _p),)),
    )

# Byte-by-byte delivery: every header field (length encodings, masking key)
# arrives split across reads.
for _i, (_op, _n) in enumerate(
    ((OP_TEXT, 0), (OP_TEXT, 125), (OP_TEXT, 126), (OP_BINARY, 127), (OP_BINARY, 300)), start=1
):
    _p = text_payload(_n) if _op == OP_TEXT else binary_payload(_n)
    _case(
        f"1.3.{_i}",
        f"Send a {'text' if _op == OP_TEXT else 'binary'} message of {_n} bytes one byte per TCP write; it is echoed.",
        _echo(Send((F(_op, _p),), chop=1, pause=CHOP_PAUSE), expect=(Message(_op, _p),)),
    )
_p = binary_payload(65536)
_case(
    "1.3.6",
    "Send a binary message of 65536 bytes (64-bit length) whose header and first 8 payload bytes "
    "arrive one byte per TCP write; it is echoed.",
    _echo(Send((F(OP_BINARY, _p),), chop=(1,) * 22, pause=CHOP_PAUSE), expect=(_bmsg(_p),)),
)
_p = text_payload(1000)
_case(
    "1.3.7",
    "Send 20 text messages of 1000 bytes in one write; all are echoed, in order.",
    _echo(Send((F(OP_TEXT, _p),) * 20), expect=(_msg(_p),) * 20),
)

# -- 2: pings and pongs ----------------------------------------------------------------

_case(
    "2.1",
    "Send a ping without payload; a pong without payload answers it.",
    _echo(Send((F(OP_PING),)), expect=(Pong(b""),)),
)
_case(
    "2.2",
    "Send a ping with a small text payload; the pong echoes it.",
    _echo(Send((F(OP_PING, b"Hello, world!"),)), expect=(Pong(b"Hello, world!"),)),
)
_BIN8 = b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
_case(
    "2.3",
    "Send a ping with a small binary (non UTF-8) payload; the pong echoes it.",
    _echo(Send((F(OP_PING, _BIN8),)), expect=(Pong(_BIN8),)),
)
_P125 = b"\xfe" * 125
_case(
    "2.4",
    "Send a ping with a 125-byte binary payload (the maximum); the pong echoes it.",
    _echo(Send((F(OP_PING, _P125),)), expect=(Pong(_P125),)),
)
_case(
    "2.5",
    "Send a ping with a 126-byte payload: control frames are limited to 125 bytes -> 1002.",
    _fail(Send((F(OP_PING, b"\xfe" * 126),))),
)
_case(
    "2.6",
    "Send a ping with a 125-byte payload one byte per TCP write; the pong echoes it.",
    _echo(Send((F(OP_PING, _P125),), chop=1, pause=CHOP_PAUSE), expect=(Pong(_P125),)),
)
_case("2.7", "Send an unsolicited pong without payload; it is ignored.", _echo(Send((F(OP_PONG),))))
_case(
    "2.8",
    "Send an unsolicited pong with a payload; it is ignored.",
    _echo(Send((F(OP_PONG, b"unsolicited pong payload"),))),
)
_case(
    "2.9",
    "Send an unsolicited pong, then a ping; only the ping is answered.",
    _echo(
        Send((F(OP_PONG, b"unsolicited pong payload"), F(OP_PING, b"ping payload"))),
        expect=(Pong(b"ping payload"),),
    ),
)
_PINGS = tuple(F(OP_PING, f"payload-{i}".encode()) for i in range(10))
_PONGS = tuple(Pong(f.payload) for f in _PINGS)
_case(
    "2.10", "Send 10 pings in one write; 10 pongs answer them, in order.", _echo(Send(_PINGS), expect=_PONGS)
)
_case(
    "2.11",
    "Send 10 pings one byte per TCP write; 10 pongs answer them, in order.",
    _echo(Send(_PINGS, chop=1, pause=CHOP_PAUSE / 4), expect=_PONGS),
)
_SWEEP = tuple(F(OP_PING, binary_payload(n, seed=2)) for n in range(126))
_case(
    "2.12",
    "Send 126 pings with payloads of 0 to 125 bytes; each is answered, in order.",
    _echo(Send(_SWEEP), expect=tuple(Pong(f.payload) for f in _SWEEP)),
)
_case(
    "2.13",
    "Send a ping with FIN clear: control frames must not be fragmented -> 1002.",
    _fail(Send((F(OP_PING, b"ping", fin=False),))),
)
_case(
    "2.14",
    "Send a pong with a 126-byte payload: control frames are limited to 125 bytes -> 1002.",
    _fail(Send((F(OP_PONG, b"\xfe" * 126),))),
)
# The RFC orders neither the pong against the echoes (the pong is the
# protocol's answer, the echo the application's) nor vice versa; the two
# echoes keep their order.
_E1, _PB, _E2 = _msg("first"), Pong(b"between"), _msg("second")
_case(
    "2.15",
    "Send a text message, a ping, a text message in one write: a pong and both echoes, the echoes in order.",
    (
        Send((_text("first"), F(OP_PING, b"between"), _text("second"))),
        Expect((_E1, _PB, _E2), alternatives=((OK, (_PB, _E1, _E2)), (OK, (_E1, _E2, _PB)))),
        Send((_close_frame(1000),)),
        Expect((_close(1000),)),
    ),
)

# -- 3: reserved bits ------------------------------------------------------------------

_HELLO = b"Hello, world!"
_case(
    "3.1",
    "Send a text message with RSV = 1 (RSV3) and no extension negotiated -> 1002.",
    _fail(Send((F(OP_TEXT, _HELLO, rsv=1),))),
)
_case(
    "3.2",
    "Send a text message, the same with RSV = 2, then a ping, in one write: the first message arrived "
    "intact before the error, so it is echoed first; then the connection fails with 1002 and the ping "
    "is not answered.",
    _fail(
        Send((F(OP_TEXT, _HELLO), F(OP_TEXT, _HELLO, rsv=2), F(OP_PING))),
        before=(_msg(_HELLO),),
    ),
)
# The chopped variants wait for the first echo before sending the faulty
# frame, so that their verdict does not depend on how the peer's reads
# happen to group the chops (3.2 covers "valid and faulty in one read").
for _name, _rsv, _chop, _how in (
    ("3.3", 3, "frame", "one write per frame"),
    ("3.4", 4, 1, "one byte per write"),
):
    _case(
        _name,
        f"Send a text message, then (after its echo) the same with RSV = {_rsv} and a ping, {_how}: "
        "the connection fails with 1002 and the ping is not answered.",
        (
            Send((F(OP_TEXT, _HELLO),), chop=_chop, pause=CHOP_PAUSE),
            Expect((_msg(_HELLO),)),
            *_fail(Send((F(OP_TEXT, _HELLO, rsv=_rsv), F(OP_PING)), chop=_chop, pause=CHOP_PAUSE)),
        ),
    )
_case(
    "3.5",
    "Send a binary message with RSV = 5 (RSV1 + RSV3) -> 1002.",
    _fail(Send((F(OP_BINARY, _BIN8, rsv=5),))),
)
_case(
    "3.6",
    "Send a ping with RSV = 6 (RSV1 + RSV2) -> 1002, no pong.",
    _fail(Send((F(OP_PING, _HELLO, rsv=6),))),
)
_case(
    "3.7",
    "Send a close frame with RSV = 7 -> 1002, not a 1000 echo.",
    _fail(Send((F(OP_CLOSE, close_payload(1000), rsv=7),))),
)
_case(
    "3.8",
    "Send a text message in 2 fragments, the continuation with RSV = 2 -> 1002.",
    _fail(Send((F(OP_TEXT, b"frag1", fin=False), F(OP_CONT, b"frag2", rsv=2)))),
)

# -- 4: opcodes ------------------------------------------------------------------------

for _sub, _ops in ((1, (3, 4, 5, 6, 7)), (2, (11, 12, 13, 14, 15))):
    _kind = "non-control" if _sub == 1 else "control"
    _o = _ops
    _case(
        f"4.{_sub}.1",
        f"Send a frame with the reserved {_kind} opcode {_o[0]} -> 1002.",
        _fail(Send((F(_o[0]),))),
    )
    _case(
        f"4.{_sub}.2",
        f"Send a frame with the reserved {_kind} opcode {_o[1]} and a payload -> 1002.",
        _fail(Send((F(_o[1], b"reserved opcode payload"),))),
    )
    _case(
        f"4.{_sub}.3",
        f"Send a text message, a frame with reserved opcode {_o[2]}, a ping: echo, then 1002, no pong.",
        _fail(Send((F(OP_TEXT, _HELLO), F(_o[2]), F(OP_PING))), before=(_msg(_HELLO),)),
    )
    _case(
        f"4.{_sub}.4",
        f"Send a text message, a frame with reserved opcode {_o[3]} and a payload, a ping: echo, then 1002.",
        _fail(Send((F(OP_TEXT, _HELLO), F(_o[3], b"reserved"), F(OP_PING))), before=(_msg(_HELLO),)),
    )
    _case(
        f"4.{_sub}.5",
        f"Send a text message one byte per TCP write; after its echo, a frame with reserved opcode "
        f"{_o[4]} and a payload, then a ping, one byte per write -> 1002, no pong.",
        (
            Send((F(OP_TEXT, _HELLO),), chop=1, pause=CHOP_PAUSE / 4),
            Expect((_msg(_HELLO),)),
            *_fail(Send((F(_o[4], b"reserved"), F(OP_PING)), chop=1, pause=CHOP_PAUSE / 4)),
        ),
    )
for _i, _op in enumerate((3, 4, 5, 6, 7, 11, 12, 13, 14, 15), start=1):
    _case(
        f"4.3.{_i}",
        f"Send a binary message, then reserved opcode {_op} with FIN clear: echo, then 1002.",
        _fail(Send((F(OP_BINARY, _BIN8), F(_op, fin=False))), before=(_bmsg(_BIN8),)),
    )
    _case(
        f"4.4.{_i}",
        f"Send a text fragment, then reserved opcode {_op} with a 125-byte payload inside the message -> 1002.",
        _fail(Send((F(OP_TEXT, b"open message", fin=False), F(_op, b"\x01" * 125)))),
    )

# -- 5: fragmentation ------------------------------------------------------------------

_case(
    "5.1",
    "Send a ping in 2 fragments -> 1002.",
    _fail(Send((F(OP_PING, b"fragment1", fin=False), F(OP_CONT, b"fragment2")))),
)
_case(
    "5.2",
    "Send a pong in 2 fragments -> 1002.",
    _fail(Send((F(OP_PONG, b"fragment1", fin=False), F(OP_CONT, b"fragment2")))),
)
_TWO = (_text("fragment1", fin=False), F(OP_CONT, b"fragment2"))
for _name, _chop, _how in (
    ("5.3", None, "one write"),
    ("5.4", 1, "one byte per write"),
    ("5.5", "frame", "one write per frame"),
):
    _case(
        _name,
        f"Send a text message in 2 fragments ({_how}); it is echoed whole.",
        _echo(
            Send(_TWO, chop=_chop, pause=CHOP_PAUSE if _chop else 0.0), expect=(_msg("fragment1fragment2"),)
        ),
    )
_PINGED = (_text("fragment1", fin=False), F(OP_PING, b"pongme!"), F(OP_CONT, b"fragment2"))
for _name, _chop, _how in (
    ("5.6", None, "one write"),
    ("5.7", 1, "one byte per write"),
    ("5.8", "frame", "one write per frame"),
):
    _case(
        _name,
        f"Send a text message in 2 fragments with a ping between them ({_how}): "
        "the pong comes first, then the echo.",
        _echo(
            Send(_PINGED, chop=_chop, pause=CHOP_PAUSE if _chop else 0.0),
            expect=(Pong(b"pongme!"), _msg("fragment1fragment2")),
        ),
    )
_NOSTART_FIN = (F(OP_CONT, b"non-continuation payload"), _text("Hello, world!"))
_NOSTART = (F(OP_CONT, b"non-continuation payload", fin=False), _text("Hello, world!"))
for _name, _frames, _chop, _how in (
    ("5.9", _NOSTART_FIN, None, "FIN set, one write"),
    ("5.10", _NOSTART_FIN, "frame", "FIN set, one write per frame"),
    ("5.11", _NOSTART_FIN, 1, "FIN set, one byte per write"),
    ("5.12", _NOSTART, None, "FIN clear, one write"),
    ("5.13", _NOSTART, "frame", "FIN clear, one write per frame"),
    ("5.14", _NOSTART, 1, "FIN clear, one byte per write"),
):
    _case(
        _name,
        f"Send a continuation frame with nothing to continue ({_how}), then a text message -> 1002, "
        "nothing echoed.",
        _fail(Send(_frames, chop=_chop, pause=CHOP_PAUSE if _chop else 0.0)),
    )
_case(
    "5.15",
    "Send a text message in 2 fragments, a continuation with nothing to continue, then a text "
    "message, in one write: the first message is echoed, then 1002.",
    _fail(
        Send(
            (
                _text("fragment1", fin=False),
                F(OP_CONT, b"fragment2"),
                F(OP_CONT, b"fragment3", fin=False),
                _text("fragment4"),
            )
        ),
        before=(_msg("fragment1fragment2"),),
    ),
)
_case(
    "5.16",
    "Send twice (continuation FIN clear, text FIN clear, continuation FIN set) -> 1002.",
    _fail(
        Send(
            (F(OP_CONT, b"fragment1", fin=False), _text("fragment2", fin=False), F(OP_CONT, b"fragment3")) * 2
        )
    ),
)
_case(
    "5.17",
    "Send twice (continuation FIN set, text FIN clear, continuation FIN set) -> 1002.",
    _fail(Send((F(OP_CONT, b"fragment1"), _text("fragment2", fin=False), F(OP_CONT, b"fragment3")) * 2)),
)
_case(
    "5.18",
    "Send a text message in 2 fragments whose second frame is a new text frame -> 1002.",
    _fail(Send((_text("fragment1", fin=False), _text("fragment2")))),
)
for _name, _chop, _how in (("5.19", None, "frames"), ("5.20", 1, "one byte per TCP write")):
    _pause = CHOP_PAUSE if _chop else 0.0
    _case(
        _name,
        f"Send a text message in 5 fragments with 2 pings between them ({_how}); each pong arrives "
        "while the message is still open, then the whole message is echoed.",
        (
            Send(
                (
                    _text("fragment1", fin=False),
                    F(OP_CONT, b"fragment2", fin=False),
                    F(OP_PING, b"pongme 1!"),
                ),
                chop=_chop,
                pause=_pause,
            ),
            Expect((Pong(b"pongme 1!"),)),
            Send(
                (
                    F(OP_CONT, b"fragment3", fin=False),
                    F(OP_CONT, b"fragment4", fin=False),
                    F(OP_PING, b"pongme 2!"),
                ),
                chop=_chop,
                pause=_pause,
            ),
            Expect((Pong(b"pongme 2!"),)),
            *_echo(
                Send((F(OP_CONT, b"fragment5"),), chop=_chop, pause=_pause),
                expect=(_msg("fragment1fragment2fragment3fragment4fragment5"),),
            ),
        ),
    )
_p = text_payload(2000)
_case(
    "5.21",
    "Send a text message of 2000 bytes in 64 fragments; it is echoed whole.",
    _echo(Send(_fragments(OP_TEXT, _p, 32)), expect=(_msg(_p),)),
)
_case(
    "5.22",
    "Send a text message in 5 fragments of which 4 are empty; it is echoed whole.",
    _echo(
        Send(
            (
                _text("", fin=False),
                F(OP_CONT, b"", fin=False),
                F(OP_CONT, b"payload", fin=False),
                F(OP_CONT, b"", fin=False),
                F(OP_CONT, b""),
            )
        ),
        expect=(_msg("payload"),),
    ),
)
_case(
    "5.23",
    "Send an empty binary message in 3 empty fragments; an empty binary message is echoed.",
    _echo(
        Send((F(OP_BINARY, b"", fin=False), F(OP_CONT, b"", fin=False), F(OP_CONT, b""))),
        expect=(_bmsg(b""),),
    ),
)
_case(
    "5.24",
    "Send a binary message in 2 fragments with an unsolicited pong between them; it is echoed.",
    _echo(
        Send((F(OP_BINARY, b"\x00\x01", fin=False), F(OP_PONG, b"ignored"), F(OP_CONT, b"\x02\x03"))),
        expect=(_bmsg(b"\x00\x01\x02\x03"),),
    ),
)
_case(
    "5.25",
    "Send a text fragment, then a close frame in the middle of the message: a control frame may "
    "be interleaved, so it is a normal close (1000 echoed), not a protocol error.",
    (Send((_text("fragment1", fin=False), _close_frame(1000))), Expect((_close(1000),))),
)
_case(
    "5.26",
    "Send a text fragment, then a binary frame inside the open message -> 1002.",
    _fail(Send((_text("fragment1", fin=False), F(OP_BINARY, b"\x00")))),
)
_case(
    "5.27",
    "Send a text fragment, then a ping with FIN clear inside the open message -> 1002.",
    _fail(Send((_text("fragment1", fin=False), F(OP_PING, b"x", fin=False), F(OP_CONT, b"y")))),
)
_case(
    "5.28",
    "Send a binary message in 2 fragments, then a text message in 3, in one write; both echoed in order.",
    _echo(
        Send(
            (
                F(OP_BINARY, b"\x01", fin=False),
                F(OP_CONT, b"\x02"),
                _text("a", fin=False),
                F(OP_CONT, b"b", fin=False),
                F(OP_CONT, b"c"),
            )
        ),
        expect=(_bmsg(b"\x01\x02"), _msg("abc")),
    ),
)

# -- 6: UTF-8 ---------------------------------------------------------------------------

_case("6.1.1", "Send an empty text message; it is echoed.", _echo(Send((_text(""),)), expect=(_msg(""),)))
_case(
    "6.1.2",
    "Send an empty text message in 3 empty fragments; it is echoed.",
    _echo(Send((_text("", fin=False), F(OP_CONT, b"", fin=False), F(OP_CONT, b""))), expect=(_msg(""),)),
)
_case(
    "6.1.3",
    "Send a text message in 3 fragments, the first and last empty; it is echoed.",
    _echo(
        Send((_text("", fin=False), F(OP_CONT, b"middle frame payload", fin=False), F(OP_CONT, b""))),
        expect=(_msg("middle frame payload"),),
    ),
)

_HELLO_UTF8 = "Hello-µ@ßöäüàá-UTF-8!!".encode()
_KOSME = "κόσμε".encode()


def _split(payload: bytes, *cuts: int) -> tuple[F, ...]:
    """A text message cut at byte offsets ``cuts`` (not necessarily on code points)."""
    bounds = (0, *cuts, len(payload))
    last = len(bounds) - 2
    return tuple(
        F(OP_TEXT if i == 0 else OP_CONT, payload[a:b], fin=i == last)
        for i, (a, b) in enumerate(itertools.pairwise(bounds))
    )


def _bytewise(payload: bytes) -> tuple[F, ...]:
    return _split(payload, *range(1, len(payload))) if len(payload) > 1 else (F(OP_TEXT, payload),)


_case(
    "6.2.1",
    "Send valid UTF-8 text (Hello-µ@ßöäüàá-UTF-8!!) in 1 fragment; it is echoed.",
    _echo(Send((F(OP_TEXT, _HELLO_UTF8),)), expect=(_msg(_HELLO_UTF8),)),
)
_case(
    "6.2.2",
    "Send the same in 2 fragments cut on a code point boundary; it is echoed.",
    _echo(Send(_split(_HELLO_UTF8, 8)), expect=(_msg(_HELLO_UTF8),)),
)
_case(
    "6.2.3",
    "Send the same in fragments of one byte (code points split across frames); it is echoed.",
    _echo(Send(_bytewise(_HELLO_UTF8)), expect=(_msg(_HELLO_UTF8),)),
)
_case(
    "6.2.4",
    "Send κόσμε in fragments of one byte; it is echoed.",
    _echo(Send(_bytewise(_KOSME)), expect=(_msg(_KOSME),)),
)
_case(
    "6.2.5",
    "Send Hello-µ@ß... in 2 fragments cut inside a 2-byte code point; it is echoed.",
    _echo(Send(_split(_HELLO_UTF8, 7)), expect=(_msg(_HELLO_UTF8),)),
)
_G = "𝄞€😀".encode()  # 4 + 3 + 4 bytes
_case(
    "6.2.6",
    "Send 4-, 3- and 4-byte code points in 3 fragments, each cut inside a code point; echoed.",
    _echo(Send(_split(_G, 2, 6)), expect=(_msg(_G),)),
)
_case(
    "6.2.7",
    "Send Hello-µ@ß... in 1 frame delivered one byte per TCP write; it is echoed.",
    _echo(Send((F(OP_TEXT, _HELLO_UTF8),), chop=1, pause=CHOP_PAUSE), expect=(_msg(_HELLO_UTF8),)),
)
_case(
    "6.2.8",
    "Send 4-, 3- and 4-byte code points in fragments of one byte; it is echoed.",
    _echo(Send(_bytewise(_G)), expect=(_msg(_G),)),
)

_BAD = _KOSME + b"\xed\xa0\x80" + b"edited"  # a UTF-16 surrogate in the middle
_BAD_AT = utf8_invalid_at(_BAD)
assert _BAD_AT == len(_KOSME) + 1


def _fail_fast(frames: tuple[F, ...], upto: int, code: int = 1007) -> tuple[Step, ...]:
    """Send ``frames[:upto]``; the peer must fail with ``code`` before the rest
    is sent (bounded wait); if it only fails after the rest: NON-STRICT."""
    head, rest = frames[:upto], frames[upto:]
    if not rest:
        return _fail(Send(head), code=code)
    return (
        Send(head),
        Expect((_close(code),), timeout=FAIL_FAST, on_timeout=(Send(rest),)),
    )


_case(
    "6.3.1",
    "Send invalid UTF-8 text (a surrogate) in 1 fragment -> 1007.",
    _fail(Send((F(OP_TEXT, _BAD),)), code=1007),
)
_case(
    "6.3.2",
    "Send the same in fragments of one byte: 1007 as soon as the fragment with the first invalid "
    "byte arrives, before the rest is sent.",
    _fail_fast(_bytewise(_BAD), _BAD_AT + 1),
)
_case(
    "6.3.3",
    "Send the same in 2 fragments, the second holding the invalid bytes -> 1007.",
    _fail(Send(_split(_BAD, 5)), code=1007),
)
_case(
    "6.3.4",
    "Send the same in 3 fragments, the invalid bytes in the middle one: 1007 before the third.",
    _fail_fast(_split(_BAD, len(_KOSME), len(_KOSME) + 3), 2),
)
_case(
    "6.3.5",
    "Send the same in 1 frame delivered one byte per TCP write -> 1007.",
    _fail(Send((F(OP_TEXT, _BAD),), chop=1, pause=CHOP_PAUSE / 4), code=1007),
)

# 6.4: fail fast. PART2 encodes U+110000 (f4 90 80 80), beyond Unicode.
_PART1, _PART2, _PART3 = _KOSME, b"\xf4\x90\x80\x80", b"edited"
_case(
    "6.4.1",
    "Send a text message in 3 fragments: PART1 (valid), PART2 (U+110000, invalid), then wait: "
    "1007 must arrive before PART3 is sent.",
    (
        Send((_text(_PART1, fin=False),)),
        Wait(0.01),
        *_fail_fast((F(OP_CONT, _PART2, fin=False), F(OP_CONT, _PART3)), 1),
    ),
)
_case(
    "6.4.2",
    "As 6.4.1, but the fragments are cut at f4 | 90 | 80 80: 1007 when the 90 arrives.",
    (
        Send((_text(_PART1 + b"\xf4", fin=False),)),
        Wait(0.01),
        *_fail_fast((F(OP_CONT, b"\x90", fin=False), F(OP_CONT, b"\x80\x80" + _PART3)), 1),
    ),
)
_ONE = F(OP_TEXT, _PART1 + _PART2 + _PART3)
_case(
    "6.4.3",
    "As 6.4.1, but in 3 TCP chops of a single frame: 1007 must arrive after the 2nd chop, "
    "before the rest of the frame is sent.",
    (
        Send((FramePart(_ONE, 0, len(_PART1)),)),
        Wait(0.01),
        Send((FramePart(_ONE, len(_PART1), len(_PART1) + 4),)),
        Expect((_close(1007),), timeout=FAIL_FAST, on_timeout=(Send((FramePart(_ONE, len(_PART1) + 4),)),)),
    ),
)
_case(
    "6.4.4",
    "As 6.4.3, with chops cut at f4 | 90 | 80 80: 1007 after the chop holding 90.",
    (
        Send((FramePart(_ONE, 0, len(_PART1) + 1),)),
        Wait(0.01),
        Send((FramePart(_ONE, len(_PART1) + 1, len(_PART1) + 2),)),
        Expect((_close(1007),), timeout=FAIL_FAST, on_timeout=(Send((FramePart(_ONE, len(_PART1) + 2),)),)),
    ),
)
_case(
    "6.4.5",
    "Send fragment 1 of a text message holding an overlong '/' (c0 af): 1007 before any "
    "further fragment is sent.",
    _fail_fast((_text(b"Hello \xc0\xaf world", fin=False), F(OP_CONT, b" and more")), 1),
)
_case(
    "6.4.6",
    "Send fragment 1 ending in ed a0 (the start of a surrogate, already invalid): 1007 before "
    "fragment 2 is sent.",
    _fail_fast((_text(b"abc\xed\xa0", fin=False), F(OP_CONT, b"\x80xyz")), 1),
)
_case(
    "6.4.7",
    "Send a valid fragment, then one holding 0xff: 1007 before the final fragment is sent.",
    _fail_fast((_text("valid ", fin=False), F(OP_CONT, b"\xff", fin=False), F(OP_CONT, b" end")), 2),
)


def _kuhn() -> list[tuple[str, list[bytes]]]:
    """Markus Kuhn's UTF-8 decoder stress test, by section, as byte strings.

    Written from the test file's structure: which sequences are valid is
    decided by RFC 3629 (checked against two independent validators below),
    not copied from any table. Non-characters are valid UTF-8.
    """
    cps = lambda *c: [chr(x).encode() for x in c]  # noqa: E731
    kosme = "κόσμε".encode()
    missing = [
        b"\xc0",
        b"\xe0\x80",
        b"\xf0\x80\x80",
        b"\xf8\x80\x80\x80",
        b"\xfc\x80\x80\x80\x80",
        b"\xdf",
        b"\xef\xbf",
        b"\xf7\xbf\xbf",
        b"\xfb\xbf\xbf\xbf",
        b"\xfd\xbf\xbf\xbf\xbf",
    ]
    highs, lows = (
        [b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80", b"\xed\xaf\xbf"],
        [b"\xed\xb0\x80", b"\xed\xbf\xbf"],
    )
    nonchars = [
        *cps(0xFFFE, 0xFFFF),
        *(chr(p * 0x10000 + x).encode() for p in range(1, 17) for x in (0xFFFE, 0xFFFF)),
    ]
    return [
        (
            "Some valid UTF-8 sequences",
            [
                b"hello$world",
                "hello¢world".encode(),
                "hello€world".encode(),
                "hello\U00024b62world".encode(),
                kosme,
            ],
        ),
        (
            "All prefixes of κόσμε (valid only on code point boundaries)",
            [kosme[:i] for i in range(1, len(kosme) + 1)],
        ),
        ("First possible sequence of each length (1-4)", cps(0x0, 0x80, 0x800, 0x10000)),
        (
            "First possible sequence of length 5 and 6 (no longer UTF-8)",
            [b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80"],
        ),
        ("Last possible sequence of each length (1-4)", cps(0x7F, 0x7FF, 0xFFFF, 0x10FFFF)),
        (
            "Last possible sequence of the 4-byte pattern, and of length 5 and 6 (beyond U+10FFFF)",
            [b"\xf7\xbf\xbf\xbf", b"\xfb\xbf\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf\xbf"],
        ),
        ("Other boundary conditions", [*cps(0xD7FF, 0xE000, 0xFFFD, 0x10FFFF), b"\xf4\x90\x80\x80"]),
        (
            "Unexpected continuation bytes",
            [
                b"\x80",
                b"\xbf",
                b"\x80\xbf",
                b"\x80\xbf\x80",
                b"\x80\xbf\x80\xbf",
                b"\x80\xbf\x80\xbf\x80",
                b"\x80\xbf\x80\xbf\x80\xbf",
                bytes(range(0x80, 0xC0)),
            ],
        ),
        (
            "Lonely start characters, each followed by a space",
            [
                b"".join(bytes([b, 0x20]) for b in range(lo, hi + 1))
                for lo, hi in ((0xC0, 0xDF), (0xE0, 0xEF), (0xF0, 0xF7), (0xF8, 0xFB), (0xFC, 0xFD))
            ],
        ),
        ("Sequences with the last continuation byte missing", missing),
        ("Concatenation of incomplete sequences", [b"".join(missing)]),
        ("Impossible bytes", [b"\xfe", b"\xff", b"\xfe\xfe\xff\xff"]),
        (
            "Overlong ASCII '/'",
            [
                b"\xc0\xaf",
                b"\xe0\x80\xaf",
                b"\xf0\x80\x80\xaf",
                b"\xf8\x80\x80\x80\xaf",
                b"\xfc\x80\x80\x80\x80\xaf",
            ],
        ),
        (
            "Maximum overlong sequences",
            [
                b"\xc1\xbf",
                b"\xe0\x9f\xbf",
                b"\xf0\x8f\xbf\xbf",
                b"\xf8\x87\xbf\xbf\xbf",
                b"\xfc\x83\xbf\xbf\xbf\xbf",
            ],
        ),
        (
            "Overlong NUL",
            [
                b"\xc0\x80",
                b"\xe0\x80\x80",
                b"\xf0\x80\x80\x80",
                b"\xf8\x80\x80\x80\x80",
                b"\xfc\x80\x80\x80\x80\x80",
            ],
        ),
        ("Single UTF-16 surrogates", [*highs, b"\xed\xb0\x80", b"\xed\xbe\x80", b"\xed\xbf\xbf"]),
        ("Paired UTF-16 surrogates", [h + lo for h in highs for lo in lows]),
        (
            "Non-characters (valid UTF-8)",
            [*nonchars, "".join(chr(c) for c in range(0xFDD0, 0xFDF0)).encode()],
        ),
        ("Unicode specials (valid UTF-8)", cps(*range(0xFFF9, 0x10000))),
    ]


for _sub, (_title, _vectors) in enumerate(_kuhn(), start=5):
    for _j, _v in enumerate(_vectors, start=1):
        _valid = utf8_valid(_v)
        # The two independent oracles must agree, or the table is wrong.
        try:
            _v.decode("utf-8")
            assert _valid, _v
        except UnicodeDecodeError:
            assert not _valid, _v
        _name = f"6.{_sub}.{_j}"
        _hex = _v.hex() if len(_v) <= 24 else _v[:24].hex() + "..."
        if _valid:
            _case(
                _name,
                f"{_title}: send valid text 0x{_hex} in 1 fragment; it is echoed.",
                _echo(Send((F(OP_TEXT, _v),)), expect=(_msg(_v),)),
            )
            _case(
                _name + ".f",
                f"{_title}: send valid text 0x{_hex} one byte per fragment; it is echoed.",
                _echo(Send(_bytewise(_v)), expect=(_msg(_v),)),
            )
        else:
            _case(
                _name,
                f"{_title}: send invalid text 0x{_hex} in 1 fragment -> 1007.",
                _fail(Send((F(OP_TEXT, _v),)), code=1007),
            )
            _at = utf8_invalid_at(_v)
            _upto = len(_v) if _at is None else _at + 1
            _case(
                _name + ".f",
                f"{_title}: send invalid text 0x{_hex} one byte per fragment: 1007 "
                + (
                    "when the message ends (it is only truncated)."
                    if _at is None
                    else f"as soon as byte {_at} arrives, before the rest is sent."
                ),
                _fail_fast(_bytewise(_v), _upto),
            )

# -- 7: close handling ----------------------------------------------------------------

_case(
    "7.1.1",
    "Send a text message, then a close frame: the message is echoed, then the close.",
    _echo(Send((_text("Hello World!"),)), expect=(_msg("Hello World!"),)),
)
_case(
    "7.1.2",
    "Send two close frames: one close answers, the second is ignored.",
    (Send((_close_frame(1000), _close_frame(1000))), Expect((_close(1000),))),
)
_case(
    "7.1.3",
    "Send a close frame, then a ping: the ping is not answered.",
    (Send((_close_frame(1000), F(OP_PING, b"Hello World!"))), Expect((_close(1000),))),
)
_case(
    "7.1.4",
    "Send a close frame, then a text message: it is not echoed.",
    (Send((_close_frame(1000), _text("Hello World!"))), Expect((_close(1000),))),
)
_case(
    "7.1.5",
    "Send a text fragment, a close frame, then the final fragment: a normal close (1000), the "
    "message is never delivered.",
    (
        Send((_text("fragment1", fin=False), _close_frame(1000), F(OP_CONT, b"fragment2"))),
        Expect((_close(1000),)),
    ),
)
_p = text_payload(262144)
_case(
    "7.1.6",
    "Send a 256 KiB text message, a close frame and a ping in one write: the message may be "
    "echoed before the close answer (or not), the ping is not answered.",
    (
        Send((F(OP_TEXT, _p), _close_frame(1000), F(OP_PING, b"Hello World!"))),
        Expect((_msg(_p), _close(1000)), alternatives=((OK, (_close(1000),)),)),
    ),
)
_case(
    "7.3.1",
    "Send a close frame with an empty payload: the close answer is empty or 1000.",
    (Send((_close_frame(None),)), Expect((_close(None, 1000),))),
)
_case("7.3.2", "Send a close frame with a 1-byte payload -> 1002.", _fail(Send((F(OP_CLOSE, b"\x03"),))))
_case(
    "7.3.3",
    "Send a close frame with code 1000 and no reason: 1000 is echoed.",
    (Send((_close_frame(1000),)), Expect((_close(1000),))),
)
_case(
    "7.3.4",
    "Send a close frame with code 1000 and a reason: 1000 is echoed.",
    (Send((_close_frame(1000, b"Hello World!"),)), Expect((_close(1000),))),
)
_case(
    "7.3.5",
    "Send a close frame with code 1000 and a 123-byte reason (125 in all): 1000 is echoed.",
    (Send((_close_frame(1000, b"*" * 123),)), Expect((_close(1000),))),
)
_case(
    "7.3.6",
    "Send a close frame with code 1000 and a 124-byte reason (126 in all, too long) -> 1002.",
    _fail(Send((_close_frame(1000, b"*" * 124),))),
)
_case(
    "7.3.7",
    "Send a close frame with FIN clear -> 1002.",
    _fail(Send((F(OP_CLOSE, close_payload(1000), fin=False),))),
)
_case(
    "7.5.1",
    "Send a close frame whose reason is invalid UTF-8 -> 1007.",
    _fail(Send((_close_frame(1000, _BAD),)), code=1007),
)
_case(
    "7.5.2",
    "Send a close frame whose reason ends inside a code point -> 1007.",
    _fail(Send((_close_frame(1000, b"abc\xce"),)), code=1007),
)
_case(
    "7.5.3",
    "Send a close frame whose reason is valid multi-byte UTF-8: 1000 is echoed.",
    (Send((_close_frame(1000, _HELLO_UTF8),)), Expect((_close(1000),))),
)

# Close codes (RFC 6455 section 7.4 and the IANA registry of section 11.7):
# 1000-1003, 1007-1014 and 3000-4999 may be sent; 1004-1006, 1015 and every
# other code (0-999, 1016-2999, 5000+) are a protocol error. 1012-1014 were
# registered after the RFC (see README.md: Autobahn's strictest reading
# refuses them; servers and proxies send them).
_VALID_CODES = (
    1000,
    1001,
    1002,
    1003,
    1007,
    1008,
    1009,
    1010,
    1011,
    1012,
    1013,
    1014,
    3000,
    3999,
    4000,
    4999,
)
_INVALID_CODES = (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535)
for _i, _code in enumerate(_VALID_CODES, start=1):
    _case(
        f"7.7.{_i}",
        f"Send a close frame with the valid code {_code}: it is echoed.",
        (Send((_close_frame(_code),)), Expect((_close(_code),))),
    )
for _i, _code in enumerate(_INVALID_CODES, start=1):
    _case(
        f"7.9.{_i}",
        f"Send a close frame with the invalid code {_code} -> 1002.",
        _fail(Send((_close_frame(_code),))),
    )

# -- 9: limits and performance -----------------------------------------------------------

_BIG = MappingProxyType({"max_size": 2**25, "max_fragments": None})
_SIZES = (65536, 262144, 2**20, 2**22, 2**23, 2**24)
for _sub, (_op, _kind, _make) in enumerate(
    ((OP_TEXT, "text", text_payload), (OP_BINARY, "binary", binary_payload)), start=1
):
    for _i, _n in enumerate(_SIZES, start=1):
        _p = _make(_n)
        _case(
            f"9.{_sub}.{_i}",
            f"Send a {_kind} message of {_n} bytes; it is echoed.",
            _echo(Send((F(_op, _p),)), expect=(Message(_op, _p),), timeout=30.0),
            config=_BIG,
        )
for _sub, (_op, _kind, _make) in enumerate(
    ((OP_TEXT, "text", text_payload), (OP_BINARY, "binary", binary_payload)), start=3
):
    _p = _make(2**22)
    for _i, _size in enumerate((64, 256, 1024, 4096, 16384, 65536, 262144, 2**20, 2**22), start=1):
        _case(
            f"9.{_sub}.{_i}",
            f"Send a {_kind} message of 4 MiB in fragments of {_size} bytes; it is echoed.",
            _echo(Send(_fragments(_op, _p, _size)), expect=(Message(_op, _p),), timeout=30.0),
            config=_BIG,
        )
for _sub, (_op, _kind, _make) in enumerate(
    ((OP_TEXT, "text", text_payload), (OP_BINARY, "binary", binary_payload)), start=5
):
    _p = _make(2**20)
    for _i, _chop in enumerate((64, 128, 256, 512, 1024, 2048), start=1):
        _case(
            f"9.{_sub}.{_i}",
            f"Send a {_kind} message of 1 MiB in TCP chops of {_chop} bytes; it is echoed.",
            _echo(Send((F(_op, _p),), chop=_chop), expect=(Message(_op, _p),), timeout=30.0),
            config=_BIG,
        )
for _sub, (_op, _kind, _make) in enumerate(
    ((OP_TEXT, "text", text_payload), (OP_BINARY, "binary", binary_payload)), start=7
):
    for _i, _n in enumerate((0, 16, 64, 256, 1024, 4096), start=1):
        _p = _make(_n)
        _case(
            f"9.{_sub}.{_i}",
            f"Send 1000 {_kind} messages of {_n} bytes in one go; all are echoed in order.",
            _echo(Send((F(_op, _p),) * 1000), expect=(Message(_op, _p),) * 1000, timeout=30.0),
            config=_BIG,
        )

# Limits: refused from the header, before the payload is read (1009).
_LIMIT = MappingProxyType({"max_size": 2**20})
_OVER = F(OP_BINARY, bytes(2**20 + 1))
_case(
    "9.9.1",
    "With a 1 MiB message limit, send only the header of a 1 MiB + 1 byte frame: 1009 before "
    "any payload is sent.",
    (
        Send((FramePart(_OVER, 0, 0),)),
        Expect((_close(1009),), timeout=FAIL_FAST, on_timeout=(Send((FramePart(_OVER, 0),)),)),
    ),
    config=_LIMIT,
)
_HALF = bytes(600_000)
_SECOND = F(OP_CONT, _HALF)
_case(
    "9.9.2",
    "With a 1 MiB message limit, send a 600 kB fragment, then only the header of a second "
    "600 kB fragment: 1009 before its payload is sent.",
    (
        Send((F(OP_BINARY, _HALF, fin=False), FramePart(_SECOND, 0, 0))),
        Expect((_close(1009),), timeout=FAIL_FAST, on_timeout=(Send((FramePart(_SECOND, 0),)),)),
    ),
    config=_LIMIT,
)
_p = binary_payload(2**20)
_case(
    "9.9.3",
    "With a 1 MiB message limit, send a message of exactly 1 MiB in 4 fragments; it is echoed.",
    _echo(Send(_fragments(OP_BINARY, _p, 2**18)), expect=(_bmsg(_p),)),
    config=_LIMIT,
)
_p = text_payload(2**20 + 1)
_case(
    "9.9.4",
    "With a 1 MiB message limit, send a text message of 1 MiB + 1 byte -> 1009.",
    _fail(Send((F(OP_TEXT, _p),)), code=1009),
    config=_LIMIT,
)

_FRAGS = MappingProxyType({"max_fragments": 4})
_case(
    "9.9.5",
    "With at most 4 fragments per message, send a text message in 4 fragments; it is echoed.",
    _echo(Send(_fragments(OP_TEXT, b"abcdefgh", 2)), expect=(_msg("abcdefgh"),)),
    config=_FRAGS,
)
_case(
    "9.9.6",
    "With at most 4 fragments per message, send a text message in 5 fragments -> 1009.",
    _fail(Send(_fragments(OP_TEXT, b"abcdefghij", 2)), code=1009),
    config=_FRAGS,
)
_FRAME = MappingProxyType({"max_frame_size": 1000})
_BIGFRAME = F(OP_BINARY, bytes(1001))
_case(
    "9.9.7",
    "With a 1000-byte frame limit, send only the header of a 1001-byte frame: 1009 before any payload "
    "is sent.",
    (
        Send((FramePart(_BIGFRAME, 0, 0),)),
        Expect((_close(1009),), timeout=FAIL_FAST, on_timeout=(Send((FramePart(_BIGFRAME, 0),)),)),
    ),
    config=_FRAME,
)
_p = binary_payload(3000)
_case(
    "9.9.8",
    "With a 1000-byte frame limit, a 3000-byte message in 3 frames of 1000 bytes is echoed.",
    _echo(Send(_fragments(OP_BINARY, _p, 1000)), expect=(_bmsg(_p),)),
    config=_FRAME,
)

# -- 10: auto-fragmentation ----------------------------------------------------------------

_p = text_payload(65536)
_case(
    "10.1.1",
    "Send a 64 KiB text message in fragments of 1300 bytes; it is echoed.",
    _echo(Send(_fragments(OP_TEXT, _p, 1300)), expect=(_msg(_p),)),
)
for _i, (_size, _msgx, _desc) in enumerate(
    (
        (1300, _msg(text_payload(65536), 1300), "a 64 KiB text message"),
        (1300, _bmsg(binary_payload(65536), 1300), "a 64 KiB binary message"),
        (1, _msg(_HELLO_UTF8, 1), "a short multi-byte text message (code points split across frames)"),
        (125, _bmsg(binary_payload(1000), 125), "a 1000-byte binary message"),
        (4096, _msg(text_payload(100), 4096), "a message shorter than the fragment size"),
        (1300, _msg(b"", 1300), "an empty text message"),
        (65536, _bmsg(binary_payload(65536), 65536), "a message exactly one fragment long"),
    ),
    start=2,
):
    _case(
        f"10.1.{_i}",
        f"The peer sends with fragment_size={_size}: {_desc} is echoed in frames of at most "
        f"{_size} bytes, ceil(length / {_size}) of them.",
        _echo(Send((F(_msgx.opcode, _msgx.payload),)), expect=(_msgx,)),
        config=MappingProxyType({"fragment_size": _size}),
    )

_names = [c.name for c in CASES]
assert len(_names) == len(set(_names)), "duplicate case names"
del _names
