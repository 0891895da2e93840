"""Nomad's Raft, Autopilot and agent membership endpoints on an in-process scheduler, as a
one-server Nomad answers them (shapes and texts from Nomad 1.1.2 run side by side), with
python-nomad where it has the call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import nomad
import pytest

from yurt.scheduler import SchedulerConfig, SchedulerServer
from yurt.scheduler.api_operator import AUTOPILOT_DEFAULTS


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[SchedulerServer]:
    server = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _nomad(srv: SchedulerServer) -> nomad.Nomad:
    return nomad.Nomad(host="127.0.0.1", port=srv.config.http_port, timeout=10)


async def test_raft_configuration_is_this_server_alone(srv: SchedulerServer) -> None:
    import asyncio

    conf = await asyncio.to_thread(_nomad(srv).operator.get_configuration)
    (server,) = conf["Servers"]
    assert server == {
        "ID": srv.server_id,
        "Node": f"{srv.config.node_name}.{srv.config.region}",
        "Address": srv.rpc_addr,
        "Leader": True,
        "Voter": True,
        "RaftProtocol": "3",
    }


async def test_autopilot_configuration_is_kept_and_replaced_whole(srv: SchedulerServer) -> None:
    url = srv.address + "/v1/operator/autopilot/configuration"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            first = await resp.json()
        assert {k: first[k] for k in AUTOPILOT_DEFAULTS} == AUTOPILOT_DEFAULTS
        body = {"CleanupDeadServers": False, "LastContactThreshold": "300ms"}
        async with http.put(url, json=body) as resp:
            assert (resp.status, await resp.json()) == (200, True)
        async with http.get(url) as resp:
            now = await resp.json()
        # the fields not sent are at their zero value, as Nomad replaces the whole
        assert now["LastContactThreshold"] == "300ms" and now["CleanupDeadServers"] is False
        assert now["MaxTrailingLogs"] == 0 and now["ServerStabilizationTime"] == "0s"
        # check-and-set: a stale index is refused with false
        async with http.put(url, params={"cas": "1"}, json=body) as resp:
            assert await resp.json() is False
        async with http.put(url, params={"cas": str(now["ModifyIndex"])}, json=body) as resp:
            assert await resp.json() is True
        async with http.put(url, json={"LastContactThreshold": "soon"}) as resp:
            assert resp.status == 400
            assert (await resp.text()).startswith("Error parsing autopilot config: ")
        async with http.get(srv.address + "/v1/operator/autopilot/health") as resp:
            health = await resp.json()
        assert health["Healthy"] is True and health["FailureTolerance"] == 0
        assert [s["ID"] for s in health["Servers"]] == [srv.server_id]
        assert health["Servers"][0]["Leader"] and health["Servers"][0]["Voter"]


async def test_join_and_force_leave_as_one_server(srv: SchedulerServer) -> None:
    import asyncio

    client = _nomad(srv)
    own = f"{srv.config.http_host}:{srv.config.http_port + 2}"
    assert await asyncio.to_thread(client.agent.join_agent, own) == {
        "error": "",
        "num_joined": 1,
    }
    other = await asyncio.to_thread(client.agent.join_agent, "127.0.0.2:4648")
    assert other == {
        "error": "1 error occurred:\n\t* Failed to join 127.0.0.2: dial tcp 127.0.0.2:4648: "
        "connect: connection refused\n\n",
        "num_joined": 0,
    }
    assert await asyncio.to_thread(client.agent.force_leave, "gone") == 200
    async with aiohttp.ClientSession() as http:
        async with http.put(srv.address + "/v1/agent/join") as resp:
            assert (resp.status, await resp.text()) == (400, "missing address to join")
        async with http.put(srv.address + "/v1/agent/force-leave") as resp:
            assert (resp.status, await resp.text()) == (400, "missing node to force leave")
