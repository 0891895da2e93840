"""A simulated client node that speaks yurt's internal protocol (docs/internal-protocol.md)
to a real scheduler process: it registers, heartbeats, fetches its allocations with
blocking queries and reports what they did, without running anything."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import requests

from tests.support.process import wait_for as wait_for  # re-exported for the tests

Obj = dict[str, Any]


def rfc3339_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SimNode:
    def __init__(
        self,
        base_url: str,
        name: str,
        *,
        datacenter: str = "dc1",
        cpu: int = 4000,
        memory: int = 8192,
        drivers: tuple[str, ...] = ("raw_exec", "docker", "exec"),
        attributes: Obj | None = None,
        meta: Obj | None = None,
        node_class: str = "",
        http_addr: str = "127.0.0.1:1",
        reserved_ports: str = "",
        node_id: str | None = None,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.id = node_id or str(uuid.uuid4())
        self.secret = str(uuid.uuid4())
        self.name = name
        self.datacenter = datacenter
        self.cpu = cpu
        self.memory = memory
        self.drivers = drivers
        self.attributes = {
            "kernel.name": "linux",
            "os.name": "debian",
            "cpu.arch": "amd64",
            "nomad.version": "1.7.7",
            "unique.hostname": name,
            "unique.network.ip-address": "127.0.0.1",
            **{f"driver.{d}": "1" for d in drivers},
            **(attributes or {}),
        }
        self.meta = meta or {}
        self.node_class = node_class
        self.http_addr = http_addr
        self.reserved_ports = reserved_ports
        self.session = requests.Session()
        self.session.headers["X-Yurt-Node-Secret"] = self.secret
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ttl_ns = 0

    def node_json(self) -> Obj:
        return {
            "ID": self.id,
            "SecretID": self.secret,
            "Name": self.name,
            "Datacenter": self.datacenter,
            "NodeClass": self.node_class,
            "NodePool": "default",
            "HTTPAddr": self.http_addr,
            "Attributes": self.attributes,
            "Meta": self.meta,
            "Drivers": {
                d: {"Detected": True, "Healthy": True, "HealthDescription": "Healthy"}
                for d in self.drivers
            },
            "NodeResources": {
                "Cpu": {"CpuShares": self.cpu, "TotalCpuCores": 2},
                "Memory": {"MemoryMB": self.memory},
                "Networks": [{"Device": "lo", "IP": "127.0.0.1", "Mode": "host"}],
                "MinDynamicPort": 20000,
                "MaxDynamicPort": 32000,
            },
            "ReservedResources": {
                "Cpu": {"CpuShares": 0},
                "Memory": {"MemoryMB": 0},
                "Networks": {"ReservedHostPorts": self.reserved_ports},
            },
            "HostNetworks": {},
        }

    def register(self) -> Obj:
        resp = self.session.put(
            f"{self.base}/v1/internal/node/register",
            json={"ProtocolVersion": 1, "Node": self.node_json()},
            timeout=10,
        )
        resp.raise_for_status()
        body: Obj = resp.json()
        self.ttl_ns = int(body["HeartbeatTTL"])
        return body

    def heartbeat(self) -> requests.Response:
        return self.session.put(f"{self.base}/v1/internal/node/{self.id}/heartbeat", timeout=10)

    def start_heartbeats(self, every: float = 0.3) -> SimNode:
        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    resp = self.heartbeat()
                    if resp.status_code == 404:
                        self.register()
                except requests.RequestException:
                    pass

        self._stop.clear()
        self._thread = threading.Thread(target=loop, daemon=True, name=f"hb-{self.name}")
        self._thread.start()
        return self

    def stop_heartbeats(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def allocs(self, index: int = 0, wait: str = "2s") -> tuple[list[Obj], int]:
        resp = self.session.get(
            f"{self.base}/v1/internal/node/{self.id}/allocations",
            params={"index": str(index), "wait": wait},
            timeout=30,
        )
        resp.raise_for_status()
        body = resp.json()
        assert int(resp.headers["X-Nomad-Index"]) == body["Index"]
        return body["Allocs"], body["Index"]

    def update(self, updates: list[Obj]) -> requests.Response:
        return self.session.put(
            f"{self.base}/v1/internal/node/{self.id}/allocations",
            json={"Allocs": updates},
            timeout=10,
        )

    @staticmethod
    def status_update(alloc: Obj, status: str, *, healthy: bool | None = None) -> Obj:
        now = rfc3339_now()
        state = {
            "running": "running",
            "pending": "pending",
        }.get(status, "dead")
        tasks = (alloc.get("AllocatedResources") or {}).get("Tasks") or {}
        task_states = {
            name: {
                "State": state,
                "Failed": status == "failed",
                "Restarts": 0,
                "StartedAt": now,
                "FinishedAt": now if state == "dead" else None,
                "LastRestart": None,
                "Events": [{"Type": "Started", "Time": time.time_ns()}],
            }
            for name in tasks
        }
        upd: Obj = {
            "ID": alloc["ID"],
            "ClientStatus": status,
            "ClientDescription": f"Tasks are {status}",
            "TaskStates": task_states,
        }
        if healthy is not None:
            upd["DeploymentStatus"] = {"Healthy": healthy, "Timestamp": now, "Canary": False}
        return upd

    def act(self, *, healthy: bool | None = True) -> list[Obj]:
        """Do what a client does once: run what should run, stop what should stop."""
        allocs, _ = self.allocs(wait="10ms")
        updates = []
        for alloc in allocs:
            if alloc["DesiredStatus"] == "run" and alloc["ClientStatus"] == "pending":
                updates.append(self.status_update(alloc, "running", healthy=healthy))
            elif alloc["DesiredStatus"] != "run" and alloc["ClientStatus"] not in (
                "complete",
                "failed",
                "lost",
            ):
                updates.append(self.status_update(alloc, "complete"))
        if updates:
            self.update(updates).raise_for_status()
        return updates
