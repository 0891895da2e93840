"""Connect as a catalog: a service's `Connect.SidecarService` expanded into the sidecar
proxy's own registration, as Consul's agent expands it (`agent/sidecar_service.go`), and the
catalog's views of proxies and gateways. Pure: no proxy runs, yurt has no data plane.

The sidecar is `<id>-sidecar-proxy`, Kind `connect-proxy`, pointing at its service; it
inherits the service's address, tags and meta when it sets none, and takes the lowest port
of 21000-21255 that no local service uses. Without checks of its own it gets Consul's two:
"Connect Sidecar Listening" (TCP, every 10 s) and "Connect Sidecar Aliasing <id>".
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from yurt.api.durations import SECOND
from yurt.catalog.config_entries import ConfigEntry
from yurt.catalog.config_entry_kinds import INGRESS_GATEWAY, TERMINATING_GATEWAY
from yurt.catalog.connect_proxy import CONNECT_PROXY
from yurt.catalog.definitions import DefinitionError, ServiceDefinition, parse_service
from yurt.catalog.model import PASSING, STATUSES, Check, CheckDefinition, Service

SIDECAR_SUFFIX = "-sidecar-proxy"
SIDECAR_MIN_PORT = 21000
SIDECAR_MAX_PORT = 21255
CHECK_INTERVAL_NS = 10 * SECOND
DEFAULT_CHECK_TIMEOUT_NS = 10 * SECOND


def sidecar_id(service_id: str) -> str:
    return service_id + SIDECAR_SUFFIX


def sidecar_port(sid: str, local: Iterable[Service]) -> int:
    """The port Consul's agent gives a sidecar registered without one: its current port if
    it is re-registered, else the lowest in the range no local service uses."""
    used: set[int] = set()
    for svc in local:
        if SIDECAR_MIN_PORT <= svc.port <= SIDECAR_MAX_PORT:
            if svc.id == sid:
                return svc.port
            used.add(svc.port)
    for port in range(SIDECAR_MIN_PORT, SIDECAR_MAX_PORT + 1):
        if port not in used:
            return port
    raise DefinitionError(
        "no port provided for sidecar_service and none left in the configured range "
        f"[{SIDECAR_MIN_PORT}, {SIDECAR_MAX_PORT}]"
    )


def _format_addr(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def sidecar_definition(
    parent: Service, raw: dict[str, Any], local: Iterable[Service], parent_checks: list[Check]
) -> ServiceDefinition:
    """The sidecar registration that `parent`'s `Connect.SidecarService` (`raw`) stands for.
    `local`: the node's services (for the port), `parent_checks`: for the alias check."""
    data = copy.deepcopy(raw)
    sid = sidecar_id(parent.id)
    # the sidecar's ID is always derived from its service's, as Consul's agent does
    data = {k: v for k, v in data.items() if k.lower() != "id"}
    if not any(k.lower() == "name" and v for k, v in data.items()):
        data["Name"] = parent.name + SIDECAR_SUFFIX
    if not any(k.lower() == "kind" and v for k, v in data.items()):
        data["Kind"] = CONNECT_PROXY
    data["ID"] = sid
    proxy = next((v for k, v in data.items() if k.lower() == "proxy"), None) or {}
    data = {k: v for k, v in data.items() if k.lower() != "proxy"}
    # placeholders so that parsing accepts the proxy; the defaults are filled in below
    data["Proxy"] = {"DestinationServiceName": parent.name, **proxy}
    if not any(k.lower() == "port" and v for k, v in data.items()):
        data["Port"] = 1
        port = sidecar_port(sid, local)
    else:
        port = 0
    definition = parse_service(data, node=parent.node, where="Connect.SidecarService.")
    svc = definition.service
    if port:
        svc.port = port
    svc.address = svc.address or parent.address
    svc.tags = svc.tags or list(parent.tags)
    svc.meta = svc.meta or dict(parent.meta)
    p = svc.proxy
    p.setdefault("DestinationServiceID", parent.id)
    if not p.get("LocalServiceSocketPath") and not p.get("LocalServicePort"):
        p.setdefault("LocalServiceAddress", "127.0.0.1")
        p["LocalServicePort"] = parent.port
    p.setdefault("LocalServiceAddress", "127.0.0.1")
    # the order Consul writes them in
    head = ("DestinationServiceName", "DestinationServiceID", "LocalServiceAddress")
    svc.proxy = {
        **{k: p[k] for k in head if k in p},
        **({"LocalServicePort": p["LocalServicePort"]} if "LocalServicePort" in p else {}),
        **{k: v for k, v in p.items() if k not in (*head, "LocalServicePort")},
    }
    for chk in definition.checks:
        chk.service_tags = list(svc.tags)
    if not definition.checks:
        definition.checks = default_checks(svc, parent, parent_checks)
    return definition


