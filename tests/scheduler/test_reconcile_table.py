"""The reconciler as a table, in the style of Nomad's `reconcile_cluster_test.go`: each row
is a cluster state (job, allocations, nodes, deployments) and the decision expected of one
evaluation: Nomad's DesiredTGUpdates for the group, how many allocations are placed, which
are stopped (and why), and how many follow-up evaluations are created. No store, no process:
`reconcile.decide` works on the snapshot alone."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from tests.scheduler import cluster as C
from tests.scheduler import jobs as J
from yurt.scheduler import model as m
from yurt.scheduler import reconcile as r
from yurt.scheduler.reconcile import ClusterState, Plan
from yurt.scheduler.structs import Job

SECOND = C.SECOND


def job(
    count: int = 3,
    *,
    version: int = 0,
    job_type: str = "service",
    stop: bool = False,
    **group: Any,
) -> Job:
    spec: Any = J.job(
        "app",
        job_type=job_type,
        groups=[J.group("web", count=count, **group)],
        Version=version,
        Stop=stop,
    )
    return cast(Job, spec)


def changed(spec: Job, *, version: int = 1, command: str = "/bin/other") -> Job:
    """`spec` at a new version whose task changed in a way that needs a restart."""
    new: Any = J.job("app", Version=version)
    new.update({k: v for k, v in spec.items() if k != "Version"})
    new["Version"] = version
    new["TaskGroups"] = [dict(tg) for tg in spec.get("TaskGroups") or []]
    task = dict(new["TaskGroups"][0]["Tasks"][0])
    task["Config"] = {"command": command}
    new["TaskGroups"][0]["Tasks"] = [task]
    return cast(Job, new)


@dataclass(frozen=True)
class Decision:
    desired: dict[str, int]  # the group's non-zero DesiredTGUpdates
    placed: int
    stopped: dict[str, str] = field(default_factory=dict)  # alloc name -> why
    follow_ups: int = 0


def decision(plan: Plan, group: str = "web") -> Decision:
    return Decision(
        desired={k: v for k, v in plan.desired.get(group, {}).items() if v},
        placed=plan.placed,
        stopped={
            a["Name"]: a.get("DesiredDescription", "")
            for a in plan.allocs.values()
            if a.get("DesiredStatus") == m.ALLOC_DESIRED_STOP
        },
        follow_ups=len(plan.new_evals),
    )


# --- the states ----------------------------------------------------------------------

THREE = C.nodes("n0", "n1", "n2")


def place_new() -> ClusterState:
    return C.state(job(3), [], THREE)


def count_up() -> ClusterState:
    spec = job(5)
    return C.state(spec, [C.alloc(spec, i, THREE[i]) for i in range(2)], THREE)


def count_down() -> ClusterState:
    spec = job(2)
    return C.state(spec, [C.alloc(spec, i, THREE[i % 3]) for i in range(5)], THREE)


def stop_job() -> ClusterState:
    spec = job(3, stop=True)
    return C.state(spec, [C.alloc(spec, i, THREE[i]) for i in range(3)], THREE)


def job_purged() -> ClusterState:
    spec = job(2)
    return C.state(None, [C.alloc(spec, i, THREE[i]) for i in range(2)], THREE, job_id="app")


def in_place_update() -> ClusterState:
    old = job(3)
    new: Any = job(3, version=1)
    # Services change in place (the client re-registers them); the task keeps running.
    new["TaskGroups"][0]["Tasks"][0]["Services"] = [{"Name": "web", "PortLabel": "http"}]
    allocs = [C.alloc(old, i, THREE[i]) for i in range(3)]
    return C.state(new, allocs, THREE, versions={0: old})


def destructive_all_at_once() -> ClusterState:
    old = job(3)
    allocs = [C.alloc(old, i, THREE[i]) for i in range(3)]
    return C.state(changed(old), allocs, THREE, versions={0: old})


def destructive_max_parallel() -> ClusterState:
    old = job(4, update={"MaxParallel": 2})
    allocs = [C.alloc(old, i, THREE[i % 3]) for i in range(4)]
    return C.state(changed(old), allocs, C.nodes("n0", "n1", "n2", "n3"), versions={0: old})


def canary_placed() -> ClusterState:
    old = job(3, update={"MaxParallel": 1, "Canary": 1})
    allocs = [C.alloc(old, i, THREE[i]) for i in range(3)]
    return C.state(changed(old), allocs, THREE, versions={0: old})


def canary_promoted() -> ClusterState:
    old = job(3, update={"MaxParallel": 1, "Canary": 1})
    new = changed(old)
    dep = C.deployment(
        new, groups={"web": {"DesiredCanaries": 1, "Promoted": True, "DesiredTotal": 3}}
    )
    canary = C.alloc(
        new,
        0,
        THREE[0],
        DeploymentID=dep["ID"],
        DeploymentStatus={"Canary": True, "Healthy": True},
    )
    allocs = [C.alloc(old, i, THREE[i]) for i in range(3)] + [canary]
    return C.state(new, allocs, THREE, deployments=[dep], versions={0: old})


POLICY = {
    "Attempts": 2,
    "Interval": 3600 * SECOND,
    "Delay": 30 * SECOND,
    "DelayFunction": "constant",
    "MaxDelay": 0,
    "Unlimited": False,
}


def failed(spec: Job, *, ago: int, events: int = 0) -> list[Any]:
    events_list = [
        {"RescheduleTime": C.NOW - (i + 1) * 60 * SECOND, "PrevAllocID": "x", "PrevNodeID": "y"}
        for i in range(events)
    ]
    return [
        C.alloc(spec, 0, THREE[0]),
        C.alloc(
            spec,
            1,
            THREE[1],
            client=m.ALLOC_FAILED,
            ModifyTime=C.NOW - ago * SECOND,
            RescheduleTracker={"Events": events_list} if events else None,
        ),
    ]


def reschedule_now() -> ClusterState:
    spec = job(2, reschedule=POLICY)
    return C.state(spec, failed(spec, ago=60), THREE)


def reschedule_later() -> ClusterState:
    spec = job(2, reschedule=POLICY)
    return C.state(spec, failed(spec, ago=10), THREE)


def reschedule_exhausted() -> ClusterState:
    spec = job(2, reschedule=POLICY)
    return C.state(spec, failed(spec, ago=60, events=2), THREE)


def no_reschedule_policy() -> ClusterState:
    spec = job(2)
    return C.state(spec, failed(spec, ago=60), THREE)


def drain_migration() -> ClusterState:
    spec = job(2)
    cluster = [C.node("n0", draining=True), C.node("n1"), C.node("n2")]
    return C.state(spec, [C.alloc(spec, i, cluster[i]) for i in range(2)], cluster)


def lost_node() -> ClusterState:
    spec = job(2)
    cluster = [C.node("n0", status=m.NODE_DOWN), C.node("n1"), C.node("n2")]
    return C.state(spec, [C.alloc(spec, i, cluster[i]) for i in range(2)], cluster)


def no_room() -> ClusterState:
    spec = job(3, tasks=[J.task(cpu=800)])
    return C.state(spec, [], C.nodes("n0", "n1"))


def batch_complete() -> ClusterState:
    spec = job(2, job_type="batch")
    allocs = [C.alloc(spec, i, THREE[i], client=m.ALLOC_COMPLETE) for i in range(2)]
    return C.state(spec, allocs, THREE)


def batch_partly_complete() -> ClusterState:
    spec = job(3, job_type="batch")
    allocs = [C.alloc(spec, 0, THREE[0], client=m.ALLOC_COMPLETE)]
    return C.state(spec, allocs, THREE)


def system_new_node() -> ClusterState:
    spec = job(1, job_type="system")
    return C.state(spec, [C.alloc(spec, 0, THREE[i]) for i in range(2)], THREE)


def system_ineligible_node() -> ClusterState:
    spec = job(1, job_type="system")
    cluster = [C.node("n0", eligible=False), C.node("n1")]
    return C.state(spec, [C.alloc(spec, 0, n) for n in cluster], cluster)


def sysbatch_done() -> ClusterState:
    spec = job(1, job_type="sysbatch")
    return C.state(spec, [C.alloc(spec, 0, n, client=m.ALLOC_COMPLETE) for n in THREE], THREE)


UPDATING = r.DESC_UPDATING
NOT_NEEDED = r.DESC_NOT_NEEDED

CASES: list[tuple[str, Callable[[], ClusterState], Decision]] = [
    ("place new", place_new, Decision({"Place": 3}, placed=3)),
    ("count up", count_up, Decision({"Place": 3, "Ignore": 2}, placed=3)),
    (
        "count down stops the highest indexes",
        count_down,
        Decision(
            {"Stop": 3, "Ignore": 2},
            placed=0,
            stopped={"app.web[2]": NOT_NEEDED, "app.web[3]": NOT_NEEDED, "app.web[4]": NOT_NEEDED},
        ),
    ),
    (
        "stop job",
        stop_job,
        Decision(
            {"Stop": 3},
            placed=0,
            stopped={f"app.web[{i}]": NOT_NEEDED for i in range(3)},
        ),
    ),
    (
        "purged job",
        job_purged,
        Decision(
            {"Stop": 2}, placed=0, stopped={"app.web[0]": NOT_NEEDED, "app.web[1]": NOT_NEEDED}
        ),
    ),
    ("in-place update", in_place_update, Decision({"InPlaceUpdate": 3}, placed=0)),
    (
        "destructive update, all at once",
        destructive_all_at_once,
        Decision(
            {"DestructiveUpdate": 3},
            placed=3,
            stopped={f"app.web[{i}]": UPDATING for i in range(3)},
        ),
    ),
    (
        "destructive update within max_parallel",
        destructive_max_parallel,
        Decision(
            {"DestructiveUpdate": 2, "Ignore": 2},
            placed=2,
            stopped={"app.web[0]": UPDATING, "app.web[1]": UPDATING},
        ),
    ),
    (
        "canary placed beside the old version",
        canary_placed,
        Decision({"Canary": 1, "Ignore": 3}, placed=1),
    ),
    (
        "promoted canary replaces an old allocation, the rest roll",
        canary_promoted,
        Decision(
            {"DestructiveUpdate": 2, "Ignore": 2},
            placed=1,
            stopped={"app.web[0]": UPDATING, "app.web[1]": UPDATING},
        ),
    ),
    (
        "failed alloc rescheduled after its delay",
        reschedule_now,
        Decision({"Place": 1, "Ignore": 1}, placed=1),
    ),
    (
        "failed alloc within its delay: a follow-up evaluation",
        reschedule_later,
        Decision({"Ignore": 1}, placed=0, follow_ups=1),
    ),
    ("reschedule attempts exhausted", reschedule_exhausted, Decision({"Ignore": 1}, placed=0)),
    ("no reschedule policy", no_reschedule_policy, Decision({"Ignore": 1}, placed=0)),
    (
        "draining node: migrate",
        drain_migration,
        Decision({"Migrate": 1, "Ignore": 1}, placed=1, stopped={"app.web[0]": r.DESC_MIGRATING}),
    ),
    (
        "lost node: replace",
        lost_node,
        Decision({"Place": 1, "Ignore": 1}, placed=1, stopped={"app.web[0]": r.DESC_LOST}),
    ),
    ("no room for the last one", no_room, Decision({"Place": 2}, placed=2)),
    ("batch: complete allocs are not replaced", batch_complete, Decision({}, placed=0)),
    (
        "batch: only the unfinished are placed",
        batch_partly_complete,
        Decision({"Place": 2}, placed=2),
    ),
    ("system: a new node gets one", system_new_node, Decision({"Place": 1}, placed=1)),
    (
        "system: an ineligible node's alloc stops",
        system_ineligible_node,
        Decision({"Stop": 1}, placed=0, stopped={"app.web[0]": r.DESC_NODE_INFEASIBLE}),
    ),
    ("sysbatch: done on every node", sysbatch_done, Decision({}, placed=0)),
]


@pytest.mark.parametrize(("build", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reconcile(build: Callable[[], ClusterState], want: Decision) -> None:
    plan = r.decide(build(), C.NOW, rng=random.Random(7))
    assert decision(plan) == want


def test_reschedule_records_the_event_and_avoids_the_failed_node() -> None:
    plan = r.decide(reschedule_now(), C.NOW, rng=random.Random(7))
    (placed,) = [a for a in plan.allocs.values() if a.get("PreviousAllocation")]
    events = (placed.get("RescheduleTracker") or {}).get("Events") or []
    assert [(e["PrevNodeID"], e["Delay"]) for e in events] == [("id-n1", 30 * SECOND)]
    assert placed["Name"] == "app.web[1]"
    # The failed node scores a penalty; with others free the replacement goes elsewhere.
    assert placed["NodeID"] != "id-n1"


def test_follow_up_evaluation_waits_out_the_delay() -> None:
    plan = r.decide(reschedule_later(), C.NOW, rng=random.Random(7))
    (follow,) = plan.new_evals
    assert follow["TriggeredBy"] == m.TRIGGER_RETRY_FAILED_ALLOC
    assert follow["WaitUntilNs"] == C.NOW - 10 * SECOND + 30 * SECOND
    (marked,) = plan.allocs.values()
    assert marked["FollowupEvalID"] == follow["ID"]


@pytest.mark.parametrize("build", [drain_migration, lost_node], ids=["draining", "lost"])
def test_replacements_leave_the_node(build: Callable[[], ClusterState]) -> None:
    plan = r.decide(build(), C.NOW, rng=random.Random(7))
    (placed,) = [a for a in plan.allocs.values() if a.get("PreviousAllocation")]
    assert placed["Name"] == "app.web[0]" and placed["NodeID"] != "id-n0"


@pytest.mark.parametrize(
    ("build", "total", "canaries"),
    [(destructive_max_parallel, 4, 0), (canary_placed, 3, 1)],
    ids=["rolling", "canary"],
)
def test_an_update_block_starts_a_deployment(
    build: Callable[[], ClusterState], total: int, canaries: int
) -> None:
    plan = r.decide(build(), C.NOW, rng=random.Random(7))
    (dep,) = plan.deployments.values()
    state = dep["TaskGroups"]["web"]
    assert (dep["Status"], dep["JobVersion"]) == (m.DEPLOY_RUNNING, 1)
    assert (state["DesiredTotal"], state["DesiredCanaries"]) == (total, canaries)
    placed = [a for a in plan.allocs.values() if a["DesiredStatus"] == m.ALLOC_DESIRED_RUN]
    assert placed and all(a["DeploymentID"] == dep["ID"] for a in placed)


def test_the_same_state_decided_twice_plans_alike() -> None:
    # Nothing but the snapshot (and the random source) goes into a decision.
    first = r.decide(destructive_max_parallel(), C.NOW, rng=random.Random(3))
    second = r.decide(destructive_max_parallel(), C.NOW, rng=random.Random(3))
    assert decision(first) == decision(second)
    assert sorted(a["NodeID"] for a in first.allocs.values()) == sorted(
        a["NodeID"] for a in second.allocs.values()
    )
