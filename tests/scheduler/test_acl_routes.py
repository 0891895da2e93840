"""Every route of the scheduler's application, with ACLs on: without a token it is refused
unless it is on the list of what Nomad leaves open; with a management token it is never
refused. A route added without an entry in the enforcement table fails here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from yurt.scheduler import SchedulerConfig, SchedulerServer
from yurt.scheduler.acl_enforce import (
    OPEN,
    ROUTES,
    client_tail_need,
    job_tail_need,
    lookup_need,
)

SAMPLE = {
    "id": "0b5c1d2e-0000-4000-8000-000000000000",
    "name": "some-policy",
    "accessor": "0b5c1d2e-0000-4000-8000-000000000001",
    "page": "jobs",
    "path": "app/config",
}


def _sample_paths(pattern: str) -> list[str]:
    if pattern.startswith("/v1/job/{id}"):
        # a child job's ID holds "/"
        return [pattern.replace("{id}", job) for job in ("web", "web/periodic-1")]
    if pattern == "/v1/client/{tail}":
        return [
            "/v1/client/stats",
            f"/v1/client/fs/logs/{SAMPLE['id']}",
            f"/v1/client/allocation/{SAMPLE['id']}/exec",
            "/v1/client/unknown/thing",
        ]
    if pattern.startswith("/ui/assets/"):
        return [pattern + "/yurt.js"]
    if "{page" in pattern:
        return ["/ui/jobs"]
    path = pattern
    for key, value in SAMPLE.items():
        path = path.replace("{" + key + "}", value)
    assert "{" not in path, f"no sample value for {pattern}"
    return [path]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[SchedulerServer]:
    srv = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path, acl_enabled=True))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def _routes(srv: SchedulerServer) -> list[tuple[str, str]]:
    assert srv.app is not None
    out = []
    for route in srv.app.router.routes():
        resource = route.resource
        assert resource is not None
        methods = ["GET", "POST", "DELETE"] if route.method == "*" else [route.method]
        for method in methods:
            if method != "HEAD":
                out.append((method, resource.canonical))
    return sorted(set(out))


async def test_every_route_is_in_the_table_or_open(server: SchedulerServer) -> None:
    routes = _routes(server)
    assert len(routes) > 60
    for method, pattern in routes:
        key_in_table = any(k in ROUTES or k in OPEN for k in ((method, pattern), ("*", pattern)))
        ui = lookup_need(method, pattern).kind == "open" and (
            pattern.startswith(("/ui/assets/", "/ui/{page")) or pattern in ("/", "/ui", "/ui/")
        )
        assert key_in_table or ui, f"{method} {pattern} has no entry in the ACL table"
    # and the table names no route that does not exist (a stale entry hides a rename)
    existing = set(routes) | {("*", p) for _, p in routes}
    for key in [*ROUTES, *OPEN]:
        assert key in existing, f"table entry {key} names no route"


async def _body(resp: aiohttp.ClientResponse, path: str) -> str:
    """The answer's text; of the event stream, which never ends, its first line."""
    if path == "/v1/event/stream" and resp.status == 200:
        return (await resp.content.readline()).decode()
    return await resp.text()


@pytest.mark.process  # /v1/jobs/parse and /v1/validate/job fork an isolated job-file reader
async def test_without_a_token_only_open_routes_answer(server: SchedulerServer) -> None:
    secret = server.acl.bootstrap()["SecretID"]
    base = server.address
    refused, answered = 0, 0
    async with aiohttp.ClientSession() as http:
        for method, pattern in _routes(server):
            need = lookup_need(method, pattern)
            for path in _sample_paths(pattern):
                async with http.request(method, base + path, allow_redirects=False) as resp:
                    text = await _body(resp, path)
                    if need.kind in ("open", "self", "internal"):
                        if (method, pattern) in OPEN and OPEN[(method, pattern)].kind == "open":
                            assert resp.status != 403, (method, path, text)
                        answered += 1
                    else:
                        assert (resp.status, text) == (403, "Permission denied"), (method, path)
                        refused += 1
                async with http.request(
                    method,
                    base + path,
                    headers={"X-Nomad-Token": secret},
                    allow_redirects=False,
                ) as resp:
                    text = await _body(resp, path)
                    assert resp.status != 403, (method, path, text)
    assert refused > 50 and answered > 10


