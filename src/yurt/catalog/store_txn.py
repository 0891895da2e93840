"""Consul's `/v1/txn` on the catalog's KV table: operations run all or nothing, under one
index, in one write of the store (`CatalogStore.kv_txn`)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from yurt.catalog.model import KVEntry

if TYPE_CHECKING:
    from yurt.catalog.store import CatalogStore

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


class SessionError(ValueError):
    """A KV lock request naming a session that does not exist."""


# what `CatalogStore._kv_decide` answers for a write that would change nothing
UNCHANGED = (-1, "")


class _TxnFailed(Exception):
    pass


def run_kv_txn(
    store: CatalogStore, ops: list[KVOp]
) -> tuple[list[tuple[KVEntry, bool]], list[tuple[int, str]]]:
    """Returns the results (each KV entry as it was after its operation, and whether its
    `Value` is answered: only for reads) and no errors, or no results and every failed
    operation's (position, reason): then the whole transaction is rolled back. Encoding
    is left to the caller, which can spread a large answer's over time.
    """
    results: list[tuple[KVEntry, bool]] = []
    errors: list[tuple[int, str]] = []
    try:
        with store._write() as w:
            for i, op in enumerate(ops):
                what = _txn_op(store, w, op, results)
                if what is not None:
                    errors.append((i, what))
            if errors:
                raise _TxnFailed
    except _TxnFailed:
        return [], errors
    return results, []


def _txn_op(
    store: CatalogStore, w: CatalogStore._Write, op: KVOp, results: list[tuple[KVEntry, bool]]
) -> str | None:
    key, verb = op.key, op.verb
    entry = store.kv.get(key)

    def found(e: KVEntry, with_value: bool) -> None:
        # A copy: a session's end changes entries in place (the value is shared, not copied).
        results.append((copy.copy(e), with_value))

    if verb in ("set", "cas", "lock", "unlock"):
        try:
            decision = store._kv_decide(
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
        if decision == UNCHANGED:
            found(store.kv[key], False)
        else:
            found(store._kv_store(w, key, op.value, op.flags, *decision), False)
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
        for e in store.kv_prefix(key):
            found(e, True)
        return None
    if verb == "check-not-exists":
        return f'key "{key}" exists' if entry is not None else None
    if verb == "delete":
        if entry is not None:
            store._kv_remove(w, entry)
        return None
    if verb == "delete-tree":
        for e in store.kv_prefix(key):
            store._kv_remove(w, e)
        return None
    if verb == "delete-cas":
        if entry is not None and entry.modify_index != op.index:
            return f'failed to delete key "{key}", index is stale'
        if entry is not None:
            store._kv_remove(w, entry)
        return None
    return f"unknown KV verb {verb!r}"
