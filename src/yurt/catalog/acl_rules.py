"""Consul's ACL rules language: policies in HCL or JSON, parsed into typed rules.

A policy holds rules on named resources (`key "a/b" { policy = "read" }`, `service_prefix ""
{ policy = "write" intentions = "read" }`) and levels for the resources that have no name
(`operator = "read"`, `acl = "write"`). JSON rules are the same tree:
`{"key_prefix": {"a/": {"policy": "read"}}, "operator": "read"}`.

Pure: no I/O. Errors carry the line and column of HCL rules (JSON: the path of the field).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from yurt.api.json_document import DocumentError, load_object
from yurt.jobspec.diagnostics import Collector, JobspecError, Pos, did_you_mean
from yurt.jobspec.evaluate import EvalError, Scope, evaluate
from yurt.jobspec.syntax import Body, parse_body

READ = "read"
LIST = "list"
WRITE = "write"
DENY = "deny"

# The resources that carry a name (each also has a `_prefix` form).
NAMED = ("key", "service", "node", "agent", "session", "event", "query", "identity")
# The resources that take a bare level: `operator = "read"`.
SINGLE = ("operator", "acl", "keyring", "mesh", "peering")
# Where `intentions = ...` is accepted beside `policy`, as Consul's ServiceRule has it.
_WITH_INTENTIONS = frozenset({"service", "identity"})

# Consul's precedence when rules meet: deny beats everything, then write, list, read.
_RANK = {READ: 1, LIST: 2, WRITE: 3, DENY: 4}


class RulesError(ValueError):
    """Rules that cannot be read; the message says what is wrong and where."""


@dataclass(frozen=True)
class Rule:
    """One named rule: `<resource>[_prefix] "<segment>" { policy = ..., intentions = ... }`."""

    resource: str
    segment: str
    prefix: bool
    policy: str
    intentions: str = ""


@dataclass
class Policy:
    """Parsed rules. `levels` holds the unnamed resources (`operator`, `acl`, ...)."""

    rules: list[Rule] = field(default_factory=list)
    levels: dict[str, str] = field(default_factory=dict)


def stronger(a: str, b: str) -> str:
    """The level that wins when two rules of the same target meet ("" is no rule)."""
    if not a:
        return b
    if not b:
        return a
    return a if _RANK[a] >= _RANK[b] else b


def parse_rules(text: str, where: str = "rules") -> Policy:
    """Parse rules in HCL or JSON; raise RulesError naming the line:column or field."""
    if not text.strip():
        return Policy()
    if text.lstrip().startswith("{"):
        return _parse_json(text, where)
    return _parse_hcl(text, where)


# -- HCL --------------------------------------------------------------------------------


def _parse_hcl(text: str, where: str) -> Policy:
    try:
        body = parse_body(text, where)
    except JobspecError as exc:
        raise RulesError(f"Failed to parse ACL rules: {exc}") from None
    collector = Collector(where)
    policy = Policy()
    _hcl_body(body, policy, collector)
    try:
        collector.raise_if_any()
    except JobspecError as exc:
        raise RulesError(f"Failed to parse ACL rules: {exc}") from None
    return policy


_NO_FUNCTIONS = Scope({}, {}, {})


def _string(attr_expr: Any, pos: Pos, collector: Collector) -> str | None:
    try:
        value = evaluate(attr_expr, _NO_FUNCTIONS)
    except EvalError as exc:
        collector.error(exc.pos, exc.message)
        return None
    if not isinstance(value, str):
        collector.error(pos, f"expected a string such as {READ!r}, got {value!r}")
        return None
    return value


def _known_names() -> list[str]:
    return [*NAMED, *(f"{n}_prefix" for n in NAMED), *SINGLE]


def _hcl_body(body: Body, policy: Policy, collector: Collector) -> None:
    for name, attr in body.attributes.items():
        if name not in SINGLE:
            hint = "a block" if _split(name) else "unknown"
            collector.error(
                attr.pos,
                f'"{name}" is {hint} here; the levels set with "=" are '
                + ", ".join(SINGLE)
                + did_you_mean(name, _known_names()),
            )
            continue
        value = _string(attr.expr, attr.pos, collector)
        if value is None:
            continue
        problem = _check_level(name, value, allow_list=False, allow_empty=True)
        if problem:
            collector.error(attr.pos, problem)
        elif value:
            policy.levels[name] = stronger(policy.levels.get(name, ""), value)
    for block in body.blocks:
        split = _split(block.type)
        if split is None:
            collector.error(
                block.pos,
                f'unknown ACL rule "{block.type}"{did_you_mean(block.type, _known_names())}',
            )
            continue
        resource, prefix = split
        if len(block.labels) != 1:
            collector.error(
                block.pos, f'"{block.type}" takes one label, the name: {block.type} "name" {{}}'
            )
            continue
        fields: dict[str, str] = {}
        allowed = {"policy", "intentions"} if resource in _WITH_INTENTIONS else {"policy"}
        for attr_name, attr in block.body.attributes.items():
            if attr_name not in allowed:
                collector.error(
                    attr.pos,
                    f'unknown key "{attr_name}" in {block.type} "{block.labels[0]}"; '
                    f"expected {' or '.join(sorted(allowed))}",
                )
                continue
            value = _string(attr.expr, attr.pos, collector)
            if value is not None:
                fields[attr_name] = value
        for inner in block.body.blocks:
            collector.error(inner.pos, f'unexpected block "{inner.type}" in {block.type}')
        problem = _add_rule(policy, resource, prefix, block.labels[0], fields)
        if problem:
            collector.error(block.pos, problem)


# -- JSON -------------------------------------------------------------------------------


def _parse_json(text: str, where: str) -> Policy:
    try:
        data = load_object(text, where)
    except DocumentError as exc:
        raise RulesError(f"Failed to parse ACL rules: {exc}") from None
    policy = Policy()
    problems: list[str] = []
    for name, value in data.items():
        if name in SINGLE:
            if not isinstance(value, str):
                problems.append(f"{name}: expected a string")
                continue
            problem = _check_level(name, value, allow_list=False, allow_empty=True)
            if problem:
                problems.append(problem)
            elif value:
                policy.levels[name] = stronger(policy.levels.get(name, ""), value)
            continue
        split = _split(name)
        if split is None:
            problems.append(f'unknown ACL rule "{name}"{did_you_mean(name, _known_names())}')
            continue
        if not isinstance(value, dict):
            problems.append(f'{name}: expected an object of names, {{"name": {{"policy": ...}}}}')
            continue
        resource, prefix = split
        for segment, body in value.items():
            if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
                problems.append(f"{name}.{segment}: expected an object of strings")
                continue
            allowed = {"policy", "intentions"} if resource in _WITH_INTENTIONS else {"policy"}
            unknown = sorted(set(body) - allowed)
            if unknown:
                problems.append(f'{name}.{segment}: unknown key "{unknown[0]}"')
                continue
            problem = _add_rule(policy, resource, prefix, segment, body)
            if problem:
                problems.append(f"{name}.{segment}: {problem}")
    if problems:
        raise RulesError("Failed to parse ACL rules: " + "; ".join(problems))
    return policy


# -- shared checks ----------------------------------------------------------------------


def _split(name: str) -> tuple[str, bool] | None:
    if name in NAMED:
        return name, False
    if name.endswith("_prefix") and name[: -len("_prefix")] in NAMED:
        return name[: -len("_prefix")], True
    return None


def _check_level(what: str, value: str, *, allow_list: bool, allow_empty: bool) -> str:
    valid = [READ, WRITE, DENY] + ([LIST] if allow_list else [])
    if value in valid or (allow_empty and value == ""):
        return ""
    return f'Invalid {what} policy "{value}": expected ' + ", ".join(valid)


def _add_rule(
    policy: Policy, resource: str, prefix: bool, segment: str, fields: dict[str, str]
) -> str:
    kind = f"{resource}_prefix" if prefix else resource
    level = fields.get("policy", "")
    intentions = fields.get("intentions", "")
    if not level and not intentions:
        return f'{kind} "{segment}": missing policy (read, write or deny)'
    problem = _check_level(
        f'{kind} "{segment}"', level, allow_list=resource == "key", allow_empty=bool(intentions)
    )
    if problem:
        return problem
    if intentions:
        problem = _check_level(
            f'{kind} "{segment}" intentions', intentions, allow_list=False, allow_empty=False
        )
        if problem:
            return problem
    policy.rules.append(Rule(resource, segment, prefix, level, intentions))
    return ""
