"""CatalogServer as a component: port 0, start/stop, state across instances."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from yurt.catalog import CatalogConfig, CatalogServer


async def test_port_zero_records_bound_port_and_stops_twice(tmp_path: Path) -> None:
    cfg = CatalogConfig(http_port=0, data_dir=tmp_path / "cat", node_name="n0", config_dirs=[])
    server = CatalogServer(cfg)
    assert server.name == "catalog"
    await server.start()
    try:
        assert cfg.http_port != 0
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{cfg.http_port}/v1/agent/self") as r:
                assert (await r.json())["Config"]["NodeName"] == "n0"
            async with http.put(f"http://127.0.0.1:{cfg.http_port}/v1/kv/k", data=b"v") as r:
                assert await r.json() is True
    finally:
        await server.stop()
        await server.stop()
    again = CatalogServer(CatalogConfig(http_port=0, data_dir=tmp_path / "cat", node_name="n0"))
    await again.start()
    try:
        entry = again.store.kv_get("k")
        assert entry is not None and entry.value == b"v"
        assert again.node_id == server.node_id
    finally:
        await again.stop()


async def test_dev_mode_keeps_nothing(tmp_path: Path) -> None:
    cfg = CatalogConfig(http_port=0, data_dir=tmp_path / "dev", node_name="d", dev=True)
    server = CatalogServer(cfg)
    await server.start()
    try:
        assert server.store.kv_put("k", b"v", 0, None)
    finally:
        await server.stop()
    assert not (tmp_path / "dev" / "catalog.db").exists()


async def test_stop_answers_parked_blocking_reads(tmp_path: Path) -> None:
    import asyncio
    import time

    cfg = CatalogConfig(http_port=0, data_dir=tmp_path / "cat", node_name="n0")
    server = CatalogServer(cfg)
    await server.start()
    base = f"http://127.0.0.1:{cfg.http_port}"
    async with aiohttp.ClientSession() as http:

        async def parked(path: str) -> int:
            async with http.get(f"{base}{path}") as r:
                index = r.headers["X-Consul-Index"]
            async with http.get(f"{base}{path}?index={index}&wait=5m") as r:
                await r.read()
                return r.status

        reads = [
            asyncio.create_task(parked("/v1/health/state/any")),
            asyncio.create_task(parked("/v1/kv/missing")),
        ]
        await asyncio.sleep(0.2)
        assert not any(t.done() for t in reads)
        start = time.monotonic()
        await server.stop()
        statuses = await asyncio.gather(*reads)
        assert time.monotonic() - start < 5
    assert statuses == [200, 404]
