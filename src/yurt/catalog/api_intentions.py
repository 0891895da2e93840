"""`/v1/connect/intentions`: Consul's intention API over `service-intentions` config entries.

The list, the legacy create (answering a new ID), the `exact` API by source and destination,
`match` and `check`. A write rewrites the destination's entry, as Consul 1.9+ does: an entry
written by the exact API stops being a legacy one, and the legacy create then refuses it
with Consul's text.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.blocking import BlockingQuery, blocking_query
from yurt.api.errors import APIError
from yurt.api.http import expect_object, read_json
from yurt.catalog.acl_http import checked, filtered, require, view
from yurt.catalog.api_common import (
    answer,
    blocking_answer,
    check_datacenter,
    server_of,
)
from yurt.catalog.api_common import filtered as filter_expr
from yurt.catalog.config_entries import ConfigEntry, ValidationError, normalize, validate
from yurt.catalog.config_entry_kinds import SERVICE_INTENTIONS
from yurt.catalog.config_entry_store import ConfigEntryStore, kind_topic
from yurt.catalog.intentions import (
    ALLOW,
    all_intentions,
    allowed,
    is_legacy,
    match,
    new_legacy_id,
    now_rfc3339,
    source_from_body,
    strip_legacy,
    upsert_source,
)

TOPICS = [kind_topic(SERVICE_INTENTIONS)]
NOT_FOUND = "Intention not found"


def _entries(request: web.Request) -> ConfigEntryStore:
    return server_of(request).store.config_entries


def _param(request: web.Request, name: str) -> str:
    value = request.query.get(name, "")
    if not value:
        raise APIError(500, f"required query parameter '{name}' not set")
    return value


def _intentions(entries: ConfigEntryStore) -> list[dict[str, Any]]:
    return all_intentions(entries.of_kind(SERVICE_INTENTIONS))


def _save(entries: ConfigEntryStore, destination: str, sources: list[dict[str, Any]]) -> None:
    """Write the destination's entry with `sources` (deleting it when none are left)."""
    if not sources:
        entries.delete(SERVICE_INTENTIONS, destination)
        return
    old = entries.get(SERVICE_INTENTIONS, destination)
    body = copy.deepcopy(old.body) if old else {}
    body["Sources"] = sources
    entry = ConfigEntry(kind=SERVICE_INTENTIONS, name=destination, body=body)
    try:
        normalize(entry)
        validate(entry)
    except ValidationError as exc:
        raise APIError(500, str(exc)) from None
    entries.put(entry)


def _sources_of(entries: ConfigEntryStore, destination: str) -> list[dict[str, Any]]:
    old = entries.get(SERVICE_INTENTIONS, destination)
    return copy.deepcopy(old.body.get("Sources") or []) if old else []


def _body_name(body: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


@filtered("intention:read per destination")
async def intention_list(request: web.Request) -> web.StreamResponse:
    entries = _entries(request)
    v = view(request)

    def run() -> tuple[Any, int]:
        items = [
            i for i in _intentions(entries) if v.can("intention", "read", i["DestinationName"])
        ]
        return filter_expr(request, items), entries.index(SERVICE_INTENTIONS)

    return await blocking_answer(request, TOPICS, run, v)


@checked("intention:write on the destination")
async def intention_create(request: web.Request) -> web.Response:
    """The legacy create: the intention gets an ID, kept as the source's LegacyID."""
    check_datacenter(request)
    body = expect_object(await read_json(request), "request body")
    destination = _body_name(body, "DestinationName", "destinationname")
    source = _body_name(body, "SourceName", "sourcename")
    require(request, "intention", "write", destination or None)
    entries = _entries(request)
    sources = _sources_of(entries, destination)
    if sources and not is_legacy(sources):
        raise APIError(
            500,
            "cannot use legacy intention API to edit intentions with a destination of "
            f'"{destination}" after editing them via a service-intentions config entry',
        )
    new = source_from_body(body, source)
    ident = new_legacy_id()
    now = now_rfc3339()
    new.update(LegacyID=ident, LegacyCreateTime=now, LegacyUpdateTime=now)
    meta = body.get("Meta")
    if isinstance(meta, dict) and meta:
        new["LegacyMeta"] = meta
    _save(entries, destination, [*sources, new])
    return answer(request, {"ID": ident})


def _exact_names(request: web.Request) -> tuple[str, str]:
    return _param(request, "source"), _param(request, "destination")


@checked("intention:read on the destination")
async def intention_exact_get(request: web.Request) -> web.Response:
    check_datacenter(request)
    source, destination = _exact_names(request)
    require(request, "intention", "read", destination)
    for ixn in _intentions(_entries(request)):
        if ixn["SourceName"] == source and ixn["DestinationName"] == destination:
            return answer(request, ixn)
    raise APIError.not_found(NOT_FOUND)


@checked("intention:write on the destination")
async def intention_exact_put(request: web.Request) -> web.Response:
    check_datacenter(request)
    source, destination = _exact_names(request)
    require(request, "intention", "write", destination)
    body = expect_object(await read_json(request), "request body")
    entries = _entries(request)
    sources = _sources_of(entries, destination)
    strip_legacy(sources)
    _save(entries, destination, upsert_source(sources, source_from_body(body, source)))
    return answer(request, True)


@checked("intention:write on the destination")
async def intention_exact_delete(request: web.Request) -> web.Response:
    check_datacenter(request)
    source, destination = _exact_names(request)
    require(request, "intention", "write", destination)
    entries = _entries(request)
    sources = _sources_of(entries, destination)
    kept = [s for s in sources if s.get("Name") != source]
    if len(kept) != len(sources):
        _save(entries, destination, kept)
    return answer(request, True)


@checked("intention:read on every name asked")
async def intention_match(request: web.Request) -> web.Response:
    check_datacenter(request)
    by = _param(request, "by")
    if by not in ("source", "destination"):
        raise APIError(500, "'by' parameter must be one of 'source' or 'destination'")
    names = request.query.getall("name", [])
    if not names:
        raise APIError(500, "required query parameter 'name' not set")
    for name in names:
        require(request, "intention", "read", name)
    entries = _entries(request)

    def run() -> tuple[dict[str, Any], int]:
        items = _intentions(entries)
        return {n: match(items, by, n) for n in names}, entries.index(SERVICE_INTENTIONS)

    query = BlockingQuery.from_query(request.query)
    result, index = await blocking_query(server_of(request).hub, TOPICS, query, run)
    return answer(request, result, index=index)


@checked("service:read on the destination")
async def intention_check(request: web.Request) -> web.Response:
    check_datacenter(request)
    source = _param(request, "source")
    destination = _param(request, "destination")
    require(request, "service", "read", destination)
    acl = server_of(request).config.acl
    default_allow = not acl.enabled or acl.default_policy == ALLOW
    items = _intentions(_entries(request))
    return answer(request, {"Allowed": allowed(items, source, destination, default_allow)})


ROUTES = (
    routes.get("/v1/connect/intentions", intention_list),
    routes.post("/v1/connect/intentions", intention_create),
    routes.get("/v1/connect/intentions/exact", intention_exact_get),
    routes.put("/v1/connect/intentions/exact", intention_exact_put),
    routes.delete("/v1/connect/intentions/exact", intention_exact_delete),
    routes.get("/v1/connect/intentions/match", intention_match),
    routes.get("/v1/connect/intentions/check", intention_check),
)
