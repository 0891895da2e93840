"""Allocations as the scheduler's memory keeps them: the parts only the API shows, packed.

Every allocation stays in memory until the garbage collection removes it, so its size is
what the scheduler grows by with the cluster (50,000 allocations at 5,000 nodes). Some of
its parts are read by no decision, only shown: Nomad's `Metrics` (why the placement went
where it went: an AllocMetric with the five best-scored nodes, 2.6 KB and seven containers
as dicts), the legacy `Resources` and `SharedResources` totals, which repeat what
`TaskResources` and `AllocatedResources` hold, and `AllocatedResources.Shared.Ports`, which
repeats the ports of the group's networks. The store keeps them packed (`pack`): the
metrics as one object of tuples and a byte string of its numbers, the task states as their
compressed JSON, the totals and the ports as markers meaning "derived from the rest" (an
allocation is made with them so, `model.alloc_resources`; the usage tables read the ports
through `port_values`).

`wire` gives the allocation back as it was written, key for key, and the same JSON byte for
byte; the API's answers, the event stream and the rows stored on disk go through it. A part
is packed only when its expansion is exactly what was given (the same keys in the same
order, values of the same types), so a row of another shape (an older version's, one a
test made) stays as it is. `Sharer` makes rows read back share what placed rows share.
"""

from __future__ import annotations

import json
import sys
import zlib
from array import array
from collections.abc import Mapping
from contextlib import suppress
from operator import is_
from typing import Any, cast

from yurt.scheduler.structs import (
    AllocatedPort,
    AllocatedResources,
    Allocation,
    AllocMetric,
    NetworkResource,
    Packed,
    Resources,
    TaskState,
)

# api.AllocationMetric's fields, in the order the scheduler writes them
METRIC_KEYS = (
    "NodesEvaluated",
    "NodesFiltered",
    "NodesInPool",
    "NodesAvailable",
    "ClassFiltered",
    "ConstraintFiltered",
    "NodesExhausted",
    "ClassExhausted",
    "DimensionExhausted",
    "QuotaExhausted",
    "ResourcesExhausted",
    "Scores",
    "ScoreMetaData",
    "AllocationTime",
    "CoalescedFailures",
)
# What differs from one placement to the next: counts, the time it took, the scores. The
# other fields (NodesInPool, the shared NodesAvailable, the failure tables, mostly None)
# are kept as one tuple, shared by consecutive allocations when equal.
_OWN = ("NodesEvaluated", "NodesFiltered", "NodesExhausted", "AllocationTime", "CoalescedFailures")
_OWN_AT = tuple(METRIC_KEYS.index(k) for k in _OWN)
_SCORED = METRIC_KEYS.index("ScoreMetaData")
_UNSHARED = frozenset((*_OWN_AT, _SCORED))
_ENTRY_KEYS = ("NodeID", "Scores", "NormScore")
# The keys whose values may be packed in a stored allocation.
PACKED_KEYS = ("Resources", "SharedResources", "Metrics", "TaskStates")

# The score names of a placement's kept entries repeat from one allocation to the next
# (`binpack`, `job-anti-affinity`...): one tuple per combination, shared. Bounded, as the
# combinations are few; past the bound a combination is simply not shared.
_NAMES: dict[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...]] = {}
_NAMES_MAX = 4096


