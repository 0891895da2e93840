"""The catalog's state: SQLite for durability, an in-memory copy for reads.

Every change runs in one SQLite transaction that takes the next index, so a restart (even
after `kill -9`) finds every acknowledged write and an index that never goes backwards.

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

import bisect
import copy
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from yurt.api.blocking import WatchHub
from yurt.api.durations import SECOND
from yurt.catalog.model import CRITICAL, DELETE, Check, KVEntry, Node, Service, Session
from yurt.storage.sqlite import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (name TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS services (
    node TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (node, id));
CREATE TABLE IF NOT EXISTS checks (
    node TEXT NOT NULL, check_id TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (node, check_id));
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY, value BLOB, flags INTEGER NOT NULL, lock_index INTEGER NOT NULL,
    session TEXT NOT NULL, create_index INTEGER NOT NULL, modify_index INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kv_tombstones (key TEXT PRIMARY KEY, idx INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS topic_index (topic TEXT PRIMARY KEY, idx INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, data TEXT NOT NULL);
"""


class SessionError(ValueError):
    """A KV lock request naming a session that does not exist."""


# what _kv_decide answers for a write that would change nothing
_UNCHANGED = (-1, "")

TXN_KV_VERBS = (
    "set",
    "cas",
    "lock",
    "unlock",
    "get",
    "get-tree",
    "check-index",
    "check-session",
    "check-not-exists",
    "delete",
    "delete-tree",
    "delete-cas",
)


@dataclass
class KVOp:
    """One KV operation of a `/v1/txn` transaction."""

    verb: str
    key: str
    value: bytes = b""
    flags: int = 0
    index: int = 0
    session: str = ""


class _TxnFailed(Exception):
    pass


