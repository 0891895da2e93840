"""The deployment watcher's judgement as a table (pure: a deployment and its allocations
in, counts and a verdict out), and the user's promote, pause and fail with Nomad's texts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scheduler import jobs as J
from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.errors import InvalidRequest, SchedulerError
from yurt.scheduler.operations import Operations
from yurt.scheduler.ops_deployments import DeploymentTally, tally_deployment

Obj = dict[str, Any]
SECOND = 1_000_000_000
NOW = 1_700_000_000 * SECOND


def _group(total: int = 2, canaries: int = 0, **over: Any) -> Obj:
    return {
        "AutoRevert": False,
        "AutoPromote": False,
        "ProgressDeadline": 0,
        "RequireProgressBy": None,
        "Promoted": False,
        "DesiredCanaries": canaries,
        "DesiredTotal": total,
        "PlacedAllocs": 0,
        "HealthyAllocs": 0,
        "UnhealthyAllocs": 0,
        **over,
    }


def _alloc(i: int, healthy: bool | None, *, canary: bool = False, status: str = "running") -> Obj:
    return {
        "ID": f"a{i}",
        "TaskGroup": "web",
        "ClientStatus": status,
        "DesiredStatus": m.ALLOC_DESIRED_RUN,
        "DeploymentStatus": {"Healthy": healthy, "Canary": canary},
    }


@pytest.mark.parametrize(
    ("group", "allocs", "check_deadline", "expected", "counts"),
    [
        # nothing healthy yet: running, no progress
        (
            _group(),
            [_alloc(1, None), _alloc(2, None)],
            False,
            DeploymentTally(done=False),
            (2, 0, 0),
        ),
        # one more healthy: progress, not done
        (
            _group(),
            [_alloc(1, True), _alloc(2, None)],
            False,
            DeploymentTally(done=False, progressed=True),
            (2, 1, 0),
        ),
        # all healthy: done
        (
            _group(),
            [_alloc(1, True), _alloc(2, True)],
            False,
            DeploymentTally(progressed=True),
            (2, 2, 0),
        ),
        # an unhealthy allocation fails it
        (
            _group(),
            [_alloc(1, True), _alloc(2, False)],
            False,
            DeploymentTally(
                done=False, failure="Failed due to unhealthy allocations", progressed=True
            ),
            (2, 1, 1),
        ),
        # healthy canaries wait for a promotion...
        (
            _group(canaries=1),
            [_alloc(1, True, canary=True)],
            False,
            DeploymentTally(done=False, needs_promotion=True, progressed=True),
            (1, 1, 0),
        ),
        # ...unless the group auto-promotes
        (
            _group(canaries=1, AutoPromote=True),
            [_alloc(1, True, canary=True)],
            False,
            DeploymentTally(done=False, promoted_now=True, progressed=True),
            (1, 1, 0),
        ),
        # a missed progress deadline fails it, when deadlines are checked
        (
            _group(ProgressDeadline=60 * SECOND, RequireProgressBy=m.rfc3339(NOW - SECOND)),
            [_alloc(1, None)],
            True,
            DeploymentTally(done=False, failure="Failed due to progress deadline"),
            (1, 0, 0),
        ),
        (
            _group(ProgressDeadline=60 * SECOND, RequireProgressBy=m.rfc3339(NOW - SECOND)),
            [_alloc(1, None)],
            False,
            DeploymentTally(done=False),
            (1, 0, 0),
        ),
        # a stopped allocation counts as placed, not as healthy
        (
            _group(total=1),
            [_alloc(1, True, status="complete")],
            False,
            DeploymentTally(done=False),
            (1, 0, 0),
        ),
    ],
)
def test_tally(
    group: Obj,
    allocs: list[Obj],
    check_deadline: bool,
    expected: DeploymentTally,
    counts: tuple[int, int, int],
) -> None:
    dep = {"TaskGroups": {"web": group}}
    assert tally_deployment(dep, allocs, NOW, check_deadline) == expected
    tg = dep["TaskGroups"]["web"]
    assert (tg["PlacedAllocs"], tg["HealthyAllocs"], tg["UnhealthyAllocs"]) == counts
    canaries = [a["ID"] for a in allocs if a["DeploymentStatus"]["Canary"]] or None
    assert tg["PlacedCanaries"] == canaries
    if expected.promoted_now:
        assert tg["Promoted"] is True


def test_progress_moves_the_deadline() -> None:
    group = _group(ProgressDeadline=60 * SECOND, RequireProgressBy=m.rfc3339(NOW))
    dep = {"TaskGroups": {"web": group}}
    tally_deployment(dep, [_alloc(1, True)], NOW, False)
    assert group["RequireProgressBy"] == m.rfc3339(NOW + 60 * SECOND)


def _deployment(ops: Operations, status: str, canaries: int = 0) -> Obj:
    ops.register_job(J.job("web"))
    job = ops.store.job("default", "web")
    assert job is not None
    dep = m.new_deployment(job, {"web": job["TaskGroups"][0]}, [], NOW)
    dep["Status"] = status
    dep["TaskGroups"]["web"]["DesiredCanaries"] = canaries
    with ops.store.write() as txn:
        dep["CreateIndex"] = dep["ModifyIndex"] = txn.index
        txn.put(s.DEPLOYMENT, dep["ID"], dep)
    return dict(dep)


@pytest.mark.parametrize(
    ("action", "status", "canaries", "error"),
    [
        ("fail", m.DEPLOY_RUNNING, 0, None),
        ("fail", m.DEPLOY_SUCCESSFUL, 0, "can't fail terminal deployment"),
        ("pause", m.DEPLOY_RUNNING, 0, None),
        ("resume", m.DEPLOY_PAUSED, 0, None),
        ("pause", m.DEPLOY_FAILED, 0, "can't pause terminal deployment"),
        ("resume", m.DEPLOY_FAILED, 0, "can't resume terminal deployment"),
        ("promote", m.DEPLOY_RUNNING, 0, "no canaries to promote"),
        ("promote", m.DEPLOY_RUNNING, 1, 'Task group "web" has 0/1 healthy allocations'),
        ("promote", m.DEPLOY_PAUSED, 1, "can't promote a paused deployment: resume it first"),
        ("promote", m.DEPLOY_FAILED, 1, "can't promote terminal deployment"),
    ],
)
def test_user_actions(
    ops: Operations, action: str, status: str, canaries: int, error: str | None
) -> None:
    dep = _deployment(ops, status, canaries)
    calls = {
        "fail": lambda: ops.fail_deployment(dep),
        "pause": lambda: ops.pause_deployment(dep, True),
        "resume": lambda: ops.pause_deployment(dep, False),
        "promote": lambda: ops.promote_deployment(dep, None),
    }
    if error is not None:
        with pytest.raises(SchedulerError) as caught:
            calls[action]()
        assert caught.value.message == error
        # Nomad answers its terminal-deployment refusals 500 (plain RPC errors), others 400
        assert isinstance(caught.value, InvalidRequest) == ("terminal" not in error)
        return
    calls[action]()
    stored = ops.store.tables[s.DEPLOYMENT][dep["ID"]]
    expected = {
        "fail": (m.DEPLOY_FAILED, "Deployment marked as failed"),
        "pause": (m.DEPLOY_PAUSED, "Deployment is paused"),
        "resume": (m.DEPLOY_RUNNING, "Deployment is running"),
    }[action]
    assert (stored["Status"], stored["StatusDescription"]) == expected
