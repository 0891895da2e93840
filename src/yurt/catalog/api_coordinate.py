"""`/v1/coordinate/*`: network coordinates (Serf's Vivaldi), as a datacenter of one server
has them.

A lone Consul server never measures a round trip, so its coordinate stays at the origin
with Vivaldi's starting error; yurt's catalog answers that for its own node. Coordinates
sent to `/v1/coordinate/update` (by agents that measure their own) are kept in memory for
nodes of the catalog, and answered until their node is deregistered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.blocking import BlockingQuery, wait_until
from yurt.api.casing import get_field
from yurt.api.errors import APIError
from yurt.api.http import expect_object, read_json
from yurt.catalog.acl_http import checked, mark_filtered, require, view
from yurt.catalog.acl_http import filtered as acl_filtered
from yurt.catalog.api_common import answer, check_datacenter, consul_headers, server_of

# the WatchHub topic an update wakes
TOPIC = "coordinates"
# Serf's Vivaldi defaults: 8 dimensions, error 1.5, height 10 µs
DIMENSIONS = 8


def origin() -> dict[str, Any]:
    return {"Vec": [0.0] * DIMENSIONS, "Error": 1.5, "Adjustment": 0.0, "Height": 1e-05}


@dataclass
class Coordinates:
    """Coordinates by (node, segment), with the store index at which each was set."""

    entries: dict[tuple[str, str], tuple[dict[str, Any], int]] = field(default_factory=dict)
    index: int = 1

    def set(self, node: str, segment: str, coord: dict[str, Any], index: int) -> None:
        self.index = max(self.index + 1, index)
        self.entries[(node, segment)] = (coord, self.index)


COORDS_KEY: web.AppKey[Coordinates] = web.AppKey("yurt.catalog.coordinates", Coordinates)


def validate_coord(raw: Any) -> dict[str, Any]:
    """A coordinate as Serf checks it (`IsValid`: finite numbers, 8 dimensions)."""
    if not isinstance(raw, dict):
        raise APIError.bad_request("Request decode failed: Coord: expected a JSON object")
    vec = get_field(raw, "Vec")
    if not isinstance(vec, list):
        raise APIError.bad_request("Request decode failed: Coord.Vec: expected an array")
    numbers = [*vec, *(get_field(raw, k, 0) for k in ("Error", "Adjustment", "Height"))]
    # Consul's RPC errors (500, its texts): Serf's IsValid, then IsCompatibleWith its own
    for n in numbers:
        if isinstance(n, bool) or not isinstance(n, int | float) or not math.isfinite(n):
            raise APIError(500, "invalid coordinate")
    if len(vec) != DIMENSIONS:
        raise APIError(500, "incompatible coordinate")
    return {
        "Vec": [float(v) for v in vec],
        "Error": float(get_field(raw, "Error", 0)),
        "Adjustment": float(get_field(raw, "Adjustment", 0)),
        "Height": float(get_field(raw, "Height", 0)),
    }


def _coords(request: web.Request) -> Coordinates:
    return request.app[COORDS_KEY]


def _entries(request: web.Request) -> tuple[list[dict[str, Any]], int]:
    """Every node's coordinate, the local node's origin unless it was updated."""
    server = server_of(request)
    coords = _coords(request)
    found: dict[tuple[str, str], dict[str, Any]] = {(server.node_name, ""): origin()}
    for key, (coord, _) in coords.entries.items():
        found[key] = coord
    out = [
        {"Node": node, "Segment": segment, "Coord": coord}
        for (node, segment), coord in sorted(found.items())
        if node in server.store.nodes
    ]
    return out, max(coords.index, server.store.topic_index("nodes"))


@acl_filtered("node:read per coordinate")
async def datacenters(request: web.Request) -> web.Response:
    """The WAN pool's coordinates: the servers, each as `<node>` of its datacenter."""
    server = server_of(request)
    v = view(request)
    local = (server.node_name, "")
    coord = _coords(request).entries.get(local, (origin(), 0))[0]
    shown: list[dict[str, Any]] = [{"Node": server.node_name, "Segment": "", "Coord": coord}]
    shown = [e for e in shown if v.can("node", "read", e["Node"])]
    data = [{"Datacenter": server.config.datacenter, "AreaID": "wan", "Coordinates": shown}]
    return mark_filtered(answer(request, data), v)


async def _blocking(request: web.Request, node: str | None) -> web.Response:
    check_datacenter(request)
    query = BlockingQuery.from_query(request.query)
    segment = request.query.get("segment")
    v = view(request)

    def run() -> tuple[list[dict[str, Any]], int]:
        entries, index = _entries(request)
        entries = [
            e
            for e in entries
            if (node is None or e["Node"] == node) and (segment is None or e["Segment"] == segment)
        ]
        return [e for e in entries if v.can("node", "read", e["Node"])], index

    data, index = await wait_until(
        server_of(request).hub,
        [TOPIC, "nodes"],
        query.wait_s,
        run,
        lambda got: query.index == 0 or got[1] != query.index,
    )
    if node is not None and not data:
        return web.Response(status=404, headers=consul_headers(index))
    return mark_filtered(answer(request, data, index=index), v)


@acl_filtered("node:read per coordinate")
async def nodes(request: web.Request) -> web.Response:
    return await _blocking(request, None)


@checked("node:read on the node")
async def node(request: web.Request) -> web.Response:
    name = request.match_info["node"]
    require(request, "node", "read", name)
    return await _blocking(request, name)


@checked("node:write on the node")
async def update(request: web.Request) -> web.Response:
    check_datacenter(request)
    server = server_of(request)
    body = expect_object(await read_json(request), "request body")
    name = get_field(body, "Node", "")
    if not isinstance(name, str) or not name:
        raise APIError.bad_request("Request decode failed: Node: expected a node name")
    segment = get_field(body, "Segment", "") or ""
    if not isinstance(segment, str):
        raise APIError.bad_request("Request decode failed: Segment: expected a string")
    coord = validate_coord(get_field(body, "Coord"))
    require(request, "node", "write", name)
    if name not in server.store.nodes:
        # Consul batches updates and its state store silently drops those of unknown nodes
        return web.Response(status=200)
    _coords(request).set(name, segment, coord, server.store.index)
    server.hub.notify(TOPIC)
    return web.Response(status=200)


# This resource's endpoints; `yurt.catalog.app` installs every table.
ROUTES = (
    routes.get("/v1/coordinate/datacenters", datacenters),
    routes.get("/v1/coordinate/nodes", nodes),
    routes.get("/v1/coordinate/node/{node}", node),
    routes.put("/v1/coordinate/update", update),
)
