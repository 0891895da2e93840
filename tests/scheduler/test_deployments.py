"""Rolling updates through deployments: max_parallel, health from the client, success,
failure and auto-revert."""

from __future__ import annotations

from collections.abc import Iterator

import nomad
import pytest

from tests.scheduler import jobs as J
from tests.scheduler.conftest import SchedulerProcess
from tests.scheduler.simnode import SimNode, wait_for

SECOND = 1_000_000_000
UPDATE = {
    "Stagger": 30 * SECOND,
    "MaxParallel": 1,
    "HealthCheck": "task_states",
    "MinHealthyTime": SECOND,
    "HealthyDeadline": 60 * SECOND,
    "ProgressDeadline": 120 * SECOND,
    "AutoRevert": True,
    "AutoPromote": False,
    "Canary": 0,
}


@pytest.fixture(scope="module")
def node(sched: SchedulerProcess) -> Iterator[SimNode]:
    n = SimNode(sched.url, "deploy-node").start_heartbeats()
    n.register()
    yield n
    n.stop_heartbeats()


def rolling_job(args: list[str]) -> dict:
    job = J.job("roll", groups=[J.group(count=3, update=dict(UPDATE))])
    job["TaskGroups"][0]["Tasks"][0]["Config"]["args"] = args
    job["Update"] = dict(UPDATE)
    return job


def versions_running(api: nomad.Nomad) -> list[int]:
    return sorted(
        a["JobVersion"]
        for a in api.job.get_allocations("roll")
        if a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running")
    )


def test_rolling_update_one_at_a_time(api: nomad.Nomad, node: SimNode) -> None:
    api.job.register_job("roll", {"Job": rolling_job(["1"])})
    dep0 = wait_for(lambda: api.job.get_deployment("roll"), what="first deployment")
    assert dep0["Status"] == "running" and dep0["JobVersion"] == 0
    assert dep0["TaskGroups"]["web"]["DesiredTotal"] == 3
    wait_for(lambda: len(versions_running(api)) == 3, what="3 placed")
    node.act(healthy=True)
    dep0 = wait_for(
        lambda: (d := api.deployment.get_deployment(dep0["ID"]))["Status"] == "successful" and d,
        what="deployment successful",
    )
    assert dep0["StatusDescription"] == "Deployment completed successfully"
    assert dep0["TaskGroups"]["web"]["HealthyAllocs"] == 3
    assert api.job.get_job("roll")["Stable"] is True

    api.job.register_job("roll", {"Job": rolling_job(["2"])})
    dep1 = wait_for(
        lambda: (d := api.job.get_deployment("roll"))["JobVersion"] == 1 and d,
        what="second deployment",
    )
    wait_for(lambda: versions_running(api) == [0, 0, 1], what="one replaced")
    seen = [versions_running(api)]
    for _ in range(3):
        node.act(healthy=True)
        wait_for(
            lambda: (
                api.deployment.get_deployment(dep1["ID"])["TaskGroups"]["web"]["PlacedAllocs"] > 0
            ),
            what="progress",
        )
    wait_for(
        lambda: api.deployment.get_deployment(dep1["ID"])["Status"] == "successful",
        what="rolled out",
        timeout=15,
    )
    seen.append(versions_running(api))
    assert seen == [[0, 0, 1], [1, 1, 1]]
    deps = api.job.get_deployments("roll")
    assert [d["JobVersion"] for d in deps] == [1, 0]


def test_unhealthy_deployment_fails_and_reverts(api: nomad.Nomad, node: SimNode) -> None:
    api.job.register_job("roll", {"Job": rolling_job(["3"])})
    dep = wait_for(
        lambda: (d := api.job.get_deployment("roll"))["JobVersion"] == 2 and d,
        what="third deployment",
    )
    wait_for(lambda: 2 in versions_running(api), what="a v2 alloc")
    node.act(healthy=False)
    dep = wait_for(
        lambda: (d := api.deployment.get_deployment(dep["ID"]))["Status"] == "failed" and d,
        what="failed",
    )
    assert dep["StatusDescription"] == (
        "Failed due to unhealthy allocations - rolling back to job version 1"
    )
    job = wait_for(lambda: (j := api.job.get_job("roll"))["Version"] == 3 and j, what="revert")
    assert job["TaskGroups"][0]["Tasks"][0]["Config"]["args"] == ["2"]
    api.job.deregister_job("roll", purge=True)


def canary_job(args: list[str], *, auto_promote: bool = False, deadline: int = 0) -> dict:
    update = dict(UPDATE, Canary=1, AutoPromote=auto_promote, AutoRevert=False)
    if deadline:
        update.update(
            ProgressDeadline=deadline, HealthyDeadline=deadline // 2, MinHealthyTime=deadline // 10
        )
    job = J.job("canary", groups=[J.group(count=2, update=update)])
    job["TaskGroups"][0]["Tasks"][0]["Config"]["args"] = args
    return job


def canary_versions(api: nomad.Nomad) -> list[int]:
    return sorted(
        a["JobVersion"]
        for a in api.job.get_allocations("canary")
        if a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running")
    )


