"""The catalog's side of several servers on one etcd prefix: another server's commit into
this server's memory (`CatalogStore.apply_remote`, called on the loop by
`cluster/role.py`).

Each row changes the in-memory copy and its secondary indexes as the store's own writes
do. The topics to wake come with the commit: a write persists the index of every topic it
touched (the `topic_index` table) in the same transaction, so those rows name them; one KV
key's readers (`kv:<key>`, not persisted) are woken from the KV rows themselves. Tables
with copies of their own (ACLs, config entries) are rebuilt whole by the store's reload
hooks: they change rarely.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, TypeVar

from yurt.catalog.model import Check, Node, Service, Session
from yurt.storage.interface import RemoteChange

if TYPE_CHECKING:
    from yurt.catalog.store import CatalogStore

T = TypeVar("T")


def apply_remote(store: CatalogStore, changes: list[RemoteChange]) -> None:
    from yurt.catalog import store as cs

    topics: dict[str, int] = {}
    wakes: set[str] = set()
    reload = False
    for change in changes:
        table, key, data = change.table, change.key, change.value
        if table == cs.TOPIC_INDEX:
            if data is not None:
                topics[key] = int(data)
        elif table == cs.NODES:
            if data is None:
                store.nodes.pop(key, None)
            else:
                store.nodes[key] = Node.from_record(data)
        elif table == cs.SERVICES:
            _service(store, key, data)
        elif table == cs.CHECKS:
            _check(store, key, data)
        elif table == cs.KV:
            _kv(store, key, data)
            wakes.add(f"kv:{key}")
        elif table == cs.KV_TOMBSTONES:
            _tombstone(store, key, data)
            wakes.add(f"kv:{key}")
        elif table == cs.SESSIONS:
            if data is None:
                store.sessions.pop(key, None)
            else:
                store.sessions[key] = Session.from_record(data)
        else:
            reload = True
    if reload:
        for hook in store.reload_hooks:
            hook()
    store.generation += 1
    for topic, index in topics.items():
        store.advance_topic(topic, index)
    store.publish(*topics, *wakes)


def _service(store: CatalogStore, key: str, data: dict[str, object] | None) -> None:
    node, _, service_id = key.partition("\0")
    old = store.services.get((node, service_id))
    if old is not None:
        store._drop_service(old)
    if data is not None:
        store._add_service(Service.from_record(data))


def _check(store: CatalogStore, key: str, data: dict[str, object] | None) -> None:
    node, _, check_id = key.partition("\0")
    old = store.checks.get((node, check_id))
    if old is not None:
        store._drop_check(old)
    if data is not None:
        store._add_check(Check.from_record(data))


def _kv(store: CatalogStore, key: str, data: dict[str, object] | None) -> None:
    from yurt.catalog.store import kv_from_record

    entry = None if data is None else kv_from_record(data)
    _sorted_row(store.kv, store._kv_keys, key, entry)


def _tombstone(store: CatalogStore, key: str, data: object | None) -> None:
    index = None if data is None else int(str(data))
    _sorted_row(store._tombstones, store._tombstone_keys, key, index)


def _sorted_row(rows: dict[str, T], keys: list[str], key: str, value: T | None) -> None:
    """A row in or out of one of the store's tables kept with a sorted key list (prefix
    reads bisect it)."""
    at = bisect.bisect_left(keys, key)
    there = at < len(keys) and keys[at] == key
    if value is None:
        rows.pop(key, None)
        if there:
            del keys[at]
        return
    rows[key] = value
    if not there:
        keys.insert(at, key)
