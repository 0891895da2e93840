"""The seed's jobs and the demo jobs in jobs/ parse into the expected JSON documents."""

from __future__ import annotations

import pytest

from tests.jobspec.conftest import EXPECTED, JOBS, load_json
from yurt.jobspec import canonicalize, parse_job, validate

DEMO_JOBS = sorted(p.name for p in JOBS.glob("*.nomad"))


def _stem(name: str) -> str:
    return name.removesuffix(".nomad")


@pytest.mark.parametrize("name", DEMO_JOBS)
def test_demo_job_parses_to_expected_output(name: str) -> None:
    path = JOBS / name
    job = parse_job(path.read_text(), str(path))
    assert job == load_json(EXPECTED / f"{_stem(name)}.output.json")


@pytest.mark.parametrize("name", DEMO_JOBS)
def test_demo_job_canonical_form_is_expected_and_valid(name: str) -> None:
    path = JOBS / name
    full = canonicalize(parse_job(path.read_text(), str(path)))
    assert full == load_json(EXPECTED / f"{_stem(name)}.canonical.json")
    assert canonicalize(full) == full
    result = validate(full)
    assert result.errors == []


def test_seed_files_are_the_seed_projects() -> None:
    nginx = (JOBS / "job.nginx.nomad").read_text()
    assert 'job "job-nginx"' in nginx and "static = 80" in nginx
    redis = (JOBS / "job.redis.nomad").read_text()
    assert 'job "job-redis"' in redis and 'image = "redis:7"' in redis


def test_nginx_job_fields() -> None:
    job = parse_job((JOBS / "job.nginx.nomad").read_text(), "job.nginx.nomad")
    group = job["TaskGroups"][0]
    assert group["Networks"][0]["ReservedPorts"] == [
        {"Label": "http", "Value": 80, "To": 0, "HostNetwork": ""}
    ]
    assert group["Networks"][0]["DynamicPorts"] is None
    service = group["Services"][0]
    assert service["Tags"] == ["nginx-tag", "urlprefix-/"]
    assert service["Checks"][0]["Interval"] == 10_000_000_000
    assert service["Checks"][0]["Timeout"] == 2_000_000_000
    task = group["Tasks"][0]
    assert task["Config"] == {"image": "nginx:alpine", "ports": ["http"]}
    assert task["Resources"]["CPU"] == 500 and task["Resources"]["MemoryMB"] == 128
