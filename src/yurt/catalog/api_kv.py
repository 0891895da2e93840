"""`/v1/kv/*`: Consul's key/value store, with blocking reads, CAS and prefixes."""

from __future__ import annotations

import copy
import json
from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.blocking import BlockingQuery, blocking_encoded, blocking_query
from yurt.api.errors import APIError
from yurt.api.http import flag
from yurt.api.woken_answer import WireAnswer
from yurt.catalog.acl_http import (
    FILTERED_HEADER,
    checked,
    require,
    require_key_write_prefix,
    view,
)
from yurt.catalog.api_common import (
    answer,
    check_datacenter,
    consul_headers,
    server_of,
    stream_json_list,
    uint_query,
    woken_headers,
)
from yurt.catalog.store_txn import SessionError

# Consul's kv_max_value_size default.
MAX_VALUE_SIZE = 512 * 1024
# A recursive read whose values pass this size is streamed: encoding a large prefix at once
# (base64, then one json.dumps) holds the event loop that every role shares for seconds, and
# the whole answer in memory twice over.
STREAM_ABOVE = 1024 * 1024


def _uint(request: web.Request, name: str) -> int | None:
    return uint_query(request, name, "Invalid {name} value: {raw} is not an unsigned integer")


@checked("key:read on the key; lists keep the keys the token may read")
async def kv_get(request: web.Request) -> web.StreamResponse:
    server = server_of(request)
    store = server.store
    check_datacenter(request)
    key = request.match_info["key"]
    keys_mode = "keys" in request.query
    recurse = flag(request, "recurse")
    if not key and not (keys_mode or recurse):
        raise APIError.bad_request("Missing key name")
    separator = request.query.get("separator", "")
    if not (keys_mode or recurse):
        require(request, "key", "read", key)
    v = view(request)
    if not (keys_mode or recurse or flag(request, "raw")):
        return await _kv_get_one(request, key)

    def run() -> tuple[Any, int]:
        v.hid = False
        if keys_mode:
            out: list[str] = []
            for entry in store.kv_prefix(key):
                if not v.can("key", "read", entry.key):
                    continue
                name = entry.key
                if separator:
                    cut = name.find(separator, len(key))
                    if cut >= 0:
                        name = name[: cut + len(separator)]
                if not out or out[-1] != name:
                    out.append(name)
            # everything hidden is an empty list, as Consul answers; nothing there is a 404
            return (out or ([] if v.hid else None)), store.kv_index(key, exact=False)
        if recurse:
            # Copies, so that the answer stays the one of its index while it streams: only
            # the references are copied, never the values.
            entries = [copy.copy(e) for e in store.kv_prefix(key) if v.can("key", "read", e.key)]
            return (entries or None), store.kv_index(key, exact=False)
        return store.kv_get(key), store.kv_index(key, exact=True)

    query = BlockingQuery.from_query(request.query)
    # a single key's readers wake only for that key; prefix readers for any KV write
    topics = ["kvs"] if keys_mode or recurse else [f"kv:{key}"]
    result, index = await blocking_query(server.hub, topics, query, run)
    headers = consul_headers(index)
    if v.hid:
        headers[FILTERED_HEADER] = "true"
    if result is None:
        return web.Response(status=404, headers=headers)
    entries = recurse and not keys_mode  # `?keys` wins over `?recurse`, as in run()
    if entries and sum(len(e.value or b"") for e in result) > STREAM_ABOVE:
        if flag(request, "pretty"):
            return await stream_json_list(
                request,
                result,
                lambda e: json.dumps(e.to_json(), indent=4).replace("\n", "\n    "),
                headers,
                head="[\n    ",
                sep=",\n    ",
                tail="\n]",
            )
        return await stream_json_list(request, result, lambda e: json.dumps(e.to_json()), headers)
    if entries:
        result = [e.to_json() for e in result]
    if keys_mode or recurse:
        resp = answer(request, result, index=index)
        if v.hid:
            resp.headers[FILTERED_HEADER] = "true"
        return resp
    if flag(request, "raw"):
        return web.Response(
            body=result.value or b"",
            headers={
                **consul_headers(index),
                "Content-Type": "text/plain; charset=utf-8",
                "X-Content-Type-Options": "nosniff",
            },
        )
    return answer(request, [result.to_json()], index=index)


