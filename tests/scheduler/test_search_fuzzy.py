"""Nomad's fuzzy search: the matching rules (case, order, scopes, the parts of a job, the
query and result limits) by table, then the endpoint through python-nomad on an in-process
scheduler, with the shapes and texts Nomad 1.1.2 answered for the same requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import nomad
import pytest

from tests.scheduler import jobs as J
from yurt.scheduler import SchedulerConfig, SchedulerServer
from yurt.scheduler import api_search as S

Obj = dict[str, Any]


def _job(job_id: str, **extra: Any) -> Obj:
    return {"ID": job_id, "Name": job_id, "Namespace": "default", "TaskGroups": [], **extra}


@pytest.mark.parametrize(
    ("names", "text", "expected"),
    [
        # where the text occurs first, then the shorter name, then by name
        (["xweb", "web", "webber", "aweb"], "web", ["web", "webber", "aweb", "xweb"]),
        # case does not matter
        (["WebApp", "api"], "WEB", ["WebApp"]),
        (["api"], "web", []),
    ],
)
def test_jobs_match_by_substring_in_nomads_order(
    names: list[str], text: str, expected: list[str]
) -> None:
    matches, truncations = S.fuzzy_search(text, ["jobs"], {"jobs": [_job(n) for n in names]}, {})
    assert [m["ID"] for m in matches.get("jobs", [])] == expected
    assert truncations == {"jobs": False}
    for m in matches.get("jobs", []):
        assert m["Scope"] == ["default", m["ID"]]


def test_a_job_expands_into_its_parts() -> None:
    task = {
        "Name": "redis-task",
        "Driver": "docker",
        "Config": {"image": "redis:7"},
        "Services": [{"Name": "redis-svc"}],
    }
    exe = {"Name": "t2", "Driver": "raw_exec", "Config": {"command": "/bin/redis-cli"}}
    job = _job("cache", TaskGroups=[{"Name": "redis", "Tasks": [task, exe], "Services": []}])
    matches, _ = S.fuzzy_search("redis", ["jobs"], {"jobs": [job]}, {})
    assert matches == {
        "groups": [{"ID": "redis", "Scope": ["default", "cache"]}],
        "tasks": [{"ID": "redis-task", "Scope": ["default", "cache", "redis"]}],
        "services": [{"ID": "redis-svc", "Scope": ["default", "cache", "redis", "redis-task"]}],
        "images": [{"ID": "redis:7", "Scope": ["default", "cache", "redis", "redis-task"]}],
        "commands": [{"ID": "/bin/redis-cli", "Scope": ["default", "cache", "redis", "t2"]}],
    }


@pytest.mark.parametrize(
    ("count", "matching", "truncated", "found"),
    [
        (20, 20, False, 20),
        # only 20 objects are searched: the 21st is not, and the context says so
        (21, 21, True, 20),
        (25, 1, False, 1),  # the one match is among the first 20, yet more were left
    ],
)
def test_the_query_limit(count: int, matching: int, truncated: bool, found: int) -> None:
    nodes = [
        {"ID": f"{i:03d}", "Name": f"web-{i:03d}" if i < matching else f"db-{i:03d}"}
        for i in range(count)
    ]
    matches, truncations = S.fuzzy_search("web", ["nodes"], {"nodes": nodes}, {})
    assert len(matches.get("nodes", [])) == found
    assert truncations["nodes"] is (truncated and found == 20)


def test_the_result_limit() -> None:
    groups = [{"Name": f"web{i}", "Tasks": []} for i in range(150)]
    matches, truncations = S.fuzzy_search(
        "web", ["jobs"], {"jobs": [_job("x", TaskGroups=groups)]}, {}
    )
    assert len(matches["groups"]) == S.LIMIT_RESULTS and truncations["groups"] is True


def test_uuid_contexts_match_by_prefix() -> None:
    ids = {"evals": ["ab12", "ab34", "cd56"], "deployment": [], "scaling_policy": ["ab99"]}
    matches, truncations = S.fuzzy_search("ab", ["evals", "deployment", "scaling_policy"], {}, ids)
    assert matches == {
        "evals": [{"ID": "ab12"}, {"ID": "ab34"}],
        "deployment": [],
        "scaling_policy": [{"ID": "ab99"}],
    }
    assert truncations == {"evals": False, "deployment": False, "scaling_policy": False}


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[SchedulerServer]:
    server = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_the_endpoint_through_python_nomad(srv: SchedulerServer) -> None:
    srv.ops.register_job(J.job("web", groups=[J.group("g")]))
    client = nomad.Nomad(host="127.0.0.1", port=srv.config.http_port, timeout=10)
    every = await asyncio.to_thread(client.search.fuzzy_search, "we", "all")
    assert every["Matches"]["jobs"] == [{"ID": "web", "Scope": ["default", "web"]}]
    # the UUID contexts answer even empty; fuzzy ones only when something matched
    assert every["Matches"]["evals"] == [] and "nodes" not in every["Matches"]
    assert set(every["Truncations"]) == set(S.CONTEXTS)
    assert not any(every["Truncations"].values())
    only_jobs = await asyncio.to_thread(client.search.fuzzy_search, "EB", "jobs")
    # the job and its task (named "web" too), not its group "g"
    assert only_jobs["Matches"] == {
        "jobs": [{"ID": "web", "Scope": ["default", "web"]}],
        "tasks": [{"ID": "web", "Scope": ["default", "web", "g"]}],
    }
    assert only_jobs["Truncations"] == {"jobs": False}
    url = srv.address + "/v1/search/fuzzy"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"Text": "g", "Context": "jobs"}) as resp:
            assert (resp.status, await resp.text()) == (
                500,
                "fuzzy search query must be at least 2 characters, got 1",
            )
        async with http.post(url, json={"Text": "we", "Context": "bogus"}) as resp:
            assert resp.status == 500
            assert (await resp.text()).startswith("context must be one of [allocs jobs nodes")
            assert (await resp.text()).endswith(""" or 'all' for all contexts; got "bogus\"""")
        async with http.post(url, json={"Text": "we", "Context": "evals"}) as resp:
            body = await resp.json()
            assert (body["Matches"], body["Truncations"]) == ({"evals": []}, {"evals": False})
