"""Decoding the `job` block into Nomad's API JSON, with the source position of every
field kept aside (JSON path -> Pos) so that later checks can point into the file."""

from __future__ import annotations

import copy
from typing import Any

from yurt.api.durations import parse_go_duration
from yurt.jobspec import block_rules, dynamic, hcl_messages
from yurt.jobspec.diagnostics import Collector, Pos
from yurt.jobspec.evaluate import EvalError, Scope, type_name
from yurt.jobspec.schema import SPECS, Blk, Spec
from yurt.jobspec.syntax import Attribute, Block, Body, pos_of

Positions = dict[str, Pos]

_CONSTRAINT_SHORTHANDS = (
    "version",
    "semver",
    "regexp",
    "set_contains",
    "set_contains_all",
    "set_contains_any",
    "attribute_is_set",
    "attribute_is_not_set",
)


class Decoder:
    def __init__(self, scope: Scope, collector: Collector) -> None:
        self.scope = scope
        self.collector = collector
        self.positions: Positions = {}

    # -- blocks -------------------------------------------------------------------------

    def decode(self, block: Block, spec_name: str, path: str, where: str) -> dict[str, Any]:
        spec = SPECS[spec_name]
        block = Block(block.type, block.labels, self.expand(block.body), block.pos)
        out: dict[str, Any] = {k: copy.copy(v) for k, v in spec.fields}
        self.positions[path] = block.pos
        if len(block.labels) != spec.labels:
            self.collector.error(
                block.pos, hcl_messages.label_count(block.type, len(block.labels), spec.labels)
            )
        inner_where = _describe(block, where)
        known = list(spec.attrs) + list(spec.blocks)
        values: dict[str, Any] = {}
        for attr in block.body.attributes.values():
            a = spec.attrs.get(attr.name)
            if a is None:
                self.collector.error(
                    attr.pos, hcl_messages.unsupported_argument(attr.name, known, spec.blocks)
                )
                continue
            value = self.value(attr, a.kind, inner_where)
            if value is _ERROR:
                continue
            values[attr.name] = value
            if a.json:
                out[a.json] = value
                self.positions[f"{path}.{a.json}"] = attr.pos
        seen_single: dict[str, Block] = {}
        for child in block.body.blocks:
            b = spec.blocks.get(child.type)
            if b is None:
                self.collector.error(
                    child.pos, hcl_messages.unsupported_block(child.type, known, spec.attrs)
                )
                continue
            if not b.multi:
                other = seen_single.get(child.type)
                as_attr = block.body.attributes.get(child.type)
                previous = other.pos if other is not None else None
                if previous is None and as_attr is not None and b.json and child.type in spec.attrs:
                    previous = as_attr.pos
                if previous is not None:
                    message = hcl_messages.duplicate_block(
                        child.type,
                        self.collector.filename,
                        previous,
                        other_is_attribute=other is None,
                    )
                    self.collector.error(child.pos, message)
                    continue
                seen_single[child.type] = child
            self._child(out, child, b, path, inner_where)
        self._post(spec, out, values, block, path)
        return out

    def _child(self, out: dict[str, Any], child: Block, b: Blk, path: str, where: str) -> None:
        if b.spec in ("map", "listmap", "freeform"):
            if child.labels:
                self.collector.error(child.pos, hcl_messages.label_count(child.type, 1, 0))
            if b.spec == "map":
                value: Any = self.string_map(child.body, f"{child.type} block")
            elif b.spec == "listmap":
                value = self.header_block(child.body)
            else:
                value = self.freeform(child.body)
            if b.multi:
                out[b.json] = (out.get(b.json) or []) + [value]
            else:
                out[b.json] = value
            self.positions[f"{path}.{b.json}"] = child.pos
            return
        if not b.json:
            return  # handled by the caller (job-level tasks, vault inheritance)
        if b.multi:
            items: Any = out.get(b.json)
            if items is None:
                items = {} if b.keyed else []
            if b.keyed:
                key = child.labels[0] if child.labels else ""
                if key in items:
                    self.collector.error(
                        child.pos, f'{child.type} "{key}" is declared twice {where}'.rstrip()
                    )
                    return
                sub_path = f'{path}.{b.json}["{key}"]'
            else:
                sub_path = f"{path}.{b.json}[{len(items)}]"
            value = self.decode(child, b.spec, sub_path, where)
            if b.label and child.labels:
                value[b.label] = child.labels[0]
            if b.keyed:
                items[value.get("Name", "")] = value
            else:
                items.append(value)
            out[b.json] = items
        else:
            sub_path = f"{path}.{b.json}"
            out[b.json] = self.decode(child, b.spec, sub_path, where)

    # -- per-block rules ----------------------------------------------------------------

    def _post(
        self, spec: Spec, out: dict[str, Any], values: dict[str, Any], block: Block, path: str
    ) -> None:
        if spec.name in ("constraint", "affinity"):
            for short in _CONSTRAINT_SHORTHANDS:
                v = values.get(short)
                if v:
                    out["Operand"] = "set_contains" if short == "set_contains" else short
                    if short in ("attribute_is_set", "attribute_is_not_set"):
                        out["Operand"] = "is_set" if short == "attribute_is_set" else "is_not_set"
                        out["LTarget"] = v
                    else:
                        out["RTarget"] = v
            if values.get("distinct_hosts") is True:
                out["Operand"] = "distinct_hosts"
            if values.get("distinct_property"):
                out["Operand"] = "distinct_property"
                out["LTarget"] = values["distinct_property"]
            if not out["Operand"]:
                out["Operand"] = "="
        elif spec.name == "periodic":
            if out["Spec"] is not None or out["Specs"] is not None:
                out["SpecType"] = "cron"
        elif spec.name == "template":
            if out["ChangeMode"] is None:
                out["ChangeMode"] = "restart"
            if out["Perms"] is None:
                out["Perms"] = "0644"
            if out["Splay"] is None:
                out["Splay"] = 5_000_000_000
            if out["ErrMissingKey"] is None:
                out["ErrMissingKey"] = False
            cs = out.get("ChangeScript")
            if cs is not None:
                if cs["Args"] is None:
                    cs["Args"] = []
                if cs["Timeout"] is None:
                    cs["Timeout"] = 5_000_000_000
                if cs["FailOnError"] is None:
                    cs["FailOnError"] = False
        elif spec.name == "network":
            ports = out.get("DynamicPorts") or []
            reserved = [p for p in ports if p["Value"] > 0]
            dynamic = [p for p in ports if p["Value"] <= 0]
            # Keep each port's position under its final list, as normalizeNetworkPorts moves it.
            old = {id(p): i for i, p in enumerate(ports)}
            moved: Positions = {}
            for new_list, name in ((reserved, "ReservedPorts"), (dynamic, "DynamicPorts")):
                for j, p in enumerate(new_list):
                    prefix = f"{path}.DynamicPorts[{old[id(p)]}]"
                    for key, pos in self.positions.items():
                        if key == prefix or key.startswith(prefix + "."):
                            moved[f"{path}.{name}[{j}]{key[len(prefix) :]}"] = pos
            for key in [k for k in self.positions if k.startswith(f"{path}.DynamicPorts[")]:
                del self.positions[key]
            self.positions.update(moved)
            out["DynamicPorts"] = dynamic or None
            out["ReservedPorts"] = reserved or None
        elif spec.name == "vault":
            if out["Env"] is None:
                out["Env"] = True
            if out["ChangeMode"] is None:
                out["ChangeMode"] = "restart"
        elif spec.name in ("scaling", "task_scaling", "task"):
            block_rules.after_decode(spec.name, out, block, self.collector)
        elif spec.name == "service" or spec.name == "check":
            port = values.get("port")
            if isinstance(port, int | float) and not isinstance(port, bool):
                out["PortLabel"] = str(int(port))

    # -- values -------------------------------------------------------------------------

    def expand(self, body: Body) -> Body:
        return dynamic.expand(body, self.scope, self.collector)

    def value(self, attr: Attribute, kind: str, where: str = "") -> Any:
        try:
            raw = dynamic.evaluate_in(attr.expr, attr.frames, self.scope)
        except EvalError as exc:
            self.collector.error(exc.pos, exc.message)
            return _ERROR
        try:
            return convert_value(raw, kind)
        except ValueError as exc:
            context = f" {where}" if where else ""
            self.collector.error(pos_of(attr.expr), f'"{attr.name}"{context}: {exc}')
            return _ERROR

    def string_map(self, body: Body, what: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for attr in body.attributes.values():
            v = self.value(attr, "str")
            if v is not _ERROR:
                out[attr.name] = v
        for child in body.blocks:
            self.collector.error(child.pos, f'a {what} holds only name = "value" lines')
        return out

    def header_block(self, body: Body) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for attr in body.attributes.values():
            v = self.value(attr, "strs")
            if v is not _ERROR:
                out[attr.name] = v
        return out

    def freeform(self, body: Body) -> dict[str, Any]:
        """Driver config and other free-form blocks: nested blocks become lists of maps,
        as Nomad decodes them (`port_map { http = 80 }` -> "port_map": [{"http": 80}])."""
        out: dict[str, Any] = {}
        body = self.expand(body)
        for attr in body.attributes.values():
            try:
                out[attr.name] = dynamic.evaluate_in(attr.expr, attr.frames, self.scope)
            except EvalError as exc:
                self.collector.error(exc.pos, exc.message)
        for child in body.blocks:
            value = self.freeform(child.body)
            for label in reversed(child.labels):
                value = {label: [value]}
            out.setdefault(child.type, []).append(value)
        return out


_ERROR = object()


def convert_value(raw: Any, kind: str) -> Any:
    """HCL's automatic conversion into the field's type; ValueError saying what was wanted."""
    if raw is None:
        return None
    if kind == "any":
        return raw
    if kind == "str":
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, int | float):
            return str(raw)
        if isinstance(raw, str):
            return raw
        raise ValueError(f"expected a string, got {type_name(raw)}")
    if kind in ("int", "float"):
        if isinstance(raw, bool):
            raise ValueError("expected a number, got bool")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, float):
            if kind == "int" and not raw.is_integer():
                raise ValueError(f"expected a whole number, got {raw}")
            return int(raw) if kind == "int" else raw
        if isinstance(raw, str):
            try:
                f = float(raw)
            except ValueError:
                raise ValueError(f'expected a number, got string "{raw}"') from None
            return int(f) if kind == "int" else f
        raise ValueError(f"expected a number, got {type_name(raw)}")
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if raw in ("true", "false"):
            return raw == "true"
        raise ValueError(f"expected true or false, got {type_name(raw)} {raw!r}")
    if kind == "dur":
        if isinstance(raw, bool):
            raise ValueError('expected a duration such as "10s", got bool')
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str):
            try:
                return parse_go_duration(raw)
            except ValueError as exc:
                raise ValueError(str(exc)) from None
        raise ValueError(f'expected a duration such as "10s", got {type_name(raw)}')
    if kind == "strs":
        if isinstance(raw, str):
            raise ValueError(f'expected a list of strings such as ["a"], got string "{raw}"')
        if not isinstance(raw, list):
            raise ValueError(f"expected a list of strings, got {type_name(raw)}")
        return [convert_value(x, "str") for x in raw]
    if kind == "map":
        if not isinstance(raw, dict):
            raise ValueError(f"expected a map of strings, got {type_name(raw)}")
        return {k: convert_value(v, "str") for k, v in raw.items()}
    if kind == "listmap":
        if not isinstance(raw, dict):
            raise ValueError(f"expected a map of string lists, got {type_name(raw)}")
        return {k: convert_value(v, "strs") for k, v in raw.items()}
    raise ValueError(f"unknown kind {kind}")


def _describe(block: Block, parent: str) -> str:
    """'in group "web"', or for an unnamed block 'in resources of task "web"'."""
    if block.type in ("job", "group", "task", "volume", "port", "device") and block.labels:
        return f'in {block.type} "{block.labels[0]}"'
    if parent.startswith("in "):
        return f"in {block.type} of {parent[3:]}"
    return f"in {block.type} block"
