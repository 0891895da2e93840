"""Cluster states for the scheduler's table tests, built in memory: nodes, allocations,
deployments and the snapshot a decision is made on (no store, no process)."""

from __future__ import annotations

import copy
from typing import Any, cast

from yurt.scheduler import model as m
from yurt.scheduler.placement import computed_class
from yurt.scheduler.reconcile import ClusterState
from yurt.scheduler.structs import Allocation, Deployment, Job, Node
from yurt.scheduler.usage import NodeUsage

SECOND = 1_000_000_000
NOW = 1_800_000_000 * SECOND  # a fixed "now" for every table


def node(
    name: str,
    *,
    dc: str = "dc1",
    cpu: int = 1000,
    memory: int = 1024,
    drivers: tuple[str, ...] = ("raw_exec", "exec"),
    attrs: dict[str, str] | None = None,
    meta: dict[str, str] | None = None,
    status: str = m.NODE_READY,
    eligible: bool = True,
    draining: bool = False,
    reserved_ports: str = "",
) -> Node:
    """A client node as the store holds it after registration."""
    out: Node = {
        "ID": f"id-{name}",
        "Name": name,
        "Datacenter": dc,
        "NodeClass": "",
        "NodePool": "default",
        "Attributes": {
            "kernel.name": "linux",
            "unique.network.ip-address": "127.0.0.1",
            **{f"driver.{d}": "1" for d in drivers},
            **(attrs or {}),
        },
        "Meta": meta or {},
        "Drivers": {d: {"Detected": True, "Healthy": True} for d in drivers},
        "NodeResources": {
            "Cpu": {"CpuShares": cpu},
            "Memory": {"MemoryMB": memory},
            "Networks": [{"Device": "lo", "IP": "127.0.0.1", "Mode": "host"}],
            "MinDynamicPort": 20000,
            "MaxDynamicPort": 32000,
        },
        "ReservedResources": {
            "Cpu": {"CpuShares": 0},
            "Memory": {"MemoryMB": 0},
            "Networks": {"ReservedHostPorts": reserved_ports},
        },
        "Status": status,
        "SchedulingEligibility": "eligible" if eligible else "ineligible",
        "DrainStrategy": {"Deadline": 3600 * SECOND} if draining else None,
    }
    out["ComputedClass"] = computed_class(out)
    return out


def nodes(*names: str, **kw: Any) -> list[Node]:
    return [node(n, **kw) for n in names]


def alloc(
    job: Job,
    index: int,
    on: Node,
    *,
    group: str = "web",
    version: int | None = None,
    client: str = m.ALLOC_RUNNING,
    desired: str = m.ALLOC_DESIRED_RUN,
    cpu: int = 100,
    memory: int = 64,
    **fields: Any,
) -> Allocation:
    """An allocation of `job`'s group named `<job>.<group>[index]` on node `on`."""
    ran = int(job.get("Version") or 0) if version is None else version
    out: Allocation = {
        "ID": f"{job['ID']}-{group}-{index}-{on['Name']}-v{ran}-{client}",
        "Namespace": "default",
        "EvalID": "eval-0",
        "Name": f"{job['ID']}.{group}[{index}]",
        "NodeID": on["ID"],
        "NodeName": on.get("Name", ""),
        "JobID": job["ID"],
        "JobType": job.get("Type", "service"),
        "JobVersion": ran,
        "TaskGroup": group,
        "AllocatedResources": {
            "Tasks": {"web": {"Cpu": {"CpuShares": cpu}, "Memory": {"MemoryMB": memory}}},
            "Shared": {"Ports": None},
        },
        "DesiredStatus": desired,
        "DesiredDescription": "",
        "DesiredTransition": None,
        "ClientStatus": client,
        "ClientDescription": "",
        "TaskStates": None,
        "DeploymentID": "",
        "DeploymentStatus": None,
        "FollowupEvalID": "",
        "RescheduleTracker": None,
        "NextAllocation": "",
        "CreateIndex": 10,
        "ModifyIndex": 10,
        "CreateTime": NOW - 600 * SECOND,
        "ModifyTime": NOW - 600 * SECOND,
    }
    out.update(cast(Allocation, fields))
    return out


def deployment(
    job: Job, *, groups: dict[str, dict[str, Any]], status: str = "running"
) -> Deployment:
    return {
        "ID": f"dep-{job['ID']}-v{job.get('Version', 0)}",
        "Namespace": "default",
        "JobID": job["ID"],
        "JobVersion": int(job.get("Version") or 0),
        "TaskGroups": cast(Any, groups),
        "Status": status,
        "StatusDescription": "",
        "CreateIndex": 5,
        "ModifyIndex": 5,
    }


def state(
    job: Job | None,
    allocs: list[Allocation],
    cluster: list[Node],
    *,
    deployments: list[Deployment] | None = None,
    versions: dict[int, Job] | None = None,
    job_id: str = "",
) -> ClusterState:
    """The snapshot an evaluation of `job` decides on, with each node's usage counted from
    the allocations that hold resources, as the store counts it."""
    usage: dict[str, NodeUsage] = {}
    for a in allocs:
        if m.alloc_uses_resources(a):
            usage.setdefault(a["NodeID"], NodeUsage()).add(a)
    evaluation = cast(
        Any,
        {"ID": "eval-1", "Namespace": "default", "JobID": job["ID"] if job else job_id},
    )
    return ClusterState(
        evaluation=evaluation,
        job=copy.deepcopy(job),
        allocs=[cast(Allocation, dict(a)) for a in allocs],
        nodes={n["ID"]: n for n in cluster},
        usage=usage,
        deployments=deployments or [],
        job_versions=versions or {},
    )