class PackedMetrics(Packed):
    """An AllocMetric in four references: the fields equal across an evaluation's
    placements (`_common`, a tuple in METRIC_KEYS' order with None where the others go),
    the IDs of the nodes of the kept score entries (the node table's own strings), their
    score names (a shared tuple per entry), and `_numbers`: the counts and the time as
    64-bit integers then each entry's scores and NormScore as doubles, back to back."""

    __slots__ = ("_common", "_ids", "_names", "_numbers")

    def __init__(
        self,
        common: tuple[Any, ...],
        ids: tuple[str, ...] | None,
        names: tuple[tuple[str, ...], ...],
        numbers: bytes,
    ) -> None:
        self._common = common
        self._ids = ids
        self._names = names
        self._numbers = numbers

    def expand(self, alloc: Mapping[str, Any] | None = None) -> AllocMetric:
        fields = list(self._common)
        own = array("q")
        own.frombytes(self._numbers[: 8 * len(_OWN)])
        for at, value in zip(_OWN_AT, own, strict=True):
            fields[at] = value
        if self._ids is not None:
            scores = array("d")
            scores.frombytes(self._numbers[8 * len(_OWN) :])
            entries: list[dict[str, Any]] = []
            at = 0
            for node_id, names in zip(self._ids, self._names, strict=True):
                end = at + len(names)
                entries.append(
                    {
                        "NodeID": node_id,
                        "Scores": dict(zip(names, scores[at:end], strict=True)),
                        "NormScore": scores[end],
                    }
                )
                at = end + 1
            fields[_SCORED] = entries
        return cast(AllocMetric, dict(zip(METRIC_KEYS, fields, strict=True)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PackedMetrics):
            return NotImplemented
        return (self._common, self._ids, self._names, self._numbers) == (
            other._common,
            other._ids,
            other._names,
            other._numbers,
        )

    def __hash__(self) -> int:
        return hash((self._ids, self._numbers))


class PackedJSON(Packed):
    """A part kept as its JSON text, compressed: the task states a client reports (per task
    its state and last ten events of 24 fields each, about 4 KB of dicts for a task that
    started; 0.4 KB so, as the events repeat their keys). JSON gives back the same JSON."""

    __slots__ = ("_data",)

    def __init__(self, value: Any) -> None:
        self._data = zlib.compress(_compact(value).encode(), 1)

    def expand(self, alloc: Mapping[str, Any] | None = None) -> Any:
        return json.loads(zlib.decompress(self._data))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PackedJSON):
            return NotImplemented
        return self._data == other._data

    def __hash__(self) -> int:
        return hash(self._data)


_compact = json.JSONEncoder(separators=(",", ":")).encode


def task_states(alloc: Mapping[str, Any]) -> dict[str, TaskState] | None:
    """The allocation's `TaskStates`, packed or not (for the few that read them)."""
    states = alloc.get("TaskStates")
    if isinstance(states, Packed):
        expanded: dict[str, TaskState] = states.expand(alloc)
        return expanded
    return cast("dict[str, TaskState] | None", states)


class _Packer:
    """Packs metrics, sharing each part with the metrics packed before when equal."""

    def __init__(self) -> None:
        self._last_common: tuple[Any, ...] = ()

    def metrics(self, metrics: Any) -> PackedMetrics | None:
        """`metrics` packed, or None when it is not of the shape that packs exactly."""
        if type(metrics) is not dict or tuple(metrics) != METRIC_KEYS:
            return None
        fields = list(metrics.values())
        own = [fields[at] for at in _OWN_AT]
        if {*map(type, own)} != {int}:
            return None  # (a bool is an int to array, not to JSON)
        try:
            numbers = array("q", own).tobytes()
        except OverflowError:
            return None
        scored = fields[_SCORED]
        for at in _UNSHARED:
            fields[at] = None
        common = tuple(fields)
        last = self._last_common
        if len(common) == len(last) and (
            all(map(is_, common, last)) or all(map(_same_atom, common, last))
        ):
            common = last
        self._last_common = common
        if scored is None:
            return PackedMetrics(common, None, (), numbers)
        if type(scored) is not list:
            return None
        ids: list[str] = []
        names: list[tuple[str, ...]] = []
        scores = array("d")
        for entry in scored:
            if type(entry) is not dict or tuple(entry) != _ENTRY_KEYS:
                return None
            node_id, by_name, norm = entry.values()
            if type(node_id) is not str or type(by_name) is not dict or type(norm) is not float:
                return None
            for value in by_name.values():
                if type(value) is not float:
                    return None
                scores.append(value)
            scores.append(norm)
            ids.append(node_id)
            names.append(tuple(by_name))
        key = tuple(names)
        shared = _NAMES.get(key)
        if shared is None:
            shared = key
            if len(_NAMES) < _NAMES_MAX:
                _NAMES[key] = key
        return PackedMetrics(common, tuple(ids), shared, numbers + scores.tobytes())


def _same_atom(a: Any, b: Any) -> bool:
    """The same object, or equal numbers or strings of one type (a count such as
    NodesInPool is a new int object in each placement's metrics)."""
    return a is b or (type(a) is type(b) and type(a) in (int, str) and a == b)


_PACKER = _Packer()


def pack_metrics(metrics: Any) -> PackedMetrics | None:
    """`metrics` packed, or None when it is not of the shape that packs exactly."""
    return _PACKER.metrics(metrics)


def legacy_totals(
    cpu: int, memory: int, disk: int, networks: list[NetworkResource] | None
) -> Resources:
    """An allocation's `Resources`: Nomad's pre-0.9 totals of its tasks, which it still
    fills (`_Totals` derives them)."""
    return {
        "CPU": cpu,
        "Cores": 0,
        "MemoryMB": memory,
        "MemoryMaxMB": 0,
        "DiskMB": disk,
        "IOPS": 0,
        "Networks": networks,
        "Devices": None,
    }


