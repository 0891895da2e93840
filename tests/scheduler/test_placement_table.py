"""Placement as a table: each row is a cluster (nodes and what already runs there) and a
task group, and the expected outcome of placing it `count` times: the nodes chosen, in
order, or the reason Nomad's AllocMetric gives for the node(s) it could not use. No store,
no process: the `Placer` sees the node list and the usage alone, as in Nomad's
`feasible_test.go` and `rank_test.go`."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from tests.scheduler import cluster as C
from tests.scheduler import jobs as J
from yurt.scheduler import model as m
from yurt.scheduler.placement import Placement, Placer
from yurt.scheduler.structs import Allocation, Job, Node
from yurt.scheduler.usage import NodeUsage

RACKS = [
    C.node("a", meta={"rack": "r1"}),
    C.node("b", meta={"rack": "r2"}),
    C.node("c", meta={"rack": "r1"}),
]


def busy(on: Node, *, cpu: int = 0, memory: int = 0, ports: tuple[int, ...] = ()) -> Allocation:
    """Another job's allocation holding resources on `on`."""
    other = cast(Job, J.job("other"))
    out = C.alloc(other, 0, on, cpu=cpu, memory=memory)
    out["AllocatedResources"] = {
        "Tasks": {"t": {"Cpu": {"CpuShares": cpu}, "Memory": {"MemoryMB": memory}}},
        "Shared": {"Ports": [{"Label": "p", "Value": p} for p in ports]},
    }
    return out


@dataclass(frozen=True)
class Row:
    name: str
    nodes: list[Node]
    group: dict[str, Any]
    count: int = 1
    running: list[Allocation] = field(default_factory=list)
    job: dict[str, Any] = field(default_factory=dict)  # job-level fields (constraints...)
    # the chosen node names, one per placement, in order (None: no node fits)
    chosen: list[str | None] = field(default_factory=list)
    # for a failed placement: the AllocMetric tables that say why, as Nomad fills them
    why: dict[str, dict[str, int]] = field(default_factory=dict)


LINUX = {"LTarget": "${attr.kernel.name}", "Operand": "=", "RTarget": "linux"}

ROWS = [
    Row(
        "constraint keeps the matching node",
        [C.node("win", attrs={"kernel.name": "windows"}), C.node("lin")],
        {},
        job={"constraints": [LINUX]},
        chosen=["lin"],
    ),
    Row(
        "constraint matches no node",
        C.nodes("w1", "w2", attrs={"kernel.name": "windows"}),
        {},
        job={"constraints": [LINUX]},
        chosen=[None],
        why={"ConstraintFiltered": {"${attr.kernel.name} = linux": 2}},
    ),
    Row(
        "driver missing",
        C.nodes("n0", "n1"),
        {"tasks": [J.task(driver="docker")]},
        chosen=[None],
        why={"ConstraintFiltered": {"missing drivers": 2}},
    ),
    Row(
        "driver present on one node",
        [C.node("n0"), C.node("d", drivers=("raw_exec", "docker"))],
        {"tasks": [J.task(driver="docker")]},
        chosen=["d"],
    ),
    Row(
        "cpu exhausted",
        C.nodes("n0", "n1", cpu=500),
        {"tasks": [J.task(cpu=600)]},
        chosen=[None],
        why={"DimensionExhausted": {"cpu": 2}},
    ),
    Row(
        "memory exhausted on the busy node",
        C.nodes("full", "free", memory=512),
        {"tasks": [J.task(memory=300)]},
        running=[busy(C.node("full"), memory=400)],
        chosen=["free"],
    ),
    Row(
        "the last placement finds no room",
        C.nodes("n0", memory=512),
        {"tasks": [J.task(memory=300)]},
        count=2,
        chosen=["n0", None],
        why={"DimensionExhausted": {"memory": 1}},
    ),
    Row(
        "static port taken by another allocation",
        C.nodes("taken", "open"),
        {"static_ports": {"http": 8080}},
        running=[busy(C.node("taken"), ports=(8080,))],
        chosen=["open"],
    ),
    Row(
        "static port reserved by every node",
        C.nodes("n0", "n1", reserved_ports="8000-8100"),
        {"static_ports": {"http": 8080}},
        chosen=[None],
        why={"DimensionExhausted": {"network: reserved port collision http=8080": 2}},
    ),
    Row(
        "static port: one instance per node",
        C.nodes("n0", "n1"),
        {"static_ports": {"http": 8080}},
        count=3,
        chosen=["n0", "n1", None],
        why={"DimensionExhausted": {"network: reserved port collision http=8080": 2}},
    ),
    Row(
        "bin-packing picks the fuller node",
        C.nodes("empty", "half"),
        {},
        running=[busy(C.node("half"), cpu=500, memory=512)],
        chosen=["half"],
    ),
    Row(
        "affinity prefers the matching rack",
        RACKS,
        {
            "affinities": [
                {"LTarget": "${meta.rack}", "Operand": "=", "RTarget": "r2", "Weight": 100}
            ]
        },
        chosen=["b"],
    ),
    Row(
        "distinct_hosts: one per node, then none",
        C.nodes("n0", "n1"),
        {"constraints": [{"Operand": "distinct_hosts", "RTarget": "true"}]},
        count=3,
        chosen=["n0", "n1", None],
        why={"ConstraintFiltered": {"distinct_hosts": 2}},
    ),
]


