"""One allocation on this node: its directory, its tasks in lifecycle order, its services,
its deployment health, and the status it reports to the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from yurt.client.allocdir import AllocDir
from yurt.client.config import TemplateConfig
from yurt.client.drivers.base import Driver, DriverError, TaskContext, parse_signal
from yurt.client.events import TaskState, rfc3339
from yurt.client.server_conn import ServerConnection, ServerError, Unreachable
from yurt.client.services import (
    CheckRestart,
    Registration,
    ScriptCheck,
    ServiceScope,
    build_nomad_registrations,
    build_registrations,
)
from yurt.client.state import StateStore
from yurt.client.task_runner import TaskRunner
from yurt.client.taskenv import NodeView, alloc_ports, build_env, interpolate
from yurt.consul_api.client import ConsulClient, ConsulError

log = logging.getLogger(__name__)
Obj = dict[str, Any]
_Reg = TypeVar("_Reg")


_MAX_KILL_TIMEOUT = 30.0  # Nomad's client max_kill_timeout default
_NS = 1e9


class PrestartHook:
    """A step run before a task starts (artifacts, templates); may add env variables."""

    async def prestart(self, alloc: AllocRunner, runner: TaskRunner) -> None:
        raise NotImplementedError

    async def recover(self, alloc: AllocRunner, runner: TaskRunner) -> None:
        """The task was re-attached after a client restart (its prestart is not run again):
        take up what the hook keeps doing while the task runs."""

    async def stop(self, alloc: AllocRunner, task: str) -> None:
        """The task is gone for good: stop watching for it."""


@dataclass
class ClientEnv:
    """What every allocation runner shares: set up once by the agent."""

    data_dir: Path
    node: NodeView
    node_ip: str
    drivers: dict[str, Driver]
    driver_problems: dict[str, str]
    consul: ConsulClient | None
    store: StateStore
    notify: Callable[[str], None]
    prestart_hooks: list[PrestartHook] = field(default_factory=list)
    templates: TemplateConfig = field(default_factory=TemplateConfig)
    # where `provider = "nomad"` services are registered: the scheduler (set by the agent)
    nomad_services: ServerConnection | None = None


def _terminal(status: str) -> bool:
    return status in ("complete", "failed", "lost")


HOST_NETWORK_STATUS: Obj = {"InterfaceName": "", "Address": "", "DNS": None}


class AllocRunner:
    def __init__(self, env: ClientEnv, alloc: Obj, persisted: Obj | None = None) -> None:
        self.env = env
        self.alloc = alloc
        self.id = str(alloc["ID"])
        self.alloc_dir = AllocDir(env.data_dir / "alloc" / self.id)
        self.group = self._group()
        self.job_type = str((alloc.get("Job") or {}).get("Type") or "service")
        self.extra_env: dict[str, dict[str, str]] = {}  # templates' `env = true`
        self.identity_env: dict[str, dict[str, str]] = {}  # `identity { env = true }`
        self.registrations: dict[str | None, list[Registration]] = {}
        self.nomad_registrations: dict[str | None, list[str]] = {}
        self._check_watchers: dict[str, asyncio.Task[None]] = {}
        self._scripts: dict[str, list[asyncio.Task[None]]] = {}
        self.deployment_status: Obj | None = None
        self.stopping = False
        self.finished = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._health: asyncio.Task[None] | None = None
        persisted = persisted or {}
        tasks_state = persisted.get("Tasks") or {}
        self.recovered = bool(persisted)
        if persisted.get("DeploymentStatus"):
            self.deployment_status = dict(persisted["DeploymentStatus"])
        self.tasks: dict[str, TaskRunner] = {}
        for task in self.group.get("Tasks") or []:
            saved = tasks_state.get(task["Name"]) or {}
            self.tasks[task["Name"]] = self._task_runner(task, saved)

    # --- construction -------------------------------------------------------------------

    def _group(self) -> Obj:
        for tg in (self.alloc.get("Job") or {}).get("TaskGroups") or []:
            if tg.get("Name") == self.alloc.get("TaskGroup"):
                return dict(tg)
        raise ValueError(
            f"allocation {self.id}: task group {self.alloc.get('TaskGroup')!r} is not in its job"
        )

    def _task_runner(self, task: Obj, saved: Obj) -> TaskRunner:
        driver_name = str(task.get("Driver") or "")
        driver = self.env.drivers.get(driver_name)
        problem = self.env.driver_problems.get(
            driver_name, f'driver "{driver_name}" is not available on this node'
        )
        default_signal = "SIGTERM" if driver_name == "docker" else "SIGINT"
        lifecycle = task.get("Lifecycle") or {}
        ephemeral = bool(lifecycle.get("Hook")) and not lifecycle.get("Sidecar")
        return TaskRunner(
            task=task,
            driver=driver,
            driver_missing=problem,
            make_context=lambda: self.context(task),
            restart_policy=task.get("RestartPolicy") or self.group.get("RestartPolicy"),
            # Nomad restarts a finished prestart/poststop task only when it failed.
            job_type="batch" if ephemeral else self.job_type,
            kill_signal=parse_signal(str(task.get("KillSignal") or default_signal)),
            kill_timeout=min(int(task.get("KillTimeout") or 5 * _NS) / _NS, _MAX_KILL_TIMEOUT),
            hooks=self,
            on_change=self._changed,
            state=TaskState.restore(saved["State"]) if saved.get("State") else None,
            handle_state=saved.get("Handle"),
        )

    def task_env(self, task: Obj) -> dict[str, str]:
        driver = str(task.get("Driver") or "")
        env = build_env(
            self.alloc,
            task,
            self.env.node,
            self.alloc_dir,
            in_container=driver in ("docker", "exec"),
            host_env=driver == "raw_exec",
        )
        env.update(self.extra_env.get(str(task["Name"]), {}))
        env.update(self.identity_env.get(str(task["Name"]), {}))
        return env

    def context(self, task: Obj) -> TaskContext:
        name = str(task["Name"])
        env = self.task_env(task)
        res = ((self.alloc.get("AllocatedResources") or {}).get("Tasks") or {}).get(name) or {}
        cpu = int(
            ((res.get("Cpu") or {}).get("CpuShares"))
            or (task.get("Resources") or {}).get("CPU")
            or 0
        )
        mem = int(
            ((res.get("Memory") or {}).get("MemoryMB"))
            or (task.get("Resources") or {}).get("MemoryMB")
            or 0
        )
        mem_max = int(
            ((res.get("Memory") or {}).get("MemoryMaxMB"))
            or (task.get("Resources") or {}).get("MemoryMaxMB")
            or 0
        )
        logs = task.get("LogConfig") or {}
        job = self.alloc.get("Job") or {}
        return TaskContext(
            alloc_id=self.id,
            task_name=name,
            config=interpolate(dict(task.get("Config") or {}), env, self.env.node),
            env=env,
            alloc_dir=self.alloc_dir.root,
            task_dir=self.alloc_dir.task(name).root,
            log_dir=self.alloc_dir.logs,
            ports=alloc_ports(self.alloc),
            user=str(task.get("User") or ""),
            cpu_mhz=cpu,
            memory_mb=mem,
            memory_max_mb=mem_max,
            log_max_files=int(logs.get("MaxFiles") or 10),
            log_max_file_size=int(logs.get("MaxFileSizeMB") or 10) * 1024 * 1024,
            labels={
                "com.hashicorp.nomad.alloc_id": self.id,
                "com.hashicorp.nomad.job_id": str(job.get("ID") or self.alloc.get("JobID") or ""),
                "com.hashicorp.nomad.job_name": str(job.get("Name") or ""),
                "com.hashicorp.nomad.task_group_name": str(self.alloc.get("TaskGroup") or ""),
                "com.hashicorp.nomad.task_name": name,
                "com.hashicorp.nomad.namespace": str(self.alloc.get("Namespace") or "default"),
                "com.hashicorp.nomad.node_id": self.env.node.id,
                "com.hashicorp.nomad.node_name": self.env.node.name,
            },
        )

    # --- status -------------------------------------------------------------------------

    def _changed(self) -> None:
        self.persist()
        self.env.notify(self.id)

    def persist(self) -> None:
        tasks = {}
        for name, runner in self.tasks.items():
            handle = runner.handle.state() if runner.handle is not None else None
            tasks[name] = {"State": runner.state.persist(), "Handle": handle}
        self.env.store.save_alloc(
            self.id,
            {"Alloc": self.alloc, "Tasks": tasks, "DeploymentStatus": self.deployment_status},
        )

    def client_status(self) -> tuple[str, str]:
        states = [r.state for r in self.tasks.values()]
        if any(s.failed for s in states):
            return "failed", "Failed tasks"
        if any(s.state == "running" for s in states):
            return "running", "Tasks are running"
        if any(s.state == "pending" for s in states) or not states:
            return "pending", "No tasks have started"
        return "complete", "All tasks have completed"

    def update_payload(self) -> Obj:
        status, description = self.client_status()
        out: Obj = {
            "ID": self.id,
            "ClientStatus": status,
            "ClientDescription": description,
            "TaskStates": {name: r.state.to_json() for name, r in self.tasks.items()},
            # Nomad's network hook reports this once the group's network is set up; in host
            # mode (the only one yurt's client has) the task shares the host's, so it is empty.
            "NetworkStatus": HOST_NETWORK_STATUS,
        }
        if self.deployment_status is not None:
            out["DeploymentStatus"] = self.deployment_status
        return out

    # --- running ------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"alloc-{self.id[:8]}")

    def update(self, alloc: Obj) -> None:
        """A newer version of the allocation (in-place update, new deployment)."""
        self.alloc = alloc
        with contextlib.suppress(ValueError):
            self.group = self._group()
        new_deployment = str(alloc.get("DeploymentID") or "")
        status = alloc.get("DeploymentStatus") or {}
        if (
            new_deployment
            and status.get("Healthy") is None
            and (self._health is None or self._health.done())
        ):
            self.deployment_status = None
            self._start_health()
        self.persist()

    async def _run(self) -> None:
        try:
            if not self.recovered:
                self.alloc_dir.build(list(self.tasks))
                from yurt.client import events as ev

                for runner in self.tasks.values():
                    runner.emit(ev.RECEIVED)
            await self._register(None, self.group.get("Services") or [], self.group_env())
            self._start_health()
            await self._lifecycle()
        except Exception:
            log.exception("allocation %s: runner failed", self.id)
            for runner in self.tasks.values():
                if not runner.done.is_set():
                    await runner.kill("client error")
        finally:
            await self._deregister(None)
            if self._health is not None and not self._health.done():
                self._health.cancel()
            for runner in self.tasks.values():
                for hook in self.env.prestart_hooks:
                    with contextlib.suppress(Exception):
                        await hook.stop(self, runner.name)
            self.finished.set()
            self._changed()

    def group_env(self) -> dict[str, str]:
        tasks = self.group.get("Tasks") or []
        return self.task_env(tasks[0]) if tasks else {}

    def _by_hook(self, hook: str, sidecar: bool | None = None) -> list[TaskRunner]:
        return [
            r
            for r in self.tasks.values()
            if r.hook == hook and (sidecar is None or r.sidecar == sidecar)
        ]

    async def _lifecycle(self) -> None:
        pre = self._by_hook("prestart")
        for r in pre:
            r.start()
        ephemeral = [r for r in pre if not r.sidecar]
        await asyncio.gather(*(r.done.wait() for r in ephemeral))
        if any(r.state.failed for r in ephemeral) or self.stopping:
            failed = next((r.name for r in ephemeral if r.state.failed), "")
            await self._kill_all(sibling=failed)
            return
        main = self._by_hook("")
        for r in main:
            r.start()
        post = self._by_hook("poststart")
        if post:
            await self._wait_started(main)
            for r in post:
                r.start()
        await self._watch_main(main)
        # Sidecars and poststart tasks end with the main tasks.
        await asyncio.gather(
            *(r.kill("main tasks finished") for r in [*pre, *post] if not r.done.is_set())
        )
        for r in self._by_hook("poststop"):
            r.start()
        await asyncio.gather(*(r.done.wait() for r in self._by_hook("poststop")))

    async def _wait_started(self, runners: list[TaskRunner]) -> None:
        for r in runners:
            started = asyncio.ensure_future(r.started.wait())
            done = asyncio.ensure_future(r.done.wait())
            await asyncio.wait({started, done}, return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
            done.cancel()

    async def _watch_main(self, main: list[TaskRunner]) -> None:
        pending = {asyncio.ensure_future(r.done.wait()): r for r in main}
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for fut in done:
                runner = pending.pop(fut)
                if runner.state.failed:
                    await self._kill_all(sibling=runner.name)
                elif runner.leader and not self.stopping:
                    await self._kill_all(leader=True)
        for fut in pending:
            fut.cancel()

    async def _kill_all(self, *, sibling: str = "", leader: bool = False, reason: str = "") -> None:
        alive = [r for r in self.tasks.values() if not r.done.is_set() and r.hook != "poststop"]
        # Nomad stops the leader first, then the rest.
        for r in [x for x in alive if x.leader]:
            await r.kill(reason)
        await asyncio.gather(
            *(
                r.kill(reason, sibling=sibling if r.name != sibling else "", leader=leader)
                for r in alive
                if not r.leader
            )
        )

    async def stop(self, reason: str = "alloc stopped") -> None:
        """Stop every task (the scheduler stopped the allocation, or the client shuts down)."""
        self.stopping = True
        await self._kill_all(reason=reason)
        if self._task is not None:
            await asyncio.shield(self._task)

    async def kill_now(self) -> None:
        """Client shutdown: stop the tasks, poststop ones included, without waiting for more."""
        self.stopping = True
        await asyncio.gather(*(r.kill("client shutting down") for r in self.tasks.values()))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # --- task hooks ---------------------------------------------------------------------

    async def prestart(self, runner: TaskRunner) -> None:
        for hook in self.env.prestart_hooks:
            await hook.prestart(self, runner)

    async def reattached(self, runner: TaskRunner) -> None:
        for hook in self.env.prestart_hooks:
            try:
                await hook.recover(self, runner)
            except Exception:
                log.exception("task %s: recovering %s", runner.name, type(hook).__name__)

    async def poststart(self, runner: TaskRunner) -> None:
        self.persist()
        env = self.task_env(runner.task)
        await self._register(runner.name, runner.task.get("Services") or [], env)
        self._start_scripts(runner)
        restarts = [c for r in self.registrations.get(runner.name, []) for c in r.check_restarts]
        if restarts and self.env.consul is not None:
            self._check_watchers[runner.name] = asyncio.create_task(
                self._watch_checks(runner, restarts), name=f"check-restart-{runner.name}"
            )

    async def exited(self, runner: TaskRunner) -> None:
        watcher = self._check_watchers.pop(runner.name, None)
        if watcher is not None and watcher is not asyncio.current_task():
            watcher.cancel()
        for script in self._scripts.pop(runner.name, []):
            script.cancel()
        await self._deregister(runner.name)
        self.persist()

    def _built(
        self,
        build: Callable[[ServiceScope, list[Obj]], list[_Reg]],
        task: str | None,
        services: list[Obj],
        env: dict[str, str],
    ) -> list[_Reg] | None:
        """One provider's registrations of these services; None (logged): a bad port label."""
        try:
            return build(
                ServiceScope(self.alloc, task, env, self.env.node, self.env.node_ip), services
            )
        except ValueError as exc:
            kind = "nomad services" if build is build_nomad_registrations else "services"
            log.warning("allocation %s: %s not registered: %s", self.id, kind, exc)
            return None

    async def _register(self, task: str | None, services: list[Obj], env: dict[str, str]) -> None:
        await self._register_nomad(task, services, env)
        if self.env.consul is None or not services:
            return
        regs = self._built(build_registrations, task, services, env)
        if regs is None:
            return
        self.registrations[task] = regs
        for reg in regs:
            try:
                await self.env.consul.register(reg.payload)
            except ConsulError as exc:
                log.warning("allocation %s: %s", self.id, exc)

    async def _register_nomad(
        self, task: str | None, services: list[Obj], env: dict[str, str]
    ) -> None:
        if self.env.nomad_services is None or not services:
            return
        regs = self._built(build_nomad_registrations, task, services, env)
        if not regs:
            return
        self.nomad_registrations[task] = [str(r["ID"]) for r in regs]
        try:
            await self.env.nomad_services.sync_services(regs, [])
        except (ServerError, Unreachable) as exc:
            log.warning("allocation %s: nomad services not registered: %s", self.id, exc)

    async def _deregister(self, task: str | None) -> None:
        nomad_ids = self.nomad_registrations.pop(task, [])
        if nomad_ids and self.env.nomad_services is not None:
            try:
                await self.env.nomad_services.sync_services([], nomad_ids)
            except (ServerError, Unreachable) as exc:
                # the server drops them itself once the allocation reports it stopped
                log.debug("allocation %s: nomad services not removed: %s", self.id, exc)
        regs = self.registrations.pop(task, [])
        if self.env.consul is None:
            return
        for reg in regs:
            try:
                await self.env.consul.deregister(reg.service_id)
            except ConsulError as exc:
                log.warning("allocation %s: %s", self.id, exc)

    def _start_scripts(self, runner: TaskRunner) -> None:
        """Run the script checks that target this task (its own, and group checks naming it)."""
        if self.env.consul is None:
            return
        scripts = [
            s
            for regs in self.registrations.values()
            for r in regs
            for s in r.scripts
            if s.task == runner.name
        ]
        self._scripts[runner.name] = [
            asyncio.create_task(self._run_script(runner, s), name=f"script-{s.check_id[-8:]}")
            for s in scripts
        ]

    async def _run_script(self, runner: TaskRunner, script: ScriptCheck) -> None:
        assert self.env.consul is not None
        while runner.handle is not None:
            handle = runner.handle
            argv = [script.command, *script.args]
            try:
                code, output = await handle.exec(argv, script.timeout)
            except DriverError as exc:
                code, output = 2, str(exc)
            # Nomad's mapping of exit codes: 0 passing, 1 warning, anything else critical.
            status = "passing" if code == 0 else "warning" if code == 1 else "critical"
            try:
                await self.env.consul.update_ttl(script.check_id, status, output[-4096:])
            except ConsulError as exc:
                log.debug("script check %s: %s", script.check_id, exc)
            await asyncio.sleep(script.interval)

    async def _watch_checks(self, runner: TaskRunner, policies: list[CheckRestart]) -> None:
        """Nomad's check watcher: restart the task once a check has been unhealthy for
        `interval * (limit - 1)` after the `grace` period that follows each start."""
        assert self.env.consul is not None
        started = time.monotonic()
        since: dict[str, float] = {}
        while runner.running:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            if all(now - started < p.grace for p in policies):
                continue
            try:
                checks = await self.env.consul.agent_checks()
            except ConsulError:
                continue
            for policy in policies:
                if now - started < policy.grace:
                    continue
                status = (checks.get(policy.check_id) or {}).get("Status", "critical")
                bad = status == "critical" or (status == "warning" and not policy.ignore_warnings)
                if not bad:
                    since.pop(policy.check_id, None)
                    continue
                first = since.setdefault(policy.check_id, now)
                if now - first >= policy.interval * (policy.limit - 1):
                    log.info("task %s: check %r unhealthy; restarting", runner.name, policy.name)
                    self._check_watchers.pop(runner.name, None)
                    await runner.restart(
                        f"healthcheck: check {json.dumps(policy.name)} unhealthy", failure=True
                    )
                    return

    # --- deployment health --------------------------------------------------------------

    def _start_health(self) -> None:
        if not self.alloc.get("DeploymentID") or self.deployment_status is not None:
            return
        update = self.group.get("Update") or (self.alloc.get("Job") or {}).get("Update") or {}
        mode = str(update.get("HealthCheck") or "checks")
        if mode == "manual" or (self._health is not None and not self._health.done()):
            return
        self._health = asyncio.create_task(self._watch_health(update, mode))

    def _set_health(self, healthy: bool) -> None:
        canary = bool((self.alloc.get("DeploymentStatus") or {}).get("Canary"))
        self.deployment_status = {"Healthy": healthy, "Timestamp": rfc3339(), "Canary": canary}
        self._changed()

    async def _watch_health(self, update: Obj, mode: str) -> None:
        min_healthy = int(update.get("MinHealthyTime") or 10 * _NS) / _NS
        deadline = time.monotonic() + int(update.get("HealthyDeadline") or 300 * _NS) / _NS
        since: float | None = None
        while True:
            runners = [r for r in self.tasks.values() if r.hook != "poststop"]
            if any(r.state.failed for r in runners):
                self._set_health(False)
                return
            ok = all(
                r.running or (r.hook == "prestart" and not r.sidecar and r.done.is_set())
                for r in runners
            )
            if ok and mode == "checks":
                ok = await self._checks_passing()
            now = time.monotonic()
            if ok:
                since = since or now
                if now - since >= min_healthy:
                    self._set_health(True)
                    return
            else:
                since = None
            if now > deadline:
                self._set_health(False)
                return
            await asyncio.sleep(0.25)

    async def _checks_passing(self) -> bool:
        if self.env.consul is None:
            return True
        wanted = [c for regs in self.registrations.values() for r in regs for c in r.check_ids]
        expected_tasks = {r.name for r in self.tasks.values() if r.task.get("Services")}
        if not expected_tasks.issubset(k for k in self.registrations if k is not None):
            return False
        if not wanted:
            return True
        try:
            checks = await self.env.consul.agent_checks()
        except ConsulError:
            return False
        return all((checks.get(cid) or {}).get("Status") == "passing" for cid in wanted)

    # --- operations from the HTTP API ---------------------------------------------------

    async def restart_tasks(self, task: str | None, all_tasks: bool) -> None:
        targets = [self.tasks[task]] if task else list(self.tasks.values())
        if not all_tasks and not task:
            targets = [r for r in targets if r.running]
        await asyncio.gather(*(r.restart() for r in targets))

    async def signal_tasks(self, task: str | None, sig: int, name: str) -> None:
        targets = [self.tasks[task]] if task else [r for r in self.tasks.values() if r.running]
        for r in targets:
            await r.signal(sig, name)

    def destroy(self) -> None:
        self.env.store.delete_alloc(self.id)
        self.alloc_dir.destroy()
