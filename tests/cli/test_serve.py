"""``fastws serve --echo``, run as a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fastws import ConnectionClosedError, ConnectionClosedOK
from fastws.asyncio import connect

FASTWS = [sys.executable, "-m", "fastws"]
ROOT = Path(__file__).resolve().parents[2]


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

    @pytest.mark.parametrize(
        ("arguments", "error"),
        [
            ((), "give module:handler (async def handler(ws), or a plain function) or --echo"),
            (("--echo", "examples.chat:handler"), "either --echo or module:handler"),
            (("no_such_module:handler",), "cannot load no_such_module:handler"),
            (("examples.chat:PAGE",), "examples.chat:PAGE is not a function"),
            (("examples.chat",), "expected module:function"),
            (("--echo", "--workers", "0"), "--workers must be at least 1"),
        ],
    )
    def test_what_to_serve(self, arguments: tuple[str, ...], error: str) -> None:
        result = subprocess.run(
            [*FASTWS, "serve", *arguments], capture_output=True, text=True, timeout=20, cwd=ROOT
        )
        assert result.returncode == 2
        assert error in result.stderr

    async def test_a_plain_function_handler(self, tmp_path: Path) -> None:
        # Loaded from the current folder, as uvicorn loads module:app.
        (tmp_path / "plain_app.py").write_text(
            "def handler(ws):\n    ws.on_message = lambda message: ws.send_nowait(message.upper())\n"
        )
        process = subprocess.Popen(
            [*FASTWS, "serve", "plain_app:handler", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()  # bounded: the process prints it or dies
            assert line.startswith("listening on ws://"), (line, process.stderr.read())  # type: ignore[union-attr]
            async with connect(line.split()[2]) as ws:
                await ws.send("shout")
                assert await asyncio.wait_for(ws.recv(), 10) == "SHOUT"
        finally:
            process.terminate()
            assert process.wait(10) == 0

    def test_tls_options_go_together(self) -> None:
        result = subprocess.run(
            [*FASTWS, "serve", "--echo", "--tls-cert", "cert.pem"], capture_output=True, text=True, timeout=20
        )
        assert result.returncode == 2
        assert "--tls-cert and --tls-key go together" in result.stderr
