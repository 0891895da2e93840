"""The catalog's records: nodes, services, health checks and KV entries.

Each record knows how Consul writes it on the wire (`*_json`) and how it is kept in SQLite
(`to_record`/`from_record`, plain JSON-able dicts).
"""

from __future__ import annotations

import base64
import operator
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from yurt.api.durations import format_go_duration

PASSING = "passing"
WARNING = "warning"
CRITICAL = "critical"
MAINT = "maintenance"
STATUSES = (PASSING, WARNING, CRITICAL)

SERF_CHECK_ID = "serfHealth"
NODE_MAINT_CHECK_ID = "_node_maintenance"
SERVICE_MAINT_PREFIX = "_service_maintenance:"

DEFAULT_WEIGHTS = {"Passing": 1, "Warning": 1}


_Getter = Callable[[Any], tuple[Any, ...]]
_FIELDS: dict[type, tuple[tuple[str, ...], _Getter]] = {}


def _fields_of(cls: type) -> tuple[tuple[str, ...], _Getter]:
    found = _FIELDS.get(cls)
    if found is None:
        names = tuple(f.name for f in fields(cls))
        if len(names) == 1:  # attrgetter of one name gives the value, not a tuple
            found = names, lambda obj: (getattr(obj, names[0]),)
        else:
            found = names, operator.attrgetter(*names)
        _FIELDS[cls] = found
    return found


def _record(obj: Any) -> dict[str, Any]:
    """A record's fields by name, their values as they are: a record is encoded as JSON at
    once (`storage/batch.py`), so nothing needs the deep copy `dataclasses.asdict` makes
    (which was a fifth of a registration's cost). The JSON text is the same."""
    names, values = _fields_of(type(obj))
    return dict(zip(names, values(obj), strict=True))


# Nodes, services and checks are kept in memory by the ten thousand: `slots` saves each
# record its attribute dictionary (about 60 bytes), `catalog/shared_values.py` the rest.
@dataclass(slots=True)
class Node:
    name: str
    node_id: str
    address: str
    datacenter: str
    tagged_addresses: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    create_index: int = 0
    modify_index: int = 0

    def same_content(self, other: Node) -> bool:
        return (self.node_id, self.address, self.tagged_addresses, self.meta) == (
            other.node_id,
            other.address,
            other.tagged_addresses,
            other.meta,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ID": self.node_id,
            "Node": self.name,
            "Address": self.address,
            "Datacenter": self.datacenter,
            "TaggedAddresses": self.tagged_addresses or None,
            "Meta": self.meta or None,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }

    def to_record(self) -> dict[str, Any]:
        return _record(self)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Node:
        return cls(**data)


