"""Nomad's API objects as dicts: constructors, stubs, status rules and summaries.

Field names, status values and `TriggeredBy` strings are Nomad's, because the `nomad` CLI
and python-nomad read them as they are.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from yurt import ids
from yurt.scheduler import alloc_pack
from yurt.scheduler.structs import (
    AllocatedResources,
    AllocatedTaskResources,
    Allocation,
    Deployment,
    DeploymentState,
    Evaluation,
    Job,
    JobChildrenSummary,
    JobSummary,
    NetworkResource,
    Node,
    Packed,
    Resources,
    TaskGroup,
    TaskGroupSummary,
)

# The API views built here from typed rows (stubs, node view): free-form answers.
Obj = dict[str, Any]

# Evaluation status and triggers (nomad/structs).
EVAL_PENDING = "pending"
EVAL_BLOCKED = "blocked"
EVAL_COMPLETE = "complete"
EVAL_FAILED = "failed"
EVAL_CANCELED = "canceled"

TRIGGER_JOB_REGISTER = "job-register"
TRIGGER_JOB_DEREGISTER = "job-deregister"
TRIGGER_PERIODIC = "periodic-job"
TRIGGER_NODE_DRAIN = "node-drain"
TRIGGER_NODE_UPDATE = "node-update"
TRIGGER_ALLOC_STOP = "alloc-stop"
TRIGGER_SCHEDULED = "scheduled"
TRIGGER_ROLLING_UPDATE = "rolling-update"
TRIGGER_DEPLOYMENT_WATCHER = "deployment-watcher"
TRIGGER_FAILED_FOLLOW_UP = "failed-follow-up"
TRIGGER_RETRY_FAILED_ALLOC = "alloc-failure"
TRIGGER_QUEUED_ALLOCS = "queued-allocs"
TRIGGER_SCALING = "job-scaling"

ALLOC_DESIRED_RUN = "run"
ALLOC_DESIRED_STOP = "stop"
ALLOC_DESIRED_EVICT = "evict"
ALLOC_PENDING = "pending"
ALLOC_RUNNING = "running"
ALLOC_COMPLETE = "complete"
ALLOC_FAILED = "failed"
ALLOC_LOST = "lost"
TERMINAL_CLIENT = frozenset({ALLOC_COMPLETE, ALLOC_FAILED, ALLOC_LOST})

NODE_READY = "ready"
NODE_DOWN = "down"
NODE_INIT = "initializing"

DEPLOY_RUNNING = "running"
DEPLOY_SUCCESSFUL = "successful"
DEPLOY_FAILED = "failed"
DEPLOY_CANCELLED = "cancelled"
DEPLOY_PAUSED = "paused"

JOB_PENDING = "pending"
JOB_RUNNING = "running"
JOB_DEAD = "dead"

DEFAULT_NAMESPACE = "default"


def now_ns() -> int:
    return time.time_ns()


def new_id() -> str:
    return ids.uuid4()


def new_eval(
    job: Mapping[str, Any],
    triggered_by: str,
    index: int,
    *,
    node_id: str = "",
    status: str = EVAL_PENDING,
    deployment_id: str = "",
    previous_eval: str = "",
    wait_until_ns: int = 0,
) -> Evaluation:
    now = now_ns()
    return {
        "ID": new_id(),
        "Namespace": job.get("Namespace") or DEFAULT_NAMESPACE,
        "Priority": int(job.get("Priority") or 50),
        "Type": job.get("Type") or "service",
        "TriggeredBy": triggered_by,
        "JobID": job["ID"],
        "JobModifyIndex": int(job.get("JobModifyIndex") or 0),
        "NodeID": node_id,
        "NodeModifyIndex": 0,
        "DeploymentID": deployment_id,
        "Status": status,
        "StatusDescription": "",
        "Wait": 0,
        "WaitUntil": _rfc3339_ns(wait_until_ns) if wait_until_ns else None,
        "NextEval": "",
        "PreviousEval": previous_eval,
        "BlockedEval": "",
        "RelatedEvals": None,
        "FailedTGAllocs": None,
        "ClassEligibility": None,
        "EscapedComputedClass": False,
        "QuotaLimitReached": "",
        "AnnotatePlan": False,
        "QueuedAllocations": None,
        "LeaderACL": "",
        "SnapshotIndex": 0,
        "CreateIndex": index,
        "ModifyIndex": index,
        "CreateTime": now,
        "ModifyTime": now,
        "WaitUntilNs": wait_until_ns,
    }


def eval_view(ev: Evaluation) -> Evaluation:
    out = ev.copy()
    out.pop("WaitUntilNs", None)
    return out


def rfc3339(ts_ns: int | None = None) -> str:
    return _rfc3339_ns(ts_ns if ts_ns is not None else now_ns())


def _rfc3339_ns(ts_ns: int) -> str:
    secs, frac = divmod(ts_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def parse_rfc3339_ns(text: Any) -> int:
    """An RFC 3339 timestamp as Unix nanoseconds (0 when absent or unreadable)."""
    if not isinstance(text, str) or not text or text.startswith("0001-"):
        return 0
    from datetime import datetime

    s = text.replace("Z", "+00:00")
    frac_ns = 0
    if "." in s:
        head, rest = s.split(".", 1)
        digits = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        frac_ns = int((digits + "000000000")[:9]) if digits else 0
        s = head + rest[i:]
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return 0
    return int(dt.timestamp()) * 1_000_000_000 + frac_ns


# allocations ----------------------------------------------------------------------------


def alloc_is_terminal(alloc: Mapping[str, Any]) -> bool:
    """Nomad's TerminalStatus: the server stopped it, or the client finished with it."""
    if alloc.get("DesiredStatus") in (ALLOC_DESIRED_STOP, ALLOC_DESIRED_EVICT):
        return True
    return alloc.get("ClientStatus") in TERMINAL_CLIENT


