"""Three `yurt scheduler` processes on one real etcd (loopback, their own ports and data
dirs): one leads, a write on a follower is readable on every server, and when the leader
is killed (SIGKILL) another leads within 5 s, writes go on, and a job submitted during
the failover is placed exactly once on a real `yurt client`, which fails over from the
dead server to another of its `-servers`."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from tests.support.etcd import shared_endpoint
from tests.support.process import YurtProcess, free_port, wait_for


def _job(job_id: str) -> dict[str, object]:
    return {
        "Job": {
            "ID": job_id,
            "Name": job_id,
            "Type": "service",
            "Datacenters": ["dc1"],
            "TaskGroups": [
                {
                    "Name": "g",
                    "Count": 1,
                    "Tasks": [
                        {
                            "Name": "t",
                            "Driver": "raw_exec",
                            "Config": {"command": "/bin/sleep", "args": ["300"]},
                            "Resources": {"CPU": 20, "MemoryMB": 16},
                        }
                    ],
                }
            ],
        }
    }


class Servers:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.config = tmp_path / "agent.hcl"
        self.config.write_text(
            f'store {{\n  backend = "etcd"\n  endpoints = ["{shared_endpoint()}"]\n'
            f'  prefix = "/test{tmp_path}"\n}}\n'
        )
        self.ports = [free_port() for _ in range(3)]
        self.procs = [
            YurtProcess(
                [
                    "scheduler",
                    "-http-addr",
                    f"127.0.0.1:{port}",
                    "-data-dir",
                    str(tmp_path / f"s{i}"),
                    "-config",
                    str(self.config),
                ],
                ready_url=f"http://127.0.0.1:{port}/v1/status/leader",
                log_path=tmp_path / f"s{i}.log",
            )
            for i, port in enumerate(self.ports)
        ]

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def rpc(self, i: int) -> str:
        return f"127.0.0.1:{self.ports[i] + 1}"

    def leader_seen_by(self, i: int) -> str:
        try:
            return str(requests.get(f"{self.url(i)}/v1/status/leader", timeout=2).json())
        except (requests.RequestException, ValueError):
            return "?"

    def logs(self) -> str:
        return "\n".join(f"--- s{i} ---\n{p.log()}" for i, p in enumerate(self.procs))


def _allocs(url: str, job_id: str) -> list[dict[str, object]]:
    got = requests.get(f"{url}/v1/job/{job_id}/allocations", timeout=5)
    return list(got.json()) if got.status_code == 200 else []


def _submit(url: str, job_id: str) -> requests.Response:
    return requests.post(f"{url}/v1/jobs", data=json.dumps(_job(job_id)), timeout=30)


def _put_var(url: str, path: str, items: dict[str, str]) -> None:
    got = requests.put(f"{url}/v1/var/{path}", data=json.dumps({"Items": items}), timeout=30)
    assert got.status_code == 200, got.text


def _var_items(url: str, path: str) -> object:
    got = requests.get(f"{url}/v1/var/{path}", timeout=5)
    return got.json().get("Items") if got.status_code == 200 else got.text


def _every_server_reads(servers: Servers, idx: tuple[int, ...], path: str, items: object) -> None:
    """The variable opens on each of `idx`: they share the keyring in the store."""
    for i in idx:
        wait_for(
            lambda i=i: _var_items(servers.url(i), path) == items,
            5,
            f"{path} opened on server {i}",
        )


def test_three_servers_one_leader_and_a_failover(tmp_path: Path) -> None:
    servers = Servers(tmp_path)
    client: YurtProcess | None = None
    try:
        for proc in servers.procs:
            proc.start()
        # the first to start leads; every server says so, and lists the three
        for i in range(3):
            assert servers.leader_seen_by(i) == servers.rpc(0)
        wanted = sorted(servers.rpc(i) for i in range(3))
        for i in range(3):
            wait_for(
                lambda i=i: (
                    sorted(requests.get(f"{servers.url(i)}/v1/status/peers").json()) == wanted
                ),
                5,
                f"server {i} to list the three peers",
            )
        raft = requests.get(f"{servers.url(2)}/v1/operator/raft/configuration").json()
        assert [s["Address"] for s in raft["Servers"] if s["Leader"]] == [servers.rpc(0)]

        # a write on a follower goes to the leader and is readable on all
        answer = _submit(servers.url(1), "written-on-a-follower")
        assert answer.status_code == 200, answer.text
        for i in range(3):
            wait_for(
                lambda i=i: (
                    requests.get(f"{servers.url(i)}/v1/job/written-on-a-follower").status_code
                    == 200
                ),
                5,
                f"the job on server {i}",
            )
        # a variable written through a follower is sealed by the leader and opens on all
        _put_var(servers.url(1), "app/db", {"password": "hunter2"})
        _every_server_reads(servers, (0, 1, 2), "app/db", {"password": "hunter2"})

        # a client that knows the leader first and the third server next (Nomad's
        # `-servers a,b`): when the leader dies it goes on through the third
        client_port = free_port()
        client = YurtProcess(
            [
                "client",
                "-servers",
                f"127.0.0.1:{servers.ports[0]},127.0.0.1:{servers.ports[2]}",
                "-data-dir",
                str(tmp_path / "client"),
                "-http-addr",
                f"127.0.0.1:{client_port}",
                "-no-consul",
                "-raw-exec",
                "-node",
                "worker",
            ],
            ready_url=f"http://127.0.0.1:{client_port}/v1/agent/self",
            log_path=tmp_path / "client.log",
        ).start()
        wait_for(
            lambda: (
                [n["Status"] for n in requests.get(f"{servers.url(0)}/v1/nodes").json()]
                == ["ready"]
            ),
            15,
            "the client's node ready on the leader",
        )
        wait_for(lambda: len(_allocs(servers.url(2), "written-on-a-follower")) == 1, 15)

        # SIGKILL the leader, and submit a job on a follower at once: it waits for the new
        # leader and is placed by it, once
        servers.procs[0].kill()
        during = _submit(servers.url(2), "submitted-during-failover")
        assert during.status_code == 200, during.text + servers.logs()
        new_leader = wait_for(
            lambda: (
                servers.leader_seen_by(1) in (servers.rpc(1), servers.rpc(2))
                and servers.leader_seen_by(1)
            ),
            5,
            "a new leader within 5 s",
        )
        wait_for(lambda: servers.leader_seen_by(2) == new_leader, 5, "both survivors agree")
        after = _submit(servers.url(1), "submitted-after-failover")
        assert after.status_code == 200, after.text
        for job_id in ("submitted-during-failover", "submitted-after-failover"):
            placed = wait_for(
                lambda job_id=job_id: [
                    a for a in _allocs(servers.url(1), job_id) if a["ClientStatus"] == "running"
                ],
                20,
                f"{job_id} running",
            )
            assert len(placed) == 1
        # the variable sealed by the dead leader still opens, and the new leader seals
        # with the same key: both survivors read what either wrote
        _every_server_reads(servers, (1, 2), "app/db", {"password": "hunter2"})
        _put_var(servers.url(2), "app/after", {"k": "v"})
        _every_server_reads(servers, (1, 2), "app/after", {"k": "v"})
        # the client failed over: its node is still ready on the new leader
        nodes = requests.get(f"{servers.url(1)}/v1/nodes").json()
        assert [n["Status"] for n in nodes] == ["ready"]
        # placed once: no second evaluation of the job made another allocation anywhere
        for job_id in ("written-on-a-follower", "submitted-during-failover"):
            for i in (1, 2):
                assert len(_allocs(servers.url(i), job_id)) == 1, servers.logs()
    finally:
        if client is not None:
            client.stop()
        for proc in servers.procs:
            proc.stop()
