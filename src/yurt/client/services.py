"""An allocation's `service` blocks as Consul agent service registrations, with Nomad's
service and check IDs; and its `provider = "nomad"` blocks as Nomad's own service
registrations (kept by the scheduler, `build_nomad_registrations`)."""

from __future__ import annotations

import functools
import hashlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from yurt.api.durations import format_go_duration
from yurt.client.taskenv import NodeView, alloc_ports, interpolate

Obj = dict[str, Any]
_DOCKER_HOST_NAMES = {"host.docker.internal", "host.containers.internal"}


@functools.lru_cache(maxsize=64)
def resolvable(name: str) -> bool:
    try:
        socket.getaddrinfo(name, None)
    except (OSError, UnicodeError):
        return False
    return True


def service_address(address: str, fallback_ip: str) -> str:
    """The address to advertise. The seed's `host.docker.internal` names the host as seen
    from a container; when this machine cannot resolve it, the node's IP reaches the task."""
    if not address:
        return fallback_ip
    if address in _DOCKER_HOST_NAMES and not resolvable(address):
        return fallback_ip
    return address


@dataclass(frozen=True)
class CheckRestart:
    """`check_restart`: restart the task once the check stayed unhealthy long enough."""

    check_id: str
    name: str
    interval: float  # seconds
    limit: int
    grace: float  # seconds
    ignore_warnings: bool


@dataclass(frozen=True)
class ScriptCheck:
    """A `script` check: the client runs it inside the task and reports it as a TTL check."""

    check_id: str
    task: str
    command: str
    args: tuple[str, ...]
    interval: float
    timeout: float


@dataclass(frozen=True)
class Registration:
    service_id: str
    payload: Obj
    check_ids: tuple[str, ...]
    check_restarts: tuple[CheckRestart, ...] = ()
    scripts: tuple[ScriptCheck, ...] = ()


def service_id(alloc_id: str, task: str | None, group: str, name: str, port: str) -> str:
    if task is None:
        return f"_nomad-task-{alloc_id}-group-{group}-{name}-{port}"
    return f"_nomad-task-{alloc_id}-{task}-{name}-{port}"


def _check_id(sid: str, check: Obj) -> str:
    digest = hashlib.sha1(
        (sid + json.dumps(check, sort_keys=True, default=str)).encode()
    ).hexdigest()
    return f"_nomad-check-{digest}"


def _port_of(label: str, ports: list[Obj], *, driver_mode: bool) -> int:
    if not label:
        return 0
    if label.isdigit():
        return int(label)
    for p in ports:
        if p.get("Label") == label:
            if driver_mode and int(p.get("To") or 0) > 0:
                return int(p["To"])
            return int(p.get("Value") or 0)
    raise ValueError(f'port label "{label}" is not in the group network')


@dataclass(frozen=True)
class ServiceScope:
    """Whose services are registered: an allocation's group (task None) or one of its
    tasks, with the environment their fields interpolate and the node they run on."""

    alloc: Obj
    task: str | None
    env: dict[str, str]
    node: NodeView
    node_ip: str


def build_registrations(scope: ServiceScope, services: list[Obj]) -> list[Registration]:
    """Consul registrations of a group's (task None) or a task's services."""
    task, node_ip = scope.task, scope.node_ip
    ports = alloc_ports(scope.alloc)
    out = []
    # Nomad's own service discovery (provider "nomad") is not the catalog's business.
    for svc, name, sid, port in _provider_services(scope, services, "consul"):
        address = service_address(str(svc.get("Address") or ""), node_ip)
        checks = []
        check_ids = []
        restarts = []
        scripts = []
        for check in svc.get("Checks") or []:
            built = _check(check, sid, name, address, port, ports, node_ip)
            if built is None:
                continue
            if "TTL" in built:
                scripts.append(
                    ScriptCheck(
                        check_id=str(built["CheckID"]),
                        task=str(check.get("TaskName") or task or ""),
                        command=str(check.get("Command") or ""),
                        args=tuple(str(a) for a in check.get("Args") or []),
                        interval=int(check.get("Interval") or 10_000_000_000) / 1e9,
                        timeout=int(check.get("Timeout") or 2_000_000_000) / 1e9,
                    )
                )
            checks.append(built)
            check_ids.append(str(built["CheckID"]))
            policy = check.get("CheckRestart") or svc.get("CheckRestart") or {}
            if int(policy.get("Limit") or 0) > 0:
                restarts.append(
                    CheckRestart(
                        check_id=str(built["CheckID"]),
                        name=str(built["Name"]),
                        interval=int(check.get("Interval") or 10_000_000_000) / 1e9,
                        limit=int(policy["Limit"]),
                        grace=int(policy.get("Grace") or 0) / 1e9,
                        ignore_warnings=bool(policy.get("IgnoreWarnings")),
                    )
                )
        meta = {str(k): str(v) for k, v in (svc.get("Meta") or {}).items()}
        meta.setdefault("external-source", "nomad")
        payload: Obj = {
            "ID": sid,
            "Name": name,
            "Tags": list(svc.get("Tags") or []),
            "Address": address,
            "Port": port,
            "Meta": meta,
            "EnableTagOverride": bool(svc.get("EnableTagOverride")),
            "Checks": checks,
        }
        out.append(Registration(sid, payload, tuple(check_ids), tuple(restarts), tuple(scripts)))
    return out


