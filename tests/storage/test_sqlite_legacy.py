"""A data dir written before the store interface opens with everything in it
(fixtures/legacy, made by fixtures/make_legacy.py with the code of that time)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from yurt.api.blocking import WatchHub
from yurt.catalog.acl_store import ACLStore
from yurt.catalog.acl_templates import GLOBAL_MANAGEMENT_ID
from yurt.catalog.model import Node
from yurt.catalog.store import CatalogStore
from yurt.scheduler import store as s

LEGACY = Path(__file__).parent / "fixtures" / "legacy"


def _copy(tmp_path: Path) -> Path:
    for name in ("catalog.db", "scheduler.db"):
        shutil.copy(LEGACY / name, tmp_path / name)
    return tmp_path


def _legacy_index(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT value FROM yurt_meta WHERE key='index'").fetchone()[0])
    finally:
        conn.close()


def _legacy_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return [tuple(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def test_a_legacy_catalog_opens_with_its_records_and_index(tmp_path: Path) -> None:
    path = _copy(tmp_path) / "catalog.db"
    index = _legacy_index(path)
    kv_rows = _legacy_rows(path, "SELECT key, value, flags, lock_index, session FROM kv")
    tombstones = dict(_legacy_rows(path, "SELECT key, idx FROM kv_tombstones"))
    topics = dict(_legacy_rows(path, "SELECT topic, idx FROM topic_index"))
    store = CatalogStore(path, WatchHub())
    acl = ACLStore(store)
    assert store.index == index
    node = store.nodes["n1"]
    assert (node.address, node.meta) == ("10.0.0.1", {"rack": "a"})
    assert store.services[("n1", "web-1")].tags == ["urlprefix-/web"]
    assert store.checks_of("n1", "web-1")[0].check_id == "service:web-1"
    assert [e.key for e in store.kv_prefix("")] == sorted(str(r[0]) for r in kv_rows)
    for key, value, flags, lock_index, session in kv_rows:
        entry = store.kv_get(str(key))
        assert entry is not None
        assert (entry.value, entry.flags, entry.lock_index, entry.session) == (
            value,
            flags,
            lock_index,
            session,
        )
    binary = store.kv_get("app/binary")
    assert binary is not None and binary.value == bytes(range(256))
    assert store.kv_index("app/gone", exact=True) == tombstones["app/gone"]
    for topic, idx in topics.items():
        assert store.topic_index(str(topic)) == idx
    assert "22222222-2222-2222-2222-222222222222" in store.sessions
    # the ACL tables
    assert GLOBAL_MANAGEMENT_ID in acl.policies and acl.policy_by_name("readers") is not None
    assert acl.role_by_name("ops") is not None
    boot = acl.token_by_secret("55555555-5555-5555-5555-555555555555")
    assert boot is not None and boot.grants.policies[0].id == GLOBAL_MANAGEMENT_ID
    assert acl.bootstrap_index == boot.create_index
    # and it goes on from where it was, and opens again
    store.upsert_node(Node(name="n2", node_id="n2", address="10.0.0.2", datacenter="dc1"))
    assert store.index == index + 1
    store.close()
    again = CatalogStore(path, WatchHub())
    assert again.index == index + 1 and set(again.nodes) == {"n1", "n2"}
    assert again.kv_get("app/binary") == binary
    again.close()
    tables = {r[0] for r in _legacy_rows(path, "SELECT name FROM sqlite_master")}
    assert "kv" not in tables and "objects" in tables


def test_a_legacy_scheduler_opens_with_its_objects_and_indexes(tmp_path: Path) -> None:
    data_dir = _copy(tmp_path)
    index = _legacy_index(data_dir / "scheduler.db")
    kinds = dict(
        _legacy_rows(data_dir / "scheduler.db", "SELECT key, body FROM objects WHERE kind='_index'")
    )
    store = s.Store(data_dir)
    try:
        assert store.index == index
        for kind, idx in kinds.items():
            assert store.table_index[str(kind)] == int(str(idx))
        assert store.table_index[s.DEPLOYMENT] == 1
        job = store.job("default", "web")
        assert job is not None and job["Status"] == "running"
        assert [a["ID"] for a in store.allocs_for_job("default", "web")] == ["alloc-1"]
        assert [a["ID"] for a in store.allocs_for_node("node-1")] == ["alloc-1"]
        assert store.job_version("default", "web", 0) is not None
        with store.write() as txn:
            txn.put(s.NODE, "node-2", {"ID": "node-2", "ModifyIndex": txn.index})
        assert store.index == index + 1 and store.table_index[s.NODE] == index + 1
    finally:
        store.close()
