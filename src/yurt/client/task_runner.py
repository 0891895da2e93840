"""One task's life: set up, start through its driver, wait, restart per policy, kill."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from yurt.client import events as ev
from yurt.client.drivers.base import Driver, DriverError, ExitResult, TaskContext, TaskHandle
from yurt.client.events import TaskState
from yurt.client.restarts import Decision as RestartDecision
from yurt.client.restarts import RestartTracker

log = logging.getLogger(__name__)
Obj = dict[str, Any]


class TaskSetupError(Exception):
    """A prestart step (artifact, template) failed; the task fails without starting."""

    def __init__(self, kind: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.fields = fields


class TaskHooks(Protocol):
    async def prestart(self, runner: TaskRunner) -> None: ...

    async def poststart(self, runner: TaskRunner) -> None: ...

    async def reattached(self, runner: TaskRunner) -> None: ...

    async def exited(self, runner: TaskRunner) -> None: ...


class TaskRunner:
    def __init__(
        self,
        *,
        task: Obj,
        driver: Driver | None,
        driver_missing: str,
        make_context: Callable[[], TaskContext],
        restart_policy: Obj | None,
        job_type: str,
        kill_signal: int,
        kill_timeout: float,
        hooks: TaskHooks,
        on_change: Callable[[], None],
        state: TaskState | None = None,
        handle_state: Obj | None = None,
    ) -> None:
        self.task = task
        self.name = str(task["Name"])
        self.driver = driver
        self.driver_missing = driver_missing
        self.make_context = make_context
        self.tracker = RestartTracker(restart_policy, job_type)
        self.kill_signal = kill_signal
        self.kill_timeout = kill_timeout
        self.hooks = hooks
        self.on_change = on_change
        self.recovered = state is not None
        self.state = state or TaskState()
        self.handle_state = handle_state
        self.handle: TaskHandle | None = None
        self.done = asyncio.Event()
        self.started = asyncio.Event()
        self._kill = asyncio.Event()
        self._restart = False
        self._restart_failure = False
        self._kill_reason = ""
        self._task: asyncio.Task[None] | None = None
        lifecycle = task.get("Lifecycle") or {}
        self.hook = str(lifecycle.get("Hook") or "")
        self.sidecar = bool(lifecycle.get("Sidecar"))
        self.leader = bool(task.get("Leader"))

    def emit(self, kind: str, **fields: Any) -> None:
        self.state.add(ev.event(kind, **fields))
        self.on_change()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"task-{self.name}")

    @property
    def running(self) -> bool:
        return self.state.state == "running"

    async def _run(self) -> None:
        try:
            await self._lifecycle()
        except Exception as exc:  # a bug must not leave the task "running" forever
            log.exception("task %s: runner failed", self.name)
            self.state.failed = True
            self.emit(ev.SETUP_FAILURE, SetupError=f"client error: {exc}", FailsTask=True)
        finally:
            self.state.state = "dead"
            self.state.finished_at = time.time()
            self.handle = None
            self.on_change()
            self.done.set()

    async def _recover(self) -> None:
        if self.driver is None or self.handle_state is None or self.state.state != "running":
            return
        try:
            self.handle = await self.driver.recover(self.make_context(), self.handle_state)
        except DriverError as exc:
            log.warning("task %s: cannot re-attach: %s", self.name, exc)
        if self.handle is not None:
            log.info("task %s: re-attached to the running task", self.name)
            self.started.set()
            await self.hooks.reattached(self)
            await self.hooks.poststart(self)

    async def _lifecycle(self) -> None:
        if self.recovered:
            if self.state.state == "dead":
                return
            await self._recover()
        if self.handle is None:
            self.emit(ev.SETUP, Message="Building Task Directory")
            try:
                await self.hooks.prestart(self)
            except TaskSetupError as exc:
                self.state.failed = True
                self.emit(exc.kind, FailsTask=True, **exc.fields)
                return
        while not self._kill.is_set():
            if self.handle is None and not await self._start_once():
                return
            assert self.handle is not None
            result = await self._wait()
            if result is None:  # killed while running: kill() reports the rest
                return
            await self._exited(result)
            if self._kill.is_set():
                self.emit(ev.KILLED)
                return
            if self._restart and not self._restart_failure:
                self._restart = False
                self._count_restart()
                self.emit(ev.RESTARTING, RestartReason="Restart requested")
                continue
            # A restart for a failing check counts against the restart policy, like a crash.
            successful = result.successful and not self._restart
            self._restart = self._restart_failure = False
            decision = self.tracker.next(successful=successful)
            if not decision.restart:
                if decision.fails_task:
                    self.state.failed = True
                    self.emit(ev.NOT_RESTARTING, RestartReason=decision.reason, FailsTask=True)
                return
            if await self._restart_after(decision):
                return

    def _count_restart(self) -> None:
        self.state.restarts += 1
        self.state.last_restart = time.time()
        self.state.state = "pending"

    async def _restart_after(self, decision: RestartDecision) -> bool:
        """Count a restart, say so, and wait out its delay; True: killed while waiting."""
        self._count_restart()
        self.emit(
            ev.RESTARTING,
            RestartReason=decision.reason,
            StartDelay=int(decision.delay * 1e9),
        )
        return await self._sleep(decision.delay)

    async def _start_once(self) -> bool:
        """Start the task, retrying per policy while the driver fails; False: gave up."""
        while not self._kill.is_set():
            try:
                if self.driver is None:
                    raise DriverError(self.driver_missing, recoverable=False)
                self.handle = await self.driver.start(self.make_context())
            except DriverError as exc:
                log.warning("task %s: driver failure: %s", self.name, exc)
                self.emit(ev.DRIVER_FAILURE, DriverError=str(exc))
                decision = self.tracker.next(successful=False)
                if not exc.recoverable or not decision.restart:
                    reason = decision.reason if exc.recoverable else "Error was unrecoverable"
                    self.state.failed = True
                    self.emit(ev.NOT_RESTARTING, RestartReason=reason, FailsTask=True)
                    return False
                if await self._restart_after(decision):
                    return False
                continue
            self.state.state = "running"
            self.state.started_at = time.time()
            if self.state.restarts == 0:
                self.state.finished_at = None
            self.emit(ev.STARTED)
            self.started.set()
            await self.hooks.poststart(self)
            return True
        return False

    async def _wait(self) -> ExitResult | None:
        assert self.handle is not None
        waiter = asyncio.ensure_future(self.handle.wait())
        killer = asyncio.ensure_future(self._kill.wait())
        try:
            await asyncio.wait({waiter, killer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            killer.cancel()
        if waiter.done():
            return waiter.result()
        # Killed: stop the task here, whether kill() came while it ran or while it started.
        self.emit(
            ev.KILLING, KillTimeout=int(self.kill_timeout * 1e9), KillReason=self._kill_reason
        )
        kill_error = ""
        try:
            await self.handle.stop(self.kill_signal, self.kill_timeout)
            result = await waiter
        except Exception as exc:
            log.warning("task %s: stop failed: %s", self.name, exc)
            kill_error = str(exc) or type(exc).__name__
            try:
                result = await asyncio.wait_for(waiter, self.kill_timeout + 10)
            except Exception:
                result = ExitResult(-1, message="the task did not stop")
        await self._exited(result)
        self.emit(ev.KILLED, KillError=kill_error)
        return None

    async def _exited(self, result: ExitResult) -> None:
        self.emit(
            ev.TERMINATED,
            ExitCode=result.exit_code,
            Signal=result.signal,
            Message=result.message or ("OOM Killed" if result.oom_killed else ""),
            oom_killed=result.oom_killed,
        )
        handle, self.handle = self.handle, None
        if handle is not None:
            with contextlib.suppress(Exception):
                await handle.cleanup()
        await self.hooks.exited(self)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless killed; True when killed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._kill.wait(), seconds)
        return self._kill.is_set()

    async def kill(self, reason: str = "", *, sibling: str = "", leader: bool = False) -> None:
        """Stop the task for good (alloc stopped, sibling failed, leader dead)."""
        if self._task is None:
            # Never started (its lifecycle stage never came): it is simply dead now.
            self._kill.set()
            if not self.done.is_set():
                self.state.state = "dead"
                self.on_change()
                self.done.set()
            return
        if self.done.is_set() or self._kill.is_set():
            await self.done.wait()
            return
        if sibling:
            self.emit(ev.SIBLING_FAILED, FailedSibling=sibling)
        elif leader:
            self.emit(ev.LEADER_DEAD)
        self._kill_reason = reason
        self._kill.set()  # the lifecycle loop stops the task and reports it
        await self.done.wait()

    async def wait_killed(self, seconds: float) -> bool:
        """Wait up to `seconds`; True when the task is being killed."""
        return await self._sleep(seconds)

    async def restart(
        self, reason: str = "User requested restart", *, failure: bool = False
    ) -> None:
        """`nomad alloc restart`: stop the running task and start it again right away.
        With `failure` (check_restart) the restart policy decides, as for a crash."""
        handle = self.handle
        if handle is None or self.done.is_set():
            return
        self._restart = True
        self._restart_failure = failure
        self.emit(ev.RESTART_SIGNAL, RestartReason=reason)
        await handle.stop(self.kill_signal, self.kill_timeout)

    async def signal(self, sig: int, name: str, reason: str = "User requested signal") -> None:
        if self.handle is None:
            raise DriverError(f"task {self.name} is not running")
        self.emit(ev.SIGNALING, TaskSignal=name, TaskSignalReason=reason)
        await self.handle.signal(sig)

    async def wait_done(self) -> None:
        await self.done.wait()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