def alloc_client_terminal(alloc: Mapping[str, Any]) -> bool:
    return alloc.get("ClientStatus") in TERMINAL_CLIENT


def alloc_uses_resources(alloc: Mapping[str, Any]) -> bool:
    """Whether an allocation holds CPU, memory and ports in the scheduler's eyes: as in
    Nomad, one the server has stopped frees them in the plan that stops it."""
    return not alloc_is_terminal(alloc)


ALLOC_STUB_FIELDS = (
    "ID",
    "EvalID",
    "Name",
    "Namespace",
    "NodeID",
    "NodeName",
    "JobID",
    "TaskGroup",
    "AllocatedResources",
    "DesiredStatus",
    "DesiredDescription",
    "DesiredTransition",
    "ClientStatus",
    "ClientDescription",
    "TaskStates",
    "DeploymentStatus",
    "FollowupEvalID",
    "NextAllocation",
    "RescheduleTracker",
    "PreemptedAllocations",
    "PreemptedByAllocation",
    "CreateIndex",
    "ModifyIndex",
    "CreateTime",
    "ModifyTime",
)


def alloc_stub(alloc: Allocation, *, resources: bool = False) -> Obj:
    if resources:
        alloc = alloc_pack.wire(alloc)
    out: Obj = {k: alloc.get(k) for k in ALLOC_STUB_FIELDS}
    out["TaskStates"] = alloc_pack.task_states(alloc)
    out["JobType"] = alloc.get("JobType", "service")
    out["JobVersion"] = alloc.get("JobVersion", 0)
    out["PreemptedAllocations"] = alloc.get("PreemptedAllocations")
    if not resources:
        out["AllocatedResources"] = None
    return out


# deployments ---------------------------------------------------------------------------


def new_deployment(
    job: Job, groups: dict[str, TaskGroup], live: list[Allocation], now: int
) -> Deployment:
    """A running deployment of the job's current version for the groups with an update
    block."""
    tgs: dict[str, DeploymentState] = {}
    for name, tg in groups.items():
        update = tg.get("Update") or job.get("Update") or {}
        deadline = int(update.get("ProgressDeadline") or 0)
        count = tg.get("Count")
        tgs[name] = {
            "AutoRevert": bool(update.get("AutoRevert")),
            "AutoPromote": bool(update.get("AutoPromote")),
            "ProgressDeadline": deadline,
            "RequireProgressBy": rfc3339(now + deadline) if deadline else None,
            "Promoted": False,
            "PlacedCanaries": None,
            # Canaries test an update; a group's first placement needs none.
            "DesiredCanaries": int(update.get("Canary") or 0)
            if any(a["TaskGroup"] == name for a in live)
            else 0,
            "DesiredTotal": int(count if count is not None else 1),
            "PlacedAllocs": 0,
            "HealthyAllocs": 0,
            "UnhealthyAllocs": 0,
        }
    return {
        "ID": new_id(),
        "Namespace": job.get("Namespace") or DEFAULT_NAMESPACE,
        "JobID": job["ID"],
        "JobVersion": int(job.get("Version") or 0),
        "JobModifyIndex": job.get("JobModifyIndex", 0),
        "JobSpecModifyIndex": job.get("JobModifyIndex", 0),
        "JobCreateIndex": job.get("CreateIndex", 0),
        "IsMultiregion": False,
        "TaskGroups": tgs,
        "Status": DEPLOY_RUNNING,
        "StatusDescription": "Deployment is running",
        "EvalPriority": int(job.get("Priority") or 50),
        "CreateIndex": 0,
        "ModifyIndex": 0,
        "CreateTime": now,
        "ModifyTime": now,
    }


