"""`/v1/catalog/*`, `/v1/health/*` and `/v1/status/*`: reads that block, and the catalog's
direct register/deregister endpoints."""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.casing import get_field
from yurt.api.errors import APIError
from yurt.api.http import expect_object, flag, read_json
from yurt.catalog.acl_http import (
    View,
    checked,
    open_route,
    require,
    view,
)
from yurt.catalog.acl_http import (
    filtered as acl_filtered,
)
from yurt.catalog.api_common import (
    answer,
    blocking_answer,
    check_datacenter,
    check_named_datacenter,
    filtered,
    server_of,
)
from yurt.catalog.definitions import DefinitionError, parse_service
from yurt.catalog.model import (
    CRITICAL,
    PASSING,
    STATUSES,
    WARNING,
    Check,
    CheckDefinition,
    Node,
    Service,
)
from yurt.catalog.store import CatalogStore

HEALTH_STATES = ("any", PASSING, WARNING, CRITICAL)


def _node_meta(request: web.Request) -> dict[str, str]:
    """`?node-meta=key:value` (repeatable): only nodes carrying all of these."""
    wanted: dict[str, str] = {}
    for item in request.query.getall("node-meta", []):
        key, sep, value = item.partition(":")
        if not sep:
            raise APIError.bad_request(f"Invalid node-meta {item!r}: expected key:value")
        wanted[key] = value
    return wanted


def _node_matches(node: Node | None, wanted: dict[str, str]) -> bool:
    if not wanted:
        return True
    return node is not None and all(node.meta.get(k) == v for k, v in wanted.items())


def _instances(
    store: CatalogStore, name: str, tags: list[str], node_meta: dict[str, str] | None = None
) -> list[Service]:
    return [
        s
        for s in store.instances(name)
        if all(t in s.tags for t in tags)
        and _node_matches(store.nodes.get(s.node), node_meta or {})
    ]


def _node_of(store: CatalogStore, svc: Service) -> Node:
    return store.nodes[svc.node]


# -- catalog ------------------------------------------------------------------------------


def _sees_instance(v: View, svc: Service) -> bool:
    return v.can("service", "read", svc.name) and v.can("node", "read", svc.node)


def _sees_check(v: View, check: Check) -> bool:
    if check.service_name:
        return v.can("service", "read", check.service_name)
    return v.can("node", "read", check.node)


@acl_filtered("service:read per service")
async def catalog_services(request: web.Request) -> web.StreamResponse:
    store = server_of(request).store
    meta = _node_meta(request)
    v = view(request)

    def run() -> tuple[Any, int]:
        if not meta and not _reshaped(request):
            # each name's tags kept from its last change (`catalog/answer_fragments.py`)
            readable = functools.partial(v.can, "service", "read")
            body = store.service_fragments.answer(store.services_by_name, readable)
            return body, store.topic_index("services")
        out: dict[str, list[str]] = {}
        services = [
            svc
            for name in store.service_names()
            if v.can("service", "read", name)
            for svc in _instances(store, name, [], meta)
        ]
        if "filter" in request.query or request.query.get("peer"):
            rows = [s.catalog_json(_node_of(store, s)) for s in services]
            keep = {(r["Node"], r["ServiceID"]) for r in filtered(request, rows)}
            services = [s for s in services if (s.node, s.id) in keep]
        for svc in services:
            tags = out.setdefault(svc.name, [])
            tags.extend(t for t in svc.tags if t not in tags)
        return out, store.topic_index("services")

    return await blocking_answer(request, ["services"], run, v)


@acl_filtered("service:read and node:read per instance")
async def catalog_service(request: web.Request) -> web.StreamResponse:
    store = server_of(request).store
    name = request.match_info["name"]
    tags = request.query.getall("tag", [])
    meta = _node_meta(request)
    v = view(request)

    def run() -> tuple[Any, int]:
        rows = [
            s.catalog_json(_node_of(store, s))
            for s in _instances(store, name, tags, meta)
            if _sees_instance(v, s)
        ]
        return filtered(request, rows), store.topic_index(f"svc:{name}", "services")

    return await blocking_answer(request, [f"svc:{name}"], run, v)


