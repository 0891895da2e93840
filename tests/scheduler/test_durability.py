"""`kill -9` and restart: nothing acknowledged is lost, pending evaluations resume."""

from __future__ import annotations

from pathlib import Path

import nomad
import requests

from tests.scheduler import jobs as J
from tests.scheduler.conftest import SchedulerProcess
from tests.scheduler.simnode import SimNode, wait_for


def test_kill_9_keeps_state_and_resumes_pending_evals(tmp_path: Path) -> None:
    sched = SchedulerProcess(tmp_path, "-heartbeat-ttl", "2s", "-heartbeat-grace", "1s").start()
    try:
        api = sched.client()
        node = SimNode(sched.url, "durable").start_heartbeats()
        node.register()
        r = api.job.register_job("kept", {"Job": J.job("kept", groups=[J.group(count=2)])})
        wait_for(lambda: len(api.job.get_allocations("kept")) == 2, what="placed")
        node.act()
        # hold evaluations pending, register a job, and crash before it is scheduled
        conf = {"SchedulerAlgorithm": "spread", "PauseEvalBroker": True}
        requests.put(f"{sched.url}/v1/operator/scheduler/configuration", json=conf, timeout=5)
        r = api.job.register_job("later", {"Job": J.job("later")})
        pending_eval = r["EvalID"]
        assert api.evaluation.get_evaluation(pending_eval)["Status"] == "pending"
        index_before = int(requests.get(f"{sched.url}/v1/jobs", timeout=5).headers["X-Nomad-Index"])
        sched.proc.kill()
        node.stop_heartbeats()

        sched.start()
        node.start_heartbeats()
        resp = requests.get(f"{sched.url}/v1/jobs", timeout=5)
        assert int(resp.headers["X-Nomad-Index"]) >= index_before
        assert {j["ID"] for j in resp.json()} == {"kept", "later"}
        kept = api.job.get_allocations("kept")
        assert len(kept) == 2 and all(a["ClientStatus"] == "running" for a in kept)
        assert api.node.get_node(node.id)["Status"] == "ready"
        got = requests.get(f"{sched.url}/v1/operator/scheduler/configuration", timeout=5).json()
        assert got["SchedulerConfig"]["SchedulerAlgorithm"] == "spread"
        assert got["SchedulerConfig"]["PauseEvalBroker"] is True
        assert api.evaluation.get_evaluation(pending_eval)["Status"] == "pending"
        conf["PauseEvalBroker"] = False
        requests.put(f"{sched.url}/v1/operator/scheduler/configuration", json=conf, timeout=5)
        wait_for(
            lambda: api.evaluation.get_evaluation(pending_eval)["Status"] == "complete",
            what="pending eval resumed after restart",
        )
        assert len(api.job.get_allocations("later")) == 1
        # the node kept heartbeating through the restart: still ready, nothing lost
        assert all(a["ClientStatus"] != "lost" for a in api.job.get_allocations("kept"))
        node.stop_heartbeats()
    finally:
        sched.proc.stop()


def test_nomad_client_sees_restarted_server(tmp_path: Path) -> None:
    sched = SchedulerProcess(tmp_path).start()
    try:
        api = sched.client()
        api.job.register_job("x", {"Job": J.job("x")})
        sched.proc.stop()
        sched.start()
        assert nomad.Nomad(host="127.0.0.1", port=sched.port).job.get_job("x")["Version"] == 0
    finally:
        sched.proc.stop()
