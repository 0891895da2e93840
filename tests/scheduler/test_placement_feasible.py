"""Feasibility as tables, and the placer's walk: which nodes are in a job's scope, the node
view reused between evaluations, class-level checks and their escape, and a placement's
cost following the limit rather than the number of nodes (yurt.scheduler.feasible and
yurt.scheduler.placement; pure, no processes)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from tests.scheduler import jobs as J
from yurt.scheduler import feasible
from yurt.scheduler.placement import Placer
from yurt.scheduler.usage import NodeUsage

Obj = dict[str, Any]


def node(i: int, **over: Any) -> Obj:
    out: Obj = {
        "ID": f"node-{i:05d}",
        "Name": f"n{i}",
        "Datacenter": "dc1",
        "NodeClass": "",
        "NodePool": "default",
        "Status": "ready",
        "SchedulingEligibility": "eligible",
        "DrainStrategy": None,
        "Attributes": {
            "kernel.name": "linux",
            "driver.raw_exec": "1",
            "unique.hostname": f"n{i}",
        },
        "Meta": {"rack": f"r{i % 3}"},
        "Drivers": {"raw_exec": {"Detected": True, "Healthy": True}},
        "NodeResources": {
            "Cpu": {"CpuShares": 4000},
            "Memory": {"MemoryMB": 8192},
            "Networks": [{"Device": "eth0", "IP": f"10.0.0.{i % 250}"}],
        },
        "ReservedResources": {"Networks": {"ReservedHostPorts": ""}},
    }
    out.update(over)
    out["ComputedClass"] = feasible.computed_class(out)
    return out


def alloc_for(job_id: str, group: str, cpu: int = 100, mem: int = 64) -> Obj:
    return {
        "JobID": job_id,
        "TaskGroup": group,
        "AllocatedResources": {
            "Tasks": {"t": {"Cpu": {"CpuShares": cpu}, "Memory": {"MemoryMB": mem}}}
        },
    }


@pytest.mark.parametrize(
    ("over", "datacenters", "pool", "expected"),
    [
        ({}, ["dc1"], "default", True),
        ({"Status": "down"}, ["dc1"], "default", False),
        ({"Status": "initializing"}, ["dc1"], "default", False),
        ({"SchedulingEligibility": "ineligible"}, ["dc1"], "default", False),
        ({"DrainStrategy": {"Deadline": 0}}, ["dc1"], "default", False),
        ({}, ["dc2"], "default", False),
        ({"Datacenter": "eu-west-1"}, ["eu-*"], "default", True),  # datacenters glob
        ({"Datacenter": "us-east"}, ["eu-*"], "default", False),
        ({}, ["*"], "default", True),
        ({"NodePool": "gpu"}, ["dc1"], "default", False),
        ({"NodePool": "gpu"}, ["dc1"], "gpu", True),
        ({"NodePool": "gpu"}, ["dc1"], "all", True),
    ],
)
def test_in_scope(over: Obj, datacenters: list[str], pool: str, expected: bool) -> None:
    n = node(0, **over)
    view = feasible.NodeView([n])
    assert view.in_scope(view.facts(n), (tuple(datacenters), pool)) is expected


@pytest.mark.parametrize(
    ("tg_over", "constraints", "over", "expected"),
    [
        ({}, [], {}, None),
        ({"driver": "docker"}, [], {}, "missing drivers"),
        (
            {},
            [],
            {"Drivers": {"raw_exec": {"Detected": True, "Healthy": False}}},
            "missing drivers",
        ),
        ({}, [("${attr.kernel.name}", "=", "linux")], {}, None),
        ({}, [("${attr.kernel.name}", "=", "windows")], {}, "${attr.kernel.name} = windows"),
        ({}, [("${meta.rack}", "regexp", "^r[12]$")], {}, "${meta.rack} regexp ^r[12]$"),
        # distinct_* are decided with the plan, never by the class
        ({}, [("", "distinct_hosts", "true")], {}, None),
    ],
)
def test_class_reason(
    tg_over: Obj, constraints: list[tuple[str, str, str]], over: Obj, expected: str | None
) -> None:
    tg = J.group(tasks=[J.task(**tg_over)])
    checks = [{"LTarget": lt, "Operand": op, "RTarget": rt} for lt, op, rt in constraints]
    assert feasible.class_reason(tg, checks, node(0, **over)) == expected


def test_node_view_is_reused_while_no_node_changes() -> None:
    nodes = [node(i) for i in range(10)]
    view = feasible.view_of(list(nodes))
    assert feasible.view_of(list(nodes)) is view  # a fresh list of the same objects
    facts = [view.facts(n) for n in nodes]
    changed = list(nodes)
    changed[3] = node(3, Datacenter="dc2")  # the store writes a new object
    other = feasible.view_of(changed)
    assert other is not view
    assert other.facts(changed[3]).dc == "dc2"
    assert other.facts(nodes[0]) is facts[0]  # the others' facts carry over
    assert other.ready((("dc1",), "default"))[0] == 9
    assert view.ready((("dc1",), "default"))[0] == 10


def test_the_last_views_own_list_is_known_by_identity() -> None:
    class Counted(list[Obj]):
        """A node list that counts the passes made over it."""

        passes = 0

        def __iter__(self) -> Iterator[Obj]:
            Counted.passes += 1
            return super().__iter__()

    nodes = Counted(node(i) for i in range(10))
    copy = list(nodes)
    view = feasible.view_of(nodes)
    Counted.passes = 0
    assert feasible.view_of(nodes) is view
    assert Counted.passes == 0  # the store's unchanged list: no pass over the nodes
    assert feasible.view_of(copy) is view  # an equal list: found by a pass over both
    assert Counted.passes > 0
    other = feasible.view_of([node(i) for i in range(3)])
    assert other is not view
    assert feasible.view_of(nodes) is view  # no longer the last view: found by the pass


def test_ready_counts_per_datacenter() -> None:
    nodes = [node(i, Datacenter=f"dc{1 + i % 3}") for i in range(9)]
    nodes.append(node(9, Status="down"))
    view = feasible.NodeView(nodes)
    assert view.ready((("dc1", "dc2"), "default")) == (6, {"dc1": 3, "dc2": 3})
    assert view.ready((("*",), "default")) == (9, {"dc1": 3, "dc2": 3, "dc3": 3})


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [(16, 4), (64, 6), (1_024, 10), (8_192, 13)],
)
def test_a_placement_scores_only_the_limit(nodes: int, expected: int) -> None:
    """With room everywhere a placement evaluates ceil(log2(nodes)) nodes, whatever the
    size of the cluster; the next placement goes on from there."""
    cluster = [node(i) for i in range(nodes)]
    job = J.job("web", groups=[J.group(count=3)])
    tg = job["TaskGroups"][0]
    placer = Placer(cluster, {}, rng=random.Random(nodes))
    scored: list[str] = []
    for _ in range(3):
        placement, metrics = placer.place(job, tg)
        assert placement is not None
        assert metrics["NodesEvaluated"] == expected
        assert metrics["NodesInPool"] == nodes
        scored.extend(m["NodeID"] for m in metrics["ScoreMetaData"])
        placer.commit(placement.node["ID"], alloc_for("web", "web"))
    assert len(scored) == len(set(scored))  # three placements, three disjoint stretches


def test_nodes_out_of_scope_are_never_walked() -> None:
    cluster = [node(i, Datacenter="dc1" if i < 4 else "dc2") for i in range(64)]
    job = J.job("web", groups=[J.group(count=1)], datacenters=["dc1"])
    placer = Placer(cluster, {}, rng=random.Random(1))
    placement, metrics = placer.place(job, job["TaskGroups"][0])
    assert placement is not None and placement.node["Datacenter"] == "dc1"
    assert metrics["NodesAvailable"] == {"dc1": 4}
    assert metrics["NodesEvaluated"] == 2


def test_a_constraint_on_a_unique_attribute_is_checked_per_node() -> None:
    """All these nodes share one computed class; a `unique.` constraint escapes the class
    cache, so the one matching node is found however many of its class were refused."""
    cluster = [node(i, Meta={}) for i in range(32)]
    assert len({n["ComputedClass"] for n in cluster}) == 1
    tg = J.group(constraints=[{"LTarget": "${attr.unique.hostname}", "RTarget": "n17"}])
    job = J.job("pinned", groups=[tg])
    placer = Placer(cluster, {}, rng=random.Random(5))
    placement, metrics = placer.place(job, tg)
    assert placement is not None and placement.node["Name"] == "n17"
    assert metrics["NodesFiltered"] == metrics["NodesEvaluated"] - 1


def test_a_class_refused_once_is_refused_for_all_its_nodes() -> None:
    cluster = [node(i, NodeClass="small") for i in range(20)] + [node(20, NodeClass="big")]
    tg = J.group(constraints=[{"LTarget": "${node.class}", "RTarget": "big"}])
    job = J.job("big-only", groups=[tg])
    placer = Placer(cluster, {}, rng=random.Random(2))
    placement, metrics = placer.place(job, tg)
    assert placement is not None and placement.node["NodeClass"] == "big"
    assert metrics["NodesFiltered"] == 20
    assert metrics["ClassFiltered"] == {"small": 20}
    assert metrics["ConstraintFiltered"] == {"${node.class} = big": 20}


def test_nodes_scoring_below_zero_are_passed_over() -> None:
    """A node carrying the reschedule penalty scores below 0 and is skipped while others
    remain, as Nomad's limit iterator does."""
    cluster = [node(i) for i in range(4)]
    job = J.job("web", groups=[J.group(count=1)])
    tg = job["TaskGroups"][0]
    for seed in range(20):
        placer = Placer(cluster, {}, rng=random.Random(seed))
        penalised = {n["ID"] for n in cluster[:3]}
        placement, metrics = placer.place(job, tg, penalty_nodes=penalised)
        assert placement is not None
        assert placement.node["ID"] == cluster[3]["ID"]
        assert all(m["NormScore"] < 0 for m in metrics["ScoreMetaData"] if m["NodeID"] in penalised)