@acl_filtered("node:read per node")
async def catalog_nodes(request: web.Request) -> web.StreamResponse:
    store = server_of(request).store
    meta = _node_meta(request)
    v = view(request)

    def run() -> tuple[Any, int]:
        nodes = sorted(store.nodes.values(), key=lambda n: n.name)
        rows = [
            n.to_json() for n in nodes if _node_matches(n, meta) and v.can("node", "read", n.name)
        ]
        return filtered(request, rows), store.topic_index("nodes")

    return await blocking_answer(request, ["nodes"], run, v)


@acl_filtered("node:read on the node, service:read per service")
async def catalog_node(request: web.Request) -> web.StreamResponse:
    """The node and its services, `Services` keyed by service ID."""
    return await _node_with_services(request, by_id=True)


@acl_filtered("node:read on the node, service:read per service")
async def catalog_node_services(request: web.Request) -> web.StreamResponse:
    """Like /v1/catalog/node/:node, with `Services` as a list (Consul 1.7+)."""
    return await _node_with_services(request, by_id=False)


async def _node_with_services(request: web.Request, *, by_id: bool) -> web.StreamResponse:
    store = server_of(request).store
    name = request.match_info["node"]
    v = view(request)

    def run() -> tuple[Any, int]:
        node = store.nodes.get(name)
        index = store.topic_index(f"node:{name}", "nodes")
        if node is None or not v.can("node", "read", name):
            return None, index
        services = [s for s in store.node_services(name) if v.can("service", "read", s.name)]
        rows = filtered(request, [s.health_json() for s in services])
        return {
            "Node": node.to_json(),
            "Services": {r["ID"]: r for r in rows} if by_id else rows,
        }, index

    return await blocking_answer(request, [f"node:{name}"], run, v)


@open_route("Consul lists datacenters to anyone")
async def catalog_datacenters(request: web.Request) -> web.Response:
    return answer(request, [server_of(request).config.datacenter])


@checked("node:write on the node, service:write on the service and its checks")
async def catalog_register(request: web.Request) -> web.Response:
    server = server_of(request)
    store = server.store
    check_datacenter(request)
    body = expect_object(await read_json(request), "request body")
    node_name = _string(body, "Node")
    if not node_name:
        raise APIError.bad_request("Must provide node")
    check_named_datacenter(request, _string(body, "Datacenter"))
    existing = store.nodes.get(node_name)
    skip_node_update = bool(get_field(body, "SkipNodeUpdate", False))
    address = _string(body, "Address")
    if not address and existing is None:
        raise APIError.bad_request("Must provide address")
    tagged = get_field(body, "TaggedAddresses")
    meta = get_field(body, "NodeMeta")
    for field_name, value in (("TaggedAddresses", tagged), ("NodeMeta", meta)):
        if value is not None and not (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        ):
            raise APIError.bad_request(f"{field_name}: expected an object of string values")
    if meta is None and "node-meta" in request.query:
        # py-consul's catalog.register(node_meta=...) sends the meta as ?node-meta=k:v
        meta = _node_meta(request)
    node = Node(
        name=node_name,
        node_id=_string(body, "ID") or (existing.node_id if existing else ""),
        address=address or (existing.address if existing else ""),
        datacenter=server.config.datacenter,
        tagged_addresses=dict(tagged)
        if tagged is not None
        else (dict(existing.tagged_addresses) if existing else {}),
        meta=dict(meta) if meta is not None else (dict(existing.meta) if existing else {}),
    )
    service: Service | None = None
    raw_service = get_field(body, "Service")
    if raw_service is not None:
        svc_obj = dict(expect_object(raw_service, "Service"))
        if get_field(svc_obj, "Name") is None and isinstance(get_field(svc_obj, "Service"), str):
            svc_obj["Name"] = get_field(svc_obj, "Service")
            svc_obj = {k: v for k, v in svc_obj.items() if k.lower() != "service"}
        try:
            service = parse_service(svc_obj, node=node_name, where="Service.").service
        except DefinitionError as exc:
            raise APIError.bad_request(str(exc)) from None
    checks: list[Check] = []
    raw_checks: list[Any] = []
    if get_field(body, "Check") is not None:
        raw_checks.append(get_field(body, "Check"))
    many = get_field(body, "Checks")
    if many is not None:
        if not isinstance(many, list):
            raise APIError.bad_request("Checks: expected an array")
        raw_checks.extend(many)
    for i, raw in enumerate(raw_checks):
        checks.append(_catalog_check(store, node_name, service, raw, i))
    node_changes = existing is None or (not skip_node_update and not existing.same_content(node))
    if node_changes:
        require(request, "node", "write", node_name)
    if service is not None:
        require(request, "service", "write", service.name)
    for check in checks:
        if check.service_name:
            require(request, "service", "write", check.service_name)
        else:
            require(request, "node", "write", node_name)
    keep_node = existing is not None and skip_node_update
    store.register_catalog(None if keep_node else node, service, checks)
    return answer(request, True)


