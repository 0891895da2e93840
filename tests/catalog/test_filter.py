"""The ?filter= expression evaluator."""

from __future__ import annotations

import pytest

from yurt.api.errors import APIError
from yurt.catalog.filter import compile_filter

ROW = {
    "ServiceName": "web",
    "ServiceTags": ["a", "urlprefix-/x"],
    "ServiceMeta": {"version": "2", "env": "prod", "team.name": "core"},
    "ServicePort": 8080,
    "Node": "n1",
    "Empty": [],
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('ServiceName == "web"', True),
        ('ServiceName != "web"', False),
        ("ServicePort == 8080", True),
        ('ServiceMeta.version == "2"', True),
        ('ServiceMeta.missing == "2"', False),
        ('"a" in ServiceTags', True),
        ('"b" not in ServiceTags', True),
        ('ServiceTags contains "urlprefix-/x"', True),
        ('ServiceName matches "^w.b$"', True),
        ('ServiceName not matches "^x"', True),
        ("Empty is empty", True),
        ("ServiceTags is not empty", True),
        ('ServiceName == "web" and Node == "n2"', False),
        ('ServiceName == "web" and (Node == "n2" or Node == "n1")', True),
        ('not ServiceName == "db"', True),
        ("ServiceMeta.env == `prod`", True),
        ('ServiceMeta["team.name"] == "core"', True),
        ('ServiceMeta["env"] != "prod"', False),
        ('"core" in ServiceMeta["team.name"]', True),
    ],
)
def test_expressions(expr: str, expected: bool) -> None:
    assert compile_filter(expr)(ROW) is expected


@pytest.mark.parametrize(
    "expr",
    [
        "",
        "ServiceName ==",
        'ServiceName = "x"',
        '(ServiceName == "x"',
        'X matches "["',
        'ServiceMeta[env] == "x"',
    ],
)
def test_syntax_errors_are_400(expr: str) -> None:
    with pytest.raises(APIError) as err:
        compile_filter(expr)
    assert err.value.status == 400


def test_a_catastrophic_regular_expression_is_a_400_not_a_stalled_loop() -> None:
    import time

    pred = compile_filter('ServiceName matches "(a|aa)+b"')
    started = time.monotonic()
    with pytest.raises(APIError) as err:
        pred({**ROW, "ServiceName": "a" * 60})
    assert time.monotonic() - started < 1.0  # unbounded, this takes minutes
    assert err.value.status == 400
    assert "takes too long to match" in err.value.message
    # an ordinary pattern is unaffected
    assert compile_filter('ServiceName matches "^w.b$"')(ROW) is True
