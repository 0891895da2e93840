"""Nomad's allocations API: list, read, stop."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.http import flag
from yurt.api.routes import Route
from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.api_common import (
    blocking,
    in_namespace,
    lookup,
    server_of,
    table_index,
    written,
)
from yurt.scheduler.api_views import alloc_view


async def list_allocs(request: web.Request) -> web.Response:
    store = server_of(request).store
    prefix = request.query.get("prefix", "")
    resources = flag(request, "resources")

    def run() -> tuple[Any, int]:
        allocs = [
            a
            for a in store.allocs.values()
            if a["ID"].startswith(prefix) and in_namespace(request, a)
        ]
        allocs.sort(key=lambda a: -a["CreateIndex"])
        stubs = [m.alloc_stub(a, resources=resources) for a in allocs]
        return stubs, table_index(request, s.ALLOC)

    return await blocking(request, [s.ALLOC], run)


async def get_alloc(request: web.Request) -> web.Response:
    srv = server_of(request)
    ident = request.match_info["id"]

    def run() -> tuple[Any, int]:
        alloc = lookup(server_of(request).store.allocs, ident, "alloc")
        return alloc_view(srv, alloc), alloc["ModifyIndex"]

    return await blocking(request, [s.ALLOC], run)


async def stop_alloc(request: web.Request) -> web.Response:
    alloc = lookup(server_of(request).store.allocs, request.match_info["id"], "alloc")
    return written(server_of(request).ops.stop_alloc(alloc))


ROUTES: list[Route] = [
    routes.get("/v1/allocations", list_allocs),
    routes.get("/v1/allocation/{id}", get_alloc),
    routes.write("/v1/allocation/{id}/stop", stop_alloc),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)