async def _kv_get_one(request: web.Request, key: str) -> web.Response:
    """One key's entry (the read every watcher of a key makes, permission checked by the
    caller): readers woken by a write to the key share one encoded answer."""
    server = server_of(request)
    store = server.store
    indent = 4 if flag(request, "pretty") else None

    def encoded() -> tuple[bytes, int]:
        entry = store.kv_get(key)
        body = b"" if entry is None else json.dumps([entry.to_json()], indent=indent).encode()
        return body, store.kv_index(key, exact=True)

    query = BlockingQuery.from_query(request.query)

    def woken(answer: tuple[bytes, int]) -> tuple[dict[str, str], bytes] | None:
        body, index = answer
        # a deleted key's 404 goes through aiohttp
        return (woken_headers(server, consul_headers(index)), body) if body else None

    wire = WireAnswer.of(request)
    body, index = await blocking_encoded(
        server.hub, [f"kv:{key}"], query, ("kv", key, indent), encoded, wire.sender(woken)
    )
    if wire.sent:
        return wire.response(body)
    if not body:
        return web.Response(status=404, headers=consul_headers(index))
    return web.Response(body=body, headers=consul_headers(index), content_type="application/json")


@checked("key:write on the key")
async def kv_put(request: web.Request) -> web.Response:
    server = server_of(request)
    check_datacenter(request)
    key = request.match_info["key"]
    if not key:
        raise APIError.bad_request("Missing key name")
    require(request, "key", "write", key)
    acquire = request.query.get("acquire", "")
    release = request.query.get("release", "")
    if acquire and release:
        raise APIError.bad_request("Conflicting flags: acquire and release")
    flags = _uint(request, "flags") or 0
    cas = _uint(request, "cas")
    if request.content_length is not None and request.content_length > MAX_VALUE_SIZE:
        raise _too_large(request.content_length)
    value = await _read_value(request)
    try:
        ok = server.store.kv_put(key, value, flags, cas, acquire=acquire, release=release)
    except SessionError as exc:
        raise APIError(500, str(exc)) from None
    return answer(request, ok)


async def _read_value(request: web.Request) -> bytes:
    """The whole body, refused as soon as it passes the limit (chunked bodies included)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_VALUE_SIZE:
            # a chunked body has no length to name; what was read so far already says enough
            raise _too_large(size)
        chunks.append(chunk)


def _too_large(size: int) -> APIError:
    return APIError.too_large(
        f"Request body({size} bytes) too large, max size: {MAX_VALUE_SIZE} bytes. "
        "See https://developer.hashicorp.com/consul/docs/agent/config/config-files"
        "#kv_max_value_size."
    )


@checked("key:write on the key; with ?recurse, write on everything under the prefix")
async def kv_delete(request: web.Request) -> web.Response:
    server = server_of(request)
    check_datacenter(request)
    key = request.match_info["key"]
    recurse = flag(request, "recurse")
    if not key and not recurse:
        raise APIError.bad_request("Missing key name")
    cas = _uint(request, "cas")
    if recurse and cas is not None:
        raise APIError.bad_request("Conflicting flags: cas and recurse cannot be used together")
    if recurse:
        require_key_write_prefix(request, key)
    else:
        require(request, "key", "write", key)
    ok = server.store.kv_delete(key, recurse=recurse, cas=cas)
    return answer(request, ok)


# This resource's endpoints; `yurt.catalog.app` installs every table.
ROUTES = (
    routes.get("/v1/kv/{key:.*}", kv_get),
    routes.put("/v1/kv/{key:.*}", kv_put),
    routes.delete("/v1/kv/{key:.*}", kv_delete),
)
