"""Metrics through a running router: requests proxied, not found, redirected and upgraded
to WebSocket, scraped from a `proto=prometheus` listener and read with the Prometheus
project's parser."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.router.conftest import Catalog
from tests.router.test_router_live import second_router, serve_app, until, until_answers

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def start_origin() -> tuple[web.AppRunner, int]:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    async def ws(request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        async for msg in sock:
            await sock.send_str("echo " + msg.data)
        return sock

    app = web.Application()
    app.router.add_get("/m/hello", hello)
    app.router.add_get("/m/ws", ws)
    return await serve_app(app)


async def test_metrics_of_a_running_router(consul: Catalog) -> None:
    runner, port = await start_origin()
    consul.register("met", "met-svc", port, ["urlprefix-/m"])
    consul.register("met-r", "met-redirect", port, ["urlprefix-/old redirect=301,/m/hello"])
    router = second_router(
        consul.addr,
        proxy_addr="127.0.0.1:0,127.0.0.1:0;proto=prometheus",
        metrics_target="prometheus",
        metrics_prefix="fabio",
        register=False,
    )
    await router.start()
    try:
        proxy = f"http://127.0.0.1:{router.config.listeners[0].port}"
        scrape = f"http://127.0.0.1:{router.config.listeners[1].port}/metrics"
        async with aiohttp.ClientSession() as session:

            async def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
                async with session.get(scrape) as r:
                    assert r.status == 200
                    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                    text = await r.text()
                return {
                    (s.name, tuple(sorted(s.labels.items()))): s.value
                    for fam in text_string_to_metric_families(text)
                    for s in fam.samples
                }

            await until_answers(session, proxy + "/m/hello")
            before = await samples()
            for _ in range(3):
                async with session.get(proxy + "/m/hello") as r:
                    assert await r.text() == "hello"
            async with session.get(proxy + "/nothing/here") as r:
                assert r.status == 404
            async with session.get(proxy + "/old", allow_redirects=False) as r:
                assert r.status == 301
            async with session.ws_connect(proxy + "/m/ws") as sock:
                await sock.send_str("hi")
                assert (await sock.receive()).data == "echo hi"
                open_ws = await samples()
            after = await samples()

        def grew(key: tuple[str, tuple[tuple[str, str], ...]]) -> float:
            return after.get(key, 0) - before.get(key, 0)

        assert grew(("fabio_requests_count", ())) >= 3
        assert grew(("fabio_http_status_count", (("code", "200"),))) >= 3
        route = (
            ("host", ""),
            ("path", "/m"),
            ("service", "met-svc"),
            ("target", f"http://127.0.0.1:{port}/"),
        )
        assert grew(("fabio_route_count", route)) >= 3
        assert grew(("fabio_notfound_total", ())) == 1
        assert grew(("fabio_http_redirect_count_total", (("code", "301"),))) == 1
        assert open_ws[("fabio_ws_conn", ())] == 1

        async def ws_closed() -> bool:
            async with aiohttp.ClientSession() as s, s.get(scrape) as r:
                return "\nfabio_ws_conn 0\n" in await r.text()

        await until(ws_closed)
    finally:
        await router.stop()
        consul.deregister("met")
        consul.deregister("met-r")
        await runner.cleanup()
