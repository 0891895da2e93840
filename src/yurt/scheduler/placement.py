"""Where a task group can run and where it runs best.

Feasibility (node status, pool, datacenter, drivers, constraints, CPU, memory, ports), then
Nomad's ranking: shuffle, check a limited candidate set, score each by bin-packing (or
spread), job anti-affinity, reschedule penalty and affinities, keep the best.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import random
import time
from dataclasses import dataclass
from typing import Any

from yurt.scheduler import constraints
from yurt.scheduler.model import NODE_READY
from yurt.scheduler.usage import NodeUsage

Obj = dict[str, Any]

MIN_DYNAMIC_PORT = 20000
MAX_DYNAMIC_PORT = 32000


def computed_class(node: Obj) -> str:
    """Nodes alike in everything constraints can see share one feasibility answer."""
    key = {
        "dc": node.get("Datacenter"),
        "class": node.get("NodeClass"),
        "pool": node.get("NodePool"),
        "attrs": {k: v for k, v in (node.get("Attributes") or {}).items() if "unique." not in k},
        "meta": node.get("Meta"),
        "drivers": {
            k: bool(v.get("Detected") and v.get("Healthy"))
            for k, v in (node.get("Drivers") or {}).items()
        },
    }
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return "v1:" + str(int(digest[:15], 16))


def parse_port_list(text: str) -> set[int]:
    """ "22,80,8000-8010" -> the set of ports."""
    ports: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            ports.update(range(int(lo), int(hi) + 1))
        else:
            ports.add(int(part))
    return ports


def node_capacity(node: Obj) -> tuple[int, int]:
    res = node.get("NodeResources") or {}
    reserved = node.get("ReservedResources") or {}
    cpu = int((res.get("Cpu") or {}).get("CpuShares") or 0) - int(
        (reserved.get("Cpu") or {}).get("CpuShares") or 0
    )
    mem = int((res.get("Memory") or {}).get("MemoryMB") or 0) - int(
        (reserved.get("Memory") or {}).get("MemoryMB") or 0
    )
    return max(cpu, 0), max(mem, 0)


def reserved_ports(node: Obj) -> set[int]:
    nets = (node.get("ReservedResources") or {}).get("Networks") or {}
    return parse_port_list(str(nets.get("ReservedHostPorts") or ""))


def tg_ask(tg: Obj) -> tuple[int, int]:
    cpu = mem = 0
    for task in tg.get("Tasks") or []:
        res = task.get("Resources") or {}
        cpu += int(res.get("CPU") or 0)
        mem += int(res.get("MemoryMB") or 0)
    return cpu, mem


def tg_networks(tg: Obj) -> list[Obj]:
    nets = list(tg.get("Networks") or [])
    for task in tg.get("Tasks") or []:
        nets.extend((task.get("Resources") or {}).get("Networks") or [])
    return nets


def new_metrics(nodes_in_pool: int) -> Obj:
    return {
        "NodesEvaluated": 0,
        "NodesFiltered": 0,
        "NodesInPool": nodes_in_pool,
        "NodesAvailable": {},
        "ClassFiltered": None,
        "ConstraintFiltered": None,
        "NodesExhausted": 0,
        "ClassExhausted": None,
        "DimensionExhausted": None,
        "QuotaExhausted": None,
        "ResourcesExhausted": None,
        "Scores": None,
        "ScoreMetaData": None,
        "AllocationTime": 0,
        "CoalescedFailures": 0,
    }


def _bump(metrics: Obj, field_name: str, key: str) -> None:
    table = metrics.get(field_name) or {}
    table[key] = table.get(key, 0) + 1
    metrics[field_name] = table


def constraint_string(c: Obj) -> str:
    return f"{c.get('LTarget', '')} {c.get('Operand', '=')} {c.get('RTarget', '')}".strip()


@dataclass
class Placement:
    node: Obj
    ports: list[Obj]
    networks: list[Obj]
    metrics: Obj


class Placer:
    """Places the task groups of one evaluation, remembering what it placed so far."""

    def __init__(
        self,
        nodes: list[Obj],
        base_usage: dict[str, NodeUsage],
        *,
        algorithm: str = "binpack",
        rng: random.Random | None = None,
    ) -> None:
        self.nodes = nodes
        self.algorithm = algorithm
        self.rng = rng or random.Random()
        self.usage: dict[str, NodeUsage] = {}
        self._base_usage = base_usage
        self._class_cache: dict[tuple[int, str], str | None] = {}
        self._ready: dict[str, tuple[list[Obj], dict[str, int]]] = {}
        self._static: dict[str, tuple[int, int, set[int], int, int, str, str]] = {}
        self._tgs: dict[int, tuple[int, int, list[Obj], list[int], int]] = {}
        self._distinct: dict[int, list[Obj]] = {}
        self._offsets: dict[str, int] = {}

    def _shuffled(self, job: Obj) -> tuple[list[Obj], dict[str, int]]:
        """The job's ready nodes, shuffled once per evaluation, and how many per DC."""
        cached = self._ready.get(job["ID"])
        if cached is None:
            nodes = list(self.ready_nodes(job))
            self.rng.shuffle(nodes)
            available: dict[str, int] = {}
            for node in nodes:
                dc = node.get("Datacenter", "")
                available[dc] = available.get(dc, 0) + 1
            cached = (nodes, available)
            self._ready[job["ID"]] = cached
        return cached

    def usage_of(self, node_id: str) -> NodeUsage:
        """The node's usage as this plan sees it: the store's, plus what the plan changed
        (copied on first touch so that the store's stays as committed)."""
        usage = self.usage.get(node_id)
        if usage is None:
            base = self._base_usage.get(node_id)
            usage = base.copy() if base is not None else NodeUsage()
            self.usage[node_id] = usage
        return usage

    def ready_nodes(self, job: Obj) -> list[Obj]:
        dcs = job.get("Datacenters") or ["*"]
        pool = job.get("NodePool") or "default"
        out = []
        for node in self.nodes:
            if node.get("Status") != NODE_READY:
                continue
            if node.get("SchedulingEligibility", "eligible") != "eligible":
                continue
            if node.get("DrainStrategy") is not None:
                continue
            if pool != "all" and (node.get("NodePool") or "default") != pool:
                continue
            if not any(fnmatch.fnmatchcase(node.get("Datacenter", ""), dc) for dc in dcs):
                continue
            out.append(node)
        return out

    def _static_feasible(self, job: Obj, tg: Obj, node: Obj, metrics: Obj) -> bool:
        """Drivers and constraints: the same for every node of a computed class."""
        cls = node.get("ComputedClass") or computed_class(node)
        key = (id(tg), cls)
        has_unique = _mentions_unique(job, tg)
        if not has_unique and key in self._class_cache:
            reason = self._class_cache[key]
        else:
            reason = self._check_static(job, tg, node)
            if not has_unique:
                self._class_cache[key] = reason
        if reason is not None:
            metrics["NodesFiltered"] += 1
            _bump(metrics, "ConstraintFiltered", reason)
            if node.get("NodeClass"):
                _bump(metrics, "ClassFiltered", node["NodeClass"])
            return False
        return True

    def _check_static(self, job: Obj, tg: Obj, node: Obj) -> str | None:
        drivers = node.get("Drivers") or {}
        attrs = node.get("Attributes") or {}
        for task in tg.get("Tasks") or []:
            name = task.get("Driver", "")
            info = drivers.get(name)
            if info is not None:
                if not (info.get("Detected") and info.get("Healthy")):
                    return "missing drivers"
            elif str(attrs.get(f"driver.{name}", "")).lower() not in ("1", "true"):
                return "missing drivers"
        for c in _all_constraints(job, tg):
            if not constraints.check(c, node):
                return constraint_string(c)
        return None

    def _distinct_ok(self, job: Obj, tg: Obj, node: Obj, metrics: Obj) -> bool:
        key = id(tg)
        distinct = self._distinct.get(key)
        if distinct is None:
            distinct = [
                c
                for c in _all_constraints(job, tg)
                if c.get("Operand") in ("distinct_hosts", "distinct_property")
            ]
            self._distinct[key] = distinct
        if not distinct:
            return True
        usage = self.usage_of(node["ID"])
        for c in distinct:
            op = c.get("Operand")
            if op == "distinct_hosts" and str(c.get("RTarget", "true")).lower() != "false":
                job_level = c in (job.get("Constraints") or [])
                taken = (
                    usage.job_counts.get(job["ID"], 0)
                    if job_level
                    else usage.job_tg_counts.get((job["ID"], tg["Name"]), 0)
                )
                if taken > 0:
                    metrics["NodesFiltered"] += 1
                    _bump(metrics, "ConstraintFiltered", "distinct_hosts")
                    return False
            elif op == "distinct_property":
                value, ok = constraints.resolve_target(c.get("LTarget", ""), node)
                if not ok:
                    return False
                limit = int(c.get("RTarget") or 1)
                used = 0
                for other in self.nodes:
                    ov, ook = constraints.resolve_target(c.get("LTarget", ""), other)
                    if ook and ov == value:
                        used += self.usage_of(other["ID"]).job_tg_counts.get(
                            (job["ID"], tg["Name"]), 0
                        )
                if used >= limit:
                    metrics["NodesFiltered"] += 1
                    _bump(metrics, "ConstraintFiltered", "distinct_property")
                    return False
        return True

    def _node_static(self, node: Obj) -> tuple[int, int, set[int], int, int, str, str]:
        """What never changes during an evaluation: capacity, reserved ports, port range."""
        cached = self._static.get(node["ID"])
        if cached is None:
            cap_cpu, cap_mem = node_capacity(node)
            res = node.get("NodeResources") or {}
            cached = (
                cap_cpu,
                cap_mem,
                reserved_ports(node),
                int(res.get("MinDynamicPort") or MIN_DYNAMIC_PORT),
                int(res.get("MaxDynamicPort") or MAX_DYNAMIC_PORT),
                _node_ip(node),
                _node_device(node),
            )
            self._static[node["ID"]] = cached
        return cached

    def _tg_static(self, tg: Obj) -> tuple[int, int, list[Obj], list[int], int]:
        cached = self._tgs.get(id(tg))
        if cached is None:
            cpu, mem = tg_ask(tg)
            nets = tg_networks(tg)
            static = [int(p.get("Value") or 0) for n in nets for p in n.get("ReservedPorts") or []]
            dynamic = sum(len(n.get("DynamicPorts") or []) for n in nets)
            cached = (cpu, mem, nets, static, dynamic)
            self._tgs[id(tg)] = cached
        return cached

    def _fits(self, tg: Obj, node: Obj, metrics: Obj) -> bool:
        """CPU, memory and ports are free on the node (exhaustion counted in `metrics`)."""
        usage = self.usage_of(node["ID"])
        cap_cpu, cap_mem, reserved, lo, hi, _, _ = self._node_static(node)
        cpu, mem, nets, _static, dynamic = self._tg_static(tg)
        if usage.cpu + cpu > cap_cpu:
            metrics["NodesExhausted"] += 1
            _bump(metrics, "DimensionExhausted", "cpu")
            return False
        if usage.memory + mem > cap_mem:
            metrics["NodesExhausted"] += 1
            _bump(metrics, "DimensionExhausted", "memory")
            return False
        seen: set[int] = set()
        for net in nets:
            for p in net.get("ReservedPorts") or []:
                value = int(p.get("Value") or 0)
                if value in usage.ports or value in reserved or value in seen:
                    metrics["NodesExhausted"] += 1
                    _bump(
                        metrics,
                        "DimensionExhausted",
                        f"network: reserved port collision {p.get('Label')}={value}",
                    )
                    return False
                seen.add(value)
        if dynamic:
            taken = sum(1 for port in usage.ports | reserved | seen if lo <= port <= hi)
            if (hi - lo + 1) - taken < dynamic:
                metrics["NodesExhausted"] += 1
                _bump(metrics, "DimensionExhausted", "network: dynamic port selection failed")
                return False
        return True

    def _assign_ports(self, tg: Obj, node: Obj) -> tuple[list[Obj], list[Obj]]:
        """The ports and networks the chosen node gives the task group."""
        usage = self.usage_of(node["ID"])
        _, _, reserved, lo, hi, host_ip, device = self._node_static(node)
        _, _, nets, _, _ = self._tg_static(tg)
        taken = usage.ports | reserved
        ports: list[Obj] = []
        networks: list[Obj] = []
        for net in nets:
            reserved_out = []
            for p in net.get("ReservedPorts") or []:
                value = int(p.get("Value") or 0)
                taken.add(value)
                reserved_out.append(_port(p, value))
                ports.append(_shared_port(p, value, host_ip))
            dynamic_out = []
            for p in net.get("DynamicPorts") or []:
                picked = self._dynamic_port(taken, lo, hi)
                assert picked is not None  # _fits counted the free ports
                taken.add(picked)
                dynamic_out.append(_port(p, picked))
                ports.append(_shared_port(p, picked, host_ip))
            networks.append(
                {
                    "Mode": net.get("Mode") or "host",
                    "Device": device,
                    "CIDR": "",
                    "IP": host_ip,
                    "Hostname": net.get("Hostname", ""),
                    "MBits": int(net.get("MBits") or 0),
                    "DNS": net.get("DNS"),
                    "ReservedPorts": reserved_out or None,
                    "DynamicPorts": dynamic_out or None,
                }
            )
        return ports, networks

    def _dynamic_port(self, taken: set[int], lo: int, hi: int) -> int | None:
        for _ in range(20):
            value = self.rng.randint(lo, hi)
            if value not in taken:
                return value
        for value in range(lo, hi + 1):
            if value not in taken:
                return value
        return None

    def place(
        self,
        job: Obj,
        tg: Obj,
        *,
        penalty_nodes: set[str] | None = None,
        only_node: Obj | None = None,
    ) -> tuple[Placement | None, Obj]:
        """Pick the best node for one instance of `tg` (or check `only_node`, for system
        jobs). Returns the placement (None if nothing fits) and Nomad's AllocMetric."""
        started = time.perf_counter_ns()
        metrics = new_metrics(len(self.nodes))
        if only_node is not None:
            candidates = [only_node]
            metrics["NodesAvailable"] = {only_node.get("Datacenter", ""): 1}
        else:
            candidates, available = self._shuffled(job)
            metrics["NodesAvailable"] = dict(available)
            # Like Nomad's iterator, each placement goes on from where the last one stopped,
            # so one shuffle serves the whole evaluation.
            offset = self._offsets.get(job["ID"], 0) % max(len(candidates), 1)
            candidates = candidates[offset:] + candidates[:offset]
        affinities = _all_affinities(job, tg)
        spreads = list(job.get("Spreads") or []) + list(tg.get("Spreads") or [])
        spread_counts = self._spread_counts(job, tg, spreads) if spreads else []
        if affinities or spreads:
            limit = 100
        elif job.get("Type") == "batch":
            limit = 2
        else:
            limit = max(2, math.ceil(math.log2(max(len(candidates), 1))))
        best: tuple[float, Obj, Obj] | None = None
        scored = 0
        score_meta: list[Obj] = []
        for node in candidates:
            metrics["NodesEvaluated"] += 1
            if not self._static_feasible(job, tg, node, metrics):
                continue
            if not self._distinct_ok(job, tg, node, metrics):
                continue
            if not self._fits(tg, node, metrics):
                continue
            scores = self._score(job, tg, node, affinities, penalty_nodes or set())
            if spreads:
                scores["allocation-spread"] = _spread_score(spreads, spread_counts, tg, node)
            norm = sum(scores.values()) / len(scores)
            score_meta.append({"NodeID": node["ID"], "Scores": scores, "NormScore": norm})
            scored += 1
            if best is None or norm > best[0]:
                best = (norm, node, scores)
            if scored >= limit:
                break
        if only_node is None:
            self._offsets[job["ID"]] = self._offsets.get(job["ID"], 0) + metrics["NodesEvaluated"]
        score_meta.sort(key=lambda s: -float(s["NormScore"]))
        metrics["ScoreMetaData"] = score_meta[:5] or None
        metrics["AllocationTime"] = time.perf_counter_ns() - started
        if best is None:
            return None, metrics
        _, node, _scores = best
        ports, networks = self._assign_ports(tg, node)
        return Placement(node=node, ports=ports, networks=networks, metrics=metrics), metrics

    def _score(
        self, job: Obj, tg: Obj, node: Obj, affinities: list[Obj], penalty_nodes: set[str]
    ) -> dict[str, float]:
        usage = self.usage_of(node["ID"])
        cap_cpu, cap_mem = self._node_static(node)[:2]
        cpu, mem = self._tg_static(tg)[:2]
        free_cpu = 1 - (usage.cpu + cpu) / cap_cpu if cap_cpu else 0.0
        free_mem = 1 - (usage.memory + mem) / cap_mem if cap_mem else 0.0
        total = 10**free_cpu + 10**free_mem
        raw = total - 2 if self.algorithm == "spread" else 20 - total
        scores: dict[str, float] = {"binpack": min(max(raw, 0.0), 18.0) / 18.0}
        collisions = usage.job_tg_counts.get((job["ID"], tg["Name"]), 0)
        if collisions > 0:
            count = max(int(tg.get("Count") or 1), 1)
            scores["job-anti-affinity"] = -1.0 * (collisions + 1) / count
        if node["ID"] in penalty_nodes:
            scores["node-reschedule-penalty"] = -1.0
        if affinities:
            total_weight = sum(abs(int(a.get("Weight") or 50)) for a in affinities)
            matched = sum(
                int(a.get("Weight") or 50)
                for a in affinities
                if constraints.check(
                    {
                        "LTarget": a.get("LTarget"),
                        "RTarget": a.get("RTarget"),
                        "Operand": a.get("Operand"),
                    },
                    node,
                )
            )
            if total_weight and matched:
                scores["node-affinity"] = matched / total_weight
        return scores

    def _spread_counts(self, job: Obj, tg: Obj, spreads: list[Obj]) -> list[dict[str, int]]:
        """For each spread, how many of the group's allocations each attribute value has
        (every value a ready node has is listed, with 0 when it has none)."""
        key = (job["ID"], tg["Name"])
        out: list[dict[str, int]] = []
        ready = self._shuffled(job)[0]
        for spread in spreads:
            counts: dict[str, int] = {}
            for node in ready:
                value, ok = constraints.resolve_target(spread.get("Attribute", ""), node)
                if not ok or value is None:
                    continue
                counts[value] = counts.get(value, 0) + self.usage_of(node["ID"]).job_tg_counts.get(
                    key, 0
                )
            out.append(counts)
        return out

    def commit(self, node_id: str, alloc: Obj) -> None:
        self.usage_of(node_id).add(alloc)

    def release(self, node_id: str, alloc: Obj) -> None:
        self.usage_of(node_id).remove(alloc)


