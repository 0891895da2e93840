"""Nomad's operator API: the scheduler configuration (algorithm, paused eval broker), Raft
(one voter: this server) and Autopilot (its configuration, kept; its health, of the one
server); and the agent's cluster membership calls (`join`, `force-leave`), answered as a
one-server Nomad answers them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.autopilot import cas_of, server_health
from yurt.api.casing import get_field
from yurt.api.durations import format_go_duration, parse_go_duration
from yurt.api.errors import APIError
from yurt.api.http import expect_object, json_response, read_json
from yurt.api.routes import Route
from yurt.scheduler import store as s
from yurt.scheduler.api_agent import NOMAD_VERSION
from yurt.scheduler.api_common import Obj, index_headers, server_of


async def get_scheduler_config(request: web.Request) -> web.Response:
    conf = server_of(request).scheduler_config()
    return json_response(
        {
            "SchedulerConfig": conf,
            "Index": conf["ModifyIndex"],
            "KnownLeader": True,
            "LastContact": 0,
        },
        headers=index_headers(conf["ModifyIndex"]),
    )


async def set_scheduler_config(request: web.Request) -> web.Response:
    body = expect_object(await read_json(request), "body")
    algorithm = get_field(body, "SchedulerAlgorithm") or "binpack"
    if algorithm not in ("binpack", "spread"):
        raise APIError.bad_request(
            f'invalid scheduler algorithm "{algorithm}": expected "binpack" or "spread"'
        )
    index = server_of(request).set_scheduler_config(
        str(algorithm), bool(get_field(body, "PauseEvalBroker"))
    )
    return json_response({"Updated": True, "Index": index}, headers=index_headers(index))


# --- raft and autopilot ----------------------------------------------------------------

# Nomad's defaults (`autopilot` block of the server configuration).
AUTOPILOT_DEFAULTS: Obj = {
    "LastContactThreshold": "200ms",
    "ServerStabilizationTime": "10s",
    "CleanupDeadServers": True,
    "MaxTrailingLogs": 250,
    "MinQuorum": 0,
    "EnableRedundancyZones": False,
    "DisableUpgradeMigration": False,
    "EnableCustomUpgrades": False,
}
_DURATIONS = ("LastContactThreshold", "ServerStabilizationTime")
_AUTOPILOT_KEY = "autopilot"


def _self_server(request: web.Request) -> Obj:
    server = server_of(request)
    cfg = server.config
    return {
        "ID": server.server_id,
        "Node": f"{cfg.node_name}.{cfg.region}",
        "Address": server.rpc_addr,
        "Leader": True,
        "Voter": True,
        "RaftProtocol": "3",
    }


async def raft_configuration(request: web.Request) -> web.Response:
    server = server_of(request)
    if server.cluster is None:
        return json_response({"Index": 0, "Servers": [_self_server(request)]})
    # several servers on etcd: each from its member key; an ID made from its address,
    # stable across restarts as Nomad's server IDs are
    leader, region = server.leader(), server.config.region
    servers = [
        {
            "ID": str(uuid.uuid5(uuid.NAMESPACE_URL, peer.address)),
            "Node": f"{peer.name}.{region}",
            "Address": peer.rpc,
            "Leader": peer == leader,
            "Voter": True,
            "RaftProtocol": "3",
        }
        for peer in server.peers()
    ]
    return json_response({"Index": 0, "Servers": servers})


def autopilot_config(request: web.Request) -> Obj:
    stored = server_of(request).store.tables[s.CONFIG].get(_AUTOPILOT_KEY)
    if stored is not None:
        return dict(stored)
    return {**AUTOPILOT_DEFAULTS, "CreateIndex": 1, "ModifyIndex": 1}


async def get_autopilot(request: web.Request) -> web.Response:
    return json_response(autopilot_config(request))


def parse_autopilot(body: Obj) -> Obj:
    """A PUT body -> the configuration it sets: every field, absent ones at their zero
    value, as Nomad replaces the whole configuration."""
    out: Obj = {}
    for name, default in AUTOPILOT_DEFAULTS.items():
        value = get_field(body, name)
        if name in _DURATIONS:
            try:
                ns = parse_go_duration(str(value)) if value not in (None, "") else 0
            except ValueError as exc:
                raise APIError.bad_request(f"Error parsing autopilot config: {exc}") from None
            out[name] = format_go_duration(ns)
        elif isinstance(default, bool):
            out[name] = bool(value)
        else:
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise APIError.bad_request(
                    f"Error parsing autopilot config: {name}: expected a number"
                )
            out[name] = int(value or 0)
    return out


async def set_autopilot(request: web.Request) -> web.Response:
    store = server_of(request).store
    body = expect_object(await read_json(request), "body")
    config = parse_autopilot(body)
    current = autopilot_config(request)
    cas = cas_of(request.query)
    if cas is not None and cas != current["ModifyIndex"]:
        return json_response(False)
    with store.write() as txn:
        txn.put(
            s.CONFIG,
            _AUTOPILOT_KEY,
            {**config, "CreateIndex": current["CreateIndex"], "ModifyIndex": txn.index},
        )
    return json_response(True)


async def autopilot_health(request: web.Request) -> web.Response:
    server = server_of(request)
    me = _self_server(request)
    health = server_health(
        server_id=me["ID"],
        name=me["Node"],
        address=me["Address"],
        version=NOMAD_VERSION,
        last_index=server.store.index,
        since=_started(server).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return json_response(
        {
            "Healthy": True,
            "FailureTolerance": 0,
            "Servers": [health],
            "Leader": me["ID"],
            "Voters": [me["ID"]],
        }
    )


def _started(server: Any) -> datetime:
    started = getattr(server, "started_at", None)
    return started if isinstance(started, datetime) else datetime.now(UTC)


# --- agent membership ----------------------------------------------------------------


async def agent_join(request: web.Request) -> web.Response:
    addresses = request.query.getall("address", [])
    if not addresses:
        raise APIError.bad_request("missing address to join")
    server = server_of(request)
    cfg = server.config
    own = {cfg.http_host, f"{cfg.http_host}:{cfg.http_port + 2}"}
    errors = [
        f"Failed to join {a.rsplit(':', 1)[0]}: dial tcp {a if ':' in a else a + ':4648'}: "
        "connect: connection refused"
        for a in addresses
        if a not in own
    ]
    joined = len(addresses) - len(errors)
    text = ""
    if errors:
        count = (
            f"{len(errors)} error occurred"
            if len(errors) == 1
            else (f"{len(errors)} errors occurred")
        )
        text = count + ":\n" + "".join(f"\t* {e}\n" for e in errors) + "\n"
    return json_response({"error": text, "num_joined": joined})


async def agent_force_leave(request: web.Request) -> web.Response:
    if not request.query.get("node"):
        raise APIError.bad_request("missing node to force leave")
    # one server, no other member: nothing to remove, as Nomad answers for an unknown name
    return web.Response(status=200)


ROUTES: list[Route] = [
    routes.get("/v1/operator/scheduler/configuration", get_scheduler_config),
    routes.write("/v1/operator/scheduler/configuration", set_scheduler_config),
    routes.get("/v1/operator/raft/configuration", raft_configuration),
    routes.get("/v1/operator/autopilot/configuration", get_autopilot),
    routes.write("/v1/operator/autopilot/configuration", set_autopilot),
    routes.get("/v1/operator/autopilot/health", autopilot_health),
    routes.write("/v1/agent/join", agent_join),
    routes.write("/v1/agent/force-leave", agent_force_leave),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)
