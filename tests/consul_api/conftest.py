"""An in-process catalog (yurt's Consul role) on a free loopback port, for the client's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.catalog.conftest import ROOT_TOKEN
from yurt.catalog import CatalogConfig, CatalogServer
from yurt.catalog.config import ConsulACLConfig


async def start_catalog(data_dir: Path, port: int = 0, *, acl: bool = False) -> CatalogServer:
    cfg = CatalogConfig(
        http_port=port,
        data_dir=data_dir,
        node_name="node1",
        acl=ConsulACLConfig(enabled=True, default_policy="deny", initial_management=ROOT_TOKEN)
        if acl
        else ConsulACLConfig(),
    )
    server = CatalogServer(cfg)
    await server.start()
    return server


def url_of(server: CatalogServer) -> str:
    return f"http://127.0.0.1:{server.config.http_port}"


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[CatalogServer]:
    server = await start_catalog(tmp_path / "catalog")
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def acl_catalog(tmp_path: Path) -> AsyncIterator[CatalogServer]:
    server = await start_catalog(tmp_path / "acl-catalog", acl=True)
    try:
        yield server
    finally:
        await server.stop()
