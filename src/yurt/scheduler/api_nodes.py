"""Nomad's nodes API: list, read, a node's allocations, drain, eligibility, evaluate."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.casing import get_field
from yurt.api.durations import duration_from_json
from yurt.api.errors import APIError
from yurt.api.http import expect_object, flag, read_json
from yurt.api.routes import Route
from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.api_common import Obj, blocking, lookup, server_of, table_index, written
from yurt.scheduler.api_views import alloc_view, node_view
from yurt.scheduler.structs import DrainSpec, Node


async def list_nodes(request: web.Request) -> web.Response:
    store = server_of(request).store
    prefix = request.query.get("prefix", "")
    resources = flag(request, "resources")
    os_attr = flag(request, "os")

    def run() -> tuple[Any, int]:
        nodes = [n for n in store.nodes.values() if n["ID"].startswith(prefix)]
        nodes.sort(key=lambda n: n["ID"])
        stubs = [m.node_stub(n, resources=resources, os_attr=os_attr) for n in nodes]
        return stubs, table_index(request, s.NODE)

    return await blocking(request, [s.NODE], run)


async def get_node(request: web.Request) -> web.Response:
    ident = request.match_info["id"]

    def run() -> tuple[Any, int]:
        node = lookup(server_of(request).store.nodes, ident, "node")
        return node_view(node), node["ModifyIndex"]

    return await blocking(request, [s.NODE], run)


async def node_allocs(request: web.Request) -> web.Response:
    srv = server_of(request)
    ident = request.match_info["id"]

    def run() -> tuple[Any, int]:
        node = lookup(server_of(request).store.nodes, ident, "node")
        allocs = sorted(srv.store.allocs_for_node(node["ID"]), key=lambda a: -a["CreateIndex"])
        return [alloc_view(srv, a) for a in allocs], table_index(request, s.ALLOC)

    return await blocking(request, [s.ALLOC], run)


def drain_spec(body: Obj) -> DrainSpec | None:
    """The body's `DrainSpec` (None: cancel the drain), its deadline in nanoseconds."""
    spec = get_field(body, "DrainSpec")
    if spec is None:
        return None
    spec = expect_object(spec, "DrainSpec")
    try:
        return {
            "Deadline": duration_from_json(get_field(spec, "Deadline", 0), "Deadline"),
            "IgnoreSystemJobs": bool(get_field(spec, "IgnoreSystemJobs")),
        }
    except ValueError as exc:
        raise APIError.bad_request(str(exc)) from None


async def drain_node(request: web.Request) -> web.Response:
    node = _node_of_path(request)
    body = expect_object(await read_json(request) or {}, "body")
    spec = drain_spec(body)
    ops = server_of(request).ops
    return written(ops.drain(node, spec, bool(get_field(body, "MarkEligible"))))


async def node_eligibility(request: web.Request) -> web.Response:
    node = _node_of_path(request)
    body = expect_object(await read_json(request) or {}, "body")
    value = get_field(body, "Eligibility")
    if value not in ("eligible", "ineligible"):
        raise APIError.bad_request(
            f'invalid scheduling eligibility "{value}": expected "eligible" or "ineligible"'
        )
    return written(server_of(request).ops.set_eligibility(node, value == "eligible"))


async def node_evaluate(request: web.Request) -> web.Response:
    node = _node_of_path(request)
    return written(server_of(request).ops.evaluate_node(node))


def _node_of_path(request: web.Request) -> Node:
    """The node the path names, by ID or unique prefix (404 otherwise)."""
    return lookup(server_of(request).store.nodes, request.match_info["id"], "node")


ROUTES: list[Route] = [
    routes.get("/v1/nodes", list_nodes),
    routes.get("/v1/node/{id}", get_node),
    routes.get("/v1/node/{id}/allocations", node_allocs),
    routes.write("/v1/node/{id}/drain", drain_node),
    routes.write("/v1/node/{id}/eligibility", node_eligibility),
    routes.write("/v1/node/{id}/evaluate", node_evaluate),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)
