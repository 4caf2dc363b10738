"""The codec contract: both twins have one surface and one behaviour.

``_codec.pyi`` is the contract: "``fastws._codec`` (Cython) and
``fastws._codec_py`` (pure Python) export exactly these names, with these
signatures, and behave identically: same results, same exception types, same
messages." The first half is checked by introspection, the second by
differential tests on random inputs (the frame parser's are in
``test_codec_frames.py``). ``fastws.codec`` picks a twin from the
environment; that is checked in subprocesses.
"""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastws
import fastws.codec

COMPILED = "fastws._codec"
PURE = "fastws._codec_py"
# Same reading of the variable as fastws.codec.
REQUIRE_EXTENSIONS = os.environ.get("FASTWS_REQUIRE_EXTENSIONS", "").strip().lower() not in (
    "",
    "0",
    "no",
    "false",
)

EXPECTED_ALL = {
    "IMPLEMENTATION",
    "Frame",
    "FrameParser",
    "Utf8Validator",
    "apply_mask",
    "apply_mask_inplace",
    "encode_frame",
    "encode_frame_header",
    "validate_utf8",
}
FUNCTIONS = ["apply_mask", "apply_mask_inplace", "validate_utf8", "encode_frame", "encode_frame_header"]
CLASSES = ["Frame", "FrameParser", "Utf8Validator"]


def shape(signature: inspect.Signature) -> list[tuple[str, str, str]]:
    """Names, kinds and defaults (annotations differ between twins by design)."""
    return [
        (param.name, param.kind.name, "<required>" if param.default is param.empty else repr(param.default))
        for param in signature.parameters.values()
    ]


def signature_of(twin, obj, what: str) -> inspect.Signature:
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError) as exc:
        pytest.fail(
            f"{twin.__name__}.{what}: no signature available ({exc}); the twins' signatures cannot be compared"
        )


class TestSurface:
    """Names and signatures, per twin and between twins."""

    def test_all(self, codec):
        assert len(codec.__all__) == len(set(codec.__all__))
        assert set(codec.__all__) == EXPECTED_ALL
        for name in codec.__all__:
            assert hasattr(codec, name), name

    def test_no_unexported_public_definitions(self, codec):
        # Anything public that the twin defines itself is part of the contract.
        for name, value in vars(codec).items():
            if name.startswith("_") or name in codec.__all__:
                continue
            assert getattr(value, "__module__", None) != codec.__name__, name

    def test_implementation(self, codec):
        expected = {COMPILED: "cython", PURE: "python"}[codec.__name__]
        assert codec.IMPLEMENTATION == expected

    def test_class_surface(self, codec):
        # Dunder methods the contract names.
        for cls in CLASSES:
            assert isinstance(getattr(codec, cls), type), cls
        assert codec.Frame.__hash__ is None
        for method in ("__eq__", "__repr__"):
            assert method in vars(codec.Frame), method
        public = {
            "Frame": {"fin", "opcode", "payload", "rsv1", "rsv2", "rsv3"},
            "FrameParser": {
                "feed",
                "feed_some",
                "reset",
                "buffered",
                "require_mask",
                "max_frame_size",
                "max_message_size",
                "max_compressed_size",
                "validate_utf8",
            },
            "Utf8Validator": {"feed", "finish", "reset", "valid", "pending"},
        }
        for cls, names in public.items():
            assert {name for name in dir(getattr(codec, cls)) if not name.startswith("_")} == names, cls


@pytest.mark.c_extension
def test_report_header_names_the_simd_kernels(request: pytest.FixtureRequest, compiled_codec) -> None:
    # The pytest header says which kernels the compiled twin chose, as read
    # from its _simd_info(): a bug report then tells which code ran.
    config = request.config
    results = config.hook.pytest_report_header(config=config, start_path=config.rootpath)
    lines = [line for result in results for line in (result if isinstance(result, list) else [result])]
    (line,) = [line for line in lines if line.startswith("fastws compiled twin: importable")]
    assert line.endswith(f"SIMD: {compiled_codec._simd_info()}")


