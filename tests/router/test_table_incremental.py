"""The table kept service by service equals the table built from scratch.

A small catalog model (instances with checks, node-level checks, the answers of
`/v1/catalog/services`, `/v1/health/state/any` and `/v1/catalog/service/:name` as yurt's
catalog gives them) goes through random changes; after each batch the builder is fed the
way the watcher feeds it (the two answers in either order, a table assembled in between or
not, only the services it asks for read again), and the table it assembles must equal
`build_table` on the final state: same routes, weights, options, errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yurt.router.commands import RouteDef, parse
from yurt.router.table import Table
from yurt.router.table_builder import Rules, TableBuilder, build_table

NODES = ("n1", "n2", "n3")
SERVICES = ("api", "web", "db", "ui")
TAG_SETS = (
    ("urlprefix-/a",),
    ("urlprefix-/b", "v2"),
    ("other",),
    ("urlprefix-/a", "urlprefix-shop.example/ strip=/x"),
    ("urlprefix-/c proto=bogus",),  # an error, kept in the error list
    ("urlprefix-/$DC/x",),
)
STATUSES = ("passing", "warning", "critical")
MANUAL = (
    "",
    "route weight api /a weight 0.3",
    'route del web\nroute add extra /m http://10.9.9.9:1/ tags "m"',
)


@dataclass
class _Instance:
    service: str
    addr: str
    port: int
    tags: tuple[str, ...]
    checks: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (status, index)


@dataclass
class Catalog:
    """Just enough of yurt's catalog: one index; a check's ModifyIndex moves when its status
    or its service's name or tags change, not on a re-registration that changes neither."""

    index: int = 1
    instances: dict[tuple[str, str], _Instance] = field(default_factory=dict)
    node_checks: dict[str, dict[str, str]] = field(default_factory=dict)
    services_moved: bool = False

    def register(
        self,
        node: str,
        sid: str,
        name: str,
        addr: str,
        port: int,
        tags: tuple[str, ...],
        n: int,
        status: str = "critical",
    ) -> None:
        self.index += 1
        old = self.instances.get((node, sid))
        checks: dict[str, tuple[str, int]] = {}
        for i in range(n):
            cid = f"{sid}:c{i}"
            prior = old.checks.get(cid) if old else None
            same = old is not None and old.service == name and old.tags == tags
            checks[cid] = prior if prior is not None and same else (status, self.index)
        new = _Instance(name, addr, port, tags, checks)
        if old is None or (old.service, old.addr, old.port, old.tags) != (name, addr, port, tags):
            self.services_moved = True
        self.instances[(node, sid)] = new

    def deregister(self, key: tuple[str, str]) -> None:
        if self.instances.pop(key, None) is not None:
            self.index += 1
            self.services_moved = True

    def set_status(self, key: tuple[str, str], which: int, status: str) -> None:
        inst = self.instances.get(key)
        if inst is None or not inst.checks:
            return
        cid = sorted(inst.checks)[which % len(inst.checks)]
        if inst.checks[cid][0] != status:
            self.index += 1
            inst.checks[cid] = (status, self.index)

    def set_node_check(self, node: str, check_id: str, status: str | None) -> None:
        self.index += 1
        checks = self.node_checks.setdefault(node, {})
        if status is None:
            checks.pop(check_id, None)
        else:
            checks[check_id] = status

    # answers -------------------------------------------------------------------------

    def services(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for _key, inst in sorted(self.instances.items()):
            tags = out.setdefault(inst.service, [])
            tags.extend(t for t in inst.tags if t not in tags)
        return out

    def checks(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for node, own in sorted(self.node_checks.items()):
            for cid, status in sorted(own.items()):
                rows.append(
                    {"Node": node, "CheckID": cid, "Status": status, "ServiceID": "",
                     "ServiceName": "", "ModifyIndex": 0}
                )  # fmt: skip
        for (node, sid), inst in sorted(self.instances.items()):
            for cid, (status, index) in sorted(inst.checks.items()):
                rows.append(
                    {"Node": node, "CheckID": cid, "Status": status, "ServiceID": sid,
                     "ServiceName": inst.service, "ModifyIndex": index}
                )  # fmt: skip
        return rows

    def service(self, name: str) -> list[dict[str, Any]]:
        return [
            {
                "Node": node,
                "Address": "10.0.0.1",
                "ServiceID": sid,
                "ServiceName": inst.service,
                "ServiceTags": list(inst.tags),
                "ServiceAddress": inst.addr,
                "ServicePort": inst.port,
            }
            for (node, sid), inst in sorted(self.instances.items())
            if inst.service == name
        ]

    def instances_by_name(self) -> dict[str, list[dict[str, Any]]]:
        return {name: self.service(name) for name in self.services()}


def _same(a: Table, b: Table) -> None:
    assert list(a.hosts) == list(b.hosts)
    assert a.config(with_weight=True) == b.config(with_weight=True)
    assert a.api_routes() == b.api_routes()
    assert a.aliases() == b.aliases()


class Feeder:
    """Feeds a builder as the watcher does."""

    def __init__(self, rules: Rules, env: dict[str, str]) -> None:
        self.builder = TableBuilder(rules)
        self.builder.set_env(env)
        self.services: dict[str, list[str]] | None = None
        self.reads = 0

    def sync(
        self, cat: Catalog, manual: list[RouteDef], *, checks_first: bool, early: bool
    ) -> Table:
        services = cat.services()
        # as the watcher: any move of the services index may hide an instance's move
        unexplained = cat.services_moved and self.services is not None
        cat.services_moved = False
        steps = [lambda: self.builder.set_checks(cat.checks()), lambda: self._services(services)]
        for i, step in enumerate(steps if checks_first else steps[::-1]):
            step()
            if i == 0 and early:
                self.build(cat, manual)  # a rebuild between the two answers
        if unexplained:
            self.builder.mark_stale(self.builder.routed())
        return self.build(cat, manual)

    def _services(self, services: dict[str, list[str]]) -> None:
        self.services = services
        self.builder.set_services(services)

    def build(self, cat: Catalog, manual: list[RouteDef]) -> Table:
        for name in self.builder.take_stale():
            self.reads += 1
            self.builder.set_instances(name, cat.service(name))
        return self.builder.table(manual)[0]


_ops = st.one_of(
    st.tuples(
        st.just("register"),
        st.sampled_from(NODES),
        st.integers(0, 3),
        st.sampled_from(SERVICES),
        st.sampled_from(("10.0.0.1", "10.0.0.2")),
        st.sampled_from((80, 8080)),
        st.sampled_from(TAG_SETS),
        st.integers(0, 2),
        st.sampled_from(STATUSES),
    ),
    st.tuples(st.just("deregister"), st.sampled_from(NODES), st.integers(0, 3)),
    st.tuples(
        st.just("status"),
        st.sampled_from(NODES),
        st.integers(0, 3),
        st.integers(0, 1),
        st.sampled_from(STATUSES),
    ),
    st.tuples(
        st.just("node"),
        st.sampled_from(NODES),
        st.sampled_from(("serfHealth", "_node_maintenance")),
        st.sampled_from(("passing", "critical", None)),
    ),
    # the manual routes may change between builds (an edit of the KV entry)
    st.tuples(st.just("sync"), st.booleans(), st.booleans(), st.sampled_from((None, *MANUAL))),
)


def _apply(cat: Catalog, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "register":
        _, node, i, name, addr, port, tags, n, status = op
        cat.register(node, f"s{i}", name, addr, port, tags, n, status)
    elif kind == "deregister":
        cat.deregister((op[1], f"s{op[2]}"))
    elif kind == "status":
        cat.set_status((op[1], f"s{op[2]}"), op[3], op[4])
    elif kind == "node":
        cat.set_node_check(op[1], op[2], op[3])


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(_ops, max_size=40),
    manual=st.sampled_from(MANUAL),
    status=st.sampled_from((("passing",), ("passing", "warning"))),
    require_all=st.booleans(),
    route_unchecked=st.booleans(),
)
def test_incremental_table_equals_the_table_from_scratch(
    ops: list[tuple[Any, ...]],
    manual: str,
    status: tuple[str, ...],
    require_all: bool,
    route_unchecked: bool,
) -> None:
    rules = Rules(service_status=status, require_all=require_all, route_unchecked=route_unchecked)
    env = {"DC": "dc1"}
    defs = parse(manual)
    cat = Catalog()
    feeder = Feeder(rules, env)
    published: list[tuple[Table, list[str], list[dict[str, Any]] | None]] = []
    for op in [*ops, ("sync", True, False, None)]:
        _apply(cat, op)
        if op[0] != "sync":
            continue
        if op[3] is not None:
            defs = parse(op[3])
        got = feeder.sync(cat, defs, checks_first=op[1], early=op[2])
        # a table once swapped in never changes, though later ones share its routes
        for old, config, routes in published:
            assert old.config(with_weight=True) == config
            assert old.api_routes() == routes
        published.append((got, got.config(with_weight=True), got.api_routes()))
        want, want_errors = build_table(
            cat.services(), cat.instances_by_name(), cat.checks(), defs, rules, env
        )
        _same(got, want)
        assert feeder.builder.table(defs)[1] == want_errors


def _catalog_of_three() -> Catalog:
    cat = Catalog()
    for i, name in enumerate(("api", "web", "db")):
        cat.register("n1", f"s{i}", name, "10.0.0.1", 80 + i, ("urlprefix-/" + name,), 1)
        cat.set_status(("n1", f"s{i}"), 0, "passing")
    return cat


@pytest.mark.parametrize(
    ("change", "reads"),
    [
        # one instance's health: that service alone is read again
        (lambda c: c.set_status(("n1", "s1"), 0, "critical"), 1),
        # a new instance with a check and the same tags: its checks name its service, but
        # the services answer does not, so all are read again (the watcher bounds how often)
        (lambda c: c.register("n2", "s9", "web", "10.0.0.2", 80, ("urlprefix-/web",), 1), 3),
        # a new service: the services index moved, which may hide another instance's move
        # (one re-registered under another name, say): all are read again, the new one too
        (lambda c: c.register("n2", "s8", "new", "10.0.0.2", 80, ("urlprefix-/new",), 1), 4),
        # a node going into maintenance: regenerated from what is known, nothing read
        (lambda c: c.set_node_check("n1", "_node_maintenance", "critical"), 0),
        # an address changed with tags and checks kept: nothing names it, all read again
        (lambda c: c.register("n1", "s0", "api", "10.0.0.7", 80, ("urlprefix-/api",), 1), 3),
        # a service's tags changed: the same, all read again (at a bounded rate in the watcher)
        (lambda c: c.register("n1", "s2", "db", "10.0.0.1", 82, ("urlprefix-/db2",), 1), 3),
    ],
)
def test_a_change_reads_only_the_services_it_touches(change: Any, reads: int) -> None:
    rules, env = Rules(), {"DC": "dc1"}
    cat = _catalog_of_three()
    feeder = Feeder(rules, env)
    feeder.sync(cat, [], checks_first=True, early=False)
    assert feeder.reads == 3
    change(cat)
    got = feeder.sync(cat, [], checks_first=False, early=False)
    assert feeder.reads - 3 == reads
    _same(
        got, build_table(cat.services(), cat.instances_by_name(), cat.checks(), [], rules, env)[0]
    )


@pytest.mark.parametrize(
    "manual",
    ["", "route weight api /a weight 0.3", "route del web"],
)
def test_delta_of_tables_sharing_routes_equals_the_whole_comparison(manual: str) -> None:
    """`Table.delta` (what `log.routes.format = delta` logs) skips the routes two tables
    share; the result is that of comparing every line of both."""
    cat = _catalog_of_three()
    feeder = Feeder(Rules(), {"DC": "dc1"})
    defs = parse(manual)
    old = feeder.sync(cat, defs, checks_first=True, early=False)
    cat.set_status(("n1", "s1"), 0, "critical")
    cat.register("n2", "s7", "api", "10.0.0.9", 80, ("urlprefix-/a", "v2"), 1)
    cat.set_status(("n2", "s7"), 0, "passing")
    new = feeder.sync(cat, defs, checks_first=True, early=False)
    before, after = set(old.config()), new.config()
    want = ([line for line in after if line not in before], sorted(before - set(after)))
    assert new.delta(old) == want
    assert want != ([], [])
    assert old.delta(old) == ([], [])


def test_check_entries_that_are_not_objects_or_lack_fields_do_not_stop_the_builder() -> None:
    builder = TableBuilder(Rules())
    builder.set_services({"api": ["urlprefix-/api"]})
    changed = builder.set_checks(
        [
            7,
            "text",
            None,
            {
                "Node": "n1",
                "CheckID": "c1",
                "Status": "passing",
                "ServiceID": "s0",
                "ServiceName": "api",
            },  # no ModifyIndex
            {"Node": "n1", "CheckID": "serfHealth", "Status": "critical"},  # a node check
        ]
    )
    assert changed == {"api"}
    builder.set_instances(
        "api",
        [
            {
                "Node": "n1",
                "ServiceID": "s0",
                "ServiceName": "api",
                "ServiceAddress": "10.0.0.1",
                "ServicePort": 80,
                "ServiceTags": ["urlprefix-/api"],
            }
        ],
    )
    table, errors = builder.table([])
    assert errors == [] and len(table) == 0  # n1's serfHealth is critical: nothing routes
