"""Two `yurt up` on one etcd, each with every role (catalog, scheduler, client, router)
on its own loopback address: both catalogs and both schedulers elect one leader each,
both clients register, a job is spread over both nodes; SIGKILL the first agent and the
second leads both roles, marks the dead node down and places new work on its own node."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.support.etcd import shared_endpoint
from tests.support.process import YurtProcess, free_port, wait_for


def _job(job_id: str, count: int) -> dict[str, object]:
    task = {
        "Name": "t",
        "Driver": "raw_exec",
        "Config": {"command": "/bin/sleep", "args": ["300"]},
        "Resources": {"CPU": 20, "MemoryMB": 16},
    }
    group = {"Name": "g", "Count": count, "Tasks": [task]}
    return {"Job": {"ID": job_id, "Type": "service", "Datacenters": ["dc1"], "TaskGroups": [group]}}


class Agent:
    def __init__(self, tmp_path: Path, i: int) -> None:
        self.host = f"127.0.0.{i}"
        self.nomad, self.consul = free_port(self.host), free_port(self.host)
        config = tmp_path / f"up{i}.hcl"
        config.write_text(
            f'name = "host-{i}"\nbind_addr = "{self.host}"\n'
            f"ports {{ http = {self.nomad} }}\n"
            'plugin "raw_exec" {\n  config {\n    enabled = true\n  }\n}\n'
            f'consul {{ address = "{self.host}:{self.consul}" }}\n'
            f'router {{\n  proxy_addr = "{self.host}:{free_port(self.host)}"\n'
            f'  ui_addr = "{self.host}:{free_port(self.host)}"\n}}\n'
            f'store {{\n  backend = "etcd"\n  endpoints = ["{shared_endpoint()}"]\n'
            f'  prefix = "/test{tmp_path}"\n}}\n'
            # a dead node is marked down soon after the failover
            'server {\n  heartbeat_grace = "2s"\n}\n'
        )
        self.proc = YurtProcess(
            ["up", "-data-dir", str(tmp_path / f"d{i}"), "-config", str(config)],
            ready_url=f"http://{self.host}:{self.nomad}/v1/status/leader",
            log_path=tmp_path / f"up{i}.log",
            timeout=60,
        )

    @property
    def api(self) -> str:
        return f"http://{self.host}:{self.nomad}/v1"

    def nodes(self) -> dict[str, str]:
        return {n["Name"]: n["Status"] for n in requests.get(f"{self.api}/nodes").json()}

    def running(self, job_id: str) -> list[str]:
        allocs = requests.get(f"{self.api}/job/{job_id}/allocations").json()
        return sorted(a["NodeName"] for a in allocs if a["ClientStatus"] == "running")


def test_two_agents_share_one_etcd_and_survive_the_first(tmp_path: Path) -> None:
    first, second = Agent(tmp_path, 1), Agent(tmp_path, 2)
    try:
        first.proc.start()
        second.proc.start()
        assert requests.get(f"{second.api}/status/leader").json() == f"127.0.0.1:{first.nomad + 1}"
        consul_peers = f"http://{second.host}:{second.consul}/v1/status/peers"
        wait_for(lambda: len(requests.get(consul_peers).json()) == 2, 10, "two catalog peers")
        wait_for(lambda: first.nodes() == {"host-1": "ready", "host-2": "ready"}, 30, "both nodes")
        # submitted through the follower; the leader spreads it over both nodes
        got = requests.post(f"{second.api}/jobs", json=_job("spread", 2))
        assert got.status_code == 200, got.text
        wait_for(lambda: first.running("spread") == ["host-1", "host-2"], 30, "spread")

        first.proc.kill()
        wait_for(
            lambda: (
                requests.get(f"{second.api}/status/leader").json()
                == f"127.0.0.2:{second.nomad + 1}"
            ),
            5,
            "the second agent to lead within 5 s",
        )
        # the new leader's heartbeat timers: the dead agent's node goes down
        wait_for(lambda: second.nodes()["host-1"] == "down", 30, "host-1 down")
        got = requests.post(f"{second.api}/jobs", json=_job("after", 1))
        assert got.status_code == 200, got.text
        wait_for(lambda: second.running("after") == ["host-2"], 30, "placed on the survivor")
    finally:
        second.proc.stop()
        first.proc.stop()
