"""The router in a process of its own, for `yurt up`.

The router's work grows with the catalog (every change of the catalog's health answer is
decoded and compared whole, as Fabio does) and with the traffic it proxies. In the agent's
process it shared one event loop, and so one core, with the catalog and the scheduler: at
10,000 services x 3 it took most of the CPU of each registration, and a flood of proxy
connections or a table build delayed the APIs. In its own process it has the other core
and stalls nothing else (DESIGN: one role's burst of work must never stall another).

The child is `yurt router`, configured as a user configures it: Fabio's properties as
`FABIO_*` variables (not flags: the command line is readable by every local user, and the
Consul token is among them). It says it serves through a pipe (`YURT_READY_FD`), follows
its parent out (`YURT_PARENT_PID`: a parent killed with SIGKILL takes it along), and is
started again if it dies while the agent runs (after 1 s, doubling up to 30 s while it
keeps failing to start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping
from typing import BinaryIO

from yurt.router.config import RouterConfig

log = logging.getLogger(__name__)

READY_FD = "YURT_READY_FD"
PARENT_PID = "YURT_PARENT_PID"
_READY = b"ready\n"
_RESTART_DELAY_S = 1.0
_RESTART_DELAY_MAX_S = 30.0
_STOP_GRACE_S = 10.0


def child_environment(properties: Mapping[str, str], base: Mapping[str, str]) -> dict[str, str]:
    """`base` (the agent's environment) without its own FABIO_* variables, which the
    agent's router never read, plus `properties` as FABIO_* variables."""
    env = {k: v for k, v in base.items() if not k.upper().startswith("FABIO_")}
    for key, value in properties.items():
        env["FABIO_" + key.replace(".", "_")] = value
    return env


class RouterProcess:
    """A Component that runs `yurt router` as a child process."""

    name = "router"

    def __init__(self, properties: Mapping[str, str], start_timeout: float = 30.0) -> None:
        self.properties = dict(properties)
        # Checked here, so that a bad setting fails `yurt up` before anything starts.
        self.config = RouterConfig.from_properties(self.properties)
        self.start_timeout = start_timeout
        self.restarts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        self._stopping = False
        self._proc = await self._spawn()
        self._watch = asyncio.create_task(self._supervise(), name="router-process")

    async def _spawn(self) -> asyncio.subprocess.Process:
        read_fd, write_fd = os.pipe()
        ready_pipe = os.fdopen(read_fd, "rb", 0)  # closed below, whatever happens
        env = child_environment(self.properties, os.environ)
        env[READY_FD] = str(write_fd)
        env[PARENT_PID] = str(os.getpid())
        try:
            try:
                # Its own session: a Ctrl-C in the terminal reaches the agent, which stops
                # the router in its turn (not both at once, which would look like a crash).
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "yurt",
                    "router",
                    env=env,
                    pass_fds=(write_fd,),
                    start_new_session=True,
                )
            finally:
                os.close(write_fd)  # the child's copy is the only writer: EOF when it dies
            try:
                ready = await asyncio.wait_for(_read_all(ready_pipe), self.start_timeout)
            except TimeoutError:
                await _end(proc)
                raise OSError(
                    f"the router process did not serve within {self.start_timeout:.0f}s"
                ) from None
            except BaseException:
                await _end(proc)  # not left holding the router's ports for the next try
                raise
        finally:
            ready_pipe.close()
        if ready != _READY:
            code = await proc.wait()
            raise OSError(f"the router process exited with status {code} (its error is above)")
        return proc

    async def _supervise(self) -> None:
        delay = _RESTART_DELAY_S
        while True:
            proc = self._proc
            assert proc is not None
            code = await proc.wait()
            if self._stopping:
                return
            log.error(
                "the router process exited with status %s; starting it again in %.0fs",
                code,
                delay,
            )
            await asyncio.sleep(delay)
            if self._stopping:
                return
            try:
                self._proc = await self._spawn()
            except OSError as exc:
                # Its address taken for good, say: tried again ever less often.
                log.error("%s", exc)
                delay = min(delay * 2, _RESTART_DELAY_MAX_S)
            except Exception:
                # Anything else ended this task, and the router with it, for the rest of
                # the agent's life: said, and tried again the same way.
                log.exception("starting the router process again failed")
                delay = min(delay * 2, _RESTART_DELAY_MAX_S)
            else:
                self.restarts += 1
                delay = _RESTART_DELAY_S

    async def stop(self) -> None:
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self._proc is not None:
            await _end(self._proc)
            self._proc = None


async def _read_all(pipe: BinaryIO) -> bytes:
    """What the child writes to the ready pipe until it closes it (at most a line)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        return await reader.read(len(_READY))
    finally:
        transport.close()


async def _end(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), _STOP_GRACE_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


def announce_ready(environ: Mapping[str, str]) -> None:
    """In the child, once it serves: tell the parent (a no-op when run by a user)."""
    fd = environ.get(READY_FD)
    if not fd:
        return
    with contextlib.suppress(OSError, ValueError):
        os.write(int(fd), _READY)
        os.close(int(fd))


def follow_parent(environ: Mapping[str, str]) -> None:
    """In the child: end with the parent, even one killed with SIGKILL (Linux)."""
    parent = environ.get(PARENT_PID)
    if not parent or not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if str(os.getppid()) != parent:  # the parent died before the line above
        os.kill(os.getpid(), signal.SIGTERM)
