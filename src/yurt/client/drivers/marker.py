"""The mark a process-based task carries, so that it is started exactly once.

A client can die (kill -9, power) after a task's process is spawned and before its handle is
persisted. The process then outlives the client, and the restarted client, finding no handle,
would start the task a second time. So every task process (and its logmon) is spawned with
an environment variable naming its allocation directory and task: the intent is written into
the process itself, atomically with its creation. Before starting a task the driver looks for
a live process with that mark and adopts it; at start the client kills marked processes of
allocations it no longer has.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

TASK_VAR = "YURT_TASK_MARKER"
LOGMON_VAR = "YURT_LOGMON_MARKER"
_SEP = "|"


def marker(alloc_dir: Path, task: str) -> str:
    return f"{alloc_dir}{_SEP}{task}"


@dataclass(frozen=True)
class Marked:
    pid: int
    var: str  # TASK_VAR or LOGMON_VAR
    value: str

    @property
    def alloc_dir(self) -> str:
        return self.value.rsplit(_SEP, 1)[0]


def _session_leader(pid: int) -> bool:
    try:
        return os.getsid(pid) == pid
    except OSError:
        return False


def _environ(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def scan(prefix: str = "") -> list[Marked]:
    """Session leaders carrying a mark whose value starts with `prefix`.

    Only session leaders count: the task's children inherit its environment, but the driver
    started the leader, and killing its group takes the children with it."""
    wanted = [(var, f"{var}={prefix}".encode()) for var in (TASK_VAR, LOGMON_VAR)]
    found: list[Marked] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        env = _environ(entry)
        if not env or b"YURT_" not in env:
            continue
        for item in env.split(b"\0"):
            for var, start in wanted:
                if item.startswith(start) and _session_leader(int(entry)):
                    value = item.split(b"=", 1)[1].decode(errors="replace")
                    found.append(Marked(int(entry), var, value))
    return found


def find(value: str) -> tuple[int | None, int | None]:
    """(task pid, logmon pid) of the live processes marked exactly `value`."""
    task = logmon = None
    for marked in scan(value):
        if marked.value != value:
            continue
        if marked.var == TASK_VAR:
            task = marked.pid
        else:
            logmon = marked.pid
    return task, logmon


def kill_orphans(alloc_root: Path, keep: set[str]) -> list[Marked]:
    """Kill the marked process groups under `alloc_root` whose allocation directory is not in
    `keep`: tasks of allocations this client no longer has. Returns what was killed."""
    killed = []
    for marked in scan(str(alloc_root) + os.sep):
        if marked.alloc_dir in keep:
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(marked.pid, signal.SIGKILL)
            killed.append(marked)
    return killed
