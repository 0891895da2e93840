"""Allocations packed in the store's memory (yurt.scheduler.alloc_pack): what packs gives
back the same JSON byte for byte, what would not is kept as it is, and every way out of
the store (disk rows, API views, stubs, events, node usage) sees the allocation as written.
Tables of rows, and a real SQLite store for the ways out; no processes."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.scheduler import jobs as J
from tests.scheduler.ops_fixture import settle
from tests.scheduler.test_placement_feasible import node
from yurt.client import events
from yurt.client.events import TaskState
from yurt.scheduler import SchedulerConfig, SchedulerServer
from yurt.scheduler import alloc_pack as P
from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.events import events_of
from yurt.scheduler.http_api import build_app
from yurt.scheduler.operations import Operations
from yurt.scheduler.placement import new_metrics
from yurt.scheduler.structs import Allocation, Packed
from yurt.scheduler.usage import NodeUsage
from yurt.storage.interface import RemoteChange

Obj = dict[str, Any]
NODE_A = "node-a"
NODE_B = "node-b"


def _entry(node_id: str, **scores: float) -> Obj:
    named = {k.replace("_", "-"): v for k, v in scores.items()}
    return {"NodeID": node_id, "Scores": named, "NormScore": sum(named.values()) / len(named)}


def _metrics(**over: Any) -> Obj:
    out: Obj = dict(new_metrics(1000))  # the shape placement makes
    out.update(
        NodesEvaluated=10,
        NodesAvailable={"dc1": 334, "dc2": 333},
        ScoreMetaData=[_entry(NODE_A, binpack=0.075), _entry(NODE_B, binpack=1 / 3)],
        AllocationTime=70_474,
    )
    out.update(over)
    return out


def _alloc(*, networks: list[Obj] | None = None, **over: Any) -> Allocation:
    """An allocation as written (the API's shapes, nothing packed)."""
    tg = J.group(tasks=[J.task("a", cpu=100, memory=64), J.task("b", cpu=250, memory=32)])
    tg["EphemeralDisk"] = {"SizeMB": 300}
    resources = m.alloc_resources(cast(Any, tg), cast(Any, networks or []))
    out: Obj = {"ID": "alloc-1", "JobID": "web", "TaskGroup": "web", **resources}
    out["Metrics"] = _metrics()
    out.update(over)
    return P.wire(cast(Allocation, out))


def _network(ip: str, reserved: list[int], dynamic: list[int]) -> Obj:
    def port(i: int, value: int) -> Obj:
        return {"Label": f"p{i}", "Value": value, "To": 0, "HostNetwork": "default"}

    return {
        "Mode": "host",
        "Device": "",
        "CIDR": "",
        "IP": ip,
        "Hostname": "",
        "MBits": 0,
        "DNS": None,
        "ReservedPorts": [port(i, v) for i, v in enumerate(reserved)] or None,
        "DynamicPorts": [port(len(reserved) + i, v) for i, v in enumerate(dynamic)] or None,
    }


def _with_networks(*networks: Obj, **over: Any) -> Allocation:
    return _alloc(networks=list(networks), **over)


def _task_states(**tasks: str) -> Obj:
    """What a client reports of its tasks (state and events, as yurt's client makes them),
    as the server decodes it from the request."""
    out: Obj = {}
    for name, state in (tasks or {"web": "running"}).items():
        task = TaskState(state=state, started_at=1.7e9, finished_at=None)
        for kind in (events.RECEIVED, "Task Setup", events.STARTED):
            task.add(events.event(kind, message="Building Task Directory"))
        if state == "dead":
            task.finished_at, task.failed = 1.7e9 + 30, True
            task.add(events.event(events.TERMINATED, exit_code=1))
        out[name] = task.to_json()
    decoded: Obj = json.loads(json.dumps(out))
    return decoded


def _text(alloc: Any) -> str:
    return json.dumps(alloc)


# what packs, and comes back the same -------------------------------------------------

PACKS: list[tuple[str, Callable[[], Allocation], tuple[str, ...]]] = [
    ("placed, no network", lambda: _alloc(), ("Metrics", "Resources", "SharedResources")),
    (
        "a dynamic port",
        lambda: _with_networks(_network("10.0.0.1", [], [25_369])),
        ("Metrics", "Resources", "SharedResources", "Ports"),
    ),
    (
        "reserved and dynamic ports on two networks",
        lambda: _with_networks(
            _network("10.0.0.1", [80, 443], [20_001]), _network("10.0.1.1", [], [20_002])
        ),
        ("Metrics", "Resources", "SharedResources", "Ports"),
    ),
    (
        "several scores per entry, some failure tables",
        lambda: _alloc(
            Metrics=_metrics(
                NodesFiltered=3,
                ConstraintFiltered={"${attr.kernel.name} = linux": 3},
                DimensionExhausted={"memory": 2},
                NodesExhausted=2,
                ScoreMetaData=[
                    _entry(NODE_A, binpack=0.5, job_anti_affinity=-0.25, node_affinity=1.0),
                    _entry(NODE_B, binpack=0.0, allocation_spread=-1.0),
                    _entry("node-c", binpack=0.1),
                ],
            )
        ),
        ("Metrics", "Resources", "SharedResources"),
    ),
    (
        "task states a client reported",
        lambda: _alloc(TaskStates=_task_states()),
        ("Metrics", "Resources", "SharedResources", "TaskStates"),
    ),
    ("no score kept", lambda: _alloc(Metrics=_metrics(ScoreMetaData=None)), ("Metrics",)),
    ("an empty score list", lambda: _alloc(Metrics=_metrics(ScoreMetaData=[])), ("Metrics",)),
]


def _packed_parts(alloc: Allocation) -> set[str]:
    out = {k for k in P.PACKED_KEYS if isinstance(alloc.get(k), Packed)}
    shared = (alloc.get("AllocatedResources") or {}).get("Shared") or {}
    if isinstance(shared.get("Ports"), Packed):
        out.add("Ports")
    return out


@pytest.mark.parametrize(("case", "make", "parts"), PACKS, ids=[c[0] for c in PACKS])
def test_what_packs_comes_back_byte_for_byte(
    case: str, make: Callable[[], Allocation], parts: tuple[str, ...]
) -> None:
    alloc = make()
    written = _text(alloc)
    packed = P.pack(alloc)
    assert _text(alloc) == written  # the row given is not changed
    assert set(parts) <= _packed_parts(packed)
    assert _text(P.wire(packed)) == written
    assert P.pack(packed) == packed  # packing a packed row changes nothing
    # a row loaded from disk (its own copies of everything) packs the same way
    reloaded = P.pack(json.loads(written))
    assert _packed_parts(reloaded) == _packed_parts(packed)
    assert _text(P.wire(reloaded)) == written


# what does not pack exactly is kept as it is -------------------------------------------


def _set(path: str, value: Any) -> Callable[[Allocation], None]:
    def change(alloc: Allocation) -> None:
        *head, last = path.split(".")
        at: Any = alloc
        for key in head:
            at = at[int(key)] if isinstance(at, list) else at[key]
        at[int(last) if isinstance(at, list) else last] = value

    return change


KEPT: list[tuple[str, Callable[[Allocation], None], str]] = [
    ("an integer NormScore", _set("Metrics.ScoreMetaData.0.NormScore", 0), "Metrics"),
    ("an integer score", _set("Metrics.ScoreMetaData.1.Scores.binpack", 1), "Metrics"),
    ("a boolean count", _set("Metrics.NodesEvaluated", True), "Metrics"),
    ("a count past 64 bits", _set("Metrics.AllocationTime", 2**70), "Metrics"),
    ("an unknown metric", _set("Metrics.Extra", 1), "Metrics"),
    ("an entry with another key", _set("Metrics.ScoreMetaData.0.Extra", 1), "Metrics"),
    ("ScoreMetaData not a list", _set("Metrics.ScoreMetaData", {"a": 1}), "Metrics"),
    ("a float CPU total", _set("Resources.CPU", 350.0), "Resources"),
    ("totals that disagree", _set("Resources.MemoryMB", 1), "Resources"),
    ("shared totals that disagree", _set("SharedResources.DiskMB", 1), "SharedResources"),
    ("a port on another IP", _set("AllocatedResources.Shared.Ports.0.HostIP", "x"), "Ports"),
    ("a port the networks lack", _set("AllocatedResources.Shared.Networks", None), "Ports"),
]


@pytest.mark.parametrize(("case", "change", "part"), KEPT, ids=[c[0] for c in KEPT])
def test_what_would_not_come_back_exactly_is_kept(
    case: str, change: Callable[[Allocation], None], part: str
) -> None:
    alloc = _with_networks(_network("10.0.0.1", [80], [20_001]))
    change(alloc)
    written = _text(alloc)
    packed = P.pack(alloc)
    assert part not in _packed_parts(packed)
    assert _text(P.wire(packed)) == written


@pytest.mark.parametrize(
    "row",
    [
        {"ID": "a"},
        {"ID": "a", "Metrics": None, "Resources": None, "AllocatedResources": None},
        {"ID": "a", "AllocatedResources": {"Shared": {"Ports": [1], "Networks": [2]}}},
        {"ID": "a", "TaskResources": {"t": 5}, "Resources": {"CPU": 1}},
    ],
)
def test_rows_of_other_shapes_are_kept_untouched(row: Obj) -> None:
    given = copy.deepcopy(row)
    assert P.pack(cast(Allocation, row)) is row
    assert row == given


def test_consecutive_placements_share_what_is_equal() -> None:
    available = {"dc1": 3}  # one evaluation's, as its placements share it
    first = P.pack(_alloc(Metrics=_metrics(NodesAvailable=available)))
    again = P.pack(_alloc(Metrics=_metrics(NodesAvailable=available)))
    other = P.pack(_alloc(Metrics=_metrics(NodesAvailable=available, AllocationTime=5)))
    a, b, c = first["Metrics"], again["Metrics"], other["Metrics"]
    assert isinstance(a, P.PackedMetrics) and isinstance(c, P.PackedMetrics)
    assert isinstance(b, P.PackedMetrics)
    assert a._common is c._common and a._names is c._names
    assert a == b and a != c


# the ways out of the store -------------------------------------------------------------


@pytest.fixture
def placed(ops: Operations) -> Operations:
    """Three allocations (a static and two dynamic ports each) on the fixture's 3 nodes."""
    group = J.group(count=3, static_ports={"admin": 9000}, dynamic_ports=["http", "rpc"])
    ops.register_job(J.job("web", groups=[group]))
    settle(ops)
    return ops


def test_memory_holds_packed_what_the_disk_holds_as_written(placed: Operations) -> None:
    store = placed.store
    rows = {k: json.dumps(v) for k, v in store.backend.load(s.ALLOC)}
    allocs = store.allocs_for_job("default", "web")
    assert len(allocs) == 3
    for alloc in allocs:
        assert _packed_parts(alloc) == {"Metrics", "Resources", "SharedResources", "Ports"}
        assert json.dumps(P.wire(alloc)) == rows[alloc["ID"]]


def test_every_view_shows_the_allocation_as_written(placed: Operations) -> None:
    store = placed.store
    rows = dict(store.backend.load(s.ALLOC))
    for alloc in store.allocs_for_job("default", "web"):
        row = rows[alloc["ID"]]
        stub = m.alloc_stub(alloc, resources=True)
        assert stub["AllocatedResources"] == row["AllocatedResources"]
        assert len(stub["AllocatedResources"]["Shared"]["Ports"]) == 3
        assert m.alloc_stub(alloc)["AllocatedResources"] is None
    changes: list[s.Change] = [(s.ALLOC, a["ID"], None, a) for a in store.allocs.values()]
    for event in events_of(changes, store.index, [], ""):
        payload = event.to_json()["Payload"]["Allocation"]
        row = rows[payload["ID"]]
        assert json.dumps(payload) == json.dumps({k: v for k, v in row.items() if k != "Job"})


def test_node_usage_counts_the_ports_of_packed_allocations(placed: Operations) -> None:
    store = placed.store
    for alloc in store.allocs.values():
        written = P.wire(alloc)
        from_packed, from_written = NodeUsage(), NodeUsage()
        from_packed.add(alloc)
        from_written.add(written)
        assert from_packed.ports == from_written.ports and len(from_packed.ports) == 3
        from_packed.remove(alloc)
        assert not from_packed.ports
    for node_id, usage in store.usage.items():
        held = {p for a in store.allocs_for_node(node_id) for p in P.port_values(a)}
        assert usage.ports == held


# rows read back --------------------------------------------------------------------------


def test_rows_read_back_share_what_placed_rows_share(placed: Operations, tmp_path: Path) -> None:
    rows = {k: json.dumps(v) for k, v in placed.store.backend.load(s.ALLOC)}
    reopened = s.Store(tmp_path)
    try:
        allocs = reopened.allocs_for_job("default", "web")
        first = allocs[0]
        for alloc in allocs:
            assert json.dumps(P.wire(alloc)) == rows[alloc["ID"]]
            assert _packed_parts(alloc) == {"Metrics", "Resources", "SharedResources", "Ports"}
            assert alloc["TaskResources"] is first["TaskResources"]
            assert alloc["DesiredTransition"] is first["DesiredTransition"]
            assert alloc["AllocatedResources"]["Tasks"] is first["AllocatedResources"]["Tasks"]
            assert alloc["EvalID"] is first["EvalID"] and alloc["JobID"] is first["JobID"]
            # one evaluation's placements share its NodesAvailable again
            metrics, first_metrics = alloc["Metrics"], first["Metrics"]
            assert isinstance(metrics, P.PackedMetrics)
            assert isinstance(first_metrics, P.PackedMetrics)
            available = P.METRIC_KEYS.index("NodesAvailable")
            assert metrics._common[available] is first_metrics._common[available]
        # keys are one string, not one per row
        assert all(a is b for a, b in zip(first, allocs[-1], strict=True))
    finally:
        reopened.close()


def test_another_servers_rows_share_too(placed: Operations, tmp_path: Path) -> None:
    rows = list(placed.store.backend.load(s.ALLOC))
    follower = s.Store(tmp_path / "follower")
    try:
        follower.apply_remote([RemoteChange(s.ALLOC, k, v, i) for i, (k, v) in enumerate(rows)])
        allocs = list(follower.allocs.values())
        assert len(allocs) == 3
        for alloc in allocs:
            assert alloc["TaskResources"] is allocs[0]["TaskResources"]
            assert json.dumps(P.wire(alloc)) == json.dumps(dict(rows)[alloc["ID"]])
    finally:
        follower.close()


def test_the_sharer_shares_only_equal_parts() -> None:
    sharer = P.Sharer()
    a = _alloc(DesiredTransition={"Migrate": None})
    b = _alloc(DesiredTransition={"Migrate": None})
    c = _alloc(DesiredTransition={"Migrate": True})
    d = _alloc(DesiredTransition={"Migrate": 1})  # equal to True in Python, not in JSON
    shared = [sharer.alloc(json.loads(json.dumps(x))) for x in (a, b, c, d)]
    assert shared[0]["DesiredTransition"] is shared[1]["DesiredTransition"]
    assert shared[2]["DesiredTransition"] is not shared[0]["DesiredTransition"]
    assert shared[3]["DesiredTransition"] is not shared[2]["DesiredTransition"]
    for given, got in zip((a, b, c, d), shared, strict=True):
        assert json.dumps(got) == json.dumps(given)


# the HTTP answers ------------------------------------------------------------------------


async def test_the_api_answers_the_json_as_written(tmp_path: Path) -> None:
    server = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path))
    try:
        for i in range(3):
            server.ops.register_node(node(i, Datacenter="dc1"))
        group = J.group(count=3, static_ports={"admin": 9000}, dynamic_ports=["http"])
        server.ops.register_job(J.job("web", groups=[group]))
        settle(server.ops)
        store = server.store
        rows = dict(store.backend.load(s.ALLOC))
        job = store.job_version("default", "web", 0)
        async with TestClient(TestServer(build_app(server))) as http:
            for alloc_id, row in rows.items():
                answer = await (await http.get(f"/v1/allocation/{alloc_id}")).read()
                assert answer == json.dumps({**row, "Job": job}).encode()
                node_id = row["NodeID"]
                answer = await (await http.get(f"/v1/node/{node_id}/allocations")).read()
                assert answer == json.dumps([{**row, "Job": job}]).encode()
            listed = await (await http.get("/v1/allocations?resources=true")).json()
            assert {a["ID"]: a["AllocatedResources"] for a in listed} == {
                k: v["AllocatedResources"] for k, v in rows.items()
            }
    finally:
        server.heartbeats.close()
        server.store.close()


