"""``fastws serve --echo``, run as a real process."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from typing import Any

import pytest

from fastws import ConnectionClosedError, ConnectionClosedOK
from fastws.asyncio import connect

FASTWS = [sys.executable, "-m", "fastws"]


class TestServeCommand:
    async def test_echo_and_sigterm_closes_with_1001(self, serve: Any) -> None:
        process, url = serve()
        ws = await connect(url)
        await ws.send(b"\x00bin")
        assert await ws.recv() == b"\x00bin"
        process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosedOK) as info:
            await asyncio.wait_for(ws.recv(), 10)
        assert info.value.code == 1001
        assert await asyncio.get_running_loop().run_in_executor(None, process.wait, 10) == 0
        assert "server closed" in process.stderr.read()  # type: ignore[union-attr]

    async def test_max_size_option(self, serve: Any) -> None:
        _, url = serve("--max-size", "100")
        ws = await connect(url)
        await ws.send(b"x" * 100)
        assert await ws.recv() == b"x" * 100
        await ws.send(b"x" * 101)
        with pytest.raises(ConnectionClosedError) as info:
            await asyncio.wait_for(ws.recv(), 10)
        assert info.value.code == 1009

    def test_echo_is_required(self) -> None:
        result = subprocess.run([*FASTWS, "serve"], capture_output=True, text=True, timeout=20)
        assert result.returncode == 2
        assert "only --echo is supported" in result.stderr

    def test_tls_options_go_together(self) -> None:
        result = subprocess.run(
            [*FASTWS, "serve", "--echo", "--tls-cert", "cert.pem"], capture_output=True, text=True, timeout=20
        )
        assert result.returncode == 2
        assert "--tls-cert and --tls-key go together" in result.stderr
