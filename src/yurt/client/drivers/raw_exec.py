"""raw_exec: the task as a plain process in its own process group, logs via logmon."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

from yurt.client import logfiles
from yurt.client.cgroups import TaskCgroup
from yurt.client.drivers import marker
from yurt.client.drivers.base import (
    Driver,
    DriverError,
    DriverHealth,
    ExecStreams,
    ExitResult,
    Obj,
    TaskContext,
    TaskHandle,
)
from yurt.client.drivers.process_exec import run_process_session


def _proc_start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat: tells a re-used pid from the one we started."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    if len(fields) < 20 or fields[0] == "Z":
        return None
    return fields[19]


def group_pids(pgid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[-1].split()
        if len(fields) > 3 and fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(entry))
    return out


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class ProcessHandle(TaskHandle):
    def __init__(
        self,
        pid: int,
        start_time: str | None,
        proc: asyncio.subprocess.Process | None,
        logmon_pid: int | None,
    ) -> None:
        self.pid = pid
        self.start_time = start_time
        self.proc = proc
        self.logmon_pid = logmon_pid
        self._result: ExitResult | None = None
        self._waiter: asyncio.Task[ExitResult] | None = None
        # where script checks run: set by the driver that made the handle
        self.env: dict[str, str] = {}
        self.cwd: Path = Path("/")
        self.enter_namespaces = False
        # The task's cgroup (exec tasks): read for an OOM kill at exit, then removed.
        self.cgroup: TaskCgroup | None = None

    def _alive(self) -> bool:
        return self.start_time is not None and _proc_start_time(self.pid) == self.start_time

    async def _wait(self) -> ExitResult:
        if self.proc is not None:
            rc = await self.proc.wait()
            result = ExitResult(128 - rc, -rc) if rc < 0 else ExitResult(rc)
        else:
            # Re-attached: not our child any more, so its exit status is not ours to read.
            while self._alive():
                await asyncio.sleep(0.25)
            result = ExitResult(0, message="exit status unknown (task re-attached)")
        # The rest of the group goes with the task, as Nomad's executor does.
        _killpg(self.pid, signal.SIGKILL)
        if self.cgroup is not None:
            if self.cgroup.oom_killed():
                result = replace(result, oom_killed=True)
            await self._remove_cgroup(self.cgroup)
        return result

    @staticmethod
    async def _remove_cgroup(cgroup: TaskCgroup) -> None:
        # The killed processes leave the cgroup a moment after they die.
        for _ in range(20):
            cgroup.remove()
            if not any(d.exists() for d in cgroup.dirs):
                return
            await asyncio.sleep(0.05)

    async def wait(self) -> ExitResult:
        if self._waiter is None:
            self._waiter = asyncio.ensure_future(self._wait())
        return await asyncio.shield(self._waiter)

    async def signal(self, sig: int) -> None:
        _killpg(self.pid, sig)

    async def stop(self, sig: int, timeout: float) -> None:
        _killpg(self.pid, sig)
        try:
            await asyncio.wait_for(self.wait(), timeout)
        except TimeoutError:
            _killpg(self.pid, signal.SIGKILL)
            await self.wait()

    def state(self) -> Obj:
        return {"Pid": self.pid, "StartTime": self.start_time, "LogmonPid": self.logmon_pid}

    def _namespace_pid(self) -> int:
        """The chrooted task: unshare -> the namespace's PID 1 shell -> the task."""
        pid = self.pid
        for _ in range(2):
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                break
            if not children:
                break
            pid = int(children[-1])
        return pid

    async def exec(self, argv: list[str], timeout: float) -> tuple[int, str]:
        if self.enter_namespaces:
            target = str(self._namespace_pid())
            argv = ["nsenter", "-t", target, "-m", "-p", "-u", "-i", "-r", "-w", "--", *argv]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=str(self.cwd),
                env=self.env,
                start_new_session=True,
            )
        except OSError as exc:
            return 2, f"failed to run {argv[0]}: {exc.strerror or exc}"
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            _killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            return 2, f"script check timed out after {timeout}s"
        return proc.returncode or 0, out.decode(errors="replace")

    exec_streaming_supported = True

    async def exec_streaming(self, argv: list[str], *, tty: bool, streams: ExecStreams) -> int:
        take_terminal = True
        if self.enter_namespaces:
            # The task's mount, PID, UTS and IPC namespaces, its chroot and working directory.
            # With a terminal the command leads its own session inside (setsid, from the
            # host's /usr the chroot binds), so that ^C reaches it and not nsenter.
            target = str(self._namespace_pid())
            wrap = [shutil.which("setsid") or "setsid", "--ctty", "--wait"] if tty else []
            argv = ["nsenter", "-t", target, "-m", "-p", "-u", "-i", "-r", "-w", "--", *wrap, *argv]
            take_terminal = False
        return await run_process_session(
            argv, env=self.env, cwd=self.cwd, tty=tty, streams=streams, take_terminal=take_terminal
        )

    def pids(self) -> list[int]:
        return group_pids(self.pid)


