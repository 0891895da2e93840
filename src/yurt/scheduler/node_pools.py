"""Nomad's node pools (1.6+), the pure part: the built-in `all` and `default`, what a pool
written by the user must be, which pools exist (the stored ones, the built-ins, and any a
node names: Nomad creates a node's pool when it registers), and what stops a deletion.
Each refusal carries Nomad's text and the status its HTTP layer gives it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from yurt.scheduler.structs import Job, Node, NodePool

# a request body before it is checked: any JSON object
Obj = dict[str, Any]

ALL = "all"
DEFAULT = "default"
BUILT_IN: dict[str, str] = {
    ALL: "Node pool with all nodes in the cluster.",
    DEFAULT: "Default node pool.",
}
MAX_DESCRIPTION = 256
_VALID_NAME = re.compile(r"^[a-zA-Z0-9-_]{1,128}$")
_FIELDS = ("Name", "Description", "Meta", "SchedulerConfiguration")


@dataclass(frozen=True)
class PoolError(Exception):
    status: int
    message: str


def _multi(errors: list[str]) -> str:
    """go-multierror's text."""
    count = "1 error occurred" if len(errors) == 1 else f"{len(errors)} errors occurred"
    return f"{count}:\n" + "".join(f"\t* {e}\n" for e in errors) + "\n"


def pool(
    name: str, index: int, description: str = "", meta: dict[str, str] | None = None
) -> NodePool:
    return {
        "Name": name,
        "Description": description,
        "Meta": meta,
        "SchedulerConfiguration": None,
        "CreateIndex": index,
        "ModifyIndex": index,
    }


def validate(body: Obj) -> Obj:
    """A pool to create or update -> its fields; PoolError(400) with Nomad's text."""
    name = body.get("Name")
    name = name if isinstance(name, str) else ""
    errors: list[str] = []
    if not _VALID_NAME.match(name):
        errors.append(f'invalid name "{name}", must match regex {_VALID_NAME.pattern}')
    description = body.get("Description") or ""
    if not isinstance(description, str):
        errors.append("description must be a string")
    elif len(description) > MAX_DESCRIPTION:
        errors.append(f"description longer than {MAX_DESCRIPTION}")
    config = body.get("SchedulerConfiguration")
    if config is not None:
        algorithm = (config or {}).get("SchedulerAlgorithm") or ""
        if algorithm not in ("", "binpack", "spread"):
            errors.append(f'invalid scheduler algorithm "{algorithm}"')
    meta = body.get("Meta")
    if meta is not None and not (
        isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())
    ):
        errors.append("meta values must be strings")
    if errors:
        raise PoolError(400, f'invalid node pool "{name}": {_multi(errors)}')
    if name in BUILT_IN:
        raise PoolError(400, f'modifying node pool "{name}" is not allowed')
    return {k: body.get(k) for k in _FIELDS} | {"Description": description}


def pools(stored: Mapping[str, NodePool], nodes: Iterable[Node]) -> dict[str, NodePool]:
    """Every pool by name: the built-ins, the stored ones, and those nodes name."""
    out = {name: pool(name, 1, text) for name, text in BUILT_IN.items()}
    for node in nodes:
        name = str(node.get("NodePool") or DEFAULT)
        if name not in out:
            index = int(node.get("CreateIndex") or 1)
            out[name] = pool(name, index)
    out.update(stored)
    return out


def in_pool(name: str, node: Node) -> bool:
    return name == ALL or str(node.get("NodePool") or DEFAULT) == name


def check_delete(
    name: str,
    existing: Mapping[str, NodePool],
    nodes: Iterable[Node],
    jobs: Iterable[Job],
    region: str,
) -> None:
    """Why `name` may not be deleted, as Nomad refuses it (PoolError), or nothing."""
    if not name:
        raise PoolError(400, "node pool name is empty")
    errors: list[str] = []
    if any(
        str(j.get("Status")) != "dead" and str(j.get("NodePool") or DEFAULT) == name for j in jobs
    ):
        errors.append(f'node pool "{name}" has non-terminal jobs in regions: [{region}]')
    if any(in_pool(name, n) for n in nodes) and name != ALL:
        errors.append(f'node pool "{name}" has nodes in regions: [{region}]')
    if errors:
        raise PoolError(500, _multi(errors))
    if name not in existing:
        raise PoolError(500, f"node pool {name} not found")
    if name in BUILT_IN:
        raise PoolError(500, f'deleting node pool "{name}" is not allowed')
