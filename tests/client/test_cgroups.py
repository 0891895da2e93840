"""exec tasks run under the memory and CPU limits of their cgroup, on this host's real cgroup
hierarchy; an OOM kill is reported as Nomad reports it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.client.conftest import Cluster, wait_for
from yurt.client.cgroups import ROOT, TaskCgroup

MB = 1024 * 1024


def _job(name: str, memory: int, script: str, *, memory_max: int = 0) -> str:
    extra = f"\n        memory_max = {memory_max}" if memory_max else ""
    return f"""
job "{name}" {{
  datacenters = ["dc1"]
  type        = "batch"
  group "g" {{
    restart {{
      attempts = 0
      mode     = "fail"
    }}
    reschedule {{
      attempts  = 0
      unlimited = false
    }}
    task "t" {{
      driver = "exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", {json.dumps(script)}]
      }}
      resources {{
        cpu    = 300
        memory = {memory}{extra}
      }}
    }}
  }}
}}
"""


def test_exec_task_runs_in_its_cgroup_with_its_limits(cluster: Cluster) -> None:
    cluster.run(
        _job(
            "limited",
            64,
            "grep -E 'memory|cpu,' /proc/self/cgroup; touch /local/ready; exec sleep 1000",
            memory_max=96,
        )
    )
    alloc = cluster.wait_alloc("limited", "running")
    name = f"{alloc['ID']}.t"
    cg = TaskCgroup.locate(name)
    assert cg is not None, f"no writable cgroup hierarchy under {ROOT}"
    memory = cg.dirs[0]
    wait_for(lambda: (memory / "cgroup.procs").read_text().split(), 10, "the task in its cgroup")
    if cg.version == 1:
        assert int((memory / "memory.limit_in_bytes").read_text()) == 96 * MB
        assert int((memory / "memory.soft_limit_in_bytes").read_text()) == 64 * MB
        assert int((cg.dirs[1] / "cpu.shares").read_text()) == 300
    else:
        assert int((memory / "memory.max").read_text()) == 96 * MB
        assert int((memory / "memory.low").read_text()) == 64 * MB
    out = wait_for(
        lambda: (
            cluster.get(
                f"/v1/client/fs/logs/{alloc['ID']}",
                params={"task": "t", "type": "stdout", "plain": "1"},
            ).text
        ),
        10,
        "the task's output",
    )
    assert f"/yurt/{name}" in out  # seen from inside: its own cgroup

    cluster.stop_job("limited")
    cluster.wait_alloc("limited", "complete")
    wait_for(lambda: not any(d.exists() for d in cg.dirs), 10, "the cgroup removed")


def test_exec_task_over_its_memory_is_oom_killed(cluster: Cluster) -> None:
    cluster.run(
        _job(
            "hungry",
            32,
            "python3 -c 'x = bytearray(256 * 1024 * 1024); print(len(x))'",
        )
    )
    alloc = cluster.wait_alloc("hungry", "failed")
    terminated = [e for e in alloc["TaskStates"]["t"]["Events"] if e["Type"] == "Terminated"]
    assert terminated, alloc["TaskStates"]["t"]["Events"]
    last = terminated[-1]
    assert last["ExitCode"] == 137
    assert last["Details"]["oom_killed"] == "true"
    assert last["DisplayMessage"] == 'Exit Code: 137, Exit Message: "OOM Killed"'
    cg = TaskCgroup.locate(f"{alloc['ID']}.t")
    assert cg is not None
    wait_for(lambda: not any(d.exists() for d in cg.dirs), 10, "the cgroup removed")


def test_limits_map_to_cgroup_v2_files(tmp_path: Path) -> None:
    # This host mounts cgroup v1; the v2 layout is checked on a directory tree shaped like
    # /sys/fs/cgroup of a v2 host (the files the kernel would provide are created empty).
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    cg = TaskCgroup.locate("a1.t", tmp_path)
    assert cg is not None and cg.version == 2
    group = tmp_path / "yurt" / "a1.t"
    group.mkdir(parents=True)
    (tmp_path / "yurt" / "cgroup.subtree_control").write_text("")
    for f in ("memory.max", "memory.low", "cpu.weight", "cgroup.procs"):
        (group / f).write_text("")
    made = TaskCgroup.create("a1.t", memory_mb=128, memory_max_mb=256, cpu_mhz=500, root=tmp_path)
    assert made is not None
    assert (group / "memory.max").read_text() == str(256 * MB)
    assert (group / "memory.low").read_text() == str(128 * MB)
    assert (group / "cpu.weight").read_text() == str(1 + (500 - 2) * 9999 // 262142)
    assert (tmp_path / "yurt" / "cgroup.subtree_control").read_text() == "+memory +cpu"
    argv = made.wrap(["/bin/true"])
    assert argv[:2] == ["/bin/sh", "-c"] and argv[-1] == "/bin/true"
    assert str(group / "cgroup.procs") in argv[2]
