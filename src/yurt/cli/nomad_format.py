"""The nomad CLI's text blocks (job list, summary, allocations, deployments, alloc status),
built from Nomad API JSON. Kept apart from the commands so that they are tested alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

from yurt.api.durations import format_go_duration
from yurt.cli.output import (
    format_kv,
    format_list,
    format_time,
    format_unix_nano,
    humanize_ibytes,
    limit,
    parse_rfc3339,
    pretty_time_diff,
)

Json = dict[str, Any]


def _status_string(status: str, stop: bool) -> str:
    return f"{status} (stopped)" if stop else status


def job_list(jobs: list[Json]) -> str:
    rows = [["ID", "Type", "Priority", "Status", "Submit Date"]]
    for job in jobs:
        kind = str(job.get("Type", ""))
        if job.get("Periodic"):
            kind += "/periodic"
        if job.get("ParameterizedJob"):
            kind += "/parameterized"
        rows.append(
            [
                str(job.get("ID", "")),
                kind,
                str(job.get("Priority", "")),
                _status_string(str(job.get("Status", "")), bool(job.get("Stop"))),
                format_unix_nano(job.get("SubmitTime")),
            ]
        )
    return format_list(rows)


def job_header(job: Json) -> str:
    periodic = bool(job.get("Periodic"))
    parameterized = bool(job.get("ParameterizedJob"))
    pairs = [
        ("ID", str(job.get("ID", ""))),
        ("Name", str(job.get("Name", ""))),
        ("Submit Date", format_unix_nano(job.get("SubmitTime"))),
        ("Type", str(job.get("Type", ""))),
        ("Priority", str(job.get("Priority", ""))),
        ("Datacenters", ",".join(job.get("Datacenters") or [])),
        ("Namespace", str(job.get("Namespace") or "default")),
        ("Node Pool", str(job.get("NodePool") or "default")),
        ("Status", _status_string(str(job.get("Status", "")), bool(job.get("Stop")))),
        ("Periodic", str(periodic).lower()),
        ("Parameterized", str(parameterized).lower()),
    ]
    return format_kv(pairs)


def job_summary(summary: Json | None) -> str:
    rows = [
        ["Task Group", "Queued", "Starting", "Running", "Failed", "Complete", "Lost", "Unknown"]
    ]
    groups = (summary or {}).get("Summary") or {}
    for name in sorted(groups):
        tg = groups[name] or {}
        rows.append(
            [
                name,
                *(
                    str(tg.get(k, 0))
                    for k in (
                        "Queued",
                        "Starting",
                        "Running",
                        "Failed",
                        "Complete",
                        "Lost",
                        "Unknown",
                    )
                ),
            ]
        )
    return format_list(rows)


def alloc_list(
    allocs: list[Json], *, verbose: bool = False, length: int = 8, now: float | None = None
) -> str:
    if not allocs:
        return "No allocations placed"
    ordered = sorted(allocs, key=lambda a: -int(a.get("CreateIndex") or 0))
    # -verbose adds the eval and shows the creation time in place of two ages.
    head = ["ID", "Node ID", "Task Group", "Version", "Desired", "Status"]
    if verbose:
        head[1:1] = ["Eval ID"]
    rows = [head + (["Created At"] if verbose else ["Created", "Modified"])]
    for a in ordered:
        row = [limit(str(a.get("ID", "")), length)]
        if verbose:
            row.append(limit(str(a.get("EvalID", "")), length))
        row += [
            limit(str(a.get("NodeID", "")), length),
            str(a.get("TaskGroup", "")),
            str(_alloc_version(a)),
            str(a.get("DesiredStatus", "")),
            str(a.get("ClientStatus", "")),
        ]
        if verbose:
            row.append(format_unix_nano(a.get("CreateTime")))
        else:
            row += [
                pretty_time_diff(a.get("CreateTime"), now),
                pretty_time_diff(a.get("ModifyTime"), now),
            ]
        rows.append(row)
    return format_list(rows)


def _alloc_version(a: Json) -> int:
    if "JobVersion" in a:
        return int(a.get("JobVersion") or 0)
    return int((a.get("Job") or {}).get("Version") or 0)


def deployment_groups(d: Json, length: int = 8) -> str:
    groups = d.get("TaskGroups") or {}
    canaries = any((g or {}).get("DesiredCanaries") for g in groups.values())
    header = ["Task Group"]
    if any((g or {}).get("AutoRevert") for g in groups.values()):
        header.append("Auto Revert")
    if any((g or {}).get("AutoPromote") for g in groups.values()) or canaries:
        header.append("Promoted")
    header += ["Desired"]
    if canaries:
        header.append("Canaries")
    header += ["Placed", "Healthy", "Unhealthy", "Progress Deadline"]
    rows = [header]
    for name in sorted(groups):
        g = groups[name] or {}
        row = [name]
        if "Auto Revert" in header:
            row.append(str(bool(g.get("AutoRevert"))).lower())
        if "Promoted" in header:
            row.append(str(bool(g.get("Promoted"))).lower())
        row.append(str(g.get("DesiredTotal", 0)))
        if canaries:
            row.append(str(g.get("DesiredCanaries", 0)))
        row += [
            str(g.get("PlacedAllocs", 0)),
            str(g.get("HealthyAllocs", 0)),
            str(g.get("UnhealthyAllocs", 0)),
            format_time(parse_rfc3339(g.get("RequireProgressBy"))) or "N/A",
        ]
        rows.append(row)
    return format_list(rows)


def deployment_list(items: list[Json], length: int = 8) -> str:
    """`nomad deployment list` and `nomad job deployments`: one line per deployment."""
    rows = [["ID", "Job ID", "Job Version", "Status", "Description"]]
    for d in items:
        rows.append(
            [
                limit(str(d.get("ID", "")), length),
                str(d.get("JobID", "")),
                str(d.get("JobVersion", "")),
                str(d.get("Status", "")),
                str(d.get("StatusDescription", "")),
            ]
        )
    return format_list(rows)


def deployment(d: Json, length: int = 8, *, job: bool = True) -> str:
    """`nomad deployment status`; without `job`, the "Latest Deployment" of a job's status."""
    pairs = [("ID", limit(str(d.get("ID", "")), length))]
    if job:
        pairs += [("Job ID", str(d.get("JobID", ""))), ("Job Version", str(d.get("JobVersion", 0)))]
    pairs += [
        ("Status", str(d.get("Status", ""))),
        ("Description", str(d.get("StatusDescription", ""))),
    ]
    text = format_kv(pairs)
    if d.get("TaskGroups"):
        text += "\n\nDeployed\n" + deployment_groups(d, length)
    return text


