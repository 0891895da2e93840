"""A task's `identity { env = true, file = true }`: its workload identity handed to it as
Nomad hands it, in `NOMAD_TOKEN` and in `secrets/nomad_token` (or `filepath`, relative to
the task's directory), fetched from the scheduler with the node's secret before the task
starts. The token is what the task presents to the scheduler's API (its Variables, its
namespace's native services)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from yurt.client import events as ev
from yurt.client.alloc_runner import AllocRunner, ClientEnv, PrestartHook
from yurt.client.server_conn import ServerError, Unreachable
from yurt.client.task_runner import TaskRunner, TaskSetupError

TOKEN_FILE = "nomad_token"
TOKEN_ENV = "NOMAD_TOKEN"


def wanted(task: dict[str, Any]) -> tuple[bool, bool, str]:
    """(env, file, filepath) of the task's default identity."""
    ident = task.get("Identity") or {}
    return bool(ident.get("Env")), bool(ident.get("File")), str(ident.get("Filepath") or "")


def token_path(task_dir: Path, filepath: str) -> Path:
    """Where the token file goes; a `filepath` that leaves the task directory is refused."""
    if not filepath:
        return task_dir / "secrets" / TOKEN_FILE
    target = (task_dir / filepath).resolve()
    if not target.is_relative_to(task_dir.resolve()):
        raise ValueError(f"identity filepath {filepath!r} is outside the task directory")
    return target


class IdentityHook(PrestartHook):
    def __init__(self, env: ClientEnv) -> None:
        self.env = env

    async def prestart(self, alloc: AllocRunner, runner: TaskRunner) -> None:
        await self._provide(alloc, runner, write_file=True)

    async def recover(self, alloc: AllocRunner, runner: TaskRunner) -> None:
        # The file is still there; the environment is rebuilt for a later restart.
        await self._provide(alloc, runner, write_file=False)

    async def _provide(self, alloc: AllocRunner, runner: TaskRunner, *, write_file: bool) -> None:
        env, file, filepath = wanted(runner.task)
        if not (env or file):
            return
        conn = self.env.nomad_services
        if conn is None:
            raise TaskSetupError(
                ev.SETUP_FAILURE, "no scheduler to fetch the workload identity from"
            )
        try:
            token = await conn.identity(alloc.id, runner.name)
        except (ServerError, Unreachable) as exc:
            raise TaskSetupError(
                ev.SETUP_FAILURE,
                str(exc),
                SetupError=f"failed to fetch the task's workload identity: {exc}",
            ) from None
        if env:
            alloc.identity_env[runner.name] = {TOKEN_ENV: token}
        if file and write_file:
            try:
                path = token_path(alloc.alloc_dir.task(runner.name).root, filepath)
            except ValueError as exc:
                raise TaskSetupError(ev.SETUP_FAILURE, str(exc), SetupError=str(exc)) from None
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(token)
