"""`yurt up` with `nomad agent`'s flags, seen over HTTP and by the real `nomad` CLI: the flags
reach the client node, and the shapes the real CLI needs are there (a node with `Drain`,
`Reserved`, `ReservedResources`, `Resources.Networks`; `stats.client.node_id` in
`/v1/agent/self`; `DriverConfigValidated`; an allocation's `NetworkStatus`). The real CLI
tests skip when `../shared/reference` is absent; the HTTP ones never do."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.cli.up_agent import REFERENCE_NOMAD, UpAgent, yurt_up
from tests.support.process import wait_for

JOB = """job "sleeper" {
  datacenters = ["eu1"]
  group "g" {
    network {
      port "http" {}
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["600"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"""

needs_reference = pytest.mark.skipif(
    not REFERENCE_NOMAD.exists(), reason="no reference binaries in ../shared/reference"
)


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpAgent]:
    tmp = tmp_path_factory.mktemp("up")
    flags = ["-node", "web-1", "-dc", "eu1", "-region", "europe", "-node-class", "edge"]
    flags += ["-meta", "rack=r1", "-meta", "owner=ops=team", "-log-level", "debug"]
    with yurt_up(tmp, *flags) as up:
        yield up


def _nomad(agent: UpAgent, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOMAD_ADDR": agent.url}
    return subprocess.run(
        [str(REFERENCE_NOMAD), *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_the_flags_reach_the_node_and_the_agent(agent: UpAgent) -> None:
    node = agent.get(f"/v1/node/{agent.node_id}")
    assert (node["Name"], node["Datacenter"], node["NodeClass"]) == ("web-1", "eu1", "edge")
    assert node["Meta"]["rack"] == "r1" and node["Meta"]["owner"] == "ops=team"
    me = agent.get("/v1/agent/self")
    assert me["config"]["Region"] == "europe" and me["config"]["Datacenter"] == "eu1"
    assert me["member"]["Tags"]["region"] == "europe"


def test_the_node_has_the_fields_the_real_cli_reads(agent: UpAgent) -> None:
    node = agent.get(f"/v1/node/{agent.node_id}")
    assert node["Drain"] is False
    assert node["Reserved"] is not None and node["Reserved"]["DiskMB"] == 0
    assert node["ReservedResources"]["Disk"] == {"DiskMB": 0}
    assert node["ReservedResources"]["Cpu"]["CpuShares"] == 0
    networks = node["Resources"]["Networks"]
    assert networks and networks[0]["IP"] and networks[0]["Mode"] == "host"
    assert {"Device", "CIDR", "MBits"} <= set(networks[0])


def test_agent_self_names_the_local_client_node(agent: UpAgent) -> None:
    client = agent.get("/v1/agent/self")["stats"]["client"]
    assert client["node_id"] == agent.node_id
    assert client["known_servers"] == agent.url.removeprefix("http://")
    assert {"known_servers", "num_allocations", "last_heartbeat", "heartbeat_ttl"} <= set(client)


def test_validate_says_the_agent_validated_the_job(agent: UpAgent) -> None:
    job = requests.post(
        agent.url + "/v1/jobs/parse", json={"JobHCL": JOB, "Canonicalize": True}, timeout=10
    ).json()
    answer = requests.put(agent.url + "/v1/validate/job", json={"Job": job}, timeout=10).json()
    assert answer == {
        "DriverConfigValidated": True,
        "ValidationErrors": None,
        "Error": "",
        "Warnings": "",
    }
    bad = requests.put(agent.url + "/v1/validate/job", json={"Job": {"ID": "x"}}, timeout=10)
    assert bad.status_code == 200 and bad.json()["ValidationErrors"]


def test_a_running_allocation_reports_its_network_status(agent: UpAgent) -> None:
    job = requests.post(
        agent.url + "/v1/jobs/parse", json={"JobHCL": JOB, "Canonicalize": True}, timeout=10
    ).json()
    r = requests.post(agent.url + "/v1/jobs", json={"Job": job}, timeout=10)
    assert r.status_code == 200, r.text

    def running() -> dict[str, object] | None:
        allocs = agent.get("/v1/job/sleeper/allocations")
        up = [a for a in allocs if a["ClientStatus"] == "running"]
        return agent.get(f"/v1/allocation/{up[0]['ID']}") if up else None

    alloc = wait_for(running, 60, "the job's allocation to run")
    # host networking: Nomad reports an empty status rather than none
    assert alloc["NetworkStatus"] == {"InterfaceName": "", "Address": "", "DNS": None}
    (net,) = alloc["Resources"]["Networks"]
    assert (net["Mode"], net["Device"]) == ("", "")
    assert net["DynamicPorts"][0]["Label"] == "http" and net["DynamicPorts"][0]["Value"] > 0
    bad = requests.post(
        f"{agent.url}/v1/client/allocation/{alloc['ID']}/signal",
        json={"Signal": "SIGFOO", "Task": "t"},
        timeout=10,
    )
    assert (bad.status_code, bad.text) == (400, 'invalid signal "SIGFOO"')
    # job stop: the stop's evaluation carries the job's deployment, as Nomad's does
    (dep,) = agent.get("/v1/job/sleeper/deployments")
    stop = requests.delete(agent.url + "/v1/job/sleeper", timeout=10).json()

    def stop_eval() -> dict[str, object] | None:
        ev: dict[str, object] = agent.get(f"/v1/evaluation/{stop['EvalID']}")
        return ev if ev["Status"] == "complete" else None

    ev = wait_for(stop_eval, 30, "the stop's evaluation")
    assert (ev["TriggeredBy"], ev["DeploymentID"]) == ("job-deregister", dep["ID"])
    stopped = agent.get("/v1/job/sleeper")
    assert (stopped["Stop"], stopped["Version"]) == (True, 1)
    purged = requests.delete(agent.url + "/v1/job/sleeper?purge=true", timeout=10)
    again = requests.delete(agent.url + "/v1/job/sleeper?purge=true", timeout=10)
    # purging a job that is gone is Nomad's no-op evaluation, not an error
    assert (purged.status_code, again.status_code) == (200, 200)
    assert again.json()["EvalID"] != purged.json()["EvalID"]


@needs_reference
def test_the_real_cli_shows_the_node_by_id(agent: UpAgent) -> None:
    out = _nomad(agent, "node", "status", agent.node_id)
    assert out.returncode == 0, out.stderr
    fields = _fields(out.stdout)
    assert fields["ID"] == agent.node_id
    assert (fields["Name"], fields["Class"], fields["DC"]) == ("web-1", "edge", "eu1")
    assert (fields["Drain"], fields["Eligibility"], fields["Status"]) == (
        "false",
        "eligible",
        "ready",
    )
    assert "Allocated Resources" in out.stdout and "panic" not in out.stderr


@needs_reference
def test_the_real_cli_shows_the_agents_own_node(agent: UpAgent) -> None:
    out = _nomad(agent, "node", "status", "-self")
    assert out.returncode == 0, out.stderr
    assert _fields(out.stdout)["ID"] == agent.node_id
    assert "not running in client mode" not in out.stdout + out.stderr


@needs_reference
def test_the_real_cli_validates_a_job_with_the_agent(agent: UpAgent, tmp_path: Path) -> None:
    path = tmp_path / "sleeper.nomad"
    path.write_text(JOB)
    out = _nomad(agent, "job", "validate", str(path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Job validation successful"
    bad = tmp_path / "bad.nomad"
    bad.write_text(JOB.replace('driver = "raw_exec"', 'driver = ""'))
    failed = _nomad(agent, "job", "validate", str(bad))
    assert failed.returncode == 1
    assert "Job validation errors" in failed.stdout + failed.stderr


def _fields(text: str) -> dict[str, str]:
    """The `Key = value` lines at the top of the CLI's output."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(" = ")
        if sep:
            out[key.strip()] = value.strip()
    return out
