"""`/v1/operator/*` and `/v1/coordinate/*`: the single-server answers a one-server Consul
gives, through py-consul where it has them (shapes and texts checked against consul
1.10.11; transfer-leader and usage are 1.11+/1.13+ endpoints, taken from Consul's docs)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from tests.catalog.inprocess import py_consul, request, running_catalog


async def test_raft_configuration_and_peers(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        conf = await c.operator.raft_config()
        assert conf["Index"] == 0
        (me,) = conf["Servers"]
        assert me == {
            "ID": srv.node_id,
            "Node": "node1",
            "Address": "127.0.0.1:8300",
            "Leader": True,
            "ProtocolVersion": "3",
            "Voter": True,
        }
        status, text, _ = await request(srv, "DELETE", "/v1/operator/raft/peer")
        assert (status, text) == (
            400,
            "Bad request: Must specify either ?id with the server's ID or ?address with "
            "IP:port of peer to remove",
        )
        status, text, _ = await request(
            srv, "DELETE", "/v1/operator/raft/peer?address=1.2.3.4:8300"
        )
        assert (status, text) == (
            500,
            'address "1.2.3.4:8300" was not found in the Raft configuration',
        )
        # the only server cannot hand leadership to anyone
        status, text, _ = await request(srv, "POST", "/v1/operator/raft/transfer-leader")
        assert (status, text) == (500, "cannot find peer")


async def test_autopilot(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        conf = await c.operator.autopilot_configuration()
        assert conf["CleanupDeadServers"] is True
        assert conf["LastContactThreshold"] == "200ms"
        assert conf["MaxTrailingLogs"] == 250
        index = conf["ModifyIndex"]
        status, ok, _ = await request(
            srv,
            "PUT",
            f"/v1/operator/autopilot/configuration?cas={index}",
            {"CleanupDeadServers": False, "MaxTrailingLogs": 100},
        )
        assert (status, ok) == (200, True)
        # a stale cas changes nothing
        status, ok, _ = await request(
            srv, "PUT", f"/v1/operator/autopilot/configuration?cas={index}", {}
        )
        assert (status, ok) == (200, False)
        conf = await c.operator.autopilot_configuration()
        assert conf["CleanupDeadServers"] is False and conf["MaxTrailingLogs"] == 100
        status, text, _ = await request(
            srv, "PUT", "/v1/operator/autopilot/configuration", {"MaxTrailingLogs": "x"}
        )
        assert status == 400 and "MaxTrailingLogs" in text
        health = await c.operator.autopilot_health()
        assert health["Healthy"] is True and health["FailureTolerance"] == 0
        (server,) = health["Servers"]
        assert server["Leader"] and server["Voter"] and server["SerfStatus"] == "alive"
        status, state, _ = await request(srv, "GET", "/v1/operator/autopilot/state")
        assert status == 200 and state["Leader"] == srv.node_id
        assert state["Voters"] == [srv.node_id]
        assert state["Servers"][srv.node_id]["Status"] == "leader"


async def test_keyring_install_use_remove(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        pools = await c.operator.keyring_list()
        assert [p["WAN"] for p in pools] == [True, False]
        (first,) = pools[0]["Keys"]
        new = base64.b64encode(os.urandom(32)).decode()
        assert await c.operator.keyring_install(new) is True
        assert set((await c.operator.keyring_list())[1]["Keys"]) == {first, new}
        assert await c.operator.keyring_use(new) is True
        assert (await c.operator.keyring_list())[1]["PrimaryKeys"] == {new: 1}
        # the primary key cannot go (Consul's multierror over both pools)
        status, text, _ = await request(srv, "DELETE", "/v1/operator/keyring", {"Key": new})
        assert status == 500
        assert text.startswith("4 errors occurred:\n")
        assert "node1: Removing the primary key is not allowed" in text
        assert await c.operator.keyring_remove(first) is True
        assert set((await c.operator.keyring_list())[0]["Keys"]) == {new}
        status, text, _ = await request(srv, "POST", "/v1/operator/keyring", {"Key": "abc"})
        assert status == 500 and "node1: Invalid key: " in text


async def test_usage_counts_the_catalog(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        await c.agent.service.register("web", port=80)
        await c.agent.service.register("web", service_id="web2", port=81)
        status, body, _ = await request(srv, "GET", "/v1/operator/usage")
        assert status == 200
        dc1 = body["Usage"]["dc1"]
        # the catalog's own `consul` service counts, but is not billable
        assert dc1["Services"] == 2 and dc1["ServiceInstances"] == 3
        assert dc1["BillableServiceInstances"] == 2 and dc1["Nodes"] == 1
        assert dc1["ConnectServiceInstances"]["connect-proxy"] == 0


async def test_coordinates(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        (dc,) = await c.coordinate.datacenters()
        assert dc["Datacenter"] == "dc1" and dc["AreaID"] == "wan"
        assert dc["Coordinates"][0]["Node"] == "node1"
        index, nodes = await c.coordinate.nodes()
        origin = nodes[0]["Coord"]
        assert origin == {"Vec": [0.0] * 8, "Error": 1.5, "Adjustment": 0.0, "Height": 1e-05}
        coord = {"Vec": [0.001] * 8, "Error": 0.5, "Adjustment": 0.0, "Height": 0.0001}
        assert await c.coordinate.update("node1", coord) is True
        _, node = await c.coordinate.node("node1")
        assert node[0]["Coord"]["Vec"] == [0.001] * 8
        new_index, _ = await c.coordinate.nodes(index=index, wait="1s")
        assert new_index > index
        # Consul batches updates and drops those of unknown nodes silently
        assert await c.coordinate.update("ghost", coord) is True
        status, _, _ = await request(srv, "GET", "/v1/coordinate/node/ghost")
        assert status == 404
        bad = {"Node": "node1", "Coord": {**coord, "Vec": [0.0, 0.0]}}
        status, text, _ = await request(srv, "PUT", "/v1/coordinate/update", bad)
        assert (status, text) == (500, "incompatible coordinate")
