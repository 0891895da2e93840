"""Every state change of the scheduler, composed from one module per concept.

| concept                                   | module              |
|-------------------------------------------|---------------------|
| register, deregister, evaluate, scale,    | `ops_jobs`          |
| revert, stable                            |                     |
| periodic launches, dispatch               | `ops_periodic`      |
| deployment watcher, promote, pause, fail  | `ops_deployments`   |
| node register, heartbeat, down,           | `ops_nodes`         |
| eligibility, drain                        |                     |
| allocation stop, client updates           | `ops_allocations`   |
| evaluation processing, plan apply, plan   | `ops_evaluations`   |
| native service registrations              | `ops_services`      |
| Nomad Variables and their locks           | `ops_variables`     |

Each operation is one SQLite transaction and returns only after its commit, then hands new
pending evaluations to the broker. Refusals are `yurt.scheduler.errors` exceptions; the HTTP
API maps them to status codes.
"""

from __future__ import annotations

from yurt.scheduler.ops_allocations import AllocationOps
from yurt.scheduler.ops_base import TRACKED_VERSIONS, spec_of
from yurt.scheduler.ops_evaluations import EvaluationOps
from yurt.scheduler.ops_periodic import PeriodicOps
from yurt.scheduler.ops_services import ServiceOps
from yurt.scheduler.ops_variables import VariableOps

__all__ = ["TRACKED_VERSIONS", "Operations", "spec_of"]


class Operations(AllocationOps, PeriodicOps, EvaluationOps, ServiceOps, VariableOps):
    """The scheduler's operations, one object for the server, its API and its loops."""
