"""What the table builder keeps between answers: one tuple per check and per instance, the
first answer's objects while the checks do not change, strings interned. At 30,000
instances a dict per entry and each answer's own copies of the same names were half of
what the router held (bench/catalog_scale.py --big)."""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from yurt.router.commands import NO_OPTS, parse_line
from yurt.router.table import build_route, check_target
from yurt.router.table_builder import (
    _INSTANCE_FIELDS,
    Rules,
    TableBuilder,
    _instance_entry,
    _instance_row,
    build_table,
)


def _check(node: str, sid: str, status: str = "passing", index: int = 5) -> dict[str, Any]:
    return {
        "Node": node,
        "CheckID": f"{sid}:alive",
        "Name": "alive",
        "Status": status,
        "Output": "HTTP GET: 200 OK" * 4,
        "ServiceID": sid,
        "ServiceName": sid.split("-")[0],
        "ModifyIndex": index,
    }


def _answer(n: int) -> list[dict[str, Any]]:
    # a decoded answer: every string a new object, as a JSON decoder makes them
    text = json.dumps([_check(f"node-{i % 3}", f"web{i}-{i}") for i in range(n)])
    return list(json.loads(text))


def _marks(b: TableBuilder) -> dict[tuple[Any, Any], Any]:
    """The builder's marks by (node, check ID)."""
    return {(node, cid): mark for node, kept in b._marks.items() for cid, mark in kept.items()}


def test_an_unchanged_answer_leaves_the_first_answers_marks_in_place() -> None:
    b = TableBuilder()
    b.set_checks(_answer(50))
    kept = _marks(b)
    changed = b.set_checks(_answer(50))
    assert changed == set()
    assert all(_marks(b)[key] is mark for key, mark in kept.items())
    # the keys too hold the kept strings, not the new answer's
    for node, on_node in b._marks.items():
        for cid, mark in on_node.items():
            assert node is mark[0] and cid is mark[1]


def test_a_changed_check_replaces_only_its_own_mark() -> None:
    b = TableBuilder()
    b.set_checks(_answer(10))
    kept = _marks(b)
    second = _answer(10)
    second[3]["Status"] = "critical"
    assert b.set_checks(second) == {"web3"}
    moved = [key for key, mark in kept.items() if _marks(b)[key] is not mark]
    assert moved == [("node-0", "web3-3:alive")]
    assert _marks(b)[moved[0]][3] == "critical"


def test_kept_strings_are_interned() -> None:
    b = TableBuilder()
    b.set_checks(_answer(4))
    node = "".join(["node-", "1"])  # a new object, equal to the answer's
    assert all(mark[0] is sys.intern(node) for key, mark in _marks(b).items() if key[0] == node)
    inst = json.loads(json.dumps({"Node": "node-1", "ServiceTags": ["urlprefix-/a", "x"]}))
    row = _instance_row(inst, {})
    assert row[0] is sys.intern(node)
    assert row[_INSTANCE_FIELDS.index("ServiceTags")] == ("urlprefix-/a", "x")


_values = st.one_of(
    st.none(),
    st.text(max_size=8),
    st.integers(-5, 70000),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([*_INSTANCE_FIELDS, "Extra"]), _values))
def test_an_instance_row_reads_back_as_the_fields_that_decide_routes(entry: dict[str, Any]) -> None:
    before = copy.deepcopy(entry)
    back = _instance_entry(_instance_row(entry, {}))
    assert entry == before  # the answer is not changed
    want = {k: v for k, v in entry.items() if k in _INSTANCE_FIELDS}
    # absent stays absent and null stays null; a list of strings reads back as a tuple
    assert back.keys() == want.keys()
    for key, value in want.items():
        got = back[key]
        assert (list(got) if isinstance(got, tuple) else got) == value


def test_commands_without_options_share_one_read_only_mapping() -> None:
    d = parse_line("route add web /web http://10.0.0.1:80/")
    assert d.opts is NO_OPTS
    route = build_route(check_target(d), [d])
    assert route is not None and route.targets[0].opts is NO_OPTS
    with_opts = parse_line('route add web /web http://10.0.0.1:80/ opts "strip=/web"')
    assert dict(with_opts.opts) == {"strip": "/web"}
    assert dict(NO_OPTS) == {}


