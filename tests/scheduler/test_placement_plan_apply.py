"""An evaluation's plan is written in one store transaction: its allocations, the
evaluation and the job's new status commit together (one index), and the parts that every
allocation of a group shares are kept once. A real SQLite store in a temporary directory;
no processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.scheduler import jobs as J
from tests.scheduler.test_placement_feasible import node
from yurt.api.durations import SECOND
from yurt.scheduler import alloc_pack
from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.broker import EvalBroker
from yurt.scheduler.operations import Operations
from yurt.scheduler.reconcile import Scheduler

Obj = dict[str, Any]


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[Operations]:
    store = s.Store(tmp_path)
    operations = Operations(store, EvalBroker(), Scheduler(store), heartbeat_ttl=60 * SECOND)
    for i in range(20):
        operations.register_node(node(i, Datacenter="dc1"))
    for ev in _pending(store):
        operations.process_eval(ev["ID"])
    yield operations
    store.close()


def _pending(store: s.Store) -> list[Obj]:
    return [e for e in store.tables[s.EVAL].values() if e["Status"] == m.EVAL_PENDING]


def test_one_evaluation_is_one_commit(ops: Operations) -> None:
    store = ops.store
    job = J.job("web", groups=[J.group(count=10, dynamic_ports=["http"])])
    ops.register_job(job)
    (ev,) = _pending(store)
    before = store.index
    ops.process_eval(ev["ID"])
    assert store.index == before + 1  # allocations, evaluation and job status: one index
    allocs = store.allocs_for_job("default", "web")
    assert len(allocs) == 10
    assert {a["CreateIndex"] for a in allocs} == {before + 1}
    done = store.tables[s.EVAL][ev["ID"]]
    assert done["Status"] == m.EVAL_COMPLETE and done["ModifyIndex"] == before + 1
    stored_job = store.job("default", "web")
    assert stored_job is not None
    assert stored_job["Status"] == m.JOB_RUNNING and stored_job["ModifyIndex"] == before + 1


def test_the_committed_rows_are_what_memory_holds(ops: Operations, tmp_path: Path) -> None:
    store = ops.store
    ops.register_job(J.job("web", groups=[J.group(count=5)]))
    for ev in _pending(store):
        ops.process_eval(ev["ID"])
    rows = dict(store.backend.load(s.ALLOC))
    for alloc in store.allocs_for_job("default", "web"):
        # memory keeps the parts only the API shows packed; the disk has them as written
        assert isinstance(alloc["Metrics"], alloc_pack.PackedMetrics)
        assert rows[alloc["ID"]] == alloc_pack.wire(alloc)
    reopened = s.Store(tmp_path)
    try:
        job = reopened.job("default", "web")
        assert job is not None and job["Status"] == m.JOB_RUNNING
        loaded = reopened.allocs_for_job("default", "web")
        assert len(loaded) == 5
        for alloc in loaded:  # packed again as it is loaded, the same once expanded
            assert alloc["Resources"] is alloc_pack.LEGACY_TOTALS
            assert alloc_pack.wire(alloc) == alloc_pack.wire(store.allocs[alloc["ID"]])
    finally:
        reopened.close()


def test_a_groups_alike_parts_are_kept_once(ops: Operations) -> None:
    store = ops.store
    ops.register_job(J.job("web", groups=[J.group(count=8, dynamic_ports=["http"])]))
    for ev in _pending(store):
        ops.process_eval(ev["ID"])
    allocs = store.allocs_for_job("default", "web")
    assert len(allocs) == 8
    first = allocs[0]
    for other in allocs[1:]:
        assert other["TaskResources"] is first["TaskResources"]
        assert other["AllocatedResources"]["Tasks"] is first["AllocatedResources"]["Tasks"]
        assert other["DesiredTransition"] is first["DesiredTransition"]
        # what differs per allocation stays its own
        assert other["AllocatedResources"] is not first["AllocatedResources"]
        assert other["Metrics"] is not first["Metrics"]


def test_a_plan_that_cannot_place_everything_commits_once_too(ops: Operations) -> None:
    store = ops.store
    job = J.job("big", groups=[J.group(count=30, tasks=[J.task(cpu=3000)])])
    ops.register_job(job)
    (ev,) = _pending(store)
    before = store.index
    ops.process_eval(ev["ID"])
    assert store.index == before + 1
    done = store.tables[s.EVAL][ev["ID"]]
    assert done["FailedTGAllocs"]["web"]["CoalescedFailures"] == 9
    blocked = store.tables[s.EVAL][done["BlockedEval"]]
    assert blocked["Status"] == m.EVAL_BLOCKED and blocked["CreateIndex"] == before + 1
    assert len(store.allocs_for_job("default", "big")) == 20
