"""Which service instances may receive traffic, from `/v1/health/state/any`.

Fabio's rule: an instance needs at least one check in an accepted status (`checksRequired =
one`) or all of them (`all`); its node must not have a critical `serfHealth` check or be in
maintenance, and the service must not be in maintenance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

NODE_MAINT = "_node_maintenance"
SERVICE_MAINT_PREFIX = "_service_maintenance:"


def passing_instances(
    checks: Iterable[Mapping[str, Any]],
    status: Iterable[str] = ("passing",),
    *,
    require_all: bool = False,
) -> set[tuple[str, str]]:
    """(node, service id) of every instance that passes, given every check of the catalog."""
    accepted = set(status)
    by_instance: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    blocked_nodes: set[str] = set()
    maint_services: set[tuple[str, str]] = set()
    for c in checks:
        node = str(c.get("Node", ""))
        check_id = str(c.get("CheckID", ""))
        service_id = str(c.get("ServiceID", "") or "")
        if check_id == NODE_MAINT or (check_id == "serfHealth" and c.get("Status") == "critical"):
            blocked_nodes.add(node)
        if check_id.startswith(SERVICE_MAINT_PREFIX):
            maint_services.add((node, check_id[len(SERVICE_MAINT_PREFIX) :]))
        if service_id:
            by_instance.setdefault((node, service_id), []).append(c)
    out: set[tuple[str, str]] = set()
    for key, own in by_instance.items():
        if key[0] in blocked_nodes or key in maint_services:
            continue
        passing = sum(1 for c in own if c.get("Status") in accepted)
        if passing == 0 or (require_all and passing != len(own)):
            continue
        out.add(key)
    return out


def services_with_checks(checks: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    return {(str(c.get("Node", "")), str(c.get("ServiceID"))) for c in checks if c.get("ServiceID")}


def blocked_nodes(checks: Iterable[Mapping[str, Any]]) -> set[str]:
    return {
        str(c.get("Node", ""))
        for c in checks
        if c.get("CheckID") == NODE_MAINT
        or (c.get("CheckID") == "serfHealth" and c.get("Status") == "critical")
    }
