"""What every scheduler API module shares: the server behind a request, Nomad's index
headers, the namespace query, blocking reads, the answer to a write, lookups by ID prefix,
and the one mapping of domain errors (`yurt.scheduler.errors`) to HTTP statuses."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from yurt.api.blocking import BlockingQuery, blocking_encoded
from yurt.api.casing import get_field
from yurt.api.errors import APIError
from yurt.api.http import Handler, flag, json_response
from yurt.api.woken_answer import WireAnswer
from yurt.scheduler import model as m
from yurt.scheduler.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    SchedulerError,
)

if TYPE_CHECKING:
    from yurt.scheduler.server import SchedulerServer

# A request body before it is checked, or an answer built field by field: free-form JSON
# (the stored objects are typed: yurt.scheduler.structs).
Obj = dict[str, Any]
T = TypeVar("T")

SERVER_KEY: web.AppKey[SchedulerServer] = web.AppKey("scheduler", object)  # type: ignore[arg-type]

# Nomad's codes for its RPC errors (command/agent/http.go answers these texts as they are).
STATUS_OF: dict[type[SchedulerError], int] = {
    InvalidRequest: 400,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
}


def server_of(request: web.Request) -> SchedulerServer:
    return request.app[SERVER_KEY]


def index_headers(index: int) -> dict[str, str]:
    return {
        "X-Nomad-Index": str(max(index, 1)),
        "X-Nomad-KnownLeader": "true",
        "X-Nomad-LastContact": "0",
    }


def written(result: Mapping[str, Any]) -> web.Response:
    """A write's answer: its result, with the index it committed at in the headers."""
    return json_response(result, headers=index_headers(result["Index"]))


def namespace(request: web.Request) -> str:
    return request.query.get("namespace") or m.DEFAULT_NAMESPACE


def in_namespace(request: web.Request, obj: Mapping[str, Any]) -> bool:
    """Whether `obj` is in the query's namespace (`*`: every namespace)."""
    wanted = namespace(request)
    return wanted == "*" or obj.get("Namespace", m.DEFAULT_NAMESPACE) == wanted


def int_field(body: Obj, name: str, default: int | None = None) -> int | None:
    value = get_field(body, name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise APIError.bad_request(f"{name}: expected an integer, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise APIError.bad_request(f"{name}: expected an integer, got {value!r}") from None


async def blocking(
    request: web.Request, topics: list[str], run: Callable[[], tuple[Any, int]]
) -> web.Response:
    """A read that honours `?index=&wait=`: `run` gives the answer and its index."""
    store = server_of(request).store
    query = BlockingQuery.from_query(request.query)
    indent = 4 if flag(request, "pretty") else None

    def encoded() -> tuple[bytes, int]:
        result, index = run()
        return json.dumps(result, indent=indent).encode(), index

    # Readers woken by one write share one encoded answer per read (and per token: what
    # a token may see is part of the answer).
    params = sorted((k, v) for k, v in request.query.items() if k not in ("index", "wait"))
    key = (request.path, request.headers.get("X-Nomad-Token", ""), *params)
    # With ACLs on, a middleware filters the answer after the handler: it goes through it.
    wire = WireAnswer.of(request, usable=not server_of(request).config.acl_enabled)

    def woken(answer: tuple[bytes, int]) -> tuple[dict[str, str], bytes]:
        return index_headers(answer[1]), answer[0]

    body, index = await blocking_encoded(store.hub, topics, query, key, encoded, wire.sender(woken))
    if wire.sent:
        return wire.response(body)
    return web.Response(body=body, headers=index_headers(index), content_type="application/json")


def table_index(request: web.Request, *kinds: str) -> int:
    store = server_of(request).store
    return max(store.table_index[k] for k in kinds)


def lookup(table: Mapping[str, T], ident: str, what: str) -> T:
    """An object of `table` by ID, or by a unique ID prefix as Nomad's CLI allows; 404
    "<what> not found" otherwise."""
    obj = table.get(ident)
    if obj is not None:
        return obj
    if 1 <= len(ident) < 36:
        found = [v for k, v in table.items() if k.startswith(ident)]
        if len(found) == 1:
            return found[0]
    raise APIError.not_found(f"{what} not found")


def utcnow() -> datetime:
    return datetime.now(UTC)


@web.middleware
async def domain_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An operation's refusal -> Nomad's status and text (plain, as Nomad answers errors)."""
    try:
        return await handler(request)
    except SchedulerError as exc:
        return web.Response(status=status_of(exc), text=exc.message)


def status_of(exc: SchedulerError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return 500