@pytest.mark.c_extension
class TestTwinsAgree:
    """The compiled twin against the pure one."""

    def test_same_all(self, pure_codec, compiled_codec):
        assert sorted(compiled_codec.__all__) == sorted(pure_codec.__all__)

    @pytest.mark.parametrize("name", FUNCTIONS)
    def test_function_signatures(self, pure_codec, compiled_codec, name):
        expected = shape(signature_of(pure_codec, getattr(pure_codec, name), name))
        assert shape(signature_of(compiled_codec, getattr(compiled_codec, name), name)) == expected

    @pytest.mark.parametrize("name", CLASSES)
    def test_constructor_signatures(self, pure_codec, compiled_codec, name):
        expected = shape(signature_of(pure_codec, getattr(pure_codec, name), name))
        assert shape(signature_of(compiled_codec, getattr(compiled_codec, name), name)) == expected

    @pytest.mark.parametrize("name", CLASSES)
    def test_method_signatures(self, pure_codec, compiled_codec, name):
        pure_cls, compiled_cls = getattr(pure_codec, name), getattr(compiled_codec, name)
        public = sorted(attr for attr in dir(pure_cls) if not attr.startswith("_"))
        assert sorted(attr for attr in dir(compiled_cls) if not attr.startswith("_")) == public
        for attr in public:
            pure_attr = inspect.getattr_static(pure_cls, attr)
            if isinstance(pure_attr, property) or not callable(getattr(pure_cls, attr)):
                # A property or a data attribute in both twins.
                assert not callable(getattr(compiled_cls, attr)), attr
                continue
            what = f"{name}.{attr}"
            assert shape(signature_of(compiled_codec, getattr(compiled_cls, attr), what)) == shape(
                signature_of(pure_codec, getattr(pure_cls, attr), what)
            ), what

    def test_writable_attributes(self, pure_codec, compiled_codec):
        # The same attributes can be set (or not) on instances of both twins.
        def settable(instance, names):
            result = {}
            for name in names:
                value = getattr(instance, name)
                try:
                    setattr(instance, name, value)
                except (AttributeError, TypeError) as exc:
                    result[name] = type(exc).__name__
                else:
                    result[name] = "ok"
            return result

        cases = [
            ("Frame", (1, b"x"), {}, ["fin", "opcode", "payload", "rsv1", "rsv2", "rsv3"]),
            (
                "FrameParser",
                (),
                {},
                [
                    "buffered",
                    "require_mask",
                    "max_frame_size",
                    "max_message_size",
                    "max_compressed_size",
                    "validate_utf8",
                ],
            ),
            ("Utf8Validator", (), {}, ["valid", "pending"]),
        ]
        for cls, args, kwargs, names in cases:
            pure = settable(getattr(pure_codec, cls)(*args, **kwargs), names)
            compiled = settable(getattr(compiled_codec, cls)(*args, **kwargs), names)
            assert compiled == pure, cls

    def test_same_exception_classes(self, pure_codec, compiled_codec):
        for twin in (pure_codec, compiled_codec):
            with pytest.raises(fastws.InvalidFrame):
                twin.FrameParser().feed(b"\x83\x00")
            with pytest.raises(fastws.PayloadTooBig):
                twin.FrameParser(max_frame_size=0).feed(b"\x82\x01")


# -- differential tests: same results, same exceptions ------------------------------------


def result_of(function, *args, **kwargs):
    try:
        value = function(*args, **kwargs)
    except Exception as exc:
        return ("raised", type(exc), str(exc))
    return ("returned", type(value), value)


BUFFERISH = st.one_of(
    st.binary(max_size=40),
    st.binary(max_size=40).map(bytearray),
    st.binary(max_size=40).map(memoryview),
    st.binary(max_size=40).map(lambda data: memoryview(data)[::2]),
    st.text(max_size=5),
    st.sampled_from([None, 0, 1.5, [1, 2]]),
)


