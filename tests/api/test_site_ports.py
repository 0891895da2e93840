"""`start_site` reports the port each listener got, in listener order, without reaching into
aiohttp's private attributes: port 0 gets the kernel's choice, a fixed port itself."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from tests.support.process import free_port
from yurt.api.http import start_site


async def _hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


def _app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", _hello)
    return app


async def test_port_zero_reports_the_bound_port() -> None:
    runner = await start_site(_app(), "127.0.0.1", 0)
    try:
        assert len(runner.ports) == 1 and runner.port > 0
        assert runner.port == runner.addresses[0][1]
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{runner.port}/") as r,
        ):
            assert await r.text() == "hello"
    finally:
        await runner.cleanup()


async def test_a_fixed_port_is_reported_as_asked() -> None:
    port = free_port()
    runner = await start_site(_app(), "127.0.0.1", port)
    try:
        assert runner.ports == (port,)
    finally:
        await runner.cleanup()
