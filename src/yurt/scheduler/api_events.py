"""Nomad's event stream, `GET /v1/event/stream`: newline-delimited JSON frames
(`{"Index":N,"Events":[...]}`, `{}` as a heartbeat) replayed from the server's event buffer
(`yurt.scheduler.event_buffer`) from `?index=`, then followed live; `?topic=Topic:key`
(repeatable) and `?namespace=` choose the events (`yurt.scheduler.events`).

Under ACLs each topic asked needs what Nomad asks for it (the table below); a token that may
not read every topic asked is refused with 403 before the stream starts, and a stream whose
token is deleted or expires ends as Nomad ends it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence

from aiohttp import web

from yurt.api import routes
from yurt.api.errors import APIError
from yurt.api.routes import Route
from yurt.scheduler import acl_policy as p
from yurt.scheduler import events as ev
from yurt.scheduler.acl_enforce import request_token
from yurt.scheduler.acl_state import Resolved, denied
from yurt.scheduler.api_common import server_of
from yurt.scheduler.event_buffer import DroppedError, EventBuffer

# Nomad's text when a subscription's token no longer holds.
CLOSED = "subscription closed by server, client should resubscribe"

# Nomad's table: these need read-job in the namespace, Node needs node:read, and every
# other topic (`*`, ACLToken, ACLPolicy, NodePool, Variable) a management token.
_NAMESPACED = frozenset({ev.JOB, ev.EVALUATION, ev.ALLOCATION, ev.DEPLOYMENT, ev.SERVICE})


def topic_allowed(acl: p.ACL, topic: str, namespace: str) -> bool:
    """Whether `acl` may subscribe to `topic` in `namespace`, as Nomad's event endpoint
    checks it (unknown topics: management only)."""
    if acl.is_management:
        return True
    if topic in _NAMESPACED:
        return acl.allow_namespace_op(namespace, p.READ_JOB)
    if topic == ev.NODE:
        return acl.allow_node_read()
    return False


def visible(acl: p.ACL, event: ev.Event) -> bool:
    """What a `?namespace=*` subscription without management still may not see: events of
    namespaces the token may not read."""
    if acl.is_management or not event.namespace:
        return True
    return acl.allow_namespace_op(event.namespace, p.READ_JOB)


def _index(raw: str) -> int:
    if not raw:
        return 0
    try:
        index = int(raw)
    except ValueError:
        raise APIError.bad_request(
            f'Unable to parse index: strconv.Atoi: parsing "{raw}": invalid syntax'
        ) from None
    return max(index, 0)


def _line(data: object) -> bytes:
    return json.dumps(data).encode() + b"\n"


class Subscription:
    """One stream's choice of events and the token it streams under (None: no ACLs)."""

    def __init__(
        self,
        topics: Mapping[str, Sequence[str]],
        namespace: str,
        resolved: Resolved | None,
    ) -> None:
        self.topics = topics
        self.namespace = namespace
        self.resolved = resolved

    def select(self, events: Sequence[ev.Event]) -> list[ev.Event]:
        acl = self.resolved.acl if self.resolved is not None else None
        return [
            e
            for e in events
            if ev.matches(e, self.topics, self.namespace) and (acl is None or visible(acl, e))
        ]


def _subscription(request: web.Request) -> Subscription:
    server = server_of(request)
    try:
        topics = ev.parse_topics(request.query.getall("topic", []))
    except ev.TopicError as exc:
        raise APIError.bad_request(f"Invalid topic query: error parsing topics: {exc}") from None
    namespace = request.query.get("namespace") or "default"
    resolved: Resolved | None = None
    if server.config.acl_enabled:
        resolved = server.acl.resolve(request_token(request))
        if not all(topic_allowed(resolved.acl, topic, namespace) for topic in topics):
            raise denied()
    return Subscription(topics, namespace, resolved)


def _still_valid(request: web.Request, sub: Subscription) -> bool:
    if sub.resolved is None or sub.resolved.token is None:
        return True
    try:
        server_of(request).acl.resolve(sub.resolved.secret)
    except APIError:
        return False
    return True


async def event_stream(request: web.Request) -> web.StreamResponse:
    buffer: EventBuffer = server_of(request).events
    sub = _subscription(request)
    cursor = buffer.start_cursor(_index(request.query.get("index", "")))
    response = web.StreamResponse(
        headers={"Content-Type": "application/json", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    try:
        await _follow(response, buffer, sub, cursor, request)
        await response.write_eof()
    except ConnectionError:
        pass  # the subscriber went away
    return response


async def _follow(
    response: web.StreamResponse,
    buffer: EventBuffer,
    sub: Subscription,
    cursor: int,
    request: web.Request,
) -> None:
    loop = asyncio.get_running_loop()
    # the first heartbeat tells the client the subscription holds before any event comes
    await response.write(_line({}))
    last_write = loop.time()
    while not buffer.closed:
        try:
            batches = buffer.after(cursor)
        except DroppedError as exc:
            await response.write(str(exc).encode())
            return
        if not _still_valid(request, sub):
            await response.write(CLOSED.encode())
            return
        for batch in batches:
            cursor = batch.index
            chosen = sub.select(batch.events)
            if chosen:
                await response.write(_line(ev.frame(batch.index, chosen)))
                last_write = loop.time()
        if batches:
            continue
        await buffer.wait(cursor, max(buffer.heartbeat_s - (loop.time() - last_write), 0.0))
        if not buffer.closed and loop.time() - last_write >= buffer.heartbeat_s:
            await response.write(_line({}))
            last_write = loop.time()


ROUTES: list[Route] = [
    routes.get("/v1/event/stream", event_stream),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)
