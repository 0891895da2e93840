"""Diagnostics that point at a place in a job file."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Pos:
    """A 1-based line and column in a source file."""

    line: int
    column: int


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a job file: where it is and what is wrong."""

    filename: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.column}: {self.message}"


class JobspecError(Exception):
    """A job file that cannot be read; holds every diagnostic found, in file order."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.line, d.column))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class Collector:
    """Gathers diagnostics so that one pass over a file reports all its problems."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.diagnostics: list[Diagnostic] = []

    def error(self, pos: Pos, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.filename, pos.line, pos.column, message))

    def raise_if_any(self) -> None:
        if self.diagnostics:
            raise JobspecError(self.diagnostics)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A '; did you mean "x"?' suffix for the closest known name, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""
