"""``fastws connect URL`` against ``fastws serve --echo``, both real processes.

What a hostile server can do to the command (control characters, aborts,
hangs) is tested in ``tests/hostile/test_connect_command.py``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from fastws.cli.connect import BINARY_PREVIEW, render


def connect_command(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``fastws connect ARGS`` with ``stdin`` as its whole input."""
    return subprocess.run(
        [sys.executable, "-m", "fastws", "connect", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=20,
    )


class TestConnectCommand:
    def test_piped_lines_are_echoed(self, echo_server: str) -> None:
        result = connect_command(
            echo_server, "--linger", "0.3", stdin="hello\nwörld\n\nlast line without a newline"
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == "hello\nwörld\n\nlast line without a newline\n"
        assert f"connected to {echo_server}" in result.stderr
        assert "connection closed: 1000" in result.stderr

    def test_refused_connection_fails(self) -> None:
        result = connect_command("ws://127.0.0.1:9/")
        assert result.returncode == 1
        assert "fastws connect:" in result.stderr

    def test_bad_header_option(self, echo_server: str) -> None:
        result = connect_command(echo_server, "--header", "no-colon")
        assert result.returncode == 2
        assert "--header needs NAME:VALUE, got 'no-colon'" in result.stderr


class TestRender:
    def test_plain_text_is_unchanged(self) -> None:
        assert render('déjà vu: {"a": "b\\\\c"}') == 'déjà vu: {"a": "b\\\\c"}'

    @pytest.mark.parametrize(
        ("text", "shown"),
        [
            ("a\r\nb", "a\\r\\nb"),
            ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),
            ("\x00", "\\x00"),
            ("\x9b2J", "\\x9b2J"),
            ("abc\u202edef", "abc\\u202edef"),
        ],
    )
    def test_control_characters_are_escaped(self, text: str, shown: str) -> None:
        assert render(text) == shown

    def test_binary_shows_its_length_and_first_bytes(self) -> None:
        assert render(b"\x00\x1b[2J") == "[binary 5 bytes] 001b5b324a"
        long = bytes(range(200))
        assert render(long) == f"[binary 200 bytes] {long[:BINARY_PREVIEW].hex()} ..."
