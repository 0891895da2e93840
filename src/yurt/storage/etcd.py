"""The etcd backend: the store interface on an etcd v3 cluster (issue 18, item 1).

Rows, order keys and the index live under the store's prefix as `storage/etcd_layout.py`
says. A transaction is one etcd `Txn` with every put and delete of its batch; the index is a
counter key bumped in that `Txn` under a compare on its mod revision, so two servers on one
etcd cannot both commit index N: the second's compare fails, nothing of its batch is
applied, and `IndexConflict` is raised (the backend has re-read the index: the store may
build the transaction again and retry). Nothing is acknowledged before the `Txn` returns.

The calls are synchronous, made from the event loop like the SQLite backend's: the loop
waits for each commit's round trip to etcd (docs/storage.md gives the cost).

`follow(callback)` is the hook for several servers: an etcd watch on the prefix from the
last revision this backend saw, delivering every row another writer changed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

from yurt.storage import archive
from yurt.storage.batch import PendingWrites, Transaction, decode, encode
from yurt.storage.config import EtcdTLS
from yurt.storage.etcd_client import (
    EtcdClient,
    EtcdError,
    JSONObject,
    KeyValue,
    Watch,
    absent,
    created_at,
    mod_revision_is,
    op_delete,
    op_put,
    op_txn,
)
from yurt.storage.etcd_layout import Layout, first_written
from yurt.storage.interface import Backend, Follower, JSONValue, Reclaimed, RemoteChange

log = logging.getLogger(__name__)

# etcd's refusals of a Txn over its --max-txn-ops and --max-request-bytes
_LIMITS = ("too many operations in txn request", "request is too large", "larger than max")
# etcd's backend pages; `reclaim()` reports the bytes defragmentation gave back in them.
_PAGE = 4096


class IndexConflict(EtcdError):
    """Another writer committed the index this transaction claimed: nothing was applied."""


class NotLeader(EtcdError):
    """This server's write compared the leader key's create revision and it has changed:
    another server leads now; nothing was applied."""


class EtcdBackend(Backend):
    """One store's state under `prefix` in etcd (`/yurt/catalog`, `/yurt/scheduler`)."""

    def __init__(self, endpoints: list[str], prefix: str, tls: EtcdTLS | None = None) -> None:
        self.layout = Layout.of(prefix)
        self.client = EtcdClient(endpoints, tls)
        self._batch: PendingWrites | None = None
        # The index and the mod revision of its key as last seen; the watch thread moves
        # them too, so they change together under the lock.
        self._lock = threading.Lock()
        self._index = 1
        self._index_revision = 0
        self._revision = 0  # the newest etcd revision this backend has seen
        self._own: set[int] = set()  # revisions of our commits the watch has not passed yet
        self._reclaimed_to = 0
        self._watch_thread: threading.Thread | None = None
        self._watch: Watch | None = None
        self._closed = False
        self._committed = False
        # (leader key, its create revision) while this server leads (cluster/election.py):
        # every commit compares it, so a deposed leader's write fails whole
        self.fence: tuple[bytes, int] | None = None
        self._read_index()
        # where `follow()` starts: everything after the moment this backend was opened
        self._opened_at = self._revision

    # --- the index ---

    @property
    def index(self) -> int:
        return self._index

    def _read_index(self) -> None:
        kvs, _more, revision = self.client.range(self.layout.index)
        with self._lock:
            self._revision = max(self._revision, revision)
            if kvs:
                self._index = max(self._index, int(kvs[0].value))
                self._index_revision = kvs[0].mod_revision
            else:
                self._index_revision = 0

    # --- reads ---

    def load(self, table: str) -> Iterator[tuple[str, JSONValue]]:
        found: list[KeyValue] = []
        revision = 0
        for kv, revision in self.client.scan(self.layout.table(table)):  # noqa: B007
            found.append(kv)
        if not found:
            return
        # the order keys at the revision the rows were read at: one moment for both
        order: dict[str, tuple[int, int]] = {}
        for kv, _at in self.client.scan(self.layout.order_table(table), revision=revision):
            order[self.layout.place(kv.key).key] = first_written(kv.value, kv.mod_revision)
        rows: list[tuple[tuple[int, int], str, bytes]] = []
        for kv in found:
            key = self.layout.place(kv.key).key
            rows.append((order.get(key, (kv.create_revision, 1 << 62)), key, kv.value))
        rows.sort(key=lambda row: row[0])
        for _place, key, value in rows:
            yield key, decode(value)

    def get(self, table: str, key: str) -> JSONValue | None:
        kvs, _more, _revision = self.client.range(self.layout.row(table, key))
        return decode(kvs[0].value) if kvs else None

    # --- writes ---

    def transaction(self) -> Transaction:
        return Transaction(self)

    def begin_batch(self) -> PendingWrites:
        if self._batch is not None:
            raise RuntimeError("transactions do not nest")
        self._batch = PendingWrites(self._index)
        return self._batch

    def end_batch(self) -> None:
        self._batch = None

    def commit_batch(self, batch: PendingWrites) -> None:
        ops = self._ops(batch)
        compare = self._fenced()
        if batch.claimed:
            compare.append(mod_revision_is(self.layout.index, self._index_revision))
            ops.append(op_put(self.layout.index, str(batch.claimed).encode()))
        with self._lock:  # the watch thread must know this revision is ours
            succeeded, revision = self._txn(compare, ops)
            self._revision = max(self._revision, revision)
            if succeeded:
                self._mark_own(revision)
                if batch.claimed:
                    self._index, self._index_revision = batch.claimed, revision
        if not succeeded:
            self._check_fence()
            self._read_index()
            raise IndexConflict(
                f"etcd: index {batch.claimed} was taken by another writer under "
                f"{self.layout.prefix} (it is now {self._index}); nothing was applied, retry"
            )

    def _fenced(self) -> list[JSONObject]:
        fence = self.fence
        return [created_at(fence[0], fence[1])] if fence is not None else []

    def _check_fence(self) -> None:
        """After a failed Txn: raise NotLeader when the fence is what failed."""
        fence = self.fence
        if fence is None:
            return
        kvs, _more, _revision = self.client.range(fence[0])
        if not kvs or kvs[0].create_revision != fence[1]:
            raise NotLeader(f"etcd: {self.layout.prefix}: this server no longer leads")

    def _mark_own(self, revision: int) -> None:
        """Remember a commit of ours for the watch to pass over (only when one runs: the
        watch forgets them as it passes them)."""
        self._committed = True
        if self._watch_thread is not None:
            self._own.add(revision)

    def _txn(self, compare: list[JSONObject], ops: list[JSONObject]) -> tuple[bool, int]:
        try:
            return self.client.txn(compare, ops)
        except EtcdError as exc:
            if any(limit in str(exc) for limit in _LIMITS):
                raise EtcdError(
                    f"{exc}: a transaction of {len(ops)} operations is over etcd's limits; "
                    "run etcd with a larger --max-txn-ops and --max-request-bytes "
                    "(docs/storage.md)"
                ) from exc
            raise

    def _ops(self, batch: PendingWrites) -> list[JSONObject]:
        """The batch as Txn operations: etcd refuses two writes of one key in a Txn, so
        the last write of each key wins, in the order the memory backend would leave."""
        final: dict[tuple[str, str], str | None] = {}
        recreated: set[tuple[str, str]] = set()
        for table, key, text in batch.ops:
            at = (table, key)
            if text is not None and final.get(at) is not None:
                final[at] = text  # a replacement keeps its place
                continue
            if at in final:  # deleted earlier in the batch: a new row, placed anew
                recreated.add(at)
            final.pop(at, None)
            final[at] = text
        ops: list[JSONObject] = []
        for position, ((table, key), text) in enumerate(final.items()):
            row, order = self.layout.row(table, key), self.layout.order(table, key)
            if text is None:
                ops += [op_delete(row), op_delete(order)]
                continue
            ops.append(op_put(row, text.encode()))
            place = op_put(order, str(position).encode())
            ops.append(place if (table, key) in recreated else op_txn([absent(order)], [place]))
        return ops

    # --- snapshot and restore ---

    def snapshot(self) -> bytes:
        rows: dict[tuple[str, str], bytes] = {}
        order: dict[tuple[str, str], tuple[int, int]] = {}
        index = 1
        for kv, _revision in self.client.scan(self.layout.root):
            place = self.layout.place(kv.key)
            if place.kind == "index":
                index = int(kv.value)
            elif place.kind == "order":
                order[(place.table, place.key)] = first_written(kv.value, kv.mod_revision)
            elif place.kind == "row":
                rows[(place.table, place.key)] = kv.value
                order.setdefault((place.table, place.key), (kv.create_revision, 1 << 62))
        ranked = sorted(rows, key=lambda at: order[at])
        return archive.encode(index, ((t, k, rows[(t, k)].decode()) for t, k in ranked))

    def restore(self, data: bytes) -> None:
        if self._batch is not None:
            raise RuntimeError("restore() inside a transaction")
        got = archive.decode(data)
        self._read_index()
        # etcd refuses a Txn that deletes a range and puts into it: every key is deleted
        # one by one, except those the archive writes again
        existing = [kv.key for kv, _revision in self.client.scan(self.layout.root)]
        puts: dict[bytes, bytes] = {}
        for position, (table, key, value) in enumerate(got.rows):
            puts[self.layout.row(table, key)] = encode(value).encode()
            puts[self.layout.order(table, key)] = str(position).encode()
        index = max(got.index, self._index) + 1
        puts[self.layout.index] = str(index).encode()
        ops = [op_delete(key) for key in existing if key not in puts]
        ops += [op_put(key, value) for key, value in puts.items()]
        compare = [mod_revision_is(self.layout.index, self._index_revision), *self._fenced()]
        with self._lock:
            succeeded, revision = self._txn(compare, ops)
            self._revision = max(self._revision, revision)
            if succeeded:
                self._mark_own(revision)
                self._index, self._index_revision = index, revision
        if not succeeded:
            self._check_fence()
            self._read_index()
            raise IndexConflict(f"etcd: {self.layout.prefix} changed during the restore; retry")

    # --- upkeep ---

    def reclaim(self) -> Reclaimed:
        """Compacts etcd's history up to the revision of the previous `reclaim()` (so a
        watcher behind by less than one garbage-collection interval can still catch up),
        then defragments the member this backend talks to."""
        if self._batch is not None:
            raise RuntimeError("reclaim() inside a transaction")
        before = self.client.db_size()
        if self._reclaimed_to:
            try:
                self.client.compact(self._reclaimed_to)
            except EtcdError as exc:
                if "compacted" not in str(exc):  # another server compacted further
                    raise
        self.client.defragment()
        after = self.client.db_size()
        _kvs, _more, self._reclaimed_to = self.client.range(self.layout.index)
        return Reclaimed(pages=max(0, before - after) // _PAGE, page_size=_PAGE)

    # --- remote changes ---

    def follow(self, callback: Follower) -> None:
        """Deliver the rows that another writer changed under this prefix since this
        backend was opened to `callback`, one call per commit of theirs (a list of rows)
        -- called on a watch thread, in revision order.
        Called after the loads and before the first commit: a row changed while the tables
        were loaded may arrive although the load had it (applying a change is
        idempotent), none is missed. The index moves with the remote commits, so this
        backend's next claim takes the index after theirs."""
        if self._watch_thread is not None:
            raise RuntimeError("follow() was already called")
        if self._committed:
            raise RuntimeError("follow() after a commit: call it before the first one")
        start = self._opened_at + 1
        thread = threading.Thread(
            target=self._follow, args=(callback, start), name="etcd-watch", daemon=True
        )
        self._watch_thread = thread
        thread.start()

    def _follow(self, callback: Follower, start: int) -> None:
        while not self._closed:
            watch = self.client.watch(self.layout.root, start)
            self._watch = watch
            try:
                for events in watch.messages():
                    start = events[-1][1].mod_revision + 1
                    for commit in _by_revision(events):
                        self._deliver(callback, commit)
            except Exception as exc:  # the stream broke: watch again from where it was
                if self._closed:
                    return
                if "compacted" in str(exc):
                    log.error("etcd watch on %s: %s: cannot follow", self.layout.prefix, exc)
                    return
                log.warning("etcd watch on %s: %s; watching again", self.layout.prefix, exc)
            time.sleep(0.5)

    def _deliver(self, callback: Follower, events: list[tuple[str, KeyValue]]) -> None:
        """One commit (every event of one revision): the index first, so that the store
        applying the rows sees the index they were written at."""
        revision = events[0][1].mod_revision
        with self._lock:
            own = revision in self._own
            self._own = {r for r in self._own if r >= revision}
            if own:
                return
            self._revision = max(self._revision, revision)
        changes: list[RemoteChange] = []
        for kind, kv in events:
            place = self.layout.place(kv.key)
            if place.kind == "index" and kind != "DELETE":
                with self._lock:
                    if int(kv.value) > self._index:
                        self._index, self._index_revision = int(kv.value), revision
            elif place.kind == "row":
                value = None if kind == "DELETE" else decode(kv.value)
                changes.append(RemoteChange(place.table, place.key, value, revision))
        if changes:
            callback(changes)

    def close(self) -> None:
        self._closed = True
        watch = self._watch
        if watch is not None:
            watch.close()
        if self._watch_thread is not None:
            self._watch_thread.join(5)
        self.client.close()


def _by_revision(events: list[tuple[str, KeyValue]]) -> Iterator[list[tuple[str, KeyValue]]]:
    commit: list[tuple[str, KeyValue]] = []
    for event in events:
        if commit and event[1].mod_revision != commit[0][1].mod_revision:
            yield commit
            commit = []
        commit.append(event)
    if commit:
        yield commit
