"""Nomad's ACL enforcement on the scheduler's HTTP API: one middleware and one table.

Every route is named in `ROUTES` with what Nomad requires for it (the capability checked by
the endpoint's handler in Nomad's `nomad/*_endpoint.go`), or is on the `OPEN` list of what
Nomad leaves open. A route missing from both is refused to all but management tokens, so a
new endpoint cannot slip through unguarded; `tests/scheduler/test_acl_routes.py` enumerates
the application's routes to keep the table whole.

The handlers stay as they are: namespaces come from `?namespace=`, from the job in the body,
or from the allocation, evaluation or deployment the path names; lists that Nomad filters
per object (`?namespace=*`, a node's or an evaluation's allocations, search) are
filtered here on the way out.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from yurt.api.casing import get_field
from yurt.api.nomad_exec import may_exec
from yurt.scheduler import acl_policy as p
from yurt.scheduler import store as s
from yurt.scheduler.acl_state import ACLState, Resolved, denied
from yurt.scheduler.job_keys import normalize_job_keys

if TYPE_CHECKING:
    from yurt.scheduler.store import Store

# A search answer to filter, and an allocation with its job put in: free-form JSON views.
Obj = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RESOLVED_KEY: web.RequestKey[Resolved] = web.RequestKey("yurt.acl.resolved", Resolved)

# Where a namespaced request's namespace comes from.
QUERY = "query"
JOB_BODY = "job-body"
ALLOC = "alloc"
EVAL = "eval"
DEPLOYMENT = "deployment"


@dataclass(frozen=True)
class Need:
    """What a request needs. `kind`: open, internal (node secret), self (the handler checks,
    as the ACL endpoints do), ns (any of `caps` in a namespace), agent/node/operator (at
    `level`), management, or search. `filter_cap`: drop list items whose namespace lacks it."""

    kind: str
    caps: tuple[str, ...] = ()
    ns_from: str = QUERY
    level: str = ""
    filter_cap: str = ""
    # alloc exec: also alloc-node-exec when the task's driver does not isolate it.
    exec_task: bool = False


OPEN_NEED = Need("open")
SELF = Need("self")
INTERNAL = Need("internal")
MANAGEMENT = Need("management")


def ns(*caps: str, ns_from: str = QUERY, filter_cap: str = "") -> Need:
    return Need("ns", caps, ns_from, filter_cap=filter_cap)


def coarse(kind: str, level: str) -> Need:
    return Need(kind, level=level)


READ_JOB = ns(p.READ_JOB)
_GET = ("GET", "HEAD")
_WRITE = ("PUT", "POST")

# --- the capability of a /v1/job/<id>[/<what>] request -------------------------------------

# Every job path ("" for the job itself) and the methods it takes, as
# `yurt.scheduler.api_jobs.ROUTES` declares them.
JOB_PATHS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("GET", *_WRITE, "DELETE")),
    ("allocations", ("GET",)),
    ("evaluations", ("GET",)),
    ("versions", ("GET",)),
    ("summary", ("GET",)),
    ("deployments", ("GET",)),
    ("deployment", ("GET",)),
    ("submission", ("GET",)),
    ("services", ("GET",)),
    ("scale", ("GET", *_WRITE)),
    ("plan", _WRITE),
    ("evaluate", _WRITE),
    ("periodic/force", _WRITE),
    ("dispatch", _WRITE),
    ("revert", _WRITE),
    ("stable", _WRITE),
)
_JOB_READS = frozenset(what for what, methods in JOB_PATHS if methods == ("GET",)) | {""}


def job_path(what: str) -> str:
    """The route pattern of `/v1/job/<id>/<what>`."""
    return f"/v1/job/{{id}}/{what}" if what else "/v1/job/{id}"


def job_tail_need(method: str, suffix: str) -> Need:
    """What `method` on `/v1/job/<id>/<suffix>` needs ("" for the job itself), as Nomad's
    job endpoints check it."""
    reading = method in _GET
    if suffix in _JOB_READS and reading:
        return READ_JOB
    if suffix == "scale":
        if reading:
            return ns(p.READ_JOB_SCALING, p.READ_JOB)
        return ns(p.SCALE_JOB, p.SUBMIT_JOB)
    if suffix == "dispatch":
        return ns(p.DISPATCH_JOB)
    if suffix == "periodic/force":
        return ns(p.DISPATCH_JOB, p.SUBMIT_JOB)
    if suffix == "" and method in _WRITE:
        return ns(p.SUBMIT_JOB, ns_from=JOB_BODY)
    if suffix == "plan":
        return ns(p.SUBMIT_JOB, ns_from=JOB_BODY)
    return ns(p.SUBMIT_JOB)


# What Nomad leaves open: cluster status (`nomad status` and clients find their servers by
# it), agent health, ACL bootstrap, the one-time token exchange, the caller's own token,
# metrics (Nomad checks no ACL on /v1/metrics), and the UI's pages and files (they hold no
# data; the data they fetch is guarded).
OPEN: dict[tuple[str, str], Need] = {
    ("GET", "/v1/status/leader"): OPEN_NEED,
    ("GET", "/v1/status/peers"): OPEN_NEED,
    ("GET", "/v1/regions"): OPEN_NEED,
    ("GET", "/v1/agent/health"): OPEN_NEED,
    ("GET", "/v1/metrics"): OPEN_NEED,
    ("PUT", "/v1/acl/bootstrap"): SELF,
    ("POST", "/v1/acl/bootstrap"): SELF,
    ("PUT", "/v1/acl/token/onetime/exchange"): SELF,
    ("POST", "/v1/acl/token/onetime/exchange"): SELF,
    ("GET", "/v1/acl/token/self"): SELF,
    # Lists only the policies the caller's token holds (the anonymous one without a token).
    ("GET", "/v1/acl/policies"): SELF,
    # A job path asked with a method it does not take: Nomad's job handlers answer 405
    # "Invalid method" before any ACL check.
    **{("*", job_path(what)): OPEN_NEED for what, _ in JOB_PATHS},
}
OPEN_PREFIXES = ("/ui/assets/",)
OPEN_UI_PAGES = ("/", "/ui", "/ui/")


def _both(methods: tuple[str, ...], path: str, need: Need) -> dict[tuple[str, str], Need]:
    return {(m, path): need for m in methods}


ROUTES: dict[tuple[str, str], Need] = {
    ("GET", "/v1/jobs"): ns(p.LIST_JOBS, filter_cap=p.LIST_JOBS),
    **_both(_WRITE, "/v1/jobs", ns(p.SUBMIT_JOB, ns_from=JOB_BODY)),
    **_both(_WRITE, "/v1/jobs/parse", ns(p.PARSE_JOB, p.SUBMIT_JOB)),
    **_both(_WRITE, "/v1/validate/job", ns(p.READ_JOB, ns_from=JOB_BODY)),
    **{
        (method, job_path(what)): job_tail_need(method, what)
        for what, methods in JOB_PATHS
        for method in methods
    },
    ("GET", "/v1/allocations"): ns(p.READ_JOB, filter_cap=p.READ_JOB),
    ("GET", "/v1/allocation/{id}"): ns(p.READ_JOB, ns_from=ALLOC),
    **_both(_WRITE, "/v1/allocation/{id}/stop", ns(p.ALLOC_LIFECYCLE, ns_from=ALLOC)),
    ("GET", "/v1/evaluations"): ns(p.READ_JOB, filter_cap=p.READ_JOB),
    ("GET", "/v1/evaluation/{id}"): ns(p.READ_JOB, ns_from=EVAL),
    # The allocations name their evaluation, which may be gone: filtered per allocation too.
    ("GET", "/v1/evaluation/{id}/allocations"): ns(p.READ_JOB, ns_from=EVAL, filter_cap=p.READ_JOB),
    ("GET", "/v1/deployments"): ns(p.READ_JOB, filter_cap=p.READ_JOB),
    ("GET", "/v1/deployment/{id}"): ns(p.READ_JOB, ns_from=DEPLOYMENT),
    ("GET", "/v1/deployment/allocations/{id}"): ns(p.READ_JOB, ns_from=DEPLOYMENT),
    **_both(_WRITE, "/v1/deployment/fail/{id}", ns(p.SUBMIT_JOB, ns_from=DEPLOYMENT)),
    **_both(_WRITE, "/v1/deployment/promote/{id}", ns(p.SUBMIT_JOB, ns_from=DEPLOYMENT)),
    **_both(_WRITE, "/v1/deployment/pause/{id}", ns(p.SUBMIT_JOB, ns_from=DEPLOYMENT)),
    **_both(_WRITE, "/v1/deployment/allocation-health/{id}", ns(p.SUBMIT_JOB, ns_from=DEPLOYMENT)),
    **_both(_WRITE, "/v1/deployment/unblock/{id}", ns(p.SUBMIT_JOB, ns_from=DEPLOYMENT)),
    # Native services: Nomad's ServiceRegistration endpoints check read-job / submit-job.
    ("GET", "/v1/services"): ns(p.READ_JOB, filter_cap=p.READ_JOB),
    ("GET", "/v1/service/"): READ_JOB,
    ("GET", "/v1/service/{name}"): READ_JOB,
    ("DELETE", "/v1/service/{name}/{id}"): ns(p.SUBMIT_JOB),
    ("GET", "/v1/allocation/{id}/services"): ns(p.READ_JOB, ns_from=ALLOC),
    ("GET", "/v1/nodes"): coarse("node", p.READ),
    ("GET", "/v1/node/{id}"): coarse("node", p.READ),
    # Nomad's Node.GetAllocs: node:read, then only the allocations the token may read.
    ("GET", "/v1/node/{id}/allocations"): Need("node", level=p.READ, filter_cap=p.READ_JOB),
    **_both(_WRITE, "/v1/node/{id}/drain", coarse("node", p.WRITE)),
    **_both(_WRITE, "/v1/node/{id}/eligibility", coarse("node", p.WRITE)),
    **_both(_WRITE, "/v1/node/{id}/evaluate", coarse("node", p.WRITE)),
    # Node pools: Nomad's node_pool policy is not modelled; reading takes node:read (the
    # node_pool read a default policy gives), writing a management token.
    ("GET", "/v1/node/pools"): coarse("node", p.READ),
    ("GET", "/v1/node/pool/{name}"): coarse("node", p.READ),
    ("GET", "/v1/node/pool/{name}/nodes"): coarse("node", p.READ),
    ("GET", "/v1/node/pool/{name}/jobs"): Need("node", level=p.READ, filter_cap=p.LIST_JOBS),
    **_both(_WRITE, "/v1/node/pools", MANAGEMENT),
    **_both((*_WRITE, "DELETE"), "/v1/node/pool/{name}", MANAGEMENT),
    ("GET", "/v1/agent/self"): coarse("agent", p.READ),
    ("GET", "/v1/agent/members"): coarse("node", p.READ),
    ("GET", "/v1/agent/servers"): coarse("agent", p.READ),
    ("GET", "/v1/operator/scheduler/configuration"): coarse("operator", p.READ),
    **_both(_WRITE, "/v1/operator/scheduler/configuration", coarse("operator", p.WRITE)),
    ("GET", "/v1/operator/raft/configuration"): coarse("operator", p.READ),
    ("GET", "/v1/operator/autopilot/configuration"): coarse("operator", p.READ),
    **_both(_WRITE, "/v1/operator/autopilot/configuration", coarse("operator", p.WRITE)),
    ("GET", "/v1/operator/autopilot/health"): coarse("operator", p.READ),
    **_both(_WRITE, "/v1/agent/join", coarse("agent", p.WRITE)),
    **_both(_WRITE, "/v1/agent/force-leave", coarse("agent", p.WRITE)),
    ("GET", "/v1/scaling/policies"): ns(p.LIST_SCALING_POLICIES, p.READ_JOB),
    ("GET", "/v1/scaling/policy/{id}"): ns(p.READ_SCALING_POLICY, p.READ_JOB),
    **_both(_WRITE, "/v1/system/gc", MANAGEMENT),
    **_both(_WRITE, "/v1/system/reconcile/summaries", MANAGEMENT),
    **_both(_WRITE, "/v1/search", Need("search")),
    # Checked per context and per object by the handler (yurt.scheduler.api_search).
    **_both(_WRITE, "/v1/search/fuzzy", SELF),
    ("*", "/v1/client/{tail}"): Need("client-tail"),
    # Each topic needs its own capability: checked by the handler (yurt.scheduler.api_events).
    ("GET", "/v1/event/stream"): SELF,
    # yurt's client protocol: the node's own secret, checked by the handlers.
    ("PUT", "/v1/internal/node/register"): INTERNAL,
    ("PUT", "/v1/internal/node/{id}/heartbeat"): INTERNAL,
    ("GET", "/v1/internal/node/{id}/allocations"): INTERNAL,
    ("PUT", "/v1/internal/node/{id}/allocations"): INTERNAL,
    ("PUT", "/v1/internal/node/{id}/services"): INTERNAL,
    # Variables: the handlers check each path's capabilities, and workload identities,
    # as Nomad's Variables RPCs do (yurt.scheduler.api_variables).
    ("GET", "/v1/vars"): SELF,
    ("GET", "/v1/var/{path}"): SELF,
    **_both((*_WRITE, "DELETE"), "/v1/var/{path}", SELF),
    ("GET", "/v1/internal/node/{id}/identity"): INTERNAL,
    # The ACL endpoints check the token themselves (yurt.scheduler.acl_api).
    ("GET", "/v1/acl/policy/{name}"): SELF,
    **_both((*_WRITE, "DELETE"), "/v1/acl/policy/{name}", SELF),
    ("GET", "/v1/acl/tokens"): SELF,
    **_both(_WRITE, "/v1/acl/token", SELF),
    **_both(_WRITE, "/v1/acl/token/onetime", SELF),
    ("GET", "/v1/acl/token/{accessor}"): SELF,
    **_both((*_WRITE, "DELETE"), "/v1/acl/token/{accessor}", SELF),
}


# --- the capability of a /v1/client/<...> request ----------------------------------------


def client_tail_need(tail: str) -> tuple[Need, str]:
    """The need of a `/v1/client/<tail>` request and the allocation ID it names ("" none)."""
    parts = tail.strip("/").split("/")
    if parts == ["stats"]:
        return coarse("node", p.READ), ""
    if parts == ["gc"]:
        return coarse("node", p.WRITE), ""
    if len(parts) == 3 and parts[0] == "fs":
        if parts[1] == "logs":
            return ns(p.READ_LOGS, p.READ_FS, ns_from=ALLOC), parts[2]
        if parts[1] in ("cat", "readat", "ls", "stat", "stream"):
            return ns(p.READ_FS, ns_from=ALLOC), parts[2]
    if len(parts) == 3 and parts[0] == "allocation":
        action = parts[2]
        if action == "stats":
            return ns(p.READ_JOB, ns_from=ALLOC), parts[1]
        if action in ("restart", "signal"):
            return ns(p.ALLOC_LIFECYCLE, ns_from=ALLOC), parts[1]
        if action == "gc":
            return ns(p.SUBMIT_JOB, ns_from=ALLOC), parts[1]
        if action == "exec":
            return Need("ns", (p.ALLOC_EXEC,), ALLOC, exec_task=True), parts[1]
    return MANAGEMENT, ""


def allowed(
    need: Need, acl: p.ACL, namespace: str, alloc: Mapping[str, Any] | None = None, task: str = ""
) -> bool:
    """Whether `acl` meets `need` (for ns needs, in `namespace`); an exec into `task` of
    `alloc` (with its Job) also needs what `yurt.api.nomad_exec.may_exec` asks."""
    if need.kind in ("open", "internal", "self"):
        return True
    if acl.is_management:
        return True
    if need.kind == "ns":
        if need.exec_task and alloc is not None and not may_exec(acl, alloc, task, namespace):
            return False
        return acl.allow_namespace_any(namespace, *need.caps)
    if need.kind in ("node", "agent", "operator"):
        level = acl.coarse.get(need.kind, "")
        if level == p.DENY:
            return False
        return level == p.WRITE or (need.level == p.READ and level == p.READ)
    return False


def filter_items(items: list[Any], acl: p.ACL, cap: str) -> list[Any]:
    return [
        item
        for item in items
        if not isinstance(item, dict)
        or acl.allow_namespace_op(str(item.get("Namespace") or "default"), cap)
    ]


_SEARCH_TABLES = {"evals": s.EVAL, "allocs": s.ALLOC, "deployment": s.DEPLOYMENT}


def filter_search(result: Obj, acl: p.ACL, namespace: str, store: Store) -> Obj:
    """Keep in a search answer only what the token may see, each ID judged in the namespace
    of its object (the answer may span namespaces): jobs it may list, evaluations,
    allocations and deployments it may read, and nodes if it may read nodes."""
    matches = result.get("Matches") or {}
    for name, ids in matches.items():
        if not isinstance(ids, list):
            continue
        if name == "nodes":
            kept = ids if acl.allow_node_read() else []
        elif name == "jobs":
            visible = {
                j["ID"]
                for j in store.jobs()
                if namespace in (p.ALL_NAMESPACES, j["Namespace"])
                and acl.allow_namespace_op(j["Namespace"], p.LIST_JOBS)
            }
            kept = [i for i in ids if i in visible]
        else:
            table = store.tables[_SEARCH_TABLES[name]] if name in _SEARCH_TABLES else {}
            kept = [
                i
                for i in ids
                if i in table
                and acl.allow_namespace_op(str(table[i].get("Namespace") or "default"), p.READ_JOB)
            ]
        if len(kept) != len(ids):
            matches[name] = kept
            if not kept:
                result["Truncations"][name] = False
    return result


def request_token(request: web.BaseRequest) -> str:
    """The secret from `X-Nomad-Token`, or from `Authorization: Bearer` as Nomad 1.5+."""
    token = request.headers.get("X-Nomad-Token", "")
    if token:
        return token.strip()
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    return ""


# --- the middleware ------------------------------------------------------------------------


def route_key(request: web.Request) -> tuple[str, str] | None:
    """(method, route pattern) of the route that matched; None when the router matched none
    (its 404/405 answer reveals nothing)."""
    route = request.match_info.route
    resource = route.resource
    if resource is None:
        return None
    return route.method, resource.canonical


def lookup_need(method: str, pattern: str) -> Need:
    method = "GET" if method == "HEAD" else method
    for key in ((method, pattern), ("*", pattern)):
        if key in OPEN:
            return OPEN[key]
        if key in ROUTES:
            return ROUTES[key]
    if pattern.startswith(OPEN_PREFIXES) or pattern in OPEN_UI_PAGES:
        return OPEN_NEED
    if pattern.startswith("/ui/{page"):
        return OPEN_NEED  # the UI shell: the same HTML for every page, no data
    return MANAGEMENT


def _by_prefix(table: Mapping[str, s.Row], ident: str) -> s.Row | None:
    obj = table.get(ident)
    if obj is not None:
        return obj
    if 0 < len(ident) < 36:
        found = [v for k, v in table.items() if k.startswith(ident)]
        if len(found) == 1:
            return found[0]
    return None


# Nomad's mixed-auth reads: a task's workload identity may read its own namespace's
# native services (what `nomadService` templates do), as ServiceRegistration.List and
# GetService allow a valid identity claim.
WORKLOAD_READS = {("GET", "/v1/services"), ("GET", "/v1/service/{name}")}

IdentityOf = Callable[[str], "p.WorkloadClaim | None"]


class Enforcer:
    """The scheduler's side: resolves tokens against its own ACL state."""

    def __init__(self, state: ACLState, store: Store, identity: IdentityOf | None = None) -> None:
        self.state = state
        self.store = store
        self.identity = identity  # a workload identity's claim (None: not valid)

    def workload_may_read(self, request: web.Request, token: str) -> bool | None:
        """None: not a workload identity on a route that takes one; else whether its claim
        lets it read the namespace asked for."""
        if (
            self.identity is None
            or not token.startswith("wi.")  # workload_identity.PREFIX, without its imports
            or (route_key(request) not in WORKLOAD_READS)
        ):
            return None
        claim = self.identity(token)
        return claim is not None and claim.namespace == (
            request.query.get("namespace") or "default"
        )

    async def _namespace(
        self, request: web.Request, need: Need, alloc_id: str
    ) -> tuple[str, Obj | None]:
        """The namespace the request acts in, and the allocation it names (if any, with its
        Job), both found as the handler will find them."""
        default = request.query.get("namespace") or "default"
        if need.ns_from == JOB_BODY:
            return _job_namespace(await request.read() if request.can_read_body else b""), None
        table = {ALLOC: s.ALLOC, EVAL: s.EVAL, DEPLOYMENT: s.DEPLOYMENT}.get(need.ns_from)
        if table is None:
            return default, None
        ident = alloc_id or request.match_info.get("id", "")
        obj = _by_prefix(self.store.tables[table], ident)
        if obj is None:
            return default, None
        namespace = str(obj.get("Namespace") or "default")
        if table != s.ALLOC:
            return namespace, None
        job = obj.get("Job") or (
            self.store.job_version(namespace, obj["JobID"], int(obj.get("JobVersion") or 0))
            or self.store.job(namespace, obj["JobID"])
        )
        return namespace, {**obj, "Job": job}

    def need(self, request: web.Request) -> tuple[Need, str]:
        key = route_key(request)
        if key is None:
            return OPEN_NEED, ""
        need = lookup_need(*key)
        if need.kind == "client-tail":
            return client_tail_need(request.match_info.get("tail", ""))
        return need, ""

    async def check(self, request: web.Request, resolved: Resolved) -> Need:
        need, alloc_id = self.need(request)
        acl = resolved.acl
        if need.kind == "search":
            namespace = request.query.get("namespace") or "default"
            if not (
                acl.is_management
                or acl.allow_namespace_any(namespace, p.LIST_JOBS, p.READ_JOB)
                or acl.allow_node_read()
            ):
                raise denied()
            return need
        namespace = request.query.get("namespace") or "default"
        alloc: Obj | None = None
        if need.kind == "ns":
            namespace, alloc = await self._namespace(request, need, alloc_id)
        if not allowed(need, acl, namespace, alloc, request.query.get("task", "")):
            raise denied()
        return need


