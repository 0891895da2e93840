"""The pages' HTML shell and static files as aiohttp serves them, without a browser."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from yurt.router import ui as router_ui
from yurt.scheduler import ui as scheduler_ui


async def _client(add_routes: object) -> TestClient[web.Request, web.Application]:
    app = web.Application()
    assert callable(add_routes)
    add_routes(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


def _run(test: Callable[[], Awaitable[None]]) -> None:
    """Run on a thread of its own: a browser test module may hold this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, test()).result()  # type: ignore[arg-type]


def test_scheduler_shell_redirects_and_versioned_assets() -> None:
    _run(_scheduler_shell)


def test_router_pages_are_served_at_fabios_paths() -> None:
    _run(_router_pages)


async def _scheduler_shell() -> None:
    client = await _client(scheduler_ui.add_routes)
    try:
        for path, to in (("/", "/ui/"), ("/ui", "/ui/"), ("/ui/", "/ui/jobs")):
            resp = await client.get(path, allow_redirects=False)
            assert resp.status == 302 and resp.headers["Location"] == to
        resp = await client.get("/ui/jobs/my-job/versions")
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "no-cache"
        html = await resp.text()
        assets = re.findall(r'(?:src|href)="(/ui/assets/[^"]+)"', html)
        assert len(assets) == 3 and all("?v=" in a for a in assets)
        for url in assets:
            got = await client.get(url)
            assert got.status == 200, url
            assert got.content_type in ("text/css", "application/javascript", "text/javascript")
        assert (await client.get("/ui/unknown-page")).status == 404
    finally:
        await client.close()


async def _router_pages() -> None:
    client = await _client(router_ui.add_routes)
    try:
        for path in ("/", "/routes", "/manual", "/manual/extra/path"):
            resp = await client.get(path)
            assert resp.status == 200, path
            assert "/assets/app/router.js?v=" in await resp.text()
    finally:
        await client.close()
