"""The operations over a real SQLite store in a temporary directory, with nodes to place
on: what the operations unit tests share. No process, no HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.scheduler.test_placement_feasible import node
from yurt.api.durations import SECOND
from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.broker import EvalBroker
from yurt.scheduler.operations import Operations
from yurt.scheduler.reconcile import Scheduler

Obj = dict[str, Any]


def pending(store: s.Store) -> list[Obj]:
    return [e for e in store.tables[s.EVAL].values() if e["Status"] == m.EVAL_PENDING]


def settle(ops: Operations) -> None:
    """Process evaluations until none is pending (what the server's worker does)."""
    for _ in range(20):
        evals = pending(ops.store)
        if not evals:
            return
        for ev in evals:
            ops.process_eval(ev["ID"])
    raise AssertionError("evaluations keep coming")


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[Operations]:
    store = s.Store(tmp_path)
    operations = Operations(store, EvalBroker(), Scheduler(store), heartbeat_ttl=60 * SECOND)
    for i in range(3):
        operations.register_node(node(i, Datacenter="dc1", SecretID=f"secret-{i}"))
    settle(operations)
    yield operations
    store.close()
