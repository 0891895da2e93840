"""The seed's job files through the scheduler as the nomad CLI drives it: parse the HCL
(`POST /v1/jobs/parse`), validate, register with the submitted source, read it back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nomad
import pytest
import requests

from tests.scheduler.conftest import SchedulerProcess
from tests.scheduler.simnode import SimNode, wait_for

JOBS = Path(__file__).resolve().parents[2] / "jobs"


@pytest.fixture(scope="module")
def node(sched: SchedulerProcess) -> Iterator[SimNode]:
    n = SimNode(sched.url, "nomad-1-client").start_heartbeats()
    n.register()
    yield n
    n.stop_heartbeats()


def test_seed_nginx_job(sched: SchedulerProcess, api: nomad.Nomad, node: SimNode) -> None:
    source = (JOBS / "job.nginx.nomad").read_text()
    job = api.jobs.parse(source)
    assert job["ID"] == "job-nginx"
    r = requests.put(f"{sched.url}/v1/validate/job", json={"Job": job}, timeout=10)
    assert r.status_code == 200 and r.json()["Error"] == ""
    body = {"Job": job, "Submission": {"Source": source, "Format": "hcl2"}}
    r = requests.put(f"{sched.url}/v1/jobs", json=body, timeout=10)
    assert r.status_code == 200, r.text
    registered = api.job.get_job("job-nginx")
    # the server applied Nomad's defaults
    assert registered["TaskGroups"][0]["ReschedulePolicy"] is not None
    assert registered["Priority"] == 50
    (alloc,) = wait_for(lambda: api.job.get_allocations("job-nginx"), what="placed")
    full = api.allocation.get_allocation(alloc["ID"])
    (port,) = full["AllocatedResources"]["Shared"]["Ports"]
    assert (port["Label"], port["Value"]) == ("http", 80)
    assert full["AllocatedResources"]["Tasks"]["task-docker-nginx"]["Cpu"]["CpuShares"] == 500
    assert full["AllocatedResources"]["Tasks"]["task-docker-nginx"]["Memory"]["MemoryMB"] == 128
    sub = requests.get(f"{sched.url}/v1/job/job-nginx/submission", timeout=5).json()
    assert sub["Source"] == source and sub["Format"] == "hcl2"
    node.act()
    assert api.job.get_summary("job-nginx")["Summary"]["group-webs"]["Running"] == 1
    dep = wait_for(
        lambda: (d := api.job.get_deployment("job-nginx"))["Status"] == "successful" and d,
        what="deployment successful",
    )
    assert dep["TaskGroups"]["group-webs"]["HealthyAllocs"] == 1


def test_seed_redis_dynamic_port(api: nomad.Nomad, node: SimNode) -> None:
    job = api.jobs.parse((JOBS / "job.redis.nomad").read_text())
    api.jobs.register_job({"Job": job})
    (alloc,) = wait_for(lambda: api.job.get_allocations("job-redis"), what="placed")
    full = api.allocation.get_allocation(alloc["ID"])
    (port,) = full["AllocatedResources"]["Shared"]["Ports"]
    assert port["Label"] == "db" and port["To"] == 6379 and 20000 <= port["Value"] <= 32000


def test_invalid_job_is_a_400_with_nomads_wording(sched: SchedulerProcess) -> None:
    job = {
        "ID": "bad",
        "Name": "bad",
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{"Name": "t"}]}],
    }
    r = requests.put(f"{sched.url}/v1/jobs", json={"Job": job}, timeout=5)
    assert r.status_code == 400
    assert "error" in r.text and "driver" in r.text.lower()
    assert requests.get(f"{sched.url}/v1/job/bad", timeout=5).status_code == 404
