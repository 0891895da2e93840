"""Nomad's deployments API: list, read, a deployment's allocations, fail, promote,
pause/resume."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.casing import get_field
from yurt.api.errors import APIError
from yurt.api.http import expect_object, json_response, read_json
from yurt.api.routes import Route
from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.api_common import (
    blocking,
    in_namespace,
    index_headers,
    lookup,
    server_of,
    table_index,
    written,
)


async def list_deployments(request: web.Request) -> web.Response:
    store = server_of(request).store
    prefix = request.query.get("prefix", "")

    def run() -> tuple[Any, int]:
        deps = [
            d
            for d in store.tables[s.DEPLOYMENT].values()
            if d["ID"].startswith(prefix) and in_namespace(request, d)
        ]
        deps.sort(key=lambda d: -d["CreateIndex"])
        return deps, table_index(request, s.DEPLOYMENT)

    return await blocking(request, [s.DEPLOYMENT], run)


async def get_deployment(request: web.Request) -> web.Response:
    ident = request.match_info["id"]

    def run() -> tuple[Any, int]:
        dep = lookup(request, s.DEPLOYMENT, ident, "deployment")
        return dep, dep["ModifyIndex"]

    return await blocking(request, [s.DEPLOYMENT], run)


async def deployment_allocs(request: web.Request) -> web.Response:
    store = server_of(request).store
    dep = lookup(request, s.DEPLOYMENT, request.match_info["id"], "deployment")
    allocs = [
        a
        for a in store.allocs_for_job(dep["Namespace"], dep["JobID"])
        if a.get("DeploymentID") == dep["ID"]
    ]
    return json_response(
        [m.alloc_stub(a) for a in allocs], headers=index_headers(store.table_index[s.ALLOC])
    )


async def fail_deployment(request: web.Request) -> web.Response:
    dep = lookup(request, s.DEPLOYMENT, request.match_info["id"], "deployment")
    return written(server_of(request).ops.fail_deployment(dep))


async def promote_deployment(request: web.Request) -> web.Response:
    dep = lookup(request, s.DEPLOYMENT, request.match_info["id"], "deployment")
    body = expect_object(await read_json(request) or {}, "body")
    groups = get_field(body, "Groups")
    if get_field(body, "All") or not groups:
        groups = None
    elif not isinstance(groups, list):
        raise APIError.bad_request("Groups: expected an array of task group names")
    return written(server_of(request).ops.promote_deployment(dep, groups))


async def pause_deployment(request: web.Request) -> web.Response:
    dep = lookup(request, s.DEPLOYMENT, request.match_info["id"], "deployment")
    body = expect_object(await read_json(request) or {}, "body")
    return written(server_of(request).ops.pause_deployment(dep, bool(get_field(body, "Pause"))))


ROUTES: list[Route] = [
    routes.get("/v1/deployments", list_deployments),
    routes.get("/v1/deployment/{id}", get_deployment),
    routes.get("/v1/deployment/allocations/{id}", deployment_allocs),
    routes.write("/v1/deployment/fail/{id}", fail_deployment),
    routes.write("/v1/deployment/promote/{id}", promote_deployment),
    routes.write("/v1/deployment/pause/{id}", pause_deployment),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)
