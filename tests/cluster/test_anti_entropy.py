"""The anti-entropy decision of a client-mode catalog agent, by table: what it registers and
deregisters on the servers for its node's services and checks."""

from __future__ import annotations

from typing import Any

import pytest

from yurt.cluster.anti_entropy import Node, plan

NODE = Node("agent-1", "10.0.0.4")
WEB = {"ID": "web-1", "Service": "web", "Tags": ["urlprefix-/"], "Port": 8080, "Meta": {}}
WEB_CHECK = {"CheckID": "service:web-1", "Name": "up", "Status": "passing", "ServiceID": "web-1"}
MEM = {"CheckID": "mem", "Name": "memory", "Status": "passing", "ServiceID": ""}
THERE = {"Node": "agent-1", "Address": "10.0.0.4"}


def _reg(service: dict[str, Any] | None, checks: list[dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {**THERE, "Datacenter": "dc1"}
    if service is not None:
        body["Service"] = {k: v for k, v in service.items() if v not in (None, "")}
    if checks:
        body["Checks"] = [
            {
                **{
                    f: str(c.get(f) or "")
                    for f in ("CheckID", "Name", "Status", "Output", "Notes", "ServiceID")
                },
                "Node": "agent-1",
            }
            for c in checks
        ]
    return body


CASES: list[
    tuple[str, dict[str, Any], dict[str, Any], Any, list[Any], list[Any], list[Any], list[Any]]
] = [
    # name, local services, local checks, remote node, remote services, remote checks,
    # registered, deregistered
    ("in sync", {"web-1": WEB}, {"service:web-1": WEB_CHECK}, THERE, [WEB], [WEB_CHECK], [], []),
    ("new node", {}, {}, None, [], [], [_reg(None, [])], []),
    ("node moved", {}, {}, {**THERE, "Address": "10.0.0.9"}, [], [], [_reg(None, [])], []),
    (
        "new service with its check",
        {"web-1": WEB},
        {"service:web-1": WEB_CHECK},
        THERE,
        [],
        [],
        [_reg(WEB, [WEB_CHECK])],
        [],
    ),
    (
        "a check's status changed",
        {"web-1": WEB},
        {"service:web-1": {**WEB_CHECK, "Status": "critical"}},
        THERE,
        [WEB],
        [WEB_CHECK],
        [_reg(WEB, [{**WEB_CHECK, "Status": "critical"}])],
        [],
    ),
    (
        "a service the agent no longer has: its checks go with it",
        {},
        {},
        THERE,
        [WEB],
        [WEB_CHECK],
        [],
        [{"Node": "agent-1", "ServiceID": "web-1"}],
    ),
    (
        "a node check, new and gone",
        {},
        {"mem": MEM},
        THERE,
        [],
        [{**MEM, "CheckID": "disk"}],
        [_reg(None, [MEM])],
        [{"Node": "agent-1", "CheckID": "disk"}],
    ),
    (
        "the servers' own service and check are not the agent's",
        {"consul": {"ID": "consul", "Service": "consul"}},
        {"serfHealth": {"CheckID": "serfHealth", "Status": "passing"}},
        THERE,
        [{"ID": "consul", "Service": "consul", "Port": 8300}],
        [{"CheckID": "serfHealth", "Status": "critical"}],
        [],
        [],
    ),
]


@pytest.mark.parametrize(
    ("local_services", "local_checks", "node", "services", "checks", "register", "deregister"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_plan(
    local_services: dict[str, Any],
    local_checks: dict[str, Any],
    node: Any,
    services: list[Any],
    checks: list[Any],
    register: list[Any],
    deregister: list[Any],
) -> None:
    got = plan(NODE, local_services, local_checks, node, services, checks)
    assert got.register == register
    assert got.deregister == deregister
    assert got.empty == (not register and not deregister)