def job_status(
    job: Json,
    summary: Json | None,
    allocs: list[Json],
    deployment_: Json | None,
    evals: list[Json] | None = None,
    *,
    verbose: bool = False,
) -> str:
    length = 0 if verbose else 8
    parts = [job_header(job), "", "Summary", job_summary(summary)]
    if evals is not None:
        parts += ["", "Evaluations", eval_list(evals, length, job=False)]
    if deployment_:
        parts += ["", "Latest Deployment", deployment(deployment_, length, job=False)]
    parts += ["", "Allocations", alloc_list(allocs, verbose=verbose, length=length)]
    return "\n".join(parts)


def eval_list(evals: list[Json], length: int = 8, *, job: bool = True) -> str:
    """`nomad eval list`; without `job` (no Job ID and Node ID columns), the "Evaluations"
    of `nomad job status -evals`."""
    head = ["ID", "Priority", "Triggered By", "Job ID", "Node ID", "Status", "Placement Failures"]
    rows = [head if job else head[:3] + head[5:]]
    for ev in evals:
        row = [
            limit(str(ev.get("ID", "")), length),
            str(ev.get("Priority", "")),
            str(ev.get("TriggeredBy", "")),
        ]
        if job:
            row += [str(ev.get("JobID", "")), limit(str(ev.get("NodeID") or "<none>"), length)]
        row += [str(ev.get("Status", "")), str(bool(ev.get("FailedTGAllocs"))).lower()]
        rows.append(row)
    return format_list(rows)


def _task_time(text: str | None) -> str:
    parsed = parse_rfc3339(text)
    return format_time(parsed) if parsed else "N/A"