@dataclass(slots=True)
class Service:
    node: str
    id: str
    name: str
    tags: list[str] = field(default_factory=list)
    address: str = ""
    port: int = 0
    meta: dict[str, str] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    tagged_addresses: dict[str, Any] = field(default_factory=dict)
    enable_tag_override: bool = False
    kind: str = ""
    # Connect: a proxy's `Proxy` block (Consul's wire names) and the `Connect` block
    proxy: dict[str, Any] = field(default_factory=dict)
    connect: dict[str, Any] = field(default_factory=dict)
    # "config" for a service defined in a -config-dir file: a reload removes it once its
    # file is gone, while services registered through the API stay until deregistered
    source: str = ""
    create_index: int = 0
    modify_index: int = 0

    def same_content(self, other: Service) -> bool:
        return replace(self, create_index=0, modify_index=0) == replace(
            other, create_index=0, modify_index=0
        )

    def agent_json(self, datacenter: str) -> dict[str, Any]:
        """The shape of `GET /v1/agent/services` entries and `catalog/node` services."""
        out: dict[str, Any] = {
            "ID": self.id,
            "Service": self.name,
            "Tags": list(self.tags),
            "Meta": dict(self.meta),
            "Port": self.port,
            "Address": self.address,
        }
        if self.tagged_addresses:
            out["TaggedAddresses"] = self.tagged_addresses
        out["Weights"] = dict(self.weights)
        out["EnableTagOverride"] = self.enable_tag_override
        if self.proxy:
            out["Proxy"] = self.proxy_json(mode=False)
        if self.connect:
            out["Connect"] = self.connect
        out["Datacenter"] = datacenter
        if self.kind:
            out["Kind"] = self.kind
        return out

    def proxy_json(self, *, mode: bool = True) -> dict[str, Any]:
        """Consul's `Proxy` object: what was registered, and the blocks Consul always writes
        (the agent's own view leaves out an empty `Mode`)."""
        out = dict(self.proxy)
        if mode:
            out.setdefault("Mode", "")
        out.setdefault("MeshGateway", {})
        out.setdefault("Expose", {})
        return out

    def health_json(self) -> dict[str, Any]:
        """The `Service` object of `/v1/health/service/:name` and catalog/node services."""
        out: dict[str, Any] = {
            "ID": self.id,
            "Service": self.name,
            "Tags": list(self.tags),
            "Address": self.address,
            "Meta": dict(self.meta),
            "Port": self.port,
            "Weights": dict(self.weights),
            "EnableTagOverride": self.enable_tag_override,
            "Proxy": self.proxy_json(),
            "Connect": dict(self.connect),
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }
        if self.tagged_addresses:
            out["TaggedAddresses"] = self.tagged_addresses
        if self.kind:
            out["Kind"] = self.kind
        return out

    def catalog_json(self, node: Node) -> dict[str, Any]:
        """An entry of `/v1/catalog/service/:name`: the node and the service flattened."""
        out: dict[str, Any] = {
            "ID": node.node_id,
            "Node": node.name,
            "Address": node.address,
            "Datacenter": node.datacenter,
            "TaggedAddresses": node.tagged_addresses or None,
            "NodeMeta": node.meta or None,
            "ServiceKind": self.kind,
            "ServiceID": self.id,
            "ServiceName": self.name,
            "ServiceTags": list(self.tags),
            "ServiceAddress": self.address,
            "ServiceWeights": dict(self.weights),
            "ServiceMeta": dict(self.meta),
            "ServicePort": self.port,
            "ServiceEnableTagOverride": self.enable_tag_override,
            "ServiceProxy": self.proxy_json(),
            "ServiceConnect": dict(self.connect),
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }
        if self.tagged_addresses:
            out["ServiceTaggedAddresses"] = self.tagged_addresses
        return out

    def to_record(self) -> dict[str, Any]:
        return _record(self)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Service:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class CheckDefinition:
    """How a check is run. `kind` is "http", "tcp", "ttl", "script", "grpc", "h2ping", or ""
    for a check the agent does not run (catalog-registered checks, serfHealth, maintenance)."""

    kind: str = ""
    http: str = ""
    method: str = ""
    header: dict[str, list[str]] = field(default_factory=dict)
    body: str = ""
    tls_skip_verify: bool = False
    tcp: str = ""
    interval_ns: int = 0
    timeout_ns: int = 0
    ttl_ns: int = 0
    deregister_after_ns: int = 0
    success_before_passing: int = 0
    failures_before_warning: int = 0
    failures_before_critical: int = 0
    # a script check's command and arguments (`Args`), run without a shell as Consul does
    args: list[str] = field(default_factory=list)
    # a gRPC health check's "host:port[/service]", and an H2PING check's "host:port"
    grpc: str = ""
    grpc_use_tls: bool = False
    h2ping: str = ""
    # Consul pings over TLS unless told otherwise
    h2ping_use_tls: bool = True

    def to_record(self) -> dict[str, Any]:
        return _record(self)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> CheckDefinition:
        return cls(**data)

    def definition_json(self) -> dict[str, Any]:
        """Consul's `Definition` object in health-check answers."""
        out: dict[str, Any] = {}
        if self.kind == "http":
            out["HTTP"] = self.http
            if self.method:
                out["Method"] = self.method
            if self.header:
                out["Header"] = self.header
            if self.body:
                out["Body"] = self.body
            out["TLSSkipVerify"] = self.tls_skip_verify
        if self.kind == "tcp":
            out["TCP"] = self.tcp
        if self.kind == "script":
            out["ScriptArgs"] = list(self.args)
        if self.kind == "grpc":
            out["GRPC"] = self.grpc
            out["GRPCUseTLS"] = self.grpc_use_tls
        if self.kind == "h2ping":
            out["H2PING"] = self.h2ping
            out["H2PingUseTLS"] = self.h2ping_use_tls
        if self.interval_ns:
            out["Interval"] = format_go_duration(self.interval_ns)
        if self.timeout_ns:
            out["Timeout"] = format_go_duration(self.timeout_ns)
        if self.kind == "ttl":
            out["TTL"] = format_go_duration(self.ttl_ns)
        if self.deregister_after_ns:
            out["DeregisterCriticalServiceAfter"] = format_go_duration(self.deregister_after_ns)
        return out


