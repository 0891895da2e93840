"""HCL2 text -> a small syntax tree of bodies, attributes and blocks, with positions.

python-hcl2 gives a lark parse tree with positions; its dict form evaluates nothing and
loses positions, so yurt reads the lark tree itself. Expressions stay lark trees for
`evaluate` to compute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hcl2.api import parses_to_tree
from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from yurt.jobspec.diagnostics import Collector, Diagnostic, JobspecError, Pos

Expr = Tree[Any] | Token


Frame = dict[str, Any]


@dataclass
class Attribute:
    name: str
    expr: Expr
    pos: Pos
    # Iterator bindings of the `dynamic` blocks this attribute was expanded from.
    frames: tuple[Frame, ...] = ()


@dataclass
class Block:
    type: str
    labels: list[str]
    body: Body
    pos: Pos


@dataclass
class Body:
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    pos: Pos = field(default_factory=lambda: Pos(1, 1))

    def blocks_of(self, type_: str) -> list[Block]:
        return [b for b in self.blocks if b.type == type_]


def pos_of(node: Expr) -> Pos:
    if isinstance(node, Token):
        return Pos(node.line or 1, node.column or 1)
    meta = node.meta
    if getattr(meta, "empty", True):
        for child in node.children:
            if isinstance(child, Tree | Token):
                return pos_of(child)
        return Pos(1, 1)
    return Pos(meta.line, meta.column)


def parse_body(text: str, filename: str) -> Body:
    """Parse HCL2 text; raise JobspecError with the position of a syntax error."""
    from yurt.jobspec.limits import check_nesting, check_raw_nesting, check_source_size

    check_source_size(text, filename)
    check_raw_nesting(text, filename)
    try:
        tree = parses_to_tree(text)
    except UnexpectedInput as exc:
        raise JobspecError([_syntax_diagnostic(exc, text, filename)]) from None
    check_nesting(tree, filename)
    _keep_interpolation_source(tree, text)
    collector = Collector(filename)
    body_tree = tree.children[0]
    body = _body(body_tree, collector, Pos(1, 1))
    collector.raise_if_any()
    return body


def _keep_interpolation_source(tree: Tree[Any], text: str) -> None:
    """Each `${...}` keeps its source text: a runtime reference (`${ attr.x.0 }`) is
    handed to the client character for character, as jobspec2 does."""
    for node in tree.iter_subtrees():
        if node.data == "interpolation" and not node.meta.empty:
            # lark's Meta takes extra attributes; read back with getattr(meta, "source_text").
            vars(node.meta)["source_text"] = text[node.meta.start_pos : node.meta.end_pos]


def _body(tree: Tree[Any], collector: Collector, pos: Pos) -> Body:
    body = Body(pos=pos)
    for child in tree.children:
        if not isinstance(child, Tree):
            continue
        if child.data == "attribute":
            name_node = child.children[0]
            name = _name(name_node)
            expr = child.children[2]
            apos = pos_of(child)
            previous = body.attributes.get(name)
            if previous is not None:
                collector.error(
                    apos,
                    f'attribute "{name}" is set twice '
                    f"(first at line {previous.pos.line}, column {previous.pos.column})",
                )
                continue
            body.attributes[name] = Attribute(name, expr, apos)
        elif child.data == "block":
            body.blocks.append(_block(child, collector))
    return body


def _block(tree: Tree[Any], collector: Collector) -> Block:
    parts = [c for c in tree.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]
    type_ = _name(parts[0])
    labels: list[str] = []
    inner: Tree[Any] | None = None
    for part in parts[1:]:
        if part.data == "body":
            inner = part
        elif part.data == "string":
            labels.append(_plain_string(part, collector))
        else:
            labels.append(_name(part))
    lbrace = next((c for c in tree.children if isinstance(c, Token) and c.type == "LBRACE"), None)
    body_pos = pos_of(lbrace) if lbrace is not None else pos_of(tree)
    body = _body(inner, collector, body_pos) if inner is not None else Body(pos=body_pos)
    return Block(type_, labels, body, pos_of(tree))


def _name(node: Tree[Any]) -> str:
    token = node.children[0]
    return str(token)


def _plain_string(node: Tree[Any], collector: Collector) -> str:
    out = []
    for part in node.children:
        if isinstance(part, Tree) and part.data == "string_part":
            inner = part.children[0]
            if isinstance(inner, Token):
                out.append(unescape(str(inner)))
            else:
                collector.error(pos_of(part), "a block label cannot contain an interpolation")
    return "".join(out)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.S)


def unescape(text: str) -> str:
    """Decode HCL string escapes and the $${ / %%{ template escapes."""

    def sub(m: re.Match[str]) -> str:
        e = m.group(1)
        if e[0] in "uU" and len(e) > 1:
            return chr(int(e[1:], 16))
        return _ESCAPES.get(e, "\\" + e)

    text = _ESCAPE_RE.sub(sub, text) if "\\" in text else text
    return text.replace("$${", "${").replace("%%{", "%{")


_FRIENDLY = {
    "RBRACE": '"}"',
    "LBRACE": '"{"',
    "RSQB": '"]"',
    "RPAR": '")"',
    "EQ": '"="',
    "DBLQUOTE": "a closing quote",
    "NAME": "a name",
    "COMMA": '","',
}


def _end_of_previous(text: str, offset: int) -> tuple[int, int]:
    """Line and column just after the last non-blank character before `offset`."""
    i = offset - 1
    while i >= 0 and text[i] in " \t\r\n":
        i -= 1
    line = text.count("\n", 0, i + 1) + 1
    column = i + 1 - (text.rfind("\n", 0, i + 1) + 1) + 1
    return line, column


def _in_quotes(text: str, at: int | None) -> bool:
    """Whether position `at` is inside a quoted string opened earlier on its line."""
    if at is None:
        return True
    prefix = text[text.rfind("\n", 0, at) + 1 : at].replace('\\"', "")
    return prefix.count('"') % 2 == 1


def _syntax_diagnostic(exc: UnexpectedInput, text: str, filename: str) -> Diagnostic:
    line = getattr(exc, "line", None) or 1
    column = getattr(exc, "column", None) or 1
    lines = text.split("\n")
    if (isinstance(exc, UnexpectedToken) and exc.token.type == "$END") or isinstance(
        exc, UnexpectedEOF
    ):
        expected = set(getattr(exc, "expected", set()) or set())
        if "DBLQUOTE" in expected or "STRING_CHARS" in expected:
            message = "unterminated string: this quoted string is never closed"
        elif "RBRACE" in expected:
            message = 'unbalanced braces: the file ends before a block is closed with "}"'
        else:
            message = "unexpected end of file"
        line = min(line, len(lines))
        return Diagnostic(filename, line, column, message)
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        value = str(tok).split("\n")[0]
        if tok.type == "STRING_CHARS" and "\n" in str(tok) and _in_quotes(text, tok.start_pos):
            message = "unterminated string: a quoted string must end on the same line"
        elif tok.type == "STRING_CHARS" and not value.strip():
            # The lexer reads what follows a bare `=` as string text: nothing was given.
            message = "unexpected end of line; expected a value"
        elif "LBRACE" in exc.expected and "EQ" not in exc.expected and tok.type != "LBRACE":
            line, column = _end_of_previous(text, exc.token.start_pos or 0)
            message = 'expected "{" to open a block, or "=" to set an attribute'
        elif tok.type == "RBRACE" and not (exc.expected & {"RBRACE"}):
            message = 'unbalanced braces: unexpected "}"'
        elif tok.type in ("NL_OR_COMMENT",) and "EQ" in exc.expected:
            message = 'expected "=" after the attribute name, or "{" to open a block'
        else:
            wanted = sorted(_FRIENDLY[e] for e in exc.expected if e in _FRIENDLY)
            hint = f"; expected {' or '.join(wanted)}" if wanted and len(wanted) <= 3 else ""
            if not value.strip():
                message = f"unexpected end of line{hint or '; expected a value'}"
            else:
                message = f'unexpected "{value.strip()}"{hint}'
        return Diagnostic(filename, line, column, message)
    if isinstance(exc, UnexpectedCharacters):
        at = exc.pos_in_stream or 0
        ch = text[at] if at < len(text) else ""
        return Diagnostic(filename, line, column, f'invalid character "{ch}"')
    return Diagnostic(filename, line, column, str(exc).split("\n")[0])
