"""One fuzzing connection: plays a case's steps and judges what comes back.

Shared by the fuzzing client (which tests a server: it masks what it sends
and requires unmasked frames back) and the fuzzing server (which tests a
client: the other way round). Everything the peer sends is checked against
RFC 6455 as it arrives; the first violation fails the case with its reason.

Every wait is bounded by a deadline; every loop ends when its deadline
passes or the connection ends.
"""

from __future__ import annotations

import os
import select
import socket
import time
from collections import deque
from dataclasses import dataclass, field

from .cases import (
    NON_STRICT,
    OK,
    Case,
    Close,
    Expect,
    F,
    Fragmented,
    FramePart,
    Message,
    Pong,
    Send,
    Step,
    Wait,
)
from .wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    WireError,
    WireFrame,
    build_frame,
    close_payload,
    parse_close_payload,
)

__all__ = ["FAILED", "CaseFailed", "Result", "Session", "worst"]

FAILED = "FAILED"
_RANK = {OK: 0, NON_STRICT: 1, FAILED: 2}

#: Bound on waiting for the peer to close TCP after the close handshake.
CLOSE_TIMEOUT = 5.0
#: How long the fuzzing server watches for a client that closes TCP first.
CLIENT_CLOSE_GRACE = 0.005
_RECV_SIZE = 1 << 20
_SEND_SIZE = 1 << 20


def worst(*verdicts: str) -> str:
    """The worst of several verdicts (OK < NON-STRICT < FAILED)."""
    return max(verdicts, key=_RANK.__getitem__)


class CaseFailed(Exception):
    """The peer under test broke the case's expectations; the message says how."""


@dataclass
class Result:
    """The outcome of one case against one peer."""

    case: str
    #: "server" when a fastws server was under test, "client" otherwise.
    role: str
    verdict: str = OK
    reasons: list[str] = field(default_factory=list)
    duration: float = 0.0

    def fail(self, reason: str, verdict: str = FAILED) -> None:
        """Record a reason and lower the verdict."""
        self.reasons.append(reason)
        self.verdict = worst(self.verdict, verdict)

    def __str__(self) -> str:
        text = f"{self.role} {self.case}: {self.verdict} ({self.duration * 1000:.0f} ms)"
        return text + "".join(f"\n  - {r}" for r in self.reasons)


# Items received from the peer: ("message", opcode, payload, frame lengths),
# ("pong", payload), ("ping", payload), ("close", code, reason bytes).
_EOF = ("eof",)


def _describe(item: tuple[object, ...]) -> str:
    kind = item[0]
    if kind == "message":
        payload = item[2]
        assert isinstance(payload, bytes)
        head = payload[:24]
        name = "text" if item[1] == OP_TEXT else "binary"
        more = "..." if len(payload) > 24 else ""
        return f"{name} message ({len(payload)} bytes {head!r}{more}, {len(item[3])} frames)"  # type: ignore[arg-type]
    if kind == "close":
        return f"close({item[1]}, {item[2]!r})"
    if kind == "eof":
        return "TCP close"
    return f"{kind}({item[1]!r})"


