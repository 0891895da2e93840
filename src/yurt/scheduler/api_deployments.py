"""Nomad's deployments API: list, read, a deployment's allocations, fail, promote,
pause/resume, manual allocation health, and unblock (a multiregion deployment's step: on
one region there is never a blocked deployment, and Nomad's answer is a no-op)."""

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
    Obj,
    blocking,
    in_namespace,
    index_headers,
    lookup,
    server_of,
    table_index,
    written,
)
from yurt.scheduler.errors import SchedulerError
from yurt.scheduler.ops_deployments import update_response
from yurt.scheduler.structs import Deployment


async def list_deployments(request: web.Request) -> web.Response:
    store = server_of(request).store
    prefix = request.query.get("prefix", "")

    def run() -> tuple[Any, int]:
        deps = [
            d
            for d in store.deployments.values()
            if d["ID"].startswith(prefix) and in_namespace(request, d)
        ]
        deps.sort(key=lambda d: -d["CreateIndex"])
        return deps, table_index(request, s.DEPLOYMENT)

    return await blocking(request, [s.DEPLOYMENT], run)


async def get_deployment(request: web.Request) -> web.Response:
    ident = request.match_info["id"]

    def run() -> tuple[Any, int]:
        dep = lookup(server_of(request).store.deployments, ident, "deployment")
        return dep, dep["ModifyIndex"]

    return await blocking(request, [s.DEPLOYMENT], run)


async def deployment_allocs(request: web.Request) -> web.Response:
    store = server_of(request).store
    dep = lookup(server_of(request).store.deployments, request.match_info["id"], "deployment")
    allocs = [
        a
        for a in store.allocs_for_job(dep["Namespace"], dep["JobID"])
        if a.get("DeploymentID") == dep["ID"]
    ]
    return json_response(
        [m.alloc_stub(a) for a in allocs], headers=index_headers(store.table_index[s.ALLOC])
    )


async def fail_deployment(request: web.Request) -> web.Response:
    dep = lookup(server_of(request).store.deployments, request.match_info["id"], "deployment")
    return written(server_of(request).ops.fail_deployment(dep))


async def promote_deployment(request: web.Request) -> web.Response:
    dep = lookup(server_of(request).store.deployments, request.match_info["id"], "deployment")
    body = expect_object(await read_json(request) or {}, "body")
    groups = get_field(body, "Groups")
    if get_field(body, "All") or not groups:
        groups = None
    elif not isinstance(groups, list):
        raise APIError.bad_request("Groups: expected an array of task group names")
    return written(server_of(request).ops.promote_deployment(dep, groups))


async def pause_deployment(request: web.Request) -> web.Response:
    dep = lookup(server_of(request).store.deployments, request.match_info["id"], "deployment")
    body = expect_object(await read_json(request) or {}, "body")
    return written(server_of(request).ops.pause_deployment(dep, bool(get_field(body, "Pause"))))


async def _named_body(request: web.Request) -> Obj:
    """The body of a deployment write that names its deployment, as Nomad checks it."""
    body = expect_object(await read_json(request) or {}, "body")
    named = get_field(body, "DeploymentID")
    if not named:
        raise APIError.bad_request("DeploymentID must be specified")
    if named != request.match_info["id"]:
        raise APIError.bad_request("Deployment ID does not match")
    return body


def _deployment(request: web.Request) -> Deployment:
    """The deployment of the path, by its whole ID (Nomad's RPC error when unknown)."""
    dep = server_of(request).store.deployments.get(request.match_info["id"])
    if dep is None:
        raise SchedulerError("deployment not found")
    return dep


def _ids(body: Obj, name: str) -> list[str]:
    value = get_field(body, name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise APIError.bad_request(f"{name}: expected an array of allocation IDs")
    return value


async def set_alloc_health(request: web.Request) -> web.Response:
    body = await _named_body(request)
    healthy = _ids(body, "HealthyAllocationIDs")
    unhealthy = _ids(body, "UnhealthyAllocationIDs")
    dep = _deployment(request)
    return written(server_of(request).ops.set_alloc_health(dep, healthy, unhealthy))


async def unblock_deployment(request: web.Request) -> web.Response:
    await _named_body(request)
    _deployment(request)
    return written(update_response(0, None))


ROUTES: list[Route] = [
    routes.get("/v1/deployments", list_deployments),
    routes.get("/v1/deployment/{id}", get_deployment),
    routes.get("/v1/deployment/allocations/{id}", deployment_allocs),
    routes.write("/v1/deployment/fail/{id}", fail_deployment),
    routes.write("/v1/deployment/promote/{id}", promote_deployment),
    routes.write("/v1/deployment/pause/{id}", pause_deployment),
    routes.write("/v1/deployment/allocation-health/{id}", set_alloc_health),
    routes.write("/v1/deployment/unblock/{id}", unblock_deployment),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)
