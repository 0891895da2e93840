"""Nomad's system and search endpoints: garbage collection, summary reconciliation, and
prefix search over jobs, evaluations, allocations, nodes and deployments."""

from __future__ import annotations

from aiohttp import web

from yurt.api import routes
from yurt.api.casing import get_field
from yurt.api.errors import APIError
from yurt.api.http import expect_object, json_response, read_json
from yurt.api.routes import Route
from yurt.scheduler.api_common import Obj, in_namespace, index_headers, server_of

# Nomad's search answers at most this many IDs per context (and says it truncated).
SEARCH_LIMIT = 20


async def system_gc(request: web.Request) -> web.Response:
    # Nomad answers before collecting; here the collection is done when the answer comes.
    server_of(request).collect_garbage(force=True)
    return web.Response(status=200)


async def reconcile_summaries(request: web.Request) -> web.Response:
    # Job summaries are computed from the allocations on every read: always reconciled.
    return web.Response(status=200)


async def search(request: web.Request) -> web.Response:
    store = server_of(request).store
    body = expect_object(await read_json(request), "body")
    prefix = get_field(body, "Prefix")
    context = get_field(body, "Context") or "all"
    if not isinstance(prefix, str):
        raise APIError.bad_request("Prefix: expected a string")
    sources = {
        "jobs": [j["ID"] for j in store.jobs() if in_namespace(request, j)],
        "evals": list(store.evals),
        "allocs": list(store.allocs),
        "nodes": list(store.nodes),
        "deployment": list(store.deployments),
    }
    if context != "all" and context not in sources:
        raise APIError.bad_request(f'Invalid context "{context}"')
    matches: Obj = {}
    truncations: Obj = {}
    for name, ids in sources.items():
        if context not in ("all", name):
            continue
        found = sorted(i for i in ids if i.startswith(prefix))
        matches[name] = found[:SEARCH_LIMIT]
        truncations[name] = len(found) > SEARCH_LIMIT
    out = {
        "Matches": matches,
        "Truncations": truncations,
        "Index": store.index,
        "KnownLeader": True,
        "LastContact": 0,
    }
    return json_response(out, headers=index_headers(store.index))


ROUTES: list[Route] = [
    routes.write("/v1/system/gc", system_gc),
    routes.write("/v1/system/reconcile/summaries", reconcile_summaries),
    routes.write("/v1/search", search),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)
