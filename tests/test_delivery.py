"""The protocol's fast lane for whole messages (``deliver_frames``), both twins.

Frames are built by hand with each twin's own ``Frame`` class; expected
messages are the payloads themselves (decoded with ``bytes.decode`` for
text), never the output of the code under test.
"""

from __future__ import annotations

import gc
import importlib
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastws.constants import Opcode
from fastws.events import BinaryMessage, TextMessage

#: The fast lane of each codec twin.
LANES = {"fastws._codec": "fastws._delivery", "fastws._codec_py": "fastws._delivery_py"}


@pytest.fixture
def twin(codec: ModuleType) -> tuple[ModuleType, ModuleType]:
    """(codec, fast lane) of each twin in turn."""
    return codec, importlib.import_module(LANES[codec.__name__])


def _text(codec: ModuleType, text: str, **flags: Any) -> Any:
    return codec.Frame(Opcode.TEXT, text.encode(), **flags)


def _binary(codec: ModuleType, data: bytes, **flags: Any) -> Any:
    return codec.Frame(Opcode.BINARY, data, **flags)


def test_whole_messages_go_to_the_sink_in_order(twin: tuple[ModuleType, ModuleType]) -> None:
    codec, delivery = twin
    frames = [_text(codec, "héllo"), _binary(codec, b"\x00\xff"), _text(codec, "")]
    got: list[Any] = []
    assert delivery.deliver_frames(frames, 0, got.append, False, None) == (3, None)
    assert got == ["héllo", b"\x00\xff", ""]
    assert [type(m) for m in got] == [str, bytes, str]


def test_wrapped_messages_are_ordinary_events(twin: tuple[ModuleType, ModuleType]) -> None:
    codec, delivery = twin
    frames = [_text(codec, "a"), _binary(codec, b"b")]
    got: list[Any] = []
    assert delivery.deliver_frames(frames, 0, got.append, True, None) == (2, None)
    assert got == [TextMessage("a"), BinaryMessage(b"b")]
    assert [type(m) for m in got] == [TextMessage, BinaryMessage]
    assert got[0].data == "a" and got[1].data == b"b"
    assert hash(got[0]) == hash(TextMessage("a"))
    assert repr(got[1]) == repr(BinaryMessage(b"b"))
    with pytest.raises(AttributeError):
        got[0].data = "x"


@pytest.mark.c_extension
def test_compiled_events_are_not_tracked_by_the_collector(compiled_codec: ModuleType) -> None:
    codec = compiled_codec
    delivery = importlib.import_module("fastws._delivery")
    got: list[Any] = []
    delivery.deliver_frames([_text(codec, "a"), _binary(codec, b"b")], 0, got.append, True, None)
    assert [gc.is_tracked(event) for event in got] == [False, False]
    assert gc.is_tracked(TextMessage("a"))  # an event made the usual way is


def test_start_skips_frames(twin: tuple[ModuleType, ModuleType]) -> None:
    codec, delivery = twin
    frames = [_text(codec, "skipped"), _text(codec, "x"), _text(codec, "y")]
    got: list[Any] = []
    assert delivery.deliver_frames(frames, 1, got.append, False, None) == (3, None)
    assert got == ["x", "y"]
    assert delivery.deliver_frames(frames, 3, got.append, False, None) == (3, None)
    assert delivery.deliver_frames([], 0, got.append, False, None) == (0, None)


@pytest.mark.parametrize(
    "odd",
    [
        pytest.param(lambda c: _text(c, "part", fin=False), id="not-final"),
        pytest.param(lambda c: _text(c, "x", rsv1=True), id="rsv1"),
        pytest.param(lambda c: _binary(c, b"x", rsv2=True), id="rsv2"),
        pytest.param(lambda c: _binary(c, b"x", rsv3=True), id="rsv3"),
        pytest.param(lambda c: c.Frame(Opcode.CONTINUATION, b"x"), id="continuation"),
        pytest.param(lambda c: c.Frame(Opcode.PING, b"x"), id="ping"),
        pytest.param(lambda c: c.Frame(Opcode.PONG, b""), id="pong"),
        pytest.param(lambda c: c.Frame(Opcode.CLOSE, b"\x03\xe8"), id="close"),
        pytest.param(lambda c: c.Frame(Opcode.TEXT, b"\xff"), id="invalid-utf8"),
        pytest.param(lambda c: c.Frame(Opcode.TEXT, b"\xc3"), id="truncated-utf8"),
        pytest.param(lambda c: c.Frame(1, b"x"), id="plain-int-opcode"),
        pytest.param(lambda c: c.Frame(Opcode.TEXT, b"x", fin=1), id="int-fin"),
        pytest.param(lambda c: c.Frame(Opcode.TEXT, b"x", rsv1=0), id="int-rsv"),
        pytest.param(lambda c: object(), id="not-a-frame"),
    ],
)
def test_other_frames_end_the_run_untouched(twin: tuple[ModuleType, ModuleType], odd: Any) -> None:
    codec, delivery = twin
    frames = [_text(codec, "before"), odd(codec), _text(codec, "after")]
    got: list[Any] = []
    assert delivery.deliver_frames(frames, 0, got.append, False, None) == (1, None)
    assert got == ["before"]