def event_description(ev: Json) -> str:
    """The text the nomad CLI shows for a task event."""
    if ev.get("DisplayMessage"):
        return str(ev["DisplayMessage"])
    kind = ev.get("Type", "")
    if kind == "Started":
        return "Task started by client"
    if kind == "Received":
        return "Task received by client"
    if kind == "Terminated":
        parts = [f"Exit Code: {ev.get('ExitCode', 0)}"]
        if ev.get("Signal"):
            parts.append(f"Signal: {ev['Signal']}")
        if ev.get("Message"):
            parts.append(f'Exit Message: "{ev["Message"]}"')
        return ", ".join(parts)
    if kind == "Restarting":
        return f"Task restarting in {format_go_duration(int(ev.get('StartDelay') or 0))}"
    if kind == "Killing":
        if ev.get("KillReason"):
            return f"Killing task: {ev['KillReason']}"
        if ev.get("KillTimeout"):
            return (
                "Sent interrupt. Waiting "
                f"{format_go_duration(int(ev['KillTimeout']))} before force killing"
            )
        return "Sent interrupt"
    if kind == "Killed":
        return str(ev.get("KillError") or "Task successfully killed")
    if kind == "Not Restarting":
        return str(ev.get("RestartReason") or "Task exceeded restart policy")
    if kind == "Driver Failure":
        return str(ev.get("DriverError") or "Failed to start task")
    return str(ev.get("Message") or "")


def alloc_status(alloc: Json, stats: Json | None = None, *, verbose: bool = False) -> str:
    length = 0 if verbose else 8
    if verbose:
        created = format_unix_nano(alloc.get("CreateTime"))
        modified = format_unix_nano(alloc.get("ModifyTime"))
    else:
        created = pretty_time_diff(alloc.get("CreateTime"))
        modified = pretty_time_diff(alloc.get("ModifyTime"))
    job = alloc.get("Job") or {}
    pairs = [
        ("ID", str(alloc.get("ID", ""))),
        ("Eval ID", limit(str(alloc.get("EvalID", "")), length)),
        ("Name", str(alloc.get("Name", ""))),
        ("Node ID", limit(str(alloc.get("NodeID", "")), length)),
        ("Node Name", str(alloc.get("NodeName", ""))),
        ("Job ID", str(alloc.get("JobID", ""))),
        ("Job Version", str(job.get("Version", 0))),
        ("Client Status", str(alloc.get("ClientStatus", ""))),
        ("Client Description", str(alloc.get("ClientDescription", ""))),
        ("Desired Status", str(alloc.get("DesiredStatus", ""))),
        ("Desired Description", str(alloc.get("DesiredDescription", ""))),
        ("Created", created),
        ("Modified", modified),
    ]
    if alloc.get("DeploymentID"):
        health = "unset"
        ds = alloc.get("DeploymentStatus") or {}
        if ds.get("Healthy") is not None:
            health = "healthy" if ds["Healthy"] else "unhealthy"
        pairs += [
            ("Deployment ID", limit(str(alloc["DeploymentID"]), length)),
            ("Deployment Health", health),
        ]
        if ds.get("Canary"):
            pairs.append(("Canary", "true"))
    if alloc.get("NextAllocation"):
        pairs.append(("Replacement Alloc ID", limit(str(alloc["NextAllocation"]), length)))
    parts = [format_kv(pairs)]

    shared = (alloc.get("AllocatedResources") or {}).get("Shared") or {}
    networks = shared.get("Networks") or []
    ports = shared.get("Ports") or []
    if ports or (
        networks and (networks[0].get("DynamicPorts") or networks[0].get("ReservedPorts"))
    ):
        rows = [["Label", "Dynamic", "Address"]]
        if ports:
            for p in ports:
                addr = f"{p.get('HostIP', '')}:{p.get('Value', '')}"
                if p.get("To"):
                    addr += f" -> {p['To']}"
                rows.append([str(p.get("Label", "")), "yes", addr])
        else:
            nw = networks[0]
            for p in (nw.get("DynamicPorts") or []) + (nw.get("ReservedPorts") or []):
                addr = f"{nw.get('IP', '')}:{p.get('Value', '')}"
                if p.get("To"):
                    addr += f" -> {p['To']}"
                rows.append([str(p.get("Label", "")), "yes", addr])
        mode = networks[0].get("Mode") if networks else ""
        title = "Allocation Addresses" + (f' (mode = "{mode}")' if mode else "")
        parts += ["", title, format_list(rows)]

    task_states = alloc.get("TaskStates") or {}
    task_resources = alloc.get("TaskResources") or {}
    disk_mb = int((alloc.get("Resources") or {}).get("DiskMB") or 0)
    usage = (stats or {}).get("Tasks") or {}
    for name in sorted(task_states):
        state = task_states[name] or {}
        parts += ["", f'Task "{name}" is "{state.get("State", "")}"']
        res = task_resources.get(name)
        if res:
            cpu = str(res.get("CPU", 0))
            mem = humanize_ibytes(int(res.get("MemoryMB") or 0) << 20)
            ru = (usage.get(name) or {}).get("ResourceUsage") or {}
            if ru.get("CpuStats"):
                cpu = f"{int(ru['CpuStats'].get('TotalTicks') or 0)}/{cpu}"
            if ru.get("MemoryStats"):
                mem = f"{humanize_ibytes(int(ru['MemoryStats'].get('RSS') or 0))}/{mem}"
            addrs = [
                f"{p.get('Label')}: {nw.get('IP')}:{p.get('Value')}"
                for nw in res.get("Networks") or []
                for p in (nw.get("DynamicPorts") or []) + (nw.get("ReservedPorts") or [])
            ]
            rows = [
                ["CPU", "Memory", "Disk", "Addresses"],
                [f"{cpu} MHz", mem, humanize_ibytes(disk_mb << 20), addrs[0] if addrs else ""],
            ]
            rows += [["", "", "", a] for a in addrs[1:]]
            parts += ["Task Resources", format_list(rows)]
        parts += [
            "",
            "Task Events:",
            format_kv(
                [
                    ("Started At", _task_time(state.get("StartedAt"))),
                    ("Finished At", _task_time(state.get("FinishedAt"))),
                    ("Total Restarts", str(state.get("Restarts", 0))),
                    ("Last Restart", _task_time(state.get("LastRestart"))),
                ]
            ),
            "",
            "Recent Events:",
        ]
        rows = [["Time", "Type", "Description"]]
        for ev in reversed(state.get("Events") or []):
            rows.append(
                [format_unix_nano(ev.get("Time")), str(ev.get("Type", "")), event_description(ev)]
            )
        parts.append(format_list(rows))
    return "\n".join(parts)


