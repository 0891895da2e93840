"""The router's UI address (Fabio's :9998) served in-process: its route tables, the status
endpoints, the routing table as JSON and as commands, and the manual routes' answers that
need no catalog (static backend, read-only UI, dot segments). The manual routes against a
real catalog are in test_admin_input.py and test_router_live.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from yurt import __version__
from yurt.router.admin import API, build_app
from yurt.router.config import RouterConfig
from yurt.router.server import Router
from yurt.router.table import Table

# Fabio's API on the UI address, with the methods each answers.
EXPECTED = {
    ("GET", "/health"),
    ("GET", "/api/version"),
    ("GET", "/api/config"),
    ("GET", "/api/routes"),
    ("GET", "/api/paths"),
    ("GET", "/api/manual"),
    ("PUT", "/api/manual"),
    ("GET", "/api/manual/{key}"),
    ("PUT", "/api/manual/{key}"),
}

Client = TestClient[Any, Any]


@asynccontextmanager
async def _serve(**settings: Any) -> AsyncIterator[tuple[Router, Client]]:
    # An unreachable catalog: nothing here may need one.
    router = Router(RouterConfig(consul_addr="127.0.0.1:1", register=False, **settings))
    try:
        async with TestClient(TestServer(build_app(router))) as client:
            yield router, client
    finally:
        await router.consul.close()


@pytest.fixture
async def static() -> AsyncIterator[tuple[Router, Client]]:
    async with _serve(registry_backend="static") as served:
        yield served


def test_the_tables_declare_fabios_ui_api() -> None:
    declared = [(m, r.path.replace("{key:.*}", "{key}")) for r in API for m in r.methods]
    assert len(declared) == len(set(declared))
    assert set(declared) == EXPECTED


async def test_status_endpoints(static: tuple[Router, Client]) -> None:
    router, client = static
    health = await client.get("/health")
    assert (health.status, await health.text()) == (200, "OK")
    version = await client.get("/api/version")
    assert await version.text() == f"1.7.0 (yurt {__version__})\n"
    config = await client.get("/api/config")
    assert await config.json() == router.config.api_config()


async def test_the_routing_table_as_json_and_as_commands(static: tuple[Router, Client]) -> None:
    router, client = static
    empty = await client.get("/api/routes")
    assert await empty.json() is None  # Fabio's answer for an empty table
    router.settings.table = Table.from_text("route add web /web http://10.0.0.1:80/\n")
    listed = await (await client.get("/api/routes")).json()
    assert [(r["service"], r["src"], r["dst"]) for r in listed] == [
        ("web", "/web", "http://10.0.0.1:80/")
    ]
    pretty = await (await client.get("/api/routes?pretty")).text()
    assert pretty.startswith("[\n    {")
    raw = await client.get("/api/routes?raw")
    assert raw.content_type == "text/plain"
    assert (await raw.text()).startswith("route add web /web http://10.0.0.1:80/")


async def test_a_static_router_has_no_manual_routes(static: tuple[Router, Client]) -> None:
    _, client = static
    assert await (await client.get("/api/paths")).json() == []
    read = await client.get("/api/manual/anything")
    assert await read.json() == {"value": "", "version": "0"}
    write = await client.put("/api/manual", json={"value": "route add a / http://h/"})
    assert (write.status, await write.text()) == (
        400,
        "manual routes need registry.backend=consul (this router uses static)\n",
    )


@pytest.mark.parametrize(
    ("settings", "call", "status", "text"),
    [
        # a read-only UI refuses every write, before looking at the body
        ({"ui_access": "ro"}, lambda c: c.put("/api/manual", data=b"x"), 403, "ro"),
        # dot segments would leave kvpath once the catalog normalises the URL
        ({}, lambda c: c.get("/api/manual/%2E%2E%2Fx"), 400, "'.' and '..'"),
        ({}, lambda c: c.put("/api/manual/a%2F%2E%2E", json={"value": ""}), 400, "'.' and '..'"),
        # bodies that are not what it takes, refused before the catalog is asked
        ({}, lambda c: c.put("/api/manual", data=b"\xc3\x28"), 400, "not UTF-8"),
        ({}, lambda c: c.put("/api/manual", json={"value": 5}), 400, "expected {"),
        ({}, lambda c: c.put("/api/manual", json={"version": "x"}), 400, "integer string"),
        ({}, lambda c: c.put("/api/manual", json={"value": "route bogus"}), 400, "bogus"),
    ],
)
async def test_manual_route_refusals(
    settings: dict[str, Any], call: Callable[[Client], Any], status: int, text: str
) -> None:
    async with _serve(**settings) as (_, client):
        resp = await call(client)
        body = await resp.text()
        assert (resp.status, text in body) == (status, True), body
