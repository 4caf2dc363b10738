"""Every example of the documentation and the README runs, with the codec twin of this pass.

Each example runs in a child process that inherits this pass's
``FASTWS_NO_EXTENSIONS`` / ``FASTWS_REQUIRE_EXTENSIONS`` and reports which
twin it imported; servers listen on free loopback ports; every process has
a time limit. ``examples.py`` says how blocks are marked.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import fastws

sys.path.insert(0, str(Path(__file__).resolve().parent))
from examples import Example, Unit, collect, units

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SOURCES = [p for p in SOURCES if "_build" not in p.parts]
TIMEOUT = 60
TWIN_TAG = "__fastws_twin__="

# Run by the child before the example: which twin it imported, on stderr.
PRELUDE = f"""\
import sys
import fastws
sys.stderr.write("{TWIN_TAG}" + fastws.implementation + "\\n")
sys.stderr.flush()
"""


def _all_units() -> list[Unit]:
    found = []
    for path in SOURCES:
        found += units(collect(path))
    return found


UNITS = _all_units()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # `fastws` and `python` in shell examples are this interpreter's.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _command(example: Example, code: str, folder: Path) -> list[str]:
    if example.shell:
        script = folder / f"example_{example.line}.sh"
        # `python` is the interpreter of this pass even where only python3 exists.
        script.write_text(f'python() {{ "{sys.executable}" "$@"; }}\nset -e\n{code}', encoding="utf-8")
        return ["bash", str(script)]
    script = folder / f"example_{example.line}.py"
    script.write_text(PRELUDE + code, encoding="utf-8")
    return [sys.executable, str(script)]


def _check_twin(example: Example, stderr: str) -> None:
    if example.shell:
        return
    twins = [line.split("=", 1)[1] for line in stderr.splitlines() if line.startswith(TWIN_TAG)]
    assert twins == [fastws.implementation], (
        f"{example.where}: the example ran {twins}, this pass is {fastws.implementation}"
    )


def _run(example: Example, code: str, folder: Path) -> None:
    result = subprocess.run(
        _command(example, code, folder),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=folder,
        env=_env(),
        check=False,
    )
    assert result.returncode == 0, (
        f"{example.where} exited with {result.returncode}\nstdout:\n{result.stdout[-3000:]}\n"
        f"stderr:\n{result.stderr[-3000:]}"
    )
    _check_twin(example, result.stderr)


@contextlib.contextmanager
def _server(example: Example, code: str, port: int, folder: Path) -> Iterator[None]:
    log = folder / "server.log"
    with open(log, "w+", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            _command(example, code, folder),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=folder,
            env=_env(),
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while True:  # bounded: until it listens, exits or 30 s pass
                assert process.poll() is None, f"{example.where} exited early:\n{log.read_text()[-3000:]}"
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                assert time.monotonic() < deadline, f"{example.where} never listened on {port}"
                time.sleep(0.05)
            yield
        finally:
            # Ctrl-C, as a user stops it; then the hard way.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        _check_twin(example, log.read_text(encoding="utf-8"))


def _requires(example: Example) -> None:
    for module in example.argument.split():
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        if not found:
            pytest.skip(f"{example.where} needs {module}, which is not importable here")


@pytest.mark.parametrize("unit", UNITS, ids=[u.id for u in UNITS])
def test_example(unit: Unit, tmp_path: Path) -> None:
    first = unit.examples[0]
    if first.marker == "skip":
        assert first.argument, f"{first.where}: a skipped example must say why"
        pytest.skip(f"listed as not run: {first.argument}")
    if first.marker == "requires":
        _requires(first)
    if first.shell:
        assert first.marker in ("run", "server"), (
            f"{first.where}: a shell example must be marked run, server or skip (with its reason)"
        )
    if first.marker != "server":
        _run(first, first.code, tmp_path)
        return
    port = str(_free_port())
    with _server(first, first.code.replace(first.argument, port), int(port), tmp_path):
        for client in unit.examples[1:]:
            _run(client, client.code.replace(first.argument, port), tmp_path)


def test_every_example_is_collected() -> None:
    # The pages with examples are all there, and a parse error loses none.
    names = {u.examples[0].path.name for u in UNITS}
    assert {"README.md", "echo.md", "browser.md", "chat.md", "sansio.md"} <= names
    assert len(UNITS) >= 30


def test_markers_are_checked(tmp_path: Path) -> None:
    # An unknown marker, an orphan client and a server without clients are errors.
    page = tmp_path / "page.md"
    for text, message in (
        ("<!-- example: sometimes -->\n```python\npass\n```\n", "unknown marker"),
        ("<!-- example: client -->\n```python\npass\n```\n", "no server block"),
        ("<!-- example: server 8765 -->\n```python\npass\n```\n", "no client block"),
        (
            "<!-- example: server -->\n```python\npass\n```\n<!-- example: client -->\n```sh\ntrue\n```\n",
            "port",
        ),
    ):
        page.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            units(collect(page))


def test_an_unmarked_shell_block_fails(tmp_path: Path) -> None:
    # A shell example nobody runs must be listed (skip, with its reason).
    page = tmp_path / "page.md"
    page.write_text("```sh\necho hello\n```\n", encoding="utf-8")
    (unit,) = units(collect(page))
    with pytest.raises(AssertionError, match="must be marked"):
        test_example(unit, tmp_path)


def test_a_failing_example_fails(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```python\nimport sys\nsys.exit(3)\n```\n", encoding="utf-8")
    (unit,) = units(collect(page))
    with pytest.raises(AssertionError, match="exited with 3"):
        test_example(unit, tmp_path)


def test_a_server_example_serves_its_client(tmp_path: Path) -> None:
    # The port of the page is replaced by a free one in the server and its client.
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- example: server 8765 -->\n```sh\nfastws serve --echo --port 8765\n```\n"
        "<!-- example: client -->\n```python\nfrom fastws.sync import connect\n\n"
        'with connect("ws://127.0.0.1:8765/") as ws:\n    ws.send("x")\n    assert ws.recv(timeout=10) == "x"\n```\n',
        encoding="utf-8",
    )
    (unit,) = units(collect(page))
    assert [e.marker for e in unit.examples] == ["server", "client"]
    test_example(unit, tmp_path)
