"""Where a task group can run and where it runs best.

Nomad's generic stack: the job's ready nodes in a random order drawn once per evaluation,
each placement going on from where the last one
stopped; feasibility checked node by node as the order reaches it (drivers and constraints
once per computed node class, resources and ports per node); only a limited number of
feasible nodes scored (see `rank.candidate_limit`), the best of them taken. The cost of a
placement therefore follows the limit, not the number of nodes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from yurt.scheduler import constraints, rank
from yurt.scheduler.feasible import (
    MAX_DYNAMIC_PORT as MAX_DYNAMIC_PORT,
)
from yurt.scheduler.feasible import (
    MIN_DYNAMIC_PORT as MIN_DYNAMIC_PORT,
)
from yurt.scheduler.feasible import (
    NodeFacts,
    Scope,
    all_affinities,
    all_constraints,
    class_reason,
    job_scope,
    mentions_unique,
    view_of,
)
from yurt.scheduler.feasible import (
    computed_class as computed_class,
)
from yurt.scheduler.feasible import (
    constraint_string as constraint_string,
)
from yurt.scheduler.feasible import (
    node_capacity as node_capacity,
)
from yurt.scheduler.feasible import (
    parse_port_list as parse_port_list,
)
from yurt.scheduler.feasible import (
    reserved_ports as reserved_ports,
)
from yurt.scheduler.structs import (
    Affinity,
    Allocation,
    AllocMetric,
    Constraint,
    Job,
    NetworkResource,
    Node,
    Port,
    Spread,
    TaskGroup,
)
from yurt.scheduler.usage import NodeUsage

# Nomad keeps the five best scores of a placement in its AllocMetric.
SCORES_KEPT = 5

_NO_USAGE = NodeUsage()  # read-only: what a node without allocations uses


def tg_ask(tg: TaskGroup) -> tuple[int, int]:
    cpu = mem = 0
    for task in tg.get("Tasks") or []:
        res = task.get("Resources") or {}
        cpu += int(res.get("CPU") or 0)
        mem += int(res.get("MemoryMB") or 0)
    return cpu, mem


def tg_networks(tg: TaskGroup) -> list[NetworkResource]:
    nets = list(tg.get("Networks") or [])
    for task in tg.get("Tasks") or []:
        nets.extend((task.get("Resources") or {}).get("Networks") or [])
    return nets


def new_metrics(nodes_in_pool: int) -> AllocMetric:
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


_Tallied = Literal["ClassFiltered", "ConstraintFiltered", "DimensionExhausted"]


def _bump(metrics: AllocMetric, field_name: _Tallied, key: str) -> None:
    table = metrics.get(field_name) or {}
    table[key] = table.get(key, 0) + 1
    metrics[field_name] = table


@dataclass
class Placement:
    node: Node
    # the group's networks with the node's IP and the ports picked (Nomad's
    # AllocatedResources.Shared.Ports are derived from them: alloc_pack)
    networks: list[NetworkResource]
    metrics: AllocMetric


@dataclass(slots=True)
class _Distinct:
    constraint: Constraint
    operand: str
    job_level: bool


@dataclass(slots=True)
class _Group:
    """What one task group asks, worked out once per evaluation."""

    tg: TaskGroup
    key: tuple[str, str]
    count: int
    cpu: int
    memory: int
    networks: list[NetworkResource]
    static_ports: list[tuple[Port, int]]
    dynamic: int
    checks: list[Constraint]
    escaped: bool
    distinct: list[_Distinct]
    affinities: list[Affinity]
    affinity_weights: list[int]
    spreads: list[Spread]
    # computed class -> why the group cannot run there (None: it can), for this evaluation
    classes: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def of(cls, job: Job, tg: TaskGroup) -> _Group:
        cpu, mem = tg_ask(tg)
        nets = tg_networks(tg)
        checks = all_constraints(job, tg)
        job_checks = job.get("Constraints") or []
        distinct = [
            _Distinct(c, str(c.get("Operand")), any(c is j or c == j for j in job_checks))
            for c in checks
            if c.get("Operand") in ("distinct_hosts", "distinct_property")
        ]
        affinities = all_affinities(job, tg)
        return cls(
            tg=tg,
            key=(job["ID"], tg["Name"]),
            count=max(int(tg.get("Count") or 1), 1),
            cpu=cpu,
            memory=mem,
            networks=nets,
            static_ports=[
                (p, int(p.get("Value") or 0)) for n in nets for p in n.get("ReservedPorts") or []
            ],
            dynamic=sum(len(n.get("DynamicPorts") or []) for n in nets),
            checks=checks,
            escaped=mentions_unique(checks),
            distinct=distinct,
            affinities=affinities,
            affinity_weights=[int(a.get("Weight") or 50) for a in affinities],
            spreads=list(job.get("Spreads") or []) + list(tg.get("Spreads") or []),
        )


@dataclass(slots=True)
class _Tally:
    """How many of a group's allocations each value of a node attribute holds, kept up
    to date as the plan places and stops allocations (spread and distinct_property)."""

    key: tuple[str, str]
    values: dict[str, str]  # node ID -> the attribute's value
    counts: dict[str, int]


class Placer:
    """Places the task groups of one evaluation, remembering what it placed so far."""

    def __init__(
        self,
        nodes: list[Node],
        base_usage: Mapping[str, NodeUsage],
        *,
        algorithm: str = "binpack",
        rng: random.Random | None = None,
    ) -> None:
        self.nodes = nodes
        # one int object for every placement's metrics (they are stored sharing it)
        self._in_pool = len(nodes)
        self.algorithm = algorithm
        self._spread_fit = algorithm == "spread"
        self.rng = rng or random.Random()
        # The plan's own view of usage: a node's is copied from the store's on first change.
        self.usage: dict[str, NodeUsage] = {}
        self._base_usage = base_usage
        self._view = view_of(nodes)
        self._groups: dict[int, _Group] = {}
        self._orders: dict[Scope, rank.Shuffled[Node]] = {}
        self._offsets: dict[Scope, int] = {}
        self._available: dict[Scope, dict[str, int]] = {}
        self._tallies: dict[tuple[str, str, str, str], _Tally] = {}

    # usage -----------------------------------------------------------------------------

    def usage_of(self, node_id: str) -> NodeUsage:
        """The node's usage as this plan may change it: the store's, copied on first touch
        so that the store's stays as committed."""
        usage = self.usage.get(node_id)
        if usage is None:
            base = self._base_usage.get(node_id)
            usage = base.copy() if base is not None else NodeUsage()
            self.usage[node_id] = usage
        return usage

    def _read(self, node_id: str) -> NodeUsage:
        """The node's usage as this plan sees it, without copying (read only)."""
        usage = self.usage.get(node_id)
        if usage is None:
            usage = self._base_usage.get(node_id, _NO_USAGE)
        return usage

    def commit(self, node_id: str, alloc: Allocation) -> None:
        self.usage_of(node_id).add(alloc)
        self._retally(node_id, alloc, 1)

    def release(self, node_id: str, alloc: Allocation) -> None:
        self.usage_of(node_id).remove(alloc)
        self._retally(node_id, alloc, -1)

    def _retally(self, node_id: str, alloc: Allocation, delta: int) -> None:
        key = (alloc.get("JobID"), alloc.get("TaskGroup"))
        for tally in self._tallies.values():
            if tally.key == key:
                value = tally.values.get(node_id)
                if value is not None:
                    tally.counts[value] = tally.counts.get(value, 0) + delta

    def _tally(self, key: tuple[str, str], scope: Scope | None, target: str) -> _Tally:
        """The per-value counts of the group's allocations for `target` over the nodes in
        `scope` (every node when None): one pass per evaluation, then kept incrementally."""
        scope_key = "\x00".join(scope[0]) + "\x01" + scope[1] if scope is not None else ""
        tkey = (key[0], key[1], scope_key, target)
        tally = self._tallies.get(tkey)
        if tally is None:
            values = self._view.values(scope, target)
            counts = dict.fromkeys(values.values(), 0) if scope is not None else {}
            for node_id, value in values.items():
                used = self._read(node_id).job_tg_counts.get(key, 0)
                if used:
                    counts[value] = counts.get(value, 0) + used
            tally = _Tally(key, values, counts)
            self._tallies[tkey] = tally
        return tally

    # nodes -----------------------------------------------------------------------------

    def ready_nodes(self, job: Job) -> list[Node]:
        return list(self._view.ready_nodes(job_scope(job)))

    def _order(self, scope: Scope) -> rank.Shuffled[Node]:
        """The scope's ready nodes in this evaluation's random order (one order per
        evaluation, as Nomad's stack shuffles once; drawn as far as placements read)."""
        order = self._orders.get(scope)
        if order is None:
            order = rank.Shuffled(self._view.ready_nodes(scope), self.rng)
            self._orders[scope] = order
        return order

    def _group(self, job: Job, tg: TaskGroup) -> _Group:
        group = self._groups.get(id(tg))
        if group is None or group.tg is not tg:
            group = _Group.of(job, tg)
            self._groups[id(tg)] = group
        return group

    # feasibility -----------------------------------------------------------------------

    def _class_feasible(self, g: _Group, facts: NodeFacts, metrics: AllocMetric) -> bool:
        """Drivers and constraints: one answer per computed class, unless a check escapes
        to a `unique.` attribute."""
        if g.escaped:
            reason = class_reason(g.tg, g.checks, facts.node)
        else:
            cls = facts.computed_class
            if cls in g.classes:
                reason = g.classes[cls]
            else:
                reason = g.classes[cls] = class_reason(g.tg, g.checks, facts.node)
        if reason is None:
            return True
        metrics["NodesFiltered"] += 1
        _bump(metrics, "ConstraintFiltered", reason)
        if facts.node_class:
            _bump(metrics, "ClassFiltered", facts.node_class)
        return False

    def _distinct_ok(self, g: _Group, facts: NodeFacts, metrics: AllocMetric) -> bool:
        node_id = facts.node["ID"]
        for d in g.distinct:
            c = d.constraint
            if d.operand == "distinct_hosts":
                if str(c.get("RTarget", "true")).lower() == "false":
                    continue
                usage = self._read(node_id)
                taken = (
                    usage.job_counts.get(g.key[0], 0)
                    if d.job_level
                    else (usage.job_tg_counts.get(g.key, 0))
                )
                if taken > 0:
                    metrics["NodesFiltered"] += 1
                    _bump(metrics, "ConstraintFiltered", "distinct_hosts")
                    return False
            else:
                tally = self._tally(g.key, None, str(c.get("LTarget", "")))
                value = tally.values.get(node_id)
                if value is None:
                    return False
                if tally.counts.get(value, 0) >= int(c.get("RTarget") or 1):
                    metrics["NodesFiltered"] += 1
                    _bump(metrics, "ConstraintFiltered", "distinct_property")
                    return False
        return True

    def _fits(self, g: _Group, facts: NodeFacts, usage: NodeUsage, metrics: AllocMetric) -> bool:
        """CPU, memory and ports are free on the node (exhaustion counted in `metrics`)."""
        if usage.cpu + g.cpu > facts.cpu:
            metrics["NodesExhausted"] += 1
            _bump(metrics, "DimensionExhausted", "cpu")
            return False
        if usage.memory + g.memory > facts.memory:
            metrics["NodesExhausted"] += 1
            _bump(metrics, "DimensionExhausted", "memory")
            return False
        seen: set[int] = set()
        for p, value in g.static_ports:
            if value in usage.ports or value in facts.reserved or value in seen:
                metrics["NodesExhausted"] += 1
                _bump(
                    metrics,
                    "DimensionExhausted",
                    f"network: reserved port collision {p.get('Label')}={value}",
                )
                return False
            seen.add(value)
        if g.dynamic:
            lo, hi = facts.port_lo, facts.port_hi
            room = hi - lo + 1
            # Counting the taken ports in range needs a pass over them; the sizes bound it
            # from above, which settles the common case of a node with room to spare.
            if room - len(usage.ports) - len(facts.reserved) - len(seen) < g.dynamic:
                taken = sum(1 for port in usage.ports | facts.reserved | seen if lo <= port <= hi)
                if room - taken < g.dynamic:
                    metrics["NodesExhausted"] += 1
                    _bump(metrics, "DimensionExhausted", "network: dynamic port selection failed")
                    return False
        return True

    # ranking ---------------------------------------------------------------------------

    def _score(
        self, g: _Group, facts: NodeFacts, usage: NodeUsage, scope: Scope, penalty_nodes: set[str]
    ) -> rank.Ranked[NodeFacts]:
        node = facts.node
        scores = {
            "binpack": rank.binpack_score(
                usage.cpu + g.cpu,
                usage.memory + g.memory,
                facts.cpu,
                facts.memory,
                spread=self._spread_fit,
            )
        }
        collisions = usage.job_tg_counts.get(g.key, 0) if usage.job_tg_counts else 0
        if collisions:
            anti = rank.anti_affinity_score(collisions, g.count)
            if anti is not None:
                scores["job-anti-affinity"] = anti
        if penalty_nodes and node["ID"] in penalty_nodes:
            scores["node-reschedule-penalty"] = -1.0
        if g.affinities:
            matched = [constraints.check(a, node) for a in g.affinities]
            affinity = rank.affinity_score(g.affinity_weights, matched)
            if affinity is not None:
                scores["node-affinity"] = affinity
        if g.spreads:
            counts: list[dict[str, int]] = []
            values: list[str | None] = []
            for spread in g.spreads:
                attribute = str(spread.get("Attribute", ""))
                counts.append(self._tally(g.key, scope, attribute).counts)
                value, ok = constraints.resolve_target(attribute, node)
                values.append(value if ok else None)
            scores["allocation-spread"] = rank.spread_score(g.spreads, counts, values, g.count)
        # A lone score is its own mean: the same float object, one less per kept score.
        final = scores["binpack"] if len(scores) == 1 else sum(scores.values()) / len(scores)
        return rank.Ranked(facts, scores, final)

    def _feasible(
        self,
        g: _Group,
        candidates: Iterator[Node],
        scope: Scope,
        metrics: AllocMetric,
        penalty_nodes: set[str],
    ) -> Iterator[rank.Ranked[NodeFacts]]:
        """The candidates that can take the group, scored, in the order given."""
        facts_of, planned, base = self._view.facts, self.usage, self._base_usage
        for node in candidates:
            metrics["NodesEvaluated"] += 1
            facts = facts_of(node)
            if not self._class_feasible(g, facts, metrics):
                continue
            if g.distinct and not self._distinct_ok(g, facts, metrics):
                continue
            node_id = node["ID"]
            usage = planned.get(node_id) or base.get(node_id, _NO_USAGE)
            if not self._fits(g, facts, usage, metrics):
                continue
            yield self._score(g, facts, usage, scope, penalty_nodes)

    def _walk(self, scope: Scope) -> Iterator[Node]:
        """One pass over the scope's nodes, starting where the last placement stopped (as
        Nomad's source iterator does), so that one random order serves the evaluation."""
        return self._order(scope).walk(self._offsets.get(scope, 0))

    def place(
        self,
        job: Job,
        tg: TaskGroup,
        *,
        penalty_nodes: set[str] | None = None,
        only_node: Node | None = None,
    ) -> tuple[Placement | None, AllocMetric]:
        """Pick the best node for one instance of `tg` (or check `only_node`, for system
        jobs). Returns the placement (None if nothing fits) and Nomad's AllocMetric."""
        started = time.perf_counter_ns()
        metrics = new_metrics(self._in_pool)
        g = self._group(job, tg)
        scope = job_scope(job)
        candidates: Iterator[Node]
        if only_node is not None:
            candidates = iter((only_node,))
            metrics["NodesAvailable"] = {only_node.get("Datacenter", ""): 1}
            limit = 1
        else:
            ready, per_dc = self._view.ready(scope)
            # One copy per evaluation, shared by its placements' metrics (read only).
            available = self._available.get(scope)
            if available is None:
                available = self._available[scope] = dict(per_dc)
            metrics["NodesAvailable"] = available
            candidates = self._walk(scope)
            limit = rank.candidate_limit(
                str(job.get("Type") or "service"),
                ready,
                preferences=bool(g.affinities or g.spreads),
                count=g.count,
            )
        feasible = self._feasible(g, candidates, scope, metrics, penalty_nodes or set())
        top, seen = rank.best(rank.limited(feasible, limit))
        if only_node is None:
            self._offsets[scope] = self._offsets.get(scope, 0) + metrics["NodesEvaluated"]
        seen.sort(key=lambda r: -r.final)
        metrics["ScoreMetaData"] = [
            {"NodeID": r.option.node["ID"], "Scores": r.scores, "NormScore": r.final}
            for r in seen[:SCORES_KEPT]
        ] or None
        metrics["AllocationTime"] = time.perf_counter_ns() - started
        if top is None:
            return None, metrics
        networks = self._assign_ports(g, top.option)
        return Placement(node=top.option.node, networks=networks, metrics=metrics), metrics

    # ports -----------------------------------------------------------------------------

    def _assign_ports(self, g: _Group, facts: NodeFacts) -> list[NetworkResource]:
        """The networks the chosen node gives the task group, with their ports."""
        usage = self._read(facts.node["ID"])
        taken = usage.ports | facts.reserved
        networks: list[NetworkResource] = []
        for net in g.networks:
            reserved_out = []
            for p in net.get("ReservedPorts") or []:
                value = int(p.get("Value") or 0)
                taken.add(value)
                reserved_out.append(_port(p, value))
            dynamic_out = []
            for p in net.get("DynamicPorts") or []:
                picked = self._dynamic_port(taken, facts.port_lo, facts.port_hi)
                assert picked is not None  # _fits counted the free ports
                taken.add(picked)
                dynamic_out.append(_port(p, picked))
            # As Nomad's AllocatedPortsToNetworkResource: the ask as the job gave it (its
            # Mode and Device too), with the ports picked and the node's host IP.
            networks.append(
                {
                    "Mode": net.get("Mode") or "",
                    "Device": net.get("Device") or "",
                    "CIDR": "",
                    "IP": facts.ip,
                    "Hostname": net.get("Hostname", ""),
                    "MBits": int(net.get("MBits") or 0),
                    "DNS": net.get("DNS"),
                    "ReservedPorts": reserved_out or None,
                    "DynamicPorts": dynamic_out or None,
                }
            )
        return networks

    def _dynamic_port(self, taken: set[int], lo: int, hi: int) -> int | None:
        for _ in range(20):
            value = self.rng.randint(lo, hi)
            if value not in taken:
                return value
        for value in range(lo, hi + 1):
            if value not in taken:
                return value
        return None


def _port(p: Port, value: int) -> Port:
    return {
        "Label": p.get("Label", ""),
        "Value": value,
        "To": int(p.get("To") or 0),
        "HostNetwork": p.get("HostNetwork") or "default",
    }
