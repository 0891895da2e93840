"""Input variables: `variable` blocks, and values from -var, -var-file and NOMAD_VAR_*.

Precedence is Nomad's: default < NOMAD_VAR_ environment < -var-file (in order) < -var.
Values given as text (-var, environment) are read as the declared type: a string stays
text, other types are parsed as an HCL expression (`-var 'ports=[80,443]'`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hcl2.api import parses_to_tree
from lark import Tree
from lark.exceptions import UnexpectedInput

from yurt.jobspec.diagnostics import Collector, Pos
from yurt.jobspec.evaluate import EvalError, Scope, evaluate, type_name
from yurt.jobspec.hcl_messages import unset_variable
from yurt.jobspec.syntax import Block, Expr, parse_body, pos_of

VarType = Any  # "string" | "number" | "bool" | "any" | ("list", T) | ("map", T) | ("object", {...})


@dataclass
class Variable:
    name: str
    type: VarType
    default: Any
    has_default: bool
    pos: Pos
    validations: list[Block] = field(default_factory=list)
    default_pos: Pos | None = None


_PRIMITIVES = {"string", "number", "bool", "any"}


def read_type(expr: Expr, collector: Collector) -> VarType:
    """A type constraint expression (`string`, `list(number)`, `object({a=string})`)."""
    node = expr
    while isinstance(node, Tree) and node.data == "expr_term" and len(node.children) == 1:
        node = node.children[0]
    if isinstance(node, Tree) and node.data == "identifier":
        name = str(node.children[0])
        if name in _PRIMITIVES:
            return name
    if isinstance(node, Tree) and node.data == "function_call":
        name = str(node.children[0].children[0])
        args = [
            a
            for c in node.children
            if isinstance(c, Tree) and c.data == "arguments"
            for a in c.children
            if isinstance(a, Tree) and a.data != "new_line_or_comment"
        ]
        if name in ("list", "set", "map") and len(args) == 1:
            return (name if name != "set" else "list", read_type(args[0], collector))
        if name == "object" and len(args) == 1:
            obj = args[0]
            while isinstance(obj, Tree) and obj.data == "expr_term":
                obj = obj.children[0]
            fields: dict[str, VarType] = {}
            if isinstance(obj, Tree):
                for elem in obj.children:
                    if isinstance(elem, Tree) and elem.data == "object_elem":
                        key = elem.children[0]
                        text = key.children[0]
                        while isinstance(text, Tree):
                            text = text.children[0]
                        fields[str(text)] = read_type(elem.children[-1], collector)
            return ("object", fields)
        if name == "tuple":
            return ("list", "any")
    collector.error(
        pos_of(expr),
        "invalid type: use string, number, bool, any, list(T), set(T), map(T) or object({...})",
    )
    return "any"


def describe(t: VarType) -> str:
    if isinstance(t, str):
        return t
    if t[0] == "object":
        return "object"
    return f"{t[0]}({describe(t[1])})"


def convert(value: Any, t: VarType) -> Any:
    """Convert a value to a type as HCL's automatic conversions do; ValueError if it cannot."""
    if t == "any" or value is None:
        return value
    if t == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, str):
            return value
    elif t == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                f = float(value)
            except ValueError:
                pass
            else:
                return int(f) if f.is_integer() else f
    elif t == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
    elif t[0] == "list" and isinstance(value, list):
        return [convert(v, t[1]) for v in value]
    elif t[0] == "map" and isinstance(value, dict):
        return {k: convert(v, t[1]) for k, v in value.items()}
    elif t[0] == "object" and isinstance(value, dict):
        missing = [k for k in t[1] if k not in value]
        if missing:
            raise ValueError(f'attribute "{missing[0]}" is required')
        return {k: convert(value[k], ft) for k, ft in t[1].items()}
    raise ValueError(f"expected {describe(t)}, got {type_name(value)}")


def declare(blocks: Sequence[Block], scope: Scope, collector: Collector) -> dict[str, Variable]:
    declared: dict[str, Variable] = {}
    for block in blocks:
        if len(block.labels) != 1:
            collector.error(block.pos, 'a variable block needs one label: variable "name" { }')
            continue
        name = block.labels[0]
        if name in declared:
            collector.error(block.pos, f'variable "{name}" is declared twice')
            continue
        t: VarType = "any"
        attrs = block.body.attributes
        for key, attr in attrs.items():
            if key not in ("type", "default", "description", "sensitive", "nullable"):
                collector.error(attr.pos, f'unknown attribute "{key}" in variable "{name}"')
        if "type" in attrs:
            t = read_type(attrs["type"].expr, collector)
        default = None
        has_default = "default" in attrs
        if has_default:
            try:
                default = convert(evaluate(attrs["default"].expr, scope), t)
            except EvalError as exc:
                collector.error(exc.pos, exc.message)
            except ValueError as exc:
                collector.error(attrs["default"].pos, f'default of variable "{name}": {exc}')
        for inner in block.body.blocks:
            if inner.type != "validation":
                collector.error(inner.pos, f'unknown block "{inner.type}" in variable "{name}"')
        validations = [b for b in block.body.blocks if b.type == "validation"]
        default_pos = pos_of(attrs["default"].expr) if has_default else None
        declared[name] = Variable(
            name, t, default, has_default, block.pos, validations, default_pos
        )
    return declared


