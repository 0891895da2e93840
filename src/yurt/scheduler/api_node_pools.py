"""Nomad's node pools API (1.6+): `/v1/node/pools` (list, create or update),
`/v1/node/pool/<name>` (read, create or update, delete) and `/v1/node/pool/<name>/nodes`
and `/jobs`; the rules are `yurt.scheduler.node_pools`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.errors import APIError
from yurt.api.http import expect_object, read_json
from yurt.api.routes import Route
from yurt.scheduler import model as m
from yurt.scheduler import node_pools as np
from yurt.scheduler import store as s
from yurt.scheduler.api_common import (
    blocking,
    in_namespace,
    index_headers,
    server_of,
    table_index,
)
from yurt.scheduler.api_views import job_summary, job_view


def _all(request: web.Request) -> dict[str, Any]:
    store = server_of(request).store
    return np.pools(store.node_pools, store.nodes.values())


async def list_pools(request: web.Request) -> web.Response:
    prefix = request.query.get("prefix", "")

    def run() -> tuple[Any, int]:
        found = [p for name, p in sorted(_all(request).items()) if name.startswith(prefix)]
        return found, table_index(request, s.NODE_POOL, s.NODE)

    return await blocking(request, [s.NODE_POOL, s.NODE], run)


async def get_pool(request: web.Request) -> web.Response:
    name = request.match_info["name"]

    def run() -> tuple[Any, int]:
        found = _all(request).get(name)
        if found is None:
            raise APIError.not_found("node pool not found")
        return found, table_index(request, s.NODE_POOL)

    return await blocking(request, [s.NODE_POOL, s.NODE], run)


async def _upsert(request: web.Request, path_name: str) -> web.Response:
    body = expect_object(await read_json(request), "body")
    if path_name and body.get("Name") != path_name:
        raise APIError.bad_request("Node pool name does not match request path")
    try:
        fields = np.validate(body)
    except np.PoolError as exc:
        raise APIError(exc.status, exc.message) from None
    store = server_of(request).store
    current = store.node_pools.get(fields["Name"])
    with store.write() as txn:
        created = current["CreateIndex"] if current else txn.index
        txn.put(
            s.NODE_POOL,
            fields["Name"],
            {**fields, "CreateIndex": created, "ModifyIndex": txn.index},
        )
    return web.Response(status=200, headers=index_headers(txn.index))


async def upsert_pools(request: web.Request) -> web.Response:
    return await _upsert(request, "")


async def upsert_pool(request: web.Request) -> web.Response:
    return await _upsert(request, request.match_info["name"])


async def delete_pool(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    server = server_of(request)
    store = server.store
    existing = np.pools(store.node_pools, ())
    try:
        np.check_delete(name, existing, store.nodes.values(), store.jobs(), server.config.region)
    except np.PoolError as exc:
        raise APIError(exc.status, exc.message) from None
    with store.write() as txn:
        txn.delete(s.NODE_POOL, name)
    return web.Response(status=200, headers=index_headers(txn.index))


def _known(request: web.Request, name: str) -> bool:
    return name in _all(request)


async def pool_nodes(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if request.query.get("prefix"):
        raise APIError.bad_request("prefix argument not allowed")
    store = server_of(request).store

    def run() -> tuple[Any, int]:
        nodes = (
            []
            if not _known(request, name)
            else [m.node_stub(n) for n in store.nodes.values() if np.in_pool(name, n)]
        )
        nodes.sort(key=lambda n: n["ID"])
        return nodes, max(1, table_index(request, s.NODE))

    return await blocking(request, [s.NODE, s.NODE_POOL], run)


async def pool_jobs(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    srv = server_of(request)
    store = srv.store

    def run() -> tuple[Any, int]:
        jobs = (
            []
            if not _known(request, name)
            else [
                m.job_stub(job_view(srv, j), job_summary(srv, j))
                for j in store.jobs()
                if in_namespace(request, j) and str(j.get("NodePool") or np.DEFAULT) == name
            ]
        )
        jobs.sort(key=lambda j: (j["Namespace"], j["ID"]))
        return jobs, table_index(request, s.JOB)

    return await blocking(request, [s.JOB, s.NODE_POOL], run)


ROUTES: list[Route] = [
    routes.get("/v1/node/pools", list_pools),
    routes.write("/v1/node/pools", upsert_pools),
    routes.get("/v1/node/pool/{name}", get_pool),
    routes.write("/v1/node/pool/{name}", upsert_pool),
    routes.delete("/v1/node/pool/{name}", delete_pool),
    routes.get("/v1/node/pool/{name}/nodes", pool_nodes),
    routes.get("/v1/node/pool/{name}/jobs", pool_jobs),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)
