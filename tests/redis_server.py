"""A real Redis server for the tests: ``redis-server`` on a free loopback port.

Started by the tests themselves (the Debian package ``redis-server``, which
``scripts/setup.sh`` installs), never a mock. The server keeps nothing on
disk and can be stopped and started again on the same port, for the tests
of a lost link.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

__all__ = ["RedisServer", "redis_or_skip"]


def redis_or_skip() -> str:
    """The redis-server executable; skip (or fail, in CI) when it is missing."""
    path = shutil.which("redis-server")
    if path is None:
        if os.environ.get("FASTWS_REQUIRE_REDIS"):
            pytest.fail("redis-server is required (FASTWS_REQUIRE_REDIS) but not installed")
        pytest.skip("redis-server is not installed (scripts/setup.sh installs it)")
    pytest.importorskip("redis")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process on 127.0.0.1."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="fastws-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", self.dir, "--protected-mode", "no", "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start within 10 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