def _matches(expected: object, got: tuple[object, ...]) -> bool:
    if isinstance(expected, Message):
        if got[0] != "message" or got[1] != expected.opcode or got[2] != expected.payload:
            return False
        if expected.fragment_size is not None:
            lengths: list[int] = got[3]  # type: ignore[assignment]
            size = expected.fragment_size
            count = max(1, -(-len(expected.payload) // size))
            return len(lengths) == count and all(n <= size for n in lengths)
        return True
    if isinstance(expected, Pong):
        return got[0] == "pong" and got[1] == expected.payload
    if isinstance(expected, Close):
        return got[0] == "close" and got[1] in expected.codes
    raise TypeError(expected)


def _code_may_be_sent(code: int) -> bool:
    # RFC 6455 section 7.4.1/7.4.2 and the IANA registry (1012-1014):
    # 1000-1003, 1007-1014 and 3000-4999 may appear on the wire; nothing else.
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


class Session:
    """A connected socket, past the opening handshake, running one case.

    Args:
        sock: the connected TCP socket.
        peer_is_server: True when the peer under test is a server (then we
            mask our frames and its frames must be unmasked).
        initial: bytes already read past the HTTP head.
    """

    def __init__(self, sock: socket.socket, *, peer_is_server: bool, initial: bytes = b"") -> None:
        self.sock = sock
        self.peer_is_server = peer_is_server
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = FrameReader()
        self.items: deque[tuple[object, ...]] = deque()
        self.violations: list[str] = []
        self.eof = False
        self.reset = False
        self.write_failed = False
        self.close_received: tuple[int | None, bytes] | None = None
        self.close_sent = False
        #: True when we sent our close before the peer's close arrived.
        self.we_closed_first = False
        #: the code of our close frame (None: empty or not a close payload).
        self.our_close_code: int | None = None
        self._message: list[WireFrame] = []
        self._encoded: dict[F, bytes] = {}
        if initial:
            self._feed(initial)

    # -- receiving and checking ---------------------------------------------------

    def _violation(self, text: str) -> None:
        self.violations.append(text)

    def _feed(self, data: bytes) -> None:
        try:
            frames = self.reader.feed(data)
        except WireError as exc:
            self._violation(f"unparsable frame from the peer: {exc}")
            return
        for frame in frames:
            self._on_frame(frame)

    def _on_frame(self, frame: WireFrame) -> None:
        who = "server" if self.peer_is_server else "client"
        op = frame.opcode
        if self.close_received is not None:
            # "the endpoint MUST NOT send any more data frames after sending
            # a Close frame" (section 5.5.1).
            self._violation(f"the {who} sent a frame (opcode {op}) after its close frame")
            return
        # Section 5.1: "A server MUST NOT mask any frames that it sends to the
        # client"; "a client MUST mask all frames that it sends to the server".
        if frame.masked == self.peer_is_server:
            state = "masked" if frame.masked else "unmasked"
            self._violation(f"the {who} sent a {state} frame (opcode {op})")
        if frame.rsv:
            self._violation(f"the {who} set RSV bits {frame.rsv} with no extension negotiated")
        n = len(frame.payload)
        # Section 5.2: "the minimal number of bytes MUST be used to encode the length".
        minimal = 7 if n <= 125 else 16 if n <= 0xFFFF else 64
        if frame.length_bits != minimal:
            self._violation(f"the {who} encoded a {n}-byte length in {frame.length_bits} bits")
        if op >= 8:
            if n > 125 or not frame.fin:
                self._violation(
                    f"the {who} sent an invalid control frame (opcode {op}, {n} bytes, fin={frame.fin})"
                )
            if op == OP_PING:
                self.items.append(("ping", frame.payload))
            elif op == OP_PONG:
                self.items.append(("pong", frame.payload))
            elif op == OP_CLOSE:
                self._on_close(frame.payload)
            else:
                self._violation(f"the {who} sent reserved opcode {op}")
            return
        if op not in (OP_CONT, OP_TEXT, OP_BINARY):
            self._violation(f"the {who} sent reserved opcode {op}")
            return
        if (op == OP_CONT) != bool(self._message):
            self._violation(
                f"the {who} broke the fragmentation rules (opcode {op} {'inside' if self._message else 'outside'} a message)"
            )
            return
        self._message.append(frame)
        if frame.fin:
            frames, self._message = self._message, []
            payload = b"".join(f.payload for f in frames)
            first = frames[0].opcode
            if first == OP_TEXT:
                try:
                    payload.decode("utf-8")
                except UnicodeDecodeError as exc:
                    self._violation(f"the {who} sent a text message that is not UTF-8: {exc}")
            self.items.append(("message", first, payload, [len(f.payload) for f in frames]))

    def _on_close(self, payload: bytes) -> None:
        who = "server" if self.peer_is_server else "client"
        try:
            code, reason = parse_close_payload(payload)
        except WireError as exc:
            self._violation(f"the {who} sent a malformed close frame: {exc}")
            return
        if code is not None and not _code_may_be_sent(code):
            self._violation(f"the {who} sent close code {code}, which must not be sent")
        try:
            reason.decode("utf-8")
        except UnicodeDecodeError:
            self._violation(f"the {who} sent a close reason that is not UTF-8: {reason!r}")
        self.close_received = (code, reason)
        self.items.append(("close", code, reason))

    def _check(self) -> None:
        if self.violations:
            raise CaseFailed("; ".join(self.violations))

    def _read_some(self) -> None:
        """Read what is available (the socket is readable)."""
        try:
            data = self.sock.recv(_RECV_SIZE)
        except BlockingIOError:
            return
        except ConnectionResetError:
            self.reset = True
            data = b""
        if data:
            self._feed(data)
        else:
            self.eof = True

    def pump(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for data and read it."""
        if self.eof:
            return
        readable, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if readable:
            self._read_some()

    def next_item(self, deadline: float) -> tuple[object, ...] | None:
        """The next item from the peer, ``_EOF`` at the end, None on timeout."""
        while not self.items:
            self._check()
            if self.eof:
                return _EOF
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.pump(remaining)
        self._check()
        return self.items.popleft()

    # -- sending ----------------------------------------------------------------------

    def encode(self, frame: F) -> bytes:
        """The frame's bytes, masked with a fresh key when we are the client
        (section 5.3: a new, unpredictable masking key for every frame)."""
        mask = os.urandom(4) if self.peer_is_server else None
        return build_frame(frame.opcode, frame.payload, fin=frame.fin, rsv=frame.rsv, mask=mask)

    def _bytes(self, item: F | FramePart | Fragmented | bytes) -> bytes:
        if isinstance(item, bytes):
            return item
        if isinstance(item, Fragmented):
            return b"".join(self.encode(f) for f in item.frames())
        if isinstance(item, F):
            return self.encode(item)
        # The parts of one frame, sent in several steps, must come from a
        # single encoding (one masking key).
        full = self._encoded.get(item.frame)
        if full is None:
            full = self._encoded[item.frame] = self.encode(item.frame)
        header = len(full) - len(item.frame.payload)
        start = 0 if item.start == 0 else header + item.start
        stop = len(full) if item.stop is None else header + item.stop
        return full[start:stop]

    def write(self, data: bytes, deadline: float) -> None:
        """Write all of ``data``, reading meanwhile so that neither side can
        block the other on full buffers."""
        view = memoryview(data)
        while view and not self.write_failed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CaseFailed("the peer stopped reading: could not write within the time limit")
            rlist = [] if self.eof else [self.sock]
            readable, writable, _ = select.select(rlist, [self.sock], [], remaining)
            if readable:
                self._read_some()
            if writable:
                try:
                    sent = self.sock.send(view[:_SEND_SIZE])
                except BlockingIOError:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    # The peer closed (e.g. after failing the connection):
                    # what it did is judged by the expectations.
                    self.write_failed = True
                    return
                view = view[sent:]

    def idle(self, seconds: float) -> None:
        """Keep reading for ``seconds`` (bounded by the clock, not by data)."""
        end = time.monotonic() + seconds
        while (remaining := end - time.monotonic()) > 0:
            if self.eof:
                time.sleep(remaining)
                return
            self.pump(remaining)

    def send_step(self, step: Send, deadline: float) -> None:
        """Play a :class:`Send` step."""
        if self.close_sent:
            raise AssertionError("a case must not send after its close frame")
        for item in step.frames:
            if isinstance(item, F) and item.opcode == OP_CLOSE and not self.close_sent:
                self.close_sent = True
                self.we_closed_first = self.close_received is None
                try:
                    self.our_close_code = parse_close_payload(item.payload)[0]
                except WireError:
                    self.our_close_code = None
        chunks: list[bytes]
        if step.chop == "frame":
            chunks = [self._bytes(item) for item in step.frames]
        else:
            data = b"".join(self._bytes(item) for item in step.frames)
            if step.chop is None:
                chunks = [data]
            elif isinstance(step.chop, int):
                chunks = [data[i : i + step.chop] for i in range(0, len(data), step.chop)]
            else:
                chunks, pos = [], 0
                for size in step.chop:
                    chunks.append(data[pos : pos + size])
                    pos += size
                if pos < len(data):
                    chunks.append(data[pos:])
        for i, chunk in enumerate(chunks):
            if i and step.pause:
                self.idle(step.pause)
            self.write(chunk, deadline)
        self._check()

    # -- judging ------------------------------------------------------------------------

    def expect(self, step: Expect, case_deadline: float) -> tuple[str, str]:
        """Play an :class:`Expect` step; return (verdict, why) or raise CaseFailed."""
        cap = OK
        candidates = [(OK, step.items), *step.alternatives]
        pos = [0] * len(candidates)
        alive = [True] * len(candidates)
        received: list[str] = []
        retried = False
        deadline = time.monotonic() + step.timeout
        while True:
            for i, (verdict, items) in enumerate(candidates):
                if alive[i] and pos[i] == len(items):
                    why = "" if i == 0 else f"expected {list(step.items)}, received {received}"
                    if retried:
                        why = (
                            f"{list(step.items)} arrived only after the rest was sent, not within "
                            f"{step.timeout} s of the fault (not fail-fast)"
                        )
                    return worst(verdict, cap), why
            if not any(alive):
                raise CaseFailed(f"expected {list(step.items)}, received {received}")
            item = self.next_item(deadline)
            if item is None:
                if step.on_timeout and not retried:
                    retried = True
                    cap = NON_STRICT
                    for sub in step.on_timeout:
                        self.play(sub, case_deadline)
                    deadline = time.monotonic() + step.timeout
                    continue
                waiting = [candidates[0][1][pos[0]]] if alive[0] else []
                raise CaseFailed(
                    f"timeout: nothing more within {step.timeout} s; waiting for {waiting or list(step.items)}, "
                    f"received {received}" + (" (after sending the rest)" if retried else "")
                )
            if item is _EOF:
                what = "reset" if self.reset else "closed"
                if self.close_received is None:
                    raise CaseFailed(
                        f"TCP connection {what} by the peer without a close frame; expected {list(step.items)}, "
                        f"received {received}"
                    )
                raise CaseFailed(f"TCP connection {what}; expected {list(step.items)}, received {received}")
            received.append(_describe(item))
            for i, (_, items) in enumerate(candidates):
                if alive[i]:
                    if _matches(items[pos[i]], item):
                        pos[i] += 1
                    else:
                        alive[i] = False

    def play(self, step: Step, case_deadline: float) -> tuple[str, str]:
        """Play one step; return (verdict, why)."""
        if isinstance(step, Send):
            self.send_step(step, case_deadline)
            return OK, ""
        if isinstance(step, Wait):
            self.idle(step.seconds)
            self._check()
            return OK, ""
        return self.expect(step, case_deadline)

    def finish(self, result: Result) -> None:
        """Complete the close handshake and check who closes TCP, and when."""
        if self.close_received is None:
            raise CaseFailed("the case ended without the peer's close frame")
        if not self.close_sent:
            # Section 5.5.1: answer a close with a close, echoing the code.
            code, _ = self.close_received
            self.close_sent = True
            frame = F(OP_CLOSE, close_payload(code))
            self.write(self.encode(frame), time.monotonic() + CLOSE_TIMEOUT)
        if self.peer_is_server:
            # Section 7.1.1: "the server SHOULD close [the TCP connection]
            # first" -- and it must, within a bounded time.
            deadline = time.monotonic() + CLOSE_TIMEOUT
            while not self.eof and time.monotonic() < deadline:
                self.pump(deadline - time.monotonic())
                self._check()
            self._check()
            if not self.eof:
                raise CaseFailed(
                    f"the server did not close the TCP connection within {CLOSE_TIMEOUT} s "
                    "after the close handshake"
                )
            return
        # We are the server: after a normal closing handshake (we closed,
        # the client echoed our code) the client should wait for us to close
        # TCP. A client that failed the connection may close it at once.
        self.idle(CLIENT_CLOSE_GRACE)
        self._check()
        echoed = self.close_received[0] == self.our_close_code
        if self.eof and self.we_closed_first and echoed:
            result.fail(
                "the client closed the TCP connection before the server (section 7.1.1: the client "
                "SHOULD wait for the server to close it)"
            )
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        deadline = time.monotonic() + CLOSE_TIMEOUT
        while not self.eof and time.monotonic() < deadline:
            self.pump(deadline - time.monotonic())
        self._check()
        if not self.eof:
            raise CaseFailed(
                f"the client did not close the TCP connection within {CLOSE_TIMEOUT} s after "
                "the server closed it"
            )


def run_session(session: Session, case: Case, result: Result, *, case_timeout: float = 120.0) -> None:
    """Play every step of ``case`` on ``session``; record the verdict in ``result``."""
    deadline = time.monotonic() + case_timeout
    try:
        for step in case.steps:
            verdict, why = session.play(step, deadline)
            if verdict != OK or why:
                result.fail(f"{verdict}: {why}", verdict)
        session.finish(result)
    except CaseFailed as exc:
        result.fail(str(exc))
