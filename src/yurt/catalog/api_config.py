"""`/v1/config`: Consul's config entries (PUT with `?cas=`, list a kind, read, delete).

Writes answer `true`/`false` (a CAS that lost); a delete answers `{}`, or the CAS outcome
as a boolean when `?cas=` was given, as Consul 1.17 does. Reads block on the kind's topic.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.blocking import BlockingQuery, blocking_query
from yurt.api.errors import APIError
from yurt.api.http import read_json
from yurt.catalog.acl_http import checked, filtered, require, view
from yurt.catalog.api_common import (
    answer,
    blocking_answer,
    check_datacenter,
    consul_headers,
    server_of,
    uint_query,
)
from yurt.catalog.config_entries import (
    ConfigEntry,
    DecodeError,
    ValidationError,
    check_kind,
    decode,
    read_rule,
    write_rule,
)
from yurt.catalog.config_entry_store import ConfigEntryStore, kind_topic
from yurt.catalog.discovery_chain import check_protocols


def entries_of(request: web.Request) -> ConfigEntryStore:
    return server_of(request).store.config_entries


def cas_param(request: web.Request) -> int | None:
    return uint_query(request, "cas", "Error parsing cas value: {raw} is not an unsigned integer")


def _kind(request: web.Request) -> str:
    kind = request.match_info["kind"]
    try:
        check_kind(kind)
    except ValidationError as exc:
        raise APIError(500, str(exc)) from None
    return kind


def require_rule(request: web.Request, rule: tuple[str, str] | None, level: str) -> None:
    if rule is not None:
        resource, name = rule
        require(request, resource, level, name or None)


def can_read(v: Any, entry: ConfigEntry) -> bool:
    rule = read_rule(entry.kind, entry.name)
    return rule is None or v.can(rule[0], "read", rule[1])


def decode_entry(body: Any) -> ConfigEntry:
    """A body as an entry, or Consul's 400 (decoding) or 500 (validation)."""
    try:
        return decode(body)
    except DecodeError as exc:
        raise APIError.bad_request("Bad request: " + str(exc)) from None
    except ValidationError as exc:
        raise APIError(500, str(exc)) from None


@checked("the kind's write rule: service:write, intention:write, mesh:write or operator:write")
async def config_apply(request: web.Request) -> web.Response:
    check_datacenter(request)
    cas = cas_param(request)
    entry = decode_entry(await read_json(request))
    require_rule(request, write_rule(entry.kind, entry.name), "write")
    entries = entries_of(request)
    try:
        check_protocols(entry, entries.get)
    except ValidationError as exc:
        raise APIError(500, str(exc)) from None
    return answer(request, entries.put(entry, cas))


@filtered("the kind's read rule per entry")
async def config_list(request: web.Request) -> web.StreamResponse:
    kind = _kind(request)
    entries = entries_of(request)
    v = view(request)

    def run() -> tuple[Any, int]:
        out = [e.to_json() for e in entries.of_kind(kind) if can_read(v, e)]
        return out, entries.index(kind)

    return await blocking_answer(request, [kind_topic(kind)], run, v)


@checked("the kind's read rule on the entry")
async def config_get(request: web.Request) -> web.Response:
    kind = _kind(request)
    name = request.match_info["name"]
    check_datacenter(request)
    require_rule(request, read_rule(kind, name), "read")
    entries = entries_of(request)

    def run() -> tuple[ConfigEntry | None, int]:
        return entries.get(kind, name), entries.index(kind)

    query = BlockingQuery.from_query(request.query)
    found, index = await blocking_query(server_of(request).hub, [kind_topic(kind)], query, run)
    if found is None:
        return web.Response(
            status=404,
            text=f'Config entry not found for "{kind}" / "{name}"',
            headers=consul_headers(index),
        )
    return answer(request, found.to_json(), index=index)


@checked("the kind's write rule on the entry")
async def config_delete(request: web.Request) -> web.Response:
    kind = _kind(request)
    name = request.match_info["name"]
    check_datacenter(request)
    cas = cas_param(request)
    require_rule(request, write_rule(kind, name), "write")
    deleted = entries_of(request).delete(kind, name, cas)
    return answer(request, deleted if cas is not None else {})


ROUTES = (
    routes.put("/v1/config", config_apply),
    routes.get("/v1/config/{kind}", config_list),
    routes.get("/v1/config/{kind}/{name}", config_get),
    routes.delete("/v1/config/{kind}/{name}", config_delete),
)
