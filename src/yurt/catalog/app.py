"""The catalog's aiohttp Application, built in one place.

Consul's API lives under /v1/; /ui/ is left free for the web UI, which mounts there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from yurt.api.http import error_middleware
from yurt.catalog import (
    api_acl,
    api_acl_tokens,
    api_agent,
    api_catalog,
    api_kv,
    api_session,
    api_txn,
)
from yurt.catalog import ui as catalog_ui
from yurt.catalog.api_common import SERVER_KEY

if TYPE_CHECKING:
    from yurt.catalog.server import CatalogServer

# Consul's largest accepted request body (its http_max_conns aside): KV values are checked
# separately against kv_max_value_size.
MAX_BODY = 16 * 1024 * 1024


def build_app(server: CatalogServer) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY)
    app[SERVER_KEY] = server
    api_agent.add_routes(app.router)
    api_catalog.add_routes(app.router)
    api_kv.add_routes(app.router)
    api_session.add_routes(app.router)
    api_txn.add_routes(app.router)
    api_acl.add_routes(app.router)
    api_acl_tokens.add_routes(app.router)
    catalog_ui.add_routes(app)
    app.on_response_prepare.append(_default_acl_policy)
    return app


async def _default_acl_policy(request: web.Request, response: web.StreamResponse) -> None:
    # Consul's answers name the default policy that applies (allow while ACLs are off)
    if "X-Consul-Default-Acl-Policy" in response.headers:
        acl = request.app[SERVER_KEY].config.acl
        response.headers["X-Consul-Default-Acl-Policy"] = (
            acl.default_policy if acl.enabled else "allow"
        )