def declare_shorthand(
    blocks: Sequence[Block], declared: dict[str, Variable], scope: Scope, collector: Collector
) -> None:
    """`variables { name = default }`: each attribute is a variable of any type."""
    for block in blocks:
        if block.labels:
            collector.error(block.pos, "a variables block takes no label")
        for inner in block.body.blocks:
            collector.error(inner.pos, "a variables block holds only name = default lines")
        for attr in block.body.attributes.values():
            if attr.name in declared:
                collector.error(attr.pos, f'variable "{attr.name}" is declared twice')
                continue
            try:
                default = evaluate(attr.expr, scope)
            except EvalError as exc:
                collector.error(exc.pos, exc.message)
                continue
            declared[attr.name] = Variable(attr.name, "any", default, True, attr.pos)


def _parse_text_value(text: str, t: VarType) -> Any:
    if t in ("string", "any"):
        # Without a type constraint a text value stays text, as in Terraform and Nomad.
        return text
    if t in ("number", "bool"):
        return convert(text, t)
    try:
        tree = parses_to_tree(f"v = {text}\n")
    except UnexpectedInput:
        raise ValueError(f"cannot read {text!r} as {describe(t)}") from None
    expr = tree.children[0].children[0].children[2]
    value = evaluate(expr, Scope({}, {}, {}))
    return convert(value, t)


def resolve(
    declared: Mapping[str, Variable],
    *,
    filename: str,
    cli_vars: Mapping[str, str],
    var_files: Sequence[Path],
    environ: Mapping[str, str],
    collector: Collector,
) -> dict[str, Any]:
    """The value of every declared variable, or diagnostics saying what is missing."""
    values: dict[str, Any] = {n: v.default for n, v in declared.items() if v.has_default}
    # A value that was given but is wrong is reported once, not again as missing.
    bad: set[str] = set()
    for key, text in environ.items():
        if key.startswith("NOMAD_VAR_") and key[10:] in declared:
            name = key[10:]
            try:
                values[name] = _parse_text_value(text, declared[name].type)
            except (ValueError, EvalError) as exc:
                bad.add(name)
                collector.error(declared[name].pos, f"{key}: {exc}")
    for path in var_files:
        _read_var_file(path, declared, values, collector)
    for name, text in cli_vars.items():
        if name not in declared:
            collector.error(
                Pos(1, 1), f'-var {name}: no variable "{name}" is declared in {filename}'
            )
            continue
        try:
            values[name] = _parse_text_value(text, declared[name].type)
        except (ValueError, EvalError) as exc:
            bad.add(name)
            collector.error(declared[name].pos, f"-var {name}: {exc}")
    for name, var in declared.items():
        if name not in values and name not in bad:
            collector.error(var.pos, unset_variable(name))
    return values


def _read_var_file(
    path: Path, declared: Mapping[str, Variable], values: dict[str, Any], collector: Collector
) -> None:
    name = str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        collector.error(Pos(1, 1), f"cannot read var file {name}: {exc.strerror}")
        return
    file_collector = Collector(name)
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            file_collector.error(Pos(exc.lineno, exc.colno), f"invalid JSON: {exc.msg}")
            collector.diagnostics.extend(file_collector.diagnostics)
            return
        items: list[tuple[str, Any, Pos]] = [(k, v, Pos(1, 1)) for k, v in data.items()]
    else:
        from yurt.jobspec.diagnostics import JobspecError

        try:
            body = parse_body(text, name)
        except JobspecError as exc:
            collector.diagnostics.extend(exc.diagnostics)
            return
        items = []
        for attr in body.attributes.values():
            try:
                items.append((attr.name, evaluate(attr.expr, Scope({}, {}, {})), attr.pos))
            except EvalError as exc:
                file_collector.error(exc.pos, exc.message)
        for block in body.blocks:
            file_collector.error(block.pos, "a var file holds only name = value lines")
    for key, value, pos in items:
        if key not in declared:
            file_collector.error(pos, f'variable "{key}" is not declared in the job file')
            continue
        try:
            values[key] = convert(value, declared[key].type)
        except ValueError as exc:
            file_collector.error(pos, f'variable "{key}": {exc}')
    collector.diagnostics.extend(file_collector.diagnostics)
