"""`/v1/event/*`: Consul's user events, fired to and listed from this agent's buffer.

The list blocks as Consul's does: its index comes from the last event's ID, not from the
store, so a blocking list waits while that value equals `?index=` (events.py says why).
"""

from __future__ import annotations

from aiohttp import web

from yurt.api import routes
from yurt.api.blocking import BlockingQuery, wait_until
from yurt.api.errors import APIError
from yurt.catalog.acl_http import checked, mark_filtered, require, view
from yurt.catalog.acl_http import filtered as acl_filtered
from yurt.catalog.api_common import answer, check_datacenter, server_of
from yurt.catalog.events import EventBuffer, EventError, LocalService, list_index, new_event

EVENTS_KEY: web.AppKey[EventBuffer] = web.AppKey("yurt.catalog.events", EventBuffer)
# the WatchHub topic a received event wakes
TOPIC = "user-events"


def buffer_of(request: web.Request) -> EventBuffer:
    return request.app[EVENTS_KEY]


@checked("event:write on the event's name")
async def fire(request: web.Request) -> web.Response:
    check_datacenter(request)
    name = request.match_info.get("name", "")
    if not name:
        raise APIError.bad_request("Missing name")
    require(request, "event", "write", name)
    body = await request.read()
    q = request.query
    try:
        event = new_event(
            name,
            body or None,
            node=q.get("node", ""),
            service=q.get("service", ""),
            tag=q.get("tag", ""),
        )
    except EventError as exc:
        raise APIError(500, str(exc)) from None
    server = server_of(request)
    local = [LocalService(s.name, tuple(s.tags)) for s in server.local_services()]
    if buffer_of(request).receive(event, server.node_name, local):
        server.hub.notify(TOPIC)
    # the answer is the event as fired: its Lamport time is set on receipt
    return answer(request, event.to_json())


@acl_filtered("event:read per event name")
async def list_events(request: web.Request) -> web.Response:
    check_datacenter(request)
    query = BlockingQuery.from_query(request.query)
    name = request.query.get("name", "")
    buffer = buffer_of(request)
    server = server_of(request)
    v = view(request)

    def run() -> tuple[list[dict[str, object]], int]:
        events = [e for e in buffer.events(name) if v.can("event", "read", e.name)]
        return [dict(e.to_json()) for e in events], list_index(events)

    data, index = await wait_until(
        server.hub,
        [TOPIC],
        query.wait_s,
        run,
        # the index is not monotonic: Consul only waits while it is exactly the one asked
        lambda got: query.index == 0 or got[1] != query.index,
    )
    resp = answer(request, data)
    resp.headers["X-Consul-Index"] = str(index)
    return mark_filtered(resp, v)


# This resource's endpoints; `yurt.catalog.app` installs every table.
ROUTES = (
    routes.put("/v1/event/fire/{name}", fire),
    routes.get("/v1/event/list", list_events),
)
