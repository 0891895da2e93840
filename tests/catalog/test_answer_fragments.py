"""The kept parts of the whole-catalog answers: after any sequence of store changes, the
joined answer is byte for byte the one encoded from scratch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from yurt.api.blocking import WatchHub
from yurt.catalog.answer_fragments import _UNSEEN, CheckFragments, join
from yurt.catalog.model import CRITICAL, PASSING, WARNING, Check, CheckDefinition, Node, Service
from yurt.catalog.store import CatalogStore


def _from_scratch(store: CatalogStore, status: str = "") -> bytes:
    rows = [
        store.checks[k].to_json()
        for k in sorted(store.checks)
        if not status or store.checks[k].status == status
    ]
    return json.dumps(rows).encode()


def _kept(store: CatalogStore, status: str = "") -> bytes:
    return store.check_fragments.answer(store.checks, lambda c: not status or c.status == status)


def _services_from_scratch(store: CatalogStore, skip: str = "") -> bytes:
    out: dict[str, list[str]] = {}
    for name in store.service_names():
        if name == skip:
            continue
        tags = out.setdefault(name, [])
        for svc in store.instances(name):
            tags.extend(t for t in svc.tags if t not in tags)
    return json.dumps(out).encode()


def _services_kept(store: CatalogStore, skip: str = "") -> bytes:
    return store.service_fragments.answer(store.services_by_name, lambda name: name != skip)


def _same_answers(store: CatalogStore) -> None:
    for status in ("", PASSING, WARNING, CRITICAL):
        assert _kept(store, status) == _from_scratch(store, status)
    assert store.check_fragments.answer(store.checks) == _from_scratch(store)
    for skip in ("", "web", "db"):
        assert _services_kept(store, skip) == _services_from_scratch(store, skip)


def _check(node: str, sid: str, cid: str, status: str = PASSING, output: str = "") -> Check:
    return Check(
        node=node,
        check_id=cid,
        name=cid,
        service_id=sid,
        service_name=sid,
        status=status,
        output=output,
        definition=CheckDefinition(),
    )


def _register(store: CatalogStore, node: str, sid: str, tags: list[str], *checks: Check) -> None:
    store.register_catalog(
        Node(name=node, node_id="", address="10.0.0.1", datacenter="dc1"),
        Service(node=node, id=sid, name=sid, tags=tags),
        list(checks),
    )


def test_join_is_json_dumps_of_the_list() -> None:
    cases: list[list[object]] = [[], [{"a": 1}], [{"a": 'ü"\n'}, {"b": [1, None]}, "x"]]
    for items in cases:
        assert join(json.dumps(i).encode() for i in items) == json.dumps(items).encode()


def test_answers_stay_exact_through_every_kind_of_change(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.db", WatchHub())
    steps = [
        lambda: _register(store, "n2", "web", ["a"], _check("n2", "web", "web:1")),
        lambda: _register(store, "n1", "api", [], _check("n1", "api", "api:1", WARNING)),
        # a check changes status, then output only (no index), then its service's tags
        lambda: store.update_check("n2", "web:1", CRITICAL, "down"),
        lambda: store.update_check("n2", "web:1", CRITICAL, "still down"),
        lambda: _register(store, "n2", "web", ["a", "b"]),
        # a second instance of web, on a node ordered first, adds its own tags after
        lambda: _register(store, "n0", "web", ["c", "a"], _check("n0", "web", "web:0")),
        lambda: store.deregister_service("n0", "web"),
        # a node check, keyed between the others
        lambda: store.register_check(_check("n1", "", "serfHealth")),
        lambda: store.deregister_check("n1", "api:1"),
        lambda: store.deregister_service("n2", "web"),
        lambda: _register(store, "n0", "db", [], _check("n0", "db", "db:1")),
        lambda: store.deregister_node("n1"),
    ]
    assert _kept(store) == _from_scratch(store) == b"[]"
    assert _services_kept(store) == b"{}"
    for step in steps:
        step()
        _same_answers(store)
    store.close()


def test_a_reopened_store_answers_the_same(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.db", WatchHub())
    for i in range(20):
        _register(store, f"n{i % 3}", f"s{i}", [], _check(f"n{i % 3}", f"s{i}", f"s{i}:c"))
    before = _kept(store), _services_kept(store)
    store.close()
    again = CatalogStore(tmp_path / "c.db", WatchHub())
    assert (_kept(again), _services_kept(again)) == before
    _same_answers(again)
    again.close()


_keys = st.sampled_from([(f"n{i % 3}", f"c{i}") for i in range(12)])
_steps = st.lists(
    st.tuples(
        st.sampled_from(["put", "remove", "whole", "filtered"]),
        _keys,
        st.sampled_from([PASSING, WARNING, CRITICAL]),
        st.text(max_size=6),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(_steps)
def test_whole_answers_copied_from_the_last_one_are_exact(steps: list[Any]) -> None:
    fragments = CheckFragments()
    checks: dict[tuple[str, str], Check] = {}

    def scratch(status: str = "") -> bytes:
        rows = [checks[k].to_json() for k in sorted(checks) if status in ("", checks[k].status)]
        return json.dumps(rows).encode()

    for op, key, status, output in steps:
        if op == "put":
            there = key in checks
            checks[key] = _check(key[0], key[1], key[1], status, output)
            if there:
                fragments.changed(key)
            else:
                fragments.added(key)
        elif op == "remove" and key in checks:
            del checks[key]
            fragments.removed(key)
        elif op == "whole":
            assert fragments.answer(checks) == scratch()
        else:

            def wanted(c: Check, status: str = status) -> bool:
                return c.status == status

            assert fragments.answer(checks, wanted) == scratch(status)
    assert fragments.answer(checks) == scratch()
    # nothing kept per check but where it is in the last answer
    assert fragments._text == {}
    assert fragments._order == sorted(checks)
    assert len(fragments._spans) == len(checks)
    assert _UNSEEN not in fragments._spans
