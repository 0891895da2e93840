"""`template` blocks (placeholder until the consul-template subset lands)."""

from __future__ import annotations

from yurt.client.alloc_runner import AllocRunner, ClientEnv, PrestartHook
from yurt.client.task_runner import TaskRunner


class TemplateHook(PrestartHook):
    def __init__(self, env: ClientEnv) -> None:
        self.env = env

    async def prestart(self, alloc: AllocRunner, runner: TaskRunner) -> None:
        return None
