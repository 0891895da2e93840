"""`/v1/client/allocation/<id>/restart` and `/signal`: actions on a running allocation's
tasks. Nomad routes them for any method, so they are declared for every one."""

from __future__ import annotations

from aiohttp import web

from yurt.api import routes
from yurt.api.errors import APIError
from yurt.api.http import expect_object, json_response, read_json
from yurt.client.api_common import runner_of
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


ROUTES = (
    routes.any_method("/v1/client/allocation/{alloc}/restart", restart),
    routes.any_method("/v1/client/allocation/{alloc}/signal", signal),
)
