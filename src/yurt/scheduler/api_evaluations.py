"""Nomad's evaluations API: list (by prefix, job and status), read, an evaluation's
allocations."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.routes import Route
from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.api_common import blocking, in_namespace, lookup, server_of, table_index


async def list_evals(request: web.Request) -> web.Response:
    store = server_of(request).store
    prefix = request.query.get("prefix", "")
    job_filter = request.query.get("job", "")
    status = request.query.get("status", "")

    def run() -> tuple[Any, int]:
        evals = [
            e
            for e in store.evals.values()
            if e["ID"].startswith(prefix)
            and in_namespace(request, e)
            and (not job_filter or e["JobID"] == job_filter)
            and (not status or e["Status"] == status)
        ]
        evals.sort(key=lambda e: -e["CreateIndex"])
        return [m.eval_view(e) for e in evals], table_index(request, s.EVAL)

    return await blocking(request, [s.EVAL], run)


async def get_eval(request: web.Request) -> web.Response:
    ident = request.match_info["id"]

    def run() -> tuple[Any, int]:
        ev = lookup(server_of(request).store.evals, ident, "eval")
        return m.eval_view(ev), ev["ModifyIndex"]

    return await blocking(request, [s.EVAL], run)


async def eval_allocs(request: web.Request) -> web.Response:
    store = server_of(request).store
    ident = request.match_info["id"]

    def run() -> tuple[Any, int]:
        allocs = [a for a in store.allocs.values() if a["EvalID"] == ident]
        return [m.alloc_stub(a) for a in allocs], table_index(request, s.ALLOC)

    return await blocking(request, [s.ALLOC], run)


ROUTES: list[Route] = [
    routes.get("/v1/evaluations", list_evals),
    routes.get("/v1/evaluation/{id}", get_eval),
    routes.get("/v1/evaluation/{id}/allocations", eval_allocs),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)
