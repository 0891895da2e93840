"""What every catalog handler shares: the server, Consul's headers, blocking reads, filters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from yurt.api.blocking import BlockingQuery, blocking_query
from yurt.api.errors import APIError
from yurt.api.http import flag, json_response
from yurt.api.woken_answer import WireAnswer
from yurt.catalog.acl_http import FILTERED_HEADER, View
from yurt.catalog.filter import compile_filter

if TYPE_CHECKING:
    from yurt.catalog.server import CatalogServer

SERVER_KEY: web.AppKey[CatalogServer] = web.AppKey("yurt.catalog.server")

T = TypeVar("T")


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
    check_named_datacenter(request, request.query.get("dc", ""))


def check_named_datacenter(request: web.Request, dc: str) -> None:
    """Consul's answer (its exact text) for a datacenter it has no path to: yurt knows one."""
    if dc and dc != server_of(request).config.datacenter:
        raise APIError(500, "No path to datacenter")


def filtered(request: web.Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`items` less those `?filter=` drops; none for a `?peer=`: a catalog of one
    datacenter has no cluster peerings, and Consul answers an unknown peer's query empty."""
    if request.query.get("peer"):
        return []
    text = request.query.get("filter", "")
    if not text:
        return items
    pred = compile_filter(text)
    return [item for item in items if pred(item)]


class AnswerCache:
    """Encoded answers of reads, kept while the store's generation stays the same.

    One write can wake a thousand watchers of the same path (every Fabio and client watches
    `/v1/health/state/any`); the first one to run builds and encodes the answer, the others
    send the same bytes. Any change to the store, output-only check updates included, bumps
    the generation and so drops every entry.
    """

    MAX_ENTRIES = 1024

    def __init__(self, generation: Callable[[], int]) -> None:
        self._generation = generation
        self._seen = -1
        self._entries: dict[tuple[Any, ...], tuple[bytes, int, bool]] = {}

    def get(
        self,
        key: tuple[Any, ...],
        run: Callable[[], tuple[Any, int]],
        pretty: bool,
        hid: Callable[[], bool] = lambda: False,
    ) -> tuple[bytes, int, bool]:
        """The encoded answer, its index, and whether ACLs hid part of it (`hid`, asked
        right after `run`)."""
        generation = self._generation()
        if generation != self._seen or len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
            self._seen = generation
        hit = self._entries.get(key)
        if hit is not None:
            return hit
        result, index = run()
        # bytes: an answer `run` encoded itself, from parts kept between changes
        body = (
            result
            if isinstance(result, bytes)
            else json.dumps(result, indent=4 if pretty else None).encode()
        )
        encoded = (body, index, hid())
        self._entries[key] = encoded
        return encoded


# Query parameters that do not change an answer's bytes: a read asked with or without them
# (`?stale`, `?consistent`, as clients choose) shares one kept answer (the health answer is
# 7.5 MB at 30,000 checks). `dc` names the one datacenter or has failed before this.
_SAME_ANSWER = frozenset(("index", "wait", "stale", "consistent", "cached", "dc"))


def _cache_key(request: web.Request) -> tuple[Any, ...]:
    params = sorted((k, v) for k, v in request.query.items() if k not in _SAME_ANSWER)
    return (request.path, *params)


async def blocking_answer(
    request: web.Request,
    topics: Iterable[str],
    run: Callable[[], tuple[Any, int]],
    acl_view: View | None = None,
) -> web.StreamResponse:
    """A read that Consul blocks on: answers with the index, waits when `?index=` asks.

    With `acl_view`, `run` filters through it: answers are then cached per token, and say
    `X-Consul-Results-Filtered-By-ACLs: true` when the token could not see everything."""
    check_datacenter(request)
    if "filter" in request.query:
        compile_filter(request.query["filter"])  # a bad filter is a 400 before waiting
    query = BlockingQuery.from_query(request.query)
    server = server_of(request)
    key = _cache_key(request)
    v = acl_view
    if v is not None and v.enabled:
        key = (*key, "acl", v.who.accessor)
    pretty = flag(request, "pretty")

    def counted() -> tuple[Any, int]:
        if v is not None:
            v.hid = False
        return run()

    def cached() -> tuple[bytes, int, bool]:
        return server.answers.get(key, counted, pretty, lambda: v.hid if v else False)

    def headers_of(index: int, hid: bool) -> dict[str, str]:
        headers = consul_headers(index)
        if hid:
            headers[FILTERED_HEADER] = "true"
        return headers

    def woken(answer: tuple[tuple[bytes, int, bool], int]) -> tuple[dict[str, str], bytes]:
        body, index, hid = answer[0]
        return woken_headers(server, headers_of(index, hid)), body

    wire = WireAnswer.of(request)
    (body, index, hid), _ = await blocking_query(
        server.hub, topics, query, _pair(cached), wire.sender(woken)
    )
    if wire.sent:
        return wire.response(body)
    return await send_encoded(request, body, headers_of(index, hid))


def woken_headers(server: CatalogServer, headers: dict[str, str]) -> dict[str, str]:
    """`headers` as the catalog's response hook leaves them (`app._default_acl_policy`),
    for an answer sent without it (`yurt.api.woken_answer`)."""
    if "X-Consul-Default-Acl-Policy" in headers:
        headers["X-Consul-Default-Acl-Policy"] = default_acl_policy(server)
    return headers


def default_acl_policy(server: CatalogServer) -> str:
    """The default policy Consul's answers name: allow while ACLs are off."""
    acl = server.config.acl
    return acl.default_policy if acl.enabled else "allow"


# An answer at least this long is written out by its handler rather than returned whole.
LARGE_ANSWER = 64 * 1024


async def send_encoded(
    request: web.Request, body: bytes, headers: dict[str, str]
) -> web.StreamResponse:
    """An encoded JSON answer; one of LARGE_ANSWER bytes or more is sent without being kept.

    aiohttp keeps the last response of a keep-alive connection (its `web.Response` and so
    the body) until that connection's next request. A watcher of `/v1/health/state/any`
    with a pool of connections (yurt's router, Fabio) had each of them keep its own
    generation of a 7.5 MB answer (at 30,000 checks): a dozen of them, 100 MB, were seen
    after a few health changes. Written here, the body is let go once sent; the bytes on the
    wire are the same (Content-Length, no chunking)."""
    if len(body) < LARGE_ANSWER:
        return web.Response(body=body, headers=headers, content_type="application/json")
    resp = web.StreamResponse(headers=headers)
    resp.content_type = "application/json"
    resp.content_length = len(body)
    await resp.prepare(request)
    if request.method == "HEAD":
        return resp
    try:
        await resp.write(body)
        await resp.write_eof()
    except ConnectionResetError:
        pass  # the reader went away; nothing is left to answer
    return resp


def _pair(
    run: Callable[[], tuple[bytes, int, bool]],
) -> Callable[[], tuple[tuple[bytes, int, bool], int]]:
    def inner() -> tuple[tuple[bytes, int, bool], int]:
        answer = run()
        return answer, answer[1]

    return inner


# The longest a streamed answer encodes before letting the loop run other requests.
STREAM_SLICE_S = 0.005


async def stream_json_list(
    request: web.Request,
    items: Iterable[T],
    encode: Callable[[T], str],
    headers: dict[str, str],
    *,
    head: str = "[",
    sep: str = ", ",
    tail: str = "]",
) -> web.StreamResponse:
    """`head`, the encoded `items` joined by `sep`, `tail`: encoded and sent an item at a time,
    yielding to the loop every STREAM_SLICE_S.

    For answers of many megabytes (a KV prefix, a transaction's reads): encoding them at once
    holds the loop every role of `yurt up` shares for as long as it takes, and keeps the whole
    answer in memory twice over. The caller picks head, sep and tail so that the bytes are
    those `json.dumps` of the whole value gives."""
    resp = web.StreamResponse(headers=headers)
    resp.content_type = "application/json"
    await resp.prepare(request)
    if request.method == "HEAD":
        return resp
    loop = asyncio.get_running_loop()
    slice_end = loop.time() + STREAM_SLICE_S
    try:
        pending = head
        for i, item in enumerate(items):
            # write() waits for the reader only past its buffer limit: a slow reader keeps
            # memory bounded, a fast one would never let other requests in without the sleep.
            await resp.write((pending + (sep if i else "") + encode(item)).encode())
            pending = ""
            if loop.time() >= slice_end:
                await asyncio.sleep(0)
                slice_end = loop.time() + STREAM_SLICE_S
        await resp.write((pending + tail).encode())
        await resp.write_eof()
    except ConnectionResetError:
        pass  # the reader went away; nothing is left to answer
    return resp


_MAX_UINT64 = 2**64 - 1


def uint_query(request: web.Request, name: str, error: str) -> int | None:
    """An unsigned 64-bit query parameter (None when absent). `error` is Consul's text for a
    bad one, which differs between endpoints: `{name}` and `{raw}` are filled in."""
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= _MAX_UINT64:
        raise APIError.bad_request(error.format(name=name, raw=repr(raw)))
    return value
