"""The HCL functions a job file can call, evaluated through a real job file."""

from __future__ import annotations

import json
from typing import Any

import pytest

from yurt.jobspec import JobspecError, parse_job


def _eval(expr: str) -> Any:
    text = f'job "f" {{\n  meta {{\n    v = jsonencode({expr})\n  }}\n  group "g" {{\n'
    text += '    task "t" { driver = "exec" }\n  }\n}\n'
    return json.loads(parse_job(text, "f.nomad")["Meta"]["v"])


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        (
            'format("%s:%d %05.1f %q %t %x %%", "a", 7, 3.14159, "q", true, 255)',
            'a:7 003.1 "q" true ff %',
        ),
        ('format("%[2]s-%[1]s", "a", "b")', "b-a"),
        ('formatlist("%s=%s", ["a", "b"], "x")', ["a=x", "b=x"]),
        ('element(["a", "b", "c"], 4)', "b"),
        ("flatten([[1, [2]], [3]])", [1, 2, 3]),
        ("distinct([1, 1, 2])", [1, 2]),
        ("keys({ b = 1, a = 2 })", ["a", "b"]),
        ("values({ b = 1, a = 2 })", [2, 1]),
        ("range(3)", [0, 1, 2]),
        ("range(1, 7, 3)", [1, 4]),
        ("min(3, 1, 2)", 1),
        ("max(3, 1, 2)", 3),
        ("abs(-4)", 4),
        ("ceil(1.2)", 2),
        ("floor(1.8)", 1),
        ('substr("hello", 1, 3)', "ell"),
        ('regex("(\\\\d+)-(\\\\d+)", "10-20")', ["10", "20"]),
        ('regexall("[a-z]", "a1b2")', ["a", "b"]),
        ('zipmap(["a", "b"], [1, 2])', {"a": 1, "b": 2}),
        ('coalesce("", "x")', "x"),
        ('coalescelist([], ["y"])', ["y"]),
        ('compact(["a", "", "b"])', ["a", "b"]),
        ('trimprefix("v1.2", "v")', "1.2"),
        ('trimsuffix("a.txt", ".txt")', "a"),
        ('trim("--a--", "-")', "a"),
        ('chomp("line\\n")', "line"),
        ('title("hello world")', "Hello World"),
        ('strrev("abc")', "cba"),
        ('contains(["a"], "a")', True),
        ('index(["a", "b"], "b")', 1),
        ("reverse([1, 2])", [2, 1]),
        ('sort(["b", "a"])', ["a", "b"]),
        ("slice([1, 2, 3], 1, 3)", [2, 3]),
        ('tonumber("42")', 42),
        ('tobool("true")', True),
        ("tostring(5)", "5"),
        ('tolist(["a"])', ["a"]),
        ('toset(["a", "a"])', ["a"]),
        ("tomap({ a = 1 })", {"a": 1}),
        ('base64decode(base64encode("x y"))', "x y"),
        ('jsondecode("[1,2]")', [1, 2]),
        ('lookup({ a = 1 }, "b", 9)', 9),
        ("merge({ a = 1 }, { a = 2, b = 3 })", {"a": 2, "b": 3}),
        ('concat(["a"], ["b"], [])', ["a", "b"]),
        ('split(",", "a,b")', ["a", "b"]),
        ('join("-", ["a"], ["b"])', "a-b"),
        ('replace("aaa", "a", "b")', "bbb"),
        ("length({ a = 1 })", 1),
        ('upper(lower("MiX"))', "MIX"),
        ("can(1)", True),
        ('concat([["a"], ["b"]]...)', ["a", "b"]),
    ],
)
def test_function(expr: str, value: Any) -> None:
    assert _eval(expr) == value


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ('lookup({ a = 1 }, "b")', 'lookup(): the map has no key "b" and no default was given'),
        ("element([], 0)", "element(): cannot use element() with an empty list"),
        ('tonumber("x")', "tonumber(): expected a number, got string 'x'"),
        ('format("%d")', "format(): not enough arguments for format string '%d'"),
        ("nosuch(1)", 'Call to unknown function; There is no function named "nosuch".'),
        (
            "uper(1)",
            'Call to unknown function; There is no function named "uper". Did you mean "upper"?',
        ),
    ],
)
def test_function_errors(expr: str, message: str) -> None:
    with pytest.raises(JobspecError) as info:
        _eval(expr)
    assert str(info.value).endswith(message)