def place(row: Row) -> tuple[list[str | None], dict[str, Any]]:
    """Place the row's group `count` times, as one evaluation does (each placement
    committed before the next); the chosen node names and the last failure's metrics."""
    usage: dict[str, NodeUsage] = {}
    for a in row.running:
        usage.setdefault(a["NodeID"], NodeUsage()).add(a)
    job = cast(Job, J.job("app", groups=[J.group("web", count=row.count, **row.group)], **row.job))
    tg = (job.get("TaskGroups") or [])[0]
    placer = Placer(row.nodes, usage, rng=random.Random(11))
    names = {n["ID"]: n.get("Name") for n in row.nodes}
    chosen: list[str | None] = []
    failure: dict[str, Any] = {}
    for i in range(row.count):
        placement, metrics = placer.place(job, tg)
        if placement is None:
            chosen.append(None)
            failure = dict(metrics)
            continue
        chosen.append(names[placement.node["ID"]])
        placer.commit(placement.node["ID"], placed(job, i, placement))
    return chosen, failure


def placed(job: Job, index: int, placement: Placement) -> Allocation:
    """The allocation a placement becomes, holding what the group asked for."""
    tg = (job.get("TaskGroups") or [])[0]
    out = C.alloc(job, index, placement.node)
    resources = m.alloc_resources(tg, placement.networks)
    out["AllocatedResources"] = resources["AllocatedResources"]
    return out


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_placement(row: Row) -> None:
    chosen, failure = place(row)
    # Which of two equal nodes comes first is the random order's choice: the placements
    # that succeed are compared as a set, the failures by position.
    assert [c is None for c in chosen] == [c is None for c in row.chosen]
    assert sorted(c for c in chosen if c) == sorted(c for c in row.chosen if c)
    for table, counts in row.why.items():
        assert failure[table] == counts


def test_dynamic_ports_come_from_the_node_range_and_skip_taken_ones() -> None:
    nodes = [C.node("n0")]
    taken = tuple(range(20000, 31990))  # all but the top ten of 20000-32000
    usage = {"id-n0": NodeUsage()}
    usage["id-n0"].add(busy(nodes[0], ports=taken))
    job = cast(Job, J.job("app", groups=[J.group("web", dynamic_ports=["a", "b", "c"])]))
    tg = (job.get("TaskGroups") or [])[0]
    placement, _ = Placer(nodes, usage, rng=random.Random(5)).place(job, tg)
    assert placement is not None
    (network,) = placement.networks
    ports = network.get("DynamicPorts") or []
    values = [p["Value"] for p in ports]
    assert [p["Label"] for p in ports] == ["a", "b", "c"]
    assert len(set(values)) == 3 and all(31990 <= v <= 32000 for v in values)


def test_dynamic_ports_exhausted() -> None:
    nodes = [C.node("n0")]
    usage = {"id-n0": NodeUsage()}
    usage["id-n0"].add(busy(nodes[0], ports=tuple(range(20000, 32000))))
    job = cast(Job, J.job("app", groups=[J.group("web", dynamic_ports=["a", "b"])]))
    tg = (job.get("TaskGroups") or [])[0]
    placement, metrics = Placer(nodes, usage, rng=random.Random(5)).place(job, tg)
    assert placement is None
    assert metrics["DimensionExhausted"] == {"network: dynamic port selection failed": 1}


def test_spread_over_datacenters_evens_out() -> None:
    nodes = [C.node(f"{dc}-{i}", dc=dc) for dc in ("dc1", "dc2") for i in range(3)]
    job = cast(
        Job,
        J.job(
            "app",
            datacenters=["dc1", "dc2"],
            groups=[J.group("web", count=6)],
            Spreads=[{"Attribute": "${node.datacenter}", "Weight": 100, "SpreadTarget": None}],
        ),
    )
    tg = (job.get("TaskGroups") or [])[0]
    placer = Placer(nodes, {}, rng=random.Random(9))
    per_dc = {"dc1": 0, "dc2": 0}
    for i in range(6):
        placement, _ = placer.place(job, tg)
        assert placement is not None
        per_dc[placement.node.get("Datacenter", "")] += 1
        placer.commit(placement.node["ID"], placed(job, i, placement))
    assert per_dc == {"dc1": 3, "dc2": 3}