def shared_totals(disk: int, networks: list[NetworkResource] | None) -> Resources:
    """An allocation's `SharedResources` (pre-0.9 too): the group's disk and networks."""
    return {"CPU": 0, "MemoryMB": 0, "DiskMB": disk, "Networks": networks}


def shared_port(label: str, value: int, to: int, host_ip: str) -> AllocatedPort:
    """One of `AllocatedResources.Shared.Ports`: a port of the group's networks (`_Ports`
    derives them)."""
    return {"Label": label, "Value": value, "To": to, "HostIP": host_ip}


class _Totals(Packed):
    """`Resources` (`shared` False) or `SharedResources`, derived from the allocation's
    `TaskResources` and `AllocatedResources`."""

    __slots__ = ("_shared",)

    def __init__(self, shared: bool) -> None:
        self._shared = shared

    def expand(self, alloc: Mapping[str, Any]) -> Resources:
        group = (alloc.get("AllocatedResources") or {}).get("Shared") or {}
        disk, networks = group.get("DiskMB", 0), group.get("Networks")
        if self._shared:
            return shared_totals(disk, networks)
        tasks = (alloc.get("TaskResources") or {}).values()
        cpu = sum(int(t.get("CPU") or 0) for t in tasks)
        memory = sum(int(t.get("MemoryMB") or 0) for t in tasks)
        return legacy_totals(cpu, memory, disk, networks)


class _Ports(Packed):
    """`AllocatedResources.Shared.Ports`, derived from the group's networks: each network's
    reserved then dynamic ports, with the network's IP as their host IP."""

    __slots__ = ()

    def expand(self, alloc: Mapping[str, Any]) -> list[AllocatedPort] | None:
        group = (alloc.get("AllocatedResources") or {}).get("Shared") or {}
        return _derived_ports(group.get("Networks")) or None


def _derived_ports(networks: list[NetworkResource] | None) -> list[AllocatedPort]:
    return [
        shared_port(p.get("Label", ""), p.get("Value", 0), p.get("To", 0), net.get("IP", ""))
        for net in networks or ()
        for p in (*(net.get("ReservedPorts") or ()), *(net.get("DynamicPorts") or ()))
    ]


LEGACY_TOTALS = _Totals(shared=False)
SHARED_TOTALS = _Totals(shared=True)
PORTS = _Ports()


def port_values(alloc: Mapping[str, Any]) -> list[int]:
    """The host ports an allocation holds (what `Shared.Ports` lists, packed or not)."""
    group = (alloc.get("AllocatedResources") or {}).get("Shared") or {}
    ports = group.get("Ports")
    if isinstance(ports, _Ports):
        return [
            int(p.get("Value") or 0)
            for net in group.get("Networks") or ()
            for p in (*(net.get("ReservedPorts") or ()), *(net.get("DynamicPorts") or ()))
        ]
    return [int(p.get("Value") or 0) for p in ports or ()]


def same_json(a: Any, b: Any) -> bool:
    """Whether `a` and `b` encode to the same JSON (equal, and of the same types all the
    way down: 1 and 1.0, or a tuple and a list, are equal but written differently)."""
    if a is b:
        return True  # the usual case: a derived part refers to what it is derived from
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is dict:
        if len(a) != len(b):
            return False
        for (key_a, value_a), (key_b, value_b) in zip(a.items(), b.items(), strict=True):
            if key_a != key_b or not (value_a is value_b or same_json(value_a, value_b)):
                return False
        return True
    if kind is list:
        return len(a) == len(b) and all(map(same_json, a, b))
    return bool(a == b)


def pack(alloc: Allocation) -> Allocation:
    """The allocation as the store keeps it in memory: a new row when something packs,
    `alloc` itself otherwise (it is not changed)."""
    packed: dict[str, Any] = {}
    metrics = alloc.get("Metrics")
    if type(metrics) is dict:
        found = pack_metrics(metrics)
        if found is not None:
            packed["Metrics"] = found
    states = alloc.get("TaskStates")
    if type(states) is dict and states:
        packed["TaskStates"] = PackedJSON(states)
    # parts of a shape the derivations cannot read are kept as they are
    with suppress(AttributeError, TypeError, ValueError):
        packed.update(_derivable(alloc))
    if not packed:
        return alloc
    out = alloc.copy()
    out.update(cast(Allocation, packed))
    return out


