"""The store: indexes per topic, no-op writes, persistence."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from yurt.api.blocking import WatchHub
from yurt.catalog.model import CRITICAL, PASSING, Check, CheckDefinition, Node, Service
from yurt.catalog.store import CatalogStore, KVOp
from yurt.storage.memory import MemoryBackend
from yurt.storage.sqlite import SQLiteBackend


def _store(path: Path) -> CatalogStore:
    store = CatalogStore(path / "c.db", WatchHub())
    store.upsert_node(Node(name="n", node_id="id", address="127.0.0.1", datacenter="dc1"))
    return store


def _ttl_check(cid: str, svc: Service) -> Check:
    return Check(
        node="n",
        check_id=cid,
        name=cid,
        service_id=svc.id,
        service_name=svc.name,
        definition=CheckDefinition(kind="ttl", ttl_ns=10**10),
    )


def test_indexes_are_per_topic_and_noops_do_not_bump(tmp_path: Path) -> None:
    store = _store(tmp_path)
    web = Service(node="n", id="web", name="web", port=1)
    store.register_service(web, [_ttl_check("c1", web)])
    web_index = store.topic_index("svc:web")
    assert store.kv_put("k", b"v", 0, None)
    assert store.topic_index("svc:web") == web_index
    before = store.index
    store.register_service(Service(node="n", id="web", name="web", port=1), [])
    assert store.index == before
    assert store.kv_put("k", b"v", 0, None)
    assert store.index == before


def test_output_only_change_takes_no_index(tmp_path: Path) -> None:
    store = _store(tmp_path)
    web = Service(node="n", id="web", name="web")
    store.register_service(web, [_ttl_check("c1", web)])
    before = store.index
    assert store.update_check("n", "c1", CRITICAL, "new output") is False
    assert store.index == before
    assert store.checks[("n", "c1")].output == "new output"
    assert store.update_check("n", "c1", PASSING, "ok") is True
    assert store.index == before + 1


def test_reload_keeps_state_and_index(tmp_path: Path) -> None:
    store = _store(tmp_path)
    web = Service(node="n", id="web", name="web", tags=["t"])
    store.register_service(web, [_ttl_check("c1", web)])
    store.kv_put("a/b", b"1", 7, None)
    store.kv_delete("a/b", recurse=False, cas=None)
    store.kv_put("a/c", b"2", 0, None)
    index = store.index
    store.close()
    again = CatalogStore(tmp_path / "c.db", WatchHub())
    assert again.index == index
    assert again.services[("n", "web")].tags == ["t"]
    assert again.checks[("n", "c1")].service_tags == []
    assert again.kv_get("a/c") is not None and again.kv_get("a/b") is None
    assert again.kv_index("a/b", exact=True) == index - 1
    assert [e.key for e in again.kv_prefix("a/")] == ["a/c"]


def test_deregister_service_removes_its_checks(tmp_path: Path) -> None:
    store = _store(tmp_path)
    web = Service(node="n", id="web", name="web")
    store.register_service(web, [_ttl_check("c1", web), _ttl_check("c2", web)])
    assert store.deregister_service("n", "web") is not None
    assert not store.checks
    assert store.deregister_service("n", "web") is None


def test_failed_write_leaves_memory_as_the_database(tmp_path: Path) -> None:
    store = _store(tmp_path)
    # a real SQLite failure in the middle of a commit (as a full disk would raise)
    assert isinstance(store.backend, SQLiteBackend)
    store.backend.db.conn.execute(
        "CREATE TRIGGER fail_boom BEFORE INSERT ON objects"
        " WHEN NEW.kind = 'checks' AND NEW.key = 'n' || char(0) || 'boom'"
        " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    index, generation = store.index, store.generation
    web = Service(node="n", id="web", name="web")
    with pytest.raises(sqlite3.IntegrityError):
        store.register_service(web, [_ttl_check("ok", web), _ttl_check("boom", web)])
    assert store.index == index
    assert ("n", "web") not in store.services
    assert not store.checks
    assert store.instances("web") == []
    assert store.generation > generation
    # and the store goes on working
    store.register_service(Service(node="n", id="web", name="web"), [_ttl_check("ok", web)])
    assert store.index == index + 1


def _scripted(store: CatalogStore) -> tuple[object, ...]:
    """A little of everything; what it answers must not depend on the backend."""
    web = Service(node="n", id="web", name="web", tags=["t"])
    store.register_service(web, [_ttl_check("c1", web)])
    store.update_check("n", "c1", PASSING, "ok")
    store.update_check("n", "c1", PASSING, "output only")
    store.kv_put("a/b", b"\x00\xff", 3, None)
    store.kv_put("a/c", b"", 0, 0)
    store.kv_delete("a/b", recurse=False, cas=None)
    store.deregister_service("n", "web")
    return (
        store.index,
        {t: store.topic_index(t) for t in ("nodes", "services", "checks", "kvs", "svc:web")},
        [(e.key, e.value, e.flags, e.create_index, e.modify_index) for e in store.kv_prefix("")],
        store.kv_index("a/b", exact=True),
        sorted(store.services),
        sorted(store.checks),
    )


def test_the_store_answers_the_same_on_every_backend(tmp_path: Path) -> None:
    on_sqlite = _scripted(_store(tmp_path))
    memory = MemoryBackend()
    store = CatalogStore(memory, WatchHub())
    store.upsert_node(Node(name="n", node_id="id", address="127.0.0.1", datacenter="dc1"))
    assert _scripted(store) == on_sqlite
    # a second store on the same backend loads what the first wrote
    again = CatalogStore(memory, WatchHub())
    assert again.index == store.index
    assert [e.key for e in again.kv_prefix("")] == ["a/c"]
    assert again.kv_index("a/b", exact=True) == store.kv_index("a/b", exact=True)
    assert again.topic_index("svc:web") == store.topic_index("svc:web")


def test_a_failed_transaction_leaves_nothing_on_the_memory_backend() -> None:
    store = CatalogStore(MemoryBackend(), WatchHub())
    store.kv_put("old", b"1", 0, None)
    index, generation = store.index, store.generation
    # the set is applied in memory, then the check fails: all of it is rolled back
    results, errors = store.kv_txn([KVOp("set", "k", b"v"), KVOp("check-not-exists", "k")])
    assert results == [] and [pos for pos, _ in errors] == [1]
    assert store.kv_get("k") is None and store.kv_get("old") is not None
    assert store.index == index and store.generation > generation
    assert [e.key for e in store.kv_prefix("")] == ["old"]