def test_canary_waits_for_promotion(api: nomad.Nomad, node: SimNode) -> None:
    api.job.register_job("canary", {"Job": canary_job(["1"])})
    first = wait_for(lambda: api.job.get_deployment("canary"), what="deployment")
    assert first["TaskGroups"]["web"]["DesiredCanaries"] == 0
    wait_for(lambda: len(canary_versions(api)) == 2, what="placed")
    node.act()
    wait_for(
        lambda: api.deployment.get_deployment(first["ID"])["Status"] == "successful",
        what="first deployment done",
    )
    plan = api.job.plan_job("canary", {"Job": canary_job(["2"])})
    assert plan["Annotations"]["DesiredTGUpdates"]["web"]["Canary"] == 1
    api.job.register_job("canary", {"Job": canary_job(["2"])})
    dep = wait_for(
        lambda: (d := api.job.get_deployment("canary"))["JobVersion"] == 1 and d,
        what="canary deployment",
    )
    assert dep["TaskGroups"]["web"]["DesiredCanaries"] == 1
    wait_for(lambda: canary_versions(api) == [0, 0, 1], what="one canary beside the old")
    node.act()
    dep = wait_for(
        lambda: (
            (d := api.deployment.get_deployment(dep["ID"]))["StatusDescription"]
            == "Deployment is running but requires manual promotion"
            and d
        ),
        what="needs promotion",
    )
    assert len(dep["TaskGroups"]["web"]["PlacedCanaries"]) == 1
    assert canary_versions(api) == [0, 0, 1]
    r = api.deployment.promote_deployment_all(dep["ID"])
    assert r["EvalID"]
    for _ in range(3):
        node.act()
        if canary_versions(api) == [1, 1]:
            break
        wait_for(lambda: True)
    wait_for(
        lambda: (node.act() or True) and canary_versions(api) == [1, 1],
        what="rolled after promotion",
    )
    wait_for(
        lambda: api.deployment.get_deployment(dep["ID"])["Status"] == "successful",
        what="canary deployment done",
    )


def test_pause_holds_the_rollout(api: nomad.Nomad, node: SimNode) -> None:
    api.job.register_job("canary", {"Job": canary_job(["3"], auto_promote=True)})
    dep = wait_for(
        lambda: (d := api.job.get_deployment("canary"))["JobVersion"] == 2 and d, what="deployment"
    )
    wait_for(lambda: canary_versions(api) == [1, 1, 2], what="canary placed")
    api.deployment.pause_deployment(dep["ID"], pause=True)
    assert api.deployment.get_deployment(dep["ID"])["Status"] == "paused"
    node.act()
    # auto-promotion and the rollout wait while paused
    assert canary_versions(api) == [1, 1, 2]
    api.deployment.pause_deployment(dep["ID"], pause=False)
    node.act()
    wait_for(
        lambda: (node.act() or True) and canary_versions(api) == [2, 2],
        what="resumed and auto-promoted",
    )
    wait_for(
        lambda: api.deployment.get_deployment(dep["ID"])["Status"] == "successful", what="done"
    )


def test_progress_deadline_fails_the_deployment(api: nomad.Nomad, node: SimNode) -> None:
    api.job.register_job("canary", {"Job": canary_job(["4"], deadline=SECOND)})
    dep = wait_for(
        lambda: (d := api.job.get_deployment("canary"))["JobVersion"] == 3 and d, what="deployment"
    )
    # nobody reports health: the deadline passes
    dep = wait_for(
        lambda: (d := api.deployment.get_deployment(dep["ID"]))["Status"] == "failed" and d,
        what="failed by deadline",
        timeout=10,
    )
    assert dep["StatusDescription"] == "Failed due to progress deadline"
    api.job.deregister_job("canary", purge=True)


def test_a_single_canary_promoted_completes_the_deployment(api: nomad.Nomad, node: SimNode) -> None:
    def solo(args: list[str]) -> dict:
        job = canary_job(args)
        job["ID"] = job["Name"] = "solo"
        job["TaskGroups"][0]["Count"] = 1
        return job

    def live() -> list[int]:
        return sorted(
            a["JobVersion"]
            for a in api.job.get_allocations("solo")
            if a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running")
        )

    api.job.register_job("solo", {"Job": solo(["1"])})
    wait_for(lambda: live() == [0], what="placed")
    node.act()
    wait_for(
        lambda: (api.job.get_deployment("solo") or {}).get("Status") == "successful",
        what="first deployment",
    )
    api.job.register_job("solo", {"Job": solo(["2"])})
    dep = wait_for(
        lambda: (d := api.job.get_deployment("solo"))["JobVersion"] == 1 and d, what="deployment"
    )
    wait_for(lambda: live() == [0, 1], what="the canary beside the old one")
    node.act()
    wait_for(
        lambda: (
            api.deployment.get_deployment(dep["ID"])["StatusDescription"]
            == "Deployment is running but requires manual promotion"
        ),
        what="needs promotion",
    )
    api.deployment.promote_deployment_all(dep["ID"])
    done = wait_for(
        lambda: (
            (node.act() or True)
            and (d := api.deployment.get_deployment(dep["ID"]))["Status"] == "successful"
            and d
        ),
        what="successful after promotion",
    )
    assert done["StatusDescription"] == "Deployment completed successfully"
    assert live() == [1]
    api.job.deregister_job("solo", purge=True)
