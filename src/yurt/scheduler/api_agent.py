"""Nomad's agent and status endpoints: this server as an agent (self, members, health,
servers), the leader and peers, regions, and metrics (JSON or Prometheus)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from yurt.api import routes
from yurt.api.http import json_response
from yurt.api.routes import Route
from yurt.api.serf import SERF_PROTOCOL_VERSIONS
from yurt.scheduler.api_common import Obj, server_of
from yurt.scheduler.metrics import metrics_json, metrics_prometheus

if TYPE_CHECKING:
    from yurt.scheduler.server import SchedulerServer

# The Nomad version yurt answers as (what the CLI and the UI check features against).
NOMAD_VERSION = "1.7.7"


def member(server: SchedulerServer) -> Obj:
    """This server as a Serf member, as `nomad server members` shows it."""
    cfg = server.config
    return {
        "Name": f"{cfg.node_name}.{cfg.region}",
        "Addr": cfg.http_host,
        "Port": cfg.http_port + 2 if cfg.http_port else 4648,
        "Tags": {
            "role": "nomad",
            "region": cfg.region,
            "dc": cfg.datacenter,
            "build": NOMAD_VERSION,
            "port": str(cfg.http_port + 1 if cfg.http_port else 4647),
            "bootstrap": "1",
            "expect": "1",
            "vsn": "1",
            "raft_vsn": "3",
            "id": server.server_id,
        },
        "Status": "alive",
        **SERF_PROTOCOL_VERSIONS,
    }


def _agent_config(server: SchedulerServer) -> Obj:
    cfg = server.config
    return {
        "Region": cfg.region,
        "Datacenter": cfg.datacenter,
        "NodeName": cfg.node_name,
        "DataDir": str(cfg.data_dir),
        "BindAddr": cfg.http_host,
        "Ports": {
            "HTTP": cfg.http_port,
            "RPC": cfg.http_port + 1,
            "Serf": cfg.http_port + 2,
        },
        "Addresses": {"HTTP": cfg.http_host, "RPC": cfg.http_host, "Serf": cfg.http_host},
        "Server": {"Enabled": True, "BootstrapExpect": 1},
        "Client": {"Enabled": server.local_client is not None},
        "Consul": {
            "Address": cfg.consul_addr or "",
            "ServerServiceName": cfg.server_service_name,
        },
        "Version": {
            "Version": NOMAD_VERSION,
            "VersionPrerelease": "",
            "VersionMetadata": "yurt",
            "Revision": "",
        },
    }


async def agent_self(request: web.Request) -> web.Response:
    srv = server_of(request)
    out = {
        "config": _agent_config(srv),
        "member": member(srv),
        "stats": {
            "nomad": {
                "server": "true",
                "leader": "true",
                "bootstrap": "true",
                "known_regions": "1",
                "leader_addr": srv.rpc_addr,
            },
            "broker": {k: str(v) for k, v in srv.broker.stats().items()},
            "runtime": {"arch": "amd64", "version": "python"},
        },
    }
    if srv.local_client is not None:
        out["stats"]["client"] = srv.local_client()
    return json_response(out)


async def agent_members(request: web.Request) -> web.Response:
    srv = server_of(request)
    cfg = srv.config
    out = {
        "ServerName": cfg.node_name,
        "ServerRegion": cfg.region,
        "ServerDC": cfg.datacenter,
        "Members": [member(srv)],
    }
    return json_response(out)


async def agent_health(request: web.Request) -> web.Response:
    if server_of(request).local_client is not None:
        # Nomad's agent with both roles answers for both unless asked for one
        wanted = request.query.get("type", "")
        out = {k: {"ok": True, "message": "ok"} for k in ("client", "server") if wanted in ("", k)}
        return json_response(out)
    if request.query.get("type", "") == "client":
        return web.Response(
            status=400,
            text='{"client":{"ok":false,"message":"client not enabled"}}',
            content_type="application/json",
        )
    return json_response({"server": {"ok": True, "message": "ok"}})


async def agent_servers(request: web.Request) -> web.Response:
    return json_response([p.rpc for p in server_of(request).peers()])


async def status_leader(request: web.Request) -> web.Response:
    leader = server_of(request).leader()
    return json_response(leader.rpc if leader is not None else "")


async def status_peers(request: web.Request) -> web.Response:
    return json_response([p.rpc for p in server_of(request).peers()])


async def regions(request: web.Request) -> web.Response:
    return json_response([server_of(request).config.region])


async def metrics(request: web.Request) -> web.Response:
    srv = server_of(request)
    if request.query.get("format") == "prometheus":
        return web.Response(
            text=metrics_prometheus(srv), content_type="text/plain", charset="utf-8"
        )
    return json_response(metrics_json(srv))


ROUTES: list[Route] = [
    routes.get("/v1/agent/self", agent_self),
    routes.get("/v1/agent/members", agent_members),
    routes.get("/v1/agent/health", agent_health),
    routes.get("/v1/agent/servers", agent_servers),
    routes.get("/v1/status/leader", status_leader),
    routes.get("/v1/status/peers", status_peers),
    routes.get("/v1/regions", regions),
    routes.get("/v1/metrics", metrics),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)
