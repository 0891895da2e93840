"""Intentions: precedence, matching and the allow/deny decision (tables), and the intention
API through py-consul, stored as `service-intentions` config entries as Consul 1.9+ does
(shapes and texts checked against consul 1.10.11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.catalog.conftest import ROOT_TOKEN
from tests.catalog.inprocess import py_consul, request, running_catalog
from yurt.catalog.config import ConsulACLConfig
from yurt.catalog.intentions import allowed, match, precedence, to_intention

PRECEDENCE = [
    ("web", "db", 9),
    ("*", "db", 8),
    ("web", "*", 6),
    ("*", "*", 5),
]


@pytest.mark.parametrize(("source", "destination", "want"), PRECEDENCE)
def test_precedence(source: str, destination: str, want: int) -> None:
    assert precedence(source, destination) == want


def _ixn(source: str, destination: str, action: str, **extra: Any) -> dict[str, Any]:
    src = {"Name": source, "Action": action, **extra}
    src["Precedence"] = precedence(source, destination)
    return to_intention(destination, src, 1, 1)


RULES = [
    _ixn("web", "db", "allow"),
    _ixn("*", "db", "deny"),
    _ixn("api", "*", "deny"),
    _ixn("ops", "db", "", Permissions=[{"Action": "allow", "HTTP": {"PathPrefix": "/"}}]),
]

DECISIONS = [
    # the exact intention beats the wildcard source
    ("web", "db", True, True),
    # the wildcard source decides for everyone else
    ("other", "db", True, False),
    # an exact destination with a wildcard source (8) beats a wildcard destination (6)
    ("api", "db", True, False),
    ("api", "cache", True, False),
    # nothing matches: the default decides
    ("web", "cache", True, True),
    ("web", "cache", False, False),
    # L7 permissions deny a connection-level check
    ("ops", "db", True, False),
]


@pytest.mark.parametrize(("source", "destination", "default", "want"), DECISIONS)
def test_allowed(source: str, destination: str, default: bool, want: bool) -> None:
    assert allowed(RULES, source, destination, default) is want


def test_match_orders_by_precedence() -> None:
    got = match(RULES, "destination", "db")
    assert [(i["SourceName"], i["Precedence"]) for i in got] == [
        ("ops", 9),
        ("web", 9),
        ("*", 8),
        ("api", 6),  # a wildcard destination matches db too
    ]
    # by source: the wildcard source matches api as well
    assert [i["DestinationName"] for i in match(RULES, "source", "api")] == ["db", "*"]


async def test_exact_api_with_py_consul(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        ixns = c.connect.intentions
        assert await ixns.upsert("web", "db", action="allow") is True
        assert await ixns.upsert("api", "db", action="deny", description="d") is True
        one = await ixns.read("api", "db")
        assert one["Action"] == "deny" and one["Description"] == "d"
        assert one["SourceNS"] == one["DestinationNS"] == "default"
        assert one["SourceType"] == "consul" and one["Precedence"] == 9
        listed = await ixns.list()
        assert [(i["SourceName"], i["Action"]) for i in listed] == [
            ("api", "deny"),
            ("web", "allow"),
        ]
        matched = await ixns.match("destination", "db")
        assert [i["SourceName"] for i in matched["db"]] == ["api", "web"]
        assert await ixns.check("web", "db") is True
        assert await ixns.check("api", "db") is False
        assert await ixns.check("x", "db") is True  # ACLs off: default allow
        # both live in the destination's service-intentions entry
        entry = await c.config.get("service-intentions", "db")
        assert [s["Name"] for s in entry["Sources"]] == ["web", "api"]
        assert await ixns.delete("api", "db") is True
        assert [i["SourceName"] for i in await ixns.list()] == ["web"]
        assert await ixns.delete("web", "db") is True
        assert await c.config.get("service-intentions", "db") is None


async def test_errors_are_consuls(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv:
        cases = [
            ("GET", "/v1/connect/intentions/exact?source=zz&destination=db", 404),
            ("GET", "/v1/connect/intentions/exact?source=web", 500),
            ("GET", "/v1/connect/intentions/check?source=q", 500),
            ("GET", "/v1/connect/intentions/match?by=x&name=db", 500),
        ]
        texts = []
        for method, path, status in cases:
            got, body, _ = await request(srv, method, path)
            assert got == status, (path, body)
            texts.append(body)
        assert texts == [
            "Intention not found",
            "required query parameter 'destination' not set",
            "required query parameter 'destination' not set",
            "'by' parameter must be one of 'source' or 'destination'",
        ]
        status, body, _ = await request(
            srv, "PUT", "/v1/connect/intentions/exact?source=web&destination=db", {"Action": "x"}
        )
        assert (status, body) == (500, "Sources[0].Action must be set to 'allow' or 'deny'")


async def test_legacy_create_answers_an_id(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv:
        body = {"SourceName": "a1", "DestinationName": "legacy", "Action": "allow"}
        status, created, _ = await request(srv, "POST", "/v1/connect/intentions", body)
        assert status == 200 and len(created["ID"]) == 36
        _, matched, _ = await request(
            srv, "GET", "/v1/connect/intentions/match?by=destination&name=legacy"
        )
        (ixn,) = matched["legacy"]
        assert ixn["ID"] == created["ID"] and ixn["CreatedAt"] == ixn["UpdatedAt"] != ""
        _, entry, _ = await request(srv, "GET", "/v1/config/service-intentions/legacy")
        assert entry["Sources"][0]["LegacyID"] == created["ID"]
        # once the exact API edited a destination, the legacy API may no longer
        await request(
            srv, "PUT", "/v1/connect/intentions/exact?source=b&destination=db", {"Action": "allow"}
        )
        status, text, _ = await request(
            srv,
            "POST",
            "/v1/connect/intentions",
            {"SourceName": "c", "DestinationName": "db", "Action": "allow"},
        )
        assert (status, text) == (
            500,
            'cannot use legacy intention API to edit intentions with a destination of "db" '
            "after editing them via a service-intentions config entry",
        )


async def test_check_defaults_to_the_acl_default_policy(tmp_path: Path) -> None:
    acl = ConsulACLConfig(enabled=True, default_policy="deny", initial_management=ROOT_TOKEN)
    async with running_catalog(tmp_path, acl) as srv, py_consul(srv, ROOT_TOKEN) as c:
        assert await c.connect.intentions.check("web", "db") is False
        await c.connect.intentions.upsert("web", "db", action="allow")
        assert await c.connect.intentions.check("web", "db") is True
        # without a token: intention:read is lacking, and the list hides what it may not see
        status, _, _ = await request(
            srv, "GET", "/v1/connect/intentions/exact?source=web&destination=db"
        )
        assert status == 403
        status, body, headers = await request(srv, "GET", "/v1/connect/intentions")
        assert (status, body) == (200, [])
        assert headers["X-Consul-Results-Filtered-By-ACLs"] == "true"
