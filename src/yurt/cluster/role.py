"""A server's place among the servers sharing one etcd prefix: it follows the others'
commits into memory (`RemoteFeed`), takes part in the election, and tells its server when
it starts and stops leading, on the event loop.

The store's watch and the election run on threads; everything they report hops to the
loop, where the stores and the leader's work live. The fence (the leader key's create
revision) is set on the backend before the leader's work starts, and left in place when it
stops: a write still in flight from the old lead then fails in etcd (`NotLeader`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from yurt.cluster.election import DEFAULT_TTL, Election
from yurt.cluster.leader import LEADER, Member, State
from yurt.storage.config import StoreConfig
from yurt.storage.etcd import EtcdBackend
from yurt.storage.interface import RemoteChange

log = logging.getLogger(__name__)

Apply = Callable[[list[RemoteChange]], None]


class RemoteFeed:
    """The store's `follow()` callback: each remote commit is applied on the loop, in
    order; commits that arrive before the loop is known wait for `attach()`."""

    def __init__(self, apply: Apply) -> None:
        self._apply = apply
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: list[list[RemoteChange]] = []

    def __call__(self, changes: list[RemoteChange]) -> None:
        with self._lock:
            if self._loop is None:
                self._waiting.append(changes)
                return
            loop = self._loop
        loop.call_soon_threadsafe(self._apply_one, changes)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._loop = loop
            waiting, self._waiting = self._waiting, []
        for changes in waiting:
            loop.call_soon_threadsafe(self._apply_one, changes)

    def _apply_one(self, changes: list[RemoteChange]) -> None:
        try:
            self._apply(changes)
        except Exception:  # one bad row must not stop the server following the rest
            log.exception("applying a remote commit at revision %d", changes[0].revision)


class ClusterRole:
    """Made right after the store has loaded (so that no remote commit is missed);
    `start(me)` on the loop campaigns once and returns leading when no other server
    does. `on_lead` and `on_step_down` are called on the loop."""

    def __init__(
        self,
        backend: EtcdBackend,
        store: StoreConfig,
        component: str,
        apply_remote: Apply,
        *,
        ttl: int = DEFAULT_TTL,
    ) -> None:
        self.backend = backend
        self.me = Member("", "")  # known at `start()`, once the HTTP port is bound
        self.feed = RemoteFeed(apply_remote)
        backend.follow(self.feed)
        self._store = store
        self._component = component
        self._ttl = ttl
        self.election: Election | None = None
        self.leading = False
        self.leader: Member | None = None
        self.on_lead: Callable[[], None] = lambda: None
        self.on_step_down: Callable[[], None] = lambda: None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def peers(self) -> list[Member]:
        return list(self.election.peers) if self.election is not None else [self.me]

    def start(self, me: Member) -> None:
        self.me = me
        self._loop = asyncio.get_running_loop()
        self.feed.attach(self._loop)
        store = self._store
        self.election = Election(
            store.endpoints,
            store.prefix,
            self._component,
            me,
            self._changed,
            tls=store.tls,
            ttl=self._ttl,
            expect=store.bootstrap_expect,
        )
        self.election.start()
        self._settle()

    def stop(self) -> None:
        """Leave the election (its lease revoked: another server leads at once). The
        server stops its leader's work itself; this may run on any thread."""
        self._loop = None
        self.leading = False
        if self.election is not None:
            self.election.stop()

    def _changed(self, _state: State) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._settle)

    def _settle(self) -> None:
        """Bring the loop's view to the election's newest state (a report may be stale by
        the time the loop runs it: the newest is read here)."""
        if self._loop is None or self.election is None:
            return
        state = self.election.state
        self.leader = state.leader
        leading = state.role == LEADER
        if leading:
            self.backend.fence = (self.election.key, state.fence)
        if leading == self.leading:
            return
        self.leading = leading
        log.info("%s: %s", self.me.name, "leading" if leading else "stepped down")
        (self.on_lead if leading else self.on_step_down)()
