"""`/v1/session/*`: sessions, which hold KV locks (`?acquire=` / `?release=`)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.casing import get_field
from yurt.api.durations import SECOND, duration_from_json, format_go_duration, parse_go_duration
from yurt.api.errors import APIError
from yurt.api.http import json_type_name, read_json
from yurt.catalog.acl_http import checked, filtered, require, view
from yurt.catalog.api_common import answer, blocking_answer, check_datacenter, server_of
from yurt.catalog.model import (
    CRITICAL,
    DEFAULT_LOCK_DELAY_NS,
    DELETE,
    RELEASE,
    SERF_CHECK_ID,
    Session,
)

MAX_LOCK_DELAY_NS = 60 * SECOND
MAX_TTL_NS = 86400 * SECOND
_SECONDS_BELOW = 1000


def _strings(body: dict[str, Any], name: str) -> list[str] | None:
    value = get_field(body, name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise APIError.bad_request(f"Request decode failed: {name}: expected an array of strings")
    return list(value)


def _service_checks(body: dict[str, Any]) -> list[str]:
    value = get_field(body, "ServiceChecks")
    if value is None:
        return []
    if not isinstance(value, list):
        raise APIError.bad_request("Request decode failed: ServiceChecks: expected an array")
    out = []
    for i, item in enumerate(value):
        cid = get_field(item, "ID") if isinstance(item, dict) else None
        if not isinstance(cid, str) or not cid:
            raise APIError.bad_request(
                f'Request decode failed: ServiceChecks[{i}]: expected {{"ID": "check id"}}'
            )
        out.append(cid)
    return out


def parse_session(body: dict[str, Any], default_node: str, ttl_min_ns: int) -> Session:
    """A session from a create request, with Consul's defaults and limits."""
    name = get_field(body, "Name", "")
    node = get_field(body, "Node", "") or default_node
    behavior = get_field(body, "Behavior", "") or RELEASE
    for field_name, value in (("Name", name), ("Node", node), ("Behavior", behavior)):
        if not isinstance(value, str):
            raise APIError.bad_request(
                f"Request decode failed: {field_name}: expected a string, "
                f"got {json_type_name(value)}"
            )
    if behavior not in (RELEASE, DELETE):
        raise APIError.bad_request(f"Invalid Behavior setting '{behavior}'")
    raw_delay = get_field(body, "LockDelay")
    lock_delay = DEFAULT_LOCK_DELAY_NS
    if raw_delay is not None:
        try:
            lock_delay = duration_from_json(raw_delay, "LockDelay")
        except ValueError as exc:
            raise APIError.bad_request(f"Request decode failed: {exc}") from None
        if isinstance(raw_delay, int | float) and lock_delay < _SECONDS_BELOW:
            # a small bare number means seconds, as Consul's decoder reads it
            lock_delay = int(raw_delay * SECOND)
    if lock_delay > MAX_LOCK_DELAY_NS:
        lock_delay = MAX_LOCK_DELAY_NS
    ttl = get_field(body, "TTL", "") or ""
    if not isinstance(ttl, str):
        raise APIError.bad_request('Request decode failed: TTL: expected a string such as "30s"')
    if ttl:
        try:
            ttl_ns = parse_go_duration(ttl)
        except ValueError as exc:
            raise APIError.bad_request(f"Request decode failed: TTL: {exc}") from None
        if ttl_ns != 0 and not ttl_min_ns <= ttl_ns <= MAX_TTL_NS:
            raise APIError.bad_request(
                f"Invalid Session TTL '{format_go_duration(ttl_ns)}', must be between "
                f"[{format_go_duration(ttl_min_ns)}={format_go_duration(MAX_TTL_NS)}]"
            )
        if ttl_ns == 0:
            ttl = ""
    checks = _strings(body, "Checks")
    node_checks = _strings(body, "NodeChecks")
    if node_checks is None:
        node_checks = checks if checks is not None else [SERF_CHECK_ID]
    elif checks:
        node_checks = [*node_checks, *(c for c in checks if c not in node_checks)]
    return Session(
        id=str(uuid.uuid4()),
        node=node,
        name=name,
        lock_delay_ns=lock_delay,
        behavior=behavior,
        ttl=ttl,
        node_checks=node_checks,
        service_checks=_service_checks(body),
    )