@dataclass(slots=True)
class Check:
    node: str
    check_id: str
    name: str
    status: str = CRITICAL
    notes: str = ""
    output: str = ""
    service_id: str = ""
    service_name: str = ""
    service_tags: list[str] = field(default_factory=list)
    definition: CheckDefinition = field(default_factory=CheckDefinition)
    create_index: int = 0
    modify_index: int = 0

    def same_definition(self, other: Check) -> bool:
        return (
            self.name,
            self.notes,
            self.service_id,
            self.service_name,
            self.service_tags,
            self.definition,
        ) == (
            other.name,
            other.notes,
            other.service_id,
            other.service_name,
            other.service_tags,
            other.definition,
        )

    def to_json(self) -> dict[str, Any]:
        d = self.definition
        return {
            "Node": self.node,
            "CheckID": self.check_id,
            "Name": self.name,
            "Status": self.status,
            "Notes": self.notes,
            "Output": self.output,
            "ServiceID": self.service_id,
            "ServiceName": self.service_name,
            "ServiceTags": list(self.service_tags),
            "Type": d.kind,
            "Interval": format_go_duration(d.interval_ns) if d.interval_ns else "",
            "Timeout": format_go_duration(d.timeout_ns) if d.timeout_ns else "",
            "ExposedPort": 0,
            "Definition": d.definition_json(),
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }

    def to_record(self) -> dict[str, Any]:
        out = _record(self)
        out["definition"] = _record(self.definition)
        return out

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Check:
        data = dict(data)
        data["definition"] = CheckDefinition.from_record(data["definition"])
        return cls(**data)


@dataclass
class KVEntry:
    key: str
    value: bytes | None
    flags: int = 0
    lock_index: int = 0
    session: str = ""
    create_index: int = 0
    modify_index: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "LockIndex": self.lock_index,
            "Key": self.key,
            "Flags": self.flags,
            # an empty value reads back as null, as Consul's (Go encodes an empty []byte as nil)
            "Value": base64.b64encode(self.value).decode() if self.value else None,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }
        if self.session:
            out["Session"] = self.session
        return out


def aggregate_status(checks: list[Check]) -> str:
    """The worst status of `checks`, as Consul aggregates them (maintenance counts as critical)."""
    worst = PASSING
    for check in checks:
        if check.status in (CRITICAL, MAINT):
            return CRITICAL
        if check.status == WARNING:
            worst = WARNING
    return worst


RELEASE = "release"
DELETE = "delete"
DEFAULT_LOCK_DELAY_NS = 15 * 1_000_000_000


@dataclass
class Session:
    """A Consul session: what holds KV locks, and what invalidates them.

    `ttl` is kept as the client wrote it ("30s"), as Consul echoes it. `service_checks` are
    check IDs of services on the session's node.
    """

    id: str
    node: str
    name: str = ""
    lock_delay_ns: int = DEFAULT_LOCK_DELAY_NS
    behavior: str = RELEASE
    ttl: str = ""
    node_checks: list[str] = field(default_factory=list)
    service_checks: list[str] = field(default_factory=list)
    create_index: int = 0
    modify_index: int = 0

    def check_ids(self) -> list[str]:
        return [*self.node_checks, *self.service_checks]

    def to_json(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Name": self.name,
            "Node": self.node,
            "LockDelay": self.lock_delay_ns,
            "Behavior": self.behavior,
            "TTL": self.ttl,
            "NodeChecks": list(self.node_checks) or None,
            "ServiceChecks": [{"ID": c, "Namespace": ""} for c in self.service_checks] or None,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }

    def to_record(self) -> dict[str, Any]:
        return _record(self)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Session:
        return cls(**data)
