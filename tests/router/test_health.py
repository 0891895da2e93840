"""Which instances are routed, from /v1/health/state/any (Fabio's rules)."""

from __future__ import annotations

from typing import Any

import pytest

from yurt.router.health import passing_instances


def check(node: str, cid: str, status: str, sid: str = "") -> dict[str, Any]:
    return {"Node": node, "CheckID": cid, "Status": status, "ServiceID": sid}


@pytest.mark.parametrize(
    ("checks", "status", "require_all", "want"),
    [
        ([check("n", "c1", "passing", "s1")], ("passing",), False, {("n", "s1")}),
        ([check("n", "c1", "warning", "s1")], ("passing",), False, set()),
        ([check("n", "c1", "warning", "s1")], ("passing", "warning"), False, {("n", "s1")}),
        (
            [check("n", "c1", "passing", "s1"), check("n", "c2", "critical", "s1")],
            ("passing",),
            False,
            {("n", "s1")},
        ),
        (
            [check("n", "c1", "passing", "s1"), check("n", "c2", "critical", "s1")],
            ("passing",),
            True,
            set(),
        ),
        (
            [check("n", "serfHealth", "critical"), check("n", "c1", "passing", "s1")],
            ("passing",),
            False,
            set(),
        ),
        (
            [check("n", "serfHealth", "passing"), check("n", "c1", "passing", "s1")],
            ("passing",),
            False,
            {("n", "s1")},
        ),
        (
            [check("n", "_node_maintenance", "critical"), check("n", "c1", "passing", "s1")],
            ("passing",),
            False,
            set(),
        ),
        (
            [
                check("n", "_service_maintenance:s1", "critical", "s1"),
                check("n", "c1", "passing", "s1"),
                check("n", "c2", "passing", "s2"),
            ],
            ("passing",),
            False,
            {("n", "s2")},
        ),
        # the same service id on two nodes are two instances
        (
            [check("a", "c", "passing", "s"), check("b", "c", "critical", "s")],
            ("passing",),
            False,
            {("a", "s")},
        ),
    ],
)
def test_passing_instances(
    checks: list[dict[str, Any]],
    status: tuple[str, ...],
    require_all: bool,
    want: set[tuple[str, str]],
) -> None:
    assert passing_instances(checks, status, require_all=require_all) == want
