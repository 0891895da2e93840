"""Reading the bodies of `/v1/acl/*` writes: names, links and identities, with Consul's checks
and texts (a clear 400 that names the field)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from yurt.api.casing import get_field
from yurt.api.errors import APIError
from yurt.catalog.acl_model import (
    Grants,
    Link,
    NodeIdentity,
    ServiceIdentity,
    TemplatedPolicyRef,
)
from yurt.catalog.acl_store import ACLStore
from yurt.catalog.acl_templates import TEMPLATED_POLICIES

_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,128}$")
_SERVICE_NAME = re.compile(r"^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$")
_NODE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9\-_.]*[A-Za-z0-9])?$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def text(body: dict[str, Any], name: str) -> str:
    value = get_field(body, name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise APIError.bad_request(f"Request decode failed: {name}: expected a string")
    return value


def strings(body: dict[str, Any], name: str) -> list[str]:
    value = get_field(body, name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise APIError.bad_request(f"Request decode failed: {name}: expected an array of strings")
    return list(value)


def objects(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = get_field(body, name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise APIError.bad_request(f"Request decode failed: {name}: expected an array of objects")
    return list(value)


T = TypeVar("T")


def update_target(
    table: Mapping[str, T],
    path_id: str,
    body: dict[str, Any],
    id_field: str,
    *,
    mismatch: str,
    missing: str,
) -> T:
    """What a `PUT .../<path_id>` updates: 400 `mismatch` when the body's `id_field` names
    another, 400 `missing` when nothing has that ID."""
    given = text(body, id_field)
    if given and given != path_id:
        raise APIError.bad_request(mismatch)
    old = table.get(path_id)
    if old is None:
        raise APIError.bad_request(missing)
    return old


def check_name(kind: str, name: str) -> None:
    if not _NAME.match(name):
        raise APIError.bad_request(
            f"Invalid {kind}: invalid Name. Only alphanumeric characters, '-' and '_' are allowed"
        )


def check_uuid(kind: str, field_name: str, value: str) -> None:
    if value and not _UUID.match(value):
        raise APIError.bad_request(f"Invalid {kind}: {field_name} is not a valid UUID")


class _Named(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


def _links(
    body: dict[str, Any],
    field_name: str,
    kind: str,
    by_id: Callable[[str], _Named | None],
    by_name: Callable[[str], _Named | None],
) -> list[Link]:
    """The policy or role links of `field_name`, each by ID or else by name, duplicates
    dropped; 400 for one that names nothing or what does not exist."""
    out: list[Link] = []
    for i, item in enumerate(objects(body, field_name)):
        ident, name = text(item, "ID"), text(item, "Name")
        if ident:
            found = by_id(ident)
            if found is None:
                raise APIError.bad_request(f'No such ACL {kind} with ID "{ident}"')
        elif name:
            found = by_name(name)
            if found is None:
                raise APIError.bad_request(f'No such ACL {kind} with name "{name}"')
        else:
            raise APIError.bad_request(f"{field_name}[{i}]: a {kind} link needs an ID or a Name")
        if all(link.id != found.id for link in out):
            out.append(Link(found.id, found.name))
    return out


def policy_links(store: ACLStore, body: dict[str, Any]) -> list[Link]:
    return _links(body, "Policies", "policy", store.policies.get, store.policy_by_name)


def role_links(store: ACLStore, body: dict[str, Any]) -> list[Link]:
    return _links(body, "Roles", "role", store.roles.get, store.role_by_name)


def grants(store: ACLStore, body: dict[str, Any], owner: str) -> Grants:
    """Policies, service and node identities and templated policies of a token or role."""
    out = Grants(policies=policy_links(store, body))
    for item in objects(body, "ServiceIdentities"):
        name = text(item, "ServiceName")
        if not name:
            raise APIError.bad_request(
                f"Service identity is missing the service name field on this {owner}"
            )
        if not _SERVICE_NAME.match(name):
            raise APIError.bad_request(
                f'Service identity "{name}" has an invalid name. Only lowercase alphanumeric '
                "characters, '-' and '_' are allowed"
            )
        out.service_identities.append(ServiceIdentity(name, strings(item, "Datacenters")))
    for item in objects(body, "NodeIdentities"):
        name, dc = text(item, "NodeName"), text(item, "Datacenter")
        if not name:
            raise APIError.bad_request(
                f"Node identity is missing the node name field on this {owner}"
            )
        if not dc:
            raise APIError.bad_request(
                f"Node identity is missing the datacenter field on this {owner}"
            )
        if not _NODE_NAME.match(name):
            raise APIError.bad_request(
                f'Node identity has an invalid name. Only alphanumeric characters, "-", "_" '
                f'and "." are allowed: "{name}"'
            )
        out.node_identities.append(NodeIdentity(name, dc))
    for item in objects(body, "TemplatedPolicies"):
        template_name = text(item, "TemplateName")
        template = TEMPLATED_POLICIES.get(template_name)
        if template is None:
            raise APIError.bad_request(f"templated policy {template_name!r} does not exist")
        variables = get_field(item, "TemplateVariables") or {}
        if not isinstance(variables, dict):
            raise APIError.bad_request("TemplatedPolicies: TemplateVariables: expected an object")
        try:
            template.render(variables)
        except ValueError as exc:
            raise APIError.bad_request(str(exc)) from None
        kept = {"Name": variables.get("Name", variables.get("name"))} if template.needs_name else {}
        out.templated_policies.append(
            TemplatedPolicyRef(template_name, kept, strings(item, "Datacenters"))
        )
    return out
