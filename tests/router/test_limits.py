"""The proxy's limits as tables: which timeout a connection has run out of, the sweeper's
pace, the per-client connection count."""

from __future__ import annotations

import pytest

from yurt.router.limits import (
    BUSY,
    HEAD,
    IDLE,
    TUNNEL,
    ClientCounter,
    Timeouts,
    expired,
)

T = Timeouts(header=10, read=30, write=20, idle=60)


@pytest.mark.parametrize(
    ("t", "phase", "since", "request_since", "done", "now", "want"),
    [
        (T, HEAD, 0, 0, False, 9, ""),
        (T, HEAD, 0, 0, False, 11, "header"),
        (Timeouts(header=0, read=30, idle=0), HEAD, 0, 0, False, 31, "read"),
        (Timeouts(header=0, read=0, idle=0), HEAD, 0, 0, False, 1e9, ""),
        (T, BUSY, 0, 0, False, 19, ""),
        (T, BUSY, 0, 0, False, 21, "write"),
        (Timeouts(read=30, write=0), BUSY, 0, 0, False, 31, "read"),
        (Timeouts(read=30, write=0), BUSY, 0, 0, True, 31, ""),  # body all read
        (Timeouts(read=0, write=0), BUSY, 0, 0, False, 1e9, ""),  # Fabio's default
        (T, IDLE, 0, 0, True, 59, ""),
        (T, IDLE, 0, 0, True, 61, "idle"),
        (Timeouts(idle=0), IDLE, 0, 0, True, 1e9, ""),
        (T, TUNNEL, 0, 0, True, 1e9, ""),
    ],
)
def test_expired(
    t: Timeouts,
    phase: int,
    since: float,
    request_since: float,
    done: bool,
    now: float,
    want: str,
) -> None:
    assert expired(t, phase, since, request_since, done, now) == want


@pytest.mark.parametrize(
    ("t", "want"),
    [
        (Timeouts(header=0, read=0, write=0, idle=0), Timeouts(0, 0, 0, 0)),
        (Timeouts(header=0, read=5, write=0, idle=0), Timeouts(5, 5, 0, 5)),  # Go's fallbacks
        (Timeouts(header=2, read=5, write=7, idle=9), Timeouts(2, 5, 7, 9)),
    ],
)
def test_effective_takes_go_fallbacks(t: Timeouts, want: Timeouts) -> None:
    assert t.effective() == want


@pytest.mark.parametrize(
    ("t", "tick"),
    [
        (Timeouts(0, 0, 0, 0), 0.0),
        (Timeouts(header=10, idle=60), 1.0),
        (Timeouts(header=2, idle=60), 0.5),
        (Timeouts(header=0.1, idle=0), 0.05),
    ],
)
def test_tick(t: Timeouts, tick: float) -> None:
    assert t.tick() == tick


def test_client_counter_caps_each_address() -> None:
    c = ClientCounter(2)
    assert [c.admit("a"), c.admit("a"), c.admit("a"), c.admit("b")] == [True, True, False, True]
    c.release("a")
    assert c.admit("a") is True
    for _ in range(3):
        c.release("a")
    c.release("b")
    assert c.counts == {}


def test_client_counter_without_limit_counts_only() -> None:
    c = ClientCounter(0)
    assert all(c.admit("a") for _ in range(1000))
    assert c.counts == {"a": 1000}


@pytest.mark.parametrize(
    ("t", "want"),
    [
        (Timeouts(header=10, read=0, write=0), 10),
        (Timeouts(header=10, read=5, write=0), 5),
        (Timeouts(header=10, read=0, write=3), 3),
        (Timeouts(header=0, read=0, write=0), None),  # the event loop's own (60 s)
    ],
)
def test_tls_handshake_takes_the_shortest_as_go(t: Timeouts, want: float | None) -> None:
    assert t.handshake() == want
