"""A small interpreter for Go's text/template language, enough for consul-template's
common use: `{{ func "arg" | func2 }}`, `.Field`, `if`/`else if`/`else`, `range` (with
`$i, $v :=`), `with`, `{{-`/`-}}` trimming and custom delimiters. Functions are supplied
by the caller (see templates.py for consul-template's)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class TemplateError(Exception):
    pass


class MissingData(Exception):
    """A function's data is not available yet (consul-template blocks on it)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass
class Text:
    text: str


@dataclass
class Action:
    pipe: str
    line: int
    declare: list[str] = field(default_factory=list)


@dataclass
class Block:
    kind: str  # if | range | with
    pipe: str
    line: int
    body: list[Node] = field(default_factory=list)
    # (condition or None for the final else, body) for if/else-if chains
    branches: list[tuple[str | None, list[Node]]] = field(default_factory=list)
    declare: list[str] = field(default_factory=list)


Node = Text | Action | Block

_TOKEN = re.compile(
    r'\s*(?:("(?:[^"\\]|\\.)*")|(`[^`]*`)|(\|)|(\()|(\))|(-?\d+(?:\.\d+)?)|([$.\w][\w.$]*))'
)


def parse(source: str, left: str = "{{", right: str = "}}") -> list[Node]:
    pieces: list[tuple[str, str, int]] = []  # (kind, text, line)
    pos = 0
    while True:
        start = source.find(left, pos)
        if start < 0:
            pieces.append(("text", source[pos:], 0))
            break
        end = source.find(right, start + len(left))
        if end < 0:
            line = source.count("\n", 0, start) + 1
            raise TemplateError(f"line {line}: unclosed action (missing {right!r})")
        text = source[pos:start]
        inner = source[start + len(left) : end]
        if inner.startswith("-") and (len(inner) == 1 or inner[1] in " \t\n"):
            text = text.rstrip()
            inner = inner[1:]
        pos = end + len(right)
        if inner.endswith("-") and (len(inner) == 1 or inner[-2] in " \t\n"):
            inner = inner[:-1]
            stripped = source[pos:].lstrip()
            pos = len(source) - len(stripped)
        pieces.append(("text", text, 0))
        pieces.append(("action", inner.strip(), source.count("\n", 0, start) + 1))
    nodes, _, closer = _build(pieces, 0)
    if closer is not None:
        raise TemplateError(f"line {closer[2]}: unexpected {{{{{closer[1]}}}}}")
    return nodes


def _build(
    pieces: list[tuple[str, str, int]], i: int
) -> tuple[list[Node], int, tuple[str, str, int] | None]:
    out: list[Node] = []
    while i < len(pieces):
        kind, text, line = pieces[i]
        i += 1
        if kind == "text":
            if text:
                out.append(Text(text))
            continue
        if text.startswith("/*"):
            continue  # a comment
        word = text.split(None, 1)[0] if text else ""
        if word in ("end", "else"):
            return out, i, ("action", text, line)
        if word in ("if", "range", "with"):
            pipe = text[len(word) :].strip()
            block = Block(word, pipe, line)
            declare, pipe = _declaration(pipe)
            block.pipe, block.declare = pipe, declare
            cond: str | None = pipe
            while True:
                body, i, closer = _build(pieces, i)
                if closer is None:
                    raise TemplateError(f"line {line}: {{{{{word}}}}} without {{{{end}}}}")
                block.branches.append((cond, body))
                ctext = closer[1]
                if ctext == "end":
                    break
                rest = ctext[4:].strip()  # after "else"
                if rest.startswith("if ") and word == "if":
                    cond = rest[3:].strip()
                elif rest:
                    raise TemplateError(f"line {closer[2]}: unexpected {{{{{ctext}}}}}")
                else:
                    cond = None
            out.append(block)
            continue
        declare, pipe = _declaration(text)
        out.append(Action(pipe, line, declare))
    return out, i, None


def _declaration(pipe: str) -> tuple[list[str], str]:
    m = re.match(r"^(\$\w*)(?:\s*,\s*(\$\w*))?\s*:?=\s*(.*)$", pipe, re.S)
    if not m:
        return [], pipe
    names = [n for n in (m.group(1), m.group(2)) if n]
    return names, m.group(3)


Funcs = Mapping[str, Callable[..., Any]]


class _Scope:
    def __init__(self, dot: Any, variables: dict[str, Any]) -> None:
        self.dot = dot
        self.vars = variables


def render(nodes: list[Node], funcs: Funcs, dot: Any = None) -> str:
    out: list[str] = []
    _exec(nodes, funcs, _Scope(dot, {"$": dot}), out)
    return "".join(out)