class CatalogStore:
    def __init__(self, path: Path | str, hub: WatchHub) -> None:
        self.db = Database(path)
        self.hub = hub
        self.db.conn.executescript(_SCHEMA)
        # keys released by an invalidated session cannot be acquired again before this
        # (monotonic) time: Consul's lock-delay, kept in memory as Consul keeps it
        self._lock_delays: dict[str, float] = {}
        # Bumped by every in-memory change, output-only check updates included (which take
        # no index): answers cached under one generation are still exact.
        self.generation = 0
        # other tables' in-memory copies (the ACL store's), rebuilt with this one's
        self.reload_hooks: list[Callable[[], None]] = []
        self._load()

    # -- loading and bookkeeping ------------------------------------------------------

    def _load(self) -> None:
        """(Re)build the in-memory copy from SQLite: at start, and after a failed write,
        so that memory never keeps half of a change the database rolled back."""
        self.nodes: dict[str, Node] = {}
        self.services: dict[tuple[str, str], Service] = {}
        self.checks: dict[tuple[str, str], Check] = {}
        self.kv: dict[str, KVEntry] = {}
        self._kv_keys: list[str] = []
        self._tombstones: dict[str, int] = {}
        self._tombstone_keys: list[str] = []
        self._topics: dict[str, int] = {}
        self.sessions: dict[str, Session] = {}
        # secondary indexes, so that a read touches only what it answers with
        self._by_name: dict[str, dict[tuple[str, str], Service]] = {}
        self._by_node: dict[str, dict[str, Service]] = {}
        self._checks_of: dict[tuple[str, str], dict[str, Check]] = {}
        conn = self.db.conn
        for row in conn.execute("SELECT data FROM nodes"):
            node = Node.from_record(json.loads(row[0]))
            self.nodes[node.name] = node
        for row in conn.execute("SELECT data FROM services"):
            self._add_service(Service.from_record(json.loads(row[0])))
        for row in conn.execute("SELECT data FROM checks"):
            self._add_check(Check.from_record(json.loads(row[0])))
        for row in conn.execute(
            "SELECT key, value, flags, lock_index, session, create_index, modify_index FROM kv"
        ):
            self.kv[row[0]] = KVEntry(row[0], None if row[1] is None else bytes(row[1]), *row[2:])
        self._kv_keys = sorted(self.kv)
        for row in conn.execute("SELECT key, idx FROM kv_tombstones"):
            self._tombstones[row[0]] = int(row[1])
        self._tombstone_keys = sorted(self._tombstones)
        for row in conn.execute("SELECT topic, idx FROM topic_index"):
            self._topics[row[0]] = int(row[1])
        for row in conn.execute("SELECT data FROM sessions"):
            session = Session.from_record(json.loads(row[0]))
            self.sessions[session.id] = session
        for hook in self.reload_hooks:
            hook()

    def close(self) -> None:
        self.db.close()

    @property
    def index(self) -> int:
        return self.db.index

    # -- the in-memory indexes ---------------------------------------------------------------

    def _add_service(self, svc: Service) -> None:
        old = self.services.get((svc.node, svc.id))
        if old is not None:
            self._drop_service(old)
        self.services[(svc.node, svc.id)] = svc
        self._by_name.setdefault(svc.name, {})[(svc.node, svc.id)] = svc
        self._by_node.setdefault(svc.node, {})[svc.id] = svc

    def _drop_service(self, svc: Service) -> None:
        self.services.pop((svc.node, svc.id), None)
        named = self._by_name.get(svc.name, {})
        named.pop((svc.node, svc.id), None)
        if not named:
            self._by_name.pop(svc.name, None)
        on_node = self._by_node.get(svc.node, {})
        on_node.pop(svc.id, None)
        if not on_node:
            self._by_node.pop(svc.node, None)

    def _add_check(self, chk: Check) -> None:
        old = self.checks.get((chk.node, chk.check_id))
        if old is not None:
            self._drop_check(old)
        self.checks[(chk.node, chk.check_id)] = chk
        self._checks_of.setdefault((chk.node, chk.service_id), {})[chk.check_id] = chk

    def _drop_check(self, chk: Check) -> None:
        self.checks.pop((chk.node, chk.check_id), None)
        group = self._checks_of.get((chk.node, chk.service_id), {})
        group.pop(chk.check_id, None)
        if not group:
            self._checks_of.pop((chk.node, chk.service_id), None)

    def instances(self, name: str) -> list[Service]:
        """The instances of service `name`, by node then ID."""
        found = self._by_name.get(name)
        if not found:
            return []
        return [found[k] for k in sorted(found)]

    def service_names(self) -> list[str]:
        return sorted(self._by_name)

    def node_services(self, node: str) -> list[Service]:
        found = self._by_node.get(node, {})
        return [found[k] for k in sorted(found)]

    def checks_of(self, node: str, service_id: str) -> list[Check]:
        """The checks of one service (`service_id=""`: the node's own checks), by ID."""
        group = self._checks_of.get((node, service_id), {})
        return [group[k] for k in sorted(group)]

    def node_checks(self, node: str) -> list[Check]:
        """Every check on `node`, node checks included, by ID."""
        out = self.checks_of(node, "")
        for sid in self._by_node.get(node, {}):
            out.extend(self.checks_of(node, sid))
        for (n, sid), group in self._checks_of.items():
            if n == node and sid and sid not in self._by_node.get(node, {}):
                out.extend(group.values())  # checks of a service since removed by hand
        return sorted(out, key=lambda c: c.check_id)

    def topic_index(self, topic: str, fallback: str | None = None) -> int:
        idx = self._topics.get(topic)
        if idx is None and fallback is not None:
            idx = self._topics.get(fallback)
        return max(idx or 1, 1)

    class _Write:
        """One write: a transaction, its index, the topics it touches."""

        def __init__(self, store: CatalogStore, conn: sqlite3.Connection) -> None:
            self.store = store
            self.conn = conn
            self._index = 0
            self.topics: set[str] = set()
            # woken but not given an index of their own (one KV key's readers)
            self.wakes: set[str] = set()

        @property
        def index(self) -> int:
            if not self._index:
                self._index = self.store.db.next_index()
            return self._index

        def touch(self, *topics: str) -> None:
            self.topics.update(topics)

    def _write(self) -> _WriteContext:
        return _WriteContext(self)

    def _finish(self, write: CatalogStore._Write) -> None:
        self.generation += 1
        if not write.topics:
            return
        idx = write.index
        for topic in write.topics:
            self._topics[topic] = idx
            write.conn.execute(
                "INSERT INTO topic_index(topic, idx) VALUES(?, ?) "
                "ON CONFLICT(topic) DO UPDATE SET idx=excluded.idx",
                (topic, idx),
            )

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
    def _save_node(conn: sqlite3.Connection, node: Node) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO nodes(name, data) VALUES(?, ?)",
            (node.name, json.dumps(node.to_record())),
        )

    @staticmethod
    def _save_service(conn: sqlite3.Connection, svc: Service) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO services(node, id, data) VALUES(?, ?, ?)",
            (svc.node, svc.id, json.dumps(svc.to_record())),
        )

    @staticmethod
    def _save_check(conn: sqlite3.Connection, chk: Check) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO checks(node, check_id, data) VALUES(?, ?, ?)",
            (chk.node, chk.check_id, json.dumps(chk.to_record())),
        )

    # -- nodes ----------------------------------------------------------------------------

    def upsert_node(self, node: Node) -> bool:
        old = self.nodes.get(node.name)
        if old is not None and old.same_content(node):
            return False
        with self._write() as w:
            node.create_index = old.create_index if old else w.index
            node.modify_index = w.index
            self._save_node(w.conn, node)
            self.nodes[node.name] = node
            w.touch("nodes", f"node:{node.name}", *self._service_topics(node.name))
        return True

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
            for chk in [c for c in self.checks.values() if c.node == name]:
                self._drop_check(chk)
            del self.nodes[name]
            w.conn.execute("DELETE FROM services WHERE node=?", (name,))
            w.conn.execute("DELETE FROM checks WHERE node=?", (name,))
            w.conn.execute("DELETE FROM nodes WHERE name=?", (name,))
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
            key = (service.node, service.id)
            old = self.services.get(key)
            if old is None or not old.same_content(service):
                service.create_index = old.create_index if old else w.index
                service.modify_index = w.index
                self._save_service(w.conn, service)
                self._add_service(service)
                w.touch("services", f"svc:{service.name}", f"node:{service.node}")
                if old is not None and old.name != service.name:
                    w.touch(f"svc:{old.name}")
                if old is not None and (old.tags != service.tags or old.name != service.name):
                    # the service's checks carry its name and tags
                    for chk in self.checks_of(service.node, service.id):
                        chk.service_tags = list(service.tags)
                        chk.service_name = service.name
                        chk.modify_index = w.index
                        self._save_check(w.conn, chk)
                        w.touch(*self._check_topics(chk))
            wanted = {c.check_id for c in new_checks}
            if replace_checks:
                for chk in self.checks_of(service.node, service.id):
                    if chk.check_id not in wanted:
                        self._delete_check(w, chk)
            stored = [self._put_check(w, chk) for chk in new_checks]
        return stored

    def deregister_service(self, node: str, service_id: str) -> Service | None:
        svc = self.services.get((node, service_id))
        if svc is None:
            return None
        with self._write() as w:
            for chk in self.checks_of(node, service_id):
                self._delete_check(w, chk)
            self._drop_service(svc)
            w.conn.execute("DELETE FROM services WHERE node=? AND id=?", (node, service_id))
            w.touch("services", f"svc:{svc.name}", f"node:{node}")
        return svc

    # -- checks -----------------------------------------------------------------------------

    def _put_check(self, w: CatalogStore._Write, check: Check) -> Check:
        key = (check.node, check.check_id)
        old = self.checks.get(key)
        if old is not None and old.same_definition(check):
            return old
        if old is not None and old.definition == check.definition:
            check.status, check.output = old.status, old.output
        if old is not None and check.status == CRITICAL and old.status != CRITICAL:
            self._invalidate_for_check(w, check.node, check.check_id)
        check.create_index = old.create_index if old else w.index
        check.modify_index = w.index
        self._save_check(w.conn, check)
        self._add_check(check)
        w.touch(*self._check_topics(check))
        if old is not None and old.service_name != check.service_name:
            w.touch(*self._check_topics(old))
        return check

    def _delete_check(self, w: CatalogStore._Write, check: Check) -> None:
        self._invalidate_for_check(w, check.node, check.check_id)
        self._drop_check(check)
        w.conn.execute(
            "DELETE FROM checks WHERE node=? AND check_id=?", (check.node, check.check_id)
        )
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
            chk.status, chk.output = status, output
            if changed:
                chk.modify_index = w.index
                w.touch(*self._check_topics(chk))
                if status == CRITICAL:
                    self._invalidate_for_check(w, node, check_id)
            self._save_check(w.conn, chk)
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
        if decision != _UNCHANGED:
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
        """What a write of `key` would store: (LockIndex, Session); `_UNCHANGED` when it
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
            return _UNCHANGED
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
        self._save_kv(w.conn, entry)
        if self._tombstones.pop(key, None) is not None:
            w.conn.execute("DELETE FROM kv_tombstones WHERE key=?", (key,))
            self._tombstone_keys.pop(bisect.bisect_left(self._tombstone_keys, key))
        if old is None:
            bisect.insort(self._kv_keys, key)
        self.kv[key] = entry
        w.touch("kvs")
        w.wakes.add(f"kv:{key}")
        return entry

    @staticmethod
    def _save_kv(conn: sqlite3.Connection, entry: KVEntry) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO kv(key, value, flags, lock_index, session, create_index,"
            " modify_index) VALUES(?, ?, ?, ?, ?, ?, ?)",
            (
                entry.key,
                entry.value,
                entry.flags,
                entry.lock_index,
                entry.session,
                entry.create_index,
                entry.modify_index,
            ),
        )

    def _kv_remove(self, w: CatalogStore._Write, entry: KVEntry) -> None:
        del self.kv[entry.key]
        self._kv_keys.pop(bisect.bisect_left(self._kv_keys, entry.key))
        if entry.key not in self._tombstones:
            bisect.insort(self._tombstone_keys, entry.key)
        self._tombstones[entry.key] = w.index
        w.wakes.add(f"kv:{entry.key}")
        w.conn.execute("DELETE FROM kv WHERE key=?", (entry.key,))
        w.conn.execute(
            "INSERT OR REPLACE INTO kv_tombstones(key, idx) VALUES(?, ?)", (entry.key, w.index)
        )
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
        """Run KV operations all or nothing, under one index, as Consul's `/v1/txn`.

        Returns the results (each KV entry as it was after its operation, and whether its
        `Value` is answered: only for reads) and no errors, or no results and every failed
        operation's (position, reason): then the whole transaction is rolled back. Encoding
        is left to the caller, which can spread a large answer's over time.
        """
        results: list[tuple[KVEntry, bool]] = []
        errors: list[tuple[int, str]] = []
        try:
            with self._write() as w:
                for i, op in enumerate(ops):
                    what = self._txn_op(w, op, results)
                    if what is not None:
                        errors.append((i, what))
                if errors:
                    raise _TxnFailed
        except _TxnFailed:
            return [], errors
        return results, []

    def _txn_op(
        self, w: CatalogStore._Write, op: KVOp, results: list[tuple[KVEntry, bool]]
    ) -> str | None:
        key, verb = op.key, op.verb
        entry = self.kv.get(key)

        def found(e: KVEntry, with_value: bool) -> None:
            # A copy: a session's end changes entries in place (the value is shared, not copied).
            results.append((copy.copy(e), with_value))

        if verb in ("set", "cas", "lock", "unlock"):
            try:
                decision = self._kv_decide(
                    key,
                    op.value,
                    op.flags,
                    op.index if verb == "cas" else None,
                    op.session if verb == "lock" else "",
                    op.session if verb == "unlock" else "",
                )
            except SessionError as exc:
                return str(exc)
            if decision is None:
                return {
                    "cas": f'failed to set key "{key}", index is stale',
                    "lock": f'failed to lock key "{key}", lock is already held',
                    "unlock": f'failed to unlock key "{key}", lock isn\'t held, or is held by '
                    "another session",
                }.get(verb, f'failed to set key "{key}"')
            if decision == _UNCHANGED:
                found(self.kv[key], False)
            else:
                found(self._kv_store(w, key, op.value, op.flags, *decision), False)
            return None
        if verb in ("get", "check-index", "check-session"):
            if entry is None:
                return f'key "{key}" doesn\'t exist'
            if verb == "check-index" and entry.modify_index != op.index:
                return f"current modify index {entry.modify_index} != {op.index}"
            if verb == "check-session" and entry.session != op.session:
                return f"current session {entry.session!r} != {op.session!r}"
            found(entry, verb == "get")
            return None
        if verb == "get-tree":
            for e in self.kv_prefix(key):
                found(e, True)
            return None
        if verb == "check-not-exists":
            return f'key "{key}" exists' if entry is not None else None
        if verb == "delete":
            if entry is not None:
                self._kv_remove(w, entry)
            return None
        if verb == "delete-tree":
            for e in self.kv_prefix(key):
                self._kv_remove(w, e)
            return None
        if verb == "delete-cas":
            if entry is not None and entry.modify_index != op.index:
                return f'failed to delete key "{key}", index is stale'
            if entry is not None:
                self._kv_remove(w, entry)
            return None
        return f"unknown KV verb {verb!r}"

    # -- sessions -----------------------------------------------------------------------------

    def session_create(self, session: Session) -> Session:
        with self._write() as w:
            session.create_index = session.modify_index = w.index
            w.conn.execute(
                "INSERT OR REPLACE INTO sessions(id, data) VALUES(?, ?)",
                (session.id, json.dumps(session.to_record())),
            )
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
        w.conn.execute("DELETE FROM sessions WHERE id=?", (session.id,))
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
            self._save_kv(w.conn, entry)
            w.touch("kvs")
            w.wakes.add(f"kv:{entry.key}")

    def _invalidate_for_check(self, w: CatalogStore._Write, node: str, check_id: str) -> None:
        """A session dies with any of its checks turning critical or going away."""
        for session in list(self.sessions.values()):
            if session.node == node and check_id in session.check_ids():
                self._invalidate(w, session)


class _WriteContext:
    def __init__(self, store: CatalogStore) -> None:
        self.store = store
        self._tx = store.db.transaction()
        self.write: CatalogStore._Write | None = None

    def __enter__(self) -> CatalogStore._Write:
        conn = self._tx.__enter__()
        self.write = CatalogStore._Write(self.store, conn)
        return self.write

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        assert self.write is not None
        if exc is None:
            self.store._finish(self.write)
            self._tx.__exit__(None, None, None)
            self.store.hub.notify(*self.write.topics, *self.write.wakes)
        else:
            self._tx.__exit__(type(exc), exc, tb)  # type: ignore[arg-type]
            self.store._load()
            self.store.generation += 1
