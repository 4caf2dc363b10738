"""The adapter machinery: version ranges, idempotence, thread safety, undo, the entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import warnings

import pytest

import fastws.integrations as integrations
from fastws.integrations import ADAPTERS, UnsupportedVersion, adapter
from fastws.integrations._common import parse_version

pytest.importorskip("websockets")
pytest.importorskip("wsproto")


@pytest.fixture(autouse=True)
def _clean() -> object:
    integrations.uninstall_all()
    yield
    integrations.uninstall_all()


class TestParseVersion:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [("17.4", (17, 4)), ("3.14.5", (3, 14, 5)), ("1.3.0rc1", (1, 3, 0)), ("v6.0", (6, 0)), ("13", (13,))],
    )
    def test_release(self, text: str, expected: tuple[int, ...]) -> None:
        assert parse_version(text) == expected

    def test_not_a_version(self) -> None:
        with pytest.raises(ValueError, match="cannot read a version"):
            parse_version("dev")


class TestVersionRange:
    @pytest.mark.parametrize("name", ADAPTERS)
    @pytest.mark.parametrize("version", ["0.1", "99.0"])
    def test_refuses_outside_range(self, monkeypatch: pytest.MonkeyPatch, name: str, version: str) -> None:
        one = adapter(name)
        pytest.importorskip(one.library)
        monkeypatch.setattr(one, "version", lambda: version)
        with pytest.raises(
            UnsupportedVersion, match=rf"supports {one.distribution}>=.*but .* {version} is installed"
        ):
            one.install()
        assert not one.installed()
        assert one.patched() == []
        assert not one.available()

    @pytest.mark.parametrize("name", ADAPTERS)
    def test_unknown_version_refused(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        one = adapter(name)
        pytest.importorskip(one.library)
        monkeypatch.setattr(one, "version", lambda: None)
        with pytest.raises(UnsupportedVersion, match="cannot tell which version"):
            one.install()

    def test_install_all_warns_and_skips(self, monkeypatch: pytest.MonkeyPatch) -> None:
        one = adapter("wsproto")
        monkeypatch.setattr(one, "version", lambda: "9.0")
        with pytest.warns(RuntimeWarning, match="wsproto 9.0 is installed"):
            done = integrations.install_all(["wsproto", "websockets"], force=True)
        assert done == ["websockets"]
        with pytest.raises(UnsupportedVersion):
            integrations.install_all(["wsproto"], strict=True, force=True)

    def test_unknown_adapter(self) -> None:
        with pytest.raises(ValueError, match="unknown adapter 'ws4py'"):
            integrations.install_all(["ws4py"], force=True)


class TestInstallUninstall:
    def test_idempotent_and_restores(self) -> None:
        import wsproto.frame_protocol as fp

        original = fp.XorMaskerSimple
        one = adapter("wsproto")
        one.install()
        one.install()
        assert one.installed()
        assert fp.XorMaskerSimple is not original
        assert one.patched() == [("wsproto.frame_protocol", "XorMaskerSimple")]
        one.uninstall()
        one.uninstall()
        assert not one.installed()
        assert fp.XorMaskerSimple is original
        assert one.patched() == []

    def test_foreign_patch_left_alone(self) -> None:
        import wsproto.frame_protocol as fp

        original = fp.XorMaskerSimple
        one = adapter("wsproto")
        one.install()

        class Theirs:
            pass

        fp.XorMaskerSimple = Theirs
        try:
            one.uninstall()
            assert fp.XorMaskerSimple is Theirs
        finally:
            fp.XorMaskerSimple = original

    def test_threads_install_once(self) -> None:
        import websockets.frames as frames

        original = frames.apply_mask
        one = adapter("websockets")
        barrier = threading.Barrier(8)

        def go() -> None:
            barrier.wait(timeout=10)
            one.install()

        threads = [threading.Thread(target=go) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        assert one.installed()
        # Each attribute patched exactly once, so one uninstall restores all.
        names = one.patched()
        assert len(names) == len(set(names))
        one.uninstall()
        assert frames.apply_mask is original

    def test_late_consumer_restored(self) -> None:
        # A module that copies the name while the adapter is installed gets
        # the original back on uninstall (websockets.legacy.framing's case).
        import types

        import websockets.frames as frames

        original = frames.apply_mask
        one = adapter("websockets")
        one.install()
        late = types.ModuleType("websockets.legacy.framing")
        sys.modules.setdefault("websockets.legacy.framing", late)
        module = sys.modules["websockets.legacy.framing"]
        saved = getattr(module, "apply_mask", None)
        try:
            module.apply_mask = frames.apply_mask  # as `from ..speedups import apply_mask` would
            one.uninstall()
            assert module.apply_mask is original
        finally:
            if module is late:
                del sys.modules["websockets.legacy.framing"]
            elif saved is not None:
                module.apply_mask = saved


class TestEntryPoints:
    def test_available_and_status(self) -> None:
        names = integrations.available()
        assert "websockets" in names and "wsproto" in names
        rows = {row["name"]: row for row in integrations.status()}
        assert set(rows) == set(ADAPTERS)
        assert rows["wsproto"]["available"] and not rows["wsproto"]["installed"]
        integrations.install_all(["wsproto"], force=True)
        rows = {row["name"]: row for row in integrations.status()}
        assert rows["wsproto"]["installed"]
        assert rows["wsproto"]["patched"] == ["wsproto.frame_protocol.XorMaskerSimple"]

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("", list(ADAPTERS)),
            ("all", list(ADAPTERS)),
            ("none", []),
            (" wsproto , websockets ", ["wsproto", "websockets"]),
        ],
    )
    def test_environment(self, monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]) -> None:
        monkeypatch.setenv("FASTWS_INTEGRATIONS", value)
        assert integrations._chosen_by_environment() == expected

    def _env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("FASTWS_INTEGRATIONS", None)
        env.pop("FASTWS_INTEGRATIONS_FORCE", None)
        env.update(extra)
        return env

    def test_auto_import(self) -> None:
        code = (
            "import fastws.integrations.auto as a, wsproto.frame_protocol as fp;"
            "print(a.INSTALLED, fp.XorMaskerSimple.__module__)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=self._env(FASTWS_INTEGRATIONS="wsproto", FASTWS_INTEGRATIONS_FORCE="1"),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert out.strip() == "['wsproto'] fastws.integrations.wsproto"

    def test_cli_run(self) -> None:
        code = (
            "import wsproto.frame_protocol as fp, websockets.frames as f;"
            "print(fp.XorMaskerSimple.__module__, str(f.apply_mask.__module__).startswith('fastws'))"
        )
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "fastws.integrations",
                "run",
                "--only",
                "wsproto",
                "--verbose",
                "--force",
                "--",
                sys.executable,
                "-c",
                code,
            ],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        # Only wsproto: websockets keeps its own apply_mask.
        assert proc.stdout.split() == ["fastws.integrations.wsproto", "False"]
        assert "installed wsproto" in proc.stderr

    def test_cli_run_exit_status(self) -> None:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "fastws.integrations",
                "run",
                "--",
                sys.executable,
                "-c",
                "raise SystemExit(3)",
            ],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 3

    def test_cli_status_json(self) -> None:
        out = subprocess.run(
            [sys.executable, "-m", "fastws.integrations", "status", "--json"],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        rows = json.loads(out)
        assert [row["name"] for row in rows] == list(ADAPTERS)
        assert all(not row["installed"] for row in rows)

    def test_cli_unknown_adapter(self) -> None:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "fastws.integrations",
                "run",
                "--only",
                "nope",
                "--",
                sys.executable,
                "-c",
                "0",
            ],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2
        assert "unknown adapter(s): nope" in proc.stderr


def test_no_warning_when_forced() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        integrations.install_all(force=True)


class TestPureTwin:
    """With the pure-Python codec, the automatic entry points install nothing."""

    def test_install_all_declines(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(integrations.codec, "IMPLEMENTATION", "python")
        with pytest.warns(RuntimeWarning, match="pure-Python codec"):
            assert integrations.install_all() == []
        assert not any(adapter(name).installed() for name in ADAPTERS)
        assert integrations.install_all(["wsproto"], force=True) == ["wsproto"]

    def test_environment_force(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(integrations.codec, "IMPLEMENTATION", "python")
        monkeypatch.setenv("FASTWS_INTEGRATIONS", "wsproto")
        monkeypatch.setenv("FASTWS_INTEGRATIONS_FORCE", "1")
        assert integrations.install_from_environment() == ["wsproto"]

    def test_compiled_installs(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(integrations.codec, "IMPLEMENTATION", "cython")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert integrations.install_all(["wsproto"]) == ["wsproto"]
