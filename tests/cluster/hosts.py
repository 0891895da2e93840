"""A yurt cluster on several hosts for tests: network namespaces on one bridge
(tests/support/netns.py `lan`), a 3-member etcd (one member per server host), a `yurt
scheduler` and a `yurt catalog` on each server host, a `yurt client` and a `yurt router` on
two more hosts. Every process runs inside its host; the test talks to them over the bridge.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.support.etcd import Etcd, etcd_cluster
from tests.support.netns import Peer, lan
from tests.support.process import YurtProcess, wait_for

SERVERS = 3


@dataclass
class Cluster:
    hosts: list[Peer]  # 0-2 servers, 3 the client, 4 the router
    tmp: Path
    etcd: list[Etcd] = field(default_factory=list)
    schedulers: list[YurtProcess] = field(default_factory=list)
    catalogs: list[YurtProcess] = field(default_factory=list)
    others: list[YurtProcess] = field(default_factory=list)

    def nomad(self, i: int) -> str:
        return f"http://{self.hosts[i].ip}:4646"

    def consul(self, i: int) -> str:
        return f"http://{self.hosts[i].ip}:8500"

    @property
    def router(self) -> str:
        return f"http://{self.hosts[4].ip}:9999"

    def _store(self, i: int) -> Path:
        """Server i's store block: its own host's etcd member first, then the others."""
        order = [i, *(j for j in range(SERVERS) if j != i)]
        endpoints = ", ".join(f'"{self.etcd[j].endpoint}"' for j in order)
        path = self.tmp / f"store{i}.hcl"
        path.write_text(f'store {{\n  backend = "etcd"\n  endpoints = [{endpoints}]\n}}\n')
        return path

    def start_servers(self) -> None:
        """Host 0's servers first: they lead."""
        for i in range(SERVERS):
            ip = self.hosts[i].ip
            self.schedulers.append(self._server(i, "s", ["scheduler", "-http-addr", f"{ip}:4646"]))
            self.catalogs.append(
                self._server(
                    i,
                    "c",
                    ["catalog", "-http-addr", f"{ip}:8500", "-advertise", ip, "-node", f"s-{i}"],
                )
            )

    def _server(self, i: int, tag: str, args: list[str]) -> YurtProcess:
        """A server process on host i, its data in `<tag><i>`, ready when it knows the
        leader (args give its HTTP address first)."""
        return YurtProcess(
            [*args, "-data-dir", str(self.tmp / f"{tag}{i}"), "-config", str(self._store(i))],
            ready_url=f"http://{args[2]}/v1/status/leader",
            log_path=self.tmp / f"{tag}{i}.log",
            prefix=self.hosts[i].exec_prefix,
        ).start()

    def start_client(self, consul: list[int]) -> YurtProcess:
        """A `yurt client` on host 3 that knows every server and registers its services
        with the catalogs `consul` (in that order)."""
        host = self.hosts[3]
        servers = ",".join(f"{self.hosts[i].ip}:4646" for i in range(SERVERS))
        client = YurtProcess(
            [
                "client",
                "-servers",
                servers,
                "-consul-addr",
                ",".join(f"{self.hosts[i].ip}:8500" for i in consul),
                "-data-dir",
                str(self.tmp / "client"),
                "-http-addr",
                f"{host.ip}:4646",
                "-raw-exec",
                "-node",
                "worker",
            ],
            ready_url=f"http://{host.ip}:4646/v1/agent/self",
            log_path=self.tmp / "client.log",
            prefix=host.exec_prefix,
        ).start()
        self.others.append(client)
        return client

    def start_router(self) -> YurtProcess:
        """A `yurt router` on host 4 following every catalog server."""
        host = self.hosts[4]
        router = YurtProcess(
            [
                "router",
                "-proxy.addr",
                f"{host.ip}:9999",
                "-ui.addr",
                f"{host.ip}:9998",
                "-registry.consul.addr",
                ",".join(f"{self.hosts[i].ip}:8500" for i in range(SERVERS)),
                "-registry.consul.register.enabled",
                "false",
            ],
            ready_url=f"http://{host.ip}:9998/health",
            log_path=self.tmp / "router.log",
            prefix=host.exec_prefix,
        ).start()
        self.others.append(router)
        return router

    def leader(self, url: str) -> str:
        try:
            return str(requests.get(f"{url}/v1/status/leader", timeout=2).json())
        except (requests.RequestException, ValueError):
            return "?"

    def logs(self) -> str:
        procs = [*self.schedulers, *self.catalogs, *self.others]
        return "\n".join(f"--- {p.log_path.name} ---\n{p.log()[-3000:]}" for p in procs)

    def stop(self) -> None:
        for proc in [*self.others, *self.catalogs, *self.schedulers]:
            proc.stop()
        for member in self.etcd:
            member.stop()


@contextlib.contextmanager
def cluster(tmp: Path) -> Iterator[Cluster]:
    with lan(SERVERS + 2) as hosts:
        made = Cluster(hosts, tmp)
        try:
            made.etcd = etcd_cluster(tmp / "etcd", [(h.ip, h.exec_prefix) for h in hosts[:SERVERS]])
            made.start_servers()
            yield made
        finally:
            made.stop()


def web_job(job_id: str) -> dict[str, object]:
    """A service behind the router: Python's HTTP server on the allocation's address and
    port, checked by HTTP every second, routed at `/`."""
    task = {
        "Name": "web",
        "Driver": "raw_exec",
        "Config": {
            "command": sys.executable,
            "args": ["-m", "http.server", "${NOMAD_PORT_http}", "--bind", "${NOMAD_IP_http}"],
        },
        "Resources": {"CPU": 50, "MemoryMB": 32},
    }
    service = {
        "Name": "web",
        "PortLabel": "http",
        "Tags": ["urlprefix-/"],
        "Checks": [
            {
                "Name": "up",
                "Type": "http",
                "Path": "/",
                "Interval": 1_000_000_000,
                "Timeout": 1_000_000_000,
            }
        ],
    }
    group = {
        "Name": "g",
        "Count": 1,
        "Networks": [{"DynamicPorts": [{"Label": "http"}]}],
        "Services": [service],
        "Tasks": [task],
    }
    return {"Job": {"ID": job_id, "Type": "service", "Datacenters": ["dc1"], "TaskGroups": [group]}}


def batch_job(job_id: str) -> dict[str, object]:
    task = {
        "Name": "t",
        "Driver": "raw_exec",
        "Config": {"command": "/bin/true"},
        "Resources": {"CPU": 20, "MemoryMB": 16},
    }
    group = {"Name": "g", "Count": 1, "Tasks": [task]}
    return {"Job": {"ID": job_id, "Type": "batch", "Datacenters": ["dc1"], "TaskGroups": [group]}}


def allocations(url: str, job_id: str) -> list[dict[str, object]]:
    try:
        got = requests.get(f"{url}/v1/job/{job_id}/allocations", timeout=5)
    except requests.RequestException:
        return []
    return list(got.json()) if got.status_code == 200 else []


__all__ = ["Cluster", "allocations", "batch_job", "cluster", "wait_for", "web_job"]
