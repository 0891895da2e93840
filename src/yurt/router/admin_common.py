"""What the handlers of the router's UI address share: the router they serve and Fabio's
JSON answers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from yurt.router.server import Router

ROUTER_KEY: web.AppKey[Router] = web.AppKey("yurt.router")


def router_of(request: web.Request) -> Router:
    return request.app[ROUTER_KEY]


def json_answer(request: web.Request, data: Any, status: int = 200) -> web.Response:
    """JSON as Fabio's API sends it (`?pretty` indents)."""
    pretty = "pretty" in request.query
    text = json.dumps(data, indent=4 if pretty else None)
    return web.Response(text=text, status=status, content_type="application/json", charset="utf-8")
