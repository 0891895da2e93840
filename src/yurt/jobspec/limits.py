"""The bounds on what one job file may cost: size, nesting, values and evaluation work.

A job file is code a stranger can send (`POST /v1/jobs/parse`), so reading it must end
quickly with a diagnostic, whatever it holds. HCL's Go implementation leans on Go's
growable stacks and cty's caps; Python has a fixed recursion limit, so nesting is measured
on the syntax tree (without recursing) before anything walks it, and evaluation counts its
steps and the size of what it builds.

Where the real products bound something, yurt uses their number (range: 1,024 elements,
as Terraform/cty). The others are yurt's own, chosen far above what real job files use.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import accumulate, islice
from typing import Any

from lark import Token, Tree

from yurt.jobspec.diagnostics import Diagnostic, JobspecError, Pos

# A job file's text (HCL or JSON), and each var file's.
MAX_SOURCE_BYTES = 1024 * 1024
# Blocks inside blocks: job > group > task > config > ... is 4 deep in practice.
MAX_BLOCK_DEPTH = 32
# Parentheses, brackets, braces, calls, operators and interpolations inside one another.
MAX_EXPR_DEPTH = 100
# Arrays and objects inside one another in a job file in HCL's JSON syntax.
MAX_JSON_DEPTH = 128
# Terraform's and cty's range() limit.
MAX_RANGE = 1024
# The largest list or map one expression may build.
MAX_COLLECTION = 100_000
# The longest string one expression may build (characters).
MAX_STRING = 4 * 1024 * 1024
# All the strings evaluation builds, together (characters).
MAX_TOTAL_STRING = 64 * 1024 * 1024
# Integers beyond this many bits (cty numbers are 512-bit floats) are refused.
MAX_NUMBER_BITS = 512
# The job a file decodes to, as JSON text (characters).
MAX_JOB_SIZE = 16 * 1024 * 1024
# Expression nodes evaluated for one file.
MAX_STEPS = 2_000_000
# Wall time for evaluating one file, checked between steps.
EVAL_SECONDS = 5.0

# Lark nodes that only wrap another and so add no nesting a user wrote.
_WRAPPERS = frozenset(
    {
        "start",
        "body",
        "attribute",
        "expr_term",
        "object_elem",
        "object_elem_key",
        "arguments",
        "string_part",
        "interpolation",
        "binary_term",
        "binary_operator",
        "for_intro",
        "for_cond",
        "new_line_or_comment",
        "identifier",
        # Leaves: a literal adds no level.
        "int_lit",
        "float_lit",
        "literal_value",
        "template_string",
        "heredoc_template",
        "heredoc_template_trim",
    }
)


class LimitError(JobspecError):
    """A job file that exceeds one of the bounds above; never caught as an EvalError, so
    evaluation stops at once instead of reporting the same exhaustion everywhere."""

    def __init__(self, filename: str, pos: Pos, message: str) -> None:
        super().__init__([Diagnostic(filename, pos.line, pos.column, message)])


def check_source_size(text: str, filename: str) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise LimitError(
            filename,
            Pos(1, 1),
            f"the file is {size} bytes long; job files are limited to {MAX_SOURCE_BYTES} bytes",
        )


# Brackets, braces and parentheses open at once in the raw text, strings and comments
# included: a coarse bound checked before lark, whose parse of deep input is slow.
MAX_RAW_NESTING = 1000
_BRACKETS = re.compile(r"[\[\](){}]")
_DELTA = {"[": 1, "(": 1, "{": 1, "]": -1, ")": -1, "}": -1}


def check_raw_nesting(text: str, filename: str) -> None:
    """Refuse text whose brackets alone nest past MAX_RAW_NESTING, before parsing it.

    Counted in C (findall, accumulate), so it costs milliseconds on the largest file; the
    precise checks on the syntax tree (check_nesting) come after the parse."""
    found = _BRACKETS.findall(text)
    if len(found) <= MAX_RAW_NESTING:
        return
    depths = list(accumulate(map(_DELTA.__getitem__, found)))
    if max(depths) <= MAX_RAW_NESTING:
        return
    nth = next(i for i, d in enumerate(depths) if d > MAX_RAW_NESTING)
    m = next(islice(_BRACKETS.finditer(text), nth, None))
    at = m.start()
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    raise LimitError(
        filename,
        Pos(line, column),
        f"brackets, braces and parentheses are nested more than {MAX_RAW_NESTING} deep",
    )


def _pos(node: Tree[Any]) -> Pos:
    meta = node.meta
    if getattr(meta, "empty", True):
        return Pos(1, 1)
    return Pos(meta.line, meta.column)


def node_pos(node: Any) -> Pos:
    """Where an expression node starts (its first token's place when it has no meta)."""
    current = node
    while True:
        if isinstance(current, Token):
            return Pos(current.line or 1, current.column or 1)
        if not isinstance(current, Tree):
            return Pos(1, 1)
        if not getattr(current.meta, "empty", True):
            return Pos(current.meta.line, current.meta.column)
        children = [c for c in current.children if isinstance(c, Tree | Token)]
        if not children:
            return Pos(1, 1)
        current = children[0]


def check_nesting(tree: Tree[Any], filename: str, *, line_offset: int = 0) -> None:
    """Raise LimitError at the first block or expression nested past the limits.

    Iterative on purpose: a recursive walk is what a hostile file would overflow."""
    stack: list[tuple[Tree[Any], int, int, Pos]] = [(tree, 0, 0, Pos(1, 1))]
    while stack:
        node, blocks, exprs, where = stack.pop()
        if node.data == "block":
            blocks += 1
            if blocks > MAX_BLOCK_DEPTH:
                p = _shift(_pos(node), where, line_offset)
                raise LimitError(
                    filename,
                    p,
                    f"blocks are nested more than {MAX_BLOCK_DEPTH} deep",
                )
        elif node.data not in _WRAPPERS or (node.data == "expr_term" and _is_parenthesized(node)):
            exprs += 1
            if exprs > MAX_EXPR_DEPTH:
                p = _shift(_pos(node), where, line_offset)
                raise LimitError(
                    filename,
                    p,
                    f"this expression is nested more than {MAX_EXPR_DEPTH} levels deep "
                    "(parentheses, brackets, braces, calls, operators or interpolations)",
                )
        here = where if getattr(node.meta, "empty", True) else _pos(node)
        for child in node.children:
            if isinstance(child, Tree):
                stack.append((child, blocks, exprs, here))


def _is_parenthesized(node: Tree[Any]) -> bool:
    first = node.children[0] if node.children else None
    return first is not None and not isinstance(first, Tree) and str(first) == "("


def _shift(pos: Pos, fallback: Pos, line_offset: int) -> Pos:
    p = pos if pos != Pos(1, 1) else fallback
    return Pos(p.line + line_offset, p.column)


@dataclass
class Budget:
    """The evaluation work left for one file."""

    filename: str
    steps: int = MAX_STEPS
    chars: int = MAX_TOTAL_STRING
    deadline: float = 0.0

    def __post_init__(self) -> None:
        if not self.deadline:
            self.deadline = time.monotonic() + EVAL_SECONDS

    def step(self, node: Any) -> None:
        """Count one evaluation step of `node` (an expression node)."""
        self.steps -= 1
        if self.steps < 0:
            raise LimitError(
                self.filename,
                node_pos(node),
                f"evaluating this file takes more than {MAX_STEPS} steps; simplify its expressions",
            )
        # The clock is read every 4,096 steps: cheap, and still well inside the deadline.
        if self.steps & 0xFFF == 0 and time.monotonic() > self.deadline:
            raise LimitError(
                self.filename,
                node_pos(node),
                f"evaluating this file takes more than {EVAL_SECONDS:g} seconds",
            )

    def check_value(self, value: Any, node: Any) -> None:
        """Refuse a value that `node` built past the size limits."""
        pos = node_pos(node)
        if isinstance(value, str):
            n = len(value)
            if n > MAX_STRING:
                raise LimitError(
                    self.filename,
                    pos,
                    f"this expression builds a string of {n} characters; the limit is {MAX_STRING}",
                )
            self.chars -= n
            if self.chars < 0:
                raise LimitError(
                    self.filename,
                    pos,
                    f"evaluating this file builds more than {MAX_TOTAL_STRING} characters "
                    "of strings",
                )
        elif isinstance(value, list | dict):
            if len(value) > MAX_COLLECTION:
                raise LimitError(
                    self.filename,
                    pos,
                    f"this expression builds a collection of {len(value)} elements; "
                    f"the limit is {MAX_COLLECTION}",
                )
        elif (
            isinstance(value, int)
            and not isinstance(value, bool)
            and value.bit_length() > MAX_NUMBER_BITS
        ):
            raise LimitError(self.filename, pos, f"this number is larger than 2^{MAX_NUMBER_BITS}")


def size_exceeds(value: Any, cap: int) -> bool:
    """Whether `value` as JSON text would be longer than `cap` characters (roughly: strings,
    numbers and one character per element). Stops as soon as it knows, so a value made of
    many references to one big string costs at most `cap` steps."""
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v) + 2
        elif isinstance(v, dict):
            total += 2
            for k, item in v.items():
                total += len(k) + 4
                stack.append(item)
        elif isinstance(v, list):
            total += 2 + len(v)
            stack.extend(v)
        else:
            total += 4
        if total > cap:
            return True
    return False


_current: ContextVar[Budget | None] = ContextVar("yurt_jobspec_budget", default=None)


def current() -> Budget | None:
    return _current.get()


@contextmanager
def budget(filename: str) -> Iterator[Budget]:
    """Evaluation inside this block is bounded by one Budget (nested uses share it)."""
    existing = _current.get()
    if existing is not None:
        yield existing
        return
    b = Budget(filename)
    token = _current.set(b)
    try:
        yield b
    finally:
        _current.reset(token)
