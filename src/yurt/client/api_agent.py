"""`/v1/agent/health` on the client's port: what the client's own catalog check asks."""

from __future__ import annotations

from aiohttp import web

from yurt.api import routes
from yurt.api.errors import APIError
from yurt.api.http import json_response


async def health(request: web.Request) -> web.Response:
    kind = request.query.get("type", "")
    if kind == "server":
        raise APIError.bad_request("server not enabled on this agent")
    return json_response({"client": {"ok": True, "message": "ok"}})


ROUTES = (routes.get("/v1/agent/health", health),)
