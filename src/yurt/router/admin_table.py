"""`/api/routes`: the routing table in use, one object per target as Fabio lists it (`null`
when empty), or with `?raw` as the route commands that would build it."""

from __future__ import annotations

from aiohttp import web

from yurt.api import routes
from yurt.router.admin_common import json_answer, router_of


async def api_routes(request: web.Request) -> web.Response:
    table = router_of(request).settings.table
    if "raw" in request.query:
        return web.Response(text=str(table) + "\n", content_type="text/plain")
    return json_answer(request, table.api_routes())


ROUTES = (routes.get("/api/routes", api_routes),)
