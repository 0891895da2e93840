"""`/v1/agent/*`: the local node's services and checks, maintenance, self and members."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from yurt import CONSUL_VERSION, __version__
from yurt.api import routes
from yurt.api.blocking import BlockingQuery, wait_until
from yurt.api.casing import get_field
from yurt.api.errors import APIError
from yurt.api.http import expect_object, flag, read_json
from yurt.api.serf import SERF_PROTOCOL_VERSIONS
from yurt.catalog import agent_monitor, host_info
from yurt.catalog.acl_http import (
    checked,
    mark_filtered,
    node_name,
    open_route,
    require,
    requires,
    view,
)
from yurt.catalog.acl_http import (
    filtered as acl_filtered,
)
from yurt.catalog.api_common import (
    answer,
    filtered,
    server_of,
)
from yurt.catalog.api_connect import deregister_sidecar, sidecar_registration
from yurt.catalog.configdir import ConfigDirError
from yurt.catalog.definitions import (
    DefinitionError,
    ScriptsDisabled,
    parse_check,
    parse_service,
    refuse_disabled_scripts,
)
from yurt.catalog.metrics import Sample, to_json, to_prometheus
from yurt.catalog.model import (
    CRITICAL,
    MAINT,
    NODE_MAINT_CHECK_ID,
    PASSING,
    SERVICE_MAINT_PREFIX,
    STATUSES,
    WARNING,
    Check,
    Service,
    aggregate_status,
)
from yurt.catalog.server import LEADER_MANAGED_SERVICES

if TYPE_CHECKING:
    from yurt.catalog.server import CatalogServer

log = logging.getLogger(__name__)

OUTPUT_MAX = 4096
BUILD_DATE = "2023-11-03T00:00:00Z"


def _empty() -> web.Response:
    return web.Response(status=200)


# -- services ------------------------------------------------------------------------


@checked("service:write on the service")
async def register_service(request: web.Request) -> web.Response:
    server = server_of(request)
    body = expect_object(await read_json(request), "request body")
    try:
        definition = parse_service(body, node=server.node_name)
    except DefinitionError as exc:
        raise APIError.bad_request(str(exc)) from None
    require(request, "service", "write", definition.service.name)
    _refuse_scripts(request, definition.checks)
    if definition.service.id == "consul":
        raise APIError.bad_request('Service ID "consul" is reserved for the catalog itself')
    replace = flag(request, "replace-existing-checks") or flag(request, "replace_existing_checks")
    sidecar = sidecar_registration(server, definition)
    if sidecar is not None:
        require(request, "service", "write", sidecar.service.name)
    server.register_service(definition, replace_checks=replace)
    if sidecar is not None:
        server.register_service(sidecar, replace_checks=replace)
    return _empty()


def _refuse_scripts(request: web.Request, checks: list[Check]) -> None:
    cfg = server_of(request).config
    try:
        refuse_disabled_scripts(
            checks,
            remote=True,
            enable_script=cfg.enable_script_checks,
            enable_local=cfg.enable_local_script_checks,
        )
    except ScriptsDisabled as exc:
        raise APIError(500, str(exc)) from None


def _require_service(request: web.Request, sid: str, level: str) -> None:
    server = server_of(request)
    svc = server.store.services.get((server.node_name, sid))
    if svc is not None:
        require(request, "service", level, svc.name)


def _require_check(request: web.Request, cid: str) -> None:
    server = server_of(request)
    check = server.store.checks.get((server.node_name, cid))
    if check is not None and check.service_name:
        require(request, "service", "write", check.service_name)
    else:
        require(request, "node", "write", server.node_name)


@checked("service:write on the service")
async def deregister_service(request: web.Request) -> web.Response:
    server = server_of(request)
    sid = request.match_info["id"]
    _require_service(request, sid, "write")
    if sid == "consul" or not server.deregister_service(sid):
        raise APIError.not_found(
            f'Unknown service ID "{sid}". '
            "Ensure that the service ID is passed, not the service name."
        )
    deregister_sidecar(server, sid)
    return _empty()


@acl_filtered("service:read per service")
async def list_services(request: web.Request) -> web.Response:
    server = server_of(request)
    dc = server.config.datacenter
    v = view(request)
    items = [s.agent_json(dc) for s in server.local_services() if v.can("service", "read", s.name)]
    return mark_filtered(answer(request, {s["ID"]: s for s in filtered(request, items)}), v)


def _service_with_hash(server: CatalogServer, sid: str) -> dict[str, Any] | None:
    svc = server.store.services.get((server.node_name, sid))
    if svc is None or sid in LEADER_MANAGED_SERVICES:
        return None
    data = svc.agent_json(server.config.datacenter)
    digest = hashlib.blake2b(json.dumps(data, sort_keys=True).encode(), digest_size=8)
    data["ContentHash"] = digest.hexdigest()
    return data


@checked("service:read on the service")
async def get_service(request: web.Request) -> web.Response:
    """One local service with its `ContentHash`; `?hash=` blocks until the hash differs
    (or `?wait=` passes), as Consul's agent does for its caching clients."""
    server = server_of(request)
    sid = request.match_info["id"]
    _require_service(request, sid, "read")
    wanted = request.query.get("hash", "")
    query = BlockingQuery.from_query(request.query)

    def run() -> dict[str, Any]:
        data = _service_with_hash(server, sid)
        if data is None:
            raise APIError.not_found(f"unknown service ID: {sid}")
        return data

    data = await wait_until(
        server.hub,
        ["services", f"node:{server.node_name}"],
        query.wait_s,
        run,
        lambda data: not wanted or data["ContentHash"] != wanted,
    )
    resp = answer(request, data)
    resp.headers["X-Consul-ContentHash"] = data["ContentHash"]
    return resp


