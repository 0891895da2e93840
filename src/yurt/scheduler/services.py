"""Nomad's native service discovery (`provider = "nomad"`), the pure part: what a service
registration holds (Nomad's `ServiceRegistration`), how a client's registration is checked,
and how registrations are listed per namespace, selected by name and tag, and grouped.

Nomad keeps these in its state store, written by the clients that run the allocations and
removed when an allocation stops; `yurt.scheduler.ops_services` writes them,
`yurt.scheduler.api_services` answers Nomad's `/v1/services` and `/v1/service/:name`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

from yurt.scheduler.structs import ServiceRegistration

# What a client says of a registration; the server adds the indexes.
_STRING_FIELDS = ("ID", "ServiceName", "Namespace", "NodeID", "Datacenter", "JobID", "AllocID")


class ServiceStub(TypedDict):
    ServiceName: str
    Tags: list[str]


class NamespaceServices(TypedDict):
    Namespace: str
    Services: list[ServiceStub]


class RegistrationError(ValueError):
    """A client's registration that Nomad's `ServiceRegistration.Validate` refuses."""


def validate(reg: Mapping[str, Any], node_id: str) -> ServiceRegistration:
    """The registration as it is stored (the wire shape of Nomad's `ServiceRegistration`),
    or `RegistrationError`. A node registers only its own allocations' services. `reg` is
    the client's JSON, unchecked until here."""
    for field in _STRING_FIELDS:
        if not isinstance(reg.get(field), str) or not reg[field]:
            raise RegistrationError(f"{field}: expected a non-empty string")
    if reg["NodeID"] != node_id:
        raise RegistrationError(
            f"service registration {reg['ID']} names node {reg['NodeID']}, not this node"
        )
    tags = reg.get("Tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise RegistrationError("Tags: expected an array of strings")
    port = reg.get("Port", 0)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise RegistrationError(f"Port: expected a port number, got {port!r}")
    address = reg.get("Address", "")
    if not isinstance(address, str):
        raise RegistrationError("Address: expected a string")
    return {
        "ID": reg["ID"],
        "ServiceName": reg["ServiceName"],
        "Namespace": reg["Namespace"],
        "NodeID": reg["NodeID"],
        "Datacenter": reg["Datacenter"],
        "JobID": reg["JobID"],
        "AllocID": reg["AllocID"],
        "Tags": list(tags),
        "Address": address,
        "Port": port,
    }


def same_registration(a: ServiceRegistration, b: ServiceRegistration) -> bool:
    """Whether storing `b` over `a` changes nothing (Nomad skips such writes, so the
    indexes, and the blocking readers, stay where they were)."""
    keys = (*_STRING_FIELDS, "Tags", "Address", "Port")
    return all(a.get(k) == b.get(k) for k in keys)


def sort_key(reg: ServiceRegistration) -> tuple[str, str, str]:
    return (reg["Namespace"], reg["ServiceName"], reg["ID"])


def in_namespace(reg: ServiceRegistration, namespace: str) -> bool:
    return namespace == "*" or reg.get("Namespace") == namespace


def list_stubs(
    registrations: Iterable[ServiceRegistration], namespace: str
) -> list[NamespaceServices]:
    """`GET /v1/services`: per namespace, each service name with its tags de-duplicated."""
    tags: dict[str, dict[str, set[str]]] = {}
    for reg in registrations:
        if not in_namespace(reg, namespace):
            continue
        names = tags.setdefault(reg["Namespace"], {})
        names.setdefault(reg["ServiceName"], set()).update(reg.get("Tags") or [])
    return [
        {
            "Namespace": ns,
            "Services": [
                {"ServiceName": name, "Tags": sorted(names[name])} for name in sorted(names)
            ],
        }
        for ns, names in sorted(tags.items())
    ]


def by_name(
    registrations: Iterable[ServiceRegistration], name: str, namespace: str, tag: str = ""
) -> list[ServiceRegistration]:
    """`GET /v1/service/:name`: its registrations, those carrying `tag` when one is asked."""
    return sorted(
        (
            reg
            for reg in registrations
            if reg.get("ServiceName") == name
            and in_namespace(reg, namespace)
            and (not tag or tag in (reg.get("Tags") or []))
        ),
        key=sort_key,
    )


def of_alloc(
    registrations: Iterable[ServiceRegistration], alloc_id: str
) -> list[ServiceRegistration]:
    return sorted((r for r in registrations if r.get("AllocID") == alloc_id), key=sort_key)


def of_job(
    registrations: Iterable[ServiceRegistration], namespace: str, job_id: str
) -> list[ServiceRegistration]:
    return sorted(
        (r for r in registrations if r.get("JobID") == job_id and r.get("Namespace") == namespace),
        key=sort_key,
    )