@checked("session:write on the session's node")
async def create(request: web.Request) -> web.Response:
    server = server_of(request)
    check_datacenter(request)
    body = await read_json(request)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise APIError.bad_request(
            f"Request decode failed: expected a JSON object, got {json_type_name(body)}"
        )
    ttl_min_ns = round(server.config.session_ttl_min_s * SECOND)
    session = parse_session(body, server.node_name, ttl_min_ns)
    require(request, "session", "write", session.node)
    store = server.store
    if session.node not in store.nodes:
        raise APIError.bad_request(f"Missing node registration: {session.node!r}")
    for cid in session.check_ids():
        check = store.checks.get((session.node, cid))
        if check is None:
            raise APIError.bad_request(f"Missing check '{cid}' registration")
        if check.status == CRITICAL:
            raise APIError.bad_request(f"Check '{cid}' is in critical state")
    server.create_session(session)
    return answer(request, {"ID": session.id})


def _require_session_write(request: web.Request, sid: str) -> None:
    session = server_of(request).store.sessions.get(sid)
    if session is not None:
        require(request, "session", "write", session.node)


@checked("session:write on the session's node")
async def destroy(request: web.Request) -> web.Response:
    check_datacenter(request)
    _require_session_write(request, request.match_info["id"])
    server_of(request).destroy_session(request.match_info["id"])
    return answer(request, True)


@checked("session:write on the session's node")
async def renew(request: web.Request) -> web.Response:
    check_datacenter(request)
    sid = request.match_info["id"]
    _require_session_write(request, sid)
    session = server_of(request).renew_session(sid)
    if session is None:
        raise APIError.not_found(f"Session id '{sid}' not found")
    return answer(request, [session.to_json()])


@filtered("session:read on each session's node")
async def info(request: web.Request) -> web.StreamResponse:
    store = server_of(request).store
    sid = request.match_info["id"]
    v = view(request)

    def run() -> tuple[Any, int]:
        session = store.sessions.get(sid)
        shown = session is not None and v.can("session", "read", session.node)
        return ([session.to_json()] if session and shown else []), store.topic_index("sessions")

    return await blocking_answer(request, ["sessions"], run, v)


@filtered("session:read on each session's node")
async def node_sessions(request: web.Request) -> web.StreamResponse:
    store = server_of(request).store
    node = request.match_info["node"]
    v = view(request)

    def run() -> tuple[Any, int]:
        rows = [
            s.to_json()
            for s in _sorted(store.sessions.values())
            if s.node == node and v.can("session", "read", s.node)
        ]
        return rows, store.topic_index("sessions")

    return await blocking_answer(request, ["sessions"], run, v)


@filtered("session:read on each session's node")
async def list_sessions(request: web.Request) -> web.StreamResponse:
    store = server_of(request).store
    v = view(request)

    def run() -> tuple[Any, int]:
        rows = [
            s.to_json()
            for s in _sorted(store.sessions.values())
            if v.can("session", "read", s.node)
        ]
        return rows, store.topic_index("sessions")

    return await blocking_answer(request, ["sessions"], run, v)


def _sorted(sessions: Any) -> list[Session]:
    return sorted(sessions, key=lambda s: (s.create_index, s.id))


# This resource's endpoints; `yurt.catalog.app` installs every table.
ROUTES = (
    routes.put("/v1/session/create", create),
    routes.put("/v1/session/destroy/{id}", destroy),
    routes.put("/v1/session/renew/{id}", renew),
    routes.get("/v1/session/info/{id}", info),
    routes.get("/v1/session/node/{node}", node_sessions),
    routes.get("/v1/session/list", list_sessions),
)
