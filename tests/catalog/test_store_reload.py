"""A reload of the catalog's memory that fails part way (the backend unreachable: an etcd
member dying, or etcd electing) keeps the previous memory whole and marks the store stale;
the next write loads again first, and fails rather than decide on memory the backend may
not hold."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from yurt.api.blocking import WatchHub
from yurt.catalog.model import PASSING, Check, CheckDefinition, Node, Service
from yurt.catalog.store import CatalogStore
from yurt.storage.interface import JSONValue
from yurt.storage.memory import MemoryBackend


class Unreachable(OSError):
    pass


class FlakyBackend(MemoryBackend):
    """A memory backend whose loads fail from the given table on, while `down`."""

    def __init__(self) -> None:
        super().__init__()
        self.down_from: str | None = None

    def load(self, table: str) -> Iterator[tuple[str, JSONValue]]:
        if self.down_from is not None and table == self.down_from:
            raise Unreachable(f"cannot load {table}")
        yield from super().load(table)


def _registered(store: CatalogStore) -> None:
    node = Node(name="n1", node_id="", address="10.0.0.1", datacenter="dc1")
    check = Check(
        node="n1",
        check_id="web:alive",
        name="alive",
        service_id="web",
        service_name="web",
        status=PASSING,
        definition=CheckDefinition(),
    )
    store.register_catalog(node, Service(node="n1", id="web", name="web"), [check])


@pytest.mark.parametrize("fails_at", ["services", "checks", "kv", "sessions"])
def test_a_failed_reload_keeps_memory_whole_and_the_next_write_loads_first(fails_at: str) -> None:
    backend = FlakyBackend()
    store = CatalogStore(backend, WatchHub())
    _registered(store)
    store.kv_put("a", b"1", 0, None)
    backend.down_from = fails_at

    with pytest.raises(Unreachable):
        store._load()
    assert store.stale
    assert set(store.nodes) == {"n1"}
    assert [s.id for s in store.services.values()] == ["web"]
    assert len(store.checks) == 1 and "a" in store.kv

    with pytest.raises(Unreachable):
        store.kv_put("b", b"2", 0, None)
    assert "b" not in store.kv

    backend.down_from = None
    store.kv_put("b", b"2", 0, None)
    assert not store.stale
    assert set(store.kv) == {"a", "b"} and set(store.nodes) == {"n1"}
