"""``fastws serve module:handler --workers N --redis URL``: processes on one port, one broadcast domain.

The application is the chat example (``examples/chat``): each connection
says which worker (pid) serves it, and what a member sends is published to
the room on every worker through a real redis-server that the fixture
starts. Two headless Chromium pages on two different workers exchange
messages through Redis.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fastws import ConnectionClosedOK
from fastws.asyncio import connect

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def redis_url() -> Iterator[str]:
    from redis_server import RedisServer, redis_or_skip

    server = RedisServer(redis_or_skip())
    server.start()
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture
def workers(redis_url: str) -> Iterator[tuple[subprocess.Popen[str], int, list[int]]]:
    """The chat example on 2 workers sharing Redis: (supervisor, port, worker pids)."""
    process = subprocess.Popen(
        [
            sys.executable, "-m", "fastws", "serve", "examples.chat:handler",
            "--process-request", "examples.chat:page", "--port", "0", "--workers", "2",
            "--redis", redis_url, "--close-timeout", "2",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        pids, port = [], 0
        for _ in range(2):  # one line per worker, or the process dies
            line = process.stdout.readline()
            match = re.match(r"listening on ws://127\.0\.0\.1:(\d+)/ \(worker \d, pid (\d+)\)", line)
            assert match, (line, process.stderr.read() if process.poll() is not None else "")  # type: ignore[union-attr]
            port = int(match.group(1))
            pids.append(int(match.group(2)))
        yield process, port, pids
    finally:
        if process.poll() is None:
            process.terminate()  # the workers close with 1001, the group exits
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait(10)


async def join(port: int, room: str = "lobby") -> tuple[Any, int]:
    ws = await connect(f"ws://127.0.0.1:{port}/room/{room}", ping_interval=None)
    hello = json.loads(str(await asyncio.wait_for(ws.recv(), 5)))
    assert hello["type"] == "hello" and hello["room"] == room
    return ws, int(hello["worker"])


async def on_two_workers(port: int) -> tuple[Any, Any]:
    """Two members of the lobby served by different workers (at most 20 tries each)."""
    first, first_pid = await join(port)
    for _ in range(20):
        second, second_pid = await join(port)
        if second_pid != first_pid:
            return first, second
        await second.close()
    raise AssertionError("the kernel never spread 21 connections over 2 workers")


@pytest.mark.timeout_s(60)
async def test_publish_on_one_worker_reaches_the_other(workers: Any) -> None:
    process, port, pids = workers
    assert len(set(pids)) == 2
    a, b = await on_two_workers(port)
    # Both are subscribed once Redis has both workers' subscriptions: retry
    # the first message until it crosses over (bounded).
    for attempt in range(50):
        await a.send(f"hello {attempt}")
        mine = json.loads(str(await asyncio.wait_for(a.recv(), 5)))
        assert mine["text"] == f"hello {attempt}"
        try:
            other = json.loads(str(await asyncio.wait_for(b.recv(), 0.2)))
        except asyncio.TimeoutError:
            continue
        assert other["text"] == f"hello {attempt}" and other["worker"] in pids
        break
    else:
        raise AssertionError("no message crossed workers")
    await b.send("and back")
    assert json.loads(str(await asyncio.wait_for(a.recv(), 5)))["text"] == "and back"
    # SIGTERM: every worker closes its connections with 1001, the group exits.
    process.send_signal(signal.SIGTERM)
    for ws in (a, b):
        with pytest.raises(ConnectionClosedOK) as info:
            for _ in range(10):
                await asyncio.wait_for(ws.recv(), 10)
        assert info.value.code == 1001
    assert await asyncio.get_running_loop().run_in_executor(None, process.wait, 20) == 0


@pytest.mark.timeout_s(90)
async def test_two_browser_pages_chat_through_redis(workers: Any) -> None:
    from chromium_driver import DevTools, chromium, require_chromium

    require_chromium()
    _, port, _ = workers
    url = f"http://127.0.0.1:{port}/"
    async with chromium() as browser:
        devtools = DevTools(browser)

        async def open_chat() -> tuple[str, int]:
            session = await devtools.open_page(url)
            for _ in range(200):
                worker = await devtools.evaluate(session, "window.chat.open && window.chat.worker")
                if worker:
                    return session, int(worker)
                await asyncio.sleep(0.05)
            raise AssertionError("the chat page never connected")

        first, first_worker = await open_chat()
        for _ in range(20):  # reload until the second page is on the other worker
            second, second_worker = await open_chat()
            if second_worker != first_worker:
                break
            await devtools.call("Target.closeTarget", {"targetId": (await target_of(devtools, second))})
        else:
            raise AssertionError("both pages stayed on one worker")
        sent = 0
        for attempt in range(50):
            await devtools.evaluate(
                first,
                f"document.getElementById('text').value = 'from page one {attempt}';"
                "document.getElementById('form').requestSubmit(); true",
            )
            sent += 1
            received = []
            for _ in range(20):
                received = await devtools.evaluate(second, "window.chat.received")
                if received:
                    break
                await asyncio.sleep(0.05)
            if received:
                assert received[0].startswith("from page one")
                break
        else:
            raise AssertionError("page two never received page one's message")
        shown = await devtools.evaluate(second, "document.getElementById('log').textContent")
        assert "from page one" in shown and f"via worker {first_worker}" in shown


async def target_of(devtools: Any, session: str) -> str:
    targets = await devtools.call("Target.getTargets")
    info = await devtools.call("Target.getTargetInfo", {}, session)
    target_id: str = info["targetInfo"]["targetId"]
    assert any(t["targetId"] == target_id for t in targets["targetInfos"])
    return target_id


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie that nobody reaped yet has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


async def test_workers_stop_when_the_supervisor_is_killed(workers: Any) -> None:
    # SIGKILL leaves the supervisor no chance to stop its workers: each
    # notices its parent's end by itself, closes with 1001 and exits,
    # instead of serving on, orphaned, on the port.
    process, port, pids = workers
    a, b = await on_two_workers(port)
    process.kill()
    process.wait(10)
    for ws in (a, b):
        with pytest.raises(ConnectionClosedOK) as info:
            for _ in range(10):
                await asyncio.wait_for(ws.recv(), 10)
        assert info.value.code == 1001
    for _ in range(150):  # bounded: 15 s
        if not any(_alive(pid) for pid in pids):
            break
        await asyncio.sleep(0.1)
    assert [pid for pid in pids if _alive(pid)] == []
