"""Nomad Variables in the scheduler's store: writes (set, check-and-set, delete, lock
acquire, renew and release), each one store transaction, and the reads the API answers.

Items are sealed with the server's keyring before they reach the store and opened only
for an answer; the decisions (CAS, locks and their TTL/delay) are `yurt.scheduler.variables`.
A variable is the store's `variable` kind, keyed `namespace\\0path`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from yurt.scheduler import store as s
from yurt.scheduler import variables as v
from yurt.scheduler import workload_identity as wi
from yurt.scheduler.acl_policy import WorkloadClaim
from yurt.scheduler.keyring import (
    ACTIVE,
    INACTIVE,
    Keyring,
    NoRootKey,
    RootKey,
    legacy_key,
    ordered,
)
from yurt.scheduler.structs import Variable, VariableLock
from yurt.storage.etcd import IndexConflict
from yurt.storage.etcd_client import EtcdError
from yurt.storage.interface import RemoteChange

log = logging.getLogger(__name__)

SET = "set"
DELETE = "delete"


def variable_key(namespace: str, path: str) -> str:
    return f"{namespace}\x00{path}"


@dataclass(frozen=True)
class Applied:
    """A write's outcome: `ok`, the variable as stored afterwards (None after a delete) or,
    on a conflict, the current one (None when there is none); `index` of the commit (or
    of the conflicting variable)."""

    ok: bool
    var: Variable | None
    index: int


class VariableOps:
    store: s.Store
    # False on a follower of a shared store: the leader makes the root key (writes go to it)
    makes_keys: bool = True
    _keyring: Keyring | None = None
    _keyring_of: tuple[tuple[str, int], ...] = ()  # the rows `_keyring` was built from
    _imported = False

    def keyring_at(self, data_dir: Path | str) -> Keyring:
        """The keyring in the store, with the key of an older yurt's
        `<data_dir>/keyring/*.json` imported on first use and a root key made when there
        is none (by the leader, as Nomad's leader does when it takes the lead). A follower
        that finds none raises `NoRootKey` (the API answers 500; the leader's key arrives
        through the store's watch)."""
        if not self._imported:
            try:
                self._import_legacy(Path(data_dir) / "keyring")
                self._imported = True
            except EtcdError as exc:
                if self.makes_keys:
                    raise
                # a follower's own write refused (it led once: its fence is stale);
                # tried again at the next use, and when it leads
                log.warning("variables keyring: importing the data dir's key: %s", exc)
        if not self.store.tables[s.KEYRING]:
            if not self.makes_keys:
                raise NoRootKey(
                    "variables keyring: no root key in the store yet; the leader makes it "
                    "when it takes the lead: retry"
                )
            self._store_key(RootKey.generated(), made=True)
        return self.keyring

    @property
    def keyring(self) -> Keyring:
        """The store's keys, rebuilt when its rows changed (a put is a new row object)."""
        rows = self.store.tables[s.KEYRING]
        of = tuple((key, id(row)) for key, row in rows.items())
        if self._keyring is None or self._keyring_of != of:
            self._keyring = Keyring(ordered(rows.values()))
            self._keyring_of = of
        return self._keyring

    def _import_legacy(self, directory: Path) -> None:
        found = legacy_key(directory)
        if found is not None and found.key_id not in self.store.tables[s.KEYRING]:
            self._store_key(found, made=False)

    def _store_key(self, key: RootKey, *, made: bool) -> None:
        """Store `key`: active when the store has none, else (an imported one) inactive.
        Two servers storing at the same moment: the commit that lost its index re-reads
        the store and keeps the other's key; if both commit, the older key is the active
        one everywhere (`ordered`) and the newer, when freshly made (nothing sealed with
        it yet), is deleted by its maker."""
        state = INACTIVE if self.store.tables[s.KEYRING] else ACTIVE
        try:
            with self.store.write() as txn:
                txn.put(s.KEYRING, key.key_id, key.row(state, txn.index, time.time_ns()))
        except IndexConflict:
            self._reread_keys()
            if made or key.key_id in self.store.tables[s.KEYRING]:
                return
            # an imported key must get in: the other write did not carry it
            self._store_key(key, made=False)
            return
        self._reread_keys()
        if made and ordered(self.store.tables[s.KEYRING].values())[0].key_id != key.key_id:
            # lost to another write: the key stays, unused (never active), and harmless
            with contextlib.suppress(IndexConflict), self.store.write() as txn:
                txn.delete(s.KEYRING, key.key_id)

    def _reread_keys(self) -> None:
        """The keyring rows as the backend has them now, into memory (applying a row the
        watch brings again changes nothing)."""
        rows = [RemoteChange(s.KEYRING, k, v, 0) for k, v in self.store.backend.load(s.KEYRING)]
        if rows:
            self.store.apply_remote(rows)

    def identity(self, token: str, data_dir: Path | str) -> WorkloadClaim | None:
        """The claim of a task's workload identity token (None: forged, or its allocation
        is gone or terminal)."""
        return wi.claim_of(self.keyring_at(data_dir), token, self.store.allocs)

    # --- reads ---------------------------------------------------------------------------

    def _variables(self) -> dict[str, Variable]:
        """The store's variable rows, as what they are."""
        return self.store.variables

    def variable(self, namespace: str, path: str) -> Variable | None:
        return self._variables().get(variable_key(namespace, path))

    def variables_under(self, namespace: str, prefix: str) -> list[Variable]:
        """Variables of a namespace (`*`: all) whose path starts with `prefix`."""
        return [
            var
            for var in self._variables().values()
            if namespace in ("*", var["Namespace"]) and var["Path"].startswith(prefix)
        ]

    def items(self, var: Variable) -> dict[str, str]:
        if not var.get("Data"):
            return {}
        where = variable_key(var["Namespace"], var["Path"]).encode()
        opened: dict[str, str] = json.loads(self.keyring.open(var["Data"], var["KeyID"], where))
        return opened

    # --- writes --------------------------------------------------------------------------

    def set_variable(
        self,
        namespace: str,
        path: str,
        items: dict[str, str],
        *,
        cas: int | None = None,
        lock_id: str = "",
    ) -> Applied:
        v.validate(namespace, path, items)
        current = self.variable(namespace, path)
        now = time.time_ns()
        decision = v.decide_set(current, cas, lock_id, now)
        if decision.outcome != v.OK:
            return self._conflict(current)
        return self._put(namespace, path, current, items, decision.lock, keep=False, now=now)

    def delete_variable(self, namespace: str, path: str, *, cas: int | None = None) -> Applied:
        current = self.variable(namespace, path)
        decision = v.decide_delete(current, cas, time.time_ns())
        if decision.outcome != v.OK:
            return self._conflict(current)
        with self.store.write() as txn:
            if current is not None:
                txn.delete(s.VARIABLE, variable_key(namespace, path))
        return Applied(True, None, txn.index)

    def acquire_lock(
        self,
        namespace: str,
        path: str,
        items: dict[str, str],
        has_items: bool,
        request: v.LockRequest | None,
    ) -> Applied:
        lock = v.checked_lock(request)
        v.validate(namespace, path, items, lock=True)
        current = self.variable(namespace, path)
        now = time.time_ns()
        decision = v.decide_acquire(current, lock, str(uuid.uuid4()), now, has_items)
        if decision.outcome != v.OK:
            return self._conflict(current)
        return self._put(
            namespace, path, current, items, decision.lock, keep=decision.keep_items, now=now
        )

    def renew_lock(self, namespace: str, path: str, lock_id: str) -> Applied:
        current = self.variable(namespace, path)
        now = time.time_ns()
        decision = v.decide_renew(current, lock_id, now)
        if decision.outcome != v.OK or current is None:
            return self._conflict(current)
        # Nomad renews the lock's timer only (no Raft write): the variable keeps its
        # indexes; yurt stores the new expiry in place.
        with self.store.write() as txn:
            renewed: Variable = {**current, "Lock": decision.lock}
            txn.put(s.VARIABLE, variable_key(namespace, path), renewed)
        return Applied(True, renewed, txn.index)

    def release_lock(self, namespace: str, path: str, lock_id: str, has_items: bool) -> Applied:
        current = self.variable(namespace, path)
        now = time.time_ns()
        decision = v.decide_release(current, lock_id, now, has_items)
        if decision.outcome != v.OK:
            return self._conflict(current)
        return self._put(namespace, path, current, {}, None, keep=True, now=now)

    def release_lost_locks(self) -> int:
        """Take off the locks whose TTL and delay have both run out, as Nomad's lock timers
        do (one write for all of them); the number released."""
        now = time.time_ns()
        lost = [
            var
            for var in self._variables().values()
            if var.get("Lock") and v.lock_state(var, now) == v.FREE
        ]
        if not lost:
            return 0
        with self.store.write() as txn:
            for var in lost:
                freed: Variable = {**var, "Lock": None, "ModifyIndex": txn.index, "ModifyTime": now}
                txn.put(s.VARIABLE, variable_key(var["Namespace"], var["Path"]), freed)
        return len(lost)

    def _conflict(self, current: Variable | None) -> Applied:
        index = int(current["ModifyIndex"]) if current is not None else 0
        return Applied(False, current, index)

    def _put(
        self,
        namespace: str,
        path: str,
        current: Variable | None,
        items: dict[str, str],
        lock: VariableLock | None,
        *,
        keep: bool,
        now: int,
    ) -> Applied:
        if keep and current is not None:
            data, key_id = current.get("Data", ""), current.get("KeyID", "")
        else:
            plain = json.dumps(items, sort_keys=True).encode()
            # Bound to the variable's key: a blob copied onto another variable does not open.
            data, key_id = self.keyring.seal(plain, variable_key(namespace, path).encode())
        with self.store.write() as txn:
            var: Variable = {
                "Namespace": namespace,
                "Path": path,
                "CreateIndex": current["CreateIndex"] if current else txn.index,
                "CreateTime": current["CreateTime"] if current else now,
                "ModifyIndex": txn.index,
                "ModifyTime": now,
                "Lock": lock,
                "Data": data,
                "KeyID": key_id,
            }
            txn.put(s.VARIABLE, variable_key(namespace, path), var)
        return Applied(True, var, txn.index)