@pytest.mark.c_extension
class TestDifferential:
    """On random (often wrong) input the twins answer the same way."""

    @given(
        data=BUFFERISH,
        mask=st.one_of(st.binary(min_size=0, max_size=8), st.binary(min_size=4, max_size=4), BUFFERISH),
        offset=st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([1.5, "1", None])),
    )
    def test_masking(self, pure_codec, compiled_codec, data, mask, offset):
        assert result_of(compiled_codec.apply_mask, data, mask, offset) == result_of(
            pure_codec.apply_mask, data, mask, offset
        )
        outcomes = []
        for twin in (pure_codec, compiled_codec):
            # Each twin masks its own writable copy; other inputs go as they are.
            buffer = bytearray(data) if isinstance(data, (bytes, bytearray)) else data
            outcome = result_of(twin.apply_mask_inplace, buffer, mask, offset)
            outcomes.append((outcome, bytes(buffer) if isinstance(buffer, bytearray) else None))
        assert outcomes[1] == outcomes[0]

    @given(data=st.one_of(st.binary(max_size=80), BUFFERISH))
    def test_validate_utf8(self, pure_codec, compiled_codec, data):
        assert result_of(compiled_codec.validate_utf8, data) == result_of(pure_codec.validate_utf8, data)

    @given(
        operations=st.lists(
            st.one_of(
                st.tuples(st.just("feed"), st.one_of(st.binary(max_size=8), st.text(max_size=2))),
                st.tuples(
                    st.just("feed"),
                    st.sampled_from([b"\xed", b"\xa0", b"\x80", b"\xf4\x90", b"\xe2\x82", b"\xac"]),
                ),
                st.tuples(st.sampled_from(["finish", "reset", "valid", "pending"]), st.none()),
            ),
            max_size=20,
        )
    )
    def test_utf8_validator(self, pure_codec, compiled_codec, operations):
        def run(twin):
            validator = twin.Utf8Validator()
            results = []
            for name, argument in operations:
                if name == "feed":
                    results.append(result_of(validator.feed, argument))
                elif name in ("finish", "reset"):
                    results.append(result_of(getattr(validator, name)))
                else:
                    results.append(getattr(validator, name))
            return results

        assert run(compiled_codec) == run(pure_codec)

    @given(
        opcode=st.one_of(st.integers(min_value=-2, max_value=17), st.sampled_from([2**70, 1.5, "1"])),
        payload=st.one_of(
            st.binary(max_size=130),
            st.sampled_from([bytes(65535), bytes(65536)]),
            BUFFERISH,
        ),
        fin=st.booleans(),
        mask=st.one_of(st.none(), st.just(False), st.binary(max_size=6), st.sampled_from(["abcd", 7])),
        rsv=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    )
    def test_encode_frame(self, pure_codec, compiled_codec, opcode, payload, fin, mask, rsv):
        def run(twin):
            return result_of(
                twin.encode_frame, opcode, payload, fin=fin, mask=mask, rsv1=rsv[0], rsv2=rsv[1], rsv3=rsv[2]
            )

        assert run(compiled_codec) == run(pure_codec)

    @given(
        opcode=st.one_of(st.sampled_from(list(fastws.Opcode)), st.integers(min_value=0, max_value=20)),
        payload=st.one_of(st.binary(max_size=40), st.sampled_from([bytes(33), bytes(1000)])),
        flags=st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()),
    )
    def test_frame_repr_and_eq(self, pure_codec, compiled_codec, opcode, payload, flags):
        pure = pure_codec.Frame(opcode, payload, *flags)
        compiled = compiled_codec.Frame(opcode, payload, *flags)
        assert repr(compiled) == repr(pure)
        for other_flags in ((True, False, False, False), flags):
            assert (compiled == compiled_codec.Frame(opcode, payload, *other_flags)) == (
                pure == pure_codec.Frame(opcode, payload, *other_flags)
            )

    @pytest.mark.parametrize("value", [-1, -(2**70), 1.5, "3", 2**70])
    def test_parser_limits(self, pure_codec, compiled_codec, value):
        def run(twin, name):
            result = result_of(twin.FrameParser, **{name: value})
            return result if result[0] == "raised" else getattr(result[2], name)

        for name in ("max_frame_size", "max_message_size", "max_compressed_size"):
            assert run(compiled_codec, name) == run(pure_codec, name)


# -- the selector ------------------------------------------------------------------------


class TestSelector:
    """``fastws.codec`` and ``fastws.implementation``."""

    def test_implementation(self):
        assert fastws.implementation in {"cython", "python"}
        assert fastws.implementation == fastws.codec.IMPLEMENTATION
        module = importlib.import_module(COMPILED if fastws.implementation == "cython" else PURE)
        for name in EXPECTED_ALL - {"IMPLEMENTATION"}:
            assert getattr(fastws.codec, name) is getattr(module, name), name
            assert getattr(fastws, name) is getattr(module, name), name

    def test_environment_of_this_run(self):
        if fastws.codec.NO_EXTENSIONS:
            assert fastws.implementation == "python"
        if REQUIRE_EXTENSIONS:
            assert fastws.implementation == "cython"


def selected_in_subprocess(**env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FASTWS_")}
    environ.update(env)
    # Import from the same place this process does.
    source_root = str(Path(fastws.__file__).resolve().parent.parent)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", "import fastws; print(fastws.implementation)"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestSelectorSubprocess:
    """The environment variables, each in a fresh interpreter."""

    def test_no_extensions(self):
        result = selected_in_subprocess(FASTWS_NO_EXTENSIONS="1")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "python"

    @pytest.mark.c_extension
    def test_require_extensions(self, compiled_codec):
        result = selected_in_subprocess(FASTWS_REQUIRE_EXTENSIONS="1")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "cython"

    @pytest.mark.c_extension
    def test_default_prefers_compiled(self, compiled_codec):
        result = selected_in_subprocess()
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "cython"

    def test_both_set_is_an_error(self):
        result = selected_in_subprocess(FASTWS_NO_EXTENSIONS="1", FASTWS_REQUIRE_EXTENSIONS="1")
        assert result.returncode != 0
        assert "ImportError" in result.stderr

    @pytest.mark.parametrize("value", ["0", "no", "false", ""])
    def test_false_values(self, value):
        result = selected_in_subprocess(FASTWS_NO_EXTENSIONS=value)
        assert result.returncode == 0, result.stderr
        try:
            importlib.import_module(COMPILED)
        except ImportError:
            expected = "python"
        else:
            expected = "cython"
        assert result.stdout.strip() == expected
