"""The scheduler's route tables, served in-process (no process, no worker): job IDs that
hold "/" reach the job (raw or escaped), each `/v1/job/<id>/<what>` reaches its handler,
another method is Nomad's 405, and the operations' refusals come out as Nomad's statuses
and texts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.scheduler import jobs as J
from yurt.scheduler import SchedulerConfig, SchedulerServer
from yurt.scheduler.api_common import status_of
from yurt.scheduler.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    SchedulerError,
)
from yurt.scheduler.http_api import build_app, route_tables

Obj = dict[str, Any]
CHILD = "batch/periodic-1700000000"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    server = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path))
    server.ops.register_job(J.job("web"))
    server.ops.register_job(J.job(CHILD, job_type="batch", ParentID="batch"))
    # a job whose ID ends in an action's name: reachable escaped only
    server.ops.register_job(J.job("x/plan"))
    async with TestClient(TestServer(build_app(server))) as http:
        yield http
    server.store.close()


@pytest.mark.parametrize(
    ("path", "job_id"),
    [
        ("/v1/job/web", "web"),
        (f"/v1/job/{CHILD}", CHILD),
        ("/v1/job/batch%2Fperiodic-1700000000", CHILD),
        ("/v1/job/x%2Fplan", "x/plan"),
    ],
)
async def test_a_job_by_its_id(client: TestClient[Any, Any], path: str, job_id: str) -> None:
    resp = await client.get(path)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["ID"] == job_id
    assert int(resp.headers["X-Nomad-Index"]) >= 1


@pytest.mark.parametrize(
    ("path", "check"),
    [
        (f"/v1/job/{CHILD}/summary", lambda body: body["JobID"] == CHILD),
        ("/v1/job/batch%2Fperiodic-1700000000/summary", lambda body: body["JobID"] == CHILD),
        (f"/v1/job/{CHILD}/versions", lambda body: body["Versions"][0]["ID"] == CHILD),
        (f"/v1/job/{CHILD}/allocations", lambda body: body == []),
        (f"/v1/job/{CHILD}/evaluations", lambda body: [e["JobID"] for e in body] == [CHILD]),
        ("/v1/job/web/deployment", lambda body: body is None),
        ("/v1/job/web/deployments", lambda body: body == []),
        ("/v1/job/web/scale", lambda body: body["TaskGroups"]["web"]["Desired"] == 1),
    ],
)
async def test_what_a_job_path_asks(client: TestClient[Any, Any], path: str, check: Any) -> None:
    resp = await client.get(path)
    assert resp.status == 200, await resp.text()
    assert check(await resp.json())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/v1/job/web/allocations"),
        ("GET", "/v1/job/web/plan"),
        ("GET", "/v1/job/web/evaluate"),
        ("DELETE", "/v1/job/web/periodic/force"),
        ("PATCH", "/v1/job/web"),
        ("PATCH", f"/v1/job/{CHILD}/summary"),
    ],
)
async def test_another_method_is_nomads_405(
    client: TestClient[Any, Any], method: str, path: str
) -> None:
    resp = await client.request(method, path)
    assert (resp.status, await resp.text()) == (405, f"Invalid method {method} for {path}")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "text"),
    [
        ("GET", "/v1/job/nope", None, 404, "job not found"),
        (
            "PUT",
            "/v1/jobs",
            {"Job": J.job("web", Priority=60), "EnforceIndex": True, "JobModifyIndex": 0},
            409,
            "Enforcing job modify index 0: job already exists",
        ),
        (
            "POST",
            "/v1/job/web/scale",
            {"Target": {"Group": "db"}, "Count": 2},
            400,
            'task group "db" specified for scaling does not exist in job',
        ),
        (
            "POST",
            "/v1/job/web/dispatch",
            {},
            400,
            'Specified job "web" is not a parameterized job',
        ),
        ("PUT", "/v1/job/web/stable", {"JobVersion": 4, "Stable": True}, 404, "job not found"),
        ("PUT", "/v1/job/web", {"Job": J.job("other")}, 400, "Job ID does not match name"),
    ],
)
async def test_refusals_are_nomads_statuses(
    client: TestClient[Any, Any], method: str, path: str, body: Obj | None, status: int, text: str
) -> None:
    resp = await client.request(method, path, json=body)
    assert (resp.status, await resp.text()) == (status, text)


async def test_a_write_to_a_child_job_reaches_it(client: TestClient[Any, Any]) -> None:
    resp = await client.post(f"/v1/job/{CHILD}/evaluate", json={})
    assert resp.status == 200, await resp.text()
    result = await resp.json()
    evals = await (await client.get(f"/v1/job/{CHILD}/evaluations")).json()
    assert result["EvalID"] in [e["ID"] for e in evals]
    resp = await client.delete(f"/v1/job/{CHILD}", params={"purge": "true"})
    assert resp.status == 200, await resp.text()
    assert (await client.get(f"/v1/job/{CHILD}")).status == 404


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidRequest("x"), 400),
        (PermissionDenied("x"), 403),
        (NotFound("x"), 404),
        (Conflict("x"), 409),
        (SchedulerError("x"), 500),
    ],
)
def test_status_of_a_domain_error(error: SchedulerError, status: int) -> None:
    assert status_of(error) == status


def test_no_route_is_declared_twice() -> None:
    declared = [(method, r.path) for r in route_tables() for method in r.methods]
    assert len(declared) == len(set(declared)) > 60
