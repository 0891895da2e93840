"""Node loss, rescheduling of failed allocations, drains and eligibility, the internal
protocol's errors, and forwarding of `/v1/client/...` to the node that runs an allocation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import nomad
import pytest
import requests

from tests.scheduler import jobs as J
from tests.scheduler.conftest import SchedulerProcess
from tests.scheduler.simnode import SimNode, wait_for
from tests.support.process import free_port

SECOND = 1_000_000_000


def eval_done(api: nomad.Nomad, eval_id: str) -> dict:
    return wait_for(
        lambda: (e := api.evaluation.get_evaluation(eval_id))["Status"] != "pending" and e,
        what=f"eval {eval_id}",
    )


def live(api: nomad.Nomad, job_id: str) -> list[dict]:
    return [
        a
        for a in api.job.get_allocations(job_id)
        if a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running")
    ]


PAIR = [{"LTarget": "${meta.set}", "RTarget": "pair", "Operand": "="}]


@pytest.fixture()
def pair(sched: SchedulerProcess) -> Iterator[list[SimNode]]:
    """Two nodes that jobs constrained with PAIR land on (other tests' nodes linger)."""
    made = [
        SimNode(sched.url, f"pair-{i}", meta={"set": "pair"}).start_heartbeats() for i in range(2)
    ]
    for n in made:
        n.register()
    yield made
    for n in made:
        n.stop_heartbeats()
    # Let them go down so that the next test's pair is the only one.
    api = nomad.Nomad(host="127.0.0.1", port=sched.port)
    for n in made:
        wait_for(lambda n=n: api.node.get_node(n.id)["Status"] == "down", what="pair down")


def test_protocol_errors(sched: SchedulerProcess) -> None:
    node = SimNode(sched.url, "proto")
    r = requests.put(
        f"{sched.url}/v1/internal/node/register",
        json={"ProtocolVersion": 2, "Node": node.node_json()},
        timeout=5,
    )
    assert (r.status_code, r.text) == (400, "unsupported protocol version 2; this server speaks 1")
    r = node.heartbeat()
    assert (r.status_code, r.text) == (404, "node not found")
    body = node.register()
    assert body["NodeID"] == node.id and body["HeartbeatTTL"] == SECOND and body["Index"] > 0
    r = requests.put(
        f"{sched.url}/v1/internal/node/{node.id}/heartbeat",
        headers={"X-Yurt-Node-Secret": "wrong"},
        timeout=5,
    )
    assert (r.status_code, r.text) == (403, "node secret does not match")
    assert node.heartbeat().json() == {"HeartbeatTTL": SECOND}
    r = node.update([{"ID": "not-mine", "ClientStatus": "running"}])
    assert r.status_code == 400
    got = nomad.Nomad(host="127.0.0.1", port=sched.port).node.get_node(node.id)
    assert got["Status"] == "ready" and got["SecretID"] == "" and got["Datacenter"] == "dc1"
    assert got["Drivers"]["raw_exec"]["Healthy"] is True


def test_blocking_alloc_fetch_wakes_on_placement(api: nomad.Nomad, pair: list[SimNode]) -> None:
    node = pair[0]
    _, index = node.allocs()
    result: dict = {}

    def fetch() -> None:
        result["allocs"], result["index"] = node.allocs(index=index, wait="20s")

    t = threading.Thread(target=fetch)
    t.start()
    job = J.job(
        "wake",
        groups=[
            J.group(
                count=2,
                constraints=[{"LTarget": "${node.unique.id}", "RTarget": node.id, "Operand": "="}],
            )
        ],
    )
    api.job.register_job("wake", {"Job": job})
    t.join(20)
    assert result["index"] > index
    assert {a["JobID"] for a in result["allocs"]} == {"wake"}
    full = result["allocs"][0]
    assert full["Job"]["ID"] == "wake" and full["AllocatedResources"]["Tasks"]["web"]
    api.job.deregister_job("wake", purge=True)


def test_node_loss_marks_lost_and_replaces(sched: SchedulerProcess, api: nomad.Nomad) -> None:
    group = [
        SimNode(sched.url, f"surv-{i}", meta={"set": "surv"}).start_heartbeats() for i in range(3)
    ]
    for n in group:
        n.register()
    doomed = group[0]
    job = J.job(
        "survivor",
        groups=[
            J.group(
                count=3,
                constraints=[
                    {"Operand": "distinct_hosts", "RTarget": "true"},
                    {"LTarget": "${meta.set}", "RTarget": "surv", "Operand": "="},
                ],
            )
        ],
    )
    eval_done(api, api.job.register_job("survivor", {"Job": job})["EvalID"])
    on_doomed = [a for a in live(api, "survivor") if a["NodeID"] == doomed.id]
    assert len(on_doomed) == 1
    doomed.stop_heartbeats()
    wait_for(lambda: api.node.get_node(doomed.id)["Status"] == "down", what="node down")
    lost = wait_for(
        lambda: (
            (a := api.allocation.get_allocation(on_doomed[0]["ID"]))["ClientStatus"] == "lost" and a
        ),
        what="alloc lost",
    )
    assert lost["DesiredStatus"] == "stop"
    assert lost["DesiredDescription"] == "alloc is lost since its node is down"
    evals = api.job.get_evaluations("survivor")
    assert any(e["TriggeredBy"] == "node-update" and e["NodeID"] == doomed.id for e in evals)
    # three distinct hosts are needed but only two are left: one stays queued
    summary = wait_for(
        lambda: (s := api.job.get_summary("survivor")["Summary"]["web"])["Lost"] == 1 and s,
        what="summary lost",
    )
    assert summary["Queued"] == 1
    # the node comes back (as a client does after a 404 / on restart): the blocked eval runs
    doomed.register()
    doomed.start_heartbeats()
    replacement = wait_for(
        lambda: [a for a in live(api, "survivor") if a["NodeID"] == doomed.id],
        what="replacement on returned node",
    )
    full = api.allocation.get_allocation(replacement[0]["ID"])
    assert full["PreviousAllocation"] == lost["ID"]
    assert api.allocation.get_allocation(lost["ID"])["NextAllocation"] == full["ID"]
    # a lost allocation stays lost whatever the returning client says
    r = doomed.update([SimNode.status_update(lost, "complete")])
    assert r.status_code == 200
    assert api.allocation.get_allocation(lost["ID"])["ClientStatus"] == "lost"
    for n in group:
        n.stop_heartbeats()
    api.job.deregister_job("survivor", purge=True)


def test_failed_alloc_is_rescheduled_per_policy(api: nomad.Nomad, pair: list[SimNode]) -> None:
    policy = {
        "Attempts": 1,
        "Interval": 3600 * SECOND,
        "Delay": SECOND // 2,
        "DelayFunction": "constant",
        "MaxDelay": 0,
        "Unlimited": False,
    }
    job = J.job("flaky", groups=[J.group(count=1, reschedule=policy, constraints=PAIR)])
    eval_done(api, api.job.register_job("flaky", {"Job": job})["EvalID"])
    (first,) = live(api, "flaky")
    node = next(n for n in pair if n.id == first["NodeID"])
    node.update([SimNode.status_update(first, "failed")]).raise_for_status()
    evals = api.job.get_evaluations("flaky")
    assert any(e["TriggeredBy"] == "alloc-failure" for e in evals)
    second = wait_for(lambda: live(api, "flaky"), what="rescheduled alloc")[0]
    full = api.allocation.get_allocation(second["ID"])
    assert full["PreviousAllocation"] == first["ID"]
    (event,) = full["RescheduleTracker"]["Events"]
    assert event["PrevAllocID"] == first["ID"] and event["Delay"] == SECOND // 2
    assert full["Name"] == first["Name"]
    # a follow-up evaluation waited for the delay
    assert any(e.get("WaitUntil") for e in api.job.get_evaluations("flaky"))
    # the second failure exhausts the single attempt: no more replacements
    node2 = next(n for n in pair if n.id == second["NodeID"])
    node2.update([SimNode.status_update(second, "failed")]).raise_for_status()
    wait_for(
        lambda: all(e["Status"] != "pending" for e in api.job.get_evaluations("flaky")),
        what="evals settle",
    )
    assert live(api, "flaky") == []
    assert api.job.get_summary("flaky")["Summary"]["web"]["Failed"] == 2
    api.job.deregister_job("flaky", purge=True)


def test_drain_migrates_and_eligibility(api: nomad.Nomad, pair: list[SimNode]) -> None:
    a, b = pair
    job = J.job("drainme", groups=[J.group(count=2, constraints=PAIR)])
    eval_done(api, api.job.register_job("drainme", {"Job": job})["EvalID"])
    for n in pair:
        n.act()
    before_on_a = [x for x in live(api, "drainme") if x["NodeID"] == a.id]
    api.node.drain_node_with_spec(a.id, {"Deadline": 60 * SECOND, "IgnoreSystemJobs": False})
    node = api.node.get_node(a.id)
    assert node["SchedulingEligibility"] == "ineligible"
    wait_for(
        lambda: (
            all(x["NodeID"] == b.id for x in live(api, "drainme"))
            and len(live(api, "drainme")) == 2
        ),
        what="migrated off the drained node",
    )
    for old in before_on_a:
        assert api.allocation.get_allocation(old["ID"])["DesiredDescription"] == (
            "alloc is being migrated"
        )
    a.act()
    wait_for(lambda: api.node.get_node(a.id)["DrainStrategy"] is None, what="drain complete")
    assert api.node.get_node(a.id)["LastDrain"]["Status"] == "complete"
    stubs = api.nodes.get_nodes()
    assert next(s for s in stubs if s["ID"] == a.id)["Drain"] is False
    api.node.eligible_node(a.id, eligible=True)
    assert api.node.get_node(a.id)["SchedulingEligibility"] == "eligible"
    api.node.eligible_node(a.id, ineligible=True)
    job2 = J.job("avoid", groups=[J.group(count=2, constraints=PAIR)])
    eval_done(api, api.job.register_job("avoid", {"Job": job2})["EvalID"])
    assert all(x["NodeID"] != a.id for x in live(api, "avoid"))
    api.node.eligible_node(a.id, eligible=True)
    for jid in ("drainme", "avoid"):
        api.job.deregister_job(jid, purge=True)


def test_alloc_stop_replaces(api: nomad.Nomad, pair: list[SimNode]) -> None:
    eval_done(
        api, api.job.register_job("stopme", {"Job": J.job("stopme", constraints=PAIR)})["EvalID"]
    )
    (first,) = live(api, "stopme")
    r = api.allocation.stop_allocation(first["ID"])
    ev = eval_done(api, r["EvalID"])
    assert ev["TriggeredBy"] == "alloc-stop"
    (second,) = live(api, "stopme")
    assert second["ID"] != first["ID"]
    assert api.allocation.get_allocation(first["ID"])["DesiredStatus"] == "stop"
    api.job.deregister_job("stopme", purge=True)


class _FakeClientAPI(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"logs of {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_client_endpoints_are_forwarded(sched: SchedulerProcess, api: nomad.Nomad) -> None:
    port = free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), _FakeClientAPI)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    node = SimNode(sched.url, "fwd", http_addr=f"127.0.0.1:{port}").start_heartbeats()
    try:
        node.register()
        job = J.job(
            "fwd",
            groups=[
                J.group(
                    constraints=[
                        {"LTarget": "${node.unique.id}", "RTarget": node.id, "Operand": "="}
                    ]
                )
            ],
        )
        eval_done(api, api.job.register_job("fwd", {"Job": job})["EvalID"])
        (alloc,) = live(api, "fwd")
        r = requests.get(
            f"{sched.url}/v1/client/fs/logs/{alloc['ID']}",
            params={"task": "web", "type": "stdout"},
            timeout=5,
        )
        assert r.status_code == 200
        assert r.text == f"logs of /v1/client/fs/logs/{alloc['ID']}?task=web&type=stdout"
        node.stop_heartbeats()
        wait_for(lambda: api.node.get_node(node.id)["Status"] == "down", what="down")
        r = requests.get(f"{sched.url}/v1/client/fs/logs/{alloc['ID']}", timeout=5)
        assert (r.status_code, r.text) == (500, f"node {node.id} is down")
    finally:
        node.stop_heartbeats()
        httpd.shutdown()
        api.job.deregister_job("fwd", purge=True)
