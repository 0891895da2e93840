"""Which nodes a task group may run on: the facts of each node that placement reads, kept
between evaluations while the node table is unchanged, and the feasibility checks.

Nomad's stack keeps per-node work small by checking feasibility lazily, node by node as the
shuffled iterator reaches it, and by caching the class-level checks (drivers, constraints)
per computed node class. The facts here (capacity, reserved ports, readiness, the values of
attributes) are derived from the node object alone, so they are computed once per node
object and reused by every evaluation until the store replaces the node.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yurt.scheduler import constraints
from yurt.scheduler.model import NODE_READY
from yurt.scheduler.structs import Affinity, Constraint, Job, Node, TaskGroup

MIN_DYNAMIC_PORT = 20000
MAX_DYNAMIC_PORT = 32000

# How many recent node tables to remember: one per store in practice; a few more for
# processes that run several schedulers (tests).
_VIEWS_KEPT = 4


def computed_class(node: Mapping[str, Any]) -> str:
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


def node_capacity(node: Node) -> tuple[int, int]:
    res = node.get("NodeResources") or {}
    reserved = node.get("ReservedResources") or {}
    cpu = int((res.get("Cpu") or {}).get("CpuShares") or 0) - int(
        (reserved.get("Cpu") or {}).get("CpuShares") or 0
    )
    mem = int((res.get("Memory") or {}).get("MemoryMB") or 0) - int(
        (reserved.get("Memory") or {}).get("MemoryMB") or 0
    )
    return max(cpu, 0), max(mem, 0)


def reserved_ports(node: Node) -> set[int]:
    nets = (node.get("ReservedResources") or {}).get("Networks") or {}
    return parse_port_list(str(nets.get("ReservedHostPorts") or ""))


def node_ip(node: Node) -> str:
    for net in (node.get("NodeResources") or {}).get("Networks") or []:
        if net.get("IP"):
            return str(net["IP"])
    attrs = node.get("Attributes") or {}
    return str(attrs.get("unique.network.ip-address", "127.0.0.1"))


def node_device(node: Node) -> str:
    for net in (node.get("NodeResources") or {}).get("Networks") or []:
        if net.get("Device"):
            return str(net["Device"])
    return ""


def schedulable(node: Node) -> bool:
    """Ready, eligible and not draining: what Nomad's readyNodesInDCs keeps."""
    return (
        node.get("Status") == NODE_READY
        and node.get("SchedulingEligibility", "eligible") == "eligible"
        and node.get("DrainStrategy") is None
    )


@dataclass(slots=True)
class NodeFacts:
    """What placement reads from a node, computed once per node object."""

    node: Node
    cpu: int
    memory: int
    reserved: frozenset[int]
    port_lo: int
    port_hi: int
    ip: str
    device: str
    node_class: str
    computed_class: str
    dc: str
    pool: str
    schedulable: bool

    @classmethod
    def of(cls, node: Node) -> NodeFacts:
        cpu, mem = node_capacity(node)
        res = node.get("NodeResources") or {}
        return cls(
            node=node,
            cpu=cpu,
            memory=mem,
            reserved=frozenset(reserved_ports(node)),
            port_lo=int(res.get("MinDynamicPort") or MIN_DYNAMIC_PORT),
            port_hi=int(res.get("MaxDynamicPort") or MAX_DYNAMIC_PORT),
            ip=node_ip(node),
            device=node_device(node),
            node_class=str(node.get("NodeClass") or ""),
            computed_class=str(node.get("ComputedClass") or computed_class(node)),
            dc=str(node.get("Datacenter") or ""),
            pool=str(node.get("NodePool") or "default"),
            schedulable=schedulable(node),
        )


Scope = tuple[tuple[str, ...], str]  # (the job's datacenter patterns, its node pool)


def job_scope(job: Job) -> Scope:
    return tuple(job.get("Datacenters") or ["*"]), str(job.get("NodePool") or "default")


