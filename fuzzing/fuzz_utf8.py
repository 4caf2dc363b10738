"""Differential fuzzing of UTF-8 validation, whole and incremental.

For each input, cut at fuzzer-chosen points:

* ``Utf8Validator`` of both twins is fed the pieces; after every feed the
  return value, ``valid`` and ``pending`` must agree between the twins and
  with an RFC 3629 validator written in ``common.py`` (byte at a time, from
  the grammar): a feed returns False exactly when the bytes so far can no
  longer start valid UTF-8 (fail fast), and ``pending`` is the length of
  the sequence left open. ``finish()`` must say whether the whole input is
  valid, ``reset()`` must forget everything.
* ``validate_utf8`` of both twins on the whole input, against the reference
  and against CPython's own decoder.
* the same text inside a masked text frame, fed to ``FrameParser(validate_utf8=True)``
  in the same pieces: it fails with InvalidUTF8 exactly when the text is
  invalid.

Run: ``python fuzzing/fuzz_utf8.py [libFuzzer flags] [corpus dirs]``.
"""

from __future__ import annotations

import os
import sys
from itertools import accumulate

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports(include=["fastws"]):
    from common import (
        Controls,
        check_same,
        main,
        reference_utf8_prefix_ok,
        reference_utf8_valid,
        split,
        twins,
    )

    from fastws.exceptions import InvalidFrame, InvalidUTF8, PayloadTooBig

__all__ = ["test_one_input"]


def _reference_pending(prefix: bytes) -> int:
    """Bytes of the sequence left open at the end of a valid prefix."""
    for back in range(1, min(3, len(prefix)) + 1):
        byte = prefix[-back]
        if byte & 0xC0 != 0x80:
            # The last lead byte: how long its sequence is, and whether it ends here.
            size = 1 if byte < 0x80 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return back if back < size else 0
    return 0


def _views(piece: bytes, kind: int) -> object:
    """The same bytes as bytes, bytearray or a memoryview (each contiguous)."""
    if kind == 1:
        return bytearray(piece)
    if kind == 2:
        return memoryview(piece)
    return piece


#: Control bytes (common.Controls): 0 buffer type, 1-4 masking key,
#: 5 number of cuts, 6-29 cut positions; the text follows.
CONTROL_BYTES = 30


def test_one_input(data: bytes) -> None:
    """One fuzzer input."""
    ctl = Controls(data, CONTROL_BYTES)
    kind = ctl.byte(0) % 3
    key = bytes(ctl.byte(i) for i in range(1, 5))
    cuts = ctl.cuts(5, 6, 12)
    text = ctl.rest
    pieces = split(text, cuts)

    expected_valid = reference_utf8_valid(text)
    try:
        text.decode("utf-8")
        cpython_valid = True
    except UnicodeDecodeError:
        cpython_valid = False
    check_same("reference validator vs CPython's decoder", expected_valid, cpython_valid, data)

    traces = []
    for codec in twins():
        check_same(
            f"validate_utf8 ({codec.IMPLEMENTATION}) vs reference",
            codec.validate_utf8(_views(text, kind)),
            expected_valid,
            data,
        )
        validator = codec.Utf8Validator()
        trace = []
        seen = b""
        for piece in pieces:
            seen += piece
            result = validator.feed(_views(piece, kind))
            ok = reference_utf8_prefix_ok(seen)
            check_same(f"Utf8Validator.feed ({codec.IMPLEMENTATION}) vs reference", result, ok, data)
            check_same(f"Utf8Validator.valid ({codec.IMPLEMENTATION})", validator.valid, ok, data)
            if ok:
                check_same(
                    f"Utf8Validator.pending ({codec.IMPLEMENTATION}) vs reference",
                    validator.pending,
                    _reference_pending(seen),
                    data,
                )
            trace.append((result, validator.valid, validator.pending))
        finished = validator.finish()
        check_same(
            f"Utf8Validator.finish ({codec.IMPLEMENTATION}) vs reference", finished, expected_valid, data
        )
        trace.append(("finish", finished, validator.finish()))
        validator.reset()
        trace.append(("reset", validator.valid, validator.pending, validator.feed(b"ok"), validator.finish()))
        traces.append(trace)

        # The parser's fail-fast validation of a masked text frame, fed in
        # the same pieces (after a header that arrives whole).
        frame = codec.encode_frame(1, text, mask=key)
        header_len = len(frame) - len(text)
        parser = codec.FrameParser(require_mask=True, validate_utf8=True)
        frames = parser.feed(frame[:header_len])
        error = None
        for piece_frame in split(frame[header_len:], list(accumulate(len(p) for p in pieces[:-1]))):
            try:
                frames += parser.feed(piece_frame)
            except (InvalidFrame, InvalidUTF8, PayloadTooBig) as exc:
                error = type(exc).__name__
                break
        check_same(
            f"FrameParser text validation ({codec.IMPLEMENTATION}) vs reference",
            error is None,
            expected_valid,
            data,
        )
        if error is None:
            check_same(
                f"FrameParser text payload ({codec.IMPLEMENTATION})",
                [bytes(f.payload) for f in frames],
                [text],
                data,
            )
        traces.append(("parser", error))
    if len(traces) == 4:
        check_same("Utf8Validator traces (cython, python)", traces[0], traces[2], data)
        check_same("FrameParser UTF-8 (cython, python)", traces[1], traces[3], data)


if __name__ == "__main__":
    main(test_one_input)