class AllocResources(TypedDict):
    Resources: Resources | Packed
    SharedResources: Resources | Packed
    TaskResources: dict[str, Resources]
    AllocatedResources: AllocatedResources


def alloc_resources(tg: TaskGroup, networks: list[NetworkResource]) -> AllocResources:
    """What an allocation of `tg` holds with the networks (and their ports) its node gave
    it, in the API's three shapes: per task, AllocatedResources, and the legacy totals. The
    totals and `Shared.Ports` repeat the rest: they are made as `alloc_pack`'s markers for
    "derived" (memory keeps them so; `alloc_pack.wire` gives them as the API shows them)."""
    tasks_alloc: dict[str, AllocatedTaskResources] = {}
    task_resources: dict[str, Resources] = {}
    for task in tg.get("Tasks") or []:
        res: Resources = task.get("Resources") or {}
        cpu = int(res.get("CPU") or 0)
        mem = int(res.get("MemoryMB") or 0)
        mem_max = int(res.get("MemoryMaxMB") or 0)
        tasks_alloc[task["Name"]] = {
            "Cpu": {"CpuShares": cpu, "ReservedCores": None},
            "Memory": {"MemoryMB": mem, "MemoryMaxMB": mem_max},
            "Networks": None,
            "Devices": None,
        }
        task_resources[task["Name"]] = {
            "CPU": cpu,
            "Cores": int(res.get("Cores") or 0),
            "MemoryMB": mem,
            "MemoryMaxMB": mem_max,
            "DiskMB": 0,
            "IOPS": 0,
            "Networks": None,
            "Devices": None,
        }
    disk = int((tg.get("EphemeralDisk") or {}).get("SizeMB") or 0)
    shared_networks = networks or None
    return {
        "Resources": alloc_pack.LEGACY_TOTALS,
        "SharedResources": alloc_pack.SHARED_TOTALS,
        "TaskResources": task_resources,
        "AllocatedResources": {
            "Tasks": tasks_alloc,
            "TaskLifecycles": {t["Name"]: t.get("Lifecycle") for t in tg.get("Tasks") or []},
            "Shared": {
                "Networks": shared_networks,
                "DiskMB": disk,
                "Ports": alloc_pack.PORTS,
            },
        },
    }


# jobs -----------------------------------------------------------------------------------


def job_status(
    job: Mapping[str, Any], allocs: Sequence[Allocation], evals: Sequence[Evaluation]
) -> str:
    if not job.get("Stop") and (job.get("Periodic") or job.get("ParameterizedJob")):
        return JOB_RUNNING
    # Nomad's TerminalStatus: an allocation the server stopped no longer keeps the job
    # running, even before its client reports it finished.
    if any(not alloc_is_terminal(a) for a in allocs):
        return JOB_RUNNING
    if any(e["Status"] in (EVAL_PENDING, EVAL_BLOCKED) for e in evals) and not job.get("Stop"):
        return JOB_PENDING
    if allocs or job.get("Stop"):
        return JOB_DEAD
    return JOB_PENDING


