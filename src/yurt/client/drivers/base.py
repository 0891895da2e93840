"""What every task driver offers the task runner: start, wait, signal, stop, re-attach."""

from __future__ import annotations

import asyncio
import json
import signal as _signal
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

Obj = dict[str, Any]


class DriverError(Exception):
    """The driver could not start the task (bad config, missing binary, engine error)."""

    def __init__(self, message: str, *, recoverable: bool = True) -> None:
        super().__init__(message)
        self.recoverable = recoverable


@dataclass(frozen=True)
class ExitResult:
    exit_code: int
    signal: int = 0
    oom_killed: bool = False
    message: str = ""

    @property
    def successful(self) -> bool:
        return self.exit_code == 0 and self.signal == 0


@dataclass
class DriverHealth:
    detected: bool
    healthy: bool
    description: str
    attributes: dict[str, str] = field(default_factory=dict)

    def to_json(self, now: str) -> Obj:
        return {
            "Attributes": self.attributes or None,
            "Detected": self.detected,
            "Healthy": self.healthy,
            "HealthDescription": self.description,
            "UpdateTime": now,
        }


@dataclass
class TaskContext:
    """Everything a driver needs to start one task of one allocation."""

    alloc_id: str
    task_name: str
    config: Obj  # the task's driver config, interpolated
    env: dict[str, str]
    alloc_dir: Path  # <data_dir>/alloc/<id>
    task_dir: Path  # <alloc_dir>/<task>
    log_dir: Path  # <alloc_dir>/alloc/logs
    ports: list[Obj]  # AllocatedResources.Shared.Ports
    user: str
    cpu_mhz: int
    memory_mb: int
    log_max_files: int
    log_max_file_size: int  # bytes
    labels: dict[str, str] = field(default_factory=dict)
    memory_max_mb: int = 0  # `memory_max`: the hard limit when above `memory`


@dataclass(frozen=True)
class TtySize:
    height: int
    width: int


# What the caller of `alloc exec` sends, in order: stdin bytes, a terminal resize, or None
# once its stdin is closed.
ExecInput = bytes | TtySize | None


@dataclass
class ExecStreams:
    """The caller's end of an `alloc exec` session, as a driver sees it."""

    input: asyncio.Queue[ExecInput]
    output: Callable[[str, bytes], Awaitable[None]]  # ("stdout" | "stderr", data)
    tty_size: TtySize | None = None  # the terminal's size when the command starts


def parse_signal(name: str, default: int = _signal.SIGINT) -> int:
    """Nomad's kill_signal names ("SIGTERM", "TERM", "sigint") -> signal number."""
    text = (name or "").strip().upper()
    if not text:
        return int(default)
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return int(_signal.Signals[text])
    except KeyError:
        # consul-template's words (Nomad's signals.Parse), quoted as Go's %q quotes
        raise ValueError(f"invalid signal {json.dumps(name)}") from None


class TaskHandle(ABC):
    """A running task."""

    @abstractmethod
    async def wait(self) -> ExitResult: ...

    @abstractmethod
    async def signal(self, sig: int) -> None: ...

    @abstractmethod
    async def stop(self, sig: int, timeout: float) -> None:
        """Send `sig`, wait up to `timeout` seconds, then kill; returns once it is gone."""

    @abstractmethod
    def state(self) -> Obj:
        """What `Driver.recover` needs to find the task again after a client restart."""

    @abstractmethod
    def pids(self) -> list[int]: ...

    async def exec(self, argv: list[str], timeout: float) -> tuple[int, str]:
        """Run a command inside the task (script checks): exit code and output."""
        raise DriverError("this driver cannot run commands in its tasks")

    # Whether `exec_streaming` can run commands in this driver's tasks (`alloc exec`).
    exec_streaming_supported: ClassVar[bool] = False

    async def exec_streaming(self, argv: list[str], *, tty: bool, streams: ExecStreams) -> int:
        """`alloc exec`: run `argv` inside the task as the task runs, wired to `streams`, and
        return its exit code. A command that cannot be found exits 127 after an error text
        on stderr. Cancelling the call ends the command."""
        raise DriverError("this driver cannot run commands in its tasks")

    async def cleanup(self) -> None:
        """Release what remains after the task exited (containers are removed here)."""
        return None


class Driver(ABC):
    name: str

    @abstractmethod
    def fingerprint(self) -> DriverHealth: ...

    @abstractmethod
    async def start(self, ctx: TaskContext) -> TaskHandle: ...

    @abstractmethod
    async def recover(self, ctx: TaskContext, state: Obj) -> TaskHandle | None:
        """The handle of a task started by an earlier client process, if it still runs."""

    async def close(self) -> None:
        """Release the driver's own resources (connections)."""
        return None
