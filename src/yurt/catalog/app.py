"""The catalog's aiohttp Application, built in one place.

Consul's API lives under /v1/, declared as one route table per resource module (`api_*`);
/ui/ is left free for the web UI, which mounts there. Stopping the site closes the server's
`WatchHub`, so parked blocking reads answer at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from yurt.api.http import close_on_shutdown, error_middleware
from yurt.api.routes import Route, add_routes
from yurt.catalog import (
    api_acl,
    api_acl_tokens,
    api_agent,
    api_catalog,
    api_config,
    api_connect,
    api_coordinate,
    api_event,
    api_intentions,
    api_kv,
    api_operator,
    api_session,
    api_snapshot,
    api_txn,
)
from yurt.catalog import ui as catalog_ui
from yurt.catalog.api_common import SERVER_KEY, default_acl_policy
from yurt.catalog.api_coordinate import Coordinates
from yurt.catalog.api_operator import OperatorState
from yurt.catalog.events import EventBuffer

if TYPE_CHECKING:
    from yurt.catalog.server import CatalogServer

# Consul's largest accepted request body (its http_max_conns aside): KV values are checked
# separately against kv_max_value_size.
MAX_BODY = 16 * 1024 * 1024

# Consul's HTTP API, a table per resource.
API: tuple[Route, ...] = (
    *api_agent.ROUTES,
    *api_catalog.ROUTES,
    *api_kv.ROUTES,
    *api_session.ROUTES,
    *api_txn.ROUTES,
    *api_acl.ROUTES,
    *api_acl_tokens.ROUTES,
    *api_event.ROUTES,
    *api_operator.ROUTES,
    *api_coordinate.ROUTES,
    *api_snapshot.ROUTES,
    *api_config.ROUTES,
    *api_intentions.ROUTES,
    *api_connect.ROUTES,
)


def build_app(server: CatalogServer) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY)
    app[SERVER_KEY] = server
    # the agent's own state, kept for the life of the process as Consul's agent keeps it
    app[api_event.EVENTS_KEY] = EventBuffer()
    app[api_operator.OPERATOR_KEY] = OperatorState()
    app[api_coordinate.COORDS_KEY] = Coordinates()
    add_routes(app.router, API)
    catalog_ui.add_routes(app)
    app.on_response_prepare.append(_default_acl_policy)
    close_on_shutdown(app, server.hub)
    return app


async def _default_acl_policy(request: web.Request, response: web.StreamResponse) -> None:
    # Consul's answers name the default policy that applies (allow while ACLs are off)
    if "X-Consul-Default-Acl-Policy" in response.headers:
        response.headers["X-Consul-Default-Acl-Policy"] = default_acl_policy(
            request.app[SERVER_KEY]
        )