@checked("service:write on the service")
async def service_maintenance(request: web.Request) -> web.Response:
    server = server_of(request)
    sid = request.match_info["id"]
    _require_service(request, sid, "write")
    enable = _enable_param(request)
    if not server.service_maintenance(sid, enable, request.query.get("reason", "")):
        raise APIError.not_found(f'Unknown service ID "{sid}"')
    return _empty()


@requires("node", "write", node_name)
async def node_maintenance(request: web.Request) -> web.Response:
    enable = _enable_param(request)
    server_of(request).node_maintenance(enable, request.query.get("reason", ""))
    return _empty()


def _enable_param(request: web.Request) -> bool:
    raw = request.query.get("enable")
    if raw is None:
        raise APIError.bad_request("Missing value for enable")
    if raw.lower() not in ("true", "false"):
        raise APIError.bad_request(f"Invalid value for enable: {raw!r} (expected true or false)")
    return raw.lower() == "true"


# -- local health -------------------------------------------------------------------------

# the status codes of /v1/agent/health/service/*, which load balancers read without the body
_HEALTH_CODES = {PASSING: 200, WARNING: 429, CRITICAL: 503, MAINT: 503}


def _local_health(server: CatalogServer, svc: Service) -> dict[str, Any]:
    checks = [c for c in server.local_checks() if c.service_id in ("", svc.id)]
    if any(c.check_id in (NODE_MAINT_CHECK_ID, SERVICE_MAINT_PREFIX + svc.id) for c in checks):
        status = MAINT
    else:
        status = aggregate_status(checks)
    return {
        "AggregatedStatus": status,
        "Service": svc.agent_json(server.config.datacenter),
        "Checks": [c.to_json() for c in checks],
    }


def _worst(statuses: list[str]) -> str:
    for status in (MAINT, CRITICAL, WARNING):
        if status in statuses:
            return status
    return PASSING


def _health_answer(request: web.Request, status: str, data: Any) -> web.Response:
    code = _HEALTH_CODES[status]
    if request.query.get("format") == "text":
        return web.Response(text=status, status=code)
    return answer(request, data, status=code)


@checked("service:read on the service")
async def health_by_id(request: web.Request) -> web.Response:
    server = server_of(request)
    sid = request.match_info["id"]
    _require_service(request, sid, "read")
    for svc in server.local_services():
        if svc.id == sid:
            data = _local_health(server, svc)
            return _health_answer(request, data["AggregatedStatus"], data)
    raise APIError.not_found(f"ServiceId {sid} not found")


@checked("service:read on the service")
async def health_by_name(request: web.Request) -> web.Response:
    server = server_of(request)
    name = request.match_info["name"]
    require(request, "service", "read", name)
    found = [_local_health(server, s) for s in server.local_services() if s.name == name]
    if not found:
        raise APIError.not_found(f"ServiceName {name} Not Found")
    return _health_answer(request, _worst([d["AggregatedStatus"] for d in found]), found)


# -- checks ------------------------------------------------------------------------------


