"""The router's own state on its UI address: `/health` (what the catalog's check asks),
`/api/version` and `/api/config`, as Fabio answers them."""

from __future__ import annotations

from aiohttp import web

from yurt import __version__
from yurt.api import routes
from yurt.router.admin_common import json_answer, router_of

FABIO_COMPAT_VERSION = "1.7.0"


async def health(request: web.Request) -> web.Response:
    return web.Response(text="OK")


async def version(request: web.Request) -> web.Response:
    return web.Response(text=f"{FABIO_COMPAT_VERSION} (yurt {__version__})\n")


async def config(request: web.Request) -> web.Response:
    return json_answer(request, router_of(request).config.api_config())


ROUTES = (
    routes.get("/health", health),
    routes.get("/api/version", version),
    routes.get("/api/config", config),
)
