"""A check registered again: one the agent runs keeps its last result; one it does not run
(registered through `/v1/catalog/register`) takes the status it is registered with, as in
Consul, which is how external health checkers report."""

from __future__ import annotations

from pathlib import Path

import pytest

from yurt.api.blocking import WatchHub
from yurt.catalog.model import CRITICAL, PASSING, Check, CheckDefinition, Node
from yurt.catalog.store import CatalogStore


def _store(path: Path) -> CatalogStore:
    store = CatalogStore(path / "c.db", WatchHub())
    store.upsert_node(Node(name="n", node_id="id", address="127.0.0.1", datacenter="dc1"))
    return store


def _check(status: str, kind: str) -> Check:
    definition = CheckDefinition(kind=kind, ttl_ns=10**10) if kind else CheckDefinition()
    return Check(node="n", check_id="c", name="c", status=status, definition=definition)


@pytest.mark.parametrize(
    ("kind", "registered_again", "expected"),
    [
        ("", CRITICAL, CRITICAL),  # a catalog check takes the new status
        ("", PASSING, PASSING),  # the same again: nothing changes
        ("ttl", CRITICAL, PASSING),  # the agent's own check keeps its last result
    ],
)
def test_status_on_registering_again(
    tmp_path: Path, kind: str, registered_again: str, expected: str
) -> None:
    store = _store(tmp_path)
    store.register_check(_check(PASSING, kind))
    if kind:
        store.update_check("n", "c", PASSING, "")
    before = store.index
    store.register_check(_check(registered_again, kind))
    assert store.checks[("n", "c")].status == expected
    moved = store.index != before
    assert moved == (expected != PASSING)
