"""Manual allocation health and unblock: the operation on a real store (allocations marked,
the watcher's verdict, Nomad's texts), then the endpoints through python-nomad and HTTP on an
in-process scheduler, with the answers Nomad 1.1.2 gave for the same requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import nomad
import pytest

from tests.scheduler import jobs as J
from tests.scheduler.ops_fixture import settle
from tests.scheduler.test_placement_feasible import node
from yurt.scheduler import SchedulerConfig, SchedulerServer
from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.errors import SchedulerError
from yurt.scheduler.operations import Operations

Obj = dict[str, Any]
SECOND = 1_000_000_000
UPDATE = {
    "MaxParallel": 1,
    "HealthCheck": "manual",
    "MinHealthyTime": SECOND,
    "HealthyDeadline": 60 * SECOND,
    "ProgressDeadline": 120 * SECOND,
    "AutoRevert": False,
    "AutoPromote": False,
    "Canary": 0,
    "Stagger": 30 * SECOND,
}


def _deployed(ops: Operations, count: int = 2) -> tuple[Obj, list[Obj]]:
    ops.register_job(J.job("web", groups=[J.group("web", count=count, update=UPDATE)]))
    settle(ops)
    (dep,) = ops.store.tables[s.DEPLOYMENT].values()
    allocs = [a for a in ops.store.tables[s.ALLOC].values() if a["DeploymentID"] == dep["ID"]]
    assert allocs
    return dep, allocs


def test_marking_allocations_healthy_and_unhealthy(ops: Operations) -> None:
    dep, allocs = _deployed(ops)
    first = allocs[0]["ID"]
    result = ops.set_alloc_health(dep, [first], [])
    assert result["EvalID"] and result["Index"] == result["DeploymentModifyIndex"]
    stored = ops.store.tables[s.ALLOC][first]
    assert stored["DeploymentStatus"]["Healthy"] is True
    assert stored["DeploymentStatus"]["ModifyIndex"] == result["Index"]
    assert ops.store.tables[s.DEPLOYMENT][dep["ID"]]["TaskGroups"]["web"]["HealthyAllocs"] == 1
    # an ID in both lists ends unhealthy, and the deployment fails as Nomad's watcher does
    ops.set_alloc_health(dep, [first], [first])
    failed = ops.store.tables[s.DEPLOYMENT][dep["ID"]]
    assert (failed["Status"], failed["StatusDescription"]) == (
        m.DEPLOY_FAILED,
        "Failed due to unhealthy allocations",
    )
    with pytest.raises(SchedulerError) as caught:
        ops.set_alloc_health(failed, [first], [])
    assert caught.value.message == "can't set health of allocations for a terminal deployment"


@pytest.mark.parametrize(
    ("healthy", "error"),
    [
        ([], "must specify at least one healthy/unhealthy allocation ID"),
        (["nope"], 'alloc "nope" lookup failed: index error: UUID must be 36 characters'),
        (
            ["00000000-0000-0000-0000-000000000000"],
            'unknown alloc "00000000-0000-0000-0000-000000000000"',
        ),
    ],
)
def test_refusals(ops: Operations, healthy: list[str], error: str) -> None:
    dep, _ = _deployed(ops)
    with pytest.raises(SchedulerError) as caught:
        ops.set_alloc_health(dep, healthy, [])
    assert caught.value.message == error


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[SchedulerServer]:
    server = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _wait_for_deployment(srv: SchedulerServer) -> tuple[Obj, list[Obj]]:
    for _ in range(100):
        deps = list(srv.store.tables[s.DEPLOYMENT].values())
        if deps:
            allocs = [a for a in srv.store.tables[s.ALLOC].values() if a["DeploymentID"]]
            if allocs:
                return deps[0], allocs
        await asyncio.sleep(0.05)
    raise AssertionError("no deployment")


async def test_the_endpoints(srv: SchedulerServer) -> None:
    srv.ops.register_node(node(0, Datacenter="dc1", SecretID="secret-0"))
    srv.ops.register_job(J.job("web", groups=[J.group("web", count=1, update=UPDATE)]))
    dep, allocs = await _wait_for_deployment(srv)
    client = nomad.Nomad(host="127.0.0.1", port=srv.config.http_port, timeout=10)
    answer = await asyncio.to_thread(
        client.deployment.deployment_allocation_health, dep["ID"], [allocs[0]["ID"]]
    )
    assert answer["EvalID"] and answer["RevertedJobVersion"] is None
    base = srv.address + "/v1/deployment"
    async with aiohttp.ClientSession() as http:

        async def put(path: str, body: Obj) -> tuple[int, str]:
            async with http.put(base + path, json=body) as resp:
                return resp.status, await resp.text()

        assert await put(f"/unblock/{dep['ID']}", {}) == (400, "DeploymentID must be specified")
        assert await put(f"/unblock/{dep['ID']}", {"DeploymentID": "x"}) == (
            400,
            "Deployment ID does not match",
        )
        status, text = await put(f"/unblock/{dep['ID']}", {"DeploymentID": dep["ID"]})
        # one region: nothing is ever blocked, and Nomad answers with nothing done
        assert (status, json.loads(text)) == (
            200,
            {
                "DeploymentModifyIndex": 0,
                "EvalCreateIndex": 0,
                "EvalID": "",
                "Index": 0,
                "RevertedJobVersion": None,
            },
        )
        unknown = "00000000-0000-0000-0000-000000000000"
        assert await put(f"/unblock/{unknown}", {"DeploymentID": unknown}) == (
            500,
            "deployment not found",
        )
        assert await put(f"/allocation-health/{dep['ID']}", {"DeploymentID": dep["ID"]}) == (
            500,
            "must specify at least one healthy/unhealthy allocation ID",
        )
