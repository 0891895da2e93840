"""The scheduler's event buffer: the events of the last committed writes, kept in memory for
`/v1/event/stream` subscribers to replay and follow.

As Nomad's (`event_buffer_size`, default 100), it holds a bounded number of items, one per
index that gave events; the oldest fall off as new ones come. Subscribers hold no queue of
their own, only the index they have reached: the memory is the buffer's whatever the number
or the speed of subscribers. A subscriber so slow that the next item it needs has fallen off
is told so (`DroppedError`) and its stream ends, as Nomad ends it.
"""

from __future__ import annotations

import asyncio
from collections import deque

from yurt.scheduler.events import TOPIC_OF, Event, events_of
from yurt.scheduler.store import Commit, Store

# Nomad's default `event_buffer_size`.
DEFAULT_SIZE = 100
# Nomad's stream writes `{}` when nothing else was written for this long.
HEARTBEAT_S = 10.0
# Nomad's text when a subscriber fell behind the buffer.
DROPPED = "event dropped from buffer"


class Batch:
    """The events of one index; those of a commit are made when first read, so that a
    write costs nothing more while no one streams."""

    def __init__(
        self, index: int, events: tuple[Event, ...] = (), commit: Commit | None = None
    ) -> None:
        self.index = index
        self._events = events
        self._commit = commit

    @property
    def events(self) -> tuple[Event, ...]:
        c = self._commit
        if c is not None:
            self._commit = None
            self._events = tuple(events_of(c.changes, c.index, c.cause, c.event_type))
        return self._events


class DroppedError(Exception):
    pass


class EventBuffer:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self.heartbeat_s = HEARTBEAT_S
        self._items: deque[Batch] = deque()
        self._dropped_upto = 0  # the index of the newest item that fell off
        self._waiters: set[asyncio.Future[None]] = set()
        self._closed = False

    @classmethod
    def attach(cls, store: Store, size: int = DEFAULT_SIZE) -> EventBuffer:
        """A buffer fed by every write `store` commits from now on."""
        buffer = cls(size)
        store.commit_hooks.append(buffer.commit)
        return buffer

    @property
    def closed(self) -> bool:
        return self._closed

    def commit(self, commit: Commit) -> None:
        # only writes of kinds that have a topic are kept (not job versions, sources...)
        if any(kind in TOPIC_OF for kind, _, _, _ in commit.changes):
            self.append(Batch(commit.index, commit=commit))

    def append(self, batch: Batch) -> None:
        self._items.append(batch)
        while len(self._items) > self.size:
            self._dropped_upto = self._items.popleft().index
        self._wake()

    def close(self) -> None:
        """The server is stopping: every stream ends."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def start_cursor(self, index: int) -> int:
        """Where a subscription asking for `?index=` starts: at the first item of that index
        or above (0: the oldest item); an index no longer held starts at the oldest."""
        return max(index - 1, self._dropped_upto, 0)

    def after(self, cursor: int) -> list[Batch]:
        """The items above `cursor`; DroppedError when some of them already fell off."""
        if self._dropped_upto > cursor:
            raise DroppedError(DROPPED)
        return [b for b in self._items if b.index > cursor]

    async def wait(self, cursor: int, timeout: float) -> None:
        """Until an item above `cursor` comes, the buffer closes or `timeout` passes."""
        if self._closed or (self._items and self._items[-1].index > cursor):
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(fut)
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(fut)