def job_summary(
    job: Mapping[str, Any],
    allocs: Sequence[Allocation],
    evals: Sequence[Evaluation],
    children: Sequence[Job],
) -> JobSummary:
    groups: dict[str, TaskGroupSummary] = {}
    for tg in job.get("TaskGroups") or []:
        groups[tg["Name"]] = _empty_tg_summary()
    for alloc in allocs:
        s = groups.setdefault(alloc["TaskGroup"], _empty_tg_summary())
        status = alloc.get("ClientStatus")
        if status == ALLOC_PENDING:
            s["Starting"] += 1
        elif status == ALLOC_RUNNING:
            s["Running"] += 1
        elif status == ALLOC_COMPLETE:
            s["Complete"] += 1
        elif status == ALLOC_FAILED:
            s["Failed"] += 1
        elif status == ALLOC_LOST:
            s["Lost"] += 1
        elif status == "unknown":
            s["Unknown"] += 1
    latest = _latest_queued(evals)
    if latest and not job.get("Stop"):
        for name, n in latest.items():
            if name in groups:
                groups[name]["Queued"] = int(n)
    child_counts: JobChildrenSummary = {"Pending": 0, "Running": 0, "Dead": 0}
    for child in children:
        st = child.get("Status", JOB_PENDING)
        if st == JOB_RUNNING:
            child_counts["Running"] += 1
        elif st == JOB_DEAD:
            child_counts["Dead"] += 1
        else:
            child_counts["Pending"] += 1
    modify = max([job.get("ModifyIndex", 0)] + [a.get("ModifyIndex", 0) for a in allocs])
    return {
        "JobID": job["ID"],
        "Namespace": job.get("Namespace") or DEFAULT_NAMESPACE,
        "Summary": groups,
        "Children": child_counts,
        "CreateIndex": job.get("CreateIndex", 0),
        "ModifyIndex": modify,
    }


def _empty_tg_summary() -> TaskGroupSummary:
    return {
        "Queued": 0,
        "Complete": 0,
        "Failed": 0,
        "Running": 0,
        "Starting": 0,
        "Lost": 0,
        "Unknown": 0,
    }


def _latest_queued(evals: Sequence[Evaluation]) -> dict[str, int] | None:
    done = [e for e in evals if e.get("QueuedAllocations") is not None]
    if not done:
        return None
    latest = max(done, key=lambda e: e["ModifyIndex"])
    q = latest["QueuedAllocations"]
    return q if isinstance(q, dict) else None


JOB_STUB_FIELDS = (
    "ID",
    "ParentID",
    "Name",
    "Namespace",
    "Datacenters",
    "NodePool",
    "Multiregion",
    "Type",
    "Priority",
    "Periodic",
    "ParameterizedJob",
    "Stop",
    "Status",
    "StatusDescription",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "SubmitTime",
)


def job_stub(job: Job, summary: JobSummary, *, meta: bool = False) -> Obj:
    out: Obj = {k: job.get(k) for k in JOB_STUB_FIELDS}
    out["Periodic"] = bool(job.get("Periodic"))
    out["ParameterizedJob"] = bool(job.get("ParameterizedJob"))
    out["JobSummary"] = summary
    if meta:
        out["Meta"] = job.get("Meta")
    return out


def deep_copy(obj: Obj) -> Obj:
    return copy.deepcopy(obj)


# nodes ----------------------------------------------------------------------------------


def node_view(node: Node) -> Obj:
    out: Obj = dict(node)
    out["SecretID"] = ""
    return out


def node_stub(node: Node, *, resources: bool = False, os_attr: bool = False) -> Obj:
    attrs = node.get("Attributes") or {}
    out: Obj = {
        "Address": attrs.get("unique.network.ip-address", _host(node.get("HTTPAddr", ""))),
        "ID": node["ID"],
        "Attributes": None,
        "Datacenter": node.get("Datacenter", ""),
        "Name": node.get("Name", ""),
        "NodeClass": node.get("NodeClass", ""),
        "NodePool": node.get("NodePool", "default"),
        "Version": attrs.get("nomad.version", ""),
        "Drain": node.get("DrainStrategy") is not None,
        "SchedulingEligibility": node.get("SchedulingEligibility", "eligible"),
        "Status": node.get("Status", NODE_INIT),
        "StatusDescription": node.get("StatusDescription", ""),
        "Drivers": node.get("Drivers") or {},
        "HostVolumes": node.get("HostVolumes"),
        "NodeResources": None,
        "ReservedResources": None,
        "LastDrain": node.get("LastDrain"),
        "CreateIndex": node.get("CreateIndex", 0),
        "ModifyIndex": node.get("ModifyIndex", 0),
    }
    if os_attr:
        out["Attributes"] = {"os.name": attrs.get("os.name", "")}
    if resources:
        out["NodeResources"] = node.get("NodeResources")
        out["ReservedResources"] = node.get("ReservedResources")
    return out


def _host(addr: str) -> str:
    return addr.rsplit(":", 1)[0] if ":" in addr else addr