@acl_filtered("service:read or node:read per check")
async def list_checks(request: web.Request) -> web.Response:
    server = server_of(request)
    v = view(request)
    items = [
        c.to_json()
        for c in server.local_checks()
        if (
            v.can("service", "read", c.service_name)
            if c.service_name
            else v.can("node", "read", c.node)
        )
    ]
    return mark_filtered(answer(request, {c["CheckID"]: c for c in filtered(request, items)}), v)


@checked("service:write on a service check, node:write on a node check")
async def register_check(request: web.Request) -> web.Response:
    server = server_of(request)
    body = expect_object(await read_json(request), "request body")
    service = None
    sid = get_field(body, "ServiceID")
    if sid:
        if not isinstance(sid, str):
            raise APIError.bad_request("ServiceID: expected a string")
        service = server.store.services.get((server.node_name, sid))
        if service is None or sid == "consul":
            # 404 since Consul 1.11 (500 before)
            raise APIError.not_found(f'ServiceID "{sid}" does not exist')
    if service is not None:
        require(request, "service", "write", service.name)
    else:
        require(request, "node", "write", server.node_name)
    try:
        check = parse_check(body, node=server.node_name, service=service)
    except DefinitionError as exc:
        raise APIError.bad_request(str(exc)) from None
    _refuse_scripts(request, [check])
    if check.check_id == "serfHealth":
        raise APIError.bad_request('Check ID "serfHealth" is reserved for the catalog itself')
    server.register_check(check)
    return _empty()


@checked("service:write on a service check, node:write on a node check")
async def deregister_check(request: web.Request) -> web.Response:
    cid = request.match_info["id"]
    _require_check(request, cid)
    if cid == "serfHealth" or not server_of(request).deregister_check(cid):
        raise APIError.not_found(
            f'Unknown check ID "{cid}". Ensure that the check ID is passed, not the check name.'
        )
    return _empty()


def _truncate(output: str) -> str:
    data = output.encode()
    if len(data) <= OUTPUT_MAX:
        return output
    kept = data[:OUTPUT_MAX].decode("utf-8", errors="ignore")
    return f"{kept} ...\n(Output truncated from {len(data)} to {OUTPUT_MAX} bytes)"


def _update(request: web.Request, status: str, output: str) -> web.Response:
    cid = request.match_info["id"]
    _require_check(request, cid)
    try:
        server_of(request).update_ttl(cid, status, _truncate(output))
    except KeyError:
        raise APIError.not_found(
            f'Unknown check ID "{cid}". Ensure that the check ID is passed, not the check name.'
        ) from None
    except ValueError as exc:
        # Consul answers 500 here; clients match the text to re-register their service
        raise APIError(500, str(exc)) from None
    return _empty()


@checked("service:write on a service check, node:write on a node check")
async def check_pass(request: web.Request) -> web.Response:
    return _update(request, PASSING, request.query.get("note", ""))


@checked("service:write on a service check, node:write on a node check")
async def check_warn(request: web.Request) -> web.Response:
    return _update(request, WARNING, request.query.get("note", ""))


@checked("service:write on a service check, node:write on a node check")
async def check_fail(request: web.Request) -> web.Response:
    return _update(request, CRITICAL, request.query.get("note", ""))


@checked("service:write on a service check, node:write on a node check")
async def check_update(request: web.Request) -> web.Response:
    body = expect_object(await read_json(request), "request body")
    status = get_field(body, "Status", "")
    output = get_field(body, "Output", "")
    if not isinstance(status, str) or status not in STATUSES:
        raise APIError.bad_request(
            f"Invalid check status: {status!r} (expected passing, warning or critical)"
        )
    if not isinstance(output, str):
        raise APIError.bad_request("Output: expected a string")
    return _update(request, status, output)


# -- reload ---------------------------------------------------------------------------------


@requires("agent", "write", node_name)
async def reload(request: web.Request) -> web.Response:
    try:
        server_of(request).reload()
    except ConfigDirError as exc:
        raise APIError(500, f"Failed reloading services: {exc}") from None
    return _empty()


# -- self and members -------------------------------------------------------------------


