"""The client's HTTP API: Nomad's `/v1/client/*` endpoints (which the scheduler forwards
here by allocation) and `/v1/agent/health` for the client's own catalog check.

Each resource is a module with a route table (`api_fs`, `api_logs`, `api_stats`,
`api_alloc`, `api_exec`, `api_agent`); this module builds the application from them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from yurt.api.http import error_middleware
from yurt.api.routes import Route, add_routes
from yurt.client import acl as client_acl
from yurt.client import api_agent, api_alloc, api_exec, api_fs, api_logs, api_stats
from yurt.client.api_common import AGENT_KEY, SAMPLER_KEY
from yurt.client.stats import UsageSampler

if TYPE_CHECKING:
    from yurt.client.agent import ClientAgent

API: tuple[Route, ...] = (
    *api_agent.ROUTES,
    *api_logs.ROUTES,
    *api_fs.ROUTES,
    *api_stats.ROUTES,
    *api_alloc.ROUTES,
    *api_exec.ROUTES,
)


def build_app(agent: ClientAgent) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[AGENT_KEY] = agent
    app[SAMPLER_KEY] = UsageSampler()
    # Nomad's ACLs, resolved through the server (which says whether they are on).
    client_acl.install(app, agent, agent.config.acl_token_ttl)
    add_routes(app.router, API)
    return app
