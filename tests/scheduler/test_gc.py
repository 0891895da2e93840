"""Garbage collection: `nomad system gc` against a real scheduler process, and the age
thresholds of the periodic collection on a real store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import nomad
import pytest
from click.testing import CliRunner

from tests.scheduler import jobs as J
from tests.scheduler.conftest import SchedulerProcess
from tests.scheduler.simnode import SimNode, wait_for
from yurt.cli import main as cli
from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.gc import GarbageCollector

SECOND = 1_000_000_000
HOUR = 3600 * SECOND
GC_NODE = [{"LTarget": "${meta.set}", "RTarget": "gc", "Operand": "="}]


@pytest.fixture(scope="module")
def node(sched: SchedulerProcess) -> Iterator[SimNode]:
    n = SimNode(sched.url, "gc-node", meta={"set": "gc"}).start_heartbeats()
    n.register()
    yield n
    n.stop_heartbeats()


def settle(api: nomad.Nomad, job_id: str) -> None:
    wait_for(
        lambda: all(e["Status"] != "pending" for e in api.job.get_evaluations(job_id)),
        what=f"evaluations of {job_id}",
    )


def acted_until(node: SimNode, cond: object, what: str) -> None:
    """Let the node do what a client does (run, stop) until `cond()` holds."""

    def step() -> bool:
        node.act()
        return bool(cond())  # type: ignore[operator]

    wait_for(step, what=what)


def test_system_gc_removes_a_stopped_job_and_keeps_a_running_one(
    api: nomad.Nomad, sched: SchedulerProcess, node: SimNode
) -> None:
    for name in ("gc-keep", "gc-gone"):
        job = J.job(name, groups=[J.group(count=1, constraints=GC_NODE)])
        api.job.register_job(name, {"Job": job})
        settle(api, name)
    acted_until(
        node,
        lambda: all(
            a["ClientStatus"] == "running"
            for j in ("gc-keep", "gc-gone")
            for a in api.job.get_allocations(j)
        ),
        "both running",
    )
    gone_evals = {e["ID"] for e in api.job.get_evaluations("gc-gone")}
    gone_allocs = {a["ID"] for a in api.job.get_allocations("gc-gone")}

    # Nothing of a running job is collected, even when forced.
    assert api.system.initiate_garbage_collection()
    assert api.job.get_job("gc-gone")["Status"] == "running"
    assert {a["ID"] for a in api.job.get_allocations("gc-gone")} == gone_allocs

    # Stopped, and its allocation reported complete by the node: the job is dead.
    api.job.deregister_job("gc-gone")
    settle(api, "gc-gone")
    acted_until(node, lambda: api.job.get_job("gc-gone")["Status"] == "dead", "gc-gone dead")

    # `yurt system gc` (as `nomad system gc`) prints nothing and collects it whole.
    result = CliRunner().invoke(cli, ["system", "gc", "-address", sched.url])
    assert (result.exit_code, result.output) == (0, "")
    with pytest.raises(nomad.api.exceptions.URLNotFoundNomadException):
        api.job.get_job("gc-gone")
    left = {e["ID"] for e in api.evaluations.get_evaluations()}
    assert not gone_evals & left
    all_allocs = {a["ID"] for a in api.allocations.get_allocations()}
    assert not gone_allocs & all_allocs
    # The running job is untouched.
    assert api.job.get_job("gc-keep")["Status"] == "running"
    assert [a["ClientStatus"] for a in api.job.get_allocations("gc-keep")] == ["running"]
    api.job.deregister_job("gc-keep", purge=True)


def test_replaced_failed_allocation_is_collected_and_its_replacement_kept(
    api: nomad.Nomad, node: SimNode
) -> None:
    policy = {
        "Attempts": 3,
        "Interval": HOUR,
        "Delay": SECOND // 5,
        "DelayFunction": "constant",
        "MaxDelay": 0,
        "Unlimited": False,
    }
    job = J.job("gc-flaky", groups=[J.group(count=1, reschedule=policy, constraints=GC_NODE)])
    api.job.register_job("gc-flaky", {"Job": job})
    settle(api, "gc-flaky")
    node.act()
    (first,) = api.job.get_allocations("gc-flaky")
    node.update([SimNode.status_update(first, "failed")]).raise_for_status()
    second = wait_for(
        lambda: [a for a in api.job.get_allocations("gc-flaky") if a["ID"] != first["ID"]],
        what="the replacement",
    )[0]
    node.act()
    settle(api, "gc-flaky")
    assert api.system.initiate_garbage_collection()
    remaining = api.job.get_allocations("gc-flaky")
    assert [a["ID"] for a in remaining] == [second["ID"]]
    # The replacement still knows its history, so the reschedule attempts still count.
    full = api.allocation.get_allocation(second["ID"])
    assert [e["PrevAllocID"] for e in full["RescheduleTracker"]["Events"]] == [first["ID"]]
    # The reconciler does not place the collected one again.
    r = api.job.request("gc-flaky", "evaluate", method="post", json={"JobID": "gc-flaky"})
    assert r.ok
    settle(api, "gc-flaky")
    live = [a for a in api.job.get_allocations("gc-flaky") if a["DesiredStatus"] == "run"]
    assert [a["ID"] for a in live] == [second["ID"]]
    api.job.deregister_job("gc-flaky", purge=True)


def test_down_node_without_work_is_collected(api: nomad.Nomad, sched: SchedulerProcess) -> None:
    lost = SimNode(sched.url, "gc-lost")
    lost.register()
    lost.heartbeat()
    wait_for(
        lambda: any(n["ID"] == lost.id and n["Status"] == "down" for n in api.nodes.get_nodes()),
        timeout=15,
        what="the node to go down",
    )
    assert api.system.initiate_garbage_collection()
    assert lost.id not in {n["ID"] for n in api.nodes.get_nodes()}


def test_reconcile_summaries_answers(api: nomad.Nomad) -> None:
    assert api.system.reconcile_summaries()


# The periodic collection's thresholds, on a store: each object is dated on its own.


def _put(store: s.Store, kind: str, key: str, obj: dict) -> None:
    with store.write() as txn:
        txn.put(kind, key, {**obj, "ModifyIndex": txn.index, "CreateIndex": txn.index})


def test_thresholds_keep_what_is_too_young(tmp_path: Path) -> None:
    store = s.Store(tmp_path)
    now = time.time_ns()
    try:
        # Dead jobs: collected after 4 h with their evaluations; a younger one stays, and
        # its evaluation goes after 1 h.
        for name, age in (("old", 5 * HOUR), ("middle", 2 * HOUR), ("young", 30 * 60 * SECOND)):
            _put(
                store,
                s.JOB,
                s.job_key("default", name),
                {
                    **J.job(name),
                    "Status": m.JOB_DEAD,
                    "Stop": True,
                    "SubmitTime": now - age,
                },
            )
            _put(
                store,
                s.EVAL,
                f"eval-{name}",
                {
                    "ID": f"eval-{name}",
                    "Namespace": "default",
                    "JobID": name,
                    "Type": "service",
                    "Status": m.EVAL_COMPLETE,
                    "ModifyTime": now - age,
                },
            )
        # An evaluation of a job that stays: collected after 1 h, not before.
        _put(store, s.JOB, s.job_key("default", "live"), {**J.job("live"), "Status": "running"})
        for name, age in (("live-old", 2 * HOUR), ("live-new", 10 * 60 * SECOND)):
            _put(
                store,
                s.EVAL,
                name,
                {
                    "ID": name,
                    "Namespace": "default",
                    "JobID": "live",
                    "Type": "service",
                    "Status": m.EVAL_COMPLETE,
                    "ModifyTime": now - age,
                },
            )
        # Node down for 2 h (kept: 24 h threshold) and for 2 days (collected).
        for name, age_s in (("n-recent", 7200), ("n-ancient", 2 * 86400)):
            _put(
                store,
                s.NODE,
                name,
                {"ID": name, "Status": m.NODE_DOWN, "StatusUpdatedAt": now // SECOND - age_s},
            )

        # The versions of a purged job (the job itself already deleted).
        _put(store, s.JOB_VERSION, s.version_key("default", "purged", 0), J.job("purged"))

        result = GarbageCollector(store).run(now_ns=now)
        assert not store.tables[s.JOB_VERSION].get(s.version_key("default", "purged", 0))
        assert (result.jobs, result.nodes) == (1, 1)
        assert set(store.tables[s.JOB]) == {
            s.job_key("default", "middle"),
            s.job_key("default", "young"),
            s.job_key("default", "live"),
        }
        assert set(store.tables[s.EVAL]) == {"eval-young", "live-new"}
        assert set(store.tables[s.NODE]) == {"n-recent"}
    finally:
        store.close()

    # The deletions were written: a new store on the same file sees the same.
    again = s.Store(tmp_path)
    try:
        assert set(again.tables[s.EVAL]) == {"eval-young", "live-new"}
    finally:
        again.close()
