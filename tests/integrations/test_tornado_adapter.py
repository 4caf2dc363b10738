"""Tornado with fastws' adapter: its client masks and its server unmasks through fastws.

Tornado's ``tornado.test.websocket_test`` runs with the adapter through
scripts/peer_suites.sh; these tests prove that the replacement is on both
paths (the codec is called) and agrees with RFC 6455 section 5.3 written out.
"""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

pytest.importorskip("tornado")

import tornado.httpserver
import tornado.util
import tornado.web
import tornado.websocket
from tornado.testing import bind_unused_port

import fastws.integrations.tornado as adapter

KEY = b"\x10\x20\x30\xff"


def reference_mask(data: bytes, key: bytes) -> bytes:
    """RFC 6455 section 5.3 written out: octet i XOR key[i MOD 4]."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


@pytest.fixture(autouse=True)
def _installed() -> object:
    adapter.install()
    yield
    adapter.uninstall()


class Echo(tornado.websocket.WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 1_000_003])
def test_loopback_echo(codec_spy, size: int) -> None:
    spy = codec_spy("tornado")

    async def main() -> None:
        sock, port = bind_unused_port()
        server = tornado.httpserver.HTTPServer(
            tornado.web.Application([("/", Echo)], websocket_max_message_size=2**30)
        )
        server.add_sockets([sock])
        try:
            ws = await tornado.websocket.websocket_connect(f"ws://127.0.0.1:{port}/", max_message_size=2**30)
            data = os.urandom(size)
            await ws.write_message(data, binary=True)
            assert await asyncio.wait_for(ws.read_message(), 10) == data
            text = ("é😀 ascii" * size)[: max(size, 1)]
            await ws.write_message(text)
            assert await asyncio.wait_for(ws.read_message(), 10) == text
            ws.close()
        finally:
            server.stop()
            await server.close_all_connections()

    asyncio.run(asyncio.wait_for(main(), 30))
    # Client masks and server unmasks each of the two messages.
    assert spy.calls >= 4
    assert spy.sizes.count(size) >= 2


def test_both_names_patched() -> None:
    assert tornado.util._websocket_mask is adapter.websocket_mask
    assert tornado.websocket._websocket_mask is adapter.websocket_mask
    adapter.uninstall()
    assert tornado.util._websocket_mask is adapter._original_mask
    assert tornado.websocket._websocket_mask is adapter._original_mask


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 17, 125, 1024, 65537])
def test_drop_in_same_result(size: int) -> None:
    data = os.urandom(size)
    assert adapter.websocket_mask(KEY, data) == adapter._original_mask(KEY, data) == reference_mask(data, KEY)


def outcome(function, *args):
    try:
        return ("returned", function(*args))
    except Exception as exc:
        return ("raised", type(exc), str(exc))


@pytest.mark.parametrize("mask", [b"abc", b"abcde", b""])
def test_bad_mask_as_tornado_does(mask: bytes) -> None:
    # Tornado's own function decides (its C mask accepts some bad keys in
    # some versions, its Python one refuses them): the adapter does the same.
    assert outcome(adapter.websocket_mask, mask, b"data") == outcome(adapter._original_mask, mask, b"data")


def test_late_import_binds_ours() -> None:
    # tornado.websocket imported after install copies the patched name.
    adapter.uninstall()
    saved = sys.modules.pop("tornado.websocket")
    try:
        adapter.install()
        import tornado.websocket as fresh

        assert fresh._websocket_mask is adapter.websocket_mask
        adapter.uninstall()
        assert fresh._websocket_mask is adapter._original_mask
    finally:
        sys.modules["tornado.websocket"] = saved
        tornado.websocket = saved  # the package attribute the fresh import replaced
