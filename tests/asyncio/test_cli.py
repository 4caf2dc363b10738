"""``fastws serve --echo`` and ``fastws connect URL``, run as real processes."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from fastws import ConnectionClosedOK
from fastws.asyncio import connect
from fastws.asyncio.cli import SUBCOMMANDS, add_subcommands

__all__: list[str] = []

CLI = [sys.executable, "-m", "fastws.asyncio.cli"]


def start_server(*options: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [*CLI, "serve", "--echo", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # bounded: the process prints it or dies
    match = re.match(r"listening on (wss?://\S+)", line)
    if match is None:
        process.kill()
        raise AssertionError(f"unexpected first line: {line!r} {process.stderr.read()!r}")  # type: ignore[union-attr]
    return process, match.group(1)


@pytest.fixture
def echo_server() -> Iterator[str]:
    process, url = start_server()
    try:
        yield url
    finally:
        process.kill()
        process.wait(10)


class TestConnectCommand:
    def test_piped_lines_are_echoed(self, echo_server: str) -> None:
        result = subprocess.run(
            [*CLI, "connect", echo_server, "--linger", "0.3"],
            input="hello\nwörld\n\n",
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == "hello\nwörld\n\n"
        assert "connection closed: 1000" in result.stderr

    def test_refused_connection_fails(self) -> None:
        result = subprocess.run(
            [*CLI, "connect", "ws://127.0.0.1:9/"], input="", capture_output=True, text=True, timeout=20
        )
        assert result.returncode == 1
        assert "fastws connect:" in result.stderr

    def test_bad_header_option(self, echo_server: str) -> None:
        result = subprocess.run(
            [*CLI, "connect", echo_server, "--header", "no-colon"],
            input="",
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert result.returncode == 2


class TestServeCommand:
    async def test_echo_and_sigterm_closes_with_1001(self) -> None:
        process, url = start_server("--max-size", "100")
        try:
            ws = await connect(url)
            await ws.send(b"\x00bin")
            assert await ws.recv() == b"\x00bin"
            process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosedOK) as info:
                await asyncio.wait_for(ws.recv(), 10)
            assert info.value.code == 1001
            assert await asyncio.get_running_loop().run_in_executor(None, process.wait, 10) == 0
        finally:
            process.kill()
            process.wait(10)

    async def test_max_size_option(self) -> None:
        process, url = start_server("--max-size", "100")
        try:
            ws = await connect(url)
            await ws.send(b"x" * 101)
            with pytest.raises(Exception) as info:
                await asyncio.wait_for(ws.recv(), 10)
            assert getattr(info.value, "code", None) == 1009
        finally:
            process.kill()
            process.wait(10)

    def test_echo_is_required(self) -> None:
        result = subprocess.run([*CLI, "serve"], capture_output=True, text=True, timeout=20)
        assert result.returncode == 2


class TestRegistration:
    def test_subcommands_shape(self) -> None:
        assert set(SUBCOMMANDS) == {"serve", "connect"}
        for help_text, configure, runner in SUBCOMMANDS.values():
            assert help_text and callable(configure)
            assert runner.startswith("fastws.asyncio.cli:run_")

    def test_add_subcommands(self) -> None:
        parser = argparse.ArgumentParser()
        add_subcommands(parser.add_subparsers(dest="command"))
        args: Any = parser.parse_args(["serve", "--echo", "--port", "0", "--tls-cert", "c", "--tls-key", "k"])
        assert (args.echo, args.port, args.tls_cert, args.tls_key) == (True, 0, "c", "k")
        args = parser.parse_args(["connect", "ws://x/", "--subprotocol", "a", "--subprotocol", "b"])
        assert args.subprotocol == ["a", "b"] and callable(args.func)

    def test_cli_module_does_not_import_asyncio(self) -> None:
        code = "import sys, fastws.asyncio.cli; print('asyncio' in sys.modules)"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
        assert result.stdout.strip() == "False", result.stderr