async def test_an_unknown_secret_is_not_found_and_bearer_works(server: SchedulerServer) -> None:
    secret = server.acl.bootstrap()["SecretID"]
    async with aiohttp.ClientSession() as http:
        bogus = {"X-Nomad-Token": "00000000-0000-0000-0000-000000000000"}
        async with http.get(server.address + "/v1/jobs", headers=bogus) as resp:
            assert (resp.status, await resp.text()) == (403, "ACL token not found")
        bearer = {"Authorization": f"Bearer {secret}"}
        async with http.get(server.address + "/v1/jobs", headers=bearer) as resp:
            assert resp.status == 200
        # open routes do not look at the token at all, as Nomad's status endpoints
        async with http.get(server.address + "/v1/status/leader", headers=bogus) as resp:
            assert resp.status == 200


async def test_acl_disabled_answers_as_nomad(tmp_path: Path) -> None:
    srv = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path))
    await srv.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(srv.address + "/v1/acl/bootstrap") as resp:
                assert (resp.status, await resp.text()) == (400, "ACL support disabled")
            async with http.get(srv.address + "/v1/acl/policies") as resp:
                assert (resp.status, await resp.text()) == (400, "ACL support disabled")
            bogus = {"X-Nomad-Token": "00000000-0000-0000-0000-000000000000"}
            async with http.get(srv.address + "/v1/jobs", headers=bogus) as resp:
                assert resp.status == 200
    finally:
        await srv.stop()


@pytest.mark.parametrize(
    ("method", "suffix", "caps"),
    [
        ("GET", "", ("read-job",)),
        ("GET", "versions", ("read-job",)),
        ("GET", "submission", ("read-job",)),
        ("GET", "scale", ("read-job-scaling", "read-job")),
        ("POST", "scale", ("scale-job", "submit-job")),
        ("PUT", "", ("submit-job",)),
        ("DELETE", "", ("submit-job",)),
        ("POST", "plan", ("submit-job",)),
        ("POST", "evaluate", ("submit-job",)),
        ("POST", "revert", ("submit-job",)),
        ("POST", "stable", ("submit-job",)),
        ("POST", "dispatch", ("dispatch-job",)),
        ("POST", "periodic/force", ("dispatch-job", "submit-job")),
    ],
)
def test_job_paths_need_nomads_capabilities(
    method: str, suffix: str, caps: tuple[str, ...]
) -> None:
    need = job_tail_need(method, suffix)
    assert need.kind == "ns" and need.caps == caps


@pytest.mark.parametrize(
    ("tail", "kind", "caps", "alloc"),
    [
        ("stats", "node", (), ""),
        ("fs/logs/a1", "ns", ("read-logs", "read-fs"), "a1"),
        ("fs/cat/a1", "ns", ("read-fs",), "a1"),
        ("fs/readat/a1", "ns", ("read-fs",), "a1"),
        ("fs/ls/a1", "ns", ("read-fs",), "a1"),
        ("fs/stat/a1", "ns", ("read-fs",), "a1"),
        ("fs/stream/a1", "ns", ("read-fs",), "a1"),
        ("allocation/a1/stats", "ns", ("read-job",), "a1"),
        ("allocation/a1/restart", "ns", ("alloc-lifecycle",), "a1"),
        ("allocation/a1/signal", "ns", ("alloc-lifecycle",), "a1"),
        ("allocation/a1/exec", "ns", ("alloc-exec",), "a1"),
        # Nomad's ClientAllocations.GarbageCollect: submit-job; GarbageCollectAll: node:write
        ("allocation/a1/gc", "ns", ("submit-job",), "a1"),
        ("gc", "node", (), ""),
    ],
)
def test_client_paths_need_nomads_capabilities(
    tail: str, kind: str, caps: tuple[str, ...], alloc: str
) -> None:
    need, alloc_id = client_tail_need(tail)
    assert (need.kind, need.caps, alloc_id) == (kind, caps, alloc)
    assert need.exec_task is tail.endswith("/exec")


async def test_a_method_a_job_path_does_not_take_is_405_before_any_acl_check(
    server: SchedulerServer,
) -> None:
    # nomad 1.1.2 with ACLs on: "Invalid method" (405) without a token; the job is 403
    async with aiohttp.ClientSession() as http:
        for method, path in (
            ("DELETE", "/v1/job/web/allocations"),
            ("GET", "/v1/job/web/plan"),
            ("PATCH", "/v1/job/web"),
            ("DELETE", "/v1/job/web/periodic/force"),
        ):
            async with http.request(method, server.address + path) as resp:
                assert (resp.status, await resp.text()) == (
                    405,
                    f"Invalid method {method} for {path}",
                )
        async with http.get(server.address + "/v1/job/web") as resp:
            assert (resp.status, await resp.text()) == (403, "Permission denied")
