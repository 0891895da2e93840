"""`yurt alloc restart|signal|fs` against a real scheduler and client, as `nomad alloc ...`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.conftest import Cluster, events, running_cluster, wait_for

JOB = """
job "cli-alloc" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      template {
        data        = "greeting=hello\\n"
        destination = "local/app.conf"
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "trap 'echo got-usr1' USR1; echo started; while true; do sleep 0.1; done"]
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("cli-alloc")) as c:
        yield c


def yurt(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOMAD_ADDR": cluster.sched.url}
    return subprocess.run(
        [sys.executable, "-m", "yurt", "alloc", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def alloc_id(cluster: Cluster) -> str:
    cluster.run(JOB)
    return str(cluster.wait_alloc("cli-alloc", "running")["ID"])


def _stdout(cluster: Cluster, alloc_id: str) -> str:
    return cluster.get(
        f"/v1/client/fs/logs/{alloc_id}", params={"task": "t", "type": "stdout", "plain": "1"}
    ).text


def test_fs_lists_directories_and_prints_files(cluster: Cluster, alloc_id: str) -> None:
    root = yurt(cluster, "fs", alloc_id[:8])
    assert root.returncode == 0, root.stderr
    lines = root.stdout.splitlines()
    assert lines[0].split() == ["Mode", "Size", "Modified", "Time", "Name"]
    assert {line.split()[-1] for line in lines[1:]} >= {"alloc/", "t/"}
    listing = yurt(cluster, "fs", alloc_id, "t/local")
    assert any(line.endswith(" app.conf") for line in listing.stdout.splitlines())
    assert yurt(cluster, "fs", alloc_id, "t/local/app.conf").stdout == "greeting=hello\n"
    stat = yurt(cluster, "fs", "-stat", alloc_id, "t/local/app.conf")
    assert stat.returncode == 0, stat.stderr
    assert stat.stdout.splitlines()[1].split()[-1] == "app.conf", stat.stdout
    missing = yurt(cluster, "fs", alloc_id, "t/nope")
    assert missing.returncode == 1 and missing.stderr.startswith("Error: ")


def test_signal_reaches_the_task(cluster: Cluster, alloc_id: str) -> None:
    wait_for(lambda: "started" in _stdout(cluster, alloc_id), what="the task started")
    done = yurt(cluster, "signal", "-s", "SIGUSR1", alloc_id, "t")
    assert done.returncode == 0, done.stderr
    wait_for(lambda: "got-usr1" in _stdout(cluster, alloc_id), what="the trap")
    wait_for(lambda: "Signaling" in events(cluster.alloc(alloc_id), "t"), what="the event")
    bad = yurt(cluster, "signal", "-task", "nosuch", alloc_id)
    assert bad.returncode == 1 and "unknown task name" in bad.stderr


def test_restart_restarts_the_task_in_place(cluster: Cluster, alloc_id: str) -> None:
    done = yurt(cluster, "restart", alloc_id)
    assert done.returncode == 0, done.stderr
    wait_for(
        lambda: events(cluster.alloc(alloc_id), "t").count("Started") == 2,
        what="the task started again",
    )
    assert cluster.alloc(alloc_id)["ClientStatus"] == "running"
    both = yurt(cluster, "restart", "-all-tasks", alloc_id, "t")
    assert both.returncode == 1 and "-all-tasks" in both.stderr


def test_unknown_allocation_is_an_error(cluster: Cluster, tmp_path: Path) -> None:
    out = yurt(cluster, "fs", "ffffffff")
    assert out.returncode == 1
    assert 'No allocation(s) with prefix or id "ffffffff" found' in out.stderr
