"""Fabio's route command language: `route add|del|weight ...` lines.

The forms and their regular expressions follow Fabio's documented grammar (any run of
whitespace separates words). A syntax error names its line, so the caller can keep the last
good table and report where the new text is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from sys import intern
from types import MappingProxyType

# The options of a command that has none, shared (read only).
NO_OPTS: Mapping[str, str] = MappingProxyType({})


class Cmd(StrEnum):
    ADD = "route add"
    DEL = "route del"
    WEIGHT = "route weight"


@dataclass(frozen=True, slots=True)
class RouteDef:
    """One parsed command. Empty strings mean "not given"."""

    cmd: Cmd
    service: str = ""
    src: str = ""
    dst: str = ""
    weight: float = 0.0
    tags: tuple[str, ...] = ()
    opts: Mapping[str, str] = field(default_factory=lambda: NO_OPTS)  # read only: targets share it


class RouteSyntaxError(ValueError):
    """A command that does not parse: `line` is 1-based within the text given."""

    def __init__(self, line: int, message: str, *, source: str = "") -> None:
        self.line = line
        self.message = message
        self.source = source
        where = f"{source}:{line}" if source else f"line {line}"
        super().__init__(f"{where}: {message}")


def _flex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace(" ", r"\s+"))


_IS_ADD = re.compile(r"^route\s+add")
_IS_DEL = re.compile(r"^route\s+del")
_IS_WEIGHT = re.compile(r"^route\s+weight")
_IS_COMMENT = re.compile(r"^(#|//)")

_ADD = _flex(r'^route add (\S+) (\S+) (\S+)( weight (\S+))?( tags "([^"]*)")?( opts "([^"]*)")?$')
_DEL = _flex(r"^route del (\S+)( (\S+)( (\S+))?)?$")
_DEL_SVC_TAGS = _flex(r'^route del (\S+) tags "([^"]*)"$')
_DEL_TAGS = _flex(r'^route del tags "([^"]*)"$')
_WEIGHT_SVC = _flex(r'^route weight (\S+) (\S+) weight (\S+)( tags "([^"]*)")?$')
_WEIGHT_SRC = _flex(r'^route weight (\S+) weight (\S+) tags "([^"]*)"$')


def parse(text: str, *, source: str = "") -> list[RouteDef]:
    """Every command of `text` in order; raise RouteSyntaxError at the first bad line."""
    defs: list[RouteDef] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or _IS_COMMENT.match(line):
            continue
        try:
            defs.append(parse_line(line))
        except ValueError as exc:
            raise RouteSyntaxError(number, str(exc), source=source) from None
    return defs


def parse_line(line: str) -> RouteDef:
    """One command (already stripped); ValueError with Fabio's message if it is invalid."""
    if _IS_ADD.match(line):
        if m := _ADD.match(line):
            # Interned: a table of 30,000 targets holds each name and address many times.
            return RouteDef(
                Cmd.ADD,
                service=intern(m[1]),
                src=intern(m[2]),
                dst=intern(m[3]),
                weight=_weight(m[5]),
                tags=parse_tags(m[7]),
                opts=parse_opts(m[9]),
            )
        raise ValueError("syntax error: 'route add' invalid")
    if _IS_DEL.match(line):
        if m := _DEL_SVC_TAGS.match(line):
            return RouteDef(Cmd.DEL, service=m[1], tags=parse_tags(m[2]))
        if m := _DEL_TAGS.match(line):
            return RouteDef(Cmd.DEL, tags=parse_tags(m[1]))
        if m := _DEL.match(line):
            return RouteDef(Cmd.DEL, service=m[1], src=m[3] or "", dst=m[5] or "")
        raise ValueError("syntax error: 'route del' invalid")
    if _IS_WEIGHT.match(line):
        if m := _WEIGHT_SVC.match(line):
            return RouteDef(
                Cmd.WEIGHT, service=m[1], src=m[2], weight=_weight(m[3]), tags=parse_tags(m[5])
            )
        if m := _WEIGHT_SRC.match(line):
            return RouteDef(Cmd.WEIGHT, src=m[1], weight=_weight(m[2]), tags=parse_tags(m[3]))
        raise ValueError("syntax error: 'route weight' invalid")
    raise ValueError(
        f"syntax error: expected 'route add', 'route del' or 'route weight', got {line!r}"
    )


def _weight(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"syntax error: weight value invalid: {text!r}") from None


def parse_tags(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(t.strip() for t in text.split(","))


def parse_opts(text: str | None) -> Mapping[str, str]:
    if not text:
        return NO_OPTS
    opts: dict[str, str] = {}
    for item in text.split():
        key, _, value = item.partition("=")
        opts[key] = value
    return opts


def quote(text: str) -> str:
    """Go's strconv.Quote for the ASCII text route commands carry."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