def resolve_command(command: str, task_dir: Path, env: dict[str, str]) -> str:
    if not command:
        raise DriverError('missing required config "command"', recoverable=False)
    if "/" in command:
        path = Path(command)
        if not path.is_absolute():
            path = task_dir / command
        if not path.exists():
            raise DriverError(f"command {command!r} not found (looked at {path})")
        return str(path)
    found = shutil.which(command, path=env.get("PATH") or os.defpath)
    if found is None:
        raise DriverError(f'command "{command}" not found in PATH {env.get("PATH", "")!r}')
    return found


def _args(config: Obj) -> list[str]:
    args = config.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str | int | float) for a in args):
        raise DriverError('config "args" must be a list of strings', recoverable=False)
    return [str(a) for a in args]


async def spawn_with_logmon(
    ctx: TaskContext, argv: list[str], *, cwd: Path, preexec: bool = True
) -> ProcessHandle:
    """Start `argv` in a new session with stdout/stderr piped to a logmon process.

    Both carry the task's mark (`marker`), so that a client that dies before it persists the
    handle adopts them on restart instead of starting the task again."""
    mark = marker.marker(ctx.alloc_dir, ctx.task_name)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        logmon = subprocess.Popen(
            [
                sys.executable,
                "-I",
                logfiles.__file__,
                str(ctx.log_dir),
                ctx.task_name,
                str(ctx.log_max_files),
                str(ctx.log_max_file_size),
                str(out_r),
                str(err_r),
            ],
            pass_fds=(out_r, err_r),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, marker.LOGMON_VAR: mark},
            start_new_session=True,
        )
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                cwd=str(cwd),
                env={**ctx.env, marker.TASK_VAR: mark},
                start_new_session=preexec,
            )
        except OSError as exc:
            logmon.kill()
            raise DriverError(f"failed to start {argv[0]}: {exc.strerror or exc}") from None
    finally:
        for fd in (out_r, out_w, err_r, err_w):
            os.close(fd)
    # logmon lives as long as the task: a daemon thread of its own reaps it, so that it never
    # lingers as a zombie and never holds one of the loop's few executor threads.
    threading.Thread(target=logmon.wait, daemon=True, name=f"logmon-{logmon.pid}").start()
    return ProcessHandle(proc.pid, _proc_start_time(proc.pid), proc, logmon.pid)


def adopt_marked(ctx: TaskContext) -> ProcessHandle | None:
    """The task's process if one is already running (spawned by a client that died before
    it persisted the handle): adopted rather than started a second time."""
    pid, logmon_pid = marker.find(marker.marker(ctx.alloc_dir, ctx.task_name))
    if pid is None:
        return None
    start_time = _proc_start_time(pid)
    if start_time is None:
        return None
    return ProcessHandle(pid, start_time, None, logmon_pid)


def recover_process(ctx: TaskContext, state: Obj) -> ProcessHandle | None:
    """The task's process from its persisted handle state, if that process (the same pid
    started at the same time) still runs."""
    pid = int(state.get("Pid") or 0)
    start_time = state.get("StartTime")
    if not pid or _proc_start_time(pid) != start_time:
        return None
    handle = ProcessHandle(pid, start_time, None, state.get("LogmonPid"))
    handle.env, handle.cwd = ctx.env, ctx.task_dir
    return handle


class RawExecDriver(Driver):
    name = "raw_exec"

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def fingerprint(self) -> DriverHealth:
        if not self.enabled:
            return DriverHealth(False, False, "disabled")
        return DriverHealth(True, True, "Healthy", {"driver.raw_exec": "1"})

    async def start(self, ctx: TaskContext) -> TaskHandle:
        if not self.enabled:
            raise DriverError("raw_exec is disabled on this client", recoverable=False)
        command = resolve_command(str(ctx.config.get("command") or ""), ctx.task_dir, ctx.env)
        handle = adopt_marked(ctx) or await spawn_with_logmon(
            ctx, [command, *_args(ctx.config)], cwd=ctx.task_dir
        )
        handle.env, handle.cwd = ctx.env, ctx.task_dir
        return handle

    async def recover(self, ctx: TaskContext, state: Obj) -> TaskHandle | None:
        return recover_process(ctx, state)
