"""permessage-deflate conformance (Autobahn groups 12 and 13 ground), both roles.

``test_server[<case>]``: the oracle of :mod:`.deflate_cases` offers
permessage-deflate to a fastws echo server; ``test_client[<case>]``: it
answers a fastws echo client's offer. Both then exchange compressed
messages and judge every frame. CI runs this file once per codec twin.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from fastws.extensions import ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory

from .deflate_cases import DEFLATE_CASES, DeflateCase, _offer, run_against_client, run_against_server
from .harness import EchoServer, start_echo_client
from .session import CaseFailed


class _Servers:
    """fastws echo servers, one per configuration."""

    def __init__(self) -> None:
        self.servers: dict[Any, EchoServer] = {}

    def get(self, case: DeflateCase) -> EchoServer:
        key = (tuple(sorted(case.server_factory.items())), case.fragment, case.max_size)
        server = self.servers.get(key)
        if server is None:
            config: dict[str, Any] = {
                "extensions": [ServerPerMessageDeflateFactory(**case.server_factory)],
                "fragment_size": case.fragment or None,
                "max_size": case.max_size,
                "max_fragments": None,
            }
            server = self.servers[key] = EchoServer(config)
        return server

    def close(self) -> None:
        for server in self.servers.values():
            server.close()


@pytest.fixture(scope="module")
def servers() -> Iterator[_Servers]:
    pool = _Servers()
    yield pool
    pool.close()


def _ids() -> list[Any]:
    return [pytest.param(case, id=case.name) for case in DEFLATE_CASES]


@pytest.mark.parametrize("case", _ids())
def test_server(case: DeflateCase, servers: _Servers) -> None:
    """The oracle (a client) offers, then exchanges compressed messages with a fastws server."""
    server = servers.get(case)
    ports: list[int] = []
    result = run_against_server(case, server.host, server.port, on_connect=ports.append)
    record = server.record_for(ports[0], timeout=10.0)
    assert record is not None, "the server never saw the connection"
    assert record.error is None, record.error
    assert result.verdict == "OK", f"{case.description}\n{result}"


@pytest.mark.parametrize("case", _ids())
def test_client(case: DeflateCase) -> None:
    """The oracle (a server) answers a fastws client's offer, then exchanges compressed messages."""
    expected_offer = ", ".join(_offer(kwargs) for kwargs in case.client_factories)

    def check(offer: str) -> None:
        if offer != expected_offer:
            raise CaseFailed(f"handshake: the client offered {offer!r}, expected {expected_offer!r}")

    config: dict[str, Any] = {
        "extensions": [ClientPerMessageDeflateFactory(**kwargs) for kwargs in case.client_factories],
        "fragment_size": case.fragment or None,
        "max_size": case.max_size,
        "max_fragments": None,
    }
    with socket.create_server(("127.0.0.1", 0)) as listener:
        record = start_echo_client("127.0.0.1", listener.getsockname()[1], config)
        result = run_against_client(case, listener, check)
        assert record.wait(10.0), "the fastws client did not finish"
    assert record.error is None, record.error
    assert result.verdict == "OK", f"{case.description}\n{result}"
