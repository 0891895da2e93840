"""The scheduler's store on the store interface: its tables, kind indexes and topics."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from yurt.api.blocking import WatchHub
from yurt.scheduler import store as s
from yurt.scheduler.structs import Allocation
from yurt.storage.interface import Backend
from yurt.storage.memory import MemoryBackend
from yurt.storage.sqlite import SQLiteBackend


def _alloc(alloc_id: str, node: str, index: int) -> Allocation:
    return {
        "ID": alloc_id,
        "Namespace": "default",
        "JobID": "web",
        "NodeID": node,
        "TaskGroup": "web",
        "DesiredStatus": "run",
        "ClientStatus": "pending",
        "ModifyIndex": index,
    }


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "memory":
        return MemoryBackend()
    return SQLiteBackend(tmp_path / "scheduler.db")


def test_a_write_moves_its_kinds_and_wakes_its_topics(backend: Backend) -> None:
    hub = WatchHub()
    store = s.Store(backend, hub)

    async def run() -> tuple[bool, bool, bool]:
        woken = [
            asyncio.ensure_future(hub.wait([topic], 5.0))
            for topic in ("alloc", "alloc:a1", "node-allocs:n1")
        ]
        quiet = asyncio.ensure_future(hub.wait(["eval"], 0.2))
        await asyncio.sleep(0)
        with store.write() as txn:
            txn.put(s.ALLOC, "a1", _alloc("a1", "n1", txn.index))
        results = await asyncio.gather(*woken)
        assert await quiet is False
        return (results[0], results[1], results[2])

    assert asyncio.run(run()) == (True, True, True)
    assert store.index == 2
    assert store.table_index[s.ALLOC] == 2 and store.table_index[s.EVAL] == 1
    assert [a["ID"] for a in store.allocs_for_node("n1")] == ["a1"]


def test_a_write_that_raises_changes_nothing(backend: Backend) -> None:
    store = s.Store(backend)
    with pytest.raises(RuntimeError), store.write() as txn:
        txn.put(s.ALLOC, "a1", _alloc("a1", "n1", txn.index))
        raise RuntimeError("boom")
    assert store.index == 1 and not store.tables[s.ALLOC] and store.table_index[s.ALLOC] == 1
    assert backend.get(s.ALLOC, "a1") is None


def test_a_second_store_on_the_backend_loads_the_first_ones_state(backend: Backend) -> None:
    store = s.Store(backend)
    with store.write() as txn:
        for i in range(3):
            txn.put(s.ALLOC, f"a{i}", _alloc(f"a{i}", "n1", txn.index))
    with store.write() as txn:
        txn.delete(s.ALLOC, "a1")
    again = s.Store(backend)
    assert again.index == store.index == 3
    assert again.table_index == store.table_index
    assert sorted(a["ID"] for a in again.allocs_for_node("n1")) == ["a0", "a2"]
    assert again.tables == store.tables


def test_gc_reclaims_through_the_backend(tmp_path: Path) -> None:
    store = s.Store(tmp_path)
    with store.write() as txn:
        for i in range(500):
            txn.put(s.ALLOC, f"a{i}", {**_alloc(f"a{i}", "n1", txn.index), "Pad": "p" * 2000})
    with store.write() as txn:
        for i in range(500):
            txn.delete(s.ALLOC, f"a{i}")
    got = store.reclaim()
    assert got.pages > 0 and got.bytes == got.pages * got.page_size
    store.close()


def test_the_typed_reads_are_the_tables_themselves(backend: Backend) -> None:
    """The typed views cost nothing: the same dicts as the tables, the same rows."""
    store = s.Store(backend)
    with store.write() as txn:
        txn.put(s.ALLOC, "a1", _alloc("a1", "n1", txn.index))
    views = {
        s.JOB: store.jobs_by_key,
        s.ALLOC: store.allocs,
        s.EVAL: store.evals,
        s.NODE: store.nodes,
        s.DEPLOYMENT: store.deployments,
        s.NODE_POOL: store.node_pools,
        s.SERVICE: store.services,
        s.VARIABLE: store.variables,
    }
    for kind, view in views.items():
        assert view is store.tables[kind], kind
    assert store.allocs_for_node("n1") == [store.allocs["a1"]]
    assert store.allocs_for_job("default", "web")[0] is store.tables[s.ALLOC]["a1"]


def test_the_node_list_is_one_object_until_a_node_changes(backend: Backend) -> None:
    store = s.Store(backend)
    with store.write() as txn:
        txn.put(s.NODE, "n1", {"ID": "n1", "ModifyIndex": txn.index})
    first = store.node_list()
    assert [n["ID"] for n in first] == ["n1"]
    with store.write() as txn:  # writes of other kinds keep it
        txn.put(s.ALLOC, "a1", dict(_alloc("a1", "n1", txn.index)))
    assert store.node_list() is first
    with store.write() as txn:
        txn.put(s.NODE, "n2", {"ID": "n2", "ModifyIndex": txn.index})
    second = store.node_list()
    assert second is not first
    assert [n["ID"] for n in second] == ["n1", "n2"]
    assert [n["ID"] for n in first] == ["n1"]  # a list handed out is never changed
    with store.write() as txn:
        txn.delete(s.NODE, "n1")
    assert [n["ID"] for n in store.node_list()] == ["n2"]
    again = s.Store(backend)  # loaded from the backend
    assert [n["ID"] for n in again.node_list()] == ["n2"]
