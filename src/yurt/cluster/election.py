"""The leader election on etcd: one lease per server, a member key and a leader key on it.

Under the store's root prefix (`/yurt`), for one component (`scheduler`, `catalog`):

    /yurt/%members/<component>/<addr>   this server (`leader.Member` as JSON), on its lease
    /yurt/%leader/<component>           the leader, on its lease; its create revision is the
                                        fence every write of the leader compares

Both live outside the component's store prefix (`/yurt/<component>/`), so snapshots,
restores and the store's watch never touch them. A server that dies stops renewing its
lease: etcd deletes both keys after the TTL and the others, watching the leader key,
campaign at once. One thread runs the election (ticks of a third of the TTL), another
watches the leader key; `on_change` is called on the election thread with each new state.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from yurt.cluster.leader import (
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
from yurt.storage.config import EtcdTLS
from yurt.storage.etcd_client import (
    EtcdClient,
    EtcdError,
    KeyValue,
    Watch,
    absent,
    op_put,
    op_range,
    prefix_end,
)

log = logging.getLogger(__name__)

# Nomad's and Consul's Raft notice a dead leader in about 1-3 s; a lease of 3 s elects a
# new leader within 3 s of the last renewal, plus one watch event.
DEFAULT_TTL = 3


def leader_key(root: str, component: str) -> bytes:
    return f"{root.rstrip('/')}/%leader/{component}".encode()


def bootstrapped_key(root: str, component: str) -> bytes:
    return f"{root.rstrip('/')}/%bootstrapped/{component}".encode()


def members_prefix(root: str, component: str) -> bytes:
    return f"{root.rstrip('/')}/%members/{component}/".encode()


class Election:
    """`start()` campaigns once before returning (a lone server leads when it starts);
    `stop()` revokes the lease, handing the lead over at once."""

    def __init__(
        self,
        endpoints: list[str],
        root: str,
        component: str,
        me: Member,
        on_change: Callable[[State], None],
        *,
        tls: EtcdTLS | None = None,
        ttl: int = DEFAULT_TTL,
        expect: int = 1,
    ) -> None:
        self.me = me
        # Nomad's bootstrap_expect: the first leader of a cluster is elected once this many
        # servers have registered; a key then records that the cluster was bootstrapped,
        # and from there on any one server may lead (as a Raft cluster, once formed, does
        # not count to bootstrap_expect again)
        self.expect = expect
        self._bootstrapped_key = bootstrapped_key(root, component)
        self._bootstrapped = expect <= 1
        self.ttl = ttl
        self.key = leader_key(root, component)
        self._members = members_prefix(root, component)
        self._on_change = on_change
        # calls wait less than the lease lives: a hung call must not outlast our lead
        self._client = EtcdClient(endpoints, tls, timeout=max(ttl / 3, 0.5), read_retry=0)
        self._watch_client = EtcdClient(endpoints, tls)
        self._lease = 0
        self._dropped = 0  # a lease given up, to revoke once etcd answers
        self._sent = 0.0  # when the lease was last granted or renewed (monotonic)
        self.state = State()
        self.peers: list[Member] = [me]
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._watch: Watch | None = None
        self._threads: list[threading.Thread] = []

    # --- lifecycle ---

    def start(self) -> None:
        try:
            self._new_lease()
            self._campaign()
            self.peers = self._read_members()
        except EtcdError as exc:
            log.warning("leader election: %s; retrying", exc)
            self._apply(Unreachable(time.monotonic()))
        for target, name in ((self._run, "election"), (self._follow_key, "election-watch")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self._closed.set()
        self._wake.set()
        watch = self._watch
        if watch is not None:
            watch.close()
        for thread in self._threads:
            thread.join(5)
        if self._lease:
            with contextlib.suppress(EtcdError):
                self._client.lease_revoke(self._lease)  # the others elect at once
        self._client.close()
        self._watch_client.close()

    @property
    def leading(self) -> bool:
        return self.state.role == LEADER

    # --- the election thread ---

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.ttl / 3)
            self._wake.clear()
            if self._closed.is_set():
                return
            try:
                self._tick()
            except EtcdError as exc:
                log.warning("leader election: %s", exc)
                self._apply(Unreachable(time.monotonic()))
            except Exception:  # the election must outlive any one failure
                log.exception("leader election")

    def _tick(self) -> None:
        if not self._lease:
            self._new_lease()
        sent = time.monotonic()
        ttl = self._client.lease_keepalive(self._lease)
        if ttl <= 0:
            self._apply(LeaseGone())
            return
        self._sent = sent
        self._apply(Renewed(sent, ttl))
        # a leader campaigns too: it finds out so that its key was deleted or taken
        self._campaign()
        self.peers = self._read_members()

    def _new_lease(self) -> None:
        self._lease = 0
        if self._dropped:
            # a lease given up while etcd could not be reached may still live, holding the
            # leader key for a server that no longer leads: revoked, the key goes at once
            with contextlib.suppress(EtcdError):  # not found: it expired meanwhile
                self._client.lease_revoke(self._dropped)
        sent = time.monotonic()
        lease = self._client.lease_grant(self.ttl)
        self._dropped = 0  # etcd answers again: the revoke above was answered too
        self._client.txn_answer(
            [], [op_put(self._members + self.me.address.encode(), self.me.encode(), lease)], []
        )
        self._lease, self._sent = lease, sent

    def _campaign(self) -> None:
        if not self._bootstrapped and not self._may_bootstrap():
            return
        got = self._client.txn_answer(
            [absent(self.key)],
            [
                op_put(self.key, self.me.encode(), self._lease),
                op_put(self._bootstrapped_key, b"1"),
            ],
            [op_range(self.key)],
        )
        revision = int(got.get("header", {}).get("revision", 0))
        if got.get("succeeded"):
            self._apply(Won(self.me, revision, self._sent, self.ttl))
            return
        kvs = got["responses"][0].get("response_range", {}).get("kvs", [])
        if not kvs:  # deleted between the compare and now: campaign on the next tick
            self._wake.set()
            return
        kv = KeyValue.from_json(kvs[0])
        if self.leading and kv.create_revision == self.state.fence:
            return  # still ours (a campaign after a renewal that reached etcd late)
        self._apply(Seen(Member.decode(kv.value), kv.create_revision))

    def _may_bootstrap(self) -> bool:
        kvs, _more, _rev = self._client.range(self._bootstrapped_key)
        self.peers = self._read_members()
        self._bootstrapped = bool(kvs) or len(self.peers) >= self.expect
        return self._bootstrapped

    def _read_members(self) -> list[Member]:
        kvs, _more, _rev = self._client.range(self._members, prefix_end(self._members))
        found = [m for m in (Member.decode(kv.value) for kv in kvs) if m is not None]
        return sorted(found, key=lambda m: m.address) or [self.me]

    def _apply(self, event: Event) -> None:
        before = self.state
        self.state, actions = step(self.state, event)
        for action in actions:
            if action is Do.NEW_LEASE:
                self._dropped, self._lease = self._lease or self._dropped, 0
            elif action is Do.CAMPAIGN:
                self._wake.set()
        if self.state != before:
            if self.state.role != before.role:
                log.info(
                    "%s is now %s (leader: %s)",
                    self.me.name,
                    self.state.role,
                    self.state.leader.name if self.state.leader else "none",
                )
            self._on_change(self.state)

    # --- the watch on the leader key ---

    def _follow_key(self) -> None:
        start = 0
        while not self._closed.is_set():
            try:
                if not start:
                    _kvs, _more, start = self._watch_client.range(self.key)
                    start += 1
                watch = self._watch_client.watch(self.key, start)
                self._watch = watch
                for kind, kv in watch.events():
                    start = kv.mod_revision + 1
                    if kv.key == self.key and kind == "DELETE":
                        self._wake.set()  # campaign now, not at the next tick
            except Exception as exc:
                if self._closed.is_set():
                    return
                log.debug("leader key watch: %s; watching again", exc)
                start = 0
            self._closed.wait(0.5)
