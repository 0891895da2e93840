"""The client's garbage collection (`/v1/client/gc`, `/v1/client/allocation/<id>/gc`),
`/v1/client/stats` without `node_id` (the agent's own client) and `fs/stream`'s 400s for a
path that names no file, through an in-process scheduler and a real `yurt client` process
running raw_exec batch tasks; texts as Nomad 1.1.2 answered them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import nomad
import pytest

from tests.client.conftest import ClientProcess
from tests.scheduler import jobs as J
from yurt.scheduler import SchedulerConfig, SchedulerServer
from yurt.scheduler import store as s

Obj = dict[str, Any]

pytestmark = pytest.mark.process


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[SchedulerServer, ClientProcess]]:
    srv = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path / "sched"))
    await srv.start()
    client = ClientProcess(tmp_path, f"127.0.0.1:{srv.config.http_port}", None)
    await asyncio.to_thread(client.start)
    try:
        yield srv, client
    finally:
        await asyncio.to_thread(client.proc.stop)
        await srv.stop()


async def _until(what: str, cond: Any, timeout: float = 20.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            found = cond()
            if found:
                return found
            await asyncio.sleep(0.1)
    raise AssertionError(what)


def _batch(job_id: str) -> Obj:
    task = {**J.task("t"), "Config": {"command": "/bin/sh", "args": ["-c", "echo done"]}}
    return J.job(job_id, job_type="batch", groups=[J.group("g", tasks=[task])])


def _complete(srv: SchedulerServer, job_id: str) -> Obj | None:
    for alloc in srv.store.tables[s.ALLOC].values():
        if alloc["JobID"] == job_id and alloc["ClientStatus"] == "complete":
            return alloc
    return None


async def test_gc_stats_and_stream_paths(
    cluster: tuple[SchedulerServer, ClientProcess],
) -> None:
    srv, client = cluster
    node = await _until("a node", lambda: next(iter(srv.store.tables[s.NODE].values()), None))
    srv.ops.register_job(_batch("one"))
    srv.ops.register_job(_batch("two"))
    one = await _until("one complete", lambda: _complete(srv, "one"))
    two = await _until("two complete", lambda: _complete(srv, "two"))
    base = srv.address + "/v1/client"
    async with aiohttp.ClientSession() as http:

        async def call(method: str, url: str, **params: str) -> tuple[int, str]:
            async with http.request(method, base + url, params=params) as resp:
                return resp.status, await resp.text()

        stream = f"/fs/stream/{one['ID']}"
        assert await call("GET", stream) == (400, "must provide a file name")
        assert await call("GET", stream, path="nope") == (
            400,
            "stat nope: no such file or directory",
        )
        assert await call("GET", stream, path="alloc") == (400, 'file "alloc" is a directory')
        status, text = await call("GET", stream, path="alloc/logs/t.stdout.0", follow="false")
        assert status == 200 and "Data" in text
        # without node_id, /v1/client/stats is the agent's own client's, as a Nomad agent
        # with both roles answers; wired as `yurt up` wires it
        assert (await call("GET", "/stats"))[0] == 400
        srv.local_client = lambda: {"node_id": node["ID"]}
        status, text = await call("GET", "/stats")
        assert status == 200 and '"AllocDirStats"' in text
        # one allocation collected: its directory is gone, it stays collected
        assert await call("PUT", f"/allocation/{one['ID']}/gc") == (200, "")
        assert await call("GET", f"/fs/ls/{one['ID']}", path="/") == (
            404,
            f'Unknown allocation "{one["ID"]}"',
        )
        assert await call("PUT", f"/allocation/{one['ID']}/gc") == (
            500,
            "No such allocation on client, or allocation not eligible for GC",
        )
        # then every finished one (python-nomad's call)
        api = nomad.Nomad(host="127.0.0.1", port=srv.config.http_port, timeout=10)
        await asyncio.to_thread(api.client.gc_all_allocations.garbage_collect, node["ID"])
        assert (await call("GET", f"/fs/ls/{two['ID']}", path="/"))[0] == 404
        assert (await call("PUT", "/gc"))[0] == 200
    alloc_dirs = Path(client.data_dir) / "alloc"
    assert not (alloc_dirs / one["ID"]).exists() and not (alloc_dirs / two["ID"]).exists()
    # the server still lists them: the client does not run them again
    await asyncio.sleep(1)
    assert _complete(srv, "one") is not None
    assert not (alloc_dirs / one["ID"]).exists()
