"""`/v1/client/allocation/<id>/restart` and `/signal`: actions on a running allocation's
tasks; `/v1/client/allocation/<id>/gc` and `/v1/client/gc`: the client's garbage collection
of finished allocations (their directories). Nomad routes them for any method, so they are
declared for every one."""

from __future__ import annotations

from aiohttp import web

from yurt.api import routes
from yurt.api.errors import APIError
from yurt.api.http import expect_object, json_response, read_json
from yurt.client.api_common import agent_of, runner_of
from yurt.client.drivers.base import DriverError, parse_signal


async def restart(request: web.Request) -> web.Response:
    runner = runner_of(request)
    body = expect_object(await read_json(request) or {}, "body")
    task = str(body.get("TaskName") or request.query.get("task") or "")
    if task and task not in runner.tasks:
        raise APIError.bad_request(f'Failed to restart task "{task}": unknown task name')
    await runner.restart_tasks(task or None, bool(body.get("AllTasks")))
    return json_response({"Index": 0})


async def signal(request: web.Request) -> web.Response:
    runner = runner_of(request)
    body = expect_object(await read_json(request) or {}, "body")
    task = str(body.get("Task") or "")
    name = str(body.get("Signal") or "SIGKILL")
    if task and task not in runner.tasks:
        raise APIError.bad_request(f'Failed to signal task "{task}": unknown task name')
    try:
        sig = parse_signal(name)
        await runner.signal_tasks(task or None, sig, name)
    except (ValueError, DriverError) as exc:
        raise APIError.bad_request(str(exc)) from None
    return json_response({"Index": 0})


# Nomad's text for an allocation that is not a finished one of this client.
NOT_ELIGIBLE = "No such allocation on client, or allocation not eligible for GC"


async def gc_alloc(request: web.Request) -> web.Response:
    if not agent_of(request).collect_garbage(request.match_info["alloc"]):
        raise APIError(500, NOT_ELIGIBLE)
    return web.Response(status=200)


async def gc_all(request: web.Request) -> web.Response:
    agent_of(request).collect_garbage(None)
    return web.Response(status=200)


ROUTES = (
    routes.any_method("/v1/client/allocation/{alloc}/restart", restart),
    routes.any_method("/v1/client/allocation/{alloc}/signal", signal),
    routes.any_method("/v1/client/allocation/{alloc}/gc", gc_alloc),
    routes.any_method("/v1/client/gc", gc_all),
)