def _exec(nodes: list[Node], funcs: Funcs, scope: _Scope, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Action):
            value = _pipeline(node.pipe, funcs, scope, node.line)
            if node.declare:
                scope.vars[node.declare[0]] = value
            else:
                out.append(_print(value))
        elif node.kind == "if":
            for cond, body in node.branches:
                if cond is None or _truthy(_pipeline(cond, funcs, scope, node.line)):
                    _exec(body, funcs, scope, out)
                    break
        elif node.kind == "with":
            value = _pipeline(node.pipe, funcs, scope, node.line)
            if _truthy(value):
                _exec(node.branches[0][1], funcs, _Scope(value, dict(scope.vars)), out)
            elif len(node.branches) > 1:
                _exec(node.branches[1][1], funcs, scope, out)
        else:  # range
            value = _pipeline(node.pipe, funcs, scope, node.line)
            items: list[tuple[Any, Any]]
            if isinstance(value, Mapping):
                items = [(k, value[k]) for k in sorted(value)]
            elif value is None:
                items = []
            else:
                items = list(enumerate(value))
            if not items and len(node.branches) > 1:
                _exec(node.branches[1][1], funcs, scope, out)
            for key, item in items:
                variables = dict(scope.vars)
                if len(node.declare) == 2:
                    variables[node.declare[0]] = key
                    variables[node.declare[1]] = item
                elif node.declare:
                    variables[node.declare[0]] = item
                _exec(node.branches[0][1], funcs, _Scope(item, variables), out)


def _print(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_print(v) for v in value) + "]"
    return str(value)


def _truthy(value: Any) -> bool:
    return bool(value)


def _tokens(pipe: str, line: int) -> list[str]:
    out = []
    pos = 0
    while pos < len(pipe):
        if pipe[pos:].strip() == "":
            break
        m = _TOKEN.match(pipe, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"line {line}: cannot parse {pipe[pos:].strip()!r}")
        out.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    return out


def _pipeline(pipe: str, funcs: Funcs, scope: _Scope, line: int) -> Any:
    tokens = _tokens(pipe, line)
    value, rest = _commands(tokens, funcs, scope, line)
    if rest:
        raise TemplateError(f"line {line}: unexpected {rest[0]!r}")
    return value


def _commands(tokens: list[str], funcs: Funcs, scope: _Scope, line: int) -> tuple[Any, list[str]]:
    value: Any = None
    piped = False
    while tokens:
        cmd: list[Any] = []
        while tokens and tokens[0] not in ("|", ")"):
            tok = tokens.pop(0)
            if tok == "(":
                inner, tokens = _commands(tokens, funcs, scope, line)
                if not tokens or tokens[0] != ")":
                    raise TemplateError(f"line {line}: unclosed (")
                tokens.pop(0)
                cmd.append(("value", inner))
            else:
                cmd.append(tok)
        value = _command(cmd, funcs, scope, line, value if piped else _NOTHING)
        if tokens and tokens[0] == "|":
            tokens.pop(0)
            piped = True
            continue
        break
    return value, tokens


_NOTHING = object()


def _arg(tok: Any, funcs: Funcs, scope: _Scope, line: int) -> Any:
    if isinstance(tok, tuple):
        return tok[1]
    if tok.startswith('"'):
        return bytes(tok[1:-1], "utf-8").decode("unicode_escape")
    if tok.startswith("`"):
        return tok[1:-1]
    if re.fullmatch(r"-?\d+", tok):
        return int(tok)
    if re.fullmatch(r"-?\d+\.\d+", tok):
        return float(tok)
    if tok in ("true", "false"):
        return tok == "true"
    if tok == "nil":
        return None
    if tok == ".":
        return scope.dot
    if tok.startswith("$"):
        name, _, path = tok.partition(".")
        if name not in scope.vars:
            raise TemplateError(f"line {line}: undefined variable {name}")
        return _field(scope.vars[name], path, line) if path else scope.vars[name]
    if tok.startswith("."):
        return _field(scope.dot, tok[1:], line)
    if tok in funcs:
        return funcs[tok]()
    raise TemplateError(f'line {line}: function "{tok}" not defined')


def _field(value: Any, path: str, line: int) -> Any:
    for part in path.split("."):
        if not part:
            continue
        if isinstance(value, Mapping):
            value = value.get(part)
        elif hasattr(value, part):
            value = getattr(value, part)
        else:
            raise TemplateError(f"line {line}: can't evaluate field {part}")
    return value


def _command(cmd: list[Any], funcs: Funcs, scope: _Scope, line: int, piped: Any) -> Any:
    if not cmd:
        raise TemplateError(f"line {line}: empty command")
    head = cmd[0]
    if isinstance(head, str) and head in funcs:
        args = [_arg(t, funcs, scope, line) for t in cmd[1:]]
        if piped is not _NOTHING:
            args.append(piped)
        try:
            return funcs[head](*args)
        except (MissingData, TemplateError):
            raise
        except TypeError as exc:
            raise TemplateError(f"line {line}: wrong arguments for {head}: {exc}") from None
    if len(cmd) > 1 or piped is not _NOTHING:
        raise TemplateError(f"line {line}: {head!r} is not a function")
    return _arg(head, funcs, scope, line)
