"""Discovery chains (`/v1/discovery-chain/<service>`): the compiled graph of a service's
service-router, service-splitter and service-resolver entries, in Consul's shape. Pure.

The chain starts at the service's router (when its protocol is L7 and it has one), else at
its splitter, else at its resolver. A router's routes end with Consul's catch-all route to
the service itself; a split or route naming a subset goes to that subset's resolver; a
resolver's `Redirect` sends the chain to another service's resolver; `DefaultSubset` picks
the subset a plain reference means. Targets are `[subset.]service.namespace.datacenter`,
their SNI `<target>.internal.<trust domain>`, as Consul names them.

Writes of routers, splitters and ingress gateways are refused when the protocols involved
do not allow them, with Consul's texts (`check_protocols`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from yurt.catalog.config_entries import ConfigEntry, ValidationError
from yurt.catalog.config_entry_kinds import (
    INGRESS_GATEWAY,
    PROXY_CONFIG_GLOBAL,
    PROXY_DEFAULTS,
    SERVICE_DEFAULTS,
    SERVICE_RESOLVER,
    SERVICE_ROUTER,
    SERVICE_SPLITTER,
)

NAMESPACE = "default"
DEFAULT_CONNECT_TIMEOUT = "5s"
L7_PROTOCOLS = ("http", "http2", "grpc")
# redirects and splits to other services can loop; Consul refuses a cycle, yurt stops here
_MAX_DEPTH = 32

Lookup = Callable[[str, str], ConfigEntry | None]


@dataclass
class Overrides:
    """The POST body's overrides (`OverrideProtocol`, `OverrideConnectTimeout`,
    `OverrideMeshGateway`); a chain compiled with any carries a `CustomizationHash`."""

    protocol: str = ""
    connect_timeout: str = ""
    mesh_gateway: dict[str, Any] = field(default_factory=dict)

    def active(self) -> bool:
        return bool(self.protocol or self.connect_timeout or self.mesh_gateway)

    def hash(self) -> str:
        text = json.dumps([self.protocol, self.connect_timeout, self.mesh_gateway])
        return f"{zlib.crc32(text.encode()):08x}"


def protocol_of(service: str, lookup: Lookup) -> str:
    """service-defaults' Protocol, else proxy-defaults' `Config.protocol`, else tcp."""
    defaults = lookup(SERVICE_DEFAULTS, service)
    if defaults is not None and defaults.body.get("Protocol"):
        return str(defaults.body["Protocol"])
    proxy = lookup(PROXY_DEFAULTS, PROXY_CONFIG_GLOBAL)
    config = (proxy.body.get("Config") or {}) if proxy is not None else {}
    value = config.get("protocol") if isinstance(config, dict) else None
    return value if isinstance(value, str) and value else "tcp"


def target_id(service: str, subset: str, datacenter: str) -> str:
    return f"{subset + '.' if subset else ''}{service}.{NAMESPACE}.{datacenter}"


class _Compiler:
    def __init__(
        self, datacenter: str, trust_domain: str, lookup: Lookup, overrides: Overrides
    ) -> None:
        self.dc = datacenter
        self.trust_domain = trust_domain
        self.lookup = lookup
        self.overrides = overrides
        self.nodes: dict[str, Any] = {}
        self.targets: dict[str, Any] = {}

    def resolver(self, service: str, subset: str, dc: str, depth: int = 0) -> str:
        """The resolver node of a target, with its target; following redirects."""
        entry = self.lookup(SERVICE_RESOLVER, service)
        body = entry.body if entry is not None else {}
        redirect = body.get("Redirect") or {}
        if redirect and depth < _MAX_DEPTH:
            return self.resolver(
                redirect.get("Service") or service,
                redirect.get("ServiceSubset", ""),
                redirect.get("Datacenter") or dc,
                depth + 1,
            )
        subset = subset or body.get("DefaultSubset", "")
        timeout = (
            self.overrides.connect_timeout or body.get("ConnectTimeout") or DEFAULT_CONNECT_TIMEOUT
        )
        tid = self.target(service, subset, dc, timeout, body)
        name = f"resolver:{tid}"
        if name not in self.nodes:
            resolved: dict[str, Any] = {"ConnectTimeout": timeout}
            if entry is None:
                resolved["Default"] = True
            resolved["Target"] = tid
            failover = self.failover(service, subset, dc, timeout, body)
            if failover:
                resolved["Failover"] = {"Targets": failover}
            self.nodes[name] = {"Type": "resolver", "Name": tid, "Resolver": resolved}
        return name

    def target(self, service: str, subset: str, dc: str, timeout: str, body: dict[str, Any]) -> str:
        tid = target_id(service, subset, dc)
        if tid not in self.targets:
            sni = f"{tid}.internal.{self.trust_domain}"
            target: dict[str, Any] = {"ConnectTimeout": timeout, "ID": tid, "Service": service}
            if subset:
                target["ServiceSubset"] = subset
            target.update(
                {
                    "Namespace": NAMESPACE,
                    "Datacenter": dc,
                    "MeshGateway": dict(self.overrides.mesh_gateway),
                    "Subset": dict((body.get("Subsets") or {}).get(subset, {})),
                    "SNI": sni,
                    "Name": sni,
                }
            )
            self.targets[tid] = target
        return tid

    def failover(
        self, service: str, subset: str, dc: str, timeout: str, body: dict[str, Any]
    ) -> list[str]:
        rules = body.get("Failover") or {}
        rule = rules.get(subset or "*") or rules.get("*")
        if not rule:
            return []
        other = rule.get("Service") or service
        other_subset = rule.get("ServiceSubset", "")
        dcs = rule.get("Datacenters") or [dc]
        other_body = body if other == service else {}
        return [self.target(other, other_subset, d, timeout, other_body) for d in dcs]

    def splitter_or_resolver(self, service: str, protocol: str, depth: int = 0) -> str:
        splitter = self.lookup(SERVICE_SPLITTER, service)
        if splitter is None or protocol not in L7_PROTOCOLS or depth >= _MAX_DEPTH:
            return self.resolver(service, "", self.dc)
        name = f"splitter:{service}.{NAMESPACE}"
        if name in self.nodes:
            return name
        self.nodes[name] = {"Type": "splitter", "Name": f"{service}.{NAMESPACE}", "Splits": []}
        splits = []
        for split in splitter.body.get("Splits") or []:
            other = split.get("Service") or service
            subset = split.get("ServiceSubset", "")
            if subset or other == service:
                nxt = self.resolver(other, subset, self.dc)
            else:
                nxt = self.splitter_or_resolver(other, protocol, depth + 1)
            splits.append({"Weight": split.get("Weight", 0), "NextNode": nxt})
        self.nodes[name]["Splits"] = splits
        return name

    def router(self, service: str, protocol: str) -> str | None:
        router = self.lookup(SERVICE_ROUTER, service)
        if router is None or protocol not in L7_PROTOCOLS:
            return None
        default_route = {
            "Match": {"HTTP": {"PathPrefix": "/"}},
            "Destination": {"Service": service, "Namespace": NAMESPACE},
        }
        routes = []
        for route in [*(router.body.get("Routes") or []), default_route]:
            dest = route.get("Destination") or {}
            other = dest.get("Service") or service
            subset = dest.get("ServiceSubset", "")
            if subset:
                nxt = self.resolver(other, subset, self.dc)
            else:
                nxt = self.splitter_or_resolver(other, protocol)
            routes.append({"Definition": route, "NextNode": nxt})
        name = f"router:{service}.{NAMESPACE}"
        self.nodes[name] = {"Type": "router", "Name": f"{service}.{NAMESPACE}", "Routes": routes}
        return name


def compile_chain(
    service: str,
    datacenter: str,
    trust_domain: str,
    lookup: Lookup,
    overrides: Overrides | None = None,
) -> dict[str, Any]:
    """`{"Chain": ...}` as Consul's `/v1/discovery-chain/<service>` answers it."""
    overrides = overrides or Overrides()
    protocol = overrides.protocol or protocol_of(service, lookup)
    compiler = _Compiler(datacenter, trust_domain, lookup, overrides)
    start = compiler.router(service, protocol) or compiler.splitter_or_resolver(service, protocol)
    chain: dict[str, Any] = {
        "ServiceName": service,
        "Namespace": NAMESPACE,
        "Datacenter": datacenter,
    }
    if overrides.active():
        chain["CustomizationHash"] = overrides.hash()
    chain.update(
        {
            "Protocol": protocol,
            "StartNode": start,
            "Nodes": dict(sorted(compiler.nodes.items())),
            "Targets": dict(sorted(compiler.targets.items())),
        }
    )
    return {"Chain": chain}


