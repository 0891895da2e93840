"""Node operations without HTTP: registration and its secret, heartbeats, a node marked
down, scheduling eligibility, drain started, cancelled and completed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scheduler import jobs as J
from tests.scheduler.ops_fixture import pending, settle
from tests.scheduler.test_placement_feasible import node
from yurt.api.durations import SECOND
from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.errors import InvalidRequest, PermissionDenied
from yurt.scheduler.operations import Operations

Obj = dict[str, Any]
NODE = "node-00000"


def _node(ops: Operations, node_id: str = NODE) -> Obj:
    found: Obj = ops.store.tables[s.NODE][node_id]
    return found


def test_register_sets_nomads_defaults_and_an_event(ops: Operations) -> None:
    result = ops.register_node(node(7, SecretID="s7"))
    new = _node(ops, "node-00007")
    assert result == {
        "NodeID": "node-00007",
        "HeartbeatTTL": 60 * SECOND,
        "Index": new["ModifyIndex"],
    }
    assert (new["Status"], new["SchedulingEligibility"], new["DrainStrategy"]) == (
        m.NODE_READY,
        "eligible",
        None,
    )
    assert new["Resources"]["CPU"] == 4000 and new["Resources"]["MemoryMB"] == 8192
    assert [e["Message"] for e in new["Events"]] == ["Node registered"]


@pytest.mark.parametrize(("secret", "accepted"), [("secret-0", True), ("other", False)])
def test_reregistering_needs_the_same_secret(ops: Operations, secret: str, accepted: bool) -> None:
    again = node(0, SecretID=secret)
    if accepted:
        ops.register_node(again)
        return
    with pytest.raises(PermissionDenied, match=r"^node secret does not match$"):
        ops.register_node(again)


def test_a_node_marked_down_and_back(ops: Operations) -> None:
    ops.register_job(J.job("web", groups=[J.group(count=3)]))
    settle(ops)
    ops.node_down(NODE)
    down = _node(ops)
    assert (
        down["Status"] == m.NODE_DOWN and down["Events"][-1]["Message"] == "Node heartbeat missed"
    )
    assert {e["TriggeredBy"] for e in pending(ops.store)} <= {m.TRIGGER_NODE_UPDATE}
    settle(ops)
    assert ops.heartbeat(down)["HeartbeatTTL"] == 60 * SECOND
    back = _node(ops)
    assert back["Status"] == m.NODE_READY and back["Events"][-1]["Message"] == "Node re-registered"


@pytest.mark.parametrize(
    ("draining", "eligible", "error", "expected", "evals"),
    [
        (False, False, None, "ineligible", False),
        (False, True, None, "eligible", True),
        (
            True,
            True,
            "can not set node's scheduling eligibility to eligible while draining",
            "ineligible",
            False,
        ),
        (True, False, None, "ineligible", False),
    ],
)
def test_eligibility(
    ops: Operations,
    draining: bool,
    eligible: bool,
    error: str | None,
    expected: str,
    evals: bool,
) -> None:
    ops.register_job(J.job("sys", job_type="system"))
    settle(ops)
    if draining:
        # still draining: its evaluations are not processed, so nothing has moved yet
        ops.drain(_node(ops), {"Deadline": 3600 * SECOND}, False)
    if error is not None:
        with pytest.raises(InvalidRequest) as caught:
            ops.set_eligibility(_node(ops), eligible)
        assert caught.value.message == error
    else:
        result = ops.set_eligibility(_node(ops), eligible)
        assert (result["EvalIDs"] is not None) is evals
    assert _node(ops)["SchedulingEligibility"] == expected


@pytest.mark.parametrize(
    ("spec", "mark_eligible", "eligibility", "drain_status"),
    [
        ({"Deadline": 0, "IgnoreSystemJobs": False}, False, "ineligible", "complete"),
        ({"Deadline": 3600 * SECOND, "IgnoreSystemJobs": True}, False, "ineligible", "complete"),
        (None, True, "eligible", "canceled"),
        (None, False, "ineligible", "canceled"),
    ],
)
def test_drain_moves_the_allocations_off(
    ops: Operations, spec: Obj | None, mark_eligible: bool, eligibility: str, drain_status: str
) -> None:
    ops.register_job(J.job("web", groups=[J.group(count=6)]))
    settle(ops)
    if spec is None:
        # a drain to cancel: started, and cancelled before anything moved
        ops.drain(_node(ops), {"Deadline": 3600 * SECOND}, False)
    result = ops.drain(_node(ops), spec, mark_eligible)
    assert result["NodeModifyIndex"] == result["Index"]
    settle(ops)
    _run_everything(ops)
    drained = _node(ops)
    assert drained["SchedulingEligibility"] == eligibility
    assert drained["LastDrain"]["Status"] == drain_status
    assert drained["DrainStrategy"] is None
    live_here = [
        a
        for a in ops.store.allocs_for_node(NODE)
        if a["DesiredStatus"] == m.ALLOC_DESIRED_RUN and not m.alloc_client_terminal(a)
    ]
    # drained: nothing runs here; cancelled: what ran here stays
    assert (live_here == []) is (spec is not None)
    live = [a for a in ops.store.allocs_for_job("default", "web") if not m.alloc_is_terminal(a)]
    assert len(live) == 6


def _run_everything(ops: Operations) -> None:
    """What the clients would report: allocations to run are running, those to stop are
    complete."""
    for node_id in ops.store.tables[s.NODE]:
        updates = []
        for alloc in ops.store.allocs_for_node(node_id):
            status = (
                m.ALLOC_RUNNING if alloc["DesiredStatus"] == m.ALLOC_DESIRED_RUN else "complete"
            )
            if alloc["ClientStatus"] != status:
                updates.append({"ID": alloc["ID"], "ClientStatus": status})
        if updates:
            ops.client_update_allocs(node_id, updates)
    settle(ops)


def test_a_client_may_update_only_its_own_allocations(ops: Operations) -> None:
    ops.register_job(J.job("web", groups=[J.group(count=3)]))
    settle(ops)
    alloc = next(a for a in ops.store.allocs_for_job("default", "web") if a["NodeID"] != NODE)
    with pytest.raises(InvalidRequest, match=f"allocation {alloc['ID']} is not on node {NODE}"):
        ops.client_update_allocs(NODE, [{"ID": alloc["ID"], "ClientStatus": "running"}])


def test_evaluate_node_makes_node_update_evaluations(ops: Operations) -> None:
    ops.register_job(J.job("web", groups=[J.group(count=3)]))
    ops.register_job(J.job("sys", job_type="system"))
    settle(ops)
    result = ops.evaluate_node(_node(ops))
    made = pending(ops.store)
    assert sorted(result["EvalIDs"]) == sorted(e["ID"] for e in made)
    assert {(e["JobID"], e["TriggeredBy"], e["NodeID"]) for e in made} >= {
        ("sys", m.TRIGGER_NODE_UPDATE, NODE)
    }
