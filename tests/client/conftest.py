"""A real scheduler, a real catalog and a real `yurt client` process per test module."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import consul
import nomad
import pytest
import requests

from tests.catalog.conftest import CatalogProcess
from tests.scheduler.conftest import SchedulerProcess
from tests.support.process import YurtProcess, free_port
from tests.support.process import wait_for as support_wait_for
from yurt.jobspec import parse_job

Obj = dict[str, Any]


def wait_for(cond: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """The shared helper with the longer default these tests need (three processes)."""
    return support_wait_for(cond, timeout, what)


class ClientProcess:
    """`yurt client` as a child process; `kill()` is kill -9, `start()` starts it again on
    the same data dir and port (the same node)."""

    def __init__(self, tmp: Path, servers: str, consul_addr: str | None, *extra: str) -> None:
        self.port = free_port()
        self.data_dir = tmp / "client"
        self.url = f"http://127.0.0.1:{self.port}"
        config = tmp / "client.hcl"
        consul_block = (
            f'consul {{\n  address = "{consul_addr}"\n'
            '  client_service_name = "nomad-1-client"\n  auto_advertise = true\n}\n'
            if consul_addr
            else ""
        )
        config.write_text(
            'datacenter = "dc1"\n'
            + consul_block
            + f'client {{\n  enabled = true\n  servers = ["{servers}"]\n'
            # Everything here is on loopback (Nomad's -dev picks it too); without the key
            # the node would take the default route's interface.
            '  network_interface = "lo"\n'
            '  meta { rack = "r1" }\n}\n'
            'plugin "raw_exec" {\n  config {\n    enabled = true\n  }\n}\n'
        )
        self.args = [
            "client",
            "-config",
            str(config),
            "-data-dir",
            str(self.data_dir),
            "-http-addr",
            f"127.0.0.1:{self.port}",
            "-node",
            "nomad-1-client",
            *([] if consul_addr else ["-no-consul"]),
            *extra,
        ]
        self.log_path = tmp / "client.log"
        self.env: dict[str, str] = {"YURT_LOG_LEVEL": "DEBUG"}
        self.proc = self._make()

    def _make(self) -> YurtProcess:
        return YurtProcess(
            self.args,
            ready_url=f"{self.url}/v1/agent/health?type=client",
            log_path=self.log_path,
            env=self.env,
        )

    def start(self) -> ClientProcess:
        self.proc = self._make()
        self.proc.start()
        return self

    def log(self) -> str:
        return self.proc.log()


class Cluster:
    def __init__(self, sched: SchedulerProcess, catalog: CatalogProcess, client: ClientProcess):
        self.sched = sched
        self.catalog = catalog
        self.client = client
        self.api: nomad.Nomad = sched.client()
        self.consul: consul.Consul = catalog.client()

    def run(self, hcl: str) -> Obj:
        job = parse_job(hcl, "test.nomad")
        self.api.jobs.register_job({"Job": job})
        return job

    def allocs(self, job_id: str) -> list[Obj]:
        return list(self.api.job.get_allocations(job_id))

    def alloc(self, alloc_id: str) -> Obj:
        return dict(self.api.allocation.get_allocation(alloc_id))

    def wait_alloc(self, job_id: str, status: str, timeout: float = 20.0) -> Obj:
        def find() -> Obj | None:
            for a in self.allocs(job_id):
                if a["ClientStatus"] == status:
                    return self.alloc(a["ID"])
            return None

        try:
            return dict(wait_for(find, timeout, f"an allocation of {job_id} {status}"))
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\n--- client log ---\n{self.client.log()[-4000:]}"
            ) from None

    def stop_job(self, job_id: str) -> None:
        self.api.job.deregister_job(job_id, purge=False)

    def passing(self, service: str) -> list[Obj]:
        _, nodes = self.consul.health.service(service, passing=True)
        return list(nodes)

    def get(self, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 20)
        return requests.get(self.sched.url + path, **kw)


def events(alloc: Obj, task: str) -> list[str]:
    return [e["Type"] for e in alloc["TaskStates"][task]["Events"]]


@contextlib.contextmanager
def running_cluster(tmp: Path, *client_args: str) -> Iterator[Cluster]:
    """A catalog, a scheduler and a `yurt client` (with `client_args`), stopped afterwards."""
    catalog = CatalogProcess(tmp / "catalog", "-dev").start()
    # A TTL long enough that a client restarted on a busy machine is not marked down first.
    sched = SchedulerProcess(tmp / "sched", "-heartbeat-ttl", "5s", "-heartbeat-grace", "15s")
    sched.start()
    client = ClientProcess(
        tmp, f"127.0.0.1:{sched.port}", f"127.0.0.1:{catalog.port}", *client_args
    ).start()
    try:
        yield Cluster(sched, catalog, client)
    finally:
        client.proc.stop()
        sched.proc.stop(timeout=3)
        catalog.proc.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("cluster")) as c:
        yield c


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
