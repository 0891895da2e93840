"""A task starts exactly once, even when the client dies (kill -9) between spawning it and
persisting what it spawned: the restarted client adopts the marked process instead of
starting a second one, and kills marked processes of allocations nobody has."""

from __future__ import annotations

import json
from pathlib import Path

from tests.client.conftest import Cluster, pid_alive, wait_for

JOB = """
job "once" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo started >> %(starts)s; echo $$ > local/pid; exec /bin/sleep 1000"]
      }
    }
  }
}
"""


def _state_file(cluster: Cluster, alloc_id: str) -> Path:
    return cluster.client.data_dir / "client" / "allocs" / f"{alloc_id}.json"


def _started(cluster: Cluster, tmp: Path, job: str) -> tuple[dict[str, object], int, Path]:
    starts = tmp / f"{job}.starts"
    cluster.run(JOB.replace('"once"', f'"{job}"') % {"starts": starts})
    alloc = cluster.wait_alloc(job, "running")
    pid_file = cluster.client.data_dir / "alloc" / str(alloc["ID"]) / "t" / "local" / "pid"
    pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text().strip()))
    return alloc, pid, starts


def test_a_task_spawned_but_not_persisted_is_adopted(cluster: Cluster, tmp_path: Path) -> None:
    alloc, pid, starts = _started(cluster, tmp_path, "once")
    cluster.client.proc.kill()
    # What a kill -9 right after the spawn leaves: the task runs, the state does not know it.
    path = _state_file(cluster, str(alloc["ID"]))
    state = json.loads(path.read_text())
    state["Tasks"]["t"]["Handle"] = None
    state["Tasks"]["t"]["State"]["State"] = "pending"
    path.write_text(json.dumps(state))
    cluster.client.start()
    wait_for(
        lambda: cluster.alloc(str(alloc["ID"]))["TaskStates"]["t"]["State"] == "running",
        what="the task running again under the new client",
    )
    assert pid_alive(pid)
    assert starts.read_text().splitlines() == ["started"]
    cluster.stop_job("once")
    cluster.wait_alloc("once", "complete")
    wait_for(lambda: not pid_alive(pid), what="the adopted task stopped with its job")


def test_a_task_whose_allocation_is_unknown_is_adopted_from_the_servers_list(
    cluster: Cluster, tmp_path: Path
) -> None:
    alloc, pid, starts = _started(cluster, tmp_path, "once2")
    cluster.client.proc.kill()
    # A kill -9 before the allocation itself was persisted: the server still has it.
    _state_file(cluster, str(alloc["ID"])).unlink()
    cluster.client.start()
    wait_for(
        lambda: cluster.alloc(str(alloc["ID"]))["TaskStates"]["t"]["State"] == "running",
        what="the allocation running again",
    )
    assert pid_alive(pid)
    assert starts.read_text().splitlines() == ["started"]
    cluster.stop_job("once2")
    cluster.wait_alloc("once2", "complete")
    wait_for(lambda: not pid_alive(pid), what="the adopted task stopped with its job")


def test_an_orphan_of_an_allocation_nobody_has_is_killed(cluster: Cluster, tmp_path: Path) -> None:
    alloc, pid, _ = _started(cluster, tmp_path, "orphan")
    cluster.client.proc.kill()
    _state_file(cluster, str(alloc["ID"])).unlink()
    # Purged while the client was down: neither the client nor the server has it any more.
    cluster.api.job.deregister_job("orphan", purge=True)
    cluster.client.start()
    wait_for(lambda: not pid_alive(pid), what="the orphaned task killed")
    assert "killed orphaned task process" in cluster.client.log()
