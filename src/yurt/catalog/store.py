"""The catalog's state: a storage backend for durability, an in-memory copy for reads.

Every change runs in one backend transaction that takes the next index, so a restart (even
after `kill -9`) finds every acknowledged write and an index that never goes backwards.
Records are kept as JSON documents in the tables named in `_TABLES` (SQLite by default,
`yurt.storage.interface` says what another backend provides).

Blocking queries wait on topics, each with its own index, as Consul's state store keeps an
index per table and per service name:

- `nodes`, `services`, `checks`, `kvs`: the tables;
- `svc:<name>`: anything that changes the answer of `/v1/health/service/<name>`;
- `node:<name>`: anything on that node;
- `kv:<key>`: that one key (prefix readers wait on `kvs`).

A write notifies only the topics it touched, so a KV write does not wake health watchers.
A check whose output changes but whose status does not is saved without taking an index
and wakes nobody, as Consul defers output-only updates.
"""

from __future__ import annotations

import base64
import bisect
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from yurt.api.blocking import WatchHub
from yurt.api.durations import SECOND
from yurt.catalog.answer_fragments import CheckFragments, ServiceFragments
from yurt.catalog.config_entry_store import ConfigEntryStore
from yurt.catalog.model import CRITICAL, DELETE, Check, KVEntry, Node, Service, Session
from yurt.catalog.shared_values import intern, share_check, share_node, share_service
from yurt.catalog.store_txn import UNCHANGED, KVOp, SessionError
from yurt.storage.interface import Backend, Batch, JSONValue, RemoteChange
from yurt.storage.topics import TopicIndex

# The backend's tables. Keys: a node's name, `<node>\0<id>` for services and checks, a KV
# key, a session's ID, a topic.
NODES = "nodes"
SERVICES = "services"
CHECKS = "checks"
KV = "kv"
KV_TOMBSTONES = "kv_tombstones"
TOPIC_INDEX = "topic_index"
SESSIONS = "sessions"


# The topics of whole tables, stamped by a restore even when no write touched them yet.
_TABLE_TOPICS = ("nodes", "services", "checks", "kvs", "sessions", "acl")


def _persisted(topic: str) -> bool:
    """Whether a topic keeps an index of its own (one KV key's readers are only woken)."""
    return not topic.startswith("kv:")


def pair_key(node: str, item: str) -> str:
    return f"{node}\x00{item}"


def kv_record(entry: KVEntry) -> dict[str, JSONValue]:
    return {
        "key": entry.key,
        "value": None if entry.value is None else base64.b64encode(entry.value).decode(),
        "flags": entry.flags,
        "lock_index": entry.lock_index,
        "session": entry.session,
        "create_index": entry.create_index,
        "modify_index": entry.modify_index,
    }


def kv_from_record(data: dict[str, JSONValue]) -> KVEntry:
    value = data["value"]
    return KVEntry(
        key=data["key"],
        value=None if value is None else base64.b64decode(value),
        flags=int(data["flags"]),
        lock_index=int(data["lock_index"]),
        session=str(data["session"]),
        create_index=int(data["create_index"]),
        modify_index=int(data["modify_index"]),
    )


def open_backend(path: Path | str | Backend) -> Backend:
    """`path`: a SQLite file (or `:memory:`), or a backend to use as it is."""
    if isinstance(path, (str, Path)):
        from yurt.storage.sqlite import SQLiteBackend

        return SQLiteBackend(path)
    return path


# the attributes `_load` rebuilds, put back whole when a load fails
_MEMORY = (
    "nodes",
    "services",
    "checks",
    "kv",
    "_kv_keys",
    "_tombstones",
    "_tombstone_keys",
    "sessions",
    "_by_name",
    "_by_node",
    "_checks_of",
    "check_fragments",
    "service_fragments",
)


