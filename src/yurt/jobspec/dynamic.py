"""`dynamic "type" { for_each = ...; content { ... } }` blocks, expanded as HCL's dynblock
extension (which Nomad's jobspec2 applies to the job body) does."""

from __future__ import annotations

from typing import Any

from lark import Tree

from yurt.jobspec.diagnostics import Collector
from yurt.jobspec.evaluate import EvalError, Scope, evaluate
from yurt.jobspec.syntax import Attribute, Block, Body, Expr, Frame


def expand(body: Body, scope: Scope, collector: Collector) -> Body:
    """The body with its direct `dynamic` blocks replaced by the blocks they generate."""
    if not any(b.type == "dynamic" for b in body.blocks):
        return body
    blocks: list[Block] = []
    for block in body.blocks:
        if block.type != "dynamic":
            blocks.append(block)
            continue
        blocks.extend(_expand_one(block, body_frames(block.body), scope, collector))
    return Body(attributes=body.attributes, blocks=blocks, pos=body.pos)


def body_frames(body: Body) -> tuple[Frame, ...]:
    """The frames a (possibly already bound) dynamic block's own attributes carry."""
    for attr in body.attributes.values():
        return attr.frames
    return ()


def evaluate_in(expr: Expr, frames: tuple[Frame, ...], scope: Scope) -> Any:
    scope.iterators.extend(frames)
    try:
        return evaluate(expr, scope)
    finally:
        del scope.iterators[len(scope.iterators) - len(frames) :]


def _expand_one(
    block: Block, frames: tuple[Frame, ...], scope: Scope, collector: Collector
) -> list[Block]:
    if len(block.labels) != 1:
        collector.error(block.pos, 'a dynamic block takes one label: dynamic "type" { ... }')
        return []
    type_ = block.labels[0]
    attrs = block.body.attributes
    for name, attr in attrs.items():
        if name not in ("for_each", "iterator", "labels"):
            collector.error(attr.pos, f'unknown attribute "{name}" in dynamic "{type_}"')
    contents = block.body.blocks_of("content")
    if "for_each" not in attrs:
        collector.error(block.pos, f'dynamic "{type_}" needs for_each')
        return []
    if len(contents) != 1:
        collector.error(block.pos, f'dynamic "{type_}" needs exactly one content block')
        return []
    iterator: str | None = type_
    if "iterator" in attrs:
        iterator = _bare_name(attrs["iterator"].expr)
    if iterator is None:
        collector.error(attrs["iterator"].pos, "iterator must be a bare name")
        return []
    try:
        collection = evaluate_in(attrs["for_each"].expr, frames, scope)
    except EvalError as exc:
        collector.error(exc.pos, exc.message)
        return []
    if isinstance(collection, dict):
        items = list(collection.items())
    elif isinstance(collection, list):
        items = list(enumerate(collection))
    else:
        collector.error(attrs["for_each"].pos, "for_each must be a list or a map")
        return []
    out: list[Block] = []
    for key, value in items:
        frame: Frame = {iterator: {"key": key, "value": value}}
        bound = (*frames, frame)
        labels: list[str] = []
        if "labels" in attrs:
            try:
                raw = evaluate_in(attrs["labels"].expr, bound, scope)
            except EvalError as exc:
                collector.error(exc.pos, exc.message)
                continue
            if not isinstance(raw, list):
                collector.error(attrs["labels"].pos, "labels must be a list of strings")
                continue
            labels = [str(x) for x in raw]
        out.append(Block(type_, labels, _bind(contents[0].body, frame), block.pos))
    return out


def _bind(body: Body, frame: Frame) -> Body:
    attributes = {
        name: Attribute(a.name, a.expr, a.pos, (*a.frames, frame))
        for name, a in body.attributes.items()
    }
    blocks = [Block(b.type, b.labels, _bind(b.body, frame), b.pos) for b in body.blocks]
    return Body(attributes=attributes, blocks=blocks, pos=body.pos)


def _bare_name(expr: Expr) -> str | None:
    node: Any = expr
    while isinstance(node, Tree) and node.data == "expr_term" and len(node.children) == 1:
        node = node.children[0]
    if isinstance(node, Tree) and node.data == "identifier":
        return str(node.children[0])
    return None
