"""``X-Forwarded-For`` behind trusted proxies (the rules of uvicorn's ``--proxy-headers``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fastws.forwarded import TrustedProxies, client_address
from fastws.headers import Headers


def headers(*values: str) -> Headers:
    return Headers([("X-Forwarded-For", value) for value in values])


class TestTrustedProxies:
    def test_addresses_networks_and_everyone(self) -> None:
        trusted = TrustedProxies("127.0.0.1, 10.0.0.0/8,::1")
        assert "127.0.0.1" in trusted and "10.1.2.3" in trusted and "::1" in trusted
        assert "11.0.0.1" not in trusted and "not an address" not in trusted
        assert "203.0.113.9" in TrustedProxies("*")
        assert "1.2.3.4" not in TrustedProxies([])

    def test_invalid_entry(self) -> None:
        with pytest.raises(ValueError):
            TrustedProxies("10.0.0.0/40")


class TestClientAddress:
    trusted = TrustedProxies("127.0.0.1,10.0.0.0/8")

    def test_untrusted_peer_is_believed_as_it_is(self) -> None:
        assert client_address(("203.0.113.9", 5000), headers("1.2.3.4"), self.trusted) == (
            "203.0.113.9",
            5000,
        )

    def test_rightmost_untrusted_host_is_the_client(self) -> None:
        forged_then_real = headers("6.6.6.6, 198.51.100.7", "10.0.0.2")
        assert client_address(("127.0.0.1", 1), forged_then_real, self.trusted) == ("198.51.100.7", 0)

    def test_every_host_trusted_gives_the_leftmost(self) -> None:
        assert client_address(("127.0.0.1", 1), headers("10.0.0.5, 10.0.0.6"), self.trusted) == (
            "10.0.0.5",
            0,
        )

    def test_no_header_or_no_peer(self) -> None:
        assert client_address(("127.0.0.1", 1), Headers(), self.trusted) == ("127.0.0.1", 1)
        assert client_address(None, headers("1.2.3.4"), self.trusted) is None


async def test_server_connection_client_address() -> None:
    from fastws.asyncio import ServerConnection, connect, serve

    seen: list[Any] = []

    async def handler(ws: ServerConnection) -> None:
        seen.append((ws.remote_address[0], ws.client_address))

    for allowed, expected in ((None, ("127.0.0.1",)), ("127.0.0.1", ("198.51.100.7", 0))):
        async with serve(handler, "127.0.0.1", 0, forwarded_allow_ips=allowed) as server:
            port = server.sockets[0].getsockname()[1]
            ws = await connect(
                f"ws://127.0.0.1:{port}/", additional_headers={"X-Forwarded-For": "198.51.100.7"}
            )
            await asyncio.wait_for(ws.wait_closed(), 5)
        peer, client = seen.pop()
        assert peer == "127.0.0.1"
        assert client[: len(expected)] == expected
