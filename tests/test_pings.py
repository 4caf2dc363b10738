"""fastws.pings: the pings waiting for their pong, shared by the asyncio and threading layers."""

from __future__ import annotations

from fastws.pings import PingTracker


def test_a_pong_acknowledges_its_ping_and_the_earlier_ones() -> None:
    pings: PingTracker[str] = PingTracker()
    pings.sent(b"1", "first", 1.0, "h1")
    pings.sent(b"2", None, 2.0, 12.0)
    pings.sent(b"3", "third", 3.0)
    assert len(pings) == 3 and b"2" in pings
    assert pings.pong(b"2", 2.5) == [("first", 1.5, "h1"), (None, 0.5, 12.0)]
    assert pings.latency == 0.5
    assert b"1" not in pings and b"3" in pings
    assert pings.handles() == [None]


def test_unsolicited_pong_is_ignored() -> None:
    pings: PingTracker[str] = PingTracker()
    pings.sent(b"a", "w", 1.0)
    assert pings.pong(b"other", 2.0) == []
    assert pings.latency == 0.0 and len(pings) == 1


def test_pop_and_clear() -> None:
    pings: PingTracker[str] = PingTracker()
    pings.sent(b"a", "w", 1.0, "timer")
    pings.sent(b"b", "v", 2.0)
    assert pings.pop(b"a") == ("w", 1.0, "timer")
    assert pings.pop(b"a") is None
    assert pings.clear() == [("v", 2.0, None)]
    assert len(pings) == 0


def test_fresh_payloads_are_unique() -> None:
    pings: PingTracker[None] = PingTracker()
    for _ in range(200):
        payload = pings.fresh_payload()
        assert len(payload) == 4 and payload not in pings
        pings.sent(payload, None, 0.0)
    assert len(pings) == 200
