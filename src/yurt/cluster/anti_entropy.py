"""Consul's anti-entropy for a client-mode catalog agent, as a pure decision: given the
agent's own services and checks (what `/v1/agent/services|checks` answer) and what the
servers hold for its node (`/v1/catalog/node-services/<node>`, `/v1/health/node/<node>`),
the catalog writes that make the servers' copy equal to the agent's.

The agent is the truth for its node, as in Consul: a service or check the servers have and
the agent does not is deregistered, one that differs is registered again (with its
service's checks), and the node itself is registered when the servers lack it or its
address changed. The `consul` service and `serfHealth` check a catalog registers for its
own node belong to servers; they are left out on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

SERVER_OWNED_SERVICES = frozenset({"consul"})
SERVER_OWNED_CHECKS = frozenset({"serfHealth"})
# the fields that make two copies of a service or a check the same
SERVICE_FIELDS = ("ID", "Service", "Tags", "Port", "Address", "Meta")
CHECK_FIELDS = ("CheckID", "Name", "Status", "Output", "Notes", "ServiceID")


@dataclass(frozen=True)
class Node:
    name: str
    address: str
    datacenter: str = "dc1"


@dataclass
class Plan:
    """`register` and `deregister` are bodies of `PUT /v1/catalog/register|deregister`."""

    register: list[Obj] = field(default_factory=list)
    deregister: list[Obj] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.register and not self.deregister


def _service_key(svc: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        str(svc.get("ID") or svc.get("Service") or ""),
        str(svc.get("Service") or ""),
        tuple(svc.get("Tags") or ()),
        int(svc.get("Port") or 0),
        str(svc.get("Address") or ""),
        tuple(sorted((svc.get("Meta") or {}).items())),
    )


def _check_key(check: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(check.get(f) or "") for f in CHECK_FIELDS)


def _service_body(svc: Mapping[str, Any]) -> Obj:
    body = {f: svc.get(f) for f in SERVICE_FIELDS if svc.get(f) not in (None, "")}
    body["ID"] = str(svc.get("ID") or svc.get("Service") or "")
    body.setdefault("Tags", [])
    return body


def _check_body(node: Node, check: Mapping[str, Any]) -> Obj:
    body: Obj = {f: str(check.get(f) or "") for f in CHECK_FIELDS}
    body["Node"] = node.name
    return body


def plan(
    node: Node,
    local_services: Mapping[str, Mapping[str, Any]],
    local_checks: Mapping[str, Mapping[str, Any]],
    remote_node: Mapping[str, Any] | None,
    remote_services: Sequence[Mapping[str, Any]],
    remote_checks: Sequence[Mapping[str, Any]],
) -> Plan:
    """The writes that bring the servers' copy of `node` to the agent's."""
    out = Plan()
    base: Obj = {"Node": node.name, "Address": node.address, "Datacenter": node.datacenter}
    services = {
        _service_key(s)[0]: s
        for s in local_services.values()
        if _service_key(s)[0] not in SERVER_OWNED_SERVICES
    }
    checks = {
        str(c.get("CheckID")): c
        for c in local_checks.values()
        if str(c.get("CheckID")) not in SERVER_OWNED_CHECKS
    }
    theirs = {
        _service_key(s)[0]: s
        for s in remote_services
        if _service_key(s)[0] not in SERVER_OWNED_SERVICES
    }
    their_checks = {
        str(c.get("CheckID")): c
        for c in remote_checks
        if str(c.get("CheckID")) not in SERVER_OWNED_CHECKS
    }
    node_stale = remote_node is None or str(remote_node.get("Address") or "") != node.address

    # a service is written with all its checks when it or any of them differs
    for sid in sorted(services):
        own = [c for c in checks.values() if str(c.get("ServiceID") or "") == sid]
        same = sid in theirs and _service_key(services[sid]) == _service_key(theirs[sid])
        same = same and all(
            cid in their_checks and _check_key(c) == _check_key(their_checks[cid])
            for cid, c in ((str(c.get("CheckID")), c) for c in own)
        )
        if not same or node_stale:
            body: Obj = {**base, "Service": _service_body(services[sid])}
            if own:
                body["Checks"] = [_check_body(node, c) for c in own]
            out.register.append(body)
            node_stale = False  # the node went with it
    node_checks = [
        c
        for cid, c in sorted(checks.items())
        if not c.get("ServiceID")
        and (cid not in their_checks or _check_key(c) != _check_key(their_checks[cid]))
    ]
    if node_checks or node_stale:
        node_body: Obj = dict(base)
        if node_checks:
            node_body["Checks"] = [_check_body(node, c) for c in node_checks]
        out.register.append(node_body)

    gone = sorted(set(theirs) - set(services))
    for sid in gone:
        out.deregister.append({"Node": node.name, "ServiceID": sid})
    for cid in sorted(set(their_checks) - set(checks)):
        if str(their_checks[cid].get("ServiceID") or "") not in gone:  # went with it
            out.deregister.append({"Node": node.name, "CheckID": cid})
    return out
