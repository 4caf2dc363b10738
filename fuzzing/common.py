"""What every fastws fuzzing harness shares.

* The two codec twins, imported by name (not through ``fastws.codec``) so
  that one process holds both and can compare them on the same input.
* :func:`outcome`: run a call and reduce what happened to a comparable
  value: ``("ok", result)`` or ``("raise", type name, message)`` for a
  documented exception; anything else propagates, and atheris reports it as
  a crash.
* :class:`Finding`: raised by a harness when two things that must agree do
  not (two twins, a whole and a piecewise feed, a twin and the reference).
* :func:`split`: cut a byte string at fuzzer-chosen points, so that every
  parser is also fed its input in pieces.
* :func:`reference_utf8_prefix_ok`: an RFC 3629 validator written here from
  the grammar, byte at a time, independent of both twins.

A harness is run three ways: by atheris (``python fuzzing/fuzz_x.py
[libFuzzer flags] corpus/``), by ``fuzzing/run.sh``, or replayed on one
input (``python fuzzing/fuzz_x.py crash-file``: libFuzzer runs a file
argument once).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = [
    "COMPILED",
    "PURE",
    "Controls",
    "Finding",
    "check_same",
    "main",
    "outcome",
    "reference_utf8_prefix_ok",
    "reference_utf8_valid",
    "split",
    "twins",
]

#: The compiled twin, or None when it is not built (the harness then checks
#: the pure twin alone against the reference, and says so once).
COMPILED: ModuleType | None
#: The pure-Python twin.
PURE: ModuleType


class Finding(AssertionError):
    """Two results that must agree do not: a bug, whatever its side."""


def _import_twins() -> tuple[ModuleType | None, ModuleType]:
    # Imported by module name on purpose: fastws.codec chooses one twin per
    # process, and a differential harness needs both side by side.
    pure = importlib.import_module("fastws._codec_py")
    try:
        compiled: ModuleType | None = importlib.import_module("fastws._codec")
    except ImportError as exc:
        if os.environ.get("FASTWS_REQUIRE_EXTENSIONS", "").strip().lower() not in ("", "0", "no", "false"):
            raise
        print(f"[fuzz] compiled twin not importable ({exc}): pure twin only", file=sys.stderr)
        compiled = None
    return compiled, pure


COMPILED, PURE = _import_twins()


def twins() -> list[ModuleType]:
    """The twins to run, compiled first when there is one."""
    return [PURE] if COMPILED is None else [COMPILED, PURE]


def outcome(call: Callable[[], Any], documented: tuple[type[BaseException], ...]) -> tuple[Any, ...]:
    """Run ``call``; ``("ok", result)`` or ``("raise", name, message)``.

    Args:
        call: what to run.
        documented: the exception types the contract allows here; any
            other exception is not caught and reaches the fuzzer.

    Returns:
        A tuple that compares equal for equal behaviour.
    """
    try:
        return ("ok", call())
    except documented as exc:
        return ("raise", type(exc).__name__, str(exc))


def check_same(what: str, left: Any, right: Any, data: bytes | None = None) -> None:
    """Raise :class:`Finding` when ``left != right``.

    Raises:
        Finding: they differ; the message shows both and the input.
    """
    if left != right:
        shown = "" if data is None else f"\ninput: {data!r}"
        raise Finding(f"{what} disagree:\n  {left!r}\n  {right!r}{shown}")


class Controls:
    """The first ``size`` bytes of an input, read as the harness's choices.

    A fixed-size header (zero-padded when the input is shorter) keeps the
    choices apart from the bytes under test, so a seed is written by hand:
    ``bytes(header) + payload``, and a mutation of the payload never shifts
    the choices.

    Args:
        data: the fuzzer's input.
        size: how many bytes of choices it starts with.
    """

    def __init__(self, data: bytes, size: int) -> None:
        self._head = data[:size].ljust(size, b"\x00")
        self.rest = data[size:]

    def byte(self, index: int) -> int:
        """The byte at ``index`` of the header."""
        return self._head[index]

    def pick(self, index: int, choices: list[Any]) -> Any:
        """One of ``choices``, by the byte at ``index``."""
        return choices[self._head[index] % len(choices)]

    def flag(self, index: int, bit: int = 0) -> bool:
        """Bit ``bit`` of the byte at ``index``."""
        return bool(self._head[index] >> bit & 1)

    def cuts(self, count_index: int, first: int, most: int) -> list[int]:
        """Up to ``most`` cut positions: 16-bit values from ``first`` on."""
        count = self._head[count_index] % (most + 1)
        return [int.from_bytes(self._head[first + 2 * i : first + 2 * i + 2], "big") for i in range(count)]


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """Cut ``data`` at the positions ``cuts`` (taken modulo its length, sorted).

    Returns:
        The pieces in order; empty pieces are kept (a feed of ``b""`` is a
        case too).
    """
    if not data:
        return [data]
    points = sorted(c % (len(data) + 1) for c in cuts)
    pieces = []
    start = 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return pieces


# -- an independent UTF-8 reference (RFC 3629 section 4) ----------------------------
#
#   UTF8-1 = %x00-7F
#   UTF8-2 = %xC2-DF UTF8-tail
#   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
#            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
#   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
#            %xF4 %x80-8F 2( UTF8-tail )
#   UTF8-tail = %x80-BF


def _second_range(lead: int) -> tuple[int, int]:
    return {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}.get(
        lead, (0x80, 0xBF)
    )


def _utf8_scan(data: bytes) -> tuple[bool, int]:
    """(every byte so far can start or continue valid UTF-8, bytes still needed)."""
    need = 0
    index = 0  # position inside the current sequence
    lead = 0
    for byte in data:
        if need == 0:
            if byte <= 0x7F:
                continue
            if 0xC2 <= byte <= 0xDF:
                need = 1
            elif 0xE0 <= byte <= 0xEF:
                need = 2
            elif 0xF0 <= byte <= 0xF4:
                need = 3
            else:
                return False, 0
            lead = byte
            index = 1
            continue
        low, high = _second_range(lead) if index == 1 else (0x80, 0xBF)
        if not low <= byte <= high:
            return False, 0
        index += 1
        need -= 1
    return True, need


def reference_utf8_prefix_ok(data: bytes) -> bool:
    """Whether ``data`` is a prefix of some valid UTF-8 text."""
    return _utf8_scan(data)[0]


def reference_utf8_valid(data: bytes) -> bool:
    """Whether ``data`` is entirely valid UTF-8."""
    ok, need = _utf8_scan(data)
    return ok and need == 0


def main(test_one_input: Callable[[bytes], None]) -> None:
    """Start atheris on ``test_one_input`` with the command line's libFuzzer flags."""
    import atheris

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
