"""The client's HTTP API without a process: its route tables, the `origin`/`offset` of
Nomad's streamed files, where a log read starts across rotated files, and the open health
endpoint served in-process. (The file and log endpoints against running tasks are in
test_raw_exec.py and tests/hostile/test_fs_streaming.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from yurt.api.errors import APIError
from yurt.client.agent import ClientAgent
from yurt.client.api_common import origin_offset
from yurt.client.api_logs import start_position
from yurt.client.config import ClientConfig
from yurt.client.http_api import API, build_app

# Nomad's client endpoints, with the methods each answers.
EXPECTED = {
    ("GET", "/v1/agent/health"),
    ("GET", "/v1/client/stats"),
    ("GET", "/v1/client/fs/logs/{alloc}"),
    ("GET", "/v1/client/fs/cat/{alloc}"),
    ("GET", "/v1/client/fs/readat/{alloc}"),
    ("GET", "/v1/client/fs/stream/{alloc}"),
    ("GET", "/v1/client/fs/ls/{alloc}"),
    ("GET", "/v1/client/fs/stat/{alloc}"),
    ("GET", "/v1/client/allocation/{alloc}/stats"),
    ("*", "/v1/client/allocation/{alloc}/restart"),
    ("*", "/v1/client/allocation/{alloc}/signal"),
    ("*", "/v1/client/allocation/{alloc}/gc"),
    ("*", "/v1/client/gc"),
    ("GET", "/v1/client/allocation/{alloc}/exec"),
}


def test_the_tables_declare_nomads_client_endpoints() -> None:
    declared = [(method, route.path) for route in API for method in route.methods]
    assert len(declared) == len(set(declared))
    assert set(declared) == EXPECTED


def test_the_app_serves_every_declared_route(tmp_path: Path) -> None:
    app = build_app(ClientAgent(ClientConfig(data_dir=tmp_path)))
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    assert served == EXPECTED


@pytest.mark.parametrize(
    ("query", "want"),
    [
        ({}, ("start", 0)),
        ({"origin": "end", "offset": "10"}, ("end", 10)),
        ({"origin": "start", "offset": "3"}, ("start", 3)),
        ({"origin": "middle"}, 'origin must be "start" or "end"'),
        ({"offset": "x"}, "offset must be an integer"),
        ({"offset": "-1"}, "offset must be a positive value"),
    ],
)
def test_origin_and_offset(query: dict[str, str], want: tuple[str, int] | str) -> None:
    if isinstance(want, str):
        with pytest.raises(APIError) as info:
            origin_offset(query)
        assert (info.value.status, info.value.message) == (400, want)
    else:
        assert origin_offset(query) == want


# Two rotated stdout files of task "t": t.stdout.0 (10 bytes) then t.stdout.1 (4 bytes).
@pytest.mark.parametrize(
    ("files", "origin", "offset", "want"),
    [
        ({}, "start", 0, (0, 0)),
        ({}, "end", 5, (0, 0)),
        ({0: 10, 1: 4}, "start", 7, (0, 7)),  # from the start: within the first file
        ({0: 10, 1: 4}, "end", 0, (1, 4)),  # the end of the newest file
        ({0: 10, 1: 4}, "end", 3, (1, 1)),  # within the newest file
        ({0: 10, 1: 4}, "end", 4, (1, 0)),  # exactly the newest file
        ({0: 10, 1: 4}, "end", 6, (0, 8)),  # back into the older file
        ({0: 10, 1: 4}, "end", 100, (0, 0)),  # more than there is: the very start
    ],
)
def test_where_a_log_read_starts(
    tmp_path: Path, files: dict[int, int], origin: str, offset: int, want: tuple[int, int]
) -> None:
    for index, size in files.items():
        (tmp_path / f"t.stdout.{index}").write_bytes(b"x" * size)
    assert start_position(tmp_path, "t", "stdout", origin, offset) == want


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(build_app(ClientAgent(ClientConfig(data_dir=tmp_path))))) as c:
        yield c


async def test_health_is_open_and_refuses_a_server_check(client: TestClient[Any, Any]) -> None:
    ok = await client.get("/v1/agent/health?type=client")
    assert (ok.status, await ok.json()) == (200, {"client": {"ok": True, "message": "ok"}})
    refused = await client.get("/v1/agent/health?type=server")
    assert (refused.status, await refused.text()) == (400, "server not enabled on this agent")
