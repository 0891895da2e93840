"""Jobs, evaluations and allocations through python-nomad and raw HTTP against a real
`yurt scheduler` process, with simulated client nodes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import nomad
import pytest
import requests

from tests.scheduler import jobs as J
from tests.scheduler.conftest import SchedulerProcess
from tests.scheduler.simnode import SimNode, wait_for


@pytest.fixture(scope="module")
def nodes(sched: SchedulerProcess) -> Iterator[list[SimNode]]:
    made = [
        SimNode(sched.url, f"node-{i}", meta={"rack": f"r{i % 2}"}).start_heartbeats()
        for i in range(3)
    ]
    for n in made:
        n.register()
    yield made
    for n in made:
        n.stop_heartbeats()


def eval_done(api: nomad.Nomad, eval_id: str) -> dict:
    return wait_for(
        lambda: (e := api.evaluation.get_evaluation(eval_id))["Status"] != "pending" and e,
        what=f"eval {eval_id}",
    )


def live_allocs(api: nomad.Nomad, job_id: str) -> list[dict]:
    return [
        a
        for a in api.job.get_allocations(job_id)
        if a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running")
    ]


def test_register_places_and_allocation_wire_shape(api: nomad.Nomad, nodes: list[SimNode]) -> None:
    job = J.job(
        "web", groups=[J.group(count=2, static_ports={"http": 8080}, dynamic_ports=["admin"])]
    )
    resp = api.job.register_job("web", {"Job": job})
    assert resp["EvalID"] and resp["JobModifyIndex"] > 0 and resp["EvalCreateIndex"] > 0
    ev = eval_done(api, resp["EvalID"])
    assert ev["Status"] == "complete" and ev["TriggeredBy"] == "job-register"
    assert ev["QueuedAllocations"] == {"web": 0}
    stubs = api.job.get_allocations("web")
    assert len(stubs) == 2
    assert {s["Name"] for s in stubs} == {"web.web[0]", "web.web[1]"}
    # distinct nodes: two static ports 8080 cannot share a node
    assert len({s["NodeID"] for s in stubs}) == 2
    full = api.allocation.get_allocation(stubs[0]["ID"])
    assert full["Job"]["ID"] == "web" and full["Job"]["Version"] == 0
    ports = {p["Label"]: p for p in full["AllocatedResources"]["Shared"]["Ports"]}
    assert ports["http"]["Value"] == 8080 and ports["http"]["HostIP"] == "127.0.0.1"
    assert 20000 <= ports["admin"]["Value"] <= 32000
    assert full["AllocatedResources"]["Tasks"]["web"]["Cpu"]["CpuShares"] == 100
    assert full["AllocatedResources"]["Tasks"]["web"]["Memory"]["MemoryMB"] == 64
    assert full["Resources"]["CPU"] == 100 and full["TaskResources"]["web"]["MemoryMB"] == 64
    assert full["Metrics"]["NodesEvaluated"] >= 1
    assert full["Metrics"]["ScoreMetaData"][0]["Scores"]["binpack"] >= 0
    assert isinstance(full["CreateTime"], int) and full["CreateTime"] > 1e18
    # 8-character prefixes resolve, as the nomad CLI uses them
    assert api.allocation.get_allocation(stubs[0]["ID"][:8])["ID"] == stubs[0]["ID"]
    listed = requests.get(f"{api.allocations.url if False else ''}", timeout=1) if False else None
    assert listed is None


def test_summary_and_status_follow_client_updates(api: nomad.Nomad, nodes: list[SimNode]) -> None:
    summary = api.job.get_summary("web")["Summary"]["web"]
    assert summary["Starting"] == 2 and summary["Running"] == 0 and summary["Queued"] == 0
    assert api.job.get_job("web")["Status"] == "running"
    for n in nodes:
        n.act()
    summary = api.job.get_summary("web")["Summary"]["web"]
    assert summary["Running"] == 2 and summary["Starting"] == 0
    stubs = api.jobs.get_jobs()
    web = next(j for j in stubs if j["ID"] == "web")
    assert web["JobSummary"]["Summary"]["web"]["Running"] == 2
    assert web["Status"] == "running" and web["Type"] == "service"
    alloc = api.job.get_allocations("web")[0]
    full = api.allocation.get_allocation(alloc["ID"])
    assert full["TaskStates"]["web"]["State"] == "running"


def test_static_port_exhaustion_blocks_then_unblocks(
    sched: SchedulerProcess, api: nomad.Nomad, nodes: list[SimNode]
) -> None:
    job = J.job("ports", groups=[J.group(count=4, static_ports={"http": 9090})])
    resp = api.job.register_job("ports", {"Job": job})
    ev = eval_done(api, resp["EvalID"])
    assert len(live_allocs(api, "ports")) == 3
    failed = ev["FailedTGAllocs"]["web"]
    assert failed["NodesExhausted"] >= 1
    assert "network: reserved port collision http=9090" in failed["DimensionExhausted"]
    assert ev["BlockedEval"]
    blocked = api.evaluation.get_evaluation(ev["BlockedEval"])
    assert blocked["Status"] == "blocked" and blocked["TriggeredBy"] == "queued-allocs"
    assert api.job.get_summary("ports")["Summary"]["web"]["Queued"] == 1
    extra = SimNode(sched.url, "node-extra").start_heartbeats()
    try:
        extra.register()
        wait_for(lambda: len(live_allocs(api, "ports")) == 4, what="4th placement")
        assert api.job.get_summary("ports")["Summary"]["web"]["Queued"] == 0
    finally:
        api.job.deregister_job("ports", purge=True)
        wait_for(lambda: not live_allocs(api, "ports"), what="ports stopped")
        extra.stop_heartbeats()
        # a node that stops heartbeating turns down after its TTL and grace
        wait_for(lambda: api.node.get_node(extra.id)["Status"] == "down", what="node down")


def test_blocking_query_wakes_on_change(
    sched: SchedulerProcess, api: nomad.Nomad, nodes: list[SimNode]
) -> None:
    resp = requests.get(f"{sched.url}/v1/jobs", timeout=5)
    index = int(resp.headers["X-Nomad-Index"])
    assert resp.headers["X-Nomad-KnownLeader"] == "true"
    result: dict = {}

    def block() -> None:
        started = time.monotonic()
        r = requests.get(f"{sched.url}/v1/jobs", params={"index": index, "wait": "20s"}, timeout=30)
        result["elapsed"] = time.monotonic() - started
        result["index"] = int(r.headers["X-Nomad-Index"])
        result["ids"] = [j["ID"] for j in r.json()]

    t = threading.Thread(target=block)
    t.start()
    time.sleep(0.3)
    api.job.register_job("blocker", {"Job": J.job("blocker")})
    t.join(30)
    assert result["index"] > index and "blocker" in result["ids"] and result["elapsed"] < 10
    r = requests.get(
        f"{sched.url}/v1/jobs", params={"index": result["index"] + 1000, "wait": "200ms"}, timeout=5
    )
    assert r.status_code == 200
    api.job.deregister_job("blocker", purge=True)


def test_a_blocking_read_of_a_job_wakes_when_its_status_moves(
    sched: SchedulerProcess, api: nomad.Nomad, nodes: list[SimNode]
) -> None:
    job = J.job("oneshot", job_type="batch", groups=[J.group(count=1)])
    eval_done(api, api.job.register_job("oneshot", {"Job": job})["EvalID"])
    for n in nodes:
        n.act()
    first = requests.get(f"{sched.url}/v1/job/oneshot", timeout=5)
    assert first.json()["Status"] == "running"
    index = int(first.headers["X-Nomad-Index"])
    result: dict = {}

    def block() -> None:
        r = requests.get(
            f"{sched.url}/v1/job/oneshot", params={"index": index, "wait": "20s"}, timeout=30
        )
        result["status"] = r.json()["Status"]
        result["index"] = int(r.headers["X-Nomad-Index"])

    t = threading.Thread(target=block)
    t.start()
    time.sleep(0.3)
    # Only the allocation changes (the batch task completes): the job's own record is not
    # written by anyone, yet its status moves, and so must its index, as in Nomad.
    for n in nodes:
        for alloc in n.allocs(wait="10ms")[0]:
            if alloc["JobID"] == "oneshot":
                n.update([SimNode.status_update(alloc, "complete")])
    t.join(30)
    assert result == {"status": "dead", "index": result["index"]} and result["index"] > index


def test_update_in_place_and_destructive(api: nomad.Nomad, nodes: list[SimNode]) -> None:
    job = J.job("upd", groups=[J.group(count=2)])
    eval_done(api, api.job.register_job("upd", {"Job": job})["EvalID"])
    for n in nodes:
        n.act()
    before = {a["ID"] for a in live_allocs(api, "upd")}
    # services only: in place, the same allocations move to version 1
    job["TaskGroups"][0]["Tasks"][0]["Services"] = [{"Name": "upd-svc", "PortLabel": ""}]
    eval_done(api, api.job.register_job("upd", {"Job": job})["EvalID"])
    after = live_allocs(api, "upd")
    assert {a["ID"] for a in after} == before
    assert all(a["JobVersion"] == 1 for a in after)
    # a driver config change is destructive: new allocations replace the old ones, one at a
    # time (the default update block has max_parallel 1) as the clients report them healthy
    job["TaskGroups"][0]["Tasks"][0]["Config"]["args"] = ["2000"]
    ev = eval_done(api, api.job.register_job("upd", {"Job": job})["EvalID"])
    assert ev["Status"] == "complete"
    assert sorted(a["JobVersion"] for a in live_allocs(api, "upd")) == [1, 2]

    def rolled() -> bool:
        for n in nodes:
            n.act()
        after = live_allocs(api, "upd")
        return len(after) == 2 and all(a["JobVersion"] == 2 for a in after)

    wait_for(rolled, what="rolling update done")
    after = live_allocs(api, "upd")
    assert not ({a["ID"] for a in after} & before)
    old = [a for a in api.job.get_allocations("upd") if a["ID"] in before]
    assert all(a["DesiredStatus"] == "stop" for a in old)
    assert all(a["DesiredDescription"] == "alloc is being updated due to job update" for a in old)
    versions = api.job.get_versions("upd")["Versions"]
    assert [v["Version"] for v in versions] == [2, 1, 0]
    # re-registering the same spec does not make a new version
    api.job.register_job("upd", {"Job": job})
    assert api.job.get_job("upd")["Version"] == 2


def test_scale_revert_and_stop(api: nomad.Nomad, nodes: list[SimNode]) -> None:
    resp = (
        api.job.scale_job("upd", 3)
        if False
        else requests.post(f"{api.job.url if False else ''}", timeout=1)
        if False
        else None
    )
    assert resp is None
    r = api.job.request(
        "upd",
        "scale",
        method="post",
        json={"Count": 3, "Target": {"Group": "web"}, "Message": "up"},
    ).json()
    ev = eval_done(api, r["EvalID"])
    assert ev["TriggeredBy"] == "job-scaling"
    assert len(live_allocs(api, "upd")) == 3
    r = api.job.request(
        "upd", "scale", method="post", json={"Count": 1, "Target": {"Group": "web"}}
    ).json()
    eval_done(api, r["EvalID"])
    live = live_allocs(api, "upd")
    assert [a["Name"] for a in live] == ["upd.web[0]"]
    with pytest.raises(nomad.api.exceptions.BaseNomadException):
        api.job.request(
            "upd", "scale", method="post", json={"Count": 1, "Target": {"Group": "nope"}}
        )
    # revert to version 0 (count 2, original args) makes a new version
    r = api.job.revert_job("upd", 0)
    eval_done(api, r["EvalID"])
    job = api.job.get_job("upd")
    assert job["TaskGroups"][0]["Count"] == 2
    assert job["TaskGroups"][0]["Tasks"][0]["Config"]["args"] == ["1000"]
    assert job["Version"] == 5
    # stop: every allocation is told to stop, the job is dead once the clients stop
    r = api.job.deregister_job("upd")
    ev = eval_done(api, r["EvalID"])
    assert ev["TriggeredBy"] == "job-deregister"
    assert api.job.get_job("upd")["Stop"] is True
    assert not live_allocs(api, "upd")
    for n in nodes:
        n.act()
    assert api.job.get_job("upd")["Status"] == "dead"
    api.job.deregister_job("upd", purge=True)
    with pytest.raises(nomad.api.exceptions.URLNotFoundNomadException):
        api.job.get_job("upd")


def test_errors_are_plain_text(sched: SchedulerProcess) -> None:
    r = requests.get(f"{sched.url}/v1/job/missing", timeout=5)
    assert (r.status_code, r.text) == (404, "job not found")
    r = requests.get(f"{sched.url}/v1/allocation/00000000-0000", timeout=5)
    assert (r.status_code, r.text) == (404, "alloc not found")
    r = requests.put(f"{sched.url}/v1/jobs", data="{", timeout=5)
    assert r.status_code == 400 and "Request decode failed" in r.text
    r = requests.put(f"{sched.url}/v1/jobs", json={"job": {"ID": "x", "TaskGroups": []}}, timeout=5)
    assert r.status_code == 400 and "task groups" in r.text
    r = requests.post(f"{sched.url}/v1/job/a", json={"Job": J.job("b")}, timeout=5)
    assert (r.status_code, r.text) == (400, "Job ID does not match name")
    requests.put(
        f"{sched.url}/v1/jobs", json={"Job": J.job("nodep", job_type="batch")}, timeout=5
    ).raise_for_status()
    r = requests.get(f"{sched.url}/v1/job/nodep/deployment", timeout=5)
    assert r.status_code == 200 and r.json() is None
    requests.delete(f"{sched.url}/v1/job/nodep?purge=true", timeout=5).raise_for_status()


def test_enforce_index(sched: SchedulerProcess) -> None:
    body = {"Job": J.job("enf"), "EnforceIndex": True, "JobModifyIndex": 0}
    r = requests.put(f"{sched.url}/v1/jobs", json=body, timeout=5)
    assert r.status_code == 200
    r = requests.put(f"{sched.url}/v1/jobs", json=body, timeout=5)
    assert r.status_code == 409 and "job already exists" in r.text
    requests.delete(f"{sched.url}/v1/job/enf?purge=true", timeout=5)


def test_constraints_and_affinity(api: nomad.Nomad, nodes: list[SimNode]) -> None:
    target = nodes[1]
    job = J.job(
        "pinned",
        groups=[
            J.group(
                count=2,
                constraints=[
                    {"LTarget": "${node.unique.name}", "RTarget": target.name, "Operand": "="}
                ],
            )
        ],
    )
    ev = eval_done(api, api.job.register_job("pinned", {"Job": job})["EvalID"])
    placed = live_allocs(api, "pinned")
    assert placed and all(a["NodeID"] == target.id for a in placed)
    assert ev["FailedTGAllocs"] is None
    job = J.job(
        "nowhere",
        groups=[
            J.group(
                constraints=[
                    {"LTarget": "${attr.kernel.name}", "RTarget": "windows", "Operand": "="}
                ]
            )
        ],
    )
    ev = eval_done(api, api.job.register_job("nowhere", {"Job": job})["EvalID"])
    failed = ev["FailedTGAllocs"]["web"]
    assert failed["ConstraintFiltered"] == {"${attr.kernel.name} = windows": 3}
    job = J.job(
        "distinct",
        groups=[J.group(count=3, constraints=[{"Operand": "distinct_hosts", "RTarget": "true"}])],
    )
    eval_done(api, api.job.register_job("distinct", {"Job": job})["EvalID"])
    assert len({a["NodeID"] for a in live_allocs(api, "distinct")}) == 3
    job = J.job(
        "rack",
        groups=[
            J.group(
                count=1,
                affinities=[
                    {"LTarget": "${meta.rack}", "RTarget": "r1", "Operand": "=", "Weight": 100}
                ],
            )
        ],
    )
    eval_done(api, api.job.register_job("rack", {"Job": job})["EvalID"])
    (alloc,) = live_allocs(api, "rack")
    assert alloc["NodeID"] == nodes[1].id
    for jid in ("pinned", "nowhere", "distinct", "rack"):
        api.job.deregister_job(jid, purge=True)


def test_plan_annotations_and_diff(api: nomad.Nomad, nodes: list[SimNode]) -> None:
    job = J.job("planned", groups=[J.group(count=2)])
    plan = api.job.plan_job("planned", {"Job": job}, diff=True)
    assert plan["Annotations"]["DesiredTGUpdates"]["web"]["Place"] == 2
    assert plan["Diff"]["Type"] == "Added"
    assert api.job.get_allocations("planned") == []
    eval_done(api, api.job.register_job("planned", {"Job": job})["EvalID"])
    job["TaskGroups"][0]["Count"] = 3
    plan = api.job.plan_job("planned", {"Job": job}, diff=True)
    updates = plan["Annotations"]["DesiredTGUpdates"]["web"]
    assert updates["Place"] == 1 and updates["InPlaceUpdate"] == 2
    (tg,) = plan["Diff"]["TaskGroups"]
    assert tg["Type"] == "Edited"
    assert {
        "Type": "Edited",
        "Name": "Count",
        "Old": "2",
        "New": "3",
        "Annotations": ["forces create"],
    } in tg["Fields"]
    assert tg["Updates"] == {"create": 1, "in-place update": 2}
    api.job.deregister_job("planned", purge=True)


def test_evaluate_and_eval_endpoints(
    sched: SchedulerProcess, api: nomad.Nomad, nodes: list[SimNode]
) -> None:
    r = api.job.evaluate_job("web")
    ev = eval_done(api, r["EvalID"])
    assert ev["JobID"] == "web"
    assert {
        a["ID"] for a in api.evaluation.get_allocations(api.job.get_evaluations("web")[-1]["ID"])
    }
    evals = api.evaluations.get_evaluations(prefix=ev["ID"][:8])
    assert [e["ID"] for e in evals] == [ev["ID"]]
    r = requests.get(f"{sched.url}/v1/evaluations", params={"job": "web"}, timeout=5)
    assert all(e["JobID"] == "web" for e in r.json())


def test_batch_job_completes_and_is_not_rerun(api: nomad.Nomad, nodes: list[SimNode]) -> None:
    job = J.job("once", job_type="batch", groups=[J.group(count=2)])
    eval_done(api, api.job.register_job("once", {"Job": job})["EvalID"])
    for n in nodes:
        allocs, _ = n.allocs(wait="10ms")
        ups = [n.status_update(a, "complete") for a in allocs if a["JobID"] == "once"]
        if ups:
            n.update(ups).raise_for_status()
    wait_for(lambda: api.job.get_job("once")["Status"] == "dead", what="batch dead")
    summary = api.job.get_summary("once")["Summary"]["web"]
    assert summary["Complete"] == 2
    eval_done(api, api.job.evaluate_job("once")["EvalID"])
    assert len(api.job.get_allocations("once")) == 2
    api.job.deregister_job("once", purge=True)


def test_system_and_sysbatch(
    sched: SchedulerProcess, api: nomad.Nomad, nodes: list[SimNode]
) -> None:
    eval_done(api, api.job.register_job("sys", {"Job": J.job("sys", job_type="system")})["EvalID"])
    allocs = live_allocs(api, "sys")
    assert {a["NodeID"] for a in allocs} >= {n.id for n in nodes}
    late = SimNode(sched.url, "node-late").start_heartbeats()
    try:
        late.register()
        wait_for(
            lambda: any(a["NodeID"] == late.id for a in live_allocs(api, "sys")),
            what="system alloc on new node",
        )
    finally:
        late.stop_heartbeats()
    wait_for(
        lambda: not any(a["NodeID"] == late.id for a in live_allocs(api, "sys")),
        timeout=15,
        what="system alloc on lost node gone",
    )
    sb = J.job("sb", job_type="sysbatch")
    eval_done(api, api.job.register_job("sb", {"Job": sb})["EvalID"])
    for n in nodes:
        allocs_, _ = n.allocs(wait="10ms")
        ups = [n.status_update(a, "complete") for a in allocs_ if a["JobID"] == "sb"]
        n.update(ups).raise_for_status()
    eval_done(api, api.job.evaluate_job("sb")["EvalID"])
    assert (
        sum(1 for a in api.job.get_allocations("sb") if a["NodeID"] in {n.id for n in nodes}) == 3
    )
    for jid in ("sys", "sb"):
        api.job.deregister_job(jid, purge=True)


def test_dispatch_and_periodic(api: nomad.Nomad, nodes: list[SimNode]) -> None:
    param = J.job(
        "param",
        job_type="batch",
        ParameterizedJob={"Payload": "optional", "MetaRequired": ["who"], "MetaOptional": None},
    )
    r = api.job.register_job("param", {"Job": param})
    assert r["EvalID"] == ""
    out = api.job.dispatch_job("param", meta={"who": "me"})
    assert out["DispatchedJobID"].startswith("param/dispatch-")
    eval_done(api, out["EvalID"])
    child = api.job.get_job(out["DispatchedJobID"])
    assert child["ParentID"] == "param" and child["Meta"]["who"] == "me"
    assert len(api.job.get_allocations(out["DispatchedJobID"])) == 1
    with pytest.raises(nomad.api.exceptions.BaseNomadException):
        api.job.dispatch_job("param", meta={"other": "x"})
    assert (
        api.job.get_summary("param")["Children"]["Pending"]
        + api.job.get_summary("param")["Children"]["Running"]
        == 1
    )
    cron = J.job(
        "cron",
        job_type="batch",
        Periodic={
            "Enabled": True,
            "Spec": "*/1 * * * * *",
            "SpecType": "cron",
            "ProhibitOverlap": False,
            "TimeZone": "UTC",
        },
    )
    api.job.register_job("cron", {"Job": cron})
    forced = api.job.periodic_job("cron")
    eval_done(api, forced["EvalID"])
    wait_for(
        lambda: sum(1 for j in api.jobs.get_jobs() if j["ParentID"] == "cron") >= 3,
        what="cron launches",
    )
    api.job.deregister_job("cron")
    api.job.deregister_job("param")


def test_agent_status_and_metrics(sched: SchedulerProcess, api: nomad.Nomad) -> None:
    me = api.agent.get_agent()
    assert me["config"]["Region"] == "global" and me["member"]["Status"] == "alive"
    assert "stats" in me
    assert api.agent.get_members()["Members"][0]["Tags"]["role"] == "nomad"
    assert api.status.leader.get_leader() == f"127.0.0.1:{sched.port + 1}"
    assert api.regions.get_regions() == ["global"]
    r = requests.get(f"{sched.url}/v1/agent/health?type=server", timeout=5)
    assert r.json() == {"server": {"ok": True, "message": "ok"}}
    data = api.metrics.get_metrics()
    names = {g["Name"] for g in data["Gauges"]}
    assert "nomad.nomad.broker.total_ready" in names
    text = requests.get(f"{sched.url}/v1/metrics?format=prometheus", timeout=5).text
    assert "# TYPE nomad_nomad_worker_evals_processed counter" in text


def test_prefix_search(sched: SchedulerProcess, api: nomad.Nomad) -> None:
    alloc = api.job.get_allocations("web")[0]
    r = requests.post(
        f"{sched.url}/v1/search", json={"Prefix": alloc["ID"][:8], "Context": "allocs"}, timeout=5
    )
    assert r.json()["Matches"] == {"allocs": [alloc["ID"]]}
    r = requests.post(f"{sched.url}/v1/search", json={"Prefix": "we", "Context": "all"}, timeout=5)
    assert r.json()["Matches"]["jobs"] == ["web"]
    assert r.json()["Truncations"]["jobs"] is False


def test_job_body_field_names_fold_like_go(
    sched: SchedulerProcess, api: nomad.Nomad, nodes: list[SimNode]
) -> None:
    job = {
        "id": "lower",
        "name": "lower",
        "type": "batch",
        "datacenters": ["dc1"],
        "task_groups": [
            {
                "name": "g",
                "count": 1,
                "tasks": [
                    {
                        "name": "t",
                        "driver": "raw_exec",
                        "config": {"command": "/bin/true", "Some_Key": 1},
                        "env": {"lower_case": "kept"},
                        "resources": {"cpu": 120, "memory_mb": 32},
                    }
                ],
            }
        ],
    }
    r = requests.put(f"{sched.url}/v1/jobs", json={"job": job}, timeout=5)
    assert r.status_code == 200, r.text
    got = api.job.get_job("lower")
    task = got["TaskGroups"][0]["Tasks"][0]
    assert task["Resources"]["CPU"] == 120 and task["Resources"]["MemoryMB"] == 32
    assert task["Config"] == {"command": "/bin/true", "Some_Key": 1}
    assert task["Env"] == {"lower_case": "kept"}
    api.job.deregister_job("lower", purge=True)
