"""`/v1/catalog/register` in the store: node, service and checks as one write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from yurt.api.blocking import WatchHub
from yurt.catalog.model import PASSING, Check, CheckDefinition, Node, Service
from yurt.catalog.store import CatalogStore


def _node(address: str = "10.0.0.1") -> Node:
    return Node(name="n1", node_id="", address=address, datacenter="dc1")


def _check(status: str = PASSING) -> Check:
    return Check(
        node="n1",
        check_id="web:alive",
        name="alive",
        service_id="web",
        service_name="web",
        status=status,
        definition=CheckDefinition(),
    )


def _commits(path: Path) -> int:
    """The index as committed in the file, read by another connection."""
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT value FROM yurt_meta WHERE key='index'").fetchone()
    return int(row[0]) if row else 1


def test_one_registration_is_one_index_and_one_commit(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = CatalogStore(path, WatchHub())
    before = store.index
    store.register_catalog(_node(), Service(node="n1", id="web", name="web"), [_check()])
    assert store.index == before + 1
    assert _commits(path) == store.index
    node, svc = store.nodes["n1"], store.services[("n1", "web")]
    chk = store.checks[("n1", "web:alive")]
    # every part carries the one index, as Consul's one Raft entry per register request
    assert node.modify_index == svc.modify_index == chk.modify_index == store.index
    assert {store.topic_index(t) for t in ("nodes", "services", "checks", "svc:web")} == {
        store.index
    }
    store.close()


def test_the_same_registration_again_changes_nothing(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.db", WatchHub())
    store.register_catalog(_node(), Service(node="n1", id="web", name="web"), [_check()])
    generation_index = store.index
    store.register_catalog(_node(), Service(node="n1", id="web", name="web"), [_check()])
    assert store.index == generation_index
    store.close()


def test_only_the_changed_part_moves(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.db", WatchHub())
    store.register_catalog(_node(), Service(node="n1", id="web", name="web"), [_check()])
    first = store.index
    store.register_catalog(
        _node("10.0.0.2"), Service(node="n1", id="web", name="web"), [_check("critical")]
    )
    assert store.index == first + 1
    assert store.nodes["n1"].modify_index == first + 1
    assert store.services[("n1", "web")].modify_index == first
    assert store.checks[("n1", "web:alive")].status == "critical"
    # no node given (SkipNodeUpdate on a known node): the node stays as it was
    store.register_catalog(None, Service(node="n1", id="web", name="web", port=80), [])
    assert store.nodes["n1"].address == "10.0.0.2"
    assert store.services[("n1", "web")].modify_index == first + 2
    store.close()


def test_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = CatalogStore(path, WatchHub())
    store.register_catalog(_node(), Service(node="n1", id="web", name="web"), [_check()])
    index = store.index
    store.close()
    again = CatalogStore(path, WatchHub())
    assert again.index == index
    assert ("n1", "web:alive") in again.checks and ("n1", "web") in again.services
    again.close()
