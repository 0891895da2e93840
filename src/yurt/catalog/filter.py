"""The `?filter=` expressions of Consul's API (go-bexpr), evaluated on answer objects.

Supported: `Sel == "v"`, `Sel != "v"`, `"v" in Sel`, `"v" not in Sel`, `Sel contains "v"`,
`Sel not contains "v"`, `Sel matches "re"`, `Sel not matches "re"`, `Sel is empty`,
`Sel is not empty`, combined with `and`, `or`, `not` and parentheses. A selector is a
dotted path into the JSON answer (`ServiceMeta.version`, `Service.Tags`, `Node.Node`), with
`["key"]` for map keys that hold dots (`ServiceMeta["team.name"]`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import regex

from yurt.api.errors import APIError

Predicate = Callable[[Any], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`)
      | (?P<op>==|!=|\(|\)|\[|\])
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_.\-/]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "contains", "matches", "is", "empty"}


# Parentheses and `not` nest by recursion, in the parser and in the predicate it builds; Go's
# parser has no such bound, Python's stack has (a 1,000-deep filter was a 500).
MAX_DEPTH = 100


def compile_filter(text: str) -> Predicate:
    try:
        return _Parser(text).parse()
    except _FilterSyntaxError as exc:
        raise APIError.bad_request(
            f"Failed to create boolean expression evaluator: {exc}"
        ) from None


# Consul's regular expressions (Go's RE2) run in linear time; Python's backtrack, so a
# pattern such as `(a|aa)+b` could hold the event loop for minutes. One match may take this
# long; a pattern that needs more is refused, with the request, as too expensive.
MATCH_TIMEOUT = 0.02


def _matches(rx: Any, pattern: str, text: str) -> bool:
    try:
        return rx.search(text, timeout=MATCH_TIMEOUT) is not None
    except TimeoutError:
        raise APIError.bad_request(
            f"Failed to evaluate the filter: regular expression {pattern!r} takes too "
            f"long to match (more than {MATCH_TIMEOUT * 1000:.0f} ms on one value)"
        ) from None


class _FilterSyntaxError(Exception):
    pass


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _FilterSyntaxError(f"unexpected {text[pos:].strip()[:20]!r} at column {pos + 1}")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        value = m.group(kind)
        if kind == "str":
            inner = value[1:-1]
            value = re.sub(r"\\(.)", r"\1", inner) if value.startswith('"') else inner
        elif kind == "word" and value in _KEYWORDS:
            kind = "kw"
        tokens.append((kind, value))
    return tokens


def _select(obj: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            return None
    return obj


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _contains(container: Any, value: str) -> bool:
    if isinstance(container, list):
        return any(_as_text(v) == value for v in container)
    if isinstance(container, dict):
        return value in container
    if isinstance(container, str):
        return value in container
    return False


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0

    def parse(self) -> Predicate:
        if not self.tokens:
            raise _FilterSyntaxError("empty expression")
        pred = self._or()
        if self.pos != len(self.tokens):
            raise _FilterSyntaxError(f"unexpected {self.tokens[self.pos][1]!r}")
        return pred

    def _peek(self, offset: int = 0) -> tuple[str, str] | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        tok = self._peek()
        if tok is None:
            raise _FilterSyntaxError("unexpected end of expression")
        self.pos += 1
        return tok

    def _accept_kw(self, word: str) -> bool:
        if self._peek() == ("kw", word):
            self.pos += 1
            return True
        return False

    def _or(self) -> Predicate:
        # A flat list, not nested closures: a chain of 2,000 `or`s must not recurse 2,000 deep.
        preds = [self._and()]
        while self._accept_kw("or"):
            preds.append(self._and())
        if len(preds) == 1:
            return preds[0]
        return lambda o: any(p(o) for p in preds)

    def _and(self) -> Predicate:
        preds = [self._unary()]
        while self._accept_kw("and"):
            preds.append(self._unary())
        if len(preds) == 1:
            return preds[0]
        return lambda o: all(p(o) for p in preds)

    def _unary(self) -> Predicate:
        negated = self._accept_kw("not")
        if negated or self._peek() == ("op", "("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _FilterSyntaxError(
                    f"expression is nested more than {MAX_DEPTH} levels deep "
                    f"(parentheses and 'not') at token {self.pos}"
                )
            try:
                if negated:
                    inner = self._unary()
                    return lambda o: not inner(o)
                self.pos += 1
                inner = self._or()
                if self._take() != ("op", ")"):
                    raise _FilterSyntaxError("expected ')'")
                return inner
            finally:
                self.depth -= 1
        return self._match()

    def _value(self) -> str:
        kind, value = self._take()
        if kind not in ("str", "num", "word"):
            raise _FilterSyntaxError(f"expected a value, got {value!r}")
        return value

    def _match(self) -> Predicate:
        first = self._take()
        nxt = self._peek()
        # "value" [not] in Selector
        if nxt == ("kw", "in") or (nxt == ("kw", "not") and self._peek(1) == ("kw", "in")):
            negate = self._accept_kw("not")
            self._accept_kw("in")
            sel = self._selector(self._take())
            value = first[1]
            return lambda o: _contains(_select(o, sel), value) != negate
        sel = self._selector(first)
        tok = self._take()
        if tok == ("op", "=="):
            value = self._value()
            return lambda o: _as_text(_select(o, sel)) == value
        if tok == ("op", "!="):
            value = self._value()
            return lambda o: _as_text(_select(o, sel)) != value
        negate = False
        if tok == ("kw", "not"):
            negate = True
            tok = self._take()
        if tok == ("kw", "contains"):
            value = self._value()
            return lambda o: _contains(_select(o, sel), value) != negate
        if tok == ("kw", "matches"):
            pattern = self._value()
            try:
                rx = regex.compile(pattern)
            except regex.error as exc:
                raise _FilterSyntaxError(f"invalid regular expression {pattern!r}: {exc}") from None
            return lambda o: _matches(rx, pattern, _as_text(_select(o, sel))) != negate
        if tok == ("kw", "is") and not negate:
            negate = self._accept_kw("not")
            if not self._accept_kw("empty"):
                raise _FilterSyntaxError("expected 'empty' after 'is'")
            return lambda o: (not _select(o, sel)) != negate
        raise _FilterSyntaxError(f"unexpected {tok[1]!r} after selector {'.'.join(sel)!r}")

    def _selector(self, first: tuple[str, str]) -> tuple[str, ...]:
        """`Service.Meta.version` or `ServiceMeta["some.key"]`, as a path of names."""
        kind, word = first
        if kind != "word":
            raise _FilterSyntaxError(f"expected a selector, got {word!r}")
        path = word.split(".")
        while self._peek() == ("op", "["):
            self.pos += 1
            kind, key = self._take()
            if kind != "str" or self._take() != ("op", "]"):
                raise _FilterSyntaxError(f'expected ["key"] after {".".join(path)!r}')
            path.append(key)
        return tuple(path)
