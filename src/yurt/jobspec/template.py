"""HCL string templates: literal text, `${expr}` interpolations and the `%{if}`/`%{for}`
directives with their `~` whitespace strip markers, for quoted strings and heredocs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hcl2.api import parses_to_tree
from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from yurt.jobspec.diagnostics import Pos
from yurt.jobspec.syntax import Expr, pos_of, unescape

if TYPE_CHECKING:
    from yurt.jobspec.evaluate import Scope


@dataclass
class Segment:
    kind: str  # lit | expr | if | else | endif | for | endfor
    pos: Pos
    text: str = ""
    expr: Expr | None = None
    source: str | None = None  # the `${...}` text as written, for runtime references
    names: list[str] = field(default_factory=list)
    strip_left: bool = False
    strip_right: bool = False


def segments_from_string(parts: list[Tree[Any]]) -> list[Segment]:
    """Segments of a quoted string's lark parts."""
    out: list[Segment] = []
    for part in parts:
        inner = part.children[0]
        if isinstance(inner, Token):
            out.append(Segment("lit", pos_of(part), text=unescape(str(inner))))
            continue
        pos = pos_of(inner)
        exprs = [c for c in inner.children if isinstance(c, Tree) and c.data != "identifier"]
        tokens = [c for c in inner.children if isinstance(c, Token)]
        kinds = [t.type for t in tokens]
        strip_left = len(kinds) > 1 and kinds[1] == "STRIP_MARKER"
        strip_right = len(kinds) > 1 and kinds[-2] == "STRIP_MARKER"
        if inner.data == "interpolation":
            source = getattr(inner.meta, "source_text", None)
            out.append(Segment("expr", pos, expr=exprs[0], source=source))
        elif inner.data == "template_if_start":
            out.append(
                Segment("if", pos, expr=exprs[0], strip_left=strip_left, strip_right=strip_right)
            )
        elif inner.data == "template_for_start":
            names = [
                str(c.children[0])
                for c in inner.children
                if isinstance(c, Tree) and c.data == "identifier"
            ]
            out.append(
                Segment(
                    "for",
                    pos,
                    expr=exprs[-1],
                    names=names,
                    strip_left=strip_left,
                    strip_right=strip_right,
                )
            )
        else:
            kind = inner.data.removeprefix("template_")
            out.append(Segment(kind, pos, strip_left=strip_left, strip_right=strip_right))
    return out


_OPEN = re.compile(r"\$\$\{|%%\{|\$\{|%\{")
_FOR = re.compile(r"^for\s+([A-Za-z_][\w-]*)(?:\s*,\s*([A-Za-z_][\w-]*))?\s+in\s+(.+)$", re.S)


def segments_from_text(text: str, start: Pos) -> list[Segment]:
    """Segments of heredoc text (python-hcl2 hands a heredoc over as one raw token)."""
    from yurt.jobspec.evaluate import EvalError

    out: list[Segment] = []
    i = 0
    while True:
        m = _OPEN.search(text, i)
        if m is None:
            if i < len(text):
                out.append(Segment("lit", start, text=text[i:]))
            return out
        if m.start() > i:
            out.append(Segment("lit", start, text=text[i : m.start()]))
        tag = m.group(0)
        line = start.line + text.count("\n", 0, m.start())
        here = Pos(line, m.start() - text.rfind("\n", 0, m.start()))
        if tag in ("$${", "%%{"):
            out.append(Segment("lit", here, text=tag[1:]))
            i = m.end()
            continue
        end = matching_brace(text, m.end())
        if end < 0:
            raise EvalError(here, f'"{tag}" is not closed with "}}"')
        inner = text[m.end() : end]
        stripped = inner.strip()
        strip_left = stripped.startswith("~")
        strip_right = stripped.endswith("~")
        source = stripped.strip("~").strip()
        if tag == "${":
            out.append(
                Segment(
                    "expr", here, expr=_parse_expr(source, here), source=text[m.start() : end + 1]
                )
            )
        else:
            out.append(_directive(source, here, strip_left, strip_right))
        i = end + 1


def _directive(source: str, pos: Pos, strip_left: bool, strip_right: bool) -> Segment:
    from yurt.jobspec.evaluate import EvalError

    word = source.split(None, 1)[0] if source else ""
    if word in ("else", "endif", "endfor") and source == word:
        return Segment(word, pos, strip_left=strip_left, strip_right=strip_right)
    if word == "if":
        return Segment(
            "if",
            pos,
            expr=_parse_expr(source[2:].strip(), pos),
            strip_left=strip_left,
            strip_right=strip_right,
        )
    m = _FOR.match(source)
    if m:
        names = [n for n in (m.group(1), m.group(2)) if n]
        return Segment(
            "for",
            pos,
            expr=_parse_expr(m.group(3), pos),
            names=names,
            strip_left=strip_left,
            strip_right=strip_right,
        )
    raise EvalError(pos, f'unknown template directive "%{{{source}}}"')


def _parse_expr(source: str, pos: Pos) -> Expr:
    from yurt.jobspec.evaluate import EvalError
    from yurt.jobspec.limits import LimitError, check_nesting

    try:
        tree = parses_to_tree(f"x = {source}\n")
    except UnexpectedInput:
        raise EvalError(pos, f'invalid expression "{source}"') from None
    try:
        check_nesting(tree, "")
    except LimitError as exc:
        raise EvalError(pos, exc.diagnostics[0].message) from None
    expr: Expr = tree.children[0].children[0].children[2]
    return expr


