"""What allocations take on a node: CPU, memory, ports, and how many per job and group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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
        for port in (res.get("Shared") or {}).get("Ports") or []:
            self.ports.add(int(port.get("Value") or 0))
        key = (alloc["JobID"], alloc["TaskGroup"])
        self.job_tg_counts[key] = self.job_tg_counts.get(key, 0) + 1
        self.job_counts[alloc["JobID"]] = self.job_counts.get(alloc["JobID"], 0) + 1

    def remove(self, alloc: Mapping[str, Any]) -> None:
        res = alloc.get("AllocatedResources") or {}
        for task in (res.get("Tasks") or {}).values():
            self.cpu -= int(((task.get("Cpu") or {}).get("CpuShares")) or 0)
            self.memory -= int(((task.get("Memory") or {}).get("MemoryMB")) or 0)
        for port in (res.get("Shared") or {}).get("Ports") or []:
            self.ports.discard(int(port.get("Value") or 0))
        key = (alloc["JobID"], alloc["TaskGroup"])
        self.job_tg_counts[key] = self.job_tg_counts.get(key, 1) - 1
        self.job_counts[alloc["JobID"]] = self.job_counts.get(alloc["JobID"], 1) - 1

    def copy(self) -> NodeUsage:
        return NodeUsage(
            cpu=self.cpu,
            memory=self.memory,
            ports=set(self.ports),
            job_tg_counts=dict(self.job_tg_counts),
            job_counts=dict(self.job_counts),
        )