def _member(request: web.Request, *, wan: bool = False) -> dict[str, Any]:
    """This agent as a Serf member: of the LAN pool, or (`wan`) of the servers' WAN pool,
    where Consul names it `<node>.<dc>`."""
    server = server_of(request)
    cfg = server.config
    tags = {
        "acls": "0",
        "build": f"{CONSUL_VERSION}:yurt-{__version__}",
        "dc": cfg.datacenter,
        "expect": "1",
        "ft_fs": "1",
        "ft_si": "1",
        "id": server.node_id,
        "port": str(cfg.server_port),
        "raft_vsn": "3",
        "role": "consul",
        "segment": "",
        "vsn": "2",
        "vsn_max": "3",
        "vsn_min": "2",
        "wan_join_port": "8302",
    }
    if wan:
        for lan_only in ("expect", "wan_join_port"):
            tags.pop(lan_only)
    return {
        "Name": f"{cfg.node_name}.{cfg.datacenter}" if wan else cfg.node_name,
        "Addr": cfg.advertise_addr,
        "Port": 8302 if wan else 8301,
        "Tags": tags,
        "Status": 1,
        **SERF_PROTOCOL_VERSIONS,
    }


@acl_filtered("node:read per member")
async def members(request: web.Request) -> web.Response:
    v = view(request)
    wan = flag(request, "wan")
    shown = (
        [_member(request, wan=wan)] if v.can("node", "read", server_of(request).node_name) else []
    )
    return mark_filtered(answer(request, shown), v)


@requires("agent", "read", node_name)
async def agent_self(request: web.Request) -> web.Response:
    server = server_of(request)
    cfg = server.config
    data = {
        "Config": {
            "Datacenter": cfg.datacenter,
            "PrimaryDatacenter": cfg.datacenter,
            "NodeName": cfg.node_name,
            "NodeID": server.node_id,
            "Revision": f"yurt-{__version__}",
            "Server": True,
            "Version": CONSUL_VERSION,
            "BuildDate": BUILD_DATE,
        },
        "DebugConfig": {
            "Datacenter": cfg.datacenter,
            "NodeName": cfg.node_name,
            "NodeID": server.node_id,
            "DataDir": str(cfg.data_dir),
            "AdvertiseAddrLAN": cfg.advertise_addr,
            "ClientAddrs": [cfg.http_host],
            "HTTPPort": cfg.http_port,
            "ServerMode": True,
            "DevMode": cfg.dev,
        },
        "Coord": {"Vec": [0.0] * 8, "Error": 1.5, "Adjustment": 0.0, "Height": 1e-05},
        "Member": _member(request),
        "Stats": {
            "agent": {
                "check_monitors": "0",
                "check_ttls": str(
                    sum(1 for c in server.local_checks() if c.definition.kind == "ttl")
                ),
                "checks": str(len(server.local_checks())),
                "services": str(len(server.local_services())),
            },
            "build": {"version": CONSUL_VERSION, "revision": f"yurt-{__version__}"},
            "consul": {
                "acl": "enabled" if cfg.acl.enabled else "disabled",
                "bootstrap": "false",
                "known_datacenters": "1",
                "leader": "true",
                "leader_addr": f"{cfg.advertise_addr}:{cfg.server_port}",
                "server": "true",
            },
            "raft": {"state": "Leader", "last_log_index": str(server.store.index)},
        },
        "Meta": {"consul-network-segment": ""},
        "xDS": None,
    }
    return answer(request, data)


# -- the cluster, as its one server sees it -----------------------------------------------

# Addresses that name this agent: joining one of them joins the cluster it already is.
_SELF_HOSTS = frozenset({"127.0.0.1", "::1", "localhost", "0.0.0.0"})


@requires("agent", "write", node_name)
async def join(request: web.Request) -> web.Response:
    """Joining this agent's own address succeeds, as it does on Consul; any other fails as a
    dial to a Serf port nobody answers (yurt's catalog has no gossip)."""
    server = server_of(request)
    address = request.match_info["address"]
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        host, port = address, "8302" if flag(request, "wan") else "8301"
    host = host.strip("[]")
    mine = _SELF_HOSTS | {server.config.advertise_addr, server.config.http_host, server.node_name}
    if host in mine:
        return _empty()
    text = (
        "1 error occurred:\n"
        f"\t* Failed to join {host}:{port}: yurt's catalog is a datacenter of one server "
        "and has no gossip to join\n\n"
    )
    return web.Response(status=500, text=text)


