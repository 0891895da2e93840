"""Values many records hold alike, kept once: the containers that refuse changes in place,
and the store putting shared values in its records without changing any answer."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from yurt.api.blocking import WatchHub
from yurt.catalog.model import PASSING, Check, CheckDefinition, Node, Service
from yurt.catalog.shared_values import (
    EMPTY_DEFINITION,
    EMPTY_DICT,
    SHARED_WEIGHTS,
    FrozenDict,
    FrozenList,
)
from yurt.catalog.store import CatalogStore

DICT_CHANGES: list[Callable[[dict[str, Any]], object]] = [
    lambda d: d.__setitem__("k", "v"),
    lambda d: d.__delitem__("a"),
    lambda d: d.update(k="v"),
    lambda d: d.setdefault("k", "v"),
    lambda d: d.pop("a"),
    lambda d: d.popitem(),
    lambda d: d.clear(),
    lambda d: d.__ior__({"k": "v"}),
]

LIST_CHANGES: list[Callable[[list[str]], object]] = [
    lambda t: t.append("x"),
    lambda t: t.extend(["x"]),
    lambda t: t.insert(0, "x"),
    lambda t: t.pop(),
    lambda t: t.remove("a"),
    lambda t: t.clear(),
    lambda t: t.sort(),
    lambda t: t.reverse(),
    lambda t: t.__setitem__(0, "x"),
    lambda t: t.__delitem__(0),
    lambda t: t.__iadd__(["x"]),
    lambda t: t.__imul__(2),
]


@pytest.mark.parametrize("change", DICT_CHANGES)
def test_a_frozen_dict_refuses_every_change_in_place(change: Callable[..., object]) -> None:
    d: FrozenDict[str, str] = FrozenDict({"a": "1"})
    with pytest.raises(TypeError, match="read-only"):
        change(d)
    assert d == {"a": "1"}


@pytest.mark.parametrize("change", LIST_CHANGES)
def test_a_frozen_list_refuses_every_change_in_place(change: Callable[..., object]) -> None:
    t: FrozenList[str] = FrozenList(["a", "b"])
    with pytest.raises(TypeError, match="read-only"):
        change(t)
    assert t == ["a", "b"]


@pytest.mark.parametrize("value", [FrozenDict({"a": "1"}), FrozenList(["a", "b"])])
def test_frozen_values_copy_encode_and_compare_as_plain_ones(value: Any) -> None:
    plain = dict(value) if isinstance(value, dict) else list(value)
    for copied in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert copied == plain
        assert type(copied) is type(value)
    assert json.dumps(value) == json.dumps(plain)


def _service(sid: str, name: str, node: str = "n1", tags: list[str] | None = None) -> Service:
    return Service(node=node, id=sid, name=name, tags=list(tags or ["urlprefix-/web"]))


def _check(cid: str, sid: str, name: str, node: str = "n1") -> Check:
    return Check(
        node=node,
        check_id=cid,
        name="alive",
        status=PASSING,
        service_id=sid,
        service_name=name,
        service_tags=["urlprefix-/web"],
        definition=CheckDefinition(),
    )


def _register(store: CatalogStore, sid: str, *cids: str, node: str = "n1") -> None:
    store.register_catalog(
        Node(name=node, node_id="", address="10.0.0.1", datacenter="dc1"),
        _service(sid, "web", node),
        [_check(cid, sid, "web", node) for cid in cids],
    )


def test_instances_and_their_checks_share_what_they_hold_alike(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.db", WatchHub())
    for i in range(3):
        _register(store, f"web-{i}", f"web-{i}:alive", node=f"n{i}")
    a, b, c = store.instances("web")
    assert a.tags is b.tags is c.tags  # siblings' equal tags: one list
    for svc in (a, b, c):
        assert svc.meta is EMPTY_DICT and svc.proxy is EMPTY_DICT and svc.connect is EMPTY_DICT
        assert svc.weights is SHARED_WEIGHTS
        (chk,) = store.checks_of(svc.node, svc.id)
        assert chk.service_tags is svc.tags and chk.service_name is svc.name
        assert chk.definition is EMPTY_DEFINITION
    assert a.name is b.name and a.tags[0] is b.tags[0]
    # a shared value cannot be changed through one record
    with pytest.raises(TypeError):
        a.meta["k"] = "v"


def test_the_shared_records_answer_as_plain_ones_and_survive_a_reload(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.db", WatchHub())
    _register(store, "web-0", "web-0:alive")
    shared = (
        [c.to_json() for c in store.checks.values()],
        [s.health_json() for s in store.services.values()],
    )
    plain_check = _check("web-0:alive", "web-0", "web")
    plain_check.create_index = plain_check.modify_index = store.index
    assert shared[0] == [plain_check.to_json()]
    reloaded = CatalogStore(tmp_path / "c.db", WatchHub())
    again = (
        [c.to_json() for c in reloaded.checks.values()],
        [s.health_json() for s in reloaded.services.values()],
    )
    assert again == shared
    svc = reloaded.instances("web")[0]
    assert svc.meta is EMPTY_DICT and svc.weights is SHARED_WEIGHTS


def test_a_tag_change_reaches_the_checks_sharing_the_tags(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.db", WatchHub())
    _register(store, "web-0", "web-0:alive")
    store.register_catalog(None, _service("web-0", "web", tags=["urlprefix-/new"]), [])
    svc = store.instances("web")[0]
    (chk,) = store.checks_of("n1", "web-0")
    assert chk.service_tags == ["urlprefix-/new"] and chk.service_tags is svc.tags


def test_a_services_checks_are_found_as_they_come_and_go(tmp_path: Path) -> None:
    """One check is kept as it is, two or more in a dict: each step answers the same."""
    store = CatalogStore(tmp_path / "c.db", WatchHub())
    _register(store, "web-0", "c1")
    steps: list[tuple[Callable[[], object], list[str]]] = [
        (lambda: None, ["c1"]),
        (lambda: store.register_check(_check("c2", "web-0", "web")), ["c1", "c2"]),
        (lambda: store.register_check(_check("c0", "web-0", "web")), ["c0", "c1", "c2"]),
        (lambda: store.deregister_check("n1", "c1"), ["c0", "c2"]),
        (lambda: store.deregister_check("n1", "c0"), ["c2"]),
        (lambda: store.register_check(_check("c2", "web-0", "web")), ["c2"]),
        (lambda: store.deregister_check("n1", "c2"), []),
    ]
    for step, want in steps:
        step()
        assert [c.check_id for c in store.checks_of("n1", "web-0")] == want
        assert [c.check_id for c in store.node_checks("n1")] == want


def test_node_checks_hold_the_nodes_own_and_those_of_removed_services(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.db", WatchHub())
    _register(store, "web-0", "b-web")
    own = Check(node="n1", check_id="a-node", name="node", status=PASSING)
    store.register_check(own)
    orphan = _check("c-orphan", "gone", "gone")
    store.register_check(orphan)  # a check naming a service the node does not have
    assert [c.check_id for c in store.node_checks("n1")] == ["a-node", "b-web", "c-orphan"]
    assert [c.check_id for c in store.checks_of("n1", "")] == ["a-node"]
    store.deregister_node("n1")
    assert store.node_checks("n1") == [] and store.checks == {}