def default_checks(svc: Service, parent: Service, parent_checks: list[Check]) -> list[Check]:
    """Consul's two: a TCP check of the sidecar's port, and one that mirrors the service's
    health (kept as it was at registration: yurt runs no alias checks)."""
    address = svc.address or str(svc.proxy.get("LocalServiceAddress", "127.0.0.1"))
    listening = Check(
        node=svc.node,
        check_id=f"service:{svc.id}:1",
        name="Connect Sidecar Listening",
        status="critical",
        service_id=svc.id,
        service_name=svc.name,
        service_tags=list(svc.tags),
        definition=CheckDefinition(
            kind="tcp",
            tcp=_format_addr(address, svc.port),
            interval_ns=CHECK_INTERVAL_NS,
            timeout_ns=DEFAULT_CHECK_TIMEOUT_NS,
        ),
    )
    status, output = alias_status(parent_checks)
    aliasing = Check(
        node=svc.node,
        check_id=f"service:{svc.id}:2",
        name=f"Connect Sidecar Aliasing {parent.id}",
        status=status,
        output=output,
        service_id=svc.id,
        service_name=svc.name,
        service_tags=list(svc.tags),
        definition=CheckDefinition(kind="alias"),  # not run: no runner has this kind
    )
    return [listening, aliasing]


def alias_status(checks: list[Check]) -> tuple[str, str]:
    """An alias check's status: the worst of the aliased service's checks."""
    if not checks:
        return PASSING, "No checks found."
    worst = max(checks, key=lambda c: STATUSES.index(c.status) if c.status in STATUSES else 2)
    if worst.status == PASSING:
        return PASSING, "All checks passing."
    return worst.status, f"Aliased check {worst.check_id!r} is {worst.status}"


def is_sidecar_of(svc: Service | None, service_id: str) -> bool:
    """Whether `svc` is the sidecar the agent registered for `service_id`."""
    return (
        svc is not None
        and svc.id == sidecar_id(service_id)
        and svc.kind == CONNECT_PROXY
        and svc.proxy.get("DestinationServiceID") == service_id
    )


def proxies_for(services: Iterable[Service], name: str) -> list[Service]:
    """What `/v1/catalog/connect/<name>` lists: the proxies whose destination is `name`, and
    the Connect-native instances of `name` itself."""
    return [s for s in services if _serves(s, name)]


def _serves(svc: Service, name: str) -> bool:
    if svc.kind == CONNECT_PROXY:
        return bool(svc.proxy.get("DestinationServiceName") == name)
    return svc.name == name and bool(svc.connect.get("Native"))


def gateway_services(entries: Iterable[ConfigEntry], gateway: str) -> list[dict[str, Any]]:
    """`/v1/catalog/gateway-services/<gateway>`: the services an ingress or terminating
    gateway's config entry links it to, in Consul's shape."""
    out: list[dict[str, Any]] = []
    for entry in entries:
        if entry.name != gateway:
            continue
        if entry.kind == INGRESS_GATEWAY:
            for listener in entry.body.get("Listeners") or []:
                for svc in listener.get("Services") or []:
                    row: dict[str, Any] = {
                        "Gateway": {"Name": gateway},
                        "Service": {"Name": svc.get("Name", "")},
                        "GatewayKind": INGRESS_GATEWAY,
                        "Port": listener.get("Port", 0),
                        "Protocol": listener.get("Protocol") or "tcp",
                    }
                    if svc.get("Hosts"):
                        row["Hosts"] = svc["Hosts"]
                    out.append(_indexed(row, entry))
        elif entry.kind == TERMINATING_GATEWAY:
            for svc in entry.body.get("Services") or []:
                row = {
                    "Gateway": {"Name": gateway},
                    "Service": {"Name": svc.get("Name", "")},
                    "GatewayKind": TERMINATING_GATEWAY,
                }
                for key in ("CAFile", "CertFile", "KeyFile", "SNI"):
                    if svc.get(key):
                        row[key] = svc[key]
                out.append(_indexed(row, entry))
    return out


def _indexed(row: dict[str, Any], entry: ConfigEntry) -> dict[str, Any]:
    row["CreateIndex"] = entry.create_index
    row["ModifyIndex"] = entry.modify_index
    return row


def ingress_gateways_for(entries: Iterable[ConfigEntry], name: str) -> list[str]:
    """The ingress gateways whose listeners route to service `name` (or to every service)."""
    out = []
    for entry in entries:
        if entry.kind != INGRESS_GATEWAY:
            continue
        for listener in entry.body.get("Listeners") or []:
            if any(s.get("Name") in (name, "*") for s in listener.get("Services") or []):
                out.append(entry.name)
                break
    return sorted(out)
