"""A `proto=prometheus` listener: the router's metrics at `metrics.prometheus.path`."""

from __future__ import annotations

from aiohttp import web

from yurt.api.http import start_site
from yurt.router.metrics import ProxyMetrics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class PrometheusListener:
    def __init__(self, metrics: ProxyMetrics, path: str) -> None:
        self.metrics = metrics
        self.path = path if path.startswith("/") else "/" + path
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _scrape(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.metrics.render().encode(), headers={"Content-Type": CONTENT_TYPE}
        )

    async def start(self, host: str, port: int) -> int:
        app = web.Application()
        app.router.add_get(self.path, self._scrape)
        self._runner = await start_site(app, host, port)
        self.port = self._runner.port
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