def _check(
    check: Obj, sid: str, svc_name: str, address: str, port: int, ports: list[Obj], node_ip: str
) -> Obj | None:
    kind = str(check.get("Type") or "").lower()
    if kind not in ("http", "tcp", "grpc", "script"):
        return None
    if check.get("PortLabel"):
        port = _port_of(str(check["PortLabel"]), ports, driver_mode=False)
    if check.get("Address"):
        address = service_address(str(check["Address"]), node_ip)
    interval = int(check.get("Interval") or 10_000_000_000)
    timeout = int(check.get("Timeout") or 2_000_000_000)
    out: Obj = {
        "CheckID": _check_id(sid, check),
        "Name": str(check.get("Name") or f'service: "{svc_name}" check'),
        "Interval": format_go_duration(interval),
        "Timeout": format_go_duration(timeout),
        "Status": str(check.get("InitialStatus") or "critical"),
    }
    if kind == "script":
        # Consul only holds the result: a TTL the client's runs keep refreshing.
        del out["Interval"], out["Timeout"]
        out["TTL"] = format_go_duration(interval + timeout + 1_000_000_000)
    elif kind == "tcp":
        out["TCP"] = f"{address}:{port}"
    elif kind == "grpc":
        # as Nomad registers it: the gRPC service to ask about after the address
        service = str(check.get("GRPCService") or "")
        out["GRPC"] = f"{address}:{port}/{service}" if service else f"{address}:{port}"
        if check.get("GRPCUseTLS"):
            out["GRPCUseTLS"] = True
        if check.get("TLSSkipVerify"):
            out["TLSSkipVerify"] = True
    else:
        scheme = str(check.get("Protocol") or "http")
        path = str(check.get("Path") or "/")
        if not path.startswith("/"):
            path = "/" + path
        out["HTTP"] = f"{scheme}://{address}:{port}{path}"
        if check.get("Method"):
            out["Method"] = str(check["Method"])
        if check.get("Header"):
            out["Header"] = check["Header"]
        if check.get("TLSSkipVerify"):
            out["TLSSkipVerify"] = True
    if int(check.get("SuccessBeforePassing") or 0):
        out["SuccessBeforePassing"] = int(check["SuccessBeforePassing"])
    if int(check.get("FailuresBeforeCritical") or 0):
        out["FailuresBeforeCritical"] = int(check["FailuresBeforeCritical"])
    return out


def build_nomad_registrations(scope: ServiceScope, services: list[Obj]) -> list[Obj]:
    """Nomad's `ServiceRegistration`s of a group's (task None) or a task's `provider =
    "nomad"` services, with the IDs Nomad gives them (the same as its Consul service IDs)."""
    alloc, node = scope.alloc, scope.node
    out = []
    for svc, name, sid, port in _provider_services(scope, services, "nomad"):
        out.append(
            {
                "ID": sid,
                "ServiceName": name,
                "Namespace": str(alloc.get("Namespace") or "default"),
                "NodeID": node.id,
                "Datacenter": node.datacenter,
                "JobID": str(alloc.get("JobID") or ""),
                "AllocID": str(alloc["ID"]),
                "Tags": [str(t) for t in svc.get("Tags") or []],
                "Address": service_address(str(svc.get("Address") or ""), scope.node_ip),
                "Port": port,
            }
        )
    return out


def _provider_services(
    scope: ServiceScope, services: list[Obj], provider: str
) -> Iterator[tuple[Obj, str, str, int]]:
    """The services of one provider (Consul by default, as in Nomad), interpolated, each
    with its name, its service ID and its port (ValueError: a label not in the network)."""
    alloc_id = str(scope.alloc["ID"])
    group = str(scope.alloc.get("TaskGroup") or "")
    ports = alloc_ports(scope.alloc)
    for raw in services:
        svc = interpolate(raw, scope.env, scope.node)
        if (svc.get("Provider") or "consul") != provider:
            continue
        name = str(svc.get("Name") or "")
        label = str(svc.get("PortLabel") or "")
        mode = str(svc.get("AddressMode") or "auto")
        port = _port_of(label, ports, driver_mode=mode == "driver")
        yield svc, name, service_id(alloc_id, scope.task, group, name, label), port