def test_distinct_property_counts_follow_the_plan() -> None:
    cluster = [node(i) for i in range(9)]  # racks r0, r1, r2, three nodes each
    tg = J.group(count=4, constraints=[{"LTarget": "${meta.rack}", "Operand": "distinct_property"}])
    job = J.job("racked", groups=[tg])
    placer = Placer(cluster, {}, rng=random.Random(3))
    placed = []
    for _ in range(3):
        placement, _ = placer.place(job, tg)
        assert placement is not None
        placed.append(placement.node)
        placer.commit(placement.node["ID"], alloc_for("racked", "web"))
    assert sorted(n["Meta"]["rack"] for n in placed) == ["r0", "r1", "r2"]
    placement, metrics = placer.place(job, tg)
    assert placement is None
    assert metrics["ConstraintFiltered"] == {"distinct_property": 9}
    # stopping one frees its rack again
    placer.release(placed[0]["ID"], alloc_for("racked", "web"))
    placement, _ = placer.place(job, tg)
    assert placement is not None
    assert placement.node["Meta"]["rack"] == placed[0]["Meta"]["rack"]


def test_spread_counts_include_what_the_store_already_runs() -> None:
    cluster = [node(i, Datacenter="dc1" if i < 4 else "dc2") for i in range(8)]
    base = {n["ID"]: NodeUsage(job_tg_counts={("s", "web"): 1}) for n in cluster[:2]}
    tg = J.group(count=4)
    tg["Spreads"] = [{"Attribute": "${node.datacenter}", "Weight": 100, "SpreadTarget": None}]
    job = J.job("s", groups=[tg], datacenters=["dc1", "dc2"])
    placer = Placer(cluster, base, rng=random.Random(4))
    dcs = []
    for _ in range(2):
        placement, _ = placer.place(job, tg)
        assert placement is not None
        dcs.append(placement.node["Datacenter"])
        placer.commit(placement.node["ID"], alloc_for("s", "web"))
    assert dcs == ["dc2", "dc2"]  # dc1 already has two of the four
    assert base[cluster[0]["ID"]].job_tg_counts == {("s", "web"): 1}  # the store's untouched
