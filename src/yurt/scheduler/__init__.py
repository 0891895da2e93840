"""The Nomad server role: jobs, evaluations, placement, allocations, deployments, nodes,
behind Nomad's HTTP API and yurt's internal client protocol.

`SchedulerConfig` and `SchedulerServer` load lazily, so that the pure core (structs,
reconcile, placement) imports without the server, aiohttp or sqlite3."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yurt import lazy

if TYPE_CHECKING:
    from yurt.scheduler.config import SchedulerConfig
    from yurt.scheduler.server import SchedulerServer

_EXPORTS = {"SchedulerConfig": "yurt.scheduler.config", "SchedulerServer": "yurt.scheduler.server"}

__all__ = ["SchedulerConfig", "SchedulerServer"]


def __getattr__(name: str) -> object:
    return lazy.load(__name__, _EXPORTS, name)
