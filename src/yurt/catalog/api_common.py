"""What every catalog handler shares: the server, Consul's headers, blocking reads, filters."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from yurt.api.blocking import BlockingQuery, blocking_query
from yurt.api.errors import APIError
from yurt.api.http import flag, json_response
from yurt.catalog.filter import compile_filter

if TYPE_CHECKING:
    from yurt.catalog.server import CatalogServer

SERVER_KEY: web.AppKey[CatalogServer] = web.AppKey("yurt.catalog.server")


def server_of(request: web.Request) -> CatalogServer:
    return request.app[SERVER_KEY]


def consul_headers(index: int) -> dict[str, str]:
    return {
        "X-Consul-Index": str(max(index, 1)),
        "X-Consul-KnownLeader": "true",
        "X-Consul-LastContact": "0",
        "X-Consul-Effective-Consistency": "leader",
        "X-Consul-Default-Acl-Policy": "allow",
    }


def answer(
    request: web.Request, data: Any, *, index: int | None = None, status: int = 200
) -> web.Response:
    headers = consul_headers(index) if index is not None else None
    return json_response(data, status=status, headers=headers, pretty=flag(request, "pretty"))


def check_datacenter(request: web.Request) -> None:
    dc = request.query.get("dc", "")
    if dc and dc != server_of(request).config.datacenter:
        raise APIError(500, f"No path to datacenter: {dc!r} is not known to this catalog")


def filtered(request: web.Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    text = request.query.get("filter", "")
    if not text:
        return items
    pred = compile_filter(text)
    return [item for item in items if pred(item)]


async def blocking_answer(
    request: web.Request,
    topics: Iterable[str],
    run: Callable[[], tuple[Any, int]],
) -> web.Response:
    """A read that Consul blocks on: answers with the index, waits when `?index=` asks."""
    check_datacenter(request)
    if "filter" in request.query:
        compile_filter(request.query["filter"])  # a bad filter is a 400 before waiting
    query = BlockingQuery.from_query(request.query)
    result, index = await blocking_query(server_of(request).hub, topics, query, run)
    return answer(request, result, index=index)


def require_json_object(value: Any, where: str = "request body") -> dict[str, Any]:
    if not isinstance(value, dict):
        kind = "null" if value is None else type(value).__name__
        raise APIError.bad_request(
            f"Request decode failed: {where}: expected a JSON object, got {kind}"
        )
    return value
