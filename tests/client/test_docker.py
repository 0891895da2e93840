"""The docker driver against Podman's Docker-compatible service, with images built locally
(no registry is reachable here): the seed's redis job unchanged, and the seed's nginx job
with a dynamic port mapped to 80 (static 80 may be taken on a shared test machine) and a
1s check interval."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.client.conftest import Cluster, events, running_cluster, wait_for

ROOT = Path(__file__).resolve().parents[2]

SEED_REDIS = """
job "job-redis" {
  datacenters = ["dc1"]
  group "cache" {
    network {
      port "db" {
        to = 6379
      }
    }
    task "redis" {
      driver = "docker"
      config {
        image = "redis:7"
        ports = ["db"]
      }
      resources {
        cpu    = 500 # 500 MHz
        memory = 256 # 256MB
      }
      service {
        name = "weave-redis"
        port = "db"
        address = "host.docker.internal"
        check {
          name     = "host-redis-check"
          type     = "tcp"
          port     = "db"
          interval = "10s"
          timeout  = "2s"
        }
      }
    }
  }
}
"""

NGINX = """
job "job-nginx" {
  region = "global"
  datacenters = ["dc1"]
  type = "service"
  group "group-webs" {
    count = 1
    network {
      port "http" {
        to = 80
      }
    }
    service {
      name = "service-nginx"
      tags = ["nginx-tag", "urlprefix-/"]
      address = "host.docker.internal"
      port = "http"
      check {
        type = "tcp"
        name = "service group-webs-nginx check"
        path = "/"
        interval = "1s"
        timeout = "2s"
      }
    }
    task "task-docker-nginx" {
      driver = "docker"
      config {
        image = "nginx:alpine"
        ports = ["http"]
        labels = { team = "web" }
        extra_hosts = ["example.internal:10.1.2.3"]
      }
      resources {
        cpu    = 500 # MHz
        memory = 128 # MB
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    run_dir = tmp_path_factory.mktemp("podman")
    env = {**os.environ, "CONTAINERS_CONF": str(ROOT / "scripts/podman/containers.conf")}
    out = subprocess.run(
        ["bash", str(ROOT / "scripts/podman-service.sh"), str(run_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    endpoint = out.stdout.strip().splitlines()[-1]
    built = subprocess.run(
        ["bash", str(ROOT / "scripts/build-images.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    try:
        yield endpoint
    finally:
        pid_file = run_dir / "podman.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def dcluster(tmp_path_factory: pytest.TempPathFactory, podman: str) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("dcluster"), "-docker-endpoint", podman) as c:
        yield c


def test_docker_driver_fingerprinted(dcluster: Cluster) -> None:
    node_id = wait_for(lambda: dcluster.api.nodes.get_nodes())[0]["ID"]
    node = dcluster.api.node.get_node(node_id)
    assert node["Drivers"]["docker"]["Healthy"] is True
    assert node["Attributes"]["driver.docker"] == "1"
    assert node["Attributes"]["driver.docker.version"]


def test_seed_redis_job(dcluster: Cluster, podman: str) -> None:
    dcluster.run(SEED_REDIS)
    alloc = dcluster.wait_alloc("job-redis", "running", timeout=60)
    port = alloc["AllocatedResources"]["Shared"]["Ports"][0]
    assert port["To"] == 6379
    api = docker.APIClient(base_url=podman)
    info = api.inspect_container(f"redis-{alloc['ID']}")
    assert info["State"]["Running"]
    assert info["Config"]["Labels"]["com.hashicorp.nomad.alloc_id"] == alloc["ID"]
    env = dict(e.split("=", 1) for e in info["Config"]["Env"])
    assert env["NOMAD_PORT_db"] == "6379"
    assert env["NOMAD_HOST_PORT_db"] == str(port["Value"])
    assert env["NOMAD_TASK_DIR"] == "/local"
    # resources { cpu = 500, memory = 256 }: a 256 MB limit and a 500 CPU share, as Nomad sets
    assert info["HostConfig"]["Memory"] == 256 * 1024 * 1024
    assert info["HostConfig"]["CpuShares"] == 500

    def pong() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port["Value"]), timeout=2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64) == b"+PONG\r\n"
        except OSError:
            return False

    wait_for(pong, 30, "redis answering on its published port")
    svc = wait_for(lambda: dcluster.passing("weave-redis"), 30, "weave-redis passing")[0]
    assert svc["Service"]["Port"] == port["Value"]
    assert svc["Service"]["ID"] == f"_nomad-task-{alloc['ID']}-redis-weave-redis-db"
    logs = dcluster.get(
        f"/v1/client/fs/logs/{alloc['ID']}",
        params={"task": "redis", "type": "stdout", "plain": "1"},
    ).text
    assert "Ready to accept connections" in logs
    dcluster.stop_job("job-redis")
    done = dcluster.wait_alloc("job-redis", "complete", timeout=30)
    assert events(done, "redis")[-1] == "Killed"
    wait_for(lambda: not api.containers(all=True, filters={"name": f"redis-{alloc['ID']}"}))
    wait_for(lambda: not dcluster.consul.catalog.service("weave-redis")[1])


def test_nginx_alpine_serves_http(dcluster: Cluster, podman: str) -> None:
    dcluster.run(NGINX)
    alloc = dcluster.wait_alloc("job-nginx", "running", timeout=60)
    port = alloc["AllocatedResources"]["Shared"]["Ports"][0]["Value"]
    api = docker.APIClient(base_url=podman)
    info = api.inspect_container(f"task-docker-nginx-{alloc['ID']}")
    assert info["Config"]["Labels"]["team"] == "web"

    def page() -> bytes:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                return s.recv(4096)
        except OSError:
            return b""

    assert b"Welcome to nginx!" in wait_for(page, 30, "nginx serving")
    hosts = api.exec_start(api.exec_create(info["Id"], ["cat", "/etc/hosts"]))
    assert b"example.internal" in hosts
    wait_for(lambda: dcluster.passing("service-nginx"), 30, "service-nginx passing")
    dcluster.stop_job("job-nginx")
    dcluster.wait_alloc("job-nginx", "complete", timeout=30)


def test_killed_client_reattaches_to_its_container(dcluster: Cluster, podman: str) -> None:
    dcluster.run(
        """
job "boxed" {
  datacenters = ["dc1"]
  group "g" {
    task "box" {
      driver = "docker"
      kill_timeout = "1s"
      config {
        image   = "localhost/yurt-busybox:latest"
        command = "/bin/sh"
        args    = ["-c", "while true; do echo tick; sleep 0.2; done"]
      }
    }
  }
}
"""
    )
    alloc = dcluster.wait_alloc("boxed", "running", timeout=60)
    api = docker.APIClient(base_url=podman)
    name = f"box-{alloc['ID']}"
    container_id = api.inspect_container(name)["Id"]
    dcluster.client.proc.kill()
    dcluster.client.start()
    logs = f"/v1/client/fs/logs/{alloc['ID']}"

    def ticks() -> int:
        resp = dcluster.get(logs, params={"task": "box", "type": "stdout", "plain": "1"})
        return resp.text.count("tick") if resp.ok else 0

    before = wait_for(ticks, what="logs after the restart")
    wait_for(lambda: ticks() > before + 2, what="logs still streaming after re-attach")
    assert api.inspect_container(name)["Id"] == container_id
    again = dcluster.alloc(alloc["ID"])
    assert events(again, "box").count("Started") == 1
    dcluster.stop_job("boxed")
    dcluster.wait_alloc("boxed", "complete", timeout=30)
    wait_for(lambda: not api.containers(all=True, filters={"name": name}))


# The container options beyond the basics (mounts, ulimits, sysctls, shm, pids, init), as
# the engine sees them; and an option given wrong failing the task with its name.

OPTIONS_JOB = """
job "opts" {
  datacenters = ["dc1"]
  group "g" {
    task "web" {
      driver = "docker"
      config {
        image      = "nginx:alpine"
        shm_size   = 67108864
        pids_limit = 64
        init       = true
        # Podman replaces its configured default ulimits with the ones given: nproc is given
        # too, or Podman's own default would exceed this host's hard limit.
        ulimit {
          nofile = "2048:4096"
          nproc  = "1024:1024"
        }
        sysctl = {
          "net.core.somaxconn" = "512"
        }
        mount {
          type     = "bind"
          source   = "local"
          target   = "/srv/local"
          readonly = true
        }
        mount {
          type   = "tmpfs"
          target = "/scratch"
          tmpfs_options {
            size = 1048576
          }
        }
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"""


def test_container_options_reach_the_engine(dcluster: Cluster, podman: str) -> None:
    dcluster.run(OPTIONS_JOB)
    alloc = dcluster.wait_alloc("opts", "running", timeout=60)
    api = docker.APIClient(base_url=podman)
    info = api.inspect_container(f"web-{alloc['ID']}")
    hc = info["HostConfig"]
    # Docker says "nofile", Podman "RLIMIT_NOFILE".
    limits = {
        u["Name"].lower().removeprefix("rlimit_"): (u["Soft"], u["Hard"]) for u in hc["Ulimits"]
    }
    assert limits["nofile"] == (2048, 4096)
    assert hc["ShmSize"] == 67108864
    assert hc["PidsLimit"] == 64
    assert hc["Init"] is True
    mounts = {m["Destination"]: m for m in info["Mounts"]}
    assert mounts["/srv/local"]["RW"] is False
    assert mounts["/srv/local"]["Source"].endswith(f"/{alloc['ID']}/web/local")
    # Inside: the container's processes run under them (an exec session gets its own).
    script = "grep 'open files' /proc/1/limits; cat /proc/sys/net/core/somaxconn"
    out = api.exec_start(api.exec_create(info["Id"], ["sh", "-c", script])).decode().split()
    assert out[-4:] == ["2048", "4096", "files", "512"]
    dcluster.stop_job("opts")
    dcluster.wait_alloc("opts", "complete", timeout=30)


def test_a_wrong_option_fails_the_task_naming_it(dcluster: Cluster) -> None:
    dcluster.run(
        OPTIONS_JOB.replace('job "opts"', 'job "badopts"').replace('"2048:4096"', '"lots"')
    )
    alloc = dcluster.wait_alloc("badopts", "failed", timeout=60)
    assert "Driver Failure" in events(alloc, "web")
    failure = next(e for e in alloc["TaskStates"]["web"]["Events"] if e["Type"] == "Driver Failure")
    assert 'ulimit nofile: expected "soft:hard" or one number' in failure["DriverError"]
    dcluster.stop_job("badopts")
