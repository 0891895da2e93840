"""What every yurt component is to the process that runs it."""

from __future__ import annotations

from typing import Protocol


class Component(Protocol):
    """A server role (catalog, scheduler, client, router) with its own listeners and tasks.

    `start` returns once the component serves its API; `stop` releases everything it holds
    (listeners, background tasks, child processes it must stop) and is safe to call twice.
    """

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