# -- the protocol checks of writes -------------------------------------------------------------


def check_protocols(entry: ConfigEntry, lookup: Lookup) -> None:
    """Refuse, with Consul's texts, a router or splitter on a service whose protocol has no
    routing, one that mixes protocols, and an ingress listener whose protocol its services
    do not have."""
    if entry.kind in (SERVICE_ROUTER, SERVICE_SPLITTER):
        protocol = protocol_of(entry.name, lookup)
        if protocol not in L7_PROTOCOLS:
            raise ValidationError(
                f'discovery chain "{entry.name}" uses a protocol "{protocol}" that does not '
                "permit advanced routing or splitting behavior"
            )
        for other in _referenced(entry):
            theirs = protocol_of(other, lookup)
            if other != entry.name and theirs != protocol:
                raise ValidationError(
                    f'discovery chain "{entry.name}" uses inconsistent protocols; service '
                    f'"{other}" has "{theirs}" which is not "{protocol}"'
                )
    elif entry.kind == INGRESS_GATEWAY:
        for listener in entry.body.get("Listeners") or []:
            wanted = listener.get("Protocol") or "tcp"
            if wanted == "tcp":
                continue
            for svc in listener.get("Services") or []:
                name = svc.get("Name", "")
                theirs = protocol_of(name, lookup)
                if name != "*" and theirs != wanted:
                    raise ValidationError(
                        f'service "{name}" has protocol "{theirs}", which does not match '
                        f'defined listener protocol "{wanted}"'
                    )


def _referenced(entry: ConfigEntry) -> list[str]:
    if entry.kind == SERVICE_SPLITTER:
        return [s["Service"] for s in entry.body.get("Splits") or [] if s.get("Service")]
    return [
        r["Destination"]["Service"]
        for r in entry.body.get("Routes") or []
        if (r.get("Destination") or {}).get("Service")
    ]
