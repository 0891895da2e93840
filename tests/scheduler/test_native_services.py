"""Nomad's native service discovery on the scheduler, without HTTP: the pure listing and
selection (`yurt.scheduler.services`, tables), and the operations over a real store (a
node's registrations, their removal when the allocation stops, the operator's delete)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scheduler import jobs as J
from tests.scheduler.ops_fixture import settle
from yurt.cli.service import format_service_info, format_service_list
from yurt.scheduler import services as svc
from yurt.scheduler import store as s
from yurt.scheduler.errors import InvalidRequest, NotFound
from yurt.scheduler.operations import Operations

Obj = dict[str, Any]


def reg(sid: str, name: str, ns: str = "default", tags: list[str] | None = None, **kw: Any) -> Obj:
    out: Obj = {
        "ID": sid,
        "ServiceName": name,
        "Namespace": ns,
        "NodeID": "n1",
        "Datacenter": "dc1",
        "JobID": "web",
        "AllocID": "a1",
        "Tags": tags or [],
        "Address": "127.0.0.1",
        "Port": 8080,
    }
    out.update(kw)
    return out


REGS = [
    reg("s1", "web", tags=["v1", "blue"]),
    reg("s2", "web", tags=["v2", "blue"], AllocID="a2"),
    reg("s3", "db", tags=[]),
    reg("s4", "web", ns="prod", tags=["x"], JobID="other"),
]


@pytest.mark.parametrize(
    ("namespace", "expected"),
    [
        (
            "default",
            [
                {
                    "Namespace": "default",
                    "Services": [
                        {"ServiceName": "db", "Tags": []},
                        {"ServiceName": "web", "Tags": ["blue", "v1", "v2"]},
                    ],
                }
            ],
        ),
        ("prod", [{"Namespace": "prod", "Services": [{"ServiceName": "web", "Tags": ["x"]}]}]),
        ("*", None),  # both namespaces, sorted
        ("nowhere", []),
    ],
)
def test_list_stubs_per_namespace(namespace: str, expected: list[Obj] | None) -> None:
    got = svc.list_stubs(REGS, namespace)
    if expected is None:
        assert [g["Namespace"] for g in got] == ["default", "prod"]
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("name", "namespace", "tag", "ids"),
    [
        ("web", "default", "", ["s1", "s2"]),
        ("web", "default", "v2", ["s2"]),
        ("web", "default", "blue", ["s1", "s2"]),
        ("web", "default", "nope", []),
        ("web", "*", "", ["s1", "s2", "s4"]),
        ("db", "prod", "", []),
    ],
)
def test_by_name_selects_by_namespace_and_tag(
    name: str, namespace: str, tag: str, ids: list[str]
) -> None:
    assert [r["ID"] for r in svc.by_name(REGS, name, namespace, tag)] == ids


def test_of_alloc_and_of_job() -> None:
    assert [r["ID"] for r in svc.of_alloc(REGS, "a2")] == ["s2"]
    assert [r["ID"] for r in svc.of_job(REGS, "default", "web")] == ["s3", "s1", "s2"]
    assert svc.of_job(REGS, "prod", "web") == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"ServiceName": ""}, "ServiceName: expected a non-empty string"),
        ({"AllocID": None}, "AllocID: expected a non-empty string"),
        ({"NodeID": "n2"}, "names node n2, not this node"),
        ({"Tags": "v1"}, "Tags: expected an array of strings"),
        ({"Port": 70000}, "Port: expected a port number"),
        ({"Port": True}, "Port: expected a port number"),
        ({"Address": 1}, "Address: expected a string"),
    ],
)
def test_validate_refuses(change: Obj, error: str) -> None:
    with pytest.raises(svc.RegistrationError, match=error):
        svc.validate({**reg("s1", "web"), **change}, "n1")


def test_validate_keeps_only_the_registration_fields() -> None:
    out = svc.validate({**reg("s1", "web"), "Extra": 1, "CreateIndex": 99}, "n1")
    assert sorted(out) == sorted(
        [
            "ID",
            "ServiceName",
            "Namespace",
            "NodeID",
            "Datacenter",
            "JobID",
            "AllocID",
            "Tags",
            "Address",
            "Port",
        ]
    )


# --- operations over a real store ------------------------------------------------------


def placed(ops: Operations) -> Obj:
    ops.register_job(J.job("web"))
    settle(ops)
    (alloc,) = ops.store.allocs_for_job("default", "web")
    return alloc


def alloc_reg(alloc: Obj, sid: str = "svc-1", **kw: Any) -> Obj:
    return reg(sid, "web", NodeID=alloc["NodeID"], AllocID=alloc["ID"], JobID="web", **kw)


def test_sync_upserts_and_removes(ops: Operations) -> None:
    alloc = placed(ops)
    index = ops.sync_services(alloc["NodeID"], [alloc_reg(alloc, tags=["v1"])], [])
    stored = ops.store.tables[s.SERVICE]["svc-1"]
    assert stored["CreateIndex"] == stored["ModifyIndex"] == index
    # the same registration again writes nothing
    assert ops.sync_services(alloc["NodeID"], [alloc_reg(alloc, tags=["v1"])], []) == index
    later = ops.sync_services(alloc["NodeID"], [alloc_reg(alloc, tags=["v2"])], [])
    stored = ops.store.tables[s.SERVICE]["svc-1"]
    assert (stored["CreateIndex"], stored["ModifyIndex"], stored["Tags"]) == (index, later, ["v2"])
    ops.sync_services(alloc["NodeID"], [], ["svc-1"])
    assert "svc-1" not in ops.store.tables[s.SERVICE]


def test_sync_refuses_another_nodes_alloc(ops: Operations) -> None:
    alloc = placed(ops)
    other = next(n for n in ops.store.tables[s.NODE] if n != alloc["NodeID"])
    with pytest.raises(InvalidRequest, match="is not on node"):
        ops.sync_services(other, [{**alloc_reg(alloc), "NodeID": other}], [])
    with pytest.raises(InvalidRequest, match="Port"):
        ops.sync_services(alloc["NodeID"], [alloc_reg(alloc, Port=-1)], [])


def test_registrations_go_when_the_alloc_stops(ops: Operations) -> None:
    alloc = placed(ops)
    ops.sync_services(alloc["NodeID"], [alloc_reg(alloc, "a"), alloc_reg(alloc, "b")], [])
    ops.client_update_allocs(alloc["NodeID"], [{"ID": alloc["ID"], "ClientStatus": "running"}])
    assert set(ops.store.tables[s.SERVICE]) == {"a", "b"}
    ops.client_update_allocs(alloc["NodeID"], [{"ID": alloc["ID"], "ClientStatus": "complete"}])
    assert ops.store.tables[s.SERVICE] == {}
    assert ops.store.services_by_alloc.get(alloc["ID"], set()) == set()
    # a late registration of the stopped allocation is dropped
    ops.sync_services(alloc["NodeID"], [alloc_reg(alloc, "c")], [])
    assert ops.store.tables[s.SERVICE] == {}


def test_delete_by_namespace_and_id(ops: Operations) -> None:
    alloc = placed(ops)
    ops.sync_services(alloc["NodeID"], [alloc_reg(alloc)], [])
    with pytest.raises(NotFound, match="service registration not found"):
        ops.delete_service("prod", "svc-1")
    ops.delete_service("default", "svc-1")
    with pytest.raises(NotFound, match="service registration not found"):
        ops.delete_service("default", "svc-1")


def test_registrations_survive_a_restart(ops: Operations) -> None:
    alloc = placed(ops)
    ops.sync_services(alloc["NodeID"], [alloc_reg(alloc)], [])
    reopened = s.Store(ops.store.backend)
    assert reopened.tables[s.SERVICE]["svc-1"]["ServiceName"] == "web"
    assert reopened.services_by_alloc[alloc["ID"]] == {"svc-1"}


# --- `yurt service` output, as `nomad service` prints it --------------------------------


@pytest.mark.parametrize(
    ("all_namespaces", "lines"),
    [
        (False, ["Service Name  Tags", "db            []", "web           [blue,v1,v2]"]),
        (
            True,
            [
                "Service Name  Namespace  Tags",
                "db            default    []",
                "web           default    [blue,v1,v2]",
                "web           prod       [x]",
            ],
        ),
    ],
)
def test_format_service_list(all_namespaces: bool, lines: list[str]) -> None:
    stubs = svc.list_stubs(REGS, "*" if all_namespaces else "default")
    assert format_service_list(list(stubs), all_namespaces).splitlines() == lines


def test_format_service_info() -> None:
    regs = [reg("s9", "web", JobID="zeta", NodeID="1234567890"), REGS[0]]
    # sorted by job ID; node and allocation IDs cut to 8 characters
    assert format_service_info(regs, verbose=False).splitlines() == [
        "Job ID  Address         Tags       Node ID   Alloc ID",
        "web     127.0.0.1:8080  [v1,blue]  n1        a1",
        "zeta    127.0.0.1:8080  []         12345678  a1",
    ]
    verbose = format_service_info([REGS[0]], verbose=True)
    assert verbose.splitlines()[:2] == ["ID           = s1", "Service Name = web"]
    assert "Address      = 127.0.0.1:8080" in verbose
