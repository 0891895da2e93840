"""Consul's user events (`consul event`): the agent's bounded buffer of the events it has
received, the filters an event carries, and the index a list of them answers with.

Pure: no I/O. Consul gossips an event to every agent, and each agent keeps it only when its
node name matches the event's node filter and, with a service filter, one of its local
services (and, with a tag filter, one of that service's tags) matches too. yurt's catalog is
the only agent, so firing is receiving: `receive` applies those filters against the local
node at once.

Consul's event list has no store index: its `X-Consul-Index` is derived from the last
event's ID (`uuid_index`), and a blocking list waits while that value equals `?index=`.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypedDict

# Consul keeps the last 256 events an agent received (agent.userEvents ring).
BUFFER_SIZE = 256
# Serf's default UserEventSizeLimit: the name and payload of one event.
SIZE_LIMIT = 512


class EventError(ValueError):
    """An event Consul refuses to fire; the text is Consul's."""


class EventJSON(TypedDict):
    ID: str
    Name: str
    Payload: str | None
    NodeFilter: str
    ServiceFilter: str
    TagFilter: str
    Version: int
    LTime: int


@dataclass(frozen=True)
class UserEvent:
    id: str
    name: str
    payload: bytes | None = None
    node_filter: str = ""
    service_filter: str = ""
    tag_filter: str = ""
    version: int = 1
    ltime: int = 0

    def to_json(self) -> EventJSON:
        return {
            "ID": self.id,
            "Name": self.name,
            "Payload": base64.b64encode(self.payload).decode() if self.payload else None,
            "NodeFilter": self.node_filter,
            "ServiceFilter": self.service_filter,
            "TagFilter": self.tag_filter,
            "Version": self.version,
            "LTime": self.ltime,
        }


@dataclass(frozen=True)
class LocalService:
    """What the filters of an event look at: a local service's name and tags."""

    name: str
    tags: tuple[str, ...] = ()


def new_event(
    name: str,
    payload: bytes | None,
    *,
    node: str = "",
    service: str = "",
    tag: str = "",
    event_id: str | None = None,
) -> UserEvent:
    """A validated event, as `/v1/event/fire/:name` builds it (EventError otherwise)."""
    if not name:
        raise EventError("User event missing name")
    if tag and not service:
        raise EventError("Cannot provide tag filter without service filter")
    for what, pattern in (("node", node), ("service", service), ("tag", tag)):
        if pattern:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise EventError(f"Invalid {what} filter: {exc}") from None
    size = len(name) + len(payload or b"")
    if size > SIZE_LIMIT:
        raise EventError(
            f"user event exceeds configured limit of {SIZE_LIMIT} bytes before encoding"
        )
    return UserEvent(
        id=event_id or str(uuid.uuid4()),
        name=name,
        payload=payload or None,
        node_filter=node,
        service_filter=service,
        tag_filter=tag,
    )


def applies_to(event: UserEvent, node: str, services: Iterable[LocalService]) -> bool:
    """Whether an agent on `node` with `services` keeps the event (Consul's
    shouldProcessUserEvent; the patterns are unanchored, as Go's MatchString)."""
    if event.node_filter and not re.search(event.node_filter, node):
        return False
    if not event.service_filter:
        return True
    for svc in services:
        if not re.search(event.service_filter, svc.name):
            continue
        if not event.tag_filter or any(re.search(event.tag_filter, t) for t in svc.tags):
            return True
    return False


def uuid_index(event_id: str) -> int:
    """Consul's uuidToUint64: the two 64-bit halves of the ID, XOR'ed."""
    hexes = event_id.replace("-", "")
    if len(hexes) != 32:
        return 0
    try:
        return int(hexes[:16], 16) ^ int(hexes[16:], 16)
    except ValueError:
        return 0


def list_index(events: list[UserEvent]) -> int:
    """The index a list answers with: from its last event, 1 when it is empty (so that a
    watch of a name that never fires does not spin)."""
    if not events:
        return 1
    return uuid_index(events[-1].id)


@dataclass
class EventBuffer:
    """The events this agent received, oldest first, at most `size`."""

    size: int = BUFFER_SIZE
    _events: deque[UserEvent] = field(default_factory=deque)
    # Serf's Lamport clock of user events: each received event takes the next time
    _clock: int = 0

    def receive(self, event: UserEvent, node: str, services: Iterable[LocalService]) -> bool:
        """Keep `event` if it applies to this agent; returns whether it was kept."""
        self._clock += 1
        if not applies_to(event, node, services):
            return False
        kept = dataclasses.replace(event, ltime=self._clock)
        self._events.append(kept)
        while len(self._events) > self.size:
            self._events.popleft()
        return True

    def events(self, name: str = "") -> list[UserEvent]:
        return [e for e in self._events if not name or e.name == name]
