"""Job files in HCL's JSON syntax (a file whose first character is "{"), as jobspec2
accepts them: the job schema decides which JSON objects are blocks and which are
attribute values, strings are templates (`"${var.x}"`), and "//" keys are comments.

The JSON is read by a small parser that keeps the line and column of every value, so
that errors point into the JSON file as they do for HCL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hcl2.api import parses_to_tree
from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from yurt.jobspec.diagnostics import Collector, Diagnostic, JobspecError, Pos
from yurt.jobspec.schema import SPECS, Spec
from yurt.jobspec.syntax import Attribute, Block, Body, Expr
from yurt.jobspec.template import matching_brace


@dataclass
class Node:
    kind: str  # str | num | bool | null | arr | obj
    value: Any  # obj: list[tuple[str, Pos, Node]]; arr: list[Node]; else the value
    pos: Pos


_KIND = {
    "str": "string",
    "num": "number",
    "bool": "boolean",
    "null": "null",
    "arr": "list",
    "obj": "object",
}


def looks_like_json(text: str) -> bool:
    return text.lstrip(" \t\r\n\ufeff").startswith("{")


class _Reader:
    _WS = re.compile(r"[ \t\r\n]*")
    _NUM = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
    _STR = re.compile(r'"(?:[^"\\\x00-\x1f]|\\.)*"')

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.i = 0
        self.depth = 0
        # The last position computed: lines are counted from there, not from the start,
        # so that positions cost O(n) over a whole file rather than O(n) each.
        self._at = 0
        self._line = 1

    def pos(self, at: int | None = None) -> Pos:
        at = self.i if at is None else at
        if at >= self._at:
            self._line += self.text.count("\n", self._at, at)
        else:
            self._line = self.text.count("\n", 0, at) + 1
        self._at = at
        return Pos(self._line, at - (self.text.rfind("\n", 0, at) + 1) + 1)

    def _enter(self) -> None:
        from yurt.jobspec.limits import MAX_JSON_DEPTH

        self.depth += 1
        if self.depth > MAX_JSON_DEPTH:
            raise self.fail(f"arrays and objects are nested more than {MAX_JSON_DEPTH} deep")

    def fail(self, message: str) -> JobspecError:
        p = self.pos()
        return JobspecError([Diagnostic(self.filename, p.line, p.column, message)])

    def ws(self) -> None:
        m = self._WS.match(self.text, self.i)
        self.i = m.end() if m else self.i

    def value(self) -> Node:
        self.ws()
        start = self.pos()
        if self.i >= len(self.text):
            raise self.fail("unexpected end of the JSON document")
        c = self.text[self.i]
        if c in "{[":
            self._enter()
            if c == "{":
                node = Node("obj", self._object(), start)
            else:
                node = Node("arr", self._array(), start)
            self.depth -= 1
            return node
        if c == '"':
            return Node("str", self._string(), start)
        for word, kind, value in (
            ("true", "bool", True),
            ("false", "bool", False),
            ("null", "null", None),
        ):
            if self.text.startswith(word, self.i):
                self.i += len(word)
                return Node(kind, value, start)
        m = self._NUM.match(self.text, self.i)
        if m and m.end() > self.i:
            self.i = m.end()
            number = float(m.group(0))
            return Node("num", int(number) if number.is_integer() else number, start)
        raise self.fail(f'invalid JSON: unexpected "{c}"')

    def _string(self) -> str:
        m = self._STR.match(self.text, self.i)
        if m is None:
            raise self.fail("invalid JSON: unterminated string")
        self.i = m.end()
        decoded: str = json.loads(m.group(0))
        return decoded

    def _object(self) -> list[tuple[str, Pos, Node]]:
        self.i += 1
        items: list[tuple[str, Pos, Node]] = []
        self.ws()
        if self.text.startswith("}", self.i):
            self.i += 1
            return items
        while True:
            self.ws()
            key_pos = self.pos()
            if not self.text.startswith('"', self.i):
                raise self.fail("invalid JSON: expected a quoted key")
            key = self._string()
            self.ws()
            if not self.text.startswith(":", self.i):
                raise self.fail('invalid JSON: expected ":" after the key')
            self.i += 1
            items.append((key, key_pos, self.value()))
            self.ws()
            if self.text.startswith(",", self.i):
                self.i += 1
                continue
            if self.text.startswith("}", self.i):
                self.i += 1
                return items
            raise self.fail('invalid JSON: expected "," or "}"')

    def _array(self) -> list[Node]:
        self.i += 1
        items: list[Node] = []
        self.ws()
        if self.text.startswith("]", self.i):
            self.i += 1
            return items
        while True:
            items.append(self.value())
            self.ws()
            if self.text.startswith(",", self.i):
                self.i += 1
                continue
            if self.text.startswith("]", self.i):
                self.i += 1
                return items
            raise self.fail('invalid JSON: expected "," or "]"')


def _read_root(text: str, filename: str, what: str) -> tuple[Node, Collector]:
    """The document's one top-level object (a syntax error raises), with the collector its
    conversion reports into; `what` names the document in the error for a non-object."""
    from yurt.jobspec.limits import check_source_size

    check_source_size(text, filename)
    reader = _Reader(text.lstrip("\ufeff"), filename)
    root = reader.value()
    reader.ws()
    if reader.i != len(reader.text):
        raise reader.fail("invalid JSON: text after the end of the document")
    collector = Collector(filename)
    if root.kind != "obj":
        collector.error(root.pos, f"a JSON {what} must be an object")
        collector.raise_if_any()
    return root, collector


def parse_json_body(text: str, filename: str) -> Body:
    """An HCL JSON job file -> the same Body structure the HCL reader produces."""
    root, collector = _read_root(text, filename, "job file")
    body = _top(root, collector)
    collector.raise_if_any()
    return body


# For config files (not jobs): which keys are blocks, with their label count and the shape
# of their own bodies; every other key is an attribute.
BlockShape = Mapping[str, tuple[int, "BlockShape"]]


def parse_json_config(text: str, filename: str, shape: BlockShape) -> Body:
    """A config file in HCL's JSON syntax (a Nomad agent config) -> the Body the HCL reader
    gives for the same config, with positions in the JSON."""
    root, collector = _read_root(text, filename, "config")
    body = _shaped(root, shape, collector)
    collector.raise_if_any()
    return body


def _shaped(node: Node, shape: BlockShape, collector: Collector) -> Body:
    body = Body(pos=node.pos)
    for key, pos, value in node.value:
        if key == "//":
            continue
        entry = shape.get(key)
        if entry is not None and value.kind in ("obj", "arr"):
            labels, inner = entry
            for block in _blocks(key, value, labels, [], pos, collector):
                block.body = _shaped(block.body_node, inner, collector)
                body.blocks.append(block)
            continue
        body.attributes[key] = Attribute(key, _expr(value, collector), pos)
    return body


_TOP_LABELS = {"job": 1, "variable": 1, "variables": 0, "locals": 0}


def _top(root: Node, collector: Collector) -> Body:
    body = Body(pos=root.pos)
    for key, pos, node in root.value:
        if key == "//":
            continue
        if key in _TOP_LABELS:
            for block in _blocks(key, node, _TOP_LABELS[key], [], pos, collector):
                spec = SPECS["job"] if key == "job" else None
                block.body = _body(block.body_node, spec, collector, key)
                body.blocks.append(block)
        else:
            body.attributes[key] = Attribute(key, _expr(node, collector), pos)
    return body


class _PendingBlock(Block):
    body_node: Node


def _blocks(
    type_: str, node: Node, labels_left: int, labels: list[str], pos: Pos, collector: Collector
) -> list[_PendingBlock]:
    if node.kind == "arr":
        out: list[_PendingBlock] = []
        for item in node.value:
            out.extend(_blocks(type_, item, labels_left, labels, item.pos, collector))
        return out
    if node.kind != "obj":
        collector.error(
            node.pos, f'"{type_}" must be an object (a block), not a {_KIND[node.kind]}'
        )
        return []
    if labels_left == 0:
        block = _PendingBlock(type_, list(labels), Body(pos=node.pos), pos)
        block.body_node = node
        return [block]
    out = []
    for key, key_pos, inner in node.value:
        if key == "//":
            continue
        out.extend(_blocks(type_, inner, labels_left - 1, [*labels, key], key_pos, collector))
    return out


def _body(node: Node, spec: Spec | None, collector: Collector, context: str) -> Body:
    body = Body(pos=node.pos)
    for key, pos, value in node.value:
        if key == "//":
            continue
        b = spec.blocks.get(key) if spec is not None else None
        is_attr = spec is not None and key in spec.attrs
        if b is not None and not is_attr and value.kind in ("obj", "arr"):
            sub = SPECS.get(b.spec)
            labels = sub.labels if sub is not None else 0
            for block in _blocks(key, value, labels, [], pos, collector):
                block.body = _body(block.body_node, sub, collector, key)
                body.blocks.append(block)
            continue
        if b is not None and not is_attr:
            collector.error(
                value.pos, f'"{key}" must be an object (a block), not a {_KIND[value.kind]}'
            )
            continue
        if context == "variable" and key == "type" and value.kind == "str":
            # A type constraint is an expression written inside a JSON string.
            body.attributes[key] = Attribute(
                key, _parse_expr(value.value, value.pos, collector), pos
            )
            continue
        body.attributes[key] = Attribute(key, _expr(value, collector), pos)
    return body


def _hcl_text(node: Node) -> str:
    if node.kind == "str":
        return _quote_template(node.value)
    if node.kind == "num":
        return repr(node.value)
    if node.kind == "bool":
        return "true" if node.value else "false"
    if node.kind == "null":
        return "null"
    if node.kind == "arr":
        return "[" + ", ".join(_hcl_text(n) for n in node.value) + "]"
    return (
        "{"
        + ", ".join(f"{json.dumps(k)} = {_hcl_text(v)}" for k, _p, v in node.value if k != "//")
        + "}"
    )


def _quote_template(text: str) -> str:
    """Quote a JSON string as an HCL template string, leaving `${...}`/`%{...}` intact."""
    out = ['"']
    i = 0
    while i < len(text):
        if text.startswith(("$${", "%%{"), i):
            out.append(text[i : i + 3])
            i += 3
            continue
        if text.startswith(("${", "%{"), i):
            end = matching_brace(text, i + 2)
            if end >= 0:
                out.append(text[i : end + 1])
                i = end + 1
                continue
        c = text[i]
        out.append({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(c, c))
        i += 1
    out.append('"')
    return "".join(out)


def _expr(node: Node, collector: Collector) -> Expr:
    return _parse_expr(_hcl_text(node), node.pos, collector, raw=True)


def _parse_expr(source: str, pos: Pos, collector: Collector, *, raw: bool = False) -> Expr:
    from yurt.jobspec.limits import LimitError, check_nesting

    try:
        tree = parses_to_tree(f"x = {source}\n")
        check_nesting(tree, collector.filename)
    except UnexpectedInput:
        what = "value" if raw else f'expression "{source}"'
        collector.error(pos, f"invalid {what}")
        return Tree("literal_value", [Token("NULL", "null")])
    except LimitError as exc:
        collector.error(pos, exc.diagnostics[0].message)
        return Tree("literal_value", [Token("NULL", "null")])
    expr: Expr = tree.children[0].children[0].children[2]
    _relocate(expr, pos)
    return expr


def _relocate(expr: Expr, pos: Pos) -> None:
    """Point every node of a generated expression at its place in the JSON file."""
    if isinstance(expr, Token):
        expr.line, expr.column = pos.line, pos.column
        return
    for sub in expr.iter_subtrees():
        if not getattr(sub.meta, "empty", True):
            sub.meta.line, sub.meta.column = pos.line, pos.column
        for child in sub.children:
            if isinstance(child, Token):
                child.line, child.column = pos.line, pos.column
