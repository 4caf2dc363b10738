"""``fastws connect`` against a hostile server (hostile peers, finding 6).

The command runs as a real subprocess, its standard input a pipe that stays
open (a user who has not finished typing), against a raw-socket server that
sends a crafted 101 and crafted frames. It used to abort with "Fatal Python
error: _enter_buffered_busy" (SIGABRT) when the server closed with a code
other than 1000/1001, hang after a normal close until standard input
yielded a line, and print server text raw (retitling the terminal, clearing
the screen, forging output). The last test runs it on a pseudo-terminal and
checks the terminal is left as it was found.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from conformance.wire import OP_BINARY, OP_TEXT, build_frame
from hostile.raw_peers import CONTROL, Script, close_frame, raw_server

#: How long the command may take to end once the server has closed.
BOUND = 10.0


def closing_script(*frames: bytes, wait_reply: bool = True) -> Script:
    """A server that sends ``frames`` (the last one a close), reads the reply, then closes TCP."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"".join(frames))
        await writer.drain()
        if wait_reply:
            await asyncio.wait_for(reader.read(64), BOUND)

    return script


class Outcome:
    def __init__(self, returncode: int, stdout: str, stderr: str, seconds: float) -> None:
        self.returncode, self.stdout, self.stderr, self.seconds = returncode, stdout, stderr, seconds


async def spawn(port: int, **streams: Any) -> asyncio.subprocess.Process:
    """Start ``fastws connect ws://127.0.0.1:PORT/`` with a standard input that stays open."""
    streams.setdefault("stdin", asyncio.subprocess.PIPE)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fastws", "connect", f"ws://127.0.0.1:{port}/", **streams
    )


