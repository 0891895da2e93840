"""How the scheduler's stored objects are shown by its API: a job with its computed status,
a job's summary (with its children for periodic and parameterized jobs), an allocation with
the job version it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yurt.scheduler import alloc_pack
from yurt.scheduler import model as m
from yurt.scheduler.api_common import Obj
from yurt.scheduler.structs import Allocation, Job, JobSummary, Node

if TYPE_CHECKING:
    from yurt.scheduler.server import SchedulerServer


def job_view(server: SchedulerServer, job: Job) -> Job:
    out = job.copy()
    out["Status"] = server.ops.job_status(job)
    return out


def job_summary(server: SchedulerServer, job: Job) -> JobSummary:
    store = server.store
    ns, jid = job["Namespace"], job["ID"]
    children = (
        [job_view(server, j) for j in store.jobs() if j.get("ParentID") == jid]
        if job.get("Periodic") or job.get("ParameterizedJob")
        else []
    )
    return m.job_summary(job, store.allocs_for_job(ns, jid), store.evals_for_job(ns, jid), children)


def alloc_view(server: SchedulerServer, alloc: Allocation) -> Obj:
    store = server.store
    out: Obj = dict(alloc_pack.wire(alloc))
    job = store.job_version(alloc["Namespace"], alloc["JobID"], alloc.get("JobVersion", 0))
    if job is None:
        job = store.job(alloc["Namespace"], alloc["JobID"])
    out["Job"] = job
    return out


def _network(net: Obj) -> Obj:
    """A node network with every field Nomad's `NetworkResource` has."""
    return {
        "CIDR": net.get("CIDR", ""),
        "DNS": net.get("DNS"),
        "Device": net.get("Device", ""),
        "DynamicPorts": net.get("DynamicPorts"),
        "IP": net.get("IP", ""),
        "MBits": int(net.get("MBits") or 1000),
        "Mode": net.get("Mode") or "host",
        "ReservedPorts": net.get("ReservedPorts"),
    }


def _legacy(cpu: int, memory: int, disk: int, networks: list[Obj] | None) -> Obj:
    """Nomad's pre-0.9 `Resources` shape, which it still fills for old readers (the
    1.x CLI's `node status` reads `Reserved` and panics on null)."""
    return {
        "CPU": cpu,
        "Cores": 0,
        "Devices": None,
        "DiskMB": disk,
        "IOPS": 0,
        "MemoryMB": memory,
        "MemoryMaxMB": 0,
        "Networks": networks,
    }


def node_view(node: Node) -> Obj:
    """`GET /v1/node/:id` as Nomad answers it: the secret blanked, `Drain`, and the
    resources in both shapes, each with every field (a node that registered with less
    reads as Nomad's would)."""
    out = m.node_view(node)
    out["Drain"] = node.get("DrainStrategy") is not None
    res = dict(node.get("NodeResources") or {})
    networks = [_network(n) for n in res.get("Networks") or []]
    cpu = int((res.get("Cpu") or {}).get("CpuShares") or 0)
    memory = int((res.get("Memory") or {}).get("MemoryMB") or 0)
    disk = int((res.get("Disk") or {}).get("DiskMB") or 0)
    res.update(
        Networks=networks,
        Disk={"DiskMB": disk},
        Devices=res.get("Devices"),
    )
    out["NodeResources"] = res
    out["Resources"] = _legacy(cpu, memory, disk, networks or None)
    reserved = node.get("ReservedResources") or {}
    r_cpu = reserved.get("Cpu") or {}
    r_memory = int((reserved.get("Memory") or {}).get("MemoryMB") or 0)
    r_disk = int((reserved.get("Disk") or {}).get("DiskMB") or 0)
    out["ReservedResources"] = {
        "Cpu": {
            "CpuShares": int(r_cpu.get("CpuShares") or 0),
            "ReservedCpuCores": r_cpu.get("ReservedCpuCores"),
        },
        "Disk": {"DiskMB": r_disk},
        "Memory": {"MemoryMB": r_memory},
        "Networks": {
            "ReservedHostPorts": str(
                (reserved.get("Networks") or {}).get("ReservedHostPorts") or ""
            )
        },
    }
    out["Reserved"] = _legacy(int(r_cpu.get("CpuShares") or 0), r_memory, r_disk, None)
    return out
