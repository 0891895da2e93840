"""A task's cgroup: the memory and CPU limits Nomad's exec driver enforces.

One cgroup per task, named `<alloc id>.<task>` under a `yurt` parent, in the hierarchy the
host has: cgroup v2 (one unified tree: `memory.max`, `memory.low`, `cpu.weight`) or v1 (the
`memory` and `cpu` controllers: `memory.limit_in_bytes`, `memory.soft_limit_in_bytes`,
`cpu.shares`). As in Nomad, the hard memory limit is the task's `memory_max` when set and
its `memory` otherwise (with `memory` then the soft limit), and CPU is a share weighted by
the task's MHz. The task joins its cgroup before its command runs (the wrapper shell writes
its own PID, then execs the command), so that nothing it starts escapes the limits. An OOM
kill is read back from the cgroup's counters when the task exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")
_PARENT = "yurt"
_MB = 1024 * 1024


def _v2_root(root: Path) -> Path | None:
    if (root / "cgroup.controllers").exists():
        return root
    return None


def _writable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


@dataclass
class TaskCgroup:
    """The cgroup directories of one task (one on v2, memory and cpu on v1)."""

    version: int
    dirs: list[Path]

    @classmethod
    def locate(cls, name: str, root: Path = ROOT) -> TaskCgroup | None:
        """Where the cgroup of `name` is (or would be) on this host; None without a usable,
        writable cgroup hierarchy."""
        v2 = _v2_root(root)
        if v2 is not None:
            if not _writable(v2):
                return None
            return cls(2, [v2 / _PARENT / name])
        memory, cpu = root / "memory", root / "cpu"
        if not (_writable(memory) and _writable(cpu)):
            return None
        return cls(1, [memory / _PARENT / name, cpu / _PARENT / name])

    @classmethod
    def create(
        cls, name: str, *, memory_mb: int, memory_max_mb: int, cpu_mhz: int, root: Path = ROOT
    ) -> TaskCgroup | None:
        """The task's cgroup with its limits set; None (logged) if the host has no usable
        cgroups, so that the task still runs, without limits."""
        cg = cls.locate(name, root)
        if cg is None:
            log.warning("no writable cgroup hierarchy under %s: %s runs without limits", root, name)
            return None
        try:
            cg._make(memory_mb, memory_max_mb, cpu_mhz)
        except OSError as exc:
            log.warning("cgroup for %s: %s; it runs without limits", name, exc)
            cg.remove()
            return None
        return cg

    def _make(self, memory_mb: int, memory_max_mb: int, cpu_mhz: int) -> None:
        hard = memory_max_mb if memory_max_mb > memory_mb else memory_mb
        soft = memory_mb if memory_max_mb > memory_mb else 0
        if self.version == 2:
            (group,) = self.dirs
            parent = group.parent
            parent.mkdir(exist_ok=True)
            # Controllers reach a child only when every ancestor delegates them.
            for ancestor in (parent.parent, parent):
                _write(ancestor / "cgroup.subtree_control", "+memory +cpu")
            group.mkdir(exist_ok=True)
            if hard:
                _write(group / "memory.max", str(hard * _MB))
                _write(group / "memory.swap.max", "0", missing_ok=True)
            if soft:
                _write(group / "memory.low", str(soft * _MB))
            if cpu_mhz:
                _write(group / "cpu.weight", str(_cpu_weight(cpu_mhz)))
            return
        memory, cpu = self.dirs
        for d in self.dirs:
            d.parent.mkdir(exist_ok=True)
            d.mkdir(exist_ok=True)
        if hard:
            _write(memory / "memory.limit_in_bytes", str(hard * _MB))
            # Without swap accounting the file is absent: the limit then holds RAM only.
            _write(memory / "memory.memsw.limit_in_bytes", str(hard * _MB), missing_ok=True)
        if soft:
            _write(memory / "memory.soft_limit_in_bytes", str(soft * _MB))
        if cpu_mhz:
            _write(cpu / "cpu.shares", str(max(cpu_mhz, 2)))

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv` run by a shell that first moves itself into the cgroup."""
        joins = "; ".join(f"echo $$ > {shlex.quote(str(d / 'cgroup.procs'))}" for d in self.dirs)
        return ["/bin/sh", "-c", f'{joins} && exec "$@"', "cgroup-join", *argv]

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the task for memory."""
        memory = self.dirs[0]
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            text = (memory / name).read_text()
        except OSError:
            return False
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value) > 0
        return False

    def remove(self) -> None:
        """Remove the directories (the kernel refuses while a process is still inside)."""
        for d in self.dirs:
            with contextlib.suppress(OSError):
                d.rmdir()


def _write(path: Path, value: str, *, missing_ok: bool = False) -> None:
    try:
        path.write_text(value)
    except FileNotFoundError:
        if not missing_ok:
            raise


def _cpu_weight(shares: int) -> int:
    """cgroup v1 shares (2..262144) to a v2 weight (1..10000), as runc converts them."""
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142
