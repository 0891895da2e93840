"""The one Consul client against a real (in-process) catalog: the agent's registrations and
checks, KV, blocking reads that wake on a change, typed errors, the ACL token, and the sync
face the CLI uses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.catalog.conftest import ROOT_TOKEN
from tests.consul_api.conftest import start_catalog, url_of
from tests.support.process import free_port
from yurt.catalog import CatalogServer
from yurt.consul_api import sync
from yurt.consul_api.backoff import Backoff
from yurt.consul_api.client import ConsulAPIError, ConsulClient, ConsulUnreachable
from yurt.consul_api.watch import watch


async def test_register_check_and_deregister(catalog: CatalogServer) -> None:
    async with ConsulClient(url_of(catalog)) as consul:
        await consul.register(
            {
                "ID": "web-1",
                "Name": "web",
                "Port": 80,
                "Check": {"CheckID": "web-ttl", "TTL": "30s"},
            }
        )
        assert (await consul.agent_service("web-1") or {})["Service"] == "web"
        assert (await consul.agent_checks())["web-ttl"]["Status"] == "critical"
        await consul.check_pass("web-ttl")
        assert (await consul.agent_checks())["web-ttl"]["Status"] == "passing"
        assert [e["Service"]["ID"] for e in await consul.health_service("web")] == ["web-1"]
        await consul.update_ttl("web-ttl", "warning", "slow")
        check = (await consul.agent_checks())["web-ttl"]
        assert (check["Status"], check["Output"]) == ("warning", "slow")
        assert await consul.health_service("web") == []  # only passing ones by default
        await consul.deregister("web-1")
        assert await consul.agent_service("web-1") is None
        assert "web-ttl" not in await consul.agent_checks()


async def test_kv_read_write_and_cas(catalog: CatalogServer) -> None:
    async with ConsulClient(url_of(catalog)) as consul:
        assert await consul.kv_get("app/missing") == (None, 0, (await consul.kv_get("x"))[2])
        assert await consul.kv_cas("app/a", "one", 0)
        assert not await consul.kv_cas("app/a", "two", 0)  # exists: cas=0 refuses
        value, modify, _ = await consul.kv_get("app/a")
        assert value == b"one" and modify > 0
        assert await consul.kv_cas("app/a", "two", modify)
        assert await consul.kv_cas("app/b/c", "three", 0)
        entries, _ = await consul.kv_list("app")
        assert [e["Key"] for e in entries] == ["app/a", "app/b/c"]
        assert await consul.kv_keys("app/") == ["app/a", "app/b/c"]


async def test_blocking_read_wakes_on_change(catalog: CatalogServer) -> None:
    async with ConsulClient(url_of(catalog)) as consul:
        await consul.kv_cas("watched", "v1", 0)
        _, _, index = await consul.kv_get("watched")
        blocked = asyncio.create_task(consul.kv_get("watched", index=index))
        await asyncio.sleep(0.2)
        assert not blocked.done()  # nothing changed: the read is held
        await consul.kv_cas("watched", "v2", (await consul.kv_get("watched"))[1])
        value, _, new_index = await asyncio.wait_for(blocked, 5)
        assert value == b"v2" and new_index > index


async def test_blocking_read_returns_the_same_index_after_the_wait(
    catalog: CatalogServer,
) -> None:
    async with ConsulClient(url_of(catalog), wait="200ms") as consul:
        _, index = await consul.get("/v1/catalog/services")
        data, again = await asyncio.wait_for(consul.get("/v1/catalog/services", index=index), 5)
        assert again == index and "consul" in data


async def test_errors_are_typed(catalog: CatalogServer) -> None:
    async with ConsulClient(url_of(catalog)) as consul:
        with pytest.raises(ConsulAPIError) as refused:
            await consul.put("/v1/agent/service/register", b"{not json")
        assert refused.value.status == 400 and refused.value.body
        assert str(refused.value).startswith("PUT /v1/agent/service/register: 400 ")
    port = free_port()
    async with ConsulClient(f"http://127.0.0.1:{port}") as nowhere:
        with pytest.raises(ConsulUnreachable, match=f"catalog at http://127.0.0.1:{port}"):
            await nowhere.agent_checks()


async def test_the_token_goes_with_every_call(acl_catalog: CatalogServer) -> None:
    async with ConsulClient(url_of(acl_catalog)) as anonymous:
        with pytest.raises(ConsulAPIError) as refused:
            await anonymous.register({"ID": "task-1", "Name": "task"})
        assert refused.value.status == 403
        assert "lacks permission 'service:write'" in refused.value.body
    async with ConsulClient(url_of(acl_catalog), token=ROOT_TOKEN) as root:
        await root.register({"ID": "task-1", "Name": "task"})
        assert await root.agent_service("task-1") is not None
        assert await root.kv_cas("secret", "s", 0)
        assert (await root.kv_get("secret"))[0] == b"s"


async def test_a_watch_follows_a_catalog_that_restarted_with_a_lower_index(
    tmp_path: Path,
) -> None:
    # A catalog with some history, then a new one on the same address with none: the watch
    # rides out the gap with backoff and sees the new catalog's data, though its index is
    # lower (the reset to 0 itself is asserted, read by read, in test_watch.py).
    first = await start_catalog(tmp_path / "old")
    port = first.config.http_port
    seen: list[bytes | None] = []
    changed = asyncio.Event()
    consul = ConsulClient(f"http://127.0.0.1:{port}")

    async def step(index: int) -> int:
        value, _, new_index = await consul.kv_get("flag", index=index)
        if not seen or seen[-1] != value:
            seen.append(value)
            changed.set()
        return new_index

    try:
        for i in range(20):
            await consul.kv_cas(f"history/{i}", "x", 0)
        await consul.kv_cas("flag", "old", 0)
        task = asyncio.create_task(watch("flag", step, Backoff(initial=0.05, cap=0.2)))
        await asyncio.wait_for(_until(changed, lambda: seen[-1:] == [b"old"]), 5)
        await first.stop()
        second = await start_catalog(tmp_path / "new", port)
        try:
            await consul.kv_cas("flag", "new", 0)
            await asyncio.wait_for(_until(changed, lambda: seen[-1:] == [b"new"]), 10)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await second.stop()
    finally:
        await consul.close()


async def _until(event: asyncio.Event, cond: Callable[[], bool]) -> None:
    while not cond():
        event.clear()
        await event.wait()


async def test_sync_face(catalog: CatalogServer) -> None:
    base = url_of(catalog)
    answer = await asyncio.to_thread(sync.call, base, "PUT", "/v1/kv/cli/key", body=b"hello")
    assert answer.status == 200 and answer.data is True
    got = await asyncio.to_thread(sync.call, base, "GET", "/v1/kv/cli/key", params={"raw": ""})
    assert got.raw == b"hello" and got.index > 0
    missing = await asyncio.to_thread(sync.call, base, "GET", "/v1/kv/cli/none", allow_404=True)
    assert missing.status == 404
    with pytest.raises(ConsulAPIError) as refused:
        await asyncio.to_thread(sync.call, base, "GET", "/v1/kv/cli/none")
    assert refused.value.status == 404