def eval_status(ev: Json, length: int = 8) -> str:
    failures = bool(ev.get("FailedTGAllocs"))
    pairs = [
        ("ID", limit(str(ev.get("ID", "")), length)),
        ("Create Time", pretty_time_diff(ev.get("CreateTime"))),
        ("Modify Time", pretty_time_diff(ev.get("ModifyTime"))),
        ("Status", str(ev.get("Status", ""))),
        ("Status Description", str(ev.get("StatusDescription", ""))),
        ("Type", str(ev.get("Type", ""))),
        ("TriggeredBy", str(ev.get("TriggeredBy", ""))),
    ]
    if ev.get("JobID"):
        pairs.append(("Job ID", str(ev["JobID"])))
    if ev.get("NodeID"):
        pairs.append(("Node ID", limit(str(ev["NodeID"]), length)))
    if ev.get("DeploymentID"):
        pairs.append(("Deployment ID", limit(str(ev["DeploymentID"]), length)))
    pairs += [
        ("Priority", str(ev.get("Priority", ""))),
        ("Placement Failures", str(failures).lower()),
    ]
    text = format_kv(pairs)
    if failures:
        text += "\n\nFailed Placements"
        for tg, metrics in sorted((ev.get("FailedTGAllocs") or {}).items()):
            text += (
                f'\nTask Group "{tg}" (failed to place {metrics.get("CoalescedFailures", 0) + 1} '
            )
            text += "allocation)" if not metrics.get("CoalescedFailures") else "allocations)"
            text += "\n" + alloc_metrics(metrics, "  ")
    return text


def alloc_metrics(metrics: Json, prefix: str) -> str:
    """Why placement failed, in the order and words of the nomad CLI."""
    lines = []
    if not metrics.get("NodesEvaluated"):
        lines.append(f"{prefix}* No nodes were eligible for evaluation")
    for dc, available in sorted((metrics.get("NodesAvailable") or {}).items()):
        if not available:
            lines.append(f'{prefix}* No nodes are available in datacenter "{dc}"')
    for cls, n in sorted((metrics.get("ClassFiltered") or {}).items()):
        lines.append(f'{prefix}* Class "{cls}": {n} nodes excluded by filter')
    for cons, n in sorted((metrics.get("ConstraintFiltered") or {}).items()):
        lines.append(f'{prefix}* Constraint "{cons}": {n} nodes excluded by filter')
    if metrics.get("NodesExhausted"):
        lines.append(f"{prefix}* Resources exhausted on {metrics['NodesExhausted']} nodes")
    for cls, n in sorted((metrics.get("ClassExhausted") or {}).items()):
        lines.append(f'{prefix}* Class "{cls}" exhausted on {n} nodes')
    for dim, n in sorted((metrics.get("DimensionExhausted") or {}).items()):
        lines.append(f'{prefix}* Dimension "{dim}" exhausted on {n} nodes')
    return "\n".join(lines)


def now_rfc3339() -> str:
    return format_time(dt.datetime.now(dt.UTC))
