"""``Reassembler``'s account of the message in progress (``opcode``, ``in_message``).

The protocol reads ``opcode`` on every read to choose its fast lane for
whole messages; a stale value would send a continuation down that lane or
keep a finished message open. Frames are plain ``Frame`` containers.
"""

from __future__ import annotations

import pytest

from fastws.codec import Frame
from fastws.constants import Opcode
from fastws.exceptions import InvalidFrame
from fastws.flow import FlowControl
from fastws.reassembly import Reassembler


def reassembler() -> Reassembler:
    return Reassembler(meter=FlowControl())


def test_a_fragmented_message_is_open_from_its_first_frame_to_its_last() -> None:
    r = reassembler()
    assert (r.opcode, r.in_message) == (0, False)
    assert r.feed(Frame(Opcode.TEXT, b"a", False)) is None
    assert (r.opcode, r.in_message) == (Opcode.TEXT, True)
    assert r.feed(Frame(Opcode.CONTINUATION, b"b", False)) is None
    assert (r.opcode, r.in_message) == (Opcode.TEXT, True)
    opcode, payload = r.feed(Frame(Opcode.CONTINUATION, b"c", True)) or (None, None)
    assert (opcode, bytes(payload or b"")) == (Opcode.TEXT, b"abc")
    assert (r.opcode, r.in_message) == (0, False)


def test_a_whole_message_opens_nothing() -> None:
    r = reassembler()
    assert r.feed(Frame(Opcode.BINARY, b"xyz", True)) == (Opcode.BINARY, b"xyz")
    assert (r.opcode, r.in_message) == (0, False)
    assert r.feed(Frame(Opcode.BINARY, b"1", False)) is None
    assert (r.opcode, r.in_message) == (Opcode.BINARY, True)
    assert r.feed(Frame(Opcode.CONTINUATION, b"2", True)) == (Opcode.BINARY, b"12")
    assert (r.opcode, r.in_message) == (0, False)


def test_a_refused_frame_leaves_the_account_as_it_was() -> None:
    r = reassembler()
    with pytest.raises(InvalidFrame):
        r.feed(Frame(Opcode.CONTINUATION, b"x", True))
    assert (r.opcode, r.in_message) == (0, False)
    r.feed(Frame(Opcode.TEXT, b"a", False))
    with pytest.raises(InvalidFrame):
        r.feed(Frame(Opcode.BINARY, b"b", True))
    assert (r.opcode, r.in_message) == (Opcode.TEXT, True)
