"""Every route of the catalog's application, with ACLs on and default deny: without a token it
is refused (403), or it is a read that hides what the anonymous token may not see (and says
so with X-Consul-Results-Filtered-By-ACLs), or it is on the list of what Consul leaves open.
A route added without an ACL mark on its handler fails here; so does an open one that is not
on the list below."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.catalog.conftest import ROOT_TOKEN
from yurt.catalog import CatalogConfig, CatalogServer
from yurt.catalog.api_event import EVENTS_KEY
from yurt.catalog.config import ConsulACLConfig
from yurt.catalog.config_entries import decode as decode_entry
from yurt.catalog.definitions import parse_service
from yurt.catalog.events import new_event
from yurt.catalog.model import Session

# What Consul answers without a token even under default deny.
OPEN = {
    ("PUT", "/v1/acl/bootstrap"),
    ("GET", "/v1/status/leader"),
    ("GET", "/v1/status/peers"),
    ("GET", "/v1/catalog/datacenters"),
    ("GET", "/v1/agent/version"),
}
FILTERED = "X-Consul-Results-Filtered-By-ACLs"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[CatalogServer]:
    cfg = CatalogConfig(
        http_port=0,
        data_dir=tmp_path,
        node_name="node1",
        acl=ConsulACLConfig(enabled=True, default_policy="deny", initial_management=ROOT_TOKEN),
    )
    srv = CatalogServer(cfg)
    await srv.start()
    # something in every table, so that a filtered read has something to hide
    srv.register_service(
        parse_service({"Name": "web", "ID": "web-1", "Check": {"TTL": "30s"}}, node="node1")
    )
    srv.store.kv_put("a/x", b"v", 0, None)
    for entry in (
        {"Kind": "service-defaults", "Name": "web"},
        {
            "Kind": "service-intentions",
            "Name": "web",
            "Sources": [{"Name": "a", "Action": "allow"}],
        },
    ):
        srv.store.config_entries.put(decode_entry(entry))
    srv.app[EVENTS_KEY].receive(new_event("web", None), "node1", [])
    session = srv.create_session(Session(id="5e55e55e-0000-4000-8000-000000000000", node="node1"))
    srv.test_session = session.id  # type: ignore[attr-defined]
    try:
        yield srv
    finally:
        await srv.stop()


def _sample(srv: CatalogServer, method: str, pattern: str) -> str:
    samples = {
        "{key}": "a/x",
        "{name}": "web",
        "{id}": "web-1",
        "{node}": "node1",
        "{state}": "any",
        "{type}": "default",
        "{accessor}": "00000000-0000-0000-0000-000000000002",
        "{address}": "127.0.0.1",
        "{kind}": "service-defaults",
    }
    path = pattern
    if pattern.startswith("/v1/session/"):
        samples["{id}"] = srv.test_session  # type: ignore[attr-defined]
    if pattern.startswith("/v1/acl/"):
        samples["{id}"] = "00000000-0000-0000-0000-000000000001"
        samples["{name}"] = "builtin/service" if "templated" in pattern else "global-management"
    for key, value in samples.items():
        path = path.replace(key, value)
    assert "{" not in path, f"no sample for {pattern}"
    if "/maintenance" in path:
        path += "?enable=true"
    if pattern.startswith("/v1/connect/intentions/"):
        path += "?source=a&destination=web&by=destination&name=web"
    return path


def _body(pattern: str) -> Any:
    if pattern == "/v1/txn":
        return [{"KV": {"Verb": "get", "Key": "a/x"}}]
    if pattern == "/v1/agent/service/register":
        return {"Name": "web", "ID": "web-2"}
    if pattern == "/v1/agent/check/register":
        return {"Name": "c", "TTL": "10s"}
    if pattern == "/v1/agent/check/update/{id}":
        return {"Status": "passing"}
    if pattern in ("/v1/catalog/register", "/v1/catalog/deregister"):
        return {"Node": "node2", "Address": "10.0.0.2"}
    if pattern == "/v1/coordinate/update":
        coord = {"Vec": [0.0] * 8, "Error": 1.5, "Adjustment": 0.0, "Height": 1e-05}
        return {"Node": "node1", "Coord": coord}
    if pattern == "/v1/config":
        return {"Kind": "service-defaults", "Name": "web"}
    if pattern.startswith("/v1/connect/intentions"):
        return {"SourceName": "a", "DestinationName": "web", "Action": "allow"}
    if pattern.startswith("/v1/acl/") or pattern.startswith("/v1/agent/token"):
        return {"Name": "p", "Token": "t"}
    return None


def _routes(srv: CatalogServer) -> list[tuple[str, str, Any]]:
    out = []
    for route in srv.app.router.routes():
        resource = route.resource
        assert resource is not None
        if route.method == "HEAD":
            continue
        out.append((route.method, resource.canonical, route.handler))
    return sorted(out, key=lambda r: (r[1], r[0]))


async def test_every_api_handler_carries_an_acl_mark(server: CatalogServer) -> None:
    routes = _routes(server)
    api = [r for r in routes if r[1].startswith("/v1/")]
    assert len(api) > 60
    opened = set()
    for method, pattern, handler in api:
        rule = getattr(handler, "acl_rule", None)
        assert rule, f"{method} {pattern}: its handler has no ACL mark (acl_http)"
        if rule.startswith("open:"):
            opened.add((method, pattern))
    assert opened == OPEN, "open routes must be listed in this test's OPEN"
    # everything else is the UI's shell and files, which hold no data
    for method, pattern, _ in routes:
        assert pattern.startswith(("/v1/", "/ui")) or pattern == "/", (method, pattern)


async def test_without_a_token_every_route_is_refused_or_filtered(server: CatalogServer) -> None:
    base = f"http://127.0.0.1:{server.config.http_port}"
    checked = 0
    async with aiohttp.ClientSession() as http:
        for method, pattern, handler in _routes(server):
            if not pattern.startswith("/v1/") or (method, pattern) in OPEN:
                continue
            path = _sample(server, method, pattern)
            async with http.request(method, base + path, json=_body(pattern)) as resp:
                text = await resp.text()
                rule = handler.acl_rule
                if rule.startswith("filtered"):
                    assert resp.status in (200, 404), (method, pattern, resp.status, text)
                    assert resp.headers.get(FILTERED) == "true", (method, pattern, text)
                    assert "web" not in text and "a/x" not in text, (method, pattern, text)
                elif pattern == "/v1/txn":
                    # a transaction is refused per operation, in Consul's 409 shape
                    assert resp.status == 409 and "Permission denied" in text, text
                else:
                    assert resp.status == 403, (method, pattern, resp.status, text)
                checked += 1
    assert checked > 55


async def test_with_the_management_token_nothing_is_refused(server: CatalogServer) -> None:
    base = f"http://127.0.0.1:{server.config.http_port}"
    async with aiohttp.ClientSession(headers={"X-Consul-Token": ROOT_TOKEN}) as http:
        for method, pattern, _ in _routes(server):
            if not pattern.startswith("/v1/") or method == "DELETE":
                continue
            path = _sample(server, method, pattern)
            async with http.request(method, base + path, json=_body(pattern)) as resp:
                if pattern == "/v1/agent/monitor":
                    # a stream that never ends: its head is the answer
                    assert resp.status == 200, (method, pattern, resp.status)
                    continue
                # a snapshot is a gzip archive: bytes, not text
                text = (await resp.read()).decode("utf-8", "replace")
                # missing objects are Consul's 403 "ACL not found"; no permission is lacking
                assert "lacks permission" not in text, (method, pattern, text)
                assert resp.status != 403 or "bootstrap" in pattern or text == "ACL not found"
                assert FILTERED not in resp.headers, (method, pattern)
