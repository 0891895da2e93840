"""Nomad Variables in the scheduler's store: writes (set, check-and-set, delete, lock
acquire, renew and release), each one store transaction, and the reads the API answers.

Items are sealed with the server's keyring before they reach the store and opened only
for an answer; the decisions (CAS, locks and their TTL/delay) are `yurt.scheduler.variables`.
A variable is the store's `variable` kind, keyed `namespace\\0path`.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from yurt.scheduler import store as s
from yurt.scheduler import variables as v
from yurt.scheduler import workload_identity as wi
from yurt.scheduler.acl_policy import WorkloadClaim
from yurt.scheduler.keyring import Keyring
from yurt.scheduler.structs import Variable, VariableLock

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
    _keyring: Keyring | None = None

    def keyring_at(self, data_dir: Path | str) -> Keyring:
        """The keyring of the server's data directory, opened (or made) on first use."""
        if self._keyring is None:
            self._keyring = Keyring(Path(data_dir) / "keyring")
        return self._keyring

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            raise RuntimeError("variables: keyring_at() was never called")
        return self._keyring

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
