"""`GET /v1/event/stream` on an in-process scheduler: python-nomad's `event.stream` follows
it, frames are one JSON object a line, `?topic=` and `?index=` choose and replay, `{}` is
the heartbeat, a slow subscriber is dropped with Nomad's text, and under ACLs each topic
needs its own capability."""

from __future__ import annotations

import asyncio
import json
import queue
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import nomad
import pytest

from tests.scheduler.jobs import job
from yurt.scheduler import SchedulerConfig, SchedulerServer
from yurt.scheduler.event_buffer import DROPPED

Obj = dict[str, Any]


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[SchedulerServer]:
    server = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _lines(resp: aiohttp.ClientResponse, count: int, timeout: float = 5.0) -> list[Obj]:
    out: list[Obj] = []
    async with asyncio.timeout(timeout):
        while len(out) < count:
            line = await resp.content.readline()
            assert line.endswith(b"\n"), line
            out.append(json.loads(line))
    return out


async def test_python_nomad_follows_the_stream(srv: SchedulerServer) -> None:
    client = nomad.Nomad(host="127.0.0.1", port=srv.config.http_port or _port(srv), timeout=30)
    events: queue.Queue[Obj] = queue.Queue()
    thread, stop, _ = client.event.stream.get_stream(topic="Job", event_queue=events)
    thread.daemon = True
    thread.start()
    try:
        await asyncio.sleep(0.3)
        srv.ops.register_job(job("web"))
        frame = await asyncio.to_thread(events.get, True, 5)
    finally:
        stop.set()
    (event,) = frame["Events"]
    assert (event["Topic"], event["Type"], event["Key"]) == ("Job", "JobRegistered", "web")
    assert frame["Index"] == event["Index"] == event["Payload"]["Job"]["JobModifyIndex"]


def _port(srv: SchedulerServer) -> int:
    return int(srv.address.rsplit(":", 1)[1])


async def test_topics_replay_and_heartbeats(srv: SchedulerServer) -> None:
    first = srv.ops.register_job(job("web"))
    srv.ops.register_job(job("api"))
    srv.events.heartbeat_s = 0.3
    url = srv.address + "/v1/event/stream"
    async with aiohttp.ClientSession() as http:
        # from the start of the buffer, only the job "web" (Job) and its evaluations
        # (Evaluation, by their job's filter key)
        params = [("topic", "Job:web"), ("topic", "Evaluation:web"), ("index", "0")]
        async with http.get(url, params=params) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("application/json")
            assert resp.headers["Cache-Control"] == "no-cache"
            hello, frame = await _lines(resp, 2)
            assert hello == {}
            assert frame["Index"] == first["Index"]
            assert {(e["Topic"], e["Key"]) for e in frame["Events"]} == {
                ("Job", "web"),
                ("Evaluation", first["EvalID"]),
            }
            # then only what is of "web", and heartbeats when nothing is
            beats = 0
            while beats < 2:
                (line,) = await _lines(resp, 1, timeout=3)
                beats += line == {}
                for event in line.get("Events", []):
                    assert "web" in (event["Key"], *(event["FilterKeys"] or ())), event
        # from an index on (that index included), every topic
        later = srv.store.index + 1
        async with http.get(url, params={"index": str(later)}) as resp:
            await _lines(resp, 1)
            srv.ops.register_job(job("db"))
            (frame,) = await _lines(resp, 1)
            assert frame["Index"] >= later
            assert {e["Key"] for e in frame["Events"] if e["Topic"] == "Job"} == {"db"}
        async with http.get(url, params={"index": "abc"}) as resp:
            assert (resp.status, await resp.text()) == (
                400,
                'Unable to parse index: strconv.Atoi: parsing "abc": invalid syntax',
            )
        async with http.get(url, params={"topic": "Job:a:b"}) as resp:
            assert (resp.status, await resp.text()) == (
                400,
                "Invalid topic query: error parsing topics: "
                "Invalid key value pair for topic, topic: Job:a:b",
            )


async def test_namespaces_filter(srv: SchedulerServer) -> None:
    srv.ops.register_job(job("web"))
    srv.events.heartbeat_s = 0.2
    url = srv.address + "/v1/event/stream"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, params={"namespace": "prod", "topic": "Job"}) as resp:
            assert await _lines(resp, 1) == [{}]
            assert await _lines(resp, 1) == [{}]  # the default namespace's job is not sent
        async with http.get(url, params={"namespace": "*", "topic": "Job"}) as resp:
            _, frame = await _lines(resp, 2)
            assert frame["Events"][0]["Key"] == "web"


async def test_a_slow_subscriber_is_dropped(srv: SchedulerServer) -> None:
    srv.events.size = 3
    url = srv.address + "/v1/event/stream"
    async with aiohttp.ClientSession() as http, http.get(url, params={"topic": "Job"}) as resp:
        await _lines(resp, 1)
        # the stream's writer is behind (it waits for the loop); five writes pass it
        for i in range(5):
            srv.ops.register_job(job(f"j{i}"))
        body = await asyncio.wait_for(resp.content.read(), 5)
    assert body.endswith(DROPPED.encode())


async def test_topics_need_their_capabilities(tmp_path: Path) -> None:
    srv = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path, acl_enabled=True))
    await srv.start()
    try:
        root = srv.acl.bootstrap()["SecretID"]
        srv.acl.upsert_policy(
            {"Name": "reader", "Rules": 'namespace "default" { policy = "read" }'}
        )
        reader = srv.acl.create_token({"Name": "r", "Type": "client", "Policies": ["reader"]})
        url = srv.address + "/v1/event/stream"

        async def status(token: str, **params: str) -> int:
            headers = {"X-Nomad-Token": token}
            async with http.get(url, params=params, headers=headers) as resp:
                if resp.status != 200:
                    return resp.status
                await _lines(resp, 1)
                return 200

        async with aiohttp.ClientSession() as http:
            assert await status(root) == 200
            # every topic, the ACL topics and nodes: management (or node:read) only
            assert await status(reader["SecretID"]) == 403
            assert await status(reader["SecretID"], topic="ACLToken") == 403
            assert await status(reader["SecretID"], topic="Node") == 403
            assert await status(reader["SecretID"], topic="Job") == 200
            assert await status(reader["SecretID"], topic="Job", namespace="prod") == 403
            assert await status("") == 403
            # a token deleted while it streams: the stream ends as Nomad ends it
            headers = {"X-Nomad-Token": reader["SecretID"]}
            async with http.get(url, params={"topic": "Job"}, headers=headers) as resp:
                await _lines(resp, 1)
                srv.acl.delete_token(reader["AccessorID"])
                srv.ops.register_job(job("web"))
                body = await asyncio.wait_for(resp.content.read(), 5)
            assert body.decode() == "subscription closed by server, client should resubscribe"
    finally:
        await srv.stop()
