"""Nomad's native service discovery API: `/v1/services` (per namespace), `/v1/service/:name`
(its registrations; `?tag=`, `?filter=`, blocking), `DELETE /v1/service/:name/:id`, and the
registrations of one allocation (`/v1/allocation/:id/services`) and of one job
(`/v1/job/:id/services`, declared with the job paths in `api_jobs`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.errors import APIError
from yurt.api.http import json_response
from yurt.api.routes import Route
from yurt.catalog.filter import compile_filter
from yurt.scheduler import services as svc
from yurt.scheduler import store as s
from yurt.scheduler.api_common import (
    blocking,
    index_headers,
    lookup,
    namespace,
    server_of,
    table_index,
)
from yurt.scheduler.structs import ServiceRegistration


def _registrations(store: s.Store) -> Iterable[ServiceRegistration]:
    return store.services.values()


def _filtered(request: web.Request, found: list[ServiceRegistration]) -> list[ServiceRegistration]:
    text = request.query.get("filter", "")
    if not text:
        return found
    keep = compile_filter(text)
    return [reg for reg in found if keep(reg)]


async def list_services(request: web.Request) -> web.Response:
    store = server_of(request).store
    ns = namespace(request)

    def run() -> tuple[Any, int]:
        stubs = svc.list_stubs(_registrations(store), ns)
        return stubs, table_index(request, s.SERVICE)

    return await blocking(request, [s.SERVICE], run)


async def get_service(request: web.Request) -> web.Response:
    store = server_of(request).store
    ns, name = namespace(request), request.match_info["name"]
    tag = request.query.get("tag", "")
    if "filter" in request.query:
        compile_filter(request.query["filter"])  # a bad filter is a 400 before any wait

    def run() -> tuple[Any, int]:
        found = svc.by_name(_registrations(store), name, ns, tag)
        return _filtered(request, found), table_index(request, s.SERVICE)

    return await blocking(request, [s.SERVICE], run)


async def delete_service(request: web.Request) -> web.Response:
    ops = server_of(request).ops
    index = ops.delete_service(namespace(request), request.match_info["id"])
    return json_response(None, headers=index_headers(index))


async def missing_name(request: web.Request) -> web.Response:
    raise APIError.bad_request("missing service name")


async def alloc_services(request: web.Request) -> web.Response:
    store = server_of(request).store
    alloc = lookup(server_of(request).store.allocs, request.match_info["id"], "alloc")

    def run() -> tuple[Any, int]:
        found = svc.of_alloc(_registrations(store), alloc["ID"])
        return found, table_index(request, s.SERVICE)

    return await blocking(request, [s.SERVICE], run)


async def job_services(request: web.Request) -> web.Response:
    srv = server_of(request)
    store = srv.store
    ns, job_id = namespace(request), request.match_info["id"]

    def run() -> tuple[Any, int]:
        srv.ops.job_or_404(ns, job_id)  # Nomad: 404 "job not found", [] for a job without
        found = svc.of_job(_registrations(store), ns, job_id)
        return found, table_index(request, s.SERVICE)

    return await blocking(request, [s.SERVICE], run)


ROUTES: list[Route] = [
    routes.get("/v1/services", list_services),
    routes.get("/v1/service/", missing_name),
    routes.get("/v1/service/{name}", get_service),
    routes.delete("/v1/service/{name}/{id}", delete_service),
    routes.get("/v1/allocation/{id}/services", alloc_services),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)
