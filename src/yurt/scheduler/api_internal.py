"""yurt's scheduler-to-client protocol, under `/v1/internal/` and versioned: a node
registers, heartbeats, watches its allocations (a blocking query), reports their status and
keeps their native service registrations.
Every call but registration carries the node's secret."""

from __future__ import annotations

import hmac
from typing import Any, cast

from aiohttp import web

from yurt.api import routes
from yurt.api.casing import get_field
from yurt.api.errors import APIError
from yurt.api.http import expect_object, json_response, read_json
from yurt.api.routes import Route
from yurt.scheduler import model as m
from yurt.scheduler.api_common import blocking, index_headers, server_of, written
from yurt.scheduler.api_views import alloc_view
from yurt.scheduler.ops_nodes import NODE_SECRET_MISMATCH
from yurt.scheduler.structs import Node

PROTOCOL_VERSION = 1
SECRET_HEADER = "X-Yurt-Node-Secret"


def node_auth(request: web.Request) -> Node:
    """The node the path names, if the request carries its secret."""
    node = server_of(request).store.nodes.get(request.match_info["id"])
    if node is None:
        raise APIError.not_found("node not found")
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), str(node.get("SecretID") or "").encode()):
        raise APIError(403, NODE_SECRET_MISMATCH)
    return node


async def register(request: web.Request) -> web.Response:
    body = expect_object(await read_json(request), "body")
    version = get_field(body, "ProtocolVersion")
    if version != PROTOCOL_VERSION:
        raise APIError.bad_request(
            f"unsupported protocol version {version}; this server speaks {PROTOCOL_VERSION}"
        )
    node = expect_object(get_field(body, "Node"), "Node")
    for field in ("ID", "SecretID", "Datacenter"):
        if not isinstance(node.get(field), str) or not node.get(field):
            raise APIError.bad_request(f"Node.{field}: expected a non-empty string")
    node.setdefault("Name", node["ID"][:8])
    # api.Node as the client sends it: the fields checked above, the rest as given.
    return written(server_of(request).ops.register_node(cast(Node, node)))


async def heartbeat(request: web.Request) -> web.Response:
    node = node_auth(request)
    result = server_of(request).ops.heartbeat(node)
    return json_response({"HeartbeatTTL": result["HeartbeatTTL"]})


async def node_allocs(request: web.Request) -> web.Response:
    """The allocations the node should run or has not yet reported finished."""
    srv = server_of(request)
    node_id = node_auth(request)["ID"]

    def run() -> tuple[Any, int]:
        allocs = []
        index = 1
        for alloc in srv.store.allocs_for_node(node_id):
            index = max(index, alloc["ModifyIndex"])
            if alloc.get("DesiredStatus") == m.ALLOC_DESIRED_RUN or not (
                m.alloc_client_terminal(alloc)
            ):
                allocs.append(alloc_view(srv, alloc))
        allocs.sort(key=lambda a: a["CreateIndex"])
        return {"Index": index, "Allocs": allocs}, index

    return await blocking(request, [f"node-allocs:{node_id}"], run)


async def update_allocs(request: web.Request) -> web.Response:
    node = node_auth(request)
    body = expect_object(await read_json(request), "body")
    allocs = get_field(body, "Allocs")
    if not isinstance(allocs, list):
        raise APIError.bad_request("Allocs: expected an array of allocation updates")
    updates = [expect_object(a, f"Allocs[{i}]") for i, a in enumerate(allocs)]
    index = server_of(request).ops.client_update_allocs(node["ID"], updates)
    return json_response({"Index": index}, headers=index_headers(index))


async def sync_services(request: web.Request) -> web.Response:
    """The node's native service registrations (`provider = "nomad"`): `Upsert` what its
    allocations now advertise, `Remove` registrations (by ID) they no longer do."""
    node = node_auth(request)
    body = expect_object(await read_json(request), "body")
    upserts = get_field(body, "Upsert") or []
    removals = get_field(body, "Remove") or []
    if not isinstance(upserts, list) or not isinstance(removals, list):
        raise APIError.bad_request("Upsert and Remove: expected arrays")
    regs = [expect_object(r, f"Upsert[{i}]") for i, r in enumerate(upserts)]
    index = server_of(request).ops.sync_services(node["ID"], regs, [str(r) for r in removals])
    return json_response({"Index": index}, headers=index_headers(index))


ROUTES: list[Route] = [
    routes.put("/v1/internal/node/register", register),
    routes.put("/v1/internal/node/{id}/heartbeat", heartbeat),
    routes.get("/v1/internal/node/{id}/allocations", node_allocs),
    routes.put("/v1/internal/node/{id}/allocations", update_allocs),
    routes.put("/v1/internal/node/{id}/services", sync_services),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)
