"""Large answers are written out, not kept: the bytes on the wire are those of any other
answer, and a keep-alive connection does not hold the last one it was sent."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.catalog.inprocess import base_url, running_catalog
from yurt.catalog.api_common import LARGE_ANSWER
from yurt.catalog.model import PASSING, Check, CheckDefinition, Node, Service
from yurt.catalog.server import CatalogServer


def _fill(srv: CatalogServer, services: int) -> None:
    store = srv.store
    for i in range(services):
        sid = f"svc{i}-0"
        store.register_catalog(
            Node(name=f"node-{i % 7}", node_id="", address="10.0.0.1", datacenter="dc1"),
            Service(node=f"node-{i % 7}", id=sid, name=f"svc{i}", tags=[f"urlprefix-/svc{i}"]),
            [
                Check(
                    node=f"node-{i % 7}",
                    check_id=f"{sid}:alive",
                    name="alive",
                    status=PASSING,
                    service_id=sid,
                    service_name=f"svc{i}",
                    service_tags=[f"urlprefix-/svc{i}"],
                    definition=CheckDefinition(),
                )
            ],
        )


def _from_scratch(srv: CatalogServer) -> bytes:
    checks = srv.store.checks
    return json.dumps([checks[k].to_json() for k in sorted(checks)]).encode()


def _held_large_responses() -> list[web.Response]:
    gc.collect()
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, web.Response) and o.body is not None and len(o.body) >= LARGE_ANSWER
    ]


async def test_a_large_answer_has_the_bytes_and_headers_of_a_small_one(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, aiohttp.ClientSession() as http:
        url = base_url(srv) + "/v1/health/state/any"
        async with http.get(url) as small:
            small_body, small_headers = await small.read(), small.headers
        _fill(srv, 400)
        async with http.get(url) as large:
            body, headers = await large.read(), large.headers
        assert len(small_body) < LARGE_ANSWER <= len(body)
        assert body == _from_scratch(srv)
        for h in (small_headers, headers):
            assert "Transfer-Encoding" not in h
        assert headers["Content-Length"] == str(len(body))
        assert headers["Content-Type"] == small_headers["Content-Type"] == "application/json"
        assert headers["X-Consul-Index"] == str(srv.store.topic_index("checks"))
        assert set(headers) == set(small_headers)
        # a blocking read that the index wakes at once answers the same way
        async with http.get(url, params={"index": "1", "wait": "1s"}) as blocked:
            assert await blocked.read() == body
        async with http.head(url) as head:
            assert await head.read() == b""
            assert head.headers["Content-Length"] == str(len(body))


async def test_a_keep_alive_connection_does_not_keep_a_large_answer(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, aiohttp.ClientSession() as http:
        _fill(srv, 400)
        # the connection stays open in the session's pool: aiohttp's handler for it keeps
        # the last response it sent until the next request comes
        async with http.get(base_url(srv) + "/v1/health/state/any") as r:
            assert len(await r.read()) >= LARGE_ANSWER
        assert _held_large_responses() == []


async def test_consistency_modes_share_one_kept_answer(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, aiohttp.ClientSession() as http:
        _fill(srv, 50)
        bodies = []
        for query in ("", "?stale", "?consistent", "?dc=dc1&stale", "?pretty"):
            async with http.get(base_url(srv) + "/v1/health/state/any" + query) as r:
                bodies.append(await r.read())
        assert len(set(bodies[:4])) == 1 and bodies[4] != bodies[0]
        # one entry for the four reads that answer the same bytes, one for ?pretty
        assert len(srv.answers._entries) == 2
