"""uvicorn's own WebSocket tests, run on fastws's class.

``scripts/peer_suites.sh`` copies this file to ``tests/protocols/conftest.py``
in uvicorn's sdist: a conftest there overrides the ``ws_protocol_cls``
fixture of uvicorn's ``tests/conftest.py`` for ``tests/protocols/``, so
every test of ``test_websocket.py`` that takes the fixture runs on
:class:`fastws.integrations.uvicorn.WebSocketProtocol`, crossed with
uvicorn's HTTP protocol classes (httptools, h11), as its own classes are.

Tests that name uvicorn's own classes, or assert a design choice of theirs
that fastws's class does differently, are listed in :data:`SKIPPED` with the
reason, and skipped. Two tests name uvicorn's websockets-sansio class
instead of taking the fixture (:data:`HARD_CODED`): the name is pointed at
fastws's class while they run.

Environment: ``FASTWS_PEER_MARKER``, a file to write at the end, as JSON
(the format of ``fastws_peer_plugin``): whether fastws's class was in use,
and how many connections it served (``calls``). The script fails a suite
that never reached fastws.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

import fastws
from fastws.integrations import uvicorn as fastws_uvicorn

#: Tests that cannot run on a class other than uvicorn's, and why.
SKIPPED: dict[str, str] = {
    "test_server_keepalive_ping_pong": (
        "asserts isinstance(protocol, (WSProtocol, WebSocketsSansIOProtocol)) and polls their "
        "ping_sent_at attribute; fastws's keepalive is covered by tests/integrations/test_uvicorn.py"
    ),
    "test_server_keepalive_disabled": (
        "asserts isinstance(protocol, (WSProtocol, WebSocketsSansIOProtocol)) before reading ping_timer"
    ),
    "test_close_resumes_reads_paused_on_an_unconsumed_message": (
        "asserts that reading pauses as soon as one message waits for the application, as uvicorn's "
        "classes do; fastws pauses at its limits (ws_max_queue messages, max_queue_bytes), and "
        "tests/integrations/test_uvicorn.py checks that a close resumes reading paused there"
    ),
}

_served = {"connections": 0}
_original_init = fastws_uvicorn.WebSocketProtocol.__init__


def _counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _served["connections"] += 1
    _original_init(self, *args, **kwargs)


fastws_uvicorn.WebSocketProtocol.__init__ = _counting_init  # type: ignore[method-assign]


#: Tests that build their server with uvicorn's websockets-sansio class by
#: name instead of the fixture; they run on fastws's class too (the name is
#: pointed at it for them).
HARD_CODED = (
    "test_unparseable_upgrade_closes_connection",
    "test_send_binary_data_to_server_bigger_than_default",
)


@pytest.fixture(params=[pytest.param(fastws_uvicorn.WebSocketProtocol, id="fastws")])
def ws_protocol_cls(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture(autouse=True)
def _fastws_for_hard_coded_class(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.name.startswith(HARD_CODED) and hasattr(request.module, "WebSocketsSansIOProtocol"):
        monkeypatch.setattr(request.module, "WebSocketsSansIOProtocol", fastws_uvicorn.WebSocketProtocol)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        name = getattr(item, "originalname", item.name)
        if name in SKIPPED:
            item.add_marker(pytest.mark.skip(reason=f"not for fastws's class: {SKIPPED[name]}"))


def pytest_unconfigure(config: Any) -> None:
    marker = os.environ.get("FASTWS_PEER_MARKER")
    if marker:
        data = {
            "adapter": "uvicorn",
            "library_version": fastws_uvicorn.check_version(),
            "installed": True,
            "calls": _served["connections"],
            "codec": fastws.implementation,
        }
        with open(marker, "w", encoding="utf-8") as f:
            json.dump(data, f)