@requires("agent", "write", node_name)
async def leave(request: web.Request) -> web.Response:
    """Consul's agent leaves its cluster and stops; yurt's catalog is the whole datacenter
    (and, under `yurt up`, shares its process with the other roles), so it stays up: stop
    the process to leave. The answer is Consul's."""
    log.info("agent: leave requested: yurt's catalog is the only server, and keeps running")
    return _empty()


@requires("operator", "write")
async def force_leave(request: web.Request) -> web.Response:
    server = server_of(request)
    name = request.match_info["node"]
    if name not in (server.node_name, f"{server.node_name}.{server.config.datacenter}"):
        raise APIError(500, f"agent: No node found with name '{name}'")
    # the agent itself is alive: Serf removes only failed or left members
    return _empty()


def _samples(server: CatalogServer) -> list[Sample]:
    store = server.store
    rss = _rss_bytes()
    return [
        Sample("consul.autopilot.failure_tolerance", 0),
        Sample("consul.autopilot.healthy", 1),
        Sample("consul.raft.applied_index", store.index),
        Sample("consul.raft.last_index", store.index),
        Sample("consul.raft.peers", 1),
        Sample("consul.rpc.queries_blocking", server.hub.waiting()),
        Sample("consul.runtime.alloc_bytes", rss),
        Sample("consul.runtime.sys_bytes", rss),
        Sample("consul.runtime.num_goroutines", len(asyncio.all_tasks())),
        Sample("consul.session_ttl.active", len(store.sessions)),
        Sample("consul.catalog.service.count", len(store.service_names())),
        Sample("consul.catalog.node.count", len(store.nodes)),
        Sample("consul.kv.entries", len(store.kv)),
        Sample("consul.version", 1, {"pre_release": "", "version": CONSUL_VERSION}),
    ]


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@requires("agent", "read", node_name)
async def agent_metrics(request: web.Request) -> web.Response:
    samples = _samples(server_of(request))
    if request.query.get("format") == "prometheus":
        return web.Response(text=to_prometheus(samples), content_type="text/plain", charset="utf-8")
    return answer(request, to_json(samples, time.time()))


@requires("operator", "read")
async def agent_host(request: web.Request) -> web.Response:
    data_dir = str(server_of(request).config.data_dir)
    return answer(request, await asyncio.to_thread(host_info.collect, data_dir))


@open_route("Consul answers its version to anyone")
async def agent_version(request: web.Request) -> web.Response:
    data = {
        "SHA": f"yurt-{__version__}",
        "BuildDate": BUILD_DATE,
        "HumanVersion": CONSUL_VERSION,
        "FIPS": "",
    }
    return answer(request, data)


@requires("agent", "read", node_name)
async def monitor(request: web.Request) -> web.StreamResponse:
    hub = server_of(request).hub
    return await agent_monitor.stream(request, lambda: hub.closed)


# This resource's endpoints; `yurt.catalog.app` installs every table.
ROUTES = (
    routes.put("/v1/agent/service/register", register_service),
    routes.put("/v1/agent/service/deregister/{id:.+}", deregister_service),
    routes.put("/v1/agent/service/maintenance/{id:.+}", service_maintenance),
    routes.get("/v1/agent/services", list_services),
    routes.get("/v1/agent/service/{id:.+}", get_service),
    routes.get("/v1/agent/health/service/id/{id:.+}", health_by_id),
    routes.get("/v1/agent/health/service/name/{name:.+}", health_by_name),
    routes.get("/v1/agent/checks", list_checks),
    routes.put("/v1/agent/check/register", register_check),
    routes.put("/v1/agent/check/deregister/{id:.+}", deregister_check),
    routes.put("/v1/agent/check/pass/{id:.+}", check_pass),
    routes.put("/v1/agent/check/warn/{id:.+}", check_warn),
    routes.put("/v1/agent/check/fail/{id:.+}", check_fail),
    routes.put("/v1/agent/check/update/{id:.+}", check_update),
    routes.put("/v1/agent/maintenance", node_maintenance),
    routes.get("/v1/agent/self", agent_self),
    routes.put("/v1/agent/reload", reload),
    routes.get("/v1/agent/members", members),
    routes.put("/v1/agent/join/{address}", join),
    routes.put("/v1/agent/leave", leave),
    routes.put("/v1/agent/force-leave/{node}", force_leave),
    routes.get("/v1/agent/metrics", agent_metrics),
    routes.get("/v1/agent/host", agent_host),
    routes.get("/v1/agent/version", agent_version),
    routes.get("/v1/agent/monitor", monitor),
)
