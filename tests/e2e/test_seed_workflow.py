"""The seed's README, steps 1-5, as a newcomer types them (raw_exec variant: no Docker)."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from typing import Any

from tests.e2e.conftest import Checkout
from tests.support.process import wait_for

AGENTS = {"consul", "nomad-1-server", "nomad-1-client", "fabio"}


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get_json(url: str) -> Any:
    status, body = get(url)
    assert status == 200, (url, status, body[:300])
    return json.loads(body)


def eventually(cond: Any, what: str, timeout: float = 30.0) -> Any:
    return wait_for(cond, timeout, what)


def passing(service: str) -> list[dict[str, Any]]:
    entries = get_json(f"http://127.0.0.1:8500/v1/health/service/{service}?passing=1")
    return list(entries)


def yurt(checkout: Checkout, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(checkout.venv / "bin" / "yurt"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**checkout.env, "NOMAD_ADDR": "http://127.0.0.1:4646"},
        timeout=60,
    )


def yurt_pids() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "yurt up"], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def test_make_up_runs_the_nginx_job_through_the_router_and_stops_clean(
    checkout: Checkout,
) -> None:
    # 1. make up: four agents, each registered and passing in the catalog
    out = checkout.make("up")
    assert "yurt is ready" in out
    services = get_json("http://127.0.0.1:8500/v1/catalog/services")
    assert set(services) >= AGENTS, services
    for name in AGENTS - {"consul"}:
        assert passing(name), f"{name} is not passing"
    assert get("http://127.0.0.1:4646/v1/agent/health")[0] == 200
    nodes = checkout.make("node-status")
    assert "ready" in nodes and "eligible" in nodes

    # 2. make job-run: without a Docker engine, the seed's docker job is refused with a hint
    refused = checkout.make("job-run", check=False)
    assert 'No ready client node has a healthy "docker" driver' in refused, refused
    assert "make job-run JOB_POSTFIX=nginx-raw" in refused
    # the raw_exec variant is placed, nginx runs, registers and is routed
    checkout.make("job-validate", "JOB_POSTFIX=nginx-raw")
    run = checkout.make("job-run", "JOB_POSTFIX=nginx-raw", timeout=120)
    assert 'finished with status "complete"' in run, run
    eventually(lambda: passing("service-nginx"), "service-nginx to pass")
    _status, body = eventually(
        lambda: (r := get("http://127.0.0.1:9999/"))[0] == 200 and r, "a 200 through :9999"
    )
    assert b"nginx" in body.lower() or b"yurt" in body.lower()

    # 3. the seed's job targets
    listing = checkout.make("job-status", "JOB_POSTFIX=nginx-raw")
    assert "job-nginx-raw" in listing and "running" in listing
    allocs = checkout.make("job-allocs", "JOB_POSTFIX=nginx-raw")
    assert "running" in allocs
    alloc_id = checkout.make("job-last-alloc-id", "JOB_POSTFIX=nginx-raw").strip()
    assert len(alloc_id) == 8 and alloc_id in allocs
    alloc = checkout.make("job-last-alloc-status", "JOB_POSTFIX=nginx-raw")
    assert "Client Status       = running" in alloc
    logs = yurt(checkout, "alloc", "logs", alloc_id)
    assert "GET / HTTP/1.1" in logs.stdout  # nginx's access log: the check and our curl
    inside = yurt(checkout, "alloc", "exec", alloc_id, "/bin/sh", "-c", "cat local/www/index.html")
    assert "Welcome to yurt" in inside.stdout and alloc_id in inside.stdout
    piped = yurt(
        checkout, "alloc", "exec", alloc_id, "/bin/sh", "-c", "read x; exit $x", stdin="7\n"
    )
    assert piped.returncode == 7

    # 4. job-stop: the service leaves the catalog and the route goes with it
    checkout.make("job-stop", "JOB_POSTFIX=nginx-raw")
    eventually(lambda: get("http://127.0.0.1:9999/")[0] == 404, "404 on :9999 after stop")
    eventually(lambda: not passing("service-nginx"), "service-nginx to leave")

    # 5. make stop: nothing left behind
    before = yurt_pids()
    assert before
    checkout.make("stop")
    eventually(lambda: not (yurt_pids() & before), "yurt up to exit")
    leftover = subprocess.run(
        ["pgrep", "-f", str(checkout.path)], capture_output=True, text=True
    ).stdout
    assert not leftover.strip(), f"processes left behind: {leftover}"


def test_the_seeds_docker_job_runs_on_podman(checkout: Checkout) -> None:
    """The seed's own job.nginx.nomad (docker driver, nginx:alpine, static port 80), with
    Podman's Docker-compatible service as the engine and the image built locally."""
    out = checkout.make("podman", timeout=600)
    docker_host = out.strip().splitlines()[-1].split("DOCKER_HOST=", 1)[1]
    with_docker = Checkout(checkout.path, {**checkout.env, "DOCKER_HOST": docker_host})
    try:
        with_docker.make("up")
        run = with_docker.make("job-run", timeout=180)  # JOB_POSTFIX=nginx, as in the seed
        assert 'Deployment "' in run and "successful" in run, run
        _status, body = eventually(
            lambda: (r := get("http://127.0.0.1:9999/"))[0] == 200 and r, "nginx through :9999"
        )
        assert b"Welcome to nginx!" in body
        alloc_id = with_docker.make("job-last-alloc-id").strip()
        status = with_docker.make("job-last-alloc-status")
        assert alloc_id in status and "Client Status       = running" in status
        with_docker.make("job-stop")
        eventually(lambda: get("http://127.0.0.1:9999/")[0] == 404, "404 after job-stop")
    finally:
        with_docker.make("stop", check=False)
    containers = subprocess.run(
        ["podman", "ps", "-a", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        env={
            **checkout.env,
            "CONTAINERS_CONF": str(checkout.path / "scripts/podman/containers.conf"),
        },
    ).stdout
    assert alloc_id not in containers, f"containers left behind: {containers}"
