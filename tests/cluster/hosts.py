"""A yurt cluster on several hosts for tests: network namespaces on one bridge
(tests/support/netns.py `lan`), a 3-member etcd (one member per server host), a `yurt
scheduler` and a `yurt catalog` on each server host, a `yurt client` and a `yurt router` on
two more hosts. Every process runs inside its host; the test talks to them over the bridge.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
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

    def _other(self, host: int, name: str, args: list[str], ready: str) -> YurtProcess:
        """A process on host `host` (not a server), logged as `name`, ready at `ready`."""
        proc = YurtProcess(
            args,
            ready_url=ready,
            log_path=self.tmp / f"{name}.log",
            prefix=self.hosts[host].exec_prefix,
        ).start()
        self.others.append(proc)
        return proc

    def catalog_addrs(self, hosts: Iterable[int]) -> str:
        return ",".join(f"{self.hosts[i].ip}:8500" for i in hosts)

    def start_agent(self) -> YurtProcess:
        """A catalog agent in client mode on host 3 (Consul's client agent on a worker
        machine), knowing every server: it runs the checks of host 3's services."""
        ip = self.hosts[3].ip
        return self._other(
            3,
            "agent",
            [
                *("catalog", "-client", "-servers", self.catalog_addrs(range(SERVERS))),
                *("-http-addr", f"{ip}:8500", "-advertise", ip, "-node", "worker"),
                *("-data-dir", str(self.tmp / "agent")),
            ],
            f"http://{ip}:8500/v1/agent/self",
        )

    def start_client(self, consul: list[int]) -> YurtProcess:
        """A `yurt client` on host 3 that knows every server and registers its services
        with the catalogs on the hosts `consul` (in that order; 3: its own agent's)."""
        ip = self.hosts[3].ip
        servers = ",".join(f"{self.hosts[i].ip}:4646" for i in range(SERVERS))
        return self._other(
            3,
            "client",
            [
                *("client", "-servers", servers, "-consul-addr", self.catalog_addrs(consul)),
                *("-data-dir", str(self.tmp / "client"), "-http-addr", f"{ip}:4646"),
                *("-raw-exec", "-node", "worker"),
            ],
            f"http://{ip}:4646/v1/agent/self",
        )

    def start_router(self) -> YurtProcess:
        """A `yurt router` on host 4 following every catalog server."""
        ip = self.hosts[4].ip
        return self._other(
            4,
            "router",
            [
                *("router", "-proxy.addr", f"{ip}:9999", "-ui.addr", f"{ip}:9998"),
                *("-registry.consul.addr", self.catalog_addrs(range(SERVERS))),
                *("-registry.consul.register.enabled", "false"),
            ],
            f"http://{ip}:9998/health",
        )

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