def test_null_and_absent_fields_route_as_in_the_table_from_scratch() -> None:
    # a null node and a check without a node or an index: odd, but the builder's tuples
    # must read them as the answer's own entries do
    checks: list[dict[str, Any]] = [
        {"Node": None, "CheckID": "c", "ServiceID": "web-1", "ServiceName": "web",
         "Status": "passing", "ModifyIndex": 1},
        {"CheckID": "d", "ServiceID": "db-1", "ServiceName": "db", "Status": "passing"},
        {"Node": "n1", "CheckID": "e", "ServiceID": "api-1", "Status": "passing"},
    ]  # fmt: skip
    instances: dict[str, list[dict[str, Any]]] = {
        "web": [{"Node": None, "ServiceID": "web-1", "ServiceName": "web",
                 "ServiceTags": ["urlprefix-/web"], "ServiceAddress": "10.0.0.1",
                 "ServicePort": 80}],
        "db": [{"ServiceID": "db-1", "ServiceName": "db", "ServiceTags": ["urlprefix-/db"],
                "ServiceAddress": "10.0.0.2", "ServicePort": 81}],
        "api": [{"Node": "n1", "ServiceID": "api-1", "ServiceName": "api",
                 "ServiceTags": ["urlprefix-/api"], "ServiceAddress": "10.0.0.3",
                 "ServicePort": 82}],
    }  # fmt: skip
    services = {name: [f"urlprefix-/{name}"] for name in instances}
    want, _ = build_table(services, instances, checks, [], Rules(), {})
    b = TableBuilder()
    b.set_services(services)
    b.set_checks(checks)
    for name in b.take_stale():
        b.set_instances(name, instances[name])
    got, _ = b.table([])
    assert got.config(with_weight=True) == want.config(with_weight=True)
    # the web instance's null node matches its check's; the db check without a node
    # matches the instance without one; the api check without a service name is read with
    # the checks naming no service (for every service), and passes api's instance
    assert [r["service"] for r in got.api_routes()] == ["web", "db", "api"]


def test_a_check_with_array_or_object_fields_is_dropped_and_the_rest_kept() -> None:
    # the builder updates its checks in place: an entry it cannot keep must not leave
    # them half updated
    b = TableBuilder()
    good = {"Node": "n1", "CheckID": "a", "ServiceID": "web-1", "ServiceName": "web",
            "Status": "passing", "ModifyIndex": 1}  # fmt: skip
    odd = {"Node": "n1", "CheckID": "b", "ServiceID": "web-2", "ServiceName": "web",
           "Status": "passing", "ModifyIndex": 1}  # fmt: skip
    b.set_checks([good, odd])
    assert set(_marks(b)) == {("n1", "a"), ("n1", "b")}
    odd_status = {**odd, "Status": [1, 2], "ModifyIndex": 2}
    odd_node = {**good, "Node": {"x": 1}, "CheckID": "c"}
    assert b.set_checks([good, odd_status, odd_node]) == {"web"}
    assert set(_marks(b)) == {("n1", "a")}
    assert b._by_name == {"web": (_marks(b)[("n1", "a")],)}


def test_a_services_instances_with_equal_tags_keep_one_tags_tuple() -> None:
    b = TableBuilder()
    b.set_services({"web": ["urlprefix-/web"]})
    answer = json.loads(
        json.dumps(
            [
                {
                    "Node": "n1",
                    "ServiceID": "web-1",
                    "ServiceName": "web",
                    "ServiceTags": ["urlprefix-/web"],
                },
                {
                    "Node": "n2",
                    "ServiceID": "web-2",
                    "ServiceName": "web",
                    "ServiceTags": ["urlprefix-/web"],
                },
                {
                    "Node": "n3",
                    "ServiceID": "web-3",
                    "ServiceName": "web",
                    "ServiceTags": ["other"],
                },
            ]
        )
    )
    b.set_instances("web", answer)
    tags = [row[_INSTANCE_FIELDS.index("ServiceTags")] for row in b._instances["web"]]
    assert tags == [("urlprefix-/web",), ("urlprefix-/web",), ("other",)]
    assert tags[0] is tags[1]


def test_a_removed_check_leaves_no_empty_node_behind() -> None:
    b = TableBuilder()
    b.set_checks(_answer(6))
    b.set_checks([c for c in _answer(6) if c["Node"] != "node-1"])
    assert set(b._marks) == {"node-0", "node-2"}
    assert all(b._marks.values())
