"""The vocabulary of the job schema: what an attribute (`Attr`), a nested block (`Blk`) and
a block's API struct (`Spec`) are, and the one registry (`SPECS`) every family of blocks
(`schema_job`, `schema_group`, `schema_task`, ...) adds its specs to.

Each `Spec` lists every field of the API struct in order with its zero value (null for
Go pointers, "" / 0 / false for plain values), so that a decoded block has the same
shape as Nomad's output, and then maps HCL names onto those fields. A block whose field
is not among `fields` (one newer than the API version yurt reports) appears only when
the file uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Attr:
    json: str
    kind: str  # str | int | float | bool | dur | strs | any | map | listmap


@dataclass(frozen=True)
class Blk:
    json: str
    spec: str  # name of a Spec, or "map" / "listmap" / "freeform" (map[string]any fields)
    multi: bool = False
    label: str | None = None  # JSON field the block label goes to
    keyed: bool = False  # labelled blocks become a dict keyed by label


@dataclass(frozen=True)
class Spec:
    name: str
    fields: tuple[tuple[str, Any], ...]
    attrs: dict[str, Attr] = field(default_factory=dict)
    blocks: dict[str, Blk] = field(default_factory=dict)
    labels: int = 0


SPECS: dict[str, Spec] = {}


def add(spec: Spec) -> None:
    SPECS[spec.name] = spec


def nulls(*names: str) -> tuple[tuple[str, Any], ...]:
    return tuple((n, None) for n in names)


CONSTRAINT_ATTRS = {
    "attribute": Attr("LTarget", "str"),
    "value": Attr("RTarget", "str"),
    "operator": Attr("Operand", "str"),
    "version": Attr("", "str"),
    "semver": Attr("", "str"),
    "regexp": Attr("", "str"),
    "set_contains": Attr("", "str"),
    "set_contains_all": Attr("", "str"),
    "set_contains_any": Attr("", "str"),
    "distinct_hosts": Attr("", "bool"),
    "distinct_property": Attr("", "str"),
    "attribute_is_set": Attr("", "str"),
    "attribute_is_not_set": Attr("", "str"),
}
