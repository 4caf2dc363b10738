"""Differential fuzzing of the frame parser and the frame encoders.

Each input drives both codec twins the same way and compares everything
they say:

* ``FrameParser`` with fuzzer-chosen options (masking requirement, frame and
  message limits, UTF-8 validation), fed the rest of the input cut at
  fuzzer-chosen points, with options changed between feeds as a protocol
  does: the frames of every feed, ``buffered`` after it, the exception
  (type, message, ``exc.frames``) and the same exception again on the next
  feed. Each twin must also give the same frames and the same error whether
  it gets the stream in pieces or whole.
* ``encode_frame`` / ``encode_frame_header`` / ``apply_mask`` on fuzzer-made
  arguments: same bytes or same exception; a frame encoded then parsed
  comes back unchanged.

Documented exceptions (``_codec.pyi``): InvalidFrame, PayloadTooBig,
InvalidUTF8 from ``feed``; ValueError from the encoders. Anything else, or
any disagreement, is a finding.

Run: ``python fuzzing/fuzz_frame_parser.py [libFuzzer flags] [corpus dirs]``.
"""

from __future__ import annotations

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports(include=["fastws"]):
    from common import Controls, check_same, main, outcome, split, twins

    from fastws.exceptions import InvalidFrame, InvalidUTF8, PayloadTooBig
    from fastws.protocol import Protocol, Side, State

__all__ = ["test_one_input"]

_PARSE_ERRORS = (InvalidFrame, InvalidUTF8, PayloadTooBig)
_ENCODE_ERRORS = (ValueError,)
_LIMITS = [None, 0, 1, 2, 5, 125, 126, 127, 200, 65535, 65536, 1 << 20]


def _frame_tuple(frame: object) -> tuple[object, ...]:
    return (
        int(frame.opcode),  # type: ignore[attr-defined]
        bytes(frame.payload),  # type: ignore[attr-defined]
        bool(frame.fin),  # type: ignore[attr-defined]
        bool(frame.rsv1),  # type: ignore[attr-defined]
        bool(frame.rsv2),  # type: ignore[attr-defined]
        bool(frame.rsv3),  # type: ignore[attr-defined]
    )


def _run_parser(codec: object, options: dict, pieces: list[bytes], changes: list[dict]) -> list:
    """Feed ``pieces`` to a parser of ``codec``; return a trace of everything seen."""
    parser = codec.FrameParser(**options)  # type: ignore[attr-defined]
    trace: list[object] = []
    for index, piece in enumerate(pieces):
        for name, value in changes[index].items():
            setattr(parser, name, value)
        try:
            frames = parser.feed(piece)
        except _PARSE_ERRORS as exc:
            trace.append(("raise", type(exc).__name__, str(exc), [_frame_tuple(f) for f in exc.frames]))
            # Broken for good: the next feed raises the same error again.
            again = outcome(lambda p=parser: p.feed(b"\x81"), _PARSE_ERRORS)
            trace.append(("again", again))
            return trace
        trace.append(("ok", [_frame_tuple(f) for f in frames], parser.buffered))
    return trace


def _flatten(trace: list) -> tuple[list, object]:
    """All frames of a trace in order, and its error (None if none)."""
    frames: list[object] = []
    error = None
    for item in trace:
        if item[0] == "ok":
            frames.extend(item[1])
        elif item[0] == "raise":
            frames.extend(item[3])
            error = item[1:3]
    return frames, error


#: Layout of the 24 control bytes that start an input (common.Controls):
#: 0 target (mod 8: 0 the encoders, 1 the protocol, else the parser);
#: protocol: 1 side, 2 max_size, 3 max_fragments, 4 auto_pong (off
#: when bit 0 is set), 5 max_queue of the flow-controlled run, 6 and 8-23 cuts; parser: 1 require_mask,
#: 2 max_frame_size, 3 max_message_size, 4 validate_utf8 (bit 0), 5 option
#: changes between feeds, 6 number of cuts, 8-23 cut positions; encoders:
#: 1 opcode, 2 fin, 3 rsv bits, 4 mask kind, 5 key length, 6 long length
#: (bit 0), 8-12 key, 13-21 length, 16-21 offset.
CONTROL_BYTES = 24


def _fuzz_parser(ctl: Controls, data: bytes) -> None:
    options = {
        "require_mask": ctl.pick(1, [None, True, False]),
        "max_frame_size": ctl.pick(2, _LIMITS),
        "max_message_size": ctl.pick(3, _LIMITS),
        "validate_utf8": ctl.flag(4),
    }
    # Option changes between feeds, as a protocol makes them (it stops
    # validating text once it sent its close frame, tightens limits ...).
    change_bytes = ctl.byte(5)
    stream = ctl.rest
    pieces = split(stream, ctl.cuts(6, 8, 8))
    changes: list[dict] = []
    for i in range(len(pieces)):
        change: dict = {}
        if i and change_bytes >> (i % 8) & 1:
            change["validate_utf8"] = bool(change_bytes & 1)
            change["max_message_size"] = _LIMITS[(change_bytes + i) % len(_LIMITS)]
        changes.append(change)

    traces = [_run_parser(codec, options, pieces, changes) for codec in twins()]
    if len(traces) == 2:
        check_same("FrameParser traces (cython, python)", traces[0], traces[1], data)
    # Cut points must not change what a parser decides (options fixed).
    if not any(changes):
        for codec, trace in zip(twins(), traces, strict=False):
            whole = _run_parser(codec, options, [stream], [{}])
            check_same(
                f"FrameParser ({codec.IMPLEMENTATION}) piecewise vs whole",
                _flatten(trace),
                _flatten(whole),
                data,
            )


