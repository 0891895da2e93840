"""The answers of the scheduler's writes have exactly the fields their structs
(yurt.scheduler.responses) declare: every required one, nothing undeclared. The types are
checked by mypy only; this keeps them from drifting away from what is sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, is_typeddict

import pytest

from tests.scheduler import jobs as J
from tests.scheduler.ops_fixture import settle
from tests.scheduler.test_ops_jobs import PARAMETERIZED, PERIODIC
from yurt.scheduler import responses as R
from yurt.scheduler.operations import Operations
from yurt.scheduler.structs import NodeEvent


def _registered(ops: Operations, **extra: Any) -> Operations:
    ops.register_job(J.job("web", **extra))
    settle(ops)
    return ops


def _stop_first_alloc(ops: Operations) -> Any:
    _registered(ops)
    return ops.stop_alloc(ops.store.allocs_for_job("default", "web")[0])


def _node(ops: Operations) -> Any:
    return ops.store.nodes[sorted(ops.store.nodes)[0]]


WRITES: list[tuple[str, Callable[[Operations], Any], Any]] = [
    ("register", lambda ops: ops.register_job(J.job("web")), R.JobRegisterResponse),
    (
        "evaluate",
        lambda ops: _registered(ops).evaluate_job("default", "web"),
        R.JobRegisterResponse,
    ),
    (
        "scale to the same count",
        lambda ops: _registered(ops).scale_job("default", "web", "web", None),
        R.JobRegisterResponse,
    ),
    (
        "scale",
        lambda ops: _registered(ops).scale_job("default", "web", "web", 2),
        R.JobRegisterResponse,
    ),
    (
        "deregister",
        lambda ops: _registered(ops).deregister_job("default", "web", purge=False),
        R.JobDeregisterResponse,
    ),
    (
        "stable",
        lambda ops: _registered(ops).set_stable("default", "web", 0, True),
        R.JobStabilityResponse,
    ),
    (
        "force periodic",
        lambda ops: _registered(ops, Periodic=PERIODIC).force_periodic("default", "web"),
        R.PeriodicForceResponse,
    ),
    (
        "dispatch",
        lambda ops: _registered(ops, ParameterizedJob=PARAMETERIZED).dispatch(
            "default", "web", "", {}
        ),
        R.JobDispatchResponse,
    ),
    ("stop alloc", _stop_first_alloc, R.AllocStopResponse),
    ("heartbeat", lambda ops: ops.heartbeat(_node(ops)), R.NodeHeartbeatResponse),
    ("register node", lambda ops: ops.register_node(_node(ops)), R.NodeHeartbeatResponse),
]


@pytest.mark.parametrize(
    ("write", "struct"), [(w, s) for _, w, s in WRITES], ids=[n for n, _, _ in WRITES]
)
def test_a_write_answers_with_its_struct(
    ops: Operations, write: Callable[[Operations], Any], struct: Any
) -> None:
    assert is_typeddict(struct)
    answer = write(ops)
    assert set(answer) <= struct.__required_keys__ | struct.__optional_keys__
    assert struct.__required_keys__ <= set(answer)


def test_a_node_down_event_is_a_node_event(ops: Operations) -> None:
    node_id = sorted(ops.store.nodes)[0]
    ops.node_down(node_id)
    events = ops.store.nodes[node_id].get("Events") or []
    assert events, "marking a node down records why"
    assert set(events[-1]) == NodeEvent.__required_keys__
