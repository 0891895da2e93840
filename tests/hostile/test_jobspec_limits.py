"""Hostile job files end in a diagnostic at file:line:column, never a crash or a stall."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yurt.jobspec import JobspecError, parse_job
from yurt.jobspec import limits as lim
from yurt.jobspec.functions import functions


def _job(locals_expr: str = "1", *, config_blocks: int = 0) -> str:
    nested = "x {\n" * config_blocks + "}\n" * config_blocks
    return (
        f"locals {{ a = {locals_expr} }}\n"
        'job "j" {\n  group "g" {\n    task "t" {\n      driver = "raw_exec"\n'
        f"      config {{\n{nested}      }}\n    }}\n  }}\n}}\n"
    )


def _error(text: str) -> str:
    started = time.monotonic()
    with pytest.raises(JobspecError) as info:
        parse_job(text, "in.hcl")
    # Refused by a limit, at the latest when the evaluator's clock runs out.
    assert time.monotonic() - started < lim.EVAL_SECONDS + 2
    return str(info.value)


N = lim.MAX_EXPR_DEPTH
RAW = lim.MAX_RAW_NESTING
RAW_MSG = f"brackets, braces and parentheses are nested more than {RAW} deep"

# (name, expression nested N deep: accepted, the same one level deeper: refused)
NESTING = [
    ("parentheses", lambda n: "(" * n + "1" + ")" * n),
    ("tuples", lambda n: "[" * n + "1" + "]" * n),
    ("objects", lambda n: "{a=" * n + "1" + "}" * n),
    ("calls", lambda n: "abs(" * n + "1" + ")" * n),
    ("operators", lambda n: "+".join(["1"] * (n + 1))),
    ("interpolations", lambda n: '"${' * n + "1" + '}"' * n),
    ("conditionals", lambda n: "true ? " * n + "1" + " : 2" * n),
    ("for expressions", lambda n: "[for x in " * (n - 1) + "[1]" + " : x]" * (n - 1)),
]


@pytest.mark.parametrize(("name", "make"), NESTING, ids=[n for n, _ in NESTING])
def test_expression_nesting_is_bounded_at_the_limit(name: str, make: object) -> None:
    assert callable(make)
    # At the limit, inside the deepest blocks allowed: read normally, no RecursionError.
    job = parse_job(_job(make(N), config_blocks=lim.MAX_BLOCK_DEPTH - 5), "in.hcl")
    assert job["ID"] == "j"
    message = _error(_job(make(N + 1)))
    assert message.startswith("in.hcl:1:")
    assert f"nested more than {N} levels deep" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The cases, 5,000 nested parentheses and 10,000 nested blocks, are refused
        # by the raw bracket count before the (slow on deep input) parse.
        (
            "locals { a = " + "(" * 5000 + "1" + ")" * 5000 + " }\n",
            f"in.hcl:1:{RAW + 13}: {RAW_MSG}",
        ),
        (
            'job "x" {\n' + "a {\n" * 10_000 + "}\n" * 10_000 + "}\n",
            f"in.hcl:{RAW + 1}:3: {RAW_MSG}",
        ),
        (
            "locals { a = " + "[" * 100_000 + "]" * 100_000 + " }\n",
            f"in.hcl:1:{RAW + 13}: {RAW_MSG}",
        ),
        # Under the raw bound, the syntax tree's precise limits answer.
        (
            'job "x" {\n' + "a {\n" * 40 + "}\n" * 40 + "}\n",
            f"in.hcl:{lim.MAX_BLOCK_DEPTH + 1}:1: blocks are nested more than 32 deep",
        ),
        ("locals { a = " + "(" * 500 + "1" + ")" * 500 + " }\n", "in.hcl:1:114: this expression"),
        ("locals { a = " + "-" * 5000 + "1 }\n", "in.hcl:"),
        ("locals { a = " + "+".join(["1"] * 5000) + " }\n", "in.hcl:1:"),
        ('{"job": {"x": ' + "[" * 5000 + "]" * 5000 + "}}", "in.hcl:1:"),
    ],
    ids=[
        "parens",
        "blocks",
        "tuples",
        "blocks-40",
        "parens-500",
        "unary",
        "binary-chain",
        "json-arrays",
    ],
)
def test_deep_input_is_a_diagnostic_with_a_position(text: str, expected: str) -> None:
    assert _error(text).startswith(expected)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("range(20000000)", "in.hcl:1:14: range(): more than 1024 values were generated"),
        ("range(0, 1, 0.0000001)", "range(): more than 1024 values were generated"),
        ("range(0, 5, 0)", "range(): step must not be zero"),
        ('format("%999999999d", 1)', "format(): width or precision"),
        ('format("%.999999999f", 1)', "format(): width or precision"),
        (
            'replace(join("", [for i in range(1000): "xxxxxxxxxx"]), "", '
            'join("", [for i in range(1000): "yyyy"]))',
            "replace(): the result would be",
        ),
        (
            "99999999999999999999999 * 99999999999999999999999 * 99999999999999999999999 "
            "* 99999999999999999999999 * 99999999999999999999999 * 99999999999999999999999 "
            "* 99999999999999999999999",
            "this number is larger than 2^512",
        ),
        ("1" * 5000, "this number is larger than 2^512"),
        ('jsondecode("' + "[" * 5000 + "]" * 5000 + '")', "nested more than"),
        (
            "[for i in range(1000): [for j in range(1000): [for k in range(1000): k]]]",
            "evaluating this file takes more than",
        ),
    ],
    ids=[
        "range-huge",
        "range-small-step",
        "range-zero-step",
        "format-width",
        "format-precision",
        "replace-blowup",
        "bignum",
        "long-literal",
        "jsondecode-deep",
        "for-cube",
    ],
)
def test_costly_values_are_refused(expr: str, expected: str) -> None:
    assert expected in _error(_job(expr))


def test_strings_doubled_by_locals_are_refused_before_they_are_built() -> None:
    names = [f"s{i}" for i in range(40)]
    lines = ['s0 = "0123456789abcdef"'] + [
        f'{names[i]} = "${{local.{names[i - 1]}}}${{local.{names[i - 1]}}}"' for i in range(1, 40)
    ]
    text = "locals {\n" + "\n".join(lines) + "\n}\n" + _job('"${local.s39}"')
    assert "builds a string of" in _error(text)


def test_template_loops_stop_at_the_string_limit() -> None:
    text = 'locals { s = join("", [for i in range(1000): "0123456789"]) }\n' + _job(
        '"%{ for i in range(1000) }${local.s}%{ endfor }"'
    )
    assert "more than" in _error(text) and "characters" in _error(text)


def test_a_reference_chain_of_locals_is_bounded() -> None:
    n = 3000
    text = "".join(f"locals {{ a{i} = local.a{i + 1} }}\n" for i in range(n))
    text += f"locals {{ a{n} = 1 }}\n" + _job("local.a0")
    assert f"locals refer to one another more than {N} deep" in _error(text)


def test_brackets_in_strings_count_toward_the_raw_bound_only_past_it() -> None:
    balanced = '"' + "[" * 900 + '"'
    assert parse_job(_job(balanced), "in.hcl")["ID"] == "j"
    assert RAW_MSG in _error("# " + "(" * (RAW + 1) + "\n" + _job())


def test_a_file_past_the_size_limit_is_refused_at_once() -> None:
    text = "# " + "x" * lim.MAX_SOURCE_BYTES + "\n" + _job()
    assert "job files are limited to" in _error(text)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((3,), [0, 1, 2]),
        ((1, 4), [1, 2, 3]),
        ((4, 1), [4, 3, 2]),  # the step defaults to -1 when the limit is below the start
        ((0, 10, 4), [0, 4, 8]),
        ((10, 0, -4), [10, 6, 2]),
        ((0,), []),
        ((lim.MAX_RANGE,), list(range(lim.MAX_RANGE))),
    ],
)
def test_range_follows_cty(args: tuple[int, ...], expected: list[int]) -> None:
    assert functions(None)["range"](*args) == expected


def test_range_refuses_a_step_against_the_direction() -> None:
    with pytest.raises(ValueError, match="step must be negative"):
        functions(None)["range"](5, 1, 1)


# Fragments that make job files in every shape the grammar and the evaluator know, and
# many they do not: Hypothesis glues them into files.
_FRAGMENTS = [
    'job "j" {',
    "}",
    'group "g" {',
    'task "t" {',
    'driver = "raw_exec"',
    "config {",
    "locals {",
    "a = ",
    "b = ",
    "local.a",
    "local.b",
    "var.x",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "range(",
    "10",
    "1e9",
    ",",
    ":",
    "?",
    "for i in ",
    "if",
    '"${',
    '}"',
    '"',
    "%{",
    "~",
    "<<EOT\n",
    "\nEOT\n",
    "+",
    "*",
    "-",
    "!",
    "==",
    "&&",
    "jsondecode(",
    "format(",
    '"%s"',
    "join(",
    "replace(",
    "regex(",
    "\n",
    " ",
    'dynamic "x" {',
    "for_each = ",
    "content {",
    "null",
    "true",
    "1000000",
    "...",
    ".*",
    "[*]",
    "#",
    "//",
    "/*",
    "*/",
    "\\",
    "\x00",
    "é",
]


@settings(
    max_examples=150,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=60).map("".join))
def test_any_text_is_a_job_or_a_diagnostic(text: str) -> None:
    started = time.monotonic()
    try:
        job = parse_job(text, "fuzz.hcl")
    except JobspecError as exc:
        assert exc.diagnostics
        assert all(d.line >= 1 and d.column >= 1 for d in exc.diagnostics)
    else:
        assert isinstance(job, dict)
    assert time.monotonic() - started < lim.EVAL_SECONDS + 2
