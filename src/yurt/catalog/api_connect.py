"""Connect as a catalog: `/v1/catalog/connect/<service>`, `/v1/health/connect/<service>`,
`/v1/health/ingress/<service>`, `/v1/catalog/gateway-services/<gateway>` and
`/v1/discovery-chain/<service>` (GET, and POST with overrides).

They answer from what is registered and configured; no proxy or gateway runs (yurt has no
data plane), so a sidecar's "Listening" check stays critical until something listens.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from yurt.api import routes
from yurt.api.durations import duration_from_json, format_go_duration
from yurt.api.errors import APIError
from yurt.api.http import expect_object, flag, read_json
from yurt.catalog.acl_http import View, checked, filtered, require, view
from yurt.catalog.api_common import answer, blocking_answer, server_of
from yurt.catalog.api_common import filtered as filter_expr
from yurt.catalog.config_entry_kinds import INGRESS_GATEWAY, TERMINATING_GATEWAY
from yurt.catalog.config_entry_store import TOPIC as CONFIG_TOPIC
from yurt.catalog.config_entry_store import kind_topic
from yurt.catalog.connect import (
    gateway_services,
    ingress_gateways_for,
    is_sidecar_of,
    proxies_for,
    sidecar_definition,
    sidecar_id,
)
from yurt.catalog.definitions import DefinitionError, ServiceDefinition
from yurt.catalog.discovery_chain import Overrides, compile_chain
from yurt.catalog.model import PASSING, Service

if TYPE_CHECKING:
    from yurt.catalog.server import CatalogServer
    from yurt.catalog.store import CatalogStore


def trust_domain(server: CatalogServer) -> str:
    """The `<cluster id>.consul` of SNIs: stable for one catalog node and datacenter."""
    cluster = uuid.uuid5(uuid.NAMESPACE_URL, f"yurt:{server.config.datacenter}:{server.node_id}")
    return f"{cluster}.consul"


def _sees(v: View, svc: Service) -> bool:
    return v.can("service", "read", svc.name) and v.can("node", "read", svc.node)


def _health_rows(
    store: CatalogStore, services: list[Service], v: View, passing: bool
) -> list[dict[str, Any]]:
    rows = []
    for svc in services:
        node = store.nodes.get(svc.node)
        if node is None or not _sees(v, svc):
            continue
        checks = store.checks_of(svc.node, "") + store.checks_of(svc.node, svc.id)
        if passing and any(c.status != PASSING for c in checks):
            continue
        rows.append(
            {
                "Node": node.to_json(),
                "Service": svc.health_json(),
                "Checks": [c.to_json() for c in checks],
            }
        )
    return rows


def _index(store: CatalogStore, *topics: str) -> int:
    return max(store.topic_index(t) for t in topics)


@filtered("service:read on the service, then service:read and node:read per proxy")
async def catalog_connect(request: web.Request) -> web.StreamResponse:
    store = server_of(request).store
    name = request.match_info["name"]
    v = view(request)

    def run() -> tuple[Any, int]:
        rows = []
        if v.can("service", "read", name):
            for svc in proxies_for(store.services.values(), name):
                node = store.nodes.get(svc.node)
                if node is not None and _sees(v, svc):
                    rows.append(svc.catalog_json(node))
        return filter_expr(request, rows), _index(store, "services")

    return await blocking_answer(request, ["services"], run, v)


@filtered("service:read on the service, then service:read and node:read per proxy")
async def health_connect(request: web.Request) -> web.StreamResponse:
    store = server_of(request).store
    name = request.match_info["name"]
    passing = flag(request, "passing")
    v = view(request)

    def run() -> tuple[Any, int]:
        proxies = (
            proxies_for(store.services.values(), name) if v.can("service", "read", name) else []
        )
        rows = _health_rows(store, proxies, v, passing)
        return filter_expr(request, rows), _index(store, "services", "checks")

    return await blocking_answer(request, ["services", "checks"], run, v)


@filtered("service:read on the service, then service:read and node:read per gateway")
async def health_ingress(request: web.Request) -> web.StreamResponse:
    server = server_of(request)
    store = server.store
    name = request.match_info["name"]
    passing = flag(request, "passing")
    v = view(request)
    topics = ["services", "checks", kind_topic(INGRESS_GATEWAY)]

    def run() -> tuple[Any, int]:
        gateways: list[Service] = []
        if v.can("service", "read", name):
            entries = store.config_entries.of_kind(INGRESS_GATEWAY)
            for gateway in ingress_gateways_for(entries, name):
                gateways.extend(s for s in store.instances(gateway) if s.kind == INGRESS_GATEWAY)
        rows = _health_rows(store, gateways, v, passing)
        return filter_expr(request, rows), _index(store, *topics)

    return await blocking_answer(request, topics, run, v)


@checked("service:read on the gateway")
async def catalog_gateway_services(request: web.Request) -> web.StreamResponse:
    store = server_of(request).store
    name = request.match_info["name"]
    require(request, "service", "read", name)
    topics = [kind_topic(INGRESS_GATEWAY), kind_topic(TERMINATING_GATEWAY)]

    def run() -> tuple[Any, int]:
        entries = [
            *store.config_entries.of_kind(INGRESS_GATEWAY),
            *store.config_entries.of_kind(TERMINATING_GATEWAY),
        ]
        # Consul answers `null`, not `[]`, for a gateway linked to nothing
        return gateway_services(entries, name) or None, _index(store, *topics)

    return await blocking_answer(request, topics, run)


def _overrides(body: dict[str, Any]) -> Overrides:
    protocol = body.get("OverrideProtocol") or ""
    timeout_raw = body.get("OverrideConnectTimeout")
    mesh = body.get("OverrideMeshGateway") or {}
    if not isinstance(protocol, str) or not isinstance(mesh, dict):
        raise APIError.bad_request("Request decode failed: bad override")
    timeout = ""
    if timeout_raw not in (None, "", 0):
        try:
            timeout = format_go_duration(duration_from_json(timeout_raw, "OverrideConnectTimeout"))
        except ValueError as exc:
            raise APIError.bad_request(f"Request decode failed: {exc}") from None
    return Overrides(protocol=protocol, connect_timeout=timeout, mesh_gateway=dict(mesh))


@checked("service:read on the service")
async def discovery_chain(request: web.Request) -> web.StreamResponse:
    server = server_of(request)
    name = request.match_info["name"]
    require(request, "service", "read", name)
    overrides = Overrides()
    if request.method == "POST" and request.can_read_body:
        overrides = _overrides(expect_object(await read_json(request), "request body"))
    dc = request.query.get("compile-dc") or server.config.datacenter
    entries = server.store.config_entries
    domain = trust_domain(server)

    def run() -> tuple[Any, int]:
        return compile_chain(name, dc, domain, entries.get, overrides), entries.index()

    if overrides.active():
        # answers are cached by path and query: a chain compiled with a body's overrides
        # is not one of them
        chain, index = run()
        return answer(request, chain, index=index)
    return await blocking_answer(request, [CONFIG_TOPIC], run)


ROUTES = (
    routes.get("/v1/catalog/connect/{name}", catalog_connect),
    routes.get("/v1/health/connect/{name}", health_connect),
    routes.get("/v1/health/ingress/{name}", health_ingress),
    routes.get("/v1/catalog/gateway-services/{name}", catalog_gateway_services),
    routes.get("/v1/discovery-chain/{name}", discovery_chain),
    routes.post("/v1/discovery-chain/{name}", discovery_chain),
)


# -- the agent's sidecar registrations (api_agent calls these) ---------------------------------


def sidecar_registration(
    server: CatalogServer, definition: ServiceDefinition
) -> ServiceDefinition | None:
    """The sidecar that `definition`'s `Connect.SidecarService` stands for, or None; a bad
    one is a 400 as Consul's agent answers it."""
    if definition.sidecar is None:
        return None
    parent = definition.service
    local = server.store.node_services(server.node_name)
    parent_checks = definition.checks
    try:
        return sidecar_definition(parent, definition.sidecar, local, parent_checks)
    except DefinitionError as exc:
        raise APIError.bad_request(str(exc)) from None


def deregister_sidecar(server: CatalogServer, service_id: str) -> None:
    """Deregistering a service removes the sidecar the agent registered for it."""
    sidecar = server.store.services.get((server.node_name, sidecar_id(service_id)))
    if is_sidecar_of(sidecar, service_id):
        server.deregister_service(sidecar_id(service_id))
