"""Intentions as Consul 1.9+ keeps them: the `Sources` of `service-intentions` config
entries, one entry per destination. Pure: converting between the intention API's objects
and sources, precedence, matching and the allow/deny decision.

Consul's precedence (no namespaces or partitions here, so both are always exact): an exact
destination and source is 9, a wildcard source 8, a wildcard destination 6, both 5. The
highest precedence matching intention decides; with none, the ACL default policy does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from yurt.api.casing import get_field
from yurt.catalog.config_entries import ValidationError

WILDCARD = "*"
ALLOW = "allow"
DENY = "deny"
DEFAULT_NS = "default"
SOURCE_TYPE = "consul"

_LEGACY_FIELDS = ("LegacyID", "LegacyMeta", "LegacyCreateTime", "LegacyUpdateTime")
# the order Consul writes a source's fields in
_SOURCE_ORDER = (
    "Name",
    "Peer",
    "Namespace",
    "Partition",
    "SamenessGroup",
    "Action",
    "Permissions",
    "Precedence",
    "LegacyID",
    "Type",
    "Description",
    "LegacyMeta",
    "LegacyCreateTime",
    "LegacyUpdateTime",
)


class IntentionError(ValidationError):
    """A refused intention; the text is Consul's."""


def precedence(source: str, destination: str) -> int:
    top = 9 if destination != WILDCARD else 6
    return top - (0 if source != WILDCARD else 1)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_legacy_id() -> str:
    return str(uuid.uuid4())


def normalize_sources(destination: str, sources: list[dict[str, Any]]) -> None:
    """Fill in Type and Precedence as Consul does, in place, fields in Consul's order."""
    for i, src in enumerate(sources):
        src.setdefault("Type", SOURCE_TYPE)
        src["Precedence"] = precedence(str(src.get("Name", "")), destination)
        ordered = {k: src[k] for k in _SOURCE_ORDER if k in src and src[k] not in ("", None)}
        sources[i] = ordered
        src.clear()
        src.update(ordered)


def validate_sources(sources: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for i, src in enumerate(sources):
        name = src.get("Name", "")
        if not name:
            raise IntentionError(f"Sources[{i}].Name is required")
        if name in seen:
            raise IntentionError(f'Sources[{i}] defines "{name}" more than once')
        seen.add(name)
        action = src.get("Action", "")
        if src.get("Permissions"):
            if action:
                raise IntentionError(
                    f"Sources[{i}].Action must be omitted if Permissions are specified"
                )
        elif action not in (ALLOW, DENY):
            raise IntentionError(f"Sources[{i}].Action must be set to 'allow' or 'deny'")
        if src.get("Type", SOURCE_TYPE) != SOURCE_TYPE:
            raise IntentionError(f"Sources[{i}].Type must be set to 'consul'")


def is_legacy(sources: Iterable[dict[str, Any]]) -> bool:
    """An entry written only through the legacy (ID) API: every source has a LegacyID."""
    items = list(sources)
    return bool(items) and all(s.get("LegacyID") for s in items)


def strip_legacy(sources: list[dict[str, Any]]) -> None:
    """Editing an entry through the exact API makes it a non-legacy entry, as in Consul."""
    for src in sources:
        for key in _LEGACY_FIELDS:
            src.pop(key, None)


def source_from_body(body: dict[str, Any], source: str) -> dict[str, Any]:
    """A source from an intention API body (`SourceName`, `Action`, `Description`...)."""
    out: dict[str, Any] = {"Name": source}
    for key in ("Action", "Description", "Permissions"):
        value = get_field(body, key)
        if value not in (None, "", []):
            out[key] = value
    source_type = get_field(body, "SourceType")
    if source_type:
        out["Type"] = source_type
    return out


def to_intention(
    destination: str, src: dict[str, Any], create_index: int, modify_index: int
) -> dict[str, Any]:
    """One source of a destination's entry as the intention API answers it."""
    out: dict[str, Any] = {}
    if src.get("LegacyID"):
        out["CreatedAt"] = src.get("LegacyCreateTime", "")
        out["UpdatedAt"] = src.get("LegacyUpdateTime", "")
        out["ID"] = src["LegacyID"]
    if src.get("Description"):
        out["Description"] = src["Description"]
    out.update(
        {
            "SourceNS": DEFAULT_NS,
            "SourceName": src.get("Name", ""),
            "DestinationNS": DEFAULT_NS,
            "DestinationName": destination,
            "SourceType": src.get("Type", SOURCE_TYPE),
        }
    )
    if src.get("Action"):
        out["Action"] = src["Action"]
    if src.get("Permissions"):
        out["Permissions"] = src["Permissions"]
    if src.get("LegacyMeta"):
        out["Meta"] = src["LegacyMeta"]
    out["Precedence"] = src.get("Precedence", precedence(src.get("Name", ""), destination))
    out["CreateIndex"] = create_index
    out["ModifyIndex"] = modify_index
    return out


def sort_intentions(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Highest precedence first, then by names, as Consul lists them."""
    return sorted(
        items,
        key=lambda i: (-i["Precedence"], i["SourceName"], i["DestinationName"]),
    )


def _matches(pattern: str, name: str) -> bool:
    return pattern in (WILDCARD, name)


def match(items: list[dict[str, Any]], by: str, name: str) -> list[dict[str, Any]]:
    """The intentions that apply to `name` as a source or as a destination (`by`)."""
    field = "SourceName" if by == "source" else "DestinationName"
    return sort_intentions([i for i in items if _matches(i[field], name)])


def allowed(
    items: list[dict[str, Any]], source: str, destination: str, default_allow: bool
) -> bool:
    """Consul's `/v1/connect/intentions/check`: the best matching intention decides (one
    with L7 permissions denies a connection-level check), else the default."""
    for ixn in match(items, "destination", destination):
        if _matches(ixn["SourceName"], source):
            if ixn.get("Permissions"):
                return False
            return bool(ixn.get("Action") == ALLOW)
    return default_allow


def all_intentions(entries: Iterable[Any]) -> list[dict[str, Any]]:
    """Every intention of the `service-intentions` entries given, in Consul's order."""
    out = [
        to_intention(e.name, src, e.create_index, e.modify_index)
        for e in entries
        for src in e.body.get("Sources") or []
    ]
    return sort_intentions(out)


def upsert_source(sources: list[dict[str, Any]], new: dict[str, Any]) -> list[dict[str, Any]]:
    """`sources` with `new` replacing the source of the same name, or added last."""
    out = [dict(s) for s in sources]
    for i, src in enumerate(out):
        if src.get("Name") == new["Name"]:
            out[i] = new
            return out
    out.append(new)
    return out