def test_task_states_a_client_reports_are_kept_packed(placed: Operations) -> None:
    store = placed.store
    alloc = next(iter(store.allocs.values()))
    reported = _task_states(web="dead", sidecar="running")
    update = {"ID": alloc["ID"], "ClientStatus": "failed", "TaskStates": reported}
    placed.client_update_allocs(alloc["NodeID"], [update])
    stored = store.allocs[alloc["ID"]]
    assert isinstance(stored["TaskStates"], P.PackedJSON)
    assert P.task_states(stored) == reported
    assert json.dumps(m.alloc_stub(stored)["TaskStates"]) == json.dumps(reported)
    row = dict(store.backend.load(s.ALLOC))[alloc["ID"]]
    assert json.dumps(P.wire(stored)) == json.dumps(row)
    assert row["TaskStates"] == reported
    # what a reschedule reads of them: when the tasks finished
    finished = P.task_states(stored)
    assert finished is not None and finished["web"]["FinishedAt"] is not None


def test_a_new_allocation_shows_nomads_three_shapes() -> None:
    net = _network("10.0.0.1", [80], [20_001])
    alloc = _alloc(networks=[net])
    assert alloc["Resources"] == {
        "CPU": 350,
        "Cores": 0,
        "MemoryMB": 96,
        "MemoryMaxMB": 0,
        "DiskMB": 300,
        "IOPS": 0,
        "Networks": [net],
        "Devices": None,
    }
    assert alloc["SharedResources"] == {"CPU": 0, "MemoryMB": 0, "DiskMB": 300, "Networks": [net]}
    shared = (alloc.get("AllocatedResources") or {}).get("Shared") or {}
    assert shared == {
        "Networks": [net],
        "DiskMB": 300,
        "Ports": [
            {"Label": "p0", "Value": 80, "To": 0, "HostIP": "10.0.0.1"},
            {"Label": "p1", "Value": 20_001, "To": 0, "HostIP": "10.0.0.1"},
        ],
    }
    assert P.wire(P.pack(alloc)) == alloc
    # no network: no ports, and the totals say so
    bare = _alloc()
    assert (bare.get("AllocatedResources") or {}).get("Shared", {}).get("Ports") is None
    assert bare["Resources"] == {**alloc["Resources"], "Networks": None}
