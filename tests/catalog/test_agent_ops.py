"""User events and the agent's operational endpoints (join, leave, force-leave, metrics,
monitor, host, version) through py-consul where it has them and HTTP otherwise; shapes,
status codes and texts checked against consul 1.10.11 (1.17's where they differ)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from tests.catalog.inprocess import base_url, py_consul, request, running_catalog


async def test_events_fire_and_list_with_py_consul(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        assert await c.event.fire("deploy", "v1") is not None
        await c.event.fire("other", "")
        index, events = await c.event.list()
        assert [e["Name"] for e in events] == ["deploy", "other"]
        first = events[0]
        assert first["Payload"] == b"v1"  # py-consul decodes the base64
        assert first["Version"] == 1 and first["LTime"] >= 1
        assert set(first) == {
            "ID",
            "Name",
            "Payload",
            "NodeFilter",
            "ServiceFilter",
            "TagFilter",
            "Version",
            "LTime",
        }
        _, only = await c.event.list(name="deploy")
        assert [e["Name"] for e in only] == ["deploy"]
        # an event with no body has a null payload, as Consul's
        assert events[1]["Payload"] is None
        # blocking: the list waits while its index is the one asked, and wakes on a new event
        waiter = asyncio.create_task(c.event.list(index=index, wait="5s"))
        await asyncio.sleep(0.2)
        assert not waiter.done()
        await c.event.fire("third")
        new_index, after = await asyncio.wait_for(waiter, 5)
        assert new_index != index and after[-1]["Name"] == "third"


async def test_event_filters_and_errors(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv:
        status, body, _ = await request(srv, "PUT", "/v1/event/fire/x?node=node1&service=web")
        assert status == 200 and body["NodeFilter"] == "node1" and body["ServiceFilter"] == "web"
        # a tag filter needs a service filter (Consul's text)
        status, body, _ = await request(srv, "PUT", "/v1/event/fire/x?tag=a")
        assert (status, body) == (500, "Cannot provide tag filter without service filter")
        status, _, _ = await request(srv, "PUT", "/v1/event/fire/x?dc=nowhere")
        assert status == 500


async def test_join_leave_force_leave(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        # joining itself works, anything else fails as Consul's dial to a dead Serf port
        assert await c.agent.join("127.0.0.1") is True
        status, body, _ = await request(srv, "PUT", "/v1/agent/join/127.0.0.2")
        assert status == 500
        assert body.startswith("1 error occurred:\n\t* Failed to join 127.0.0.2:8301: ")
        status, body, _ = await request(srv, "PUT", "/v1/agent/force-leave/nonode")
        assert (status, body) == (500, "agent: No node found with name 'nonode'")
        assert await c.agent.force_leave("node1") is True
        # the one server acknowledges a leave and stays up (documented difference)
        assert await c.agent.leave() is True
        assert await c.status.leader() == "127.0.0.1:8300"


async def test_members_and_self_shapes(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        wan = await c.agent.members(wan=True)
        assert [m["Name"] for m in wan] == ["node1.dc1"]
        lan = await c.agent.members()
        assert [m["Name"] for m in lan] == ["node1"]
        me = await c.agent.self()
        assert me["Stats"]["consul"]["leader_addr"] == "127.0.0.1:8300"
        assert me["Stats"]["consul"]["leader"] == "true"
        version = me["Config"]["Version"]
        status, body, _ = await request(srv, "GET", "/v1/agent/version")
        assert status == 200 and body["HumanVersion"] == version
        assert set(body) >= {"SHA", "BuildDate", "HumanVersion", "FIPS"}


async def test_metrics_json_and_prometheus(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        data = await c.agent.metrics()
        assert set(data) >= {"Timestamp", "Gauges", "Counters", "Samples", "Points"}
        gauges = {g["Name"]: g for g in data["Gauges"]}
        assert gauges["consul.autopilot.healthy"]["Value"] == 1
        assert gauges["consul.raft.peers"]["Value"] == 1
        status, text, headers = await request(srv, "GET", "/v1/agent/metrics?format=prometheus")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        assert "# TYPE consul_autopilot_healthy gauge\nconsul_autopilot_healthy 1\n" in text


async def test_monitor_streams_logs_at_the_level_asked(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv:
        status, text, _ = await request(srv, "GET", "/v1/agent/monitor?loglevel=bogus")
        assert (status, text) == (400, "Bad request: Unknown log level: bogus")
        async with (
            aiohttp.ClientSession() as http,
            http.get(base_url(srv) + "/v1/agent/monitor?loglevel=info") as resp,
        ):
            assert resp.status == 200
            # a request logged while attached reaches the stream
            await request(srv, "PUT", "/v1/agent/join/127.0.0.2")
            line = await asyncio.wait_for(resp.content.readline(), 5)
            assert b"[INFO]" in line


async def test_host_info(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv:
        status, body, _ = await request(srv, "GET", "/v1/agent/host")
        assert status == 200
        assert set(body) >= {"Memory", "CPU", "Host", "Disk", "CollectionTime", "Errors"}
        assert body["Memory"]["total"] > 0 and body["Host"]["os"] == "linux"


async def test_empty_kv_value_reads_back_null(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        assert await c.kv.put("empty", "") is True
        _, entry = await c.kv.get("empty")
        assert entry["Value"] is None
        _, body, _ = await request(srv, "GET", "/v1/kv/empty")
        assert body[0]["Value"] is None
        await c.kv.put("full", "x")
        _, entry = await c.kv.get("full")
        assert entry["Value"] == b"x"


async def test_tagged_addresses_are_normalised(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        tagged = {"lan": {"Address": "10.0.0.1", "Port": 81}, "wan": {"address": "1.2.3.4"}}
        body = {"Name": "ta", "Port": 80, "TaggedAddresses": tagged}
        status, _, _ = await request(srv, "PUT", "/v1/agent/service/register", body)
        assert status == 200
        want = {
            "lan": {"Address": "10.0.0.1", "Port": 81},
            "wan": {"Address": "1.2.3.4", "Port": 0},
        }
        _, instances = await c.catalog.service("ta")
        assert instances[0]["ServiceTaggedAddresses"] == want
        assert (await c.agent.services())["ta"]["TaggedAddresses"] == want
        bad = {"Name": "tb", "TaggedAddresses": {"lan": "10.0.0.1"}}
        status, text, _ = await request(srv, "PUT", "/v1/agent/service/register", bad)
        assert status == 400 and "TaggedAddresses.lan" in text


async def test_unknown_peer_answers_empty(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv:
        empty = {
            "/v1/catalog/services?peer=p": {},
            "/v1/catalog/service/consul?peer=p": [],
            "/v1/catalog/nodes?peer=p": [],
            "/v1/health/service/consul?peer=p": [],
            "/v1/health/checks/consul?peer=p": [],
            "/v1/health/state/any?peer=p": [],
        }
        for path, want in empty.items():
            status, body, _ = await request(srv, "GET", path)
            assert (status, body) == (200, want), path
        # without a peer the same queries find the catalog itself
        _, body, _ = await request(srv, "GET", "/v1/health/service/consul")
        assert len(body) == 1


async def test_other_datacenter_and_unknown_service_id(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv:
        for path in ("/v1/catalog/deregister", "/v1/catalog/register"):
            body = {"Datacenter": "dc2", "Node": "x", "Address": "1.2.3.4"}
            status, text, _ = await request(srv, "PUT", path, body)
            assert (status, text) == (500, "No path to datacenter"), path
        status, text, _ = await request(srv, "GET", "/v1/catalog/nodes?dc=dc2")
        assert (status, text) == (500, "No path to datacenter")
        check = {"Name": "c", "ServiceID": "nosuch", "TTL": "10s"}
        status, text, _ = await request(srv, "PUT", "/v1/agent/check/register", check)
        # 404 since Consul 1.11 (1.10 answered 500): yurt reports a 1.17 version
        assert (status, text) == (404, 'ServiceID "nosuch" does not exist')
