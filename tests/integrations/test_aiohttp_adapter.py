"""aiohttp with fastws' adapter: the writer's masking and the pure reader's unmasking.

aiohttp's WebSocket test modules run with the adapter through
scripts/peer_suites.sh (with its compiled reader and with its pure one);
these tests prove the replacement is on the paths it claims (the codec is
called), that it is not claimed where it cannot be (aiohttp's compiled
reader binds its mask in C), and check every masked byte against RFC 6455
section 5.3 written out.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from typing import Any
from unittest import mock

import pytest

from conformance.wire import build_frame
from vectors import mask_oracle

pytest.importorskip("aiohttp")

from aiohttp import WSMsgType, web
from aiohttp._websocket import helpers as aiohttp_helpers
from aiohttp._websocket import reader_py
from aiohttp._websocket.writer import WebSocketWriter
from aiohttp.base_protocol import BaseProtocol

import fastws.integrations.aiohttp as adapter

SIZES = [0, 1, 3, 4, 5, 125, 126, 127, 1024, 65535, 65536, 200_001]
KEY = b"\xa1\x0b\x5c\xee"
# decode_text appeared in aiohttp 3.12; decoding text is the default before.
READER_OPTIONS = (
    {"decode_text": True}
    if "decode_text" in inspect.signature(reader_py.WebSocketReader.__init__).parameters
    else {}
)


@pytest.fixture(autouse=True)
def _installed() -> object:
    adapter.install()
    yield
    adapter.uninstall()


class TestPureReader:
    """aiohttp's pure-Python reader (AIOHTTP_NO_EXTENSIONS=1, PyPy): unmasking through fastws."""

    @pytest.mark.parametrize("size", SIZES)
    @pytest.mark.parametrize("chunk", [1 << 30, 999])
    def test_masked_frames(self, codec_spy, size: int, chunk: int) -> None:
        spy = codec_spy("aiohttp")

        async def main() -> bytes:
            loop = asyncio.get_running_loop()
            queue = reader_py.WebSocketDataQueue(BaseProtocol(loop), 2**30, loop=loop)
            reader = reader_py.WebSocketReader(queue, 2**30, compress=False, **READER_OPTIONS)
            wire = build_frame(0x2, data, mask=KEY)
            for start in range(0, len(wire), chunk):
                reader.feed_data(wire[start : start + chunk])
            message = await asyncio.wait_for(queue.read(), 5)
            assert message.type is WSMsgType.BINARY
            return bytes(message.data)

        data = os.urandom(size)
        assert asyncio.run(main()) == data
        if size:
            assert spy.calls >= 1 and sum(spy.sizes) == size


class TestWriter:
    """aiohttp's client-side writer: masking through fastws."""

    @pytest.mark.parametrize("size", SIZES)
    def test_masked_send(self, codec_spy, size: int) -> None:
        spy = codec_spy("aiohttp")
        sent: list[bytes] = []

        async def main() -> None:
            loop = asyncio.get_running_loop()
            transport = mock.Mock()
            transport.is_closing.return_value = False
            transport.write.side_effect = lambda b: sent.append(bytes(b))
            transport.writelines.side_effect = lambda bs: sent.append(b"".join(bytes(b) for b in bs))
            writer = WebSocketWriter(BaseProtocol(loop), transport, use_mask=True)
            await writer.send_frame(data, WSMsgType.BINARY)

        data = os.urandom(size)
        asyncio.run(main())
        wire = b"".join(sent)
        length = wire[1] & 0x7F
        pos = {126: 4, 127: 10}.get(length, 2)
        key = wire[pos : pos + 4]
        assert wire[1] & 0x80
        assert mask_oracle(wire[pos + 4 :], key) == data
        assert spy.calls == 1 and spy.sizes == [size]


class TestLoopback:
    @pytest.mark.parametrize("size", [1, 126, 65536, 1_000_001])
    def test_echo(self, codec_spy, size: int) -> None:
        spy = codec_spy("aiohttp")
        import aiohttp

        async def echo(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(max_msg_size=0)
            await ws.prepare(request)
            async for msg in ws:
                await ws.send_bytes(msg.data) if msg.type is WSMsgType.BINARY else await ws.send_str(msg.data)
            return ws

        async def main() -> None:
            app = web.Application()
            app.router.add_get("/", echo)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]
            try:
                async with aiohttp.ClientSession() as session:
                    async with session.ws_connect(f"http://127.0.0.1:{port}/", max_msg_size=0) as ws:
                        data = os.urandom(size)
                        await ws.send_bytes(data)
                        assert (await ws.receive(timeout=10)).data == data
                        text = ("é😀 ascii" * size)[:size]
                        await ws.send_str(text)
                        assert (await ws.receive(timeout=10)).data == text
            finally:
                await runner.cleanup()

        asyncio.run(asyncio.wait_for(main(), 30))
        # The client masked both messages through fastws.
        assert spy.calls >= 2


class TestWhatIsPatched:
    def test_helpers_left_as_aiohttp_chose(self) -> None:
        # Nothing looks websocket_mask up in helpers at call time; aiohttp's
        # own tests check its identity there.
        assert aiohttp_helpers.websocket_mask is adapter._original_mask
        assert reader_py.websocket_mask is adapter.websocket_mask

    def test_drop_in_same_result(self) -> None:
        for size in SIZES:
            data = os.urandom(size)
            ours, theirs = bytearray(data), bytearray(data)
            adapter.websocket_mask(KEY, ours)
            adapter._original_mask(KEY, theirs)
            assert ours == theirs == mask_oracle(data, KEY)

    def test_non_bytearray_refused_like_aiohttp(self) -> None:
        # aiohttp's compiled mask raises TypeError, its pure one an
        # AssertionError: the adapter must raise whatever aiohttp raises.
        def raised(function: Any) -> BaseException:
            try:
                function(KEY, b"immutable")
            except Exception as exc:
                return exc
            raise AssertionError(f"{function} accepted bytes")

        theirs, ours = raised(adapter._original_mask), raised(adapter.websocket_mask)
        assert (type(ours), str(ours)) == (type(theirs), str(theirs))