def acl_middleware(enforcer: Enforcer) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        need, _ = enforcer.need(request)
        # Open routes need no token; the node protocol has its own secret; the ACL
        # endpoints resolve the token themselves (bootstrap and exchange need none).
        if need.kind in ("open", "internal", "self"):
            return await handler(request)
        workload = enforcer.workload_may_read(request, request_token(request))
        if workload is not None:
            if not workload:
                raise denied()
            return await handler(request)
        resolved = enforcer.state.resolve(request_token(request))
        request[RESOLVED_KEY] = resolved
        need = await enforcer.check(request, resolved)
        response = await handler(request)
        if resolved.acl.is_management:
            return response
        return _filtered(request, response, need, resolved.acl, enforcer.store)

    return middleware


def _filtered(
    request: web.Request, response: web.StreamResponse, need: Need, acl: p.ACL, store: Store
) -> web.StreamResponse:
    if not isinstance(response, web.Response) or response.status != 200:
        return response
    namespace = request.query.get("namespace") or "default"
    if need.kind == "search":
        data = _json(response)
        if isinstance(data, dict):
            _rewrite(response, filter_search(data, acl, namespace, store))
        return response
    # A list from one namespace named in the query holds only what the check allowed.
    from_query = need.kind == "ns" and need.ns_from == QUERY
    if not need.filter_cap or (from_query and namespace != p.ALL_NAMESPACES):
        return response
    data = _json(response)
    if isinstance(data, list):
        _rewrite(response, filter_items(data, acl, need.filter_cap))
    return response


def _job_namespace(raw: bytes) -> str:
    """The namespace a job write acts in, read as the handler reads it: the body's `Job`
    (keys in any case, as Go decodes them) names it, else "default" (the query's namespace
    does not count). A body the handler refuses checks against "default"."""
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return "default"
    job = get_field(body, "Job") if isinstance(body, dict) else None
    namespace = normalize_job_keys(job).get("Namespace") if isinstance(job, dict) else None
    return namespace if isinstance(namespace, str) and namespace else "default"


def _json(response: web.Response) -> Any:
    body = response.body
    if not isinstance(body, bytes | bytearray):
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _rewrite(response: web.Response, data: Any) -> None:
    response.body = json.dumps(data).encode()
