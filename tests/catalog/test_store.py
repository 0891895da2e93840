"""The store: indexes per topic, no-op writes, persistence."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from yurt.api.blocking import WatchHub
from yurt.catalog.model import CRITICAL, PASSING, Check, CheckDefinition, Node, Service
from yurt.catalog.store import CatalogStore


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
    # a real SQLite failure in the middle of a write (as a full disk would raise)
    store.db.conn.execute(
        "CREATE TRIGGER fail_boom BEFORE INSERT ON checks WHEN NEW.check_id = 'boom' "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
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
