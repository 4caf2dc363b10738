"""The header multi-dict and the list-valued header grammars (RFC 9110 section 5.6, RFC 6455 section 9.1)."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from fastws.exceptions import (
    InvalidHeader,
)
from fastws.headers import (
    Headers,
    build_extension_list,
    build_subprotocol_list,
    parse_extension_list,
    parse_subprotocol_list,
    parse_token_list,
)


class TestHeaders:
    """RFC 9110 section 5: field names are case-insensitive, order matters for lists."""

    def test_case_insensitive_multi_dict(self) -> None:
        headers = Headers([("Host", "a"), ("X-Thing", "1"), ("x-thing", "2")])
        assert headers["HOST"] == "a"
        assert headers["x-THING"] == "1"
        assert headers.get_all("X-Thing") == ["1", "2"]
        assert headers.get_all("missing") == []
        assert headers.get("missing") is None
        assert headers.get("missing", "d") == "d"
        assert "host" in headers
        assert "nope" not in headers
        assert 1 not in headers
        assert len(headers) == 3
        assert list(headers) == ["host", "x-thing"]
        assert headers.items() == [("host", "a"), ("x-thing", "1"), ("x-thing", "2")]
        assert headers.raw_items() == [("Host", "a"), ("X-Thing", "1"), ("x-thing", "2")]
        with pytest.raises(KeyError):
            headers["missing"]

    def test_setitem_replaces_and_add_appends(self) -> None:
        headers = Headers({"A": "1"})
        headers.add("a", "2")
        headers.add("B", "3")
        headers["A"] = "4"
        assert headers.raw_items() == [("B", "3"), ("A", "4")]
        del headers["b"]
        assert headers.raw_items() == [("A", "4")]
        with pytest.raises(KeyError):
            del headers["b"]

    def test_values_are_stripped(self) -> None:
        headers = Headers()
        headers.add("A", " \t x y \t")
        assert headers["a"] == "x y"

    def test_equality_ignores_name_case_not_order(self) -> None:
        assert Headers([("A", "1"), ("B", "2")]) == Headers([("a", "1"), ("b", "2")])
        assert Headers([("A", "1"), ("B", "2")]) != Headers([("B", "2"), ("A", "1")])
        copy = Headers([("A", "1")]).copy()
        copy.add("C", "3")
        assert copy.raw_items() == [("A", "1"), ("C", "3")]

    @pytest.mark.parametrize("name", ["", "a b", "a:b", "é", "a\r\n", "(x)"])
    def test_invalid_names(self, name: str) -> None:
        with pytest.raises(ValueError, match="invalid header name"):
            Headers().add(name, "v")

    @pytest.mark.parametrize("value", ["a\r\nb", "a\nb", "a\x00b", "a\x7fb", "\u0100"])
    def test_invalid_values(self, value: str) -> None:
        with pytest.raises(ValueError, match="invalid value for header X"):
            Headers().add("X", value)

    def test_serialize(self) -> None:
        headers = Headers([("Host", "h"), ("X-Latin", "caf\xe9")])
        assert headers.serialize() == b"Host: h\r\nX-Latin: caf\xe9\r\n"


class TestListGrammars:
    """RFC 9110 section 5.6.1 lists, RFC 6455 section 9.1 / RFC 7692 section 5.1."""

    @pytest.mark.parametrize(
        ("value", "tokens"),
        [
            ("Upgrade", ["Upgrade"]),
            ("keep-alive, Upgrade", ["keep-alive", "Upgrade"]),
            ("keep-alive,Upgrade", ["keep-alive", "Upgrade"]),
            (" , a ,, b ,", ["a", "b"]),
            ("", []),
            ("\ta\t,\tb", ["a", "b"]),
        ],
    )
    def test_token_list(self, value: str, tokens: list[str]) -> None:
        assert parse_token_list(value) == tokens

    @pytest.mark.parametrize("value", ["a b", "a;b", "a,/", '"a"', "a, b c"])
    def test_token_list_invalid(self, value: str) -> None:
        with pytest.raises(InvalidHeader) as info:
            parse_token_list(value, "Connection")
        assert info.value.name == "Connection"

    @pytest.mark.parametrize(
        ("value", "parsed"),
        [
            ("permessage-deflate", [("permessage-deflate", [])]),
            (
                "permessage-deflate; client_max_window_bits",
                [("permessage-deflate", [("client_max_window_bits", None)])],
            ),
            # RFC 7692 section 5.1 / 7.1.2.2 offer examples.
            (
                "permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate",
                [
                    (
                        "permessage-deflate",
                        [("client_max_window_bits", None), ("server_max_window_bits", "10")],
                    ),
                    ("permessage-deflate", []),
                ],
            ),
            (
                'permessage-deflate; server_max_window_bits="10"',
                [("permessage-deflate", [("server_max_window_bits", "10")])],
            ),
            ('x; a="\\1\\0"', [("x", [("a", "10")])]),
            ("x ;a = 1 ; b,y", [("x", [("a", "1"), ("b", None)]), ("y", [])]),
            ("x,, y", [("x", []), ("y", [])]),
        ],
    )
    def test_extension_list(self, value: str, parsed: list[Any]) -> None:
        assert parse_extension_list(value) == parsed

    @pytest.mark.parametrize(
        "value",
        [
            "x;",
            "x; =1",
            "x; a=",
            'x; a="1 2"',  # RFC 6455 section 9.1: unescaped value must be a token
            'x; a="1',
            "x y",
            ";a",
            "x; a=1 2",
        ],
    )
    def test_extension_list_invalid(self, value: str) -> None:
        with pytest.raises(InvalidHeader) as info:
            parse_extension_list(value)
        assert info.value.name == "Sec-WebSocket-Extensions"

    def test_build_extension_list(self) -> None:
        value = build_extension_list(
            [
                ("permessage-deflate", [("client_max_window_bits", None), ("server_max_window_bits", "10")]),
                ("x", []),
            ]
        )
        assert value == "permessage-deflate; client_max_window_bits; server_max_window_bits=10, x"
        with pytest.raises(ValueError):
            build_extension_list([("x", [("a", "1 2")])])
        with pytest.raises(ValueError):
            build_extension_list([("x y", [])])

    def test_subprotocol_list(self) -> None:
        assert parse_subprotocol_list("chat, superchat") == ["chat", "superchat"]
        assert build_subprotocol_list(["chat", "superchat"]) == "chat, superchat"
        with pytest.raises(InvalidHeader):
            parse_subprotocol_list("chat, super chat")
        with pytest.raises(ValueError):
            build_subprotocol_list(["a b"])


class TestCompact:
    """``compact()`` drops the lookup index; every operation still works."""

    def build(self) -> Headers:
        headers = Headers()
        headers.add("Host", "example.com")
        headers.add("X-Many", "1")
        headers.add("Sec-WebSocket-Key", "k")
        headers.add("x-many", "2")
        return headers

    def test_lookups_after_compact(self) -> None:
        compacted = self.build()
        compacted.compact()
        reference = self.build()
        for name in ("host", "HOST", "X-MANY", "sec-websocket-key", "absent"):
            assert compacted.get(name) == reference.get(name)
            assert compacted.get_all(name) == reference.get_all(name)
            assert (name in compacted) == (name in reference)
        assert compacted["x-many"] == "1"
        with pytest.raises(KeyError):
            compacted["absent"]
        assert compacted.keys() == reference.keys() == ["host", "x-many", "sec-websocket-key"]
        assert list(compacted) == list(reference)
        assert compacted.items() == reference.items()
        assert compacted.raw_items() == reference.raw_items()
        assert compacted.serialize() == reference.serialize()
        assert compacted == reference and len(compacted) == 4
        # The handshake checks' view by name: the same, and the headers stay compact.
        assert compacted._by_name() == reference._by_name()
        assert compacted._index is None

    def test_changes_after_compact(self) -> None:
        headers = self.build()
        headers.compact()
        headers.add("New", "v")
        assert headers["new"] == "v" and headers.get_all("x-many") == ["1", "2"]
        headers.compact()
        del headers["X-Many"]
        assert "x-many" not in headers and len(headers) == 3
        headers["Host"] = "other"
        assert headers.get_all("host") == ["other"]
        assert headers.copy() == headers

    def test_unhashable_picklable_and_copyable_in_both_twins(self) -> None:
        # Compiled, Headers is an extension type: it must still refuse a
        # hash (it is mutable and has __eq__), and pickle and copy whole,
        # compacted or not, like the slotted class of the pure twin.
        headers = self.build()
        with pytest.raises(TypeError, match="unhashable"):
            hash(headers)
        for value in (headers, self.build()):
            value.add("X-Last", "z")
            for copied in (pickle.loads(pickle.dumps(value)), copy.copy(value), copy.deepcopy(value)):
                assert type(copied) is Headers
                assert copied.raw_items() == value.raw_items()
                assert copied["x-last"] == "z"
            value.compact()
        with pytest.raises(AttributeError):
            headers.other = 1  # type: ignore[attr-defined]

    def test_a_subclass_keeps_its_own_attributes(self) -> None:
        class Tagged(Headers):
            def __init__(self, items: Any, tag: str) -> None:
                super().__init__(items)
                self.tag = tag

        tagged = Tagged([("A", "1")], "t")
        assert tagged.tag == "t" and tagged["a"] == "1"
        assert type(Tagged._unchecked(["B", "2"])) is Tagged

    def test_compact_costs_less(self) -> None:
        import tracemalloc

        fields = [(f"X-Field-{i}", "v" * 100) for i in range(100)]
        sizes = []
        for compact in (False, True):
            tracemalloc.start()
            headers = Headers(fields)
            if compact:
                headers.compact()
            sizes.append(tracemalloc.get_traced_memory()[0])
            tracemalloc.stop()
            del headers
        # The index (a dict, a list and a lower-cased name per field) goes.
        assert sizes[1] < sizes[0] - 100 * 100
