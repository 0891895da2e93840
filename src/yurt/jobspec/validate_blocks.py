"""The server's checks (nomad/structs Validate) for the blocks newer than the first
jobspec and for task-level networks: static ports reserved twice across a group's and
its tasks' networks, port labels, scaling policies against the group count, the
disconnect strategy. Messages are Nomad's own words."""

from __future__ import annotations

import re
from typing import Any

_LABEL_RE = re.compile(r"^[a-zA-Z0-9_]+$")


def port_label_problem(label: str) -> str:
    """What is wrong with a port's label (Nomad's validPortLabel), or ""."""
    if _LABEL_RE.match(label):
        return ""
    return f'Port label "{label}" must contain only letters, digits and underscores'


_MAX_PORT = 65535
_RECONCILE = ("keep_original", "keep_replacement", "best_score", "longest_running")

Problems = list[tuple[str, str]]


def problems(job: dict[str, Any]) -> Problems:
    """(JSON path, message) for every problem in a canonicalized job."""
    out: Problems = []
    for gi, g in enumerate(job.get("TaskGroups") or []):
        path = f"TaskGroups[{gi}]"
        _static_ports(out, path, g)
        if g.get("Scaling") is not None:
            _group_scaling(out, f"{path}.Scaling", g["Scaling"], g.get("Count") or 0)
        if g.get("Disconnect") is not None:
            _disconnect(out, f"{path}.Disconnect", g["Disconnect"], job.get("Type") or "")
        for ti, t in enumerate(g.get("Tasks") or []):
            for pi, p in enumerate(t.get("ScalingPolicies") or []):
                where = f"{path}.Tasks[{ti}].ScalingPolicies[{pi}]"
                out.extend((where, f"Scaling policy invalid: {m}") for m in _policy(p))
    return out


def _static_ports(out: Problems, path: str, g: dict[str, Any]) -> None:
    """TaskGroup.validateNetworks and TaskGroup.Validate: a static port is reserved once
    across the group network and every task's resources networks."""
    reserved: dict[int, str] = {}
    for net in g.get("Networks") or []:
        for p in net.get("ReservedPorts") or []:
            reserved.setdefault(p.get("Value", 0), f"taskgroup network:{p.get('Label', '')}")
    for ti, t in enumerate(g.get("Tasks") or []):
        for ni, net in enumerate((t.get("Resources") or {}).get("Networks") or []):
            npath = f"{path}.Tasks[{ti}].Resources.Networks[{ni}]"
            for kind in ("ReservedPorts", "DynamicPorts"):
                for pi, p in enumerate(net.get(kind) or []):
                    ppath = f"{npath}.{kind}[{pi}]"
                    label = p.get("Label", "")
                    if problem := port_label_problem(label):
                        out.append((f"{ppath}.Label", problem))
                    value = p.get("Value", 0)
                    if kind != "ReservedPorts" or not value:
                        continue
                    if value > _MAX_PORT or value < 0:
                        out.append(
                            (
                                f"{ppath}.Value",
                                f"Port {label} ({value}) cannot be greater than {_MAX_PORT}",
                            )
                        )
                    elif value in reserved:
                        out.append(
                            (
                                f"{ppath}.Value",
                                f"Static port {value} already reserved by {reserved[value]}",
                            )
                        )
                    else:
                        reserved[value] = f"{t.get('Name', '')}:{label}"


def _policy(p: dict[str, Any]) -> list[str]:
    """ScalingPolicy.Validate, after the agent's conversion: a missing max is -1, a
    missing min the group's count (0 for a task's policies)."""
    found = []
    lo, hi = p.get("Min") or 0, p.get("Max")
    if hi is None or hi < 0:
        found.append("maximum count must be specified and non-negative")
    elif hi < lo:
        found.append("maximum count must not be less than minimum count")
    if lo < 0:
        found.append("minimum count must be specified and non-negative")
    return found


def _group_scaling(out: Problems, path: str, p: dict[str, Any], count: int) -> None:
    """TaskGroup.validateScalingPolicy."""
    out.extend((path, f"Scaling policy invalid: {m}") for m in _policy(p))
    lo, hi = p.get("Min"), p.get("Max")
    if hi is not None and hi < count:
        out.append(
            (
                path,
                "Scaling policy invalid: task group count must not be greater than maximum "
                "count in scaling policy",
            )
        )
    if lo is not None and count < lo:
        out.append(
            (
                path,
                "Scaling policy invalid: task group count must not be less than minimum count "
                "in scaling policy",
            )
        )


def _disconnect(out: Problems, path: str, d: dict[str, Any], job_type: str) -> None:
    """DisconnectStrategy.Validate (Nomad 1.8)."""
    lost, stop = d.get("LostAfter") or 0, d.get("StopOnClientAfter")
    if lost and stop is not None:
        out.append((path, "Disconnect cannot be configured with both lost_after and stop_after"))
    if lost < 0:
        out.append((f"{path}.LostAfter", "lost_after cannot be a negative duration"))
    if stop is not None and stop < 0:
        out.append((f"{path}.StopOnClientAfter", "stop_after cannot be a negative duration"))
    if stop is not None and job_type not in ("service", "batch"):
        out.append((path, "stop_after can only be used with service or batch job types"))
    reconcile = d.get("Reconcile")
    if reconcile and reconcile not in _RECONCILE:
        out.append((f"{path}.Reconcile", "reconcile option is invalid"))
