"""Consul's ACL objects: policies, tokens and roles, with their JSON shapes."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Self


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content_hash(*parts: Any) -> str:
    """Consul's `Hash`: a digest of what the object grants, base64-encoded."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).digest()
    return base64.b64encode(digest).decode()


@dataclass
class _Stored:
    """What policies, roles and tokens share: their indexes, their record form (the dataclass
    as a dict, in the store) and the tail of their JSON (`Hash` and the indexes)."""

    create_index: int = field(default=0, kw_only=True)
    modify_index: int = field(default=0, kw_only=True)

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Self:
        data = dict(data)
        if "grants" in data:
            data["grants"] = Grants.from_record(data["grants"])
        if "roles" in data:
            data["roles"] = [Link(**r) for r in data["roles"]]
        return cls(**data)

    def _tail(self, data: dict[str, Any], *hashed: Any) -> dict[str, Any]:
        data["Hash"] = content_hash(*hashed)
        data["CreateIndex"] = self.create_index
        data["ModifyIndex"] = self.modify_index
        return data


@dataclass
class ACLPolicy(_Stored):
    id: str
    name: str
    description: str = ""
    rules: str = ""
    datacenters: list[str] = field(default_factory=list)

    def to_json(self, *, stub: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ID": self.id,
            "Name": self.name,
            "Description": self.description,
        }
        if not stub:
            data["Rules"] = self.rules
        data["Datacenters"] = self.datacenters or None
        return self._tail(data, self.name, self.description, self.rules, self.datacenters)


@dataclass
class Link:
    """A token's or role's reference to a policy or role: both ID and name are kept, the
    name refreshed from the ID when answering (a renamed policy shows its new name)."""

    id: str
    name: str

    def to_json(self) -> dict[str, str]:
        return {"ID": self.id, "Name": self.name}


@dataclass
class ServiceIdentity:
    service_name: str
    datacenters: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ServiceName": self.service_name}
        if self.datacenters:
            data["Datacenters"] = self.datacenters
        return data


@dataclass
class NodeIdentity:
    node_name: str
    datacenter: str

    def to_json(self) -> dict[str, Any]:
        return {"NodeName": self.node_name, "Datacenter": self.datacenter}


@dataclass
class TemplatedPolicyRef:
    template_name: str
    variables: dict[str, Any] = field(default_factory=dict)
    datacenters: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"TemplateName": self.template_name}
        if self.variables:
            data["TemplateVariables"] = self.variables
        if self.datacenters:
            data["Datacenters"] = self.datacenters
        return data


@dataclass
class Grants:
    """What a token or a role grants besides its rules' policies."""

    policies: list[Link] = field(default_factory=list)
    service_identities: list[ServiceIdentity] = field(default_factory=list)
    node_identities: list[NodeIdentity] = field(default_factory=list)
    templated_policies: list[TemplatedPolicyRef] = field(default_factory=list)

    def to_json(self, data: dict[str, Any], roles: list[Link] | None = None) -> None:
        """Add what is granted to `data`; a token's `roles` come after its policies."""
        if self.policies:
            data["Policies"] = [p.to_json() for p in self.policies]
        if roles:
            data["Roles"] = [r.to_json() for r in roles]
        if self.service_identities:
            data["ServiceIdentities"] = [s.to_json() for s in self.service_identities]
        if self.node_identities:
            data["NodeIdentities"] = [n.to_json() for n in self.node_identities]
        if self.templated_policies:
            data["TemplatedPolicies"] = [t.to_json() for t in self.templated_policies]

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Grants:
        return cls(
            policies=[Link(**p) for p in data.get("policies", [])],
            service_identities=[ServiceIdentity(**s) for s in data.get("service_identities", [])],
            node_identities=[NodeIdentity(**n) for n in data.get("node_identities", [])],
            templated_policies=[
                TemplatedPolicyRef(**t) for t in data.get("templated_policies", [])
            ],
        )


@dataclass
class ACLRole(_Stored):
    id: str
    name: str
    description: str = ""
    grants: Grants = field(default_factory=Grants)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ID": self.id, "Name": self.name, "Description": self.description}
        self.grants.to_json(data)
        return self._tail(data, self.name, self.description, asdict(self.grants))


@dataclass
class ACLToken(_Stored):
    accessor_id: str
    secret_id: str
    description: str = ""
    grants: Grants = field(default_factory=Grants)
    roles: list[Link] = field(default_factory=list)
    local: bool = False
    expiration_time: str = ""
    create_time: str = ""

    def expired(self, at: datetime | None = None) -> bool:
        if not self.expiration_time:
            return False
        when = datetime.fromisoformat(self.expiration_time.replace("Z", "+00:00"))
        return when <= (at or datetime.now(UTC))

    def to_json(self, *, secret: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "AccessorID": self.accessor_id,
            "SecretID": self.secret_id if secret else "<hidden>",
            "Description": self.description,
        }
        self.grants.to_json(data, self.roles)
        data["Local"] = self.local
        if self.expiration_time:
            data["ExpirationTime"] = self.expiration_time
        data["CreateTime"] = self.create_time
        return self._tail(
            data, self.description, asdict(self.grants), [asdict(r) for r in self.roles], self.local
        )
