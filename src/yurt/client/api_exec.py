"""`/v1/client/allocation/<id>/exec`: `nomad alloc exec`'s WebSocket, whose protocol
`yurt.client.exec` speaks."""

from __future__ import annotations

from aiohttp import web

from yurt.api import routes
from yurt.client.api_common import runner_of
from yurt.client.exec import parse_exec_request, serve_exec


async def exec_task(request: web.Request) -> web.StreamResponse:
    runner, command, tty = parse_exec_request(request, runner_of(request).tasks)
    return await serve_exec(request, runner, command, tty)


ROUTES = (routes.get("/v1/client/allocation/{alloc}/exec", exec_task),)
