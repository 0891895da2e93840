"""The Nomad server role: jobs, evaluations, placement, allocations, deployments, nodes,
behind Nomad's HTTP API and yurt's internal client protocol."""

from yurt.scheduler.config import SchedulerConfig
from yurt.scheduler.server import SchedulerServer

__all__ = ["SchedulerConfig", "SchedulerServer"]