class NodeView:
    """One node table (the list of node objects an evaluation sees) and what is derived
    from it: per-node facts, the ready nodes per job scope, attribute values per node.

    Valid while the store holds the very same node objects: the store replaces a node
    object on every write and never changes one in place, so identity is the version."""

    def __init__(self, nodes: list[Node], facts: dict[str, NodeFacts] | None = None) -> None:
        self.nodes = nodes
        self._facts: dict[str, NodeFacts] = facts if facts is not None else {}
        self._dc_match: dict[tuple[str, tuple[str, ...]], bool] = {}
        self._ready: dict[Scope, tuple[int, dict[str, int]]] = {}
        self._ready_lists: dict[Scope, list[Node]] = {}
        self._draining: list[Node] | None = None
        self._values: dict[tuple[Scope | None, str], dict[str, str]] = {}
        if len(self._facts) > 2 * len(nodes) + 64:
            # Drop the facts of nodes that are gone (kept bounded, rebuilt lazily).
            self._facts = {}

    def matches(self, nodes: list[Node]) -> bool:
        return len(nodes) == len(self.nodes) and all(map(operator.is_, nodes, self.nodes))

    def facts(self, node: Node) -> NodeFacts:
        found = self._facts.get(node["ID"])
        if found is None or found.node is not node:
            found = NodeFacts.of(node)
            self._facts[node["ID"]] = found
        return found

    def in_scope(self, facts: NodeFacts, scope: Scope) -> bool:
        """Schedulable, in the job's node pool and one of its datacenters."""
        if not facts.schedulable:
            return False
        dcs, pool = scope
        if pool != "all" and facts.pool != pool:
            return False
        key = (facts.dc, dcs)
        ok = self._dc_match.get(key)
        if ok is None:
            ok = any(fnmatch.fnmatchcase(facts.dc, pattern) for pattern in dcs)
            self._dc_match[key] = ok
        return ok

    def ready(self, scope: Scope) -> tuple[int, dict[str, int]]:
        """How many nodes the scope has, in all and per datacenter (Nomad's NodesInPool
        and NodesAvailable); counted once per node table."""
        found = self._ready.get(scope)
        if found is None:
            per_dc: dict[str, int] = {}
            total = 0
            for node in self.nodes:
                facts = self.facts(node)
                if self.in_scope(facts, scope):
                    per_dc[facts.dc] = per_dc.get(facts.dc, 0) + 1
                    total += 1
            found = (total, per_dc)
            self._ready[scope] = found
        return found

    def ready_nodes(self, scope: Scope) -> list[Node]:
        """The scope's nodes (shared: callers copy before reordering)."""
        found = self._ready_lists.get(scope)
        if found is None:
            found = [n for n in self.nodes if self.in_scope(self.facts(n), scope)]
            self._ready_lists[scope] = found
        return found

    def draining(self) -> list[Node]:
        if self._draining is None:
            self._draining = [n for n in self.nodes if n.get("DrainStrategy") is not None]
        return self._draining

    def values(self, scope: Scope | None, target: str) -> dict[str, str]:
        """node ID -> the value of `target` (`${attr.x}`, `${node.datacenter}`...) for the
        nodes in `scope` (every node when None) that have it set."""
        key = (scope, target)
        found = self._values.get(key)
        if found is None:
            found = {}
            for node in self.nodes:
                if scope is not None and not self.in_scope(self.facts(node), scope):
                    continue
                value, ok = constraints.resolve_target(target, node)
                if ok and value is not None:
                    found[node["ID"]] = value
            self._values[key] = found
        return found


_views: list[NodeView] = []


def view_of(nodes: list[Node]) -> NodeView:
    """The view of this node table, reused while no node changed (one check by identity,
    a C-speed pass, instead of recomputing every node's facts per evaluation); the very
    list of the last view (the store's unchanged `node_list`) skips even that pass."""
    if _views and _views[0].nodes is nodes:
        return _views[0]
    for i, view in enumerate(_views):
        if view.matches(nodes):
            if i:
                _views.insert(0, _views.pop(i))
            return view
    # Facts are checked by node identity, so the newest view's are safe to carry over.
    view = NodeView(nodes, dict(_views[0]._facts) if _views else None)
    _views.insert(0, view)
    del _views[_VIEWS_KEPT:]
    return view


def all_constraints(job: Job, tg: TaskGroup) -> list[Constraint]:
    out = list(job.get("Constraints") or []) + list(tg.get("Constraints") or [])
    for task in tg.get("Tasks") or []:
        out.extend(task.get("Constraints") or [])
    return out


def all_affinities(job: Job, tg: TaskGroup) -> list[Affinity]:
    out = list(job.get("Affinities") or []) + list(tg.get("Affinities") or [])
    for task in tg.get("Tasks") or []:
        out.extend(task.get("Affinities") or [])
    return out


def constraint_string(c: Constraint | Affinity) -> str:
    return f"{c.get('LTarget', '')} {c.get('Operand', '=')} {c.get('RTarget', '')}".strip()


def mentions_unique(checks: list[Constraint]) -> bool:
    """A constraint on a `unique.` attribute escapes the per-class cache (Nomad's
    "escaped" computed class): it is checked on every node."""
    return any("unique." in str(c.get("LTarget", "")) + str(c.get("RTarget", "")) for c in checks)


def class_reason(tg: TaskGroup, checks: list[Constraint], node: Node) -> str | None:
    """Why the node cannot run the group by its drivers or constraints (None: it can).
    The answer is the same for every node of a computed class unless a check escapes."""
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
    for c in checks:
        if not constraints.check(c, node):
            return constraint_string(c)
    return None