def matching_brace(text: str, start: int) -> int:
    depth = 0
    quote = False
    i = start
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == '"':
                quote = False
        elif c == '"':
            quote = True
        elif c == "{":
            depth += 1
        elif c == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def render(segments: list[Segment], scope: Scope) -> Any:
    """Evaluate a template; a lone `${expr}` keeps its value's type, as in HCL."""

    if len(segments) == 1 and segments[0].kind == "expr" and segments[0].expr is not None:
        return _expr_value(segments[0], scope)
    _check_directive_depth(segments)
    _apply_strip(segments)
    pieces = _Pieces()
    end = _render_range(segments, 0, len(segments), scope, pieces)
    assert end == len(segments)
    return "".join(pieces)


def _expr_value(seg: Segment, scope: Scope) -> Any:
    """An interpolation's value; one that is only a runtime reference (`${attr.x}`,
    `${ NOMAD_PORT_http }`) stays as written, spaces included, as jobspec2 keeps it."""
    from yurt.jobspec.evaluate import evaluate, is_runtime_reference

    assert seg.expr is not None
    if seg.source is not None and is_runtime_reference(seg.expr, scope):
        return seg.source
    return evaluate(seg.expr, scope)


def _check_directive_depth(segments: list[Segment]) -> None:
    """%{if}/%{for} nested past the expression limit are refused: each level rescans the
    segments after it, so deep nesting would cost quadratic time."""
    from yurt.jobspec.evaluate import EvalError
    from yurt.jobspec.limits import MAX_EXPR_DEPTH

    depth = 0
    for seg in segments:
        if seg.kind in ("if", "for"):
            depth += 1
            if depth > MAX_EXPR_DEPTH:
                raise EvalError(
                    seg.pos, f"template directives are nested more than {MAX_EXPR_DEPTH} deep"
                )
        elif seg.kind in ("endif", "endfor"):
            depth -= 1


class _Pieces(list[str]):
    """A template's output so far, refused past the string limit before it is joined
    (a `%{for}` repeating a long string would otherwise build it whole first)."""

    size = 0

    def add(self, text: str, pos: Pos) -> None:
        from yurt.jobspec.evaluate import EvalError
        from yurt.jobspec.limits import MAX_STRING

        self.size += len(text)
        if self.size > MAX_STRING:
            raise EvalError(
                pos, f"this template builds a string of more than {MAX_STRING} characters"
            )
        self.append(text)


def _apply_strip(segments: list[Segment]) -> None:
    for i, seg in enumerate(segments):
        if seg.kind == "lit":
            continue
        if seg.strip_left and i > 0 and segments[i - 1].kind == "lit":
            segments[i - 1].text = segments[i - 1].text.rstrip()
        if seg.strip_right and i + 1 < len(segments) and segments[i + 1].kind == "lit":
            segments[i + 1].text = segments[i + 1].text.lstrip()


def _block_end(segments: list[Segment], start: int, opener: str) -> tuple[int | None, int]:
    """For an if/for at `start`: the index of its else (if any) and of its end."""
    from yurt.jobspec.evaluate import EvalError

    closer = "endif" if opener == "if" else "endfor"
    depth = 0
    middle: int | None = None
    for i in range(start + 1, len(segments)):
        kind = segments[i].kind
        if kind in ("if", "for"):
            depth += 1
        elif kind in ("endif", "endfor"):
            if depth == 0:
                if kind != closer:
                    raise EvalError(segments[i].pos, f"%{{{kind}}} does not close %{{{opener}}}")
                return middle, i
            depth -= 1
        elif kind == "else" and depth == 0 and opener == "if":
            middle = i
    raise EvalError(segments[start].pos, f"%{{{opener}}} has no %{{{closer}}}")


def _render_range(
    segments: list[Segment], start: int, stop: int, scope: Scope, out: _Pieces
) -> int:
    from yurt.jobspec.evaluate import EvalError, evaluate, to_string, truthy

    i = start
    while i < stop:
        seg = segments[i]
        if seg.kind == "lit":
            out.add(seg.text, seg.pos)
            i += 1
        elif seg.kind == "expr":
            assert seg.expr is not None
            out.add(to_string(_expr_value(seg, scope), seg.pos), seg.pos)
            i += 1
        elif seg.kind == "if":
            assert seg.expr is not None
            middle, end = _block_end(segments, i, "if")
            if truthy(evaluate(seg.expr, scope), seg.pos):
                _render_range(segments, i + 1, middle if middle is not None else end, scope, out)
            elif middle is not None:
                _render_range(segments, middle + 1, end, scope, out)
            i = end + 1
        elif seg.kind == "for":
            assert seg.expr is not None
            _, end = _block_end(segments, i, "for")
            collection = evaluate(seg.expr, scope)
            if isinstance(collection, dict):
                items = list(collection.items())
            elif isinstance(collection, list):
                items = list(enumerate(collection))
            else:
                raise EvalError(seg.pos, "%{for} needs a list or a map")
            for key, value in items:
                frame = (
                    {seg.names[0]: value}
                    if len(seg.names) == 1
                    else {seg.names[0]: key, seg.names[1]: value}
                )
                scope.iterators.append(frame)
                try:
                    _render_range(segments, i + 1, end, scope, out)
                finally:
                    scope.iterators.pop()
            i = end + 1
        else:
            raise EvalError(seg.pos, f"%{{{seg.kind}}} without its opening directive")
    return i