def _all_constraints(job: Obj, tg: Obj) -> list[Obj]:
    out = list(job.get("Constraints") or []) + list(tg.get("Constraints") or [])
    for task in tg.get("Tasks") or []:
        out.extend(task.get("Constraints") or [])
    return out


def _all_affinities(job: Obj, tg: Obj) -> list[Obj]:
    out = list(job.get("Affinities") or []) + list(tg.get("Affinities") or [])
    for task in tg.get("Tasks") or []:
        out.extend(task.get("Affinities") or [])
    return out


def _mentions_unique(job: Obj, tg: Obj) -> bool:
    for c in _all_constraints(job, tg):
        if "unique." in str(c.get("LTarget", "")) + str(c.get("RTarget", "")):
            return True
    return False


def _node_ip(node: Obj) -> str:
    nets = (node.get("NodeResources") or {}).get("Networks") or []
    for net in nets:
        if net.get("IP"):
            return str(net["IP"])
    attrs = node.get("Attributes") or {}
    return str(attrs.get("unique.network.ip-address", "127.0.0.1"))


def _node_device(node: Obj) -> str:
    nets = (node.get("NodeResources") or {}).get("Networks") or []
    for net in nets:
        if net.get("Device"):
            return str(net["Device"])
    return ""


def _port(p: Obj, value: int) -> Obj:
    return {
        "Label": p.get("Label", ""),
        "Value": value,
        "To": int(p.get("To") or 0),
        "HostNetwork": p.get("HostNetwork") or "default",
    }


