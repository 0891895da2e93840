"""The pure parts: constraint operators, versions, cron, ranking."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from tests.scheduler import jobs as J
from tests.scheduler.simnode import SimNode
from yurt.scheduler.constraints import check, version_matches
from yurt.scheduler.cron import Cron, CronError
from yurt.scheduler.placement import Placer, computed_class, parse_port_list

NODE = {
    "ID": "abcd-1234",
    "Name": "n1",
    "Datacenter": "dc1",
    "NodeClass": "gpu",
    "Attributes": {
        "kernel.name": "linux",
        "cpu.numcores": "8",
        "nomad.version": "1.7.7",
        "os.version": "12.4",
        "driver.docker": "1",
    },
    "Meta": {"tags": "a,b,c", "rack": "r1"},
}


@pytest.mark.parametrize(
    ("ltarget", "operand", "rtarget", "expected"),
    [
        ("${attr.kernel.name}", "=", "linux", True),
        ("${attr.kernel.name}", "==", "windows", False),
        ("${attr.kernel.name}", "!=", "windows", True),
        ("${attr.missing}", "!=", "x", True),
        ("${attr.cpu.numcores}", ">", "4", True),
        ("${attr.cpu.numcores}", "<", "4", False),
        ("${attr.cpu.numcores}", ">=", "8", True),
        ("${node.class}", "regexp", "^g.u$", True),
        ("${attr.nomad.version}", "version", ">= 1.5, < 2.0", True),
        ("${attr.nomad.version}", "version", "~> 1.6", True),
        ("${attr.nomad.version}", "semver", "< 1.7.0", False),
        ("${meta.tags}", "set_contains", "a,c", True),
        ("${meta.tags}", "set_contains", "a,d", False),
        ("${meta.tags}", "set_contains_any", "x,b", True),
        ("${meta.rack}", "is_set", "", True),
        ("${meta.zone}", "is_set", "", False),
        ("${meta.zone}", "is_not_set", "", True),
        ("${node.datacenter}", "=", "dc1", True),
        ("${node.unique.name}", "=", "n1", True),
        ("${node.unique.id}", "=", "abcd-1234", True),
        ("${meta.zone}", "=", "", False),
    ],
)
def test_constraint_operators(ltarget: str, operand: str, rtarget: str, expected: bool) -> None:
    assert check({"LTarget": ltarget, "Operand": operand, "RTarget": rtarget}, NODE) is expected


def test_versions() -> None:
    assert version_matches("1.2.3", "= 1.2.3")
    assert version_matches("v1.10.0", "> 1.9")
    assert not version_matches("1.2.3", ">= 2")
    assert not version_matches("garbage", ">= 1")


def test_cron_next() -> None:
    start = datetime(2026, 11, 25, 8, 0, 30, tzinfo=UTC)
    assert Cron("*/15 * * * *").next_after(start) == datetime(2026, 11, 25, 8, 15, tzinfo=UTC)
    assert Cron("@daily").next_after(start) == datetime(2026, 11, 26, tzinfo=UTC)
    assert Cron("0 9 * * mon-fri").next_after(start) == datetime(2026, 11, 25, 9, tzinfo=UTC)
    assert Cron("0 0 1 jan *").next_after(start) == datetime(2027, 1, 1, tzinfo=UTC)
    assert Cron("*/5 * * * * *").next_after(start) == datetime(2026, 11, 25, 8, 0, 35, tzinfo=UTC)
    with pytest.raises(CronError):
        Cron("61 * * * *")
    with pytest.raises(CronError):
        Cron("* * *")


def test_port_list() -> None:
    assert parse_port_list("22, 80,8000-8002") == {22, 80, 8000, 8001, 8002}


def _nodes(n: int) -> list[dict]:
    out = []
    for i in range(n):
        node = SimNode("http://unused", f"n{i}", cpu=1000, memory=1000).node_json()
        node["Status"] = "ready"
        node["ComputedClass"] = computed_class(node)
        out.append(node)
    return out


def test_binpack_fills_a_node_spread_spreads() -> None:
    nodes = _nodes(4)
    job = J.job("pack", groups=[J.group(count=1, tasks=[J.task(cpu=100, memory=100)])])
    # a busier node scores higher with binpack, lower with spread
    from yurt.scheduler.usage import NodeUsage

    busy = {nodes[0]["ID"]: NodeUsage(cpu=600, memory=600)}
    for algorithm, wanted in (("binpack", True), ("spread", False)):
        placer = Placer(nodes, busy, algorithm=algorithm, rng=random.Random(1))
        placement, metrics = placer.place(job, job["TaskGroups"][0])
        assert placement is not None
        assert (placement.node["ID"] == nodes[0]["ID"]) is wanted, algorithm
        assert metrics["NodesEvaluated"] == 2  # max(2, ceil(log2(4)))


def test_job_anti_affinity_and_exhaustion() -> None:
    nodes = _nodes(2)
    tg = J.group(count=4, tasks=[J.task(cpu=400, memory=100)])
    job = J.job("anti", groups=[tg])
    placer = Placer(nodes, {}, rng=random.Random(2))
    used: list[str] = []
    for i in range(4):
        placement, _ = placer.place(job, tg)
        assert placement is not None
        alloc = {
            "JobID": "anti",
            "TaskGroup": "web",
            "AllocatedResources": {
                "Tasks": {"web": {"Cpu": {"CpuShares": 400}, "Memory": {"MemoryMB": 100}}}
            },
            "Name": f"anti.web[{i}]",
        }
        placer.commit(placement.node["ID"], alloc)
        used.append(placement.node["ID"])
    assert sorted(used.count(n["ID"]) for n in nodes) == [2, 2]
    placement, metrics = placer.place(job, tg)
    assert placement is None
    assert metrics["NodesExhausted"] == 2 and metrics["DimensionExhausted"] == {"cpu": 2}


def test_spread_over_datacenters() -> None:
    nodes = _nodes(4)
    for i, node in enumerate(nodes):
        node["Datacenter"] = "dc1" if i < 2 else "dc2"
    tg = J.group(count=4, tasks=[J.task(cpu=10, memory=10)])
    tg["Spreads"] = [{"Attribute": "${node.datacenter}", "Weight": 100, "SpreadTarget": None}]
    job = J.job("spread", groups=[tg], datacenters=["dc1", "dc2"])
    placer = Placer(nodes, {}, rng=random.Random(3))
    dcs = []
    for i in range(4):
        placement, metrics = placer.place(job, tg)
        assert placement is not None
        assert metrics["NodesEvaluated"] == 4  # spread looks at up to 100 candidates
        placer.commit(
            placement.node["ID"],
            {"JobID": "spread", "TaskGroup": "web", "Name": f"spread.web[{i}]"},
        )
        dcs.append(placement.node["Datacenter"])
    assert sorted(dcs) == ["dc1", "dc1", "dc2", "dc2"]
