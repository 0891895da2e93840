"""Nomad's Variables API: `/v1/vars` (list, `?prefix=`, `?namespace=` incl. `*`,
pagination) and `/v1/var/:path` (read, write with `?cas=`, delete with `?cas=`, and the
lock operations `?lock-acquire`, `?lock-renew`, `?lock-release`), with blocking reads,
`X-Nomad-Index` and 409 bodies holding the conflicting variable, as Nomad's
`command/agent/variable_endpoint.go` answers.

These routes check ACLs themselves (they are `SELF` in `acl_enforce`), as Nomad's
Variables RPCs do per path: `namespace { variables { path "..." { capabilities } } }`, and
a task's workload identity reads and lists its own `nomad/jobs/...` variables. Also here:
yurt's internal route by which a client gets its tasks' workload identities.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web

from yurt.api import routes
from yurt.api.blocking import BlockingQuery, blocking_query
from yurt.api.errors import APIError
from yurt.api.http import expect_object, flag, json_response, read_json
from yurt.api.routes import Route
from yurt.scheduler import acl_policy as p
from yurt.scheduler import store as s
from yurt.scheduler import variables as v
from yurt.scheduler import workload_identity as wi
from yurt.scheduler.acl_enforce import request_token
from yurt.scheduler.acl_state import denied
from yurt.scheduler.api_common import index_headers, namespace, server_of
from yurt.scheduler.api_internal import node_auth
from yurt.scheduler.keyring import NoRootKey
from yurt.scheduler.operations import Operations
from yurt.scheduler.ops_variables import Applied, variable_key
from yurt.scheduler.structs import Variable, VariableView

DESTROY = "destroy"


@dataclass(frozen=True)
class Caller:
    acl: p.ACL
    claim: p.WorkloadClaim | None = None

    def may(self, ns: str, path: str, cap: str) -> bool:
        return self.acl.allow_variable_op(ns, path, cap, self.claim)

    @property
    def management(self) -> bool:
        return self.acl.is_management


def _ops(request: web.Request) -> Operations:
    server = server_of(request)
    try:
        server.ops.keyring_at(server.config.data_dir)
    except NoRootKey as exc:  # a follower before the leader's key reached it
        raise APIError(500, str(exc)) from None
    return server.ops


def _caller(request: web.Request) -> Caller:
    server = server_of(request)
    if not server.config.acl_enabled:
        return Caller(p.MANAGEMENT)
    token = request_token(request)
    if wi.is_identity(token):
        claim = wi.claim_of(_ops(request).keyring, token, server.store.allocs)
        if claim is None:
            raise denied()
        return Caller(p.ACL(), claim)
    return Caller(server.acl.resolve(token).acl)


def _path(request: web.Request) -> str:
    path = request.match_info.get("path", "")
    if not path:
        raise APIError.bad_request(v.MISSING_PATH)
    return path


def _refused(exc: v.VariableError) -> APIError:
    return APIError(exc.status, exc.message)


# --- reads -----------------------------------------------------------------------------


async def list_variables(request: web.Request) -> web.Response:
    ops = _ops(request)
    caller = _caller(request)
    ns = namespace(request)
    prefix = request.query.get("prefix", "")
    try:
        per_page = int(request.query.get("per_page") or 0)
    except ValueError:
        raise APIError.bad_request("failed to parse parameters") from None
    next_token = request.query.get("next_token", "")
    store = ops.store

    def run() -> tuple[tuple[list[VariableView], str], int]:
        now = _now()
        visible = [
            var
            for var in ops.variables_under(ns, prefix)
            if caller.may(var["Namespace"], var["Path"], p.LIST)
        ]
        shown, token = v.page(visible, per_page, next_token)
        out = [v.metadata(var, with_lock=caller.management, now_ns=now) for var in shown]
        return (out, token), store.table_index[s.VARIABLE]

    query = BlockingQuery.from_query(request.query)
    (result, token), index = await blocking_query(store.hub, [s.VARIABLE], query, run)
    headers = index_headers(index)
    if token:
        headers["X-Nomad-NextToken"] = token
    return json_response(result, headers=headers, pretty=flag(request, "pretty"))


async def read_variable(request: web.Request) -> web.Response:
    path = _path(request)
    ops = _ops(request)
    caller = _caller(request)
    ns = namespace(request)
    if not caller.may(ns, path, p.READ):
        raise denied()
    store = ops.store

    def run() -> tuple[Variable | None, int]:
        var = ops.variable(ns, path)
        if var is None:
            return None, store.table_index[s.VARIABLE]
        return var, int(var["ModifyIndex"])

    query = BlockingQuery.from_query(request.query)
    topic = f"{s.VARIABLE}:{variable_key(ns, path)}"
    var, index = await blocking_query(store.hub, [s.VARIABLE, topic], query, run)
    if var is None:
        return web.Response(status=404, text=v.NOT_FOUND, headers=index_headers(index))
    body = v.metadata(var, with_lock=caller.management, now_ns=_now())
    body["Items"] = ops.items(var)
    return json_response(body, headers=index_headers(index), pretty=flag(request, "pretty"))


# --- writes ----------------------------------------------------------------------------


async def write_variable(request: web.Request) -> web.Response:
    path = _path(request)
    ops = _ops(request)
    caller = _caller(request)
    raw = await read_json(request) if request.can_read_body else {}
    body = expect_object(raw if raw is not None else {}, "body")
    ns = str(body.get("Namespace") or namespace(request))
    try:
        op = v.lock_operation(request.query)
        cas = v.parse_cas(request.query.get("cas"))
        items = v.items_of(body)
        lock = v.lock_request(body)
    except v.VariableError as exc:
        raise _refused(exc) from None
    if op == "" and not items:
        raise APIError.bad_request(v.MISSING_ITEMS)
    if not caller.may(ns, path, p.WRITE):
        raise denied()
    ops.release_lost_locks()
    lock_id = lock.id if lock is not None else ""
    try:
        if op == v.LOCK_ACQUIRE:
            applied = ops.acquire_lock(ns, path, items, bool(items), lock)
        elif op == v.LOCK_RENEW:
            applied = ops.renew_lock(ns, path, lock_id)
        elif op == v.LOCK_RELEASE:
            applied = ops.release_lock(ns, path, lock_id, bool(items))
        else:
            applied = ops.set_variable(ns, path, items, cas=cas, lock_id=lock_id)
    except v.VariableError as exc:
        raise _refused(exc) from None
    if not applied.ok:
        return _conflict(ops, caller, ns, path, applied)
    var = applied.var
    assert var is not None  # every write but a delete answers with what it stored
    held = var.get("Lock")
    owner = held is not None and (op == v.LOCK_ACQUIRE or lock_id == held["ID"])
    out = v.metadata(var, with_lock=owner or caller.management, now_ns=_now())
    if op != v.LOCK_RENEW:
        out["Items"] = items
    return json_response(out, headers=index_headers(applied.index))


async def delete_variable(request: web.Request) -> web.Response:
    path = _path(request)
    ops = _ops(request)
    caller = _caller(request)
    ns = namespace(request)
    try:
        cas = v.parse_cas(request.query.get("cas"))
    except v.VariableError as exc:
        raise _refused(exc) from None
    if not caller.may(ns, path, DESTROY):
        raise denied()
    ops.release_lost_locks()
    applied = ops.delete_variable(ns, path, cas=cas)
    if not applied.ok:
        return _conflict(ops, caller, ns, path, applied)
    return web.Response(status=204, headers=index_headers(applied.index))


def _conflict(
    ops: Operations, caller: Caller, ns: str, path: str, applied: Applied
) -> web.Response:
    """409 with the current variable: its items only for a caller who may read them."""
    var = applied.var
    if var is None:
        body = v.zero_conflict(ns, path)
    else:
        body = v.metadata(var, with_lock=caller.management, now_ns=_now())
        body["Items"] = ops.items(var) if caller.may(ns, path, p.READ) else None
    return json_response(body, status=409, headers=index_headers(applied.index))


# --- workload identities for the client -------------------------------------------------


async def task_identity(request: web.Request) -> web.Response:
    """A task's workload identity, for the node that runs its allocation."""
    node = node_auth(request)
    ops = _ops(request)
    alloc_id = request.query.get("alloc", "")
    task = request.query.get("task", "")
    alloc = ops.store.allocs.get(alloc_id)
    if alloc is None or alloc.get("NodeID") != node["ID"] or not task:
        raise APIError.not_found("allocation not found")
    return json_response({"Token": wi.issue(ops.keyring, alloc_id, task)})


def _now() -> int:
    return time.time_ns()


ROUTES: list[Route] = [
    routes.get("/v1/vars", list_variables),
    routes.get("/v1/var/{path:.*}", read_variable),
    routes.write("/v1/var/{path:.*}", write_variable),
    routes.delete("/v1/var/{path:.*}", delete_variable),
    routes.get("/v1/internal/node/{id}/identity", task_identity),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)