def _shared_port(p: Obj, value: int, host_ip: str) -> Obj:
    return {
        "Label": p.get("Label", ""),
        "Value": value,
        "To": int(p.get("To") or 0),
        "HostIP": host_ip,
    }


def _spread_score(spreads: list[Obj], counts: list[dict[str, int]], tg: Obj, node: Obj) -> float:
    """Nomad's spread boost: towards each target's share of the group's count, or towards
    an even spread over the attribute's values when no targets are given; weighted."""
    total_weight = sum(abs(int(s.get("Weight") or 50)) for s in spreads) or 1
    desired_total = max(int(tg.get("Count") or 1), 1)
    score = 0.0
    for spread, per_value in zip(spreads, counts, strict=True):
        weight = int(spread.get("Weight") or 50) / total_weight
        value, ok = constraints.resolve_target(spread.get("Attribute", ""), node)
        if not ok or value is None:
            score -= weight
            continue
        used = per_value.get(value, 0)
        targets = spread.get("SpreadTarget") or []
        if targets:
            percent = next(
                (float(t.get("Percent") or 0) for t in targets if t.get("Value") == value), None
            )
            if percent is None:
                named = sum(float(t.get("Percent") or 0) for t in targets)
                percent = max(100.0 - named, 0.0)
            desired = percent / 100.0 * desired_total
            boost = -1.0 if desired <= 0 else (desired - used) / desired
        else:
            low, high = min(per_value.values()), max(per_value.values())
            boost = 0.0 if high == low else ((high - used) / (high - low)) * 2 - 1
        score += max(min(boost, 1.0), -1.0) * weight
    return score
