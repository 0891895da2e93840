"""What allocations take on a node: CPU, memory, ports, and how many per job and group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from yurt.scheduler.alloc_pack import port_values


@dataclass
class NodeUsage:
    """What is taken on a node: by running allocations plus those placed in this plan."""

    cpu: int = 0
    memory: int = 0
    ports: set[int] = field(default_factory=set)
    job_tg_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    job_counts: dict[str, int] = field(default_factory=dict)

    def add(self, alloc: Mapping[str, Any]) -> None:
        res = alloc.get("AllocatedResources") or {}
        for task in (res.get("Tasks") or {}).values():
            self.cpu += int(((task.get("Cpu") or {}).get("CpuShares")) or 0)
            self.memory += int(((task.get("Memory") or {}).get("MemoryMB")) or 0)
        self.ports.update(port_values(alloc))
        key = _group_key(alloc["JobID"], alloc["TaskGroup"])
        self.job_tg_counts[key] = self.job_tg_counts.get(key, 0) + 1
        self.job_counts[alloc["JobID"]] = self.job_counts.get(alloc["JobID"], 0) + 1

    def remove(self, alloc: Mapping[str, Any]) -> None:
        res = alloc.get("AllocatedResources") or {}
        for task in (res.get("Tasks") or {}).values():
            self.cpu -= int(((task.get("Cpu") or {}).get("CpuShares")) or 0)
            self.memory -= int(((task.get("Memory") or {}).get("MemoryMB")) or 0)
        self.ports.difference_update(port_values(alloc))
        # a count back to zero goes, so that a node's tables hold only what runs there
        _decrement(self.job_tg_counts, (alloc["JobID"], alloc["TaskGroup"]))
        _decrement(self.job_counts, alloc["JobID"])

    def copy(self) -> NodeUsage:
        return NodeUsage(
            cpu=self.cpu,
            memory=self.memory,
            ports=set(self.ports),
            job_tg_counts=dict(self.job_tg_counts),
            job_counts=dict(self.job_counts),
        )


# One (job, group) key tuple shared by every node's table: each node would otherwise hold
# its own copy, one per allocation when a job spreads one per node. Bounded: past the bound
# it starts again (sharing is only a saving).
_GROUP_KEYS: dict[tuple[str, str], tuple[str, str]] = {}
_GROUP_KEYS_MAX = 65_536


def _group_key(job_id: str, group: str) -> tuple[str, str]:
    key = (job_id, group)
    shared = _GROUP_KEYS.get(key)
    if shared is None:
        if len(_GROUP_KEYS) >= _GROUP_KEYS_MAX:
            _GROUP_KEYS.clear()
        shared = _GROUP_KEYS[key] = key
    return shared


def _decrement(counts: dict[Any, int], key: Any) -> None:
    left = counts.get(key, 1) - 1
    if left:
        counts[key] = left
    else:
        counts.pop(key, None)
