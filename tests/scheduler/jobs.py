"""Complete Nomad API job JSON for the tests (what canonicalization would produce)."""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]

SECOND = 1_000_000_000


def task(name: str = "web", *, driver: str = "raw_exec", cpu: int = 100, memory: int = 64) -> Obj:
    return {
        "Name": name,
        "Driver": driver,
        "Config": {"command": "/bin/sleep", "args": ["1000"]},
        "Env": None,
        "Services": None,
        "Constraints": None,
        "Affinities": None,
        "Resources": {
            "CPU": cpu,
            "MemoryMB": memory,
            "MemoryMaxMB": 0,
            "DiskMB": 0,
            "Cores": 0,
            "Networks": None,
        },
        "RestartPolicy": {"Attempts": 0, "Interval": 60 * SECOND, "Delay": SECOND, "Mode": "fail"},
        "Meta": None,
        "KillTimeout": 5 * SECOND,
        "Leader": False,
        "Lifecycle": None,
    }


def group(
    name: str = "web",
    *,
    count: int = 1,
    tasks: list[Obj] | None = None,
    static_ports: dict[str, int] | None = None,
    dynamic_ports: list[str] | None = None,
    reschedule: Obj | None = None,
    update: Obj | None = None,
    constraints: list[Obj] | None = None,
    affinities: list[Obj] | None = None,
) -> Obj:
    networks = None
    if static_ports or dynamic_ports:
        networks = [
            {
                "Mode": "host",
                "ReservedPorts": [
                    {"Label": k, "Value": v, "To": 0, "HostNetwork": "default"}
                    for k, v in (static_ports or {}).items()
                ]
                or None,
                "DynamicPorts": [
                    {"Label": k, "Value": 0, "To": 0, "HostNetwork": "default"}
                    for k in dynamic_ports or []
                ]
                or None,
            }
        ]
    return {
        "Name": name,
        "Count": count,
        "Tasks": tasks or [task()],
        "Networks": networks,
        "Constraints": constraints,
        "Affinities": affinities,
        "Spreads": None,
        "EphemeralDisk": {"Sticky": False, "Migrate": False, "SizeMB": 300},
        "ReschedulePolicy": reschedule,
        "Update": update,
        "Services": None,
        "Meta": None,
    }


def job(
    job_id: str,
    *,
    job_type: str = "service",
    groups: list[Obj] | None = None,
    datacenters: list[str] | None = None,
    priority: int = 50,
    constraints: list[Obj] | None = None,
    **extra: Any,
) -> Obj:
    out = {
        "ID": job_id,
        "Name": job_id,
        "Namespace": "default",
        "Region": "global",
        "Type": job_type,
        "Priority": priority,
        "Datacenters": datacenters or ["dc1"],
        "NodePool": "default",
        "Constraints": constraints,
        "Affinities": None,
        "Spreads": None,
        "TaskGroups": groups or [group()],
        "Update": None,
        "Periodic": None,
        "ParameterizedJob": None,
        "Meta": None,
        "Stop": False,
        "ParentID": "",
        "Dispatched": False,
        "Payload": None,
    }
    out.update(extra)
    return copy.deepcopy(out)