def _fuzz_encoders(ctl: Controls, data: bytes) -> None:
    opcode = ctl.byte(1) % 18 - 1
    fin = ctl.flag(2)
    rsv = ctl.byte(3) & 7
    mask_kind = ctl.byte(4) % 3
    key = bytes(ctl.byte(8 + i) for i in range(3 + ctl.byte(5) % 3)) if mask_kind == 2 else None
    if ctl.flag(6):
        length = int.from_bytes(bytes(ctl.byte(i) for i in range(13, 22)), "big") - 2
    else:
        length = ctl.byte(13) % 300
    offset = int.from_bytes(bytes(ctl.byte(i) for i in range(16, 22)), "big", signed=True)
    payload = ctl.rest
    flags = {"fin": fin, "rsv1": bool(rsv & 4), "rsv2": bool(rsv & 2), "rsv3": bool(rsv & 1)}

    results = []
    for codec in twins():
        encoded = outcome(lambda c=codec: c.encode_frame(opcode, payload, mask=key, **flags), _ENCODE_ERRORS)
        header = outcome(
            lambda c=codec: c.encode_frame_header(opcode, length, mask=key, **flags), _ENCODE_ERRORS
        )
        masked = outcome(lambda c=codec: c.apply_mask(payload, key or b"abcd", offset), _ENCODE_ERRORS)
        results.append((encoded, header, masked))
        if encoded[0] == "ok":
            # Round trip: the parser gives back the frame that was encoded.
            parser = codec.FrameParser()
            frames = [_frame_tuple(f) for f in parser.feed(encoded[1])]
            expected = [(opcode, payload, fin, *(bool(rsv & b) for b in (4, 2, 1)))]
            check_same(f"encode_frame -> FrameParser ({codec.IMPLEMENTATION})", frames, expected, data)
            if key is not None or mask_kind == 0:
                body = codec.encode_frame_header(opcode, len(payload), mask=key, **flags)
                tail = codec.apply_mask(payload, key) if key is not None else payload
                check_same(
                    f"encode_frame_header + apply_mask vs encode_frame ({codec.IMPLEMENTATION})",
                    body + tail,
                    encoded[1],
                    data,
                )
        if masked[0] == "ok":
            # XOR twice with the same key stream is the identity.
            buffer = bytearray(masked[1])
            codec.apply_mask_inplace(buffer, key or b"abcd", offset)
            check_same(f"apply_mask twice ({codec.IMPLEMENTATION})", bytes(buffer), payload, data)
    if len(results) == 2:
        check_same("encoders (cython, python)", results[0], results[1], data)


def _run_protocol(side: Side, options: dict, pieces: list[bytes]) -> tuple:
    protocol = Protocol(side, **options)
    events: list[object] = []
    output: list[bytes] = []

    def take() -> None:
        # What a caller with a bounded queue does: take every delivered
        # message, then let the protocol go on (bounded: one message at least
        # per round while anything waits).
        nonlocal events, output
        for _ in range(rounds):
            events += protocol.events_received()
            output += protocol.data_to_send()
            if protocol.flow.limited:
                protocol.flow.queued = 0
            if not protocol.paused:
                return
            protocol.resume()

    rounds = sum(map(len, pieces)) + 2
    for piece in pieces:
        protocol.receive_data(piece)
        take()
        if protocol.state is State.CLOSED:
            break
    protocol.receive_eof()
    take()
    error = protocol.error
    return (
        events,
        output if side is Side.SERVER else len(output),  # a client's frames carry random keys
        protocol.state,
        protocol.close_code,
        protocol.close_reason,
        protocol.close_sent,
        None if error is None else (type(error).__name__, str(error), error.close_code),
    )


def _without_pongs(run: tuple) -> tuple:
    """A protocol run with the pongs taken out of its events: flow control
    reports pongs ahead of the frames it holds back, so a pong that follows
    a frame found invalid only once processed is reported too."""
    return ([e for e in run[0] if type(e).__name__ != "Pong"], *run[1:])


def _pongs(run: tuple) -> list:
    return [e for e in run[0] if type(e).__name__ == "Pong"]


def _fuzz_protocol(ctl: Controls, data: bytes) -> None:
    """The sans-IO protocol over the selected twin: never raises, and the cut
    points do not change its events, its output or how it closes."""
    side = Side.SERVER if ctl.flag(1) else Side.CLIENT
    options = {
        "max_size": ctl.pick(2, _LIMITS),
        "max_fragments": ctl.pick(3, [None, 1, 2, 3, 1024]),
        "auto_pong": not ctl.flag(4),
    }
    cuts = split(ctl.rest, ctl.cuts(6, 8, 8))
    whole = _run_protocol(side, options, [ctl.rest])
    pieces = _run_protocol(side, options, cuts)
    check_same("Protocol whole vs pieces", whole, pieces, data)
    # Flow control never changes what is delivered, nor in which order: a
    # caller whose queue holds 1-4 messages, taking them after each read.
    flowed = _run_protocol(side, {**options, "max_queue": ctl.byte(5) % 4 + 1}, cuts)
    check_same("Protocol without vs with flow control", _without_pongs(whole), _without_pongs(flowed), data)
    check_same(
        "Protocol pongs, a prefix with flow control",
        _pongs(whole),
        _pongs(flowed)[: len(_pongs(whole))],
        data,
    )


def test_one_input(data: bytes) -> None:
    """One fuzzer input: the parser (most inputs), the protocol or the encoders."""
    ctl = Controls(data, CONTROL_BYTES)
    target = ctl.byte(0) % 8
    if target == 0:
        _fuzz_encoders(ctl, data)
    elif target == 1:
        _fuzz_protocol(ctl, data)
    else:
        _fuzz_parser(ctl, data)


if __name__ == "__main__":
    main(test_one_input)
