"""Constraint and affinity operators on node attributes and meta, as Nomad evaluates them."""

from __future__ import annotations

import re
from typing import Any

from yurt.scheduler.structs import Affinity, Constraint, Node

_TARGET = re.compile(r"^\$\{(.+)\}$")


def resolve_target(target: str, node: Node) -> tuple[str | None, bool]:
    """The value of `${node.datacenter}`, `${attr.kernel.name}`, `${meta.rack}`... on `node`,
    and whether it is set. A literal (no `${}`) is itself."""
    m = _TARGET.match(target or "")
    if m is None:
        return target, True
    name = m.group(1)
    fixed = {
        "node.unique.id": node.get("ID"),
        "node.unique.name": node.get("Name"),
        "node.datacenter": node.get("Datacenter"),
        "node.class": node.get("NodeClass"),
        "node.pool": node.get("NodePool", "default"),
        "node.region": (node.get("Attributes") or {}).get("nomad.region", "global"),
    }
    if name in fixed:
        value = fixed[name]
        return (None, False) if value is None else (str(value), True)
    for prefix, table in (
        ("attr.", node.get("Attributes") or {}),
        ("meta.", node.get("Meta") or {}),
    ):
        if name.startswith(prefix):
            key = name[len(prefix) :]
            if key in table:
                return str(table[key]), True
            return None, False
    return None, False


def check(constraint: Constraint | Affinity, node: Node) -> bool:
    """Whether `node` meets one constraint (distinct_* are checked with the plan instead)."""
    operand = constraint.get("Operand") or "="
    if operand in ("distinct_hosts", "distinct_property"):
        return True
    left, left_ok = resolve_target(constraint.get("LTarget") or "", node)
    right, right_ok = resolve_target(constraint.get("RTarget") or "", node)
    return compare(operand, left, left_ok, right, right_ok)


def compare(
    operand: str, left: str | None, left_ok: bool, right: str | None, right_ok: bool
) -> bool:
    if operand == "is_set":
        return left_ok
    if operand == "is_not_set":
        return not left_ok
    if operand in ("=", "==", "is"):
        return left_ok and right_ok and left == right
    if operand in ("!=", "not"):
        return left != right
    if not left_ok or not right_ok or left is None or right is None:
        return False
    if operand in ("<", "<=", ">", ">="):
        return _ordered(operand, left, right)
    if operand == "regexp":
        try:
            return re.search(right, left) is not None
        except re.error:
            return False
    if operand in ("version", "semver"):
        return version_matches(left, right)
    if operand in ("set_contains", "set_contains_all"):
        have = {p.strip() for p in left.split(",")}
        return all(p.strip() in have for p in right.split(","))
    if operand == "set_contains_any":
        have = {p.strip() for p in left.split(",")}
        return any(p.strip() in have for p in right.split(","))
    return False


def _ordered(operand: str, left: str, right: str) -> bool:
    lv: Any
    rv: Any
    try:
        lv, rv = float(left), float(right)
    except ValueError:
        lv, rv = left, right
    if operand == "<":
        return bool(lv < rv)
    if operand == "<=":
        return bool(lv <= rv)
    if operand == ">":
        return bool(lv > rv)
    return bool(lv >= rv)


def _version_tuple(text: str) -> tuple[int, ...] | None:
    m = re.match(r"^v?(\d+(?:\.\d+)*)", text.strip())
    if m is None:
        return None
    parts = tuple(int(p) for p in m.group(1).split("."))
    return parts + (0,) * (3 - len(parts))


def version_matches(version: str, spec: str) -> bool:
    """go-version constraints: ">= 1.2, < 2.0", "~> 1.4", "= 1.0.0"."""
    have = _version_tuple(version)
    if have is None:
        return False
    for raw in spec.split(","):
        part = raw.strip()
        m = re.match(r"^(>=|<=|!=|~>|=|>|<)?\s*(.+)$", part)
        if m is None:
            return False
        op = m.group(1) or "="
        want = _version_tuple(m.group(2))
        if want is None:
            return False
        if op == "~>":
            n = len(m.group(2).lstrip("v").split("."))
            prefix = want[: max(n - 1, 1)]
            if not (have >= want and have[: len(prefix)] == prefix):
                return False
            continue
        ok = {
            "=": have == want,
            "!=": have != want,
            ">": have > want,
            ">=": have >= want,
            "<": have < want,
            "<=": have <= want,
        }[op]
        if not ok:
            return False
    return True
