"""fastws.options: what the asyncio and threading layers share (protocol options, queue marks, TLS)."""

from __future__ import annotations

import ssl
import sys
from typing import Any

import pytest

from fastws.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)
from fastws.options import (
    CONNECTION_OPTIONS,
    client_protocol_options,
    client_tls,
    connection_options,
    queue_bytes_low,
    queue_limits,
    server_protocol_options,
    write_marks,
)


class TestQueueLimits:
    @pytest.mark.parametrize(
        ("option", "marks"),
        [
            (128, (128, 32)),
            (1, (1, 0)),
            ((10, 3), (10, 3)),
            ((10, None), (10, 2)),
            (None, (None, sys.maxsize)),
        ],
    )
    def test_marks(self, option: object, marks: tuple[int | None, int]) -> None:
        assert queue_limits(option) == marks  # type: ignore[arg-type]

    @pytest.mark.parametrize("option", [0, -1, (4, 4), (4, -1), (0, None)])
    def test_refused(self, option: object) -> None:
        with pytest.raises(ValueError):
            queue_limits(option)  # type: ignore[arg-type]

    def test_bytes(self) -> None:
        assert queue_bytes_low(4 * 2**20) == 2**20
        assert queue_bytes_low(None) is None
        with pytest.raises(ValueError):
            queue_bytes_low(0)


class TestWriteMarks:
    @pytest.mark.parametrize(
        ("option", "marks"),
        [
            (32768, (32768, None)),
            (0, (0, None)),
            ((100, 10), (100, 10)),
            ((100, 100), (100, 100)),
            ((100, None), (100, None)),
        ],
    )
    def test_marks(self, option: object, marks: tuple[int, int | None]) -> None:
        assert write_marks(option) == marks  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("option", "message"),
        [
            (-1, "write_limit must be >= 0"),
            ((100, -1), "the low-water mark of write_limit must be >= 0"),
            ((10, 20), r"the low-water mark of write_limit \(20\) is above its high-water mark \(10\)"),
        ],
    )
    def test_out_of_range(self, option: object, message: str) -> None:
        with pytest.raises(ValueError, match=f"^{message}$"):
            write_marks(option)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("option", "kind"),
        [("32768", "str"), (1.5, "float"), (True, "bool"), (None, "NoneType"), ([10, 5], "list"),
         ((1, 2, 3), "tuple"), ((10, 2.5), "float"), ((None, 5), "NoneType")],
    )  # fmt: skip
    def test_not_ints(self, option: object, kind: str) -> None:
        with pytest.raises(
            TypeError, match=f"must be an int or a \\(high, low\\) tuple of ints, not {kind}$"
        ):
            write_marks(option)  # type: ignore[arg-type]


#: The arguments of ``connect`` and of ``serve`` that the protocol options read, with defaults.
CONNECT = {"max_size": 2**20, "user_agent_header": "ua", "compression": "deflate", "subprotocols": None,
           "origin": None, "additional_headers": None, "protocol_options": None}  # fmt: skip
SERVE = {"max_size": 2**20, "server_header": "s", "compression": "deflate", "subprotocols": None,
         "select_subprotocol": None, "origins": None, "protocol_options": None}  # fmt: skip


def client_arguments(**given: Any) -> dict[str, Any]:
    return {**CONNECT, **given}


def server_arguments(**given: Any) -> dict[str, Any]:
    return {**SERVE, **given}


class TestProtocolOptions:
    def test_client(self) -> None:
        options = client_protocol_options(
            client_arguments(
                max_size=100,
                user_agent_header=None,
                subprotocols=("a", "b"),
                origin="https://o.example",
                additional_headers={"X": "1"},
                protocol_options={"max_fragments": 4, "max_size": 1},
            )
        )
        (factory,) = options.pop("extensions")
        assert isinstance(factory, ClientPerMessageDeflateFactory)
        assert options == {
            "max_fragments": 4,
            "max_size": 100,  # the named option wins
            "user_agent": None,
            "subprotocols": ["a", "b"],
            "origin": "https://o.example",
            "additional_headers": {"X": "1"},
        }

    def test_server(self) -> None:
        options = server_protocol_options(
            server_arguments(max_size=None, compression=None, origins=("https://o.example", None))
        )
        assert options == {"max_size": None, "server_header": "s", "origins": ["https://o.example", None]}
        given = ServerPerMessageDeflateFactory()
        assert server_protocol_options(server_arguments(compression=given))["extensions"] == [given]

    def test_extensions_in_protocol_options_win(self) -> None:
        options = client_protocol_options(client_arguments(protocol_options={"extensions": []}))
        assert options["extensions"] == []

    @pytest.mark.parametrize("compression", ["gzip", 1, True])
    def test_unknown_compression(self, compression: object) -> None:
        with pytest.raises(ValueError):
            client_protocol_options(client_arguments(compression=compression))
        with pytest.raises(ValueError):
            server_protocol_options(server_arguments(compression=compression))

    def test_connection_options(self) -> None:
        arguments = {name: index for index, name in enumerate(CONNECTION_OPTIONS)}
        assert connection_options({**arguments, "max_size": 1, "self": None}) == arguments
        with pytest.raises(KeyError):
            connection_options({"ping_interval": 1})

    @pytest.mark.parametrize(
        ("bad", "error"),
        [({"write_limit": -1}, ValueError), ({"write_limit": "64k"}, TypeError),
         ({"max_queue": 0}, ValueError), ({"max_queue_bytes": 0}, ValueError)],
    )  # fmt: skip
    def test_connection_options_are_checked(self, bad: dict[str, object], error: type[Exception]) -> None:
        arguments = {"ping_interval": 20, "ping_timeout": 20, "close_timeout": 10, "max_queue": 128,
                     "max_queue_bytes": 2**20, "write_limit": 32768}  # fmt: skip
        assert connection_options(arguments) == arguments
        with pytest.raises(error):
            connection_options({**arguments, **bad})


class TestClientTLS:
    def test_ws(self) -> None:
        assert client_tls("ws://example.com/", None) == ("example.com", 80, None)
        assert client_tls("ws://example.com:81/", False) == ("example.com", 81, None)
        with pytest.raises(ValueError):
            client_tls("ws://example.com/", ssl.create_default_context())
        with pytest.raises(ValueError):
            client_tls("ws://example.com/", True)

    def test_wss(self) -> None:
        host, port, context = client_tls("wss://[::1]/", None)
        assert (host, port) == ("::1", 443)
        assert context is not None and context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
        assert client_tls("wss://x/", True)[2] is not None
        given = ssl.create_default_context()
        assert client_tls("wss://x/", given)[2] is given
        with pytest.raises(ValueError):
            client_tls("wss://x/", False)

    def test_bad_uri(self) -> None:
        with pytest.raises(ValueError):
            client_tls("https://x/", None)