async def connect_command(script: Script) -> Outcome:
    """Run ``fastws connect`` against ``script``, stdin a pipe left open; wait until it ends."""
    async with raw_server(script) as port:
        start = time.monotonic()
        process = await spawn(port, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert process.stdout is not None and process.stderr is not None
        try:
            stdout, stderr, returncode = await asyncio.wait_for(
                asyncio.gather(process.stdout.read(), process.stderr.read(), process.wait()), BOUND
            )
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(
                f"fastws connect did not end within {BOUND} s of the server's close"
            ) from None
        finally:
            if process.stdin is not None:
                process.stdin.close()
    return Outcome(returncode, stdout.decode(), stderr.decode(), time.monotonic() - start)


def no_crash(outcome: Outcome) -> None:
    assert outcome.returncode >= 0, f"killed by signal {-outcome.returncode}: {outcome.stderr}"
    assert "Fatal Python error" not in outcome.stderr
    assert "Traceback" not in outcome.stderr, outcome.stderr


class TestEndsByItself:
    @pytest.mark.parametrize("code", [1002, 1008, 1011, 4000])
    async def test_error_close_exits_1_without_aborting(self, code: int) -> None:
        outcome = await connect_command(
            closing_script(build_frame(OP_TEXT, b"hello"), close_frame(code, b"sorry"))
        )
        no_crash(outcome)
        assert outcome.returncode == 1
        assert outcome.stdout == "hello\n"
        assert f"connection closed: {code} sorry" in outcome.stderr

    @pytest.mark.parametrize("code", [1000, 1001])
    async def test_clean_close_exits_0_while_stdin_is_open(self, code: int) -> None:
        outcome = await connect_command(closing_script(close_frame(code, b"bye")))
        no_crash(outcome)
        assert outcome.returncode == 0
        assert f"connection closed: {code} bye" in outcome.stderr

    async def test_connection_dropped_without_close_exits_1(self) -> None:
        async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(build_frame(OP_TEXT, b"bye"))
            await writer.drain()  # then close TCP with no close frame

        outcome = await connect_command(script)
        no_crash(outcome)
        assert outcome.returncode == 1
        assert "connection closed: 1006" in outcome.stderr


class TestPeerTextIsEscaped:
    MESSAGES = (
        b"\x1b]0;owned\x07",  # set the window title
        b"\x1b[2J\x1b[H",  # clear the screen
        b"line\rfastws connect: connection closed: 1000",  # overwrite the line
        b"\xc2\x9b31mred",  # U+009B, the one-character CSI
        b"rtl \xe2\x80\xaeevil",  # U+202E RIGHT-TO-LEFT OVERRIDE
        b"two\nlines",
    )
    REASON = b"\x1b[31mforged\r\nfastws connect: all good\x00"

    async def test_messages_and_close_reason(self) -> None:
        frames = [build_frame(OP_TEXT, message) for message in self.MESSAGES]
        frames.append(build_frame(OP_BINARY, b"\x1b[2J" + bytes(100)))
        outcome = await connect_command(closing_script(*frames, close_frame(1000, self.REASON)))
        no_crash(outcome)
        assert outcome.returncode == 0
        for stream in (outcome.stdout, outcome.stderr):
            assert CONTROL.search(stream.replace("\n", "")) is None, stream
            assert "\u202e" not in stream
        assert outcome.stdout.splitlines() == [
            "\\x1b]0;owned\\x07",
            "\\x1b[2J\\x1b[H",
            "line\\rfastws connect: connection closed: 1000",
            "\\x9b31mred",
            "rtl \\u202eevil",
            "two\\nlines",
            "[binary 104 bytes] 1b5b324a" + "00" * 60 + " ...",
        ]
        assert "connection closed: 1000 \\x1b[31mforged\\r\\nfastws connect: all good\\x00" in outcome.stderr

    async def test_rejection_reason_is_escaped(self) -> None:
        # A 101 is not required to reach the command's error line: a
        # rejection's reason phrase (obs-text allowed) is printed, escaped.
        async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(0)

        async with raw_server(script, status_line=b"HTTP/1.1 403 Forbidden\x9b2J\x85forged") as port:
            process = await spawn(port, stderr=asyncio.subprocess.PIPE)
            assert process.stderr is not None
            stderr, returncode = await asyncio.wait_for(
                asyncio.gather(process.stderr.read(), process.wait()), BOUND
            )
            assert process.stdin is not None
            process.stdin.close()
        assert returncode == 1
        text = stderr.decode()
        assert CONTROL.search(text.replace("\n", "")) is None, text
        assert "HTTP 403 Forbidden\\x9b2J\\x85forged" in text


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
class TestTerminal:
    async def test_terminal_is_left_as_it_was(self) -> None:
        import fcntl
        import pty
        import termios

        frames = [
            build_frame(OP_TEXT, b"\x1b[?1049h\x1b]0;owned\x07"),  # alternate screen, title
            build_frame(OP_TEXT, b"\x1b[?25l\x1b[8m"),  # hide the cursor, hidden text
            close_frame(1000, b"\x1b[2J"),
        ]
        master, slave = pty.openpty()
        try:
            attributes = termios.tcgetattr(slave)
            flags = fcntl.fcntl(slave, fcntl.F_GETFL)
            async with raw_server(closing_script(*frames)) as port:
                process = await spawn(port, stdin=slave, stdout=slave, stderr=slave)
                output = bytearray()
                read_master = reader_of(master, output)
                loop = asyncio.get_running_loop()
                loop.add_reader(master, read_master)
                try:
                    returncode = await asyncio.wait_for(process.wait(), BOUND)
                    await asyncio.sleep(0.1)  # the last bytes on their way through the pty
                    read_master()
                finally:
                    loop.remove_reader(master)
                    if process.returncode is None:
                        process.kill()
                        await process.wait()
            assert returncode == 0, bytes(output)
            # The terminal's modes and the file flags are as they were.
            assert termios.tcgetattr(slave) == attributes
            assert fcntl.fcntl(slave, fcntl.F_GETFL) == flags
            # The terminal received no escape sequence and no bare CR (the
            # pty turns each LF into CRLF).
            text = bytes(output).replace(b"\r\n", b"\n")
            assert b"\x1b" not in text and b"\x07" not in text and b"\r" not in text, bytes(output)
            assert b"\\x1b[?1049h\\x1b]0;owned\\x07" in text
            assert b"connection closed: 1000 \\x1b[2J" in text
        finally:
            os.close(master)
            os.close(slave)


def reader_of(fd: int, into: bytearray) -> Callable[[], None]:
    """A callback that appends what ``fd`` has to ``into`` without blocking."""

    def read() -> None:
        import select

        while select.select([fd], [], [], 0)[0]:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: every slave end is closed
                return
            if not data:
                return
            into.extend(data)

    return read
