"""The one self-registration loop against a real (in-process) catalog: it waits for a
catalog that is not up yet, keeps a TTL check passing, registers again what the catalog lost,
and deregisters on stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.consul_api.conftest import start_catalog, url_of
from tests.support.process import free_port
from yurt.catalog import CatalogServer
from yurt.consul_api.backoff import Backoff
from yurt.consul_api.client import ConsulClient
from yurt.consul_api.registration import ServiceRegistration


async def _eventually(cond: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _services(server: CatalogServer) -> set[str]:
    return {s.id for s in server.local_services()}


async def test_registers_once_the_catalog_is_up_and_deregisters_on_stop(tmp_path: Path) -> None:
    port = free_port()
    consul = ConsulClient(f"http://127.0.0.1:{port}")
    kept = ServiceRegistration(
        consul, {"ID": "svc-1", "Name": "svc"}, backoff=Backoff(initial=0.05, cap=0.1)
    )
    kept.start()
    server = None
    try:
        await asyncio.sleep(0.2)  # it is retrying against nothing
        assert not kept.registered.is_set()
        server = await start_catalog(tmp_path / "catalog", port)
        await asyncio.wait_for(kept.registered.wait(), 5)
        assert "svc-1" in _services(server)
        await kept.stop()
        assert "svc-1" not in _services(server)
    finally:
        await kept.stop()
        await consul.close()
        if server is not None:
            await server.stop()


async def test_keeps_the_ttl_check_passing_and_registers_again(catalog: CatalogServer) -> None:
    async with ConsulClient(url_of(catalog)) as consul:
        payload = {
            "ID": "router-1",
            "Name": "router",
            "Check": {"CheckID": "router-1-ttl", "TTL": "600ms"},
        }
        kept = ServiceRegistration(consul, payload, ttl_check_id="router-1-ttl", keepalive=0.1)
        assert await kept.attempt()
        kept.start()
        try:
            assert (await consul.agent_checks())["router-1-ttl"]["Status"] == "passing"
            await asyncio.sleep(0.9)  # past the TTL: kept passing all along
            assert (await consul.agent_checks())["router-1-ttl"]["Status"] == "passing"
            # The catalog loses it (restarted without it, reaped): it comes back.
            catalog.deregister_service("router-1")
            assert "router-1" not in _services(catalog)
            await _eventually(lambda: "router-1" in _services(catalog))
        finally:
            await kept.stop()
        assert "router-1" not in _services(catalog)


async def test_a_service_without_ttl_is_looked_up_and_registered_again(
    catalog: CatalogServer,
) -> None:
    async with ConsulClient(url_of(catalog)) as consul:
        kept = ServiceRegistration(consul, {"ID": "nomad-1", "Name": "nomad"}, keepalive=0.1)
        kept.start()
        try:
            await asyncio.wait_for(kept.registered.wait(), 5)
            catalog.deregister_service("nomad-1")
            await _eventually(lambda: "nomad-1" in _services(catalog))
        finally:
            await kept.stop()
        assert "nomad-1" not in _services(catalog)