def _string(body: dict[str, Any], name: str) -> str:
    value = get_field(body, name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise APIError.bad_request(f"{name}: expected a string")
    return value


def _catalog_check(
    store: CatalogStore, node: str, service: Service | None, raw: Any, i: int
) -> Check:
    obj = expect_object(raw, f"Checks[{i}]")
    status = _string(obj, "Status") or CRITICAL
    if status not in STATUSES:
        raise APIError.bad_request(
            f"Checks[{i}].Status: must be one of passing, warning or critical, got {status!r}"
        )
    cid = _string(obj, "CheckID") or _string(obj, "ID")
    name = _string(obj, "Name")
    if not cid:
        cid = name
    if not cid:
        raise APIError.bad_request(f"Checks[{i}]: missing CheckID")
    sid = _string(obj, "ServiceID")
    target = service if service is not None and sid in ("", service.id) else None
    if sid and target is None:
        target = store.services.get((node, sid))
        if target is None:
            raise APIError.bad_request(f"Checks[{i}].ServiceID: no service {sid!r} on {node}")
    return Check(
        node=node,
        check_id=cid,
        name=name or cid,
        status=status,
        notes=_string(obj, "Notes"),
        output=_string(obj, "Output"),
        service_id=target.id if target and sid else "",
        service_name=target.name if target and sid else "",
        service_tags=list(target.tags) if target and sid else [],
        definition=CheckDefinition(),
    )


@checked("service:write on the service, node:write on the node or a node check")
async def catalog_deregister(request: web.Request) -> web.Response:
    server = server_of(request)
    store = server.store
    check_datacenter(request)
    body = expect_object(await read_json(request), "request body")
    check_named_datacenter(request, _string(body, "Datacenter"))
    node = _string(body, "Node")
    if not node:
        raise APIError.bad_request("Must provide node")
    sid = _string(body, "ServiceID")
    cid = _string(body, "CheckID")
    local = node == server.node_name
    _vet_deregister(request, store, node, sid, cid)
    if sid:
        if local:
            server.deregister_service(sid)
        else:
            store.deregister_service(node, sid)
    if cid:
        if local:
            server.deregister_check(cid)
        else:
            store.deregister_check(node, cid)
    if not sid and not cid:
        if local:
            raise APIError.bad_request(
                f"Node {node!r} is the catalog's own node and cannot be deregistered"
            )
        store.deregister_node(node)
    return answer(request, True)


def _vet_deregister(
    request: web.Request, store: CatalogStore, node: str, sid: str, cid: str
) -> None:
    if sid:
        svc = store.services.get((node, sid))
        require(request, "service", "write", svc.name if svc else sid)
    if cid:
        check = store.checks.get((node, cid))
        if check is not None and check.service_name:
            require(request, "service", "write", check.service_name)
        else:
            require(request, "node", "write", node)
    if not sid and not cid:
        require(request, "node", "write", node)


# -- health -------------------------------------------------------------------------------


def _service_checks(store: CatalogStore, svc: Service) -> list[Check]:
    # node checks first, then the service's, as Consul lists them
    return store.checks_of(svc.node, "") + store.checks_of(svc.node, svc.id)


@acl_filtered("service:read and node:read per instance")
async def health_service(request: web.Request) -> web.StreamResponse:
    store = server_of(request).store
    name = request.match_info["name"]
    tags = request.query.getall("tag", [])
    passing = flag(request, "passing")
    meta = _node_meta(request)
    v = view(request)

    def run() -> tuple[Any, int]:
        rows = []
        for svc in _instances(store, name, tags, meta):
            if not _sees_instance(v, svc):
                continue
            checks = _service_checks(store, svc)
            if passing and any(c.status != PASSING for c in checks):
                continue
            rows.append(
                {
                    "Node": _node_of(store, svc).to_json(),
                    "Service": svc.health_json(),
                    "Checks": [c.to_json() for c in checks],
                }
            )
        return filtered(request, rows), store.topic_index(f"svc:{name}", "services")

    return await blocking_answer(request, [f"svc:{name}"], run, v)


@acl_filtered("service:read per check")
async def health_checks(request: web.Request) -> web.StreamResponse:
    store = server_of(request).store
    name = request.match_info["name"]
    v = view(request)

    def run() -> tuple[Any, int]:
        rows = [
            c.to_json()
            for s in store.instances(name)
            for c in store.checks_of(s.node, s.id)
            if _sees_check(v, c)
        ]
        return filtered(request, rows), store.topic_index(f"svc:{name}", "services")

    return await blocking_answer(request, [f"svc:{name}"], run, v)


@acl_filtered("service:read or node:read per check")
async def health_state(request: web.Request) -> web.StreamResponse:
    store = server_of(request).store
    v = view(request)
    state = request.match_info["state"]
    if state not in HEALTH_STATES:
        raise APIError.bad_request(
            f"Bad check state: {state!r} (expected any, passing, warning or critical)"
        )

    def wanted(c: Check) -> bool:
        return (state == "any" or c.status == state) and _sees_check(v, c)

    def run() -> tuple[Any, int]:
        index = store.topic_index("checks")
        if not _reshaped(request):
            # each check's JSON kept from its last change (`catalog/answer_fragments.py`)
            everything = state == "any" and not v.enabled
            return store.check_fragments.answer(store.checks, None if everything else wanted), index
        rows = [c.to_json() for c in _sorted(store.checks.values()) if wanted(c)]
        return filtered(request, rows), index

    return await blocking_answer(request, ["checks"], run, v)


@acl_filtered("service:read or node:read per check")
async def health_node(request: web.Request) -> web.StreamResponse:
    store = server_of(request).store
    name = request.match_info["node"]
    v = view(request)

    def run() -> tuple[Any, int]:
        rows = [c.to_json() for c in store.node_checks(name) if _sees_check(v, c)]
        return filtered(request, rows), store.topic_index(f"node:{name}", "nodes")

    return await blocking_answer(request, [f"node:{name}"], run, v)


def _reshaped(request: web.Request) -> bool:
    """Whether an answer is other than the plain JSON list: filtered, for a peer, pretty."""
    return any(q in request.query for q in ("filter", "peer", "pretty"))


def _sorted(checks: Any) -> list[Check]:
    return sorted(checks, key=lambda c: (c.node, c.check_id))


# -- status -----------------------------------------------------------------------------


@open_route("Consul answers /v1/status/* without a token")
async def status_leader(request: web.Request) -> web.Response:
    leader = server_of(request).leader()  # "" during an election, as Consul answers
    return answer(request, leader.rpc if leader is not None else "")


@open_route("Consul answers /v1/status/* without a token")
async def status_peers(request: web.Request) -> web.Response:
    return answer(request, [peer.rpc for peer in server_of(request).peers()])


# This resource's endpoints; `yurt.catalog.app` installs every table.
ROUTES = (
    routes.get("/v1/catalog/services", catalog_services),
    routes.get("/v1/catalog/service/{name}", catalog_service),
    routes.get("/v1/catalog/nodes", catalog_nodes),
    routes.get("/v1/catalog/node/{node}", catalog_node),
    routes.get("/v1/catalog/node-services/{node}", catalog_node_services),
    routes.get("/v1/catalog/datacenters", catalog_datacenters),
    routes.put("/v1/catalog/register", catalog_register),
    routes.put("/v1/catalog/deregister", catalog_deregister),
    routes.get("/v1/health/service/{name}", health_service),
    routes.get("/v1/health/checks/{name}", health_checks),
    routes.get("/v1/health/state/{state}", health_state),
    routes.get("/v1/health/node/{node}", health_node),
    routes.get("/v1/status/leader", status_leader),
    routes.get("/v1/status/peers", status_peers),
)
