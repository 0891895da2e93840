"""Who leads, as a pure state machine: events in, the next state and what to do out.

The election itself (etcd calls, timers, a watch on the leader key) is `election.py`; this
module decides. One server's view:

- a follower campaigns (puts the leader key with its lease, if the key is absent) when it
  starts, when the key is deleted, and on each tick; it learns who leads from the key;
- a leader renews its lease every third of the TTL. A renewal etcd refuses (the lease is
  gone) steps it down at once; renewals that fail to reach etcd step it down when the
  lease may have run out (the TTL after the last renewal that was *sent* before etcd
  confirmed it), since from then on another server may lead, and gives that lease up;
- the leader key's create revision is the leader's fence: every write of the leader
  compares it in its Txn, so a leader that lost the key cannot write even before it knows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from enum import StrEnum

FOLLOWER = "follower"
LEADER = "leader"


class Do(StrEnum):
    """What the election does after a step."""

    LEAD = "lead"  # start the leader's work (broker, timers, GC)
    STEP_DOWN = "step-down"  # stop it
    CAMPAIGN = "campaign"  # try to take the leader key
    NEW_LEASE = "new-lease"  # our lease is gone: grant another, register again


@dataclass(frozen=True)
class Member:
    """A server as the leader key and the member keys hold it."""

    name: str
    address: str  # the advertised HTTP address, "http://10.0.0.1:4646"
    rpc: str = ""  # what /v1/status/leader shows ("10.0.0.1:4647"); the address's host:port

    def encode(self) -> bytes:
        return json.dumps({"Name": self.name, "Address": self.address, "RPC": self.rpc}).encode()

    @classmethod
    def decode(cls, data: bytes) -> Member | None:
        try:
            got = json.loads(data)
            return cls(str(got["Name"]), str(got["Address"]), str(got.get("RPC", "")))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class State:
    role: str = FOLLOWER
    leader: Member | None = None  # who leads, as last seen (None: nobody)
    fence: int = 0  # the leader key's create revision while we lead
    expires: float = 0.0  # (monotonic) when our lease may have run out, while we lead


# --- events ---


@dataclass(frozen=True)
class Won:
    """Our campaign put the leader key at `revision`; `sent` is when the lease was last
    renewed or granted (monotonic) and `ttl` its TTL."""

    me: Member
    revision: int
    sent: float
    ttl: float


@dataclass(frozen=True)
class Seen:
    """The leader key holds `leader` (created at `revision`), or is absent (None)."""

    leader: Member | None
    revision: int = 0


@dataclass(frozen=True)
class Renewed:
    """etcd renewed our lease; the renewal was sent at `sent`."""

    sent: float
    ttl: float


@dataclass(frozen=True)
class LeaseGone:
    """etcd answered that our lease does not exist (it expired, or was revoked)."""


@dataclass(frozen=True)
class Unreachable:
    """A call to etcd failed at `now`: we do not know whether our lease lives."""

    now: float


Event = Won | Seen | Renewed | LeaseGone | Unreachable


def step(state: State, event: Event) -> tuple[State, tuple[Do, ...]]:
    """The state after `event` and what to do, in order."""
    leading = state.role == LEADER
    if isinstance(event, Won):
        new = State(LEADER, event.me, event.revision, event.sent + event.ttl)
        return new, () if leading else (Do.LEAD,)
    if isinstance(event, Seen):
        if leading and (event.leader is None or event.revision != state.fence):
            # the key is gone or someone else's: ours is lost whatever our lease says
            return State(FOLLOWER, event.leader), (Do.STEP_DOWN, Do.CAMPAIGN)
        if leading:
            return state, ()
        new = replace(state, leader=event.leader)
        return new, () if event.leader is not None else (Do.CAMPAIGN,)
    if isinstance(event, Renewed):
        if not leading:
            return state, ()
        return replace(state, expires=max(state.expires, event.sent + event.ttl)), ()
    if isinstance(event, LeaseGone):
        if leading:
            return State(FOLLOWER), (Do.STEP_DOWN, Do.NEW_LEASE, Do.CAMPAIGN)
        return replace(state, leader=None), (Do.NEW_LEASE, Do.CAMPAIGN)
    # Unreachable: a leader keeps leading until its lease may have expired. It then drops
    # the lease too: if etcd kept it alive after all (an etcd leader change renews every
    # lease), the leader key on it would name a server that no longer leads, and nobody
    # would campaign while it lives; the new lease revokes it (`election.py`).
    if leading and event.now >= state.expires:
        return State(FOLLOWER), (Do.STEP_DOWN, Do.NEW_LEASE)
    return state, ()