@pytest.mark.c_extension
def test_the_other_twins_frames_end_the_run(compiled_codec: ModuleType, pure_codec: ModuleType) -> None:
    compiled = importlib.import_module("fastws._delivery")
    pure = importlib.import_module("fastws._delivery_py")
    compiled_frame = compiled_codec.Frame(Opcode.TEXT, b"x")
    pure_frame = pure_codec.Frame(Opcode.TEXT, b"x")
    got: list[Any] = []
    assert compiled.deliver_frames([pure_frame], 0, got.append, False, None) == (0, None)
    assert pure.deliver_frames([compiled_frame], 0, got.append, False, None) == (0, None)
    assert got == []


def test_payloads_other_than_bytes_end_the_run(twin: tuple[ModuleType, ModuleType]) -> None:
    # The parser always makes bytes; anything else takes the protocol's full path.
    codec, delivery = twin
    frames = [
        codec.Frame(Opcode.TEXT, "é".encode()),
        codec.Frame(Opcode.TEXT, bytearray(b"ok")),
        codec.Frame(Opcode.BINARY, memoryview(b"ok")),
    ]
    got: list[Any] = []
    sizes: list[int] = []
    assert delivery.deliver_frames(frames, 0, got.append, False, lambda n: sizes.append(n) or False) == (
        1,
        None,
    )
    assert delivery.deliver_frames(frames, 2, got.append, False, None) == (2, None)
    assert got == ["é"] and sizes == [2]


def test_stop_gets_payload_sizes_and_ends_the_run(twin: tuple[ModuleType, ModuleType]) -> None:
    codec, delivery = twin
    frames = [_text(codec, "é"), _binary(codec, b"abc"), _text(codec, "never")]
    got: list[Any] = []
    sizes: list[int] = []

    def stop(size: int) -> bool:
        sizes.append(size)
        return len(sizes) == 2

    assert delivery.deliver_frames(frames, 0, got.append, False, stop) == (2, True)
    assert got == ["é", b"abc"]
    assert sizes == [2, 3]  # UTF-8 bytes for text


@pytest.mark.parametrize("where", ["sink", "stop"])
def test_an_exception_is_returned_with_the_message_counted(
    twin: tuple[ModuleType, ModuleType], where: str
) -> None:
    codec, delivery = twin
    frames = [_text(codec, "one"), _text(codec, "two"), _text(codec, "three")]
    got: list[Any] = []
    error = KeyboardInterrupt("from the callback")

    def sink(message: Any) -> None:
        got.append(message)
        if where == "sink" and message == "two":
            raise error

    def stop(size: int) -> bool:
        if where == "stop" and len(got) == 2:
            raise error
        return False

    index, outcome = delivery.deliver_frames(frames, 0, sink, False, stop)
    assert (index, outcome) == (2, error)
    assert outcome is error
    assert got == ["one", "two"]


_FRAME_SPECS = st.lists(
    st.tuples(
        st.sampled_from([Opcode.TEXT, Opcode.BINARY, Opcode.PING, Opcode.CONTINUATION]),
        st.sampled_from([b"", b"ok", "é".encode(), b"\xff", b"\xe2\x82"]),
        st.booleans(),  # fin
        st.booleans(),  # rsv1
    ),
    max_size=12,
)


@pytest.mark.c_extension
@given(specs=_FRAME_SPECS, start=st.integers(0, 3), wrap=st.booleans(), stop_at=st.integers(0, 6))
def test_the_twins_agree(
    compiled_codec: ModuleType,
    pure_codec: ModuleType,
    specs: list[tuple[Any, bytes, bool, bool]],
    start: int,
    wrap: bool,
    stop_at: int,
) -> None:
    results = []
    for codec in (compiled_codec, pure_codec):
        delivery = importlib.import_module(LANES[codec.__name__])
        frames = [codec.Frame(op, data, fin=fin, rsv1=rsv1) for op, data, fin, rsv1 in specs]
        got: list[Any] = []
        sizes: list[int] = []

        def stop(size: int, sizes: list[int] = sizes) -> bool:
            sizes.append(size)
            return len(sizes) == stop_at

        outcome = delivery.deliver_frames(frames, min(start, len(frames)), got.append, wrap, stop)
        results.append((outcome, got, sizes))
    assert results[0] == results[1]
    # And against the rule itself: the run is the longest prefix of whole,
    # valid messages, cut after the stop_at-th.
    expected = []
    for op, data, fin, rsv1 in specs[min(start, len(specs)) :]:
        if not fin or rsv1 or op not in (Opcode.TEXT, Opcode.BINARY):
            break
        if op == Opcode.TEXT:
            try:
                expected.append(data.decode())
            except UnicodeDecodeError:
                break
        else:
            expected.append(data)
        if len(expected) == stop_at:
            break
    _, got, _ = results[1]
    assert [m.data if wrap else m for m in got] == expected
