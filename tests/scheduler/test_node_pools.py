"""Node pools (Nomad 1.6+): the rules by table (names, descriptions, the built-ins, what
stops a deletion, with Nomad's texts), then the endpoints on an in-process scheduler:
built-in `all` and `default`, create/update/read/delete, a node's pool, a pool's nodes and
jobs, and the events of pool writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.scheduler import jobs as J
from tests.scheduler.test_placement_feasible import node
from yurt.scheduler import SchedulerConfig, SchedulerServer
from yurt.scheduler import node_pools as np

Obj = dict[str, Any]


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"Name": "prod", "Description": "Production"}, 0, ""),
        (
            {"Name": "bad name"},
            400,
            'invalid node pool "bad name": 1 error occurred:\n'
            '\t* invalid name "bad name", must match regex ^[a-zA-Z0-9-_]{1,128}$\n\n',
        ),
        (
            {"Name": "p", "Description": "x" * 257},
            400,
            'invalid node pool "p": 1 error occurred:\n\t* description longer than 256\n\n',
        ),
        ({"Name": "default"}, 400, 'modifying node pool "default" is not allowed'),
        ({"Name": "all", "Description": "mine"}, 400, 'modifying node pool "all" is not allowed'),
    ],
)
def test_validate(body: Obj, status: int, text: str) -> None:
    if not status:
        assert np.validate(body)["Name"] == body["Name"]
        return
    with pytest.raises(np.PoolError) as caught:
        np.validate(body)
    assert (caught.value.status, caught.value.message) == (status, text)


_NODE = {"ID": "n1", "NodePool": "prod", "CreateIndex": 4}
_JOB = {"ID": "j", "NodePool": "prod", "Status": "running"}


@pytest.mark.parametrize(
    ("name", "nodes", "jobs", "status", "text"),
    [
        ("dev", [_NODE], [_JOB], 0, ""),
        (
            "prod",
            [_NODE],
            [],
            500,
            '1 error occurred:\n\t* node pool "prod" has nodes in regions: [global]\n\n',
        ),
        (
            "prod",
            [],
            [_JOB],
            500,
            "1 error occurred:\n"
            '\t* node pool "prod" has non-terminal jobs in regions: [global]\n\n',
        ),
        ("prod", [], [{**_JOB, "Status": "dead"}], 0, ""),
        ("nope", [], [], 500, "node pool nope not found"),
        ("default", [], [], 500, 'deleting node pool "default" is not allowed'),
        ("", [], [], 400, "node pool name is empty"),
    ],
)
def test_check_delete(name: str, nodes: list[Obj], jobs: list[Obj], status: int, text: str) -> None:
    existing = np.pools({"dev": np.pool("dev", 5), "prod": np.pool("prod", 6)}, [])
    if not status:
        np.check_delete(name, existing, nodes, jobs, "global")
        return
    with pytest.raises(np.PoolError) as caught:
        np.check_delete(name, existing, nodes, jobs, "global")
    assert (caught.value.status, caught.value.message) == (status, text)


def test_pools_named_by_nodes_exist() -> None:
    found = np.pools({}, [_NODE, {"ID": "n2"}])
    assert sorted(found) == ["all", "default", "prod"]
    assert found["all"]["Description"] == "Node pool with all nodes in the cluster."
    assert found["default"]["Description"] == "Default node pool."
    assert found["prod"]["CreateIndex"] == 4


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[SchedulerServer]:
    server = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_the_endpoints(srv: SchedulerServer) -> None:
    srv.ops.register_node(node(0, Datacenter="dc1", SecretID="s0", NodePool="gpu"))
    srv.ops.register_node(node(1, Datacenter="dc1", SecretID="s1"))
    srv.ops.register_job(J.job("web", NodePool="gpu"))
    base = srv.address + "/v1/node"
    async with aiohttp.ClientSession() as http:

        async def call(method: str, path: str, body: Obj | None = None) -> tuple[int, Any]:
            async with http.request(method, base + path, json=body) as resp:
                text = await resp.text()
                is_json = resp.content_type == "application/json"
                return resp.status, (await resp.json()) if is_json else text

        status, listed = await call("GET", "/pools")
        assert status == 200 and [p["Name"] for p in listed] == ["all", "default", "gpu"]
        assert (await call("PUT", "/pools", {"Name": "dev", "Description": "Dev"}))[0] == 200
        assert (await call("POST", "/pool/dev", {"Name": "dev", "Meta": {"env": "d"}}))[0] == 200
        status, dev = await call("GET", "/pool/dev")
        assert status == 200
        assert (dev["Description"], dev["Meta"]) == ("", {"env": "d"})
        assert dev["ModifyIndex"] > dev["CreateIndex"]
        assert await call("PUT", "/pool/dev", {"Name": "other"}) == (
            400,
            "Node pool name does not match request path",
        )
        assert await call("PUT", "/pools", {"Name": "all"}) == (
            400,
            'modifying node pool "all" is not allowed',
        )
        status, nodes = await call("GET", "/pool/gpu/nodes")
        assert [n["ID"] for n in nodes] == ["node-00000"] and nodes[0]["NodePool"] == "gpu"
        status, every = await call("GET", "/pool/all/nodes")
        assert len(every) == 2
        status, jobs = await call("GET", "/pool/gpu/jobs")
        assert [j["ID"] for j in jobs] == ["web"]
        assert await call("GET", "/pool/gpu/nodes?prefix=x") == (400, "prefix argument not allowed")
        assert await call("DELETE", "/pool/dev") == (200, "")
        assert await call("GET", "/pool/dev") == (404, "node pool not found")
        # in use is said first, as Nomad checks it before the built-ins
        assert await call("DELETE", "/pool/default") == (
            500,
            '1 error occurred:\n\t* node pool "default" has nodes in regions: [global]\n\n',
        )
        assert await call("DELETE", "/pool/all") == (
            500,
            'deleting node pool "all" is not allowed',
        )
    kinds = [(e.topic, e.type, e.key) for b in srv.events.after(0) for e in b.events]
    assert ("NodePool", "NodePoolUpserted", "dev") in kinds
    assert ("NodePool", "NodePoolDeleted", "dev") in kinds
