"""The scheduler's aiohttp Application: Nomad's HTTP API (and yurt's internal client
protocol), built here and only here from one route table per resource; `/ui/` is left free
for the web UI.

One module per resource, each with its route table (`ROUTES`, `yurt.api.routes`):
- `api_jobs` (`/v1/jobs`, `/v1/job/<id>/...`; the actions in `api_job_actions`)
- `api_allocations`, `api_evaluations`, `api_deployments`, `api_nodes`, `api_node_pools`
  (declared before `api_nodes`: `/v1/node/pools` is not a node's ID)
- `api_agent` (agent, status, regions, metrics), `api_operator` (scheduler configuration,
  Raft, Autopilot, agent join/force-leave), `api_scaling` (scaling policies)
- `api_events` (the event stream, `/v1/event/stream`)
- `api_system` (garbage collection, summaries, search), `acl_api` (ACL)
- `api_services` (native service discovery, `/v1/services`, `/v1/service/<name>`)
- `api_variables` (Nomad Variables and their locks, `/v1/vars`, `/v1/var/<path>`)
- `api_internal` (yurt's client protocol), `api_client_forward` (`/v1/client/*` to nodes)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from yurt.api.http import error_middleware
from yurt.api.routes import Route
from yurt.scheduler import (
    api_agent,
    api_allocations,
    api_client_forward,
    api_deployments,
    api_evaluations,
    api_events,
    api_internal,
    api_jobs,
    api_node_pools,
    api_nodes,
    api_operator,
    api_scaling,
    api_search,
    api_services,
    api_system,
    api_variables,
)
from yurt.scheduler import ui as scheduler_ui
from yurt.scheduler.acl_api import add_acl_routes
from yurt.scheduler.acl_enforce import Enforcer, acl_middleware
from yurt.scheduler.api_common import SERVER_KEY, domain_errors

if TYPE_CHECKING:
    from yurt.scheduler.server import SchedulerServer

# Nomad's largest job registration, with room for big embedded templates.
MAX_BODY = 64 * 1024 * 1024

RESOURCES = (
    api_jobs,
    api_allocations,
    api_evaluations,
    api_deployments,
    api_node_pools,
    api_nodes,
    api_agent,
    api_operator,
    api_scaling,
    api_search,
    api_system,
    api_services,
    api_variables,
    api_internal,
    api_client_forward,
    api_events,
)


def route_tables() -> list[Route]:
    """Every route the resource modules declare (the ACL routes aside), for enumeration."""
    return [route for module in RESOURCES for route in module.ROUTES]


def build_app(server: SchedulerServer) -> web.Application:
    middlewares = [error_middleware, domain_errors]
    if server.config.acl_enabled:
        data_dir = server.config.data_dir
        enforcer = Enforcer(
            server.acl, server.store, lambda token: server.ops.identity(token, data_dir)
        )
        middlewares.append(acl_middleware(enforcer))
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app[SERVER_KEY] = server
    add_acl_routes(app, server.acl, server.config.acl_enabled)
    for module in RESOURCES:
        module.add_routes(app.router)
    scheduler_ui.add_routes(app)
    app.on_shutdown.append(_end_event_streams)
    return app


async def _end_event_streams(app: web.Application) -> None:
    app[SERVER_KEY].events.close()