class CatalogStore:
    def __init__(self, path: Path | str | Backend, hub: WatchHub) -> None:
        self.backend = open_backend(path)
        self.hub = hub
        self._topics = TopicIndex(hub, TOPIC_INDEX)
        # keys released by an invalidated session cannot be acquired again before this
        # (monotonic) time: Consul's lock-delay, kept in memory as Consul keeps it
        self._lock_delays: dict[str, float] = {}
        # Bumped by every in-memory change, output-only check updates included (which take
        # no index): answers cached under one generation are still exact.
        self.generation = 0
        # memory may differ from the backend (a reload failed): load again before a write
        self.stale = False
        # other tables' in-memory copies (the ACL store's), rebuilt with this one's
        self.reload_hooks: list[Callable[[], None]] = []
        self._load()
        self.config_entries = ConfigEntryStore(self)

    # -- loading and bookkeeping ------------------------------------------------------

    def _load(self) -> None:
        """(Re)build the in-memory copy from the backend: at start, and after a failed
        write, so that memory never keeps half of a change the backend rolled back.

        A load that fails part way (etcd unreachable, or electing) must not leave memory
        half empty: the previous copy is put back and the store is marked stale, so that
        the next write loads again before it decides anything (and fails while the backend
        cannot answer)."""
        saved = {name: self.__dict__[name] for name in _MEMORY if name in self.__dict__}
        try:
            self._load_memory()
        except BaseException:
            self.__dict__.update(saved)
            self.stale = True
            raise
        self.stale = False

    def _load_memory(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.services: dict[tuple[str, str], Service] = {}
        self.checks: dict[tuple[str, str], Check] = {}
        self.kv: dict[str, KVEntry] = {}
        self._kv_keys: list[str] = []
        self._tombstones: dict[str, int] = {}
        self._tombstone_keys: list[str] = []
        self.sessions: dict[str, Session] = {}
        # secondary indexes, so that a read touches only what it answers with
        self._by_name: dict[str, dict[tuple[str, str], Service]] = {}
        self._by_node: dict[str, dict[str, Service]] = {}
        # by node, by service ID ("": the node's own): a service's checks, the check itself
        # when it is the only one (keyed by node first: no key tuple per instance)
        self._checks_of: dict[str, dict[str, Check | dict[str, Check]]] = {}
        # parts of the whole-catalog answers, encoded once per change (`answer_fragments`)
        self.check_fragments = CheckFragments()
        self.service_fragments = ServiceFragments()
        backend = self.backend
        for _, data in backend.load(NODES):
            node = Node.from_record(data)
            share_node(node)
            self.nodes[node.name] = node
        for _, data in backend.load(SERVICES):
            self._add_service(Service.from_record(data))
        for _, data in backend.load(CHECKS):
            self._add_check(Check.from_record(data))
        for key, data in backend.load(KV):
            self.kv[key] = kv_from_record(data)
        self._kv_keys = sorted(self.kv)
        for key, idx in backend.load(KV_TOMBSTONES):
            self._tombstones[key] = int(idx)
        self._tombstone_keys = sorted(self._tombstones)
        self._topics.load(backend)
        for _, data in backend.load(SESSIONS):
            session = Session.from_record(data)
            self.sessions[session.id] = session
        for hook in self.reload_hooks:
            hook()

    def apply_remote(self, changes: list[RemoteChange]) -> None:
        """Another server's commit on the same etcd prefix into memory (several servers,
        `catalog/store_remote.py`)."""
        from yurt.catalog.store_remote import apply_remote

        apply_remote(self, changes)

    def advance_topic(self, topic: str, index: int) -> None:
        self._topics.advance((topic,), max(index, self._topics.get(topic) or 1))

    def publish(self, *topics: str) -> None:
        self._topics.publish(*topics)

    def close(self) -> None:
        self.backend.close()

    # -- snapshots ---------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole state (ACLs included) and its index, as the backend's archive."""
        return self.backend.snapshot()

    def restore(self, archive: bytes) -> int:
        """Replace the whole state with an archive's (`snapshot()` of this or another
        catalog, of any backend), as one write: memory is rebuilt, every topic is stamped
        with the restore's index and woken, so that a reader parked at an index from before
        sees one above it. Raises `storage.archive.ArchiveError` for a bad archive, with
        nothing changed. Returns the new index."""
        before = self._watched_topics()
        self.backend.restore(archive)
        self._lock_delays.clear()
        self._load()
        self.generation += 1
        after = self._watched_topics()
        with self._write() as w:
            w.touch(
                *_TABLE_TOPICS, *self._topics.indexes, *(t for t in before | after if _persisted(t))
            )
            w.wakes.update(before | after)
        return self.index

    def _watched_topics(self) -> set[str]:
        """Every topic a reader of the current state can wait on."""
        topics = set(self._topics.indexes)
        topics.update(f"svc:{name}" for name in self._by_name)
        topics.update(f"node:{name}" for name in self.nodes)
        topics.update(f"kv:{key}" for key in self.kv)
        topics.update(f"kv:{key}" for key in self._tombstones)
        return topics

    @property
    def index(self) -> int:
        return self.backend.index

    # -- the in-memory indexes ---------------------------------------------------------------

    def _add_service(self, svc: Service) -> None:
        key = (svc.node, svc.id)
        old = self.services.get(key)
        if old is not None:
            self._drop_service(old)
        named = self._by_name.setdefault(svc.name, {})
        share_service(svc, next(iter(named.values()), None))
        # one key tuple for both maps (a tuple is 56 bytes, and there is one per instance)
        self.services[key] = named[key] = svc
        self._by_node.setdefault(svc.node, {})[svc.id] = svc
        self.service_fragments.changed(svc.name, exists=True)

    def _drop_service(self, svc: Service) -> None:
        self.services.pop((svc.node, svc.id), None)
        named = self._by_name.get(svc.name, {})
        named.pop((svc.node, svc.id), None)
        if not named:
            self._by_name.pop(svc.name, None)
        self.service_fragments.changed(svc.name, exists=bool(named))
        on_node = self._by_node.get(svc.node, {})
        on_node.pop(svc.id, None)
        if not on_node:
            self._by_node.pop(svc.node, None)

    def _add_check(self, chk: Check) -> None:
        key = (chk.node, chk.check_id)
        old = self.checks.get(key)
        if old is not None:
            self._drop_check(old)
        share_check(chk, self.services.get((chk.node, chk.service_id)) if chk.service_id else None)
        self.checks[key] = chk
        # a service's one check is kept as it is, a dict only for two or more: most
        # instances have one, and a dict of one entry is 184 bytes
        on_node = self._checks_of.setdefault(chk.node, {})
        group = on_node.get(chk.service_id)
        if group is None:
            on_node[chk.service_id] = chk
        elif isinstance(group, Check):
            on_node[chk.service_id] = {group.check_id: group, chk.check_id: chk}
        else:
            group[chk.check_id] = chk
        self.check_fragments.added(key)

    def _drop_check(self, chk: Check) -> None:
        if self.checks.pop((chk.node, chk.check_id), None) is not None:
            self.check_fragments.removed((chk.node, chk.check_id))
        on_node = self._checks_of.get(chk.node, {})
        group = on_node.get(chk.service_id)
        if isinstance(group, Check):
            if group.check_id == chk.check_id:
                del on_node[chk.service_id]
        elif group is not None:
            group.pop(chk.check_id, None)
            if len(group) == 1:
                on_node[chk.service_id] = next(iter(group.values()))
            elif not group:
                del on_node[chk.service_id]
        if not on_node:
            self._checks_of.pop(chk.node, None)

    def instances(self, name: str) -> list[Service]:
        """The instances of service `name`, by node then ID."""
        found = self._by_name.get(name)
        if not found:
            return []
        return [found[k] for k in sorted(found)]

    @property
    def services_by_name(self) -> Mapping[str, Mapping[tuple[str, str], Service]]:
        """Every service name's instances by (node, ID); read-only."""
        return self._by_name

    def service_names(self) -> list[str]:
        return sorted(self._by_name)

    def node_services(self, node: str) -> list[Service]:
        found = self._by_node.get(node, {})
        return [found[k] for k in sorted(found)]

    def checks_of(self, node: str, service_id: str) -> list[Check]:
        """The checks of one service (`service_id=""`: the node's own checks), by ID."""
        group = self._checks_of.get(node, {}).get(service_id)
        if group is None:
            return []
        if isinstance(group, Check):
            return [group]
        return [group[k] for k in sorted(group)]

    def node_checks(self, node: str) -> list[Check]:
        """Every check on `node`, node checks included, by ID."""
        out: list[Check] = []
        # the node's own, its services', and those of a service since removed by hand
        for sid in self._checks_of.get(node, {}):
            out.extend(self.checks_of(node, sid))
        return sorted(out, key=lambda c: c.check_id)

    def topic_index(self, topic: str, fallback: str | None = None) -> int:
        idx = self._topics.get(topic)
        if idx is None and fallback is not None:
            idx = self._topics.get(fallback)
        return max(idx or 1, 1)

    class _Write:
        """One write: a transaction, its index, the topics it touches."""

        def __init__(self, store: CatalogStore, batch: Batch) -> None:
            self.store = store
            self.batch = batch
            self.topics: set[str] = set()
            # woken but not given an index of their own (one KV key's readers)
            self.wakes: set[str] = set()

        @property
        def index(self) -> int:
            return self.batch.claim_index()

        def touch(self, *topics: str) -> None:
            self.topics.update(topics)

    def _write(self) -> _WriteContext:
        if self.stale:
            self._load()
        return _WriteContext(self)

    def _finish(self, write: CatalogStore._Write) -> None:
        """The last step inside the transaction: the touched topics' indexes."""
        self.generation += 1
        if write.topics:
            self._topics.persist(write.batch, write.topics, write.index)

    def _service_topics(self, node: str) -> Iterator[str]:
        for svc in self._by_node.get(node, {}).values():
            yield f"svc:{svc.name}"

    def _check_topics(self, check: Check) -> list[str]:
        topics = ["checks", f"node:{check.node}"]
        if check.service_name:
            topics.append(f"svc:{check.service_name}")
        else:
            topics.extend(self._service_topics(check.node))
        return topics

    # -- persistence of single records --------------------------------------------------

    @staticmethod
    def _save_node(batch: Batch, node: Node) -> None:
        batch.put(NODES, node.name, node.to_record())

    @staticmethod
    def _save_service(batch: Batch, svc: Service) -> None:
        batch.put(SERVICES, pair_key(svc.node, svc.id), svc.to_record())

    def _save_check(self, batch: Batch, chk: Check) -> None:
        batch.put(CHECKS, pair_key(chk.node, chk.check_id), chk.to_record())
        self.check_fragments.changed((chk.node, chk.check_id))

    # -- nodes ----------------------------------------------------------------------------

    def upsert_node(self, node: Node) -> bool:
        old = self.nodes.get(node.name)
        if old is not None and old.same_content(node):
            return False
        with self._write() as w:
            self._put_node(w, node)
        return True

    def _put_node(self, w: CatalogStore._Write, node: Node) -> None:
        old = self.nodes.get(node.name)
        if old is not None and old.same_content(node):
            return
        node.create_index = old.create_index if old else w.index
        node.modify_index = w.index
        self._save_node(w.batch, node)
        share_node(node)
        self.nodes[node.name] = node
        w.touch("nodes", f"node:{node.name}", *self._service_topics(node.name))

    def register_catalog(
        self, node: Node | None, service: Service | None, checks: Iterable[Check]
    ) -> None:
        """`/v1/catalog/register`: a node, a service, checks, any of them unchanged, in one
        write under one index, as Consul applies one register request as one Raft entry
        (and one commit instead of one per part: the cost of a registration is its commit)."""
        with self._write() as w:
            if node is not None:
                self._put_node(w, node)
            if service is not None:
                self._put_service(w, service)
            for check in checks:
                self._put_check(w, check)

    def deregister_node(self, name: str) -> bool:
        if name not in self.nodes:
            return False
        with self._write() as w:
            topics = ["nodes", "services", "checks", f"node:{name}"]
            topics.extend(self._service_topics(name))
            for session in [s for s in self.sessions.values() if s.node == name]:
                self._invalidate(w, session)
            for svc in self.node_services(name):
                self._drop_service(svc)
                w.batch.delete(SERVICES, pair_key(name, svc.id))
            for chk in [c for c in self.checks.values() if c.node == name]:
                self._drop_check(chk)
                w.batch.delete(CHECKS, pair_key(name, chk.check_id))
            del self.nodes[name]
            w.batch.delete(NODES, name)
            w.touch(*topics)
        return True

    # -- services ---------------------------------------------------------------------------

    def register_service(
        self, service: Service, checks: Iterable[Check], *, replace_checks: bool = False
    ) -> list[Check]:
        """Add or update a service and its checks; returns the checks as stored.

        A check re-registered with the same definition keeps its status and output, so a
        client that re-registers what is already there changes nothing and wakes nobody.
        """
        new_checks = list(checks)
        with self._write() as w:
            self._put_service(w, service)
            wanted = {c.check_id for c in new_checks}
            if replace_checks:
                for chk in self.checks_of(service.node, service.id):
                    if chk.check_id not in wanted:
                        self._delete_check(w, chk)
            stored = [self._put_check(w, chk) for chk in new_checks]
        return stored

    def _put_service(self, w: CatalogStore._Write, service: Service) -> None:
        old = self.services.get((service.node, service.id))
        if old is not None and old.same_content(service):
            return
        service.create_index = old.create_index if old else w.index
        service.modify_index = w.index
        self._save_service(w.batch, service)
        self._add_service(service)
        w.touch("services", f"svc:{service.name}", f"node:{service.node}")
        if old is not None and old.name != service.name:
            w.touch(f"svc:{old.name}")
        if old is not None and (old.tags != service.tags or old.name != service.name):
            # the service's checks carry its name and tags
            for chk in self.checks_of(service.node, service.id):
                chk.service_tags = service.tags  # shared: never changed in place
                chk.service_name = service.name
                chk.modify_index = w.index
                self._save_check(w.batch, chk)
                w.touch(*self._check_topics(chk))

    def deregister_service(self, node: str, service_id: str) -> Service | None:
        svc = self.services.get((node, service_id))
        if svc is None:
            return None
        with self._write() as w:
            for chk in self.checks_of(node, service_id):
                self._delete_check(w, chk)
            self._drop_service(svc)
            w.batch.delete(SERVICES, pair_key(node, service_id))
            w.touch("services", f"svc:{svc.name}", f"node:{node}")
        return svc

    # -- checks -----------------------------------------------------------------------------

    def _put_check(self, w: CatalogStore._Write, check: Check) -> Check:
        key = (check.node, check.check_id)
        old = self.checks.get(key)
        # A check this agent runs keeps its last result when registered again unchanged; one
        # it does not run (`/v1/catalog/register`) takes the status it is registered with,
        # as in Consul: that is how external health checkers report.
        runs_here = check.definition.kind != ""
        same_result = old is not None and (old.status, old.output) == (check.status, check.output)
        if old is not None and old.same_definition(check) and (runs_here or same_result):
            return old
        if old is not None and runs_here and old.definition == check.definition:
            check.status, check.output = old.status, old.output
        if old is not None and check.status == CRITICAL and old.status != CRITICAL:
            self._invalidate_for_check(w, check.node, check.check_id)
        check.create_index = old.create_index if old else w.index
        check.modify_index = w.index
        self._save_check(w.batch, check)
        self._add_check(check)
        w.touch(*self._check_topics(check))
        if old is not None and old.service_name != check.service_name:
            w.touch(*self._check_topics(old))
        return check

    def _delete_check(self, w: CatalogStore._Write, check: Check) -> None:
        self._invalidate_for_check(w, check.node, check.check_id)
        self._drop_check(check)
        w.batch.delete(CHECKS, pair_key(check.node, check.check_id))
        w.touch(*self._check_topics(check))

    def register_check(self, check: Check) -> Check:
        with self._write() as w:
            return self._put_check(w, check)

    def deregister_check(self, node: str, check_id: str) -> Check | None:
        chk = self.checks.get((node, check_id))
        if chk is None:
            return None
        with self._write() as w:
            self._delete_check(w, chk)
        return chk

    def update_check(self, node: str, check_id: str, status: str, output: str) -> bool:
        """Record a check result; True when the status changed (and watchers were woken)."""
        chk = self.checks.get((node, check_id))
        if chk is None:
            return False
        if chk.status == status and chk.output == output:
            return False
        with self._write() as w:
            changed = chk.status != status
            chk.status, chk.output = intern(status), output
            if changed:
                chk.modify_index = w.index
                w.touch(*self._check_topics(chk))
                if status == CRITICAL:
                    self._invalidate_for_check(w, node, check_id)
            self._save_check(w.batch, chk)
        return changed

    # -- KV -----------------------------------------------------------------------------------

    def kv_get(self, key: str) -> KVEntry | None:
        return self.kv.get(key)

    def kv_prefix(self, prefix: str) -> list[KVEntry]:
        start = bisect.bisect_left(self._kv_keys, prefix)
        out = []
        for key in self._kv_keys[start:]:
            if not key.startswith(prefix):
                break
            out.append(self.kv[key])
        return out

    def kv_index(self, prefix: str, *, exact: bool) -> int:
        """The index a KV read answers with: the highest ModifyIndex under the key or
        prefix, deletions included, else the KV table's index (as Consul answers)."""
        best = 0
        if exact:
            entry = self.kv.get(prefix)
            best = max(entry.modify_index if entry else 0, self._tombstones.get(prefix, 0))
        else:
            for entry in self.kv_prefix(prefix):
                best = max(best, entry.modify_index)
            start = bisect.bisect_left(self._tombstone_keys, prefix)
            for key in self._tombstone_keys[start:]:
                if not key.startswith(prefix):
                    break
                best = max(best, self._tombstones[key])
        return best or self.topic_index("kvs")

    def kv_put(
        self,
        key: str,
        value: bytes,
        flags: int,
        cas: int | None,
        *,
        acquire: str = "",
        release: str = "",
    ) -> bool:
        """Write a key; False when `cas`, `acquire` or `release` says no, as Consul answers.

        `acquire` takes the key's lock for a session (LockIndex counts the acquisitions);
        `release` gives it up. Raises SessionError when `acquire` names no session.
        """
        decision = self._kv_decide(key, value, flags, cas, acquire, release)
        if decision is None:
            return False
        if decision != UNCHANGED:
            with self._write() as w:
                self._kv_store(w, key, value, flags, *decision)
        return True

    def _kv_decide(
        self,
        key: str,
        value: bytes,
        flags: int,
        cas: int | None,
        acquire: str,
        release: str,
    ) -> tuple[int, str] | None:
        """What a write of `key` would store: (LockIndex, Session); `UNCHANGED` when it
        changes nothing, None when it is refused."""
        old = self.kv.get(key)
        if cas is not None:
            if cas == 0 and old is not None:
                return None
            if cas != 0 and (old is None or old.modify_index != cas):
                return None
        lock_index = old.lock_index if old else 0
        session = old.session if old else ""
        if acquire:
            if acquire not in self.sessions:
                raise SessionError(f'invalid session "{acquire}"')
            if session and session != acquire:
                return None
            if not session:
                if self._lock_delays.get(key, 0.0) > time.monotonic():
                    return None
                lock_index += 1
            session = acquire
        elif release:
            if old is None or old.session != release:
                return None
            session = ""
        if (
            old is not None
            and cas is None
            and (old.value, old.flags, old.session, old.lock_index)
            == (value, flags, session, lock_index)
        ):
            return UNCHANGED
        return lock_index, session

    def _kv_store(
        self,
        w: CatalogStore._Write,
        key: str,
        value: bytes,
        flags: int,
        lock_index: int,
        session: str,
    ) -> KVEntry:
        old = self.kv.get(key)
        entry = KVEntry(
            key=key,
            value=value,
            flags=flags,
            lock_index=lock_index,
            session=session,
            create_index=old.create_index if old else w.index,
            modify_index=w.index,
        )
        self._save_kv(w.batch, entry)
        if self._tombstones.pop(key, None) is not None:
            w.batch.delete(KV_TOMBSTONES, key)
            self._tombstone_keys.pop(bisect.bisect_left(self._tombstone_keys, key))
        if old is None:
            bisect.insort(self._kv_keys, key)
        self.kv[key] = entry
        w.touch("kvs")
        w.wakes.add(f"kv:{key}")
        return entry

    @staticmethod
    def _save_kv(batch: Batch, entry: KVEntry) -> None:
        batch.put(KV, entry.key, kv_record(entry))

    def _kv_remove(self, w: CatalogStore._Write, entry: KVEntry) -> None:
        del self.kv[entry.key]
        self._kv_keys.pop(bisect.bisect_left(self._kv_keys, entry.key))
        if entry.key not in self._tombstones:
            bisect.insort(self._tombstone_keys, entry.key)
        self._tombstones[entry.key] = w.index
        w.wakes.add(f"kv:{entry.key}")
        w.batch.delete(KV, entry.key)
        w.batch.put(KV_TOMBSTONES, entry.key, w.index)
        w.touch("kvs")

    def kv_delete(self, key: str, *, recurse: bool, cas: int | None) -> bool:
        if recurse:
            entries = self.kv_prefix(key)
        else:
            one = self.kv.get(key)
            if cas is not None and one is not None and one.modify_index != cas:
                return False  # a CAS delete of a key that is already gone succeeds, as Consul's
            entries = [one] if one is not None else []
        if not entries:
            return True
        with self._write() as w:
            for entry in entries:
                self._kv_remove(w, entry)
        return True

    # -- transactions ---------------------------------------------------------------------------

    def kv_txn(self, ops: list[KVOp]) -> tuple[list[tuple[KVEntry, bool]], list[tuple[int, str]]]:
        """Run KV operations all or nothing, under one index, as Consul's `/v1/txn`
        (`catalog/store_txn.py`)."""
        from yurt.catalog.store_txn import run_kv_txn

        return run_kv_txn(self, ops)

    # -- sessions -----------------------------------------------------------------------------

    def session_create(self, session: Session) -> Session:
        with self._write() as w:
            session.create_index = session.modify_index = w.index
            w.batch.put(SESSIONS, session.id, session.to_record())
            self.sessions[session.id] = session
            w.touch("sessions")
        return session

    def session_destroy(self, session_id: str) -> Session | None:
        """Invalidate a session: its locks are released (or their keys deleted, for
        `Behavior: delete`) and held back for its lock-delay."""
        session = self.sessions.get(session_id)
        if session is None:
            return None
        with self._write() as w:
            self._invalidate(w, session)
        return session

    def _invalidate(self, w: CatalogStore._Write, session: Session) -> None:
        del self.sessions[session.id]
        w.batch.delete(SESSIONS, session.id)
        w.touch("sessions")
        now = time.monotonic()
        self._lock_delays = {k: t for k, t in self._lock_delays.items() if t > now}
        deadline = now + session.lock_delay_ns / SECOND
        for entry in [e for e in self.kv.values() if e.session == session.id]:
            if session.lock_delay_ns > 0:
                self._lock_delays[entry.key] = deadline
            if session.behavior == DELETE:
                self._kv_remove(w, entry)
                continue
            entry.session = ""
            entry.modify_index = w.index
            self._save_kv(w.batch, entry)
            w.touch("kvs")
            w.wakes.add(f"kv:{entry.key}")

    def _invalidate_for_check(self, w: CatalogStore._Write, node: str, check_id: str) -> None:
        """A session dies with any of its checks turning critical or going away."""
        for session in list(self.sessions.values()):
            if session.node == node and check_id in session.check_ids():
                self._invalidate(w, session)


class _WriteContext:
    """One write of the store: the backend's transaction, then memory and the watchers.

    Memory is changed as the write goes; if the write or its commit fails, it is rebuilt
    from the backend, so that it never keeps half of a change that was not committed."""

    def __init__(self, store: CatalogStore) -> None:
        self.store = store
        self._tx = store.backend.transaction()
        self.write: CatalogStore._Write | None = None

    def __enter__(self) -> CatalogStore._Write:
        self.write = CatalogStore._Write(self.store, self._tx.__enter__())
        return self.write

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        write, store = self.write, self.store
        assert write is not None
        if exc is not None:
            self._tx.__exit__(type(exc), exc, tb)  # type: ignore[arg-type]
            store._load()
            store.generation += 1
            return
        store._finish(write)
        try:
            self._tx.__exit__(None, None, None)
        except BaseException:
            store._load()
            store.generation += 1
            raise
        if write.topics:
            store._topics.advance(write.topics, write.index)
        store._topics.publish(*write.topics, *write.wakes)
