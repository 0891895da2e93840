"""Consul's built-in policies: `global-management` and the templated policies of 1.17
(`builtin/service`, `builtin/node`, ...), which service and node identities also render.

Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

GLOBAL_MANAGEMENT_ID = "00000000-0000-0000-0000-000000000001"
GLOBAL_MANAGEMENT_NAME = "global-management"
GLOBAL_MANAGEMENT_DESCRIPTION = "Builtin Policy that grants unlimited access"
GLOBAL_MANAGEMENT_RULES = """
acl = "write"
agent_prefix "" {
\tpolicy = "write"
}
event_prefix "" {
\tpolicy = "write"
}
key_prefix "" {
\tpolicy = "write"
}
keyring = "write"
node_prefix "" {
\tpolicy = "write"
}
operator = "write"
mesh = "write"
peering = "write"
query_prefix "" {
\tpolicy = "write"
}
service_prefix "" {
\tpolicy = "write"
\tintentions = "write"
}
session_prefix "" {
\tpolicy = "write"
}"""

ANONYMOUS_ACCESSOR = "00000000-0000-0000-0000-000000000002"
ANONYMOUS_SECRET = "anonymous"

_NAME_SCHEMA = json.dumps(
    {
        "type": "object",
        "properties": {"name": {"type": "string", "$ref": "#/definitions/min-length-one"}},
        "required": ["name"],
        "definitions": {"min-length-one": {"type": "string", "minLength": 1}},
    },
    indent="\t",
)
_EMPTY_SCHEMA = ""


@dataclass(frozen=True)
class TemplatedPolicy:
    name: str
    template_id: str
    description: str
    template: str
    needs_name: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "TemplateName": self.name,
            "Schema": _NAME_SCHEMA if self.needs_name else _EMPTY_SCHEMA,
            "Template": self.template,
            "Description": self.description,
        }

    def render(self, variables: dict[str, Any] | None) -> str:
        """The rules for these variables; ValueError when they do not fit the schema."""
        name = (variables or {}).get("Name", (variables or {}).get("name", ""))
        if self.needs_name:
            if not isinstance(name, str) or not name:
                raise ValueError(
                    f'validation error for templated policy "{self.name}": '
                    "name: String length must be greater than or equal to 1 (name is required)"
                )
            return self.template.replace("{{.Name}}", name)
        return self.template


_SERVICE = """
service "{{.Name}}" {
\tpolicy = "write"
}
service "{{.Name}}-sidecar-proxy" {
\tpolicy = "write"
}
service_prefix "" {
\tpolicy = "read"
}
node_prefix "" {
\tpolicy = "read"
}"""

_NODE = """
node "{{.Name}}" {
\tpolicy = "write"
}
service_prefix "" {
\tpolicy = "read"
}"""

_DNS = """
node_prefix "" {
\tpolicy = "read"
}
service_prefix "" {
\tpolicy = "read"
}
query_prefix "" {
\tpolicy = "read"
}"""

_NOMAD_SERVER = """
acl = "write"
service_prefix "" {
  policy = "write"
}
agent_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}"""

_NOMAD_CLIENT = """
agent_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
service_prefix "" {
  policy = "write"
}
key_prefix "" {
  policy = "read"
}"""

_WORKLOAD_IDENTITY = """
identity "{{.Name}}" {
\tpolicy = "write"
}"""

_API_GATEWAY = """
mesh = "read"
node_prefix "" {
\tpolicy = "read"
}
service_prefix "" {
\tpolicy = "read"
}
service "{{.Name}}" {
\tpolicy = "write"
}"""

TEMPLATED_POLICIES: dict[str, TemplatedPolicy] = {
    t.name: t
    for t in (
        TemplatedPolicy(
            "builtin/service",
            "00000000-0000-0000-0000-000000000003",
            "Gives the token or role permissions to register a service and discover services "
            "in the Consul catalog. It also gives the specified service's sidecar proxy the "
            "permission to discover and route traffic to other services.",
            _SERVICE,
            True,
        ),
        TemplatedPolicy(
            "builtin/node",
            "00000000-0000-0000-0000-000000000004",
            "Gives the token or role permissions for a register an agent/node into the "
            "catalog. A node is typically a consul agent but can also be a physical server, "
            "cloud instance or a container.",
            _NODE,
            True,
        ),
        TemplatedPolicy(
            "builtin/dns",
            "00000000-0000-0000-0000-000000000005",
            "Gives the token or role permissions for the Consul DNS to query services in the "
            "network.",
            _DNS,
            False,
        ),
        TemplatedPolicy(
            "builtin/nomad-server",
            "00000000-0000-0000-0000-000000000006",
            "Gives the token or role permissions required for integration with a nomad server.",
            _NOMAD_SERVER,
            False,
        ),
        TemplatedPolicy(
            "builtin/workload-identity",
            "00000000-0000-0000-0000-000000000007",
            "Gives the token or role permissions for a specific workload identity.",
            _WORKLOAD_IDENTITY,
            True,
        ),
        TemplatedPolicy(
            "builtin/api-gateway",
            "00000000-0000-0000-0000-000000000008",
            "Gives the token or role permissions for a Consul api gateway",
            _API_GATEWAY,
            True,
        ),
        TemplatedPolicy(
            "builtin/nomad-client",
            "00000000-0000-0000-0000-000000000009",
            "Gives the token or role permissions required for integration with a nomad client.",
            _NOMAD_CLIENT,
            False,
        ),
    )
}


def service_identity_rules(name: str) -> str:
    return TEMPLATED_POLICIES["builtin/service"].render({"name": name})


def node_identity_rules(name: str) -> str:
    return TEMPLATED_POLICIES["builtin/node"].render({"name": name})
