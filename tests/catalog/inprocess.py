"""An in-process catalog on a free loopback port, and py-consul's asyncio client for it:
for the Connect and config-entry tests, which start no process (the fast lane)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import consul.aio

from yurt.catalog import CatalogConfig, CatalogServer
from yurt.catalog.config import ConsulACLConfig


@asynccontextmanager
async def running_catalog(
    tmp: Path, acl: ConsulACLConfig | None = None
) -> AsyncIterator[CatalogServer]:
    cfg = CatalogConfig(http_port=0, data_dir=tmp, node_name="node1")
    if acl is not None:
        cfg.acl = acl
    srv = CatalogServer(cfg)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def base_url(srv: CatalogServer) -> str:
    return f"http://127.0.0.1:{srv.config.http_port}"


@asynccontextmanager
async def py_consul(srv: CatalogServer, token: str | None = None) -> AsyncIterator[Any]:
    """py-consul's asyncio client (consul.aio), closed afterwards."""
    c = consul.aio.Consul(host="127.0.0.1", port=srv.config.http_port, token=token)
    try:
        yield c
    finally:
        await c.http.close()


async def request(
    srv: CatalogServer,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """(status, JSON or text body, headers) of one request."""
    headers = {"X-Consul-Token": token} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, base_url(srv) + path, json=body, headers=headers) as resp,
    ):
        text = await resp.text()
        try:
            data: Any = await resp.json(content_type=None)
        except ValueError:
            data = text
        return resp.status, data, dict(resp.headers)
