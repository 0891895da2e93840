"""The leader state machine, by table: (state, event) -> (state, actions)."""

from __future__ import annotations

import pytest

from yurt.cluster.leader import (
    FOLLOWER,
    LEADER,
    Do,
    Event,
    LeaseGone,
    Member,
    Renewed,
    Seen,
    State,
    Unreachable,
    Won,
    step,
)

ME = Member("a", "http://127.0.0.1:4646", "127.0.0.1:4647")
OTHER = Member("b", "http://127.0.0.1:5646", "127.0.0.1:5647")
LEADING = State(LEADER, ME, fence=7, expires=13.0)
FOLLOWING = State(FOLLOWER, OTHER)

CASES: list[tuple[str, State, Event, State, tuple[Do, ...]]] = [
    ("a won campaign leads", State(), Won(ME, 7, 10.0, 3.0), LEADING, (Do.LEAD,)),
    (
        "winning again while leading moves the fence, nothing restarts",
        LEADING,
        Won(ME, 9, 11.0, 3.0),
        State(LEADER, ME, 9, 14.0),
        (),
    ),
    ("a follower learns the leader", State(), Seen(OTHER, 5), FOLLOWING, ()),
    ("an absent key: campaign", FOLLOWING, Seen(None), State(FOLLOWER, None), (Do.CAMPAIGN,)),
    ("our own key seen: nothing", LEADING, Seen(ME, 7), LEADING, ()),
    (
        "the key taken by another: step down at once",
        LEADING,
        Seen(OTHER, 8),
        State(FOLLOWER, OTHER),
        (Do.STEP_DOWN, Do.CAMPAIGN),
    ),
    (
        "the key deleted under the leader: step down",
        LEADING,
        Seen(None),
        State(FOLLOWER),
        (Do.STEP_DOWN, Do.CAMPAIGN),
    ),
    ("a renewal extends the lead", LEADING, Renewed(12.0, 3.0), State(LEADER, ME, 7, 15.0), ()),
    ("a late renewal never shortens it", LEADING, Renewed(9.0, 3.0), LEADING, ()),
    ("a follower's renewal changes nothing", FOLLOWING, Renewed(12.0, 3.0), FOLLOWING, ()),
    (
        "a lost lease steps down at once",
        LEADING,
        LeaseGone(),
        State(),
        (Do.STEP_DOWN, Do.NEW_LEASE, Do.CAMPAIGN),
    ),
    (
        "a follower's lost lease: a new one",
        FOLLOWING,
        LeaseGone(),
        State(),
        (Do.NEW_LEASE, Do.CAMPAIGN),
    ),
    ("etcd unreachable, lease still valid: keep leading", LEADING, Unreachable(12.9), LEADING, ()),
    (
        "etcd unreachable past the lease: step down, give the lease up",
        LEADING,
        Unreachable(13.0),
        State(),
        (Do.STEP_DOWN, Do.NEW_LEASE),
    ),
    ("a follower cut off stays a follower", FOLLOWING, Unreachable(99.0), FOLLOWING, ()),
]


@pytest.mark.parametrize(
    ("state", "event", "want", "actions"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_step(state: State, event: Event, want: State, actions: tuple[Do, ...]) -> None:
    assert step(state, event) == (want, actions)


@pytest.mark.parametrize(
    ("data", "want"),
    [
        (ME.encode(), ME),
        (b'{"Name": "x", "Address": "http://h:1"}', Member("x", "http://h:1")),
        (b"not json", None),
        (b'{"Name": "x"}', None),
        (b"[1]", None),
    ],
)
def test_member_codec(data: bytes, want: Member | None) -> None:
    assert Member.decode(data) == want
