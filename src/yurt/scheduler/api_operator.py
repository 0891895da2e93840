"""Nomad's operator API: the scheduler configuration (algorithm, paused eval broker)."""

from __future__ import annotations

from aiohttp import web

from yurt.api import routes
from yurt.api.casing import get_field
from yurt.api.errors import APIError
from yurt.api.http import expect_object, json_response, read_json
from yurt.api.routes import Route
from yurt.scheduler.api_common import index_headers, server_of


async def get_scheduler_config(request: web.Request) -> web.Response:
    conf = server_of(request).scheduler_config()
    return json_response(
        {
            "SchedulerConfig": conf,
            "Index": conf["ModifyIndex"],
            "KnownLeader": True,
            "LastContact": 0,
        },
        headers=index_headers(conf["ModifyIndex"]),
    )


async def set_scheduler_config(request: web.Request) -> web.Response:
    body = expect_object(await read_json(request), "body")
    algorithm = get_field(body, "SchedulerAlgorithm") or "binpack"
    if algorithm not in ("binpack", "spread"):
        raise APIError.bad_request(
            f'invalid scheduler algorithm "{algorithm}": expected "binpack" or "spread"'
        )
    index = server_of(request).set_scheduler_config(
        str(algorithm), bool(get_field(body, "PauseEvalBroker"))
    )
    return json_response({"Updated": True, "Index": index}, headers=index_headers(index))


ROUTES: list[Route] = [
    routes.get("/v1/operator/scheduler/configuration", get_scheduler_config),
    routes.write("/v1/operator/scheduler/configuration", set_scheduler_config),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)