def _derivable(alloc: Allocation) -> dict[str, Any]:
    """The parts of `alloc` that its other parts give again exactly, as packed."""
    packed: dict[str, Any] = {}
    for key, marker in (("Resources", LEGACY_TOTALS), ("SharedResources", SHARED_TOTALS)):
        value = alloc.get(key)
        if type(value) is dict and same_json(value, marker.expand(alloc)):
            packed[key] = marker
    allocated: Any = alloc.get("AllocatedResources")
    group: Any = allocated.get("Shared") if type(allocated) is dict else None
    ports: Any = group.get("Ports") if type(group) is dict else None
    if type(ports) is list and ports and same_json(ports, _derived_ports(group.get("Networks"))):
        packed["AllocatedResources"] = {**allocated, "Shared": {**group, "Ports": PORTS}}
    return packed


def wire(alloc: Allocation) -> Allocation:
    """The allocation as it was written (as the API shows it and the disk stores it): a
    new row when something was packed, `alloc` itself otherwise."""
    allocated = alloc.get("AllocatedResources")
    group = allocated.get("Shared") if allocated else None
    ports = group.get("Ports") if group else None
    if not isinstance(ports, Packed) and not any(
        isinstance(alloc.get(key), Packed) for key in PACKED_KEYS
    ):
        return alloc
    out = alloc.copy()
    for key in PACKED_KEYS:
        value = alloc.get(key)
        if isinstance(value, Packed):
            out[key] = value.expand(alloc)  # type: ignore[literal-required]
    if allocated and group and isinstance(ports, Packed):
        whole: AllocatedResources = {**allocated, "Shared": {**group, "Ports": ports.expand(alloc)}}
        out["AllocatedResources"] = whole
    return out


# What a row read back keeps as it is: strings no other allocation has, and the task
# states (packed whole).
_UNIQUE = frozenset(("ID", "Name", "PreviousAllocation", "NextAllocation", "TaskStates"))
# Parts equal across a group's allocations, shared whole when equal (as plan_apply shares
# them when it places the group).
_WHOLE = frozenset(("TaskResources", "DesiredTransition"))
_WHOLE_ALLOCATED = frozenset(("Tasks", "TaskLifecycles"))
_SHORT = 64  # longer strings (messages) are not interned


class Sharer:
    """Makes rows read back (from disk when the server starts, from another server of the
    cluster) share what placement shares in the rows it makes: equal parts of allocations
    are one object (the tasks' resources, lifecycles, an evaluation's NodesAvailable) and
    repeated strings one string (keys, node and job IDs, statuses, IP addresses). Decoded
    JSON shares nothing between rows: a row loaded took about three times the memory of
    the same row placed."""

    MAX_PARTS = 4096

    def __init__(self) -> None:
        self._parts: dict[str, Any] = {}

    def forget(self) -> None:
        """Drop the parts seen so far (the rows keep them; only later sharing is lost)."""
        self._parts.clear()

    def alloc(self, row: Mapping[str, Any]) -> Allocation:
        out: dict[str, Any] = {}
        for key, value in row.items():
            key = sys.intern(key)
            if key in _UNIQUE:
                out[key] = value
            elif key in _WHOLE:
                out[key] = self._part(value)
            elif key == "AllocatedResources" and type(value) is dict:
                out[key] = {
                    sys.intern(k): self._part(v) if k in _WHOLE_ALLOCATED else _canonical(v)
                    for k, v in value.items()
                }
            elif key == "Metrics" and type(value) is dict:
                metrics = _canonical(value)
                if type(metrics.get("NodesAvailable")) is dict:
                    metrics["NodesAvailable"] = self._part(metrics["NodesAvailable"])
                out[key] = metrics
            else:
                out[key] = _canonical(value)
        return cast(Allocation, out)

    def _part(self, value: Any) -> Any:
        if value is None:
            return None
        text = json.dumps(value)
        shared = self._parts.get(text)
        if shared is None:
            if len(self._parts) >= self.MAX_PARTS:
                self._parts.clear()
            shared = self._parts[text] = _canonical(value)
        return shared


def _canonical(value: Any) -> Any:
    """`value` with its dict keys and short strings interned (a copy when a container)."""
    kind = type(value)
    if kind is str:
        return sys.intern(value) if len(value) <= _SHORT else value
    if kind is dict:
        return {sys.intern(k): _canonical(v) for k, v in value.items()}
    if kind is list:
        return [_canonical(v) for v in value]
    return value
