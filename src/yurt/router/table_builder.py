"""The routing table from the catalog's answers, kept per service between changes.

Fabio rebuilds its table from every routed service's instances on any change. At 10,000
services that is 10,000 catalog reads and route commands per health flap, so this builder
remembers, per service, its instances (`/v1/catalog/service/:name`) and the route
commands they produced, and works out from each new answer of `/v1/catalog/services` and
`/v1/health/state/any` which services changed: only those are read again or have their
commands regenerated. The table itself is then assembled from the remembered commands in
the same order as a build from scratch (`build_table`), which is what makes the two equal
(tests/router/test_table_incremental.py).

Pure: no I/O. The watcher reads the catalog and feeds it.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from yurt.router.commands import RouteDef, parse_line
from yurt.router.health import NODE_MAINT, passing_instances
from yurt.router.route_assembly import RouteAssembly, apply_manual, service_routes
from yurt.router.table import RouteError, Table
from yurt.router.tags import service_commands

Check = Mapping[str, Any]
Instance = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Rules:
    """The router's settings that decide what routes (RouterConfig's, by value)."""

    tag_prefix: str = "urlprefix-"
    service_status: tuple[str, ...] = ("passing",)
    require_all: bool = False
    route_unchecked: bool = False
    glob: bool = True


def routed_names(services: Mapping[str, Sequence[str]], prefix: str) -> list[str]:
    """The services with at least one route tag, sorted (the table's service order)."""
    return sorted(
        name
        for name, tags in services.items()
        if any(str(t).strip().startswith(prefix) for t in tags)
    )


def _blocks_node(c: Check) -> bool:
    check_id = str(c.get("CheckID", ""))
    return check_id == NODE_MAINT or (check_id == "serfHealth" and c.get("Status") == "critical")


@dataclass(slots=True)
class _Generated:
    """What one service's instances produced: parsed route commands, and the errors."""

    defs: list[tuple[str, RouteDef | None, str]]  # (line, parsed, parse error)
    errors: list[str]


def _generate(
    instances: Iterable[Instance],
    own_checks: Sequence[Check],
    blocked: set[str],
    rules: Rules,
    env: Mapping[str, str],
) -> _Generated:
    """The route commands of one service's routed instances, given the checks that concern
    it (its own and those with no service name) and the nodes blocked for everything."""
    passing = passing_instances(own_checks, rules.service_status, require_all=rules.require_all)
    checked: set[tuple[str, str]] = set()
    if rules.route_unchecked:
        checked = {
            (str(c.get("Node", "")), str(c.get("ServiceID")))
            for c in own_checks
            if c.get("ServiceID")
        }
    errors: list[str] = []
    defs: list[tuple[str, RouteDef | None, str]] = []
    for inst in instances:
        key = (str(inst.get("Node", "")), str(inst.get("ServiceID", "")))
        if key[0] in blocked:
            continue
        ok = key in passing or (rules.route_unchecked and key not in checked)
        if not ok:
            continue
        for line in service_commands(inst, rules.tag_prefix, env, errors):
            try:
                defs.append((line, parse_line(line), ""))
            except ValueError as exc:
                defs.append((line, None, str(exc)))
    return _Generated(defs, errors)


def _assemble(
    generated: Iterable[_Generated], manual: Iterable[RouteDef], rules: Rules
) -> tuple[Table, list[str]]:
    errors: list[str] = []
    parts = list(generated)
    for g in parts:
        errors.extend(g.errors)
    table = Table(glob=rules.glob)
    for g in parts:
        for line, d, problem in g.defs:
            if d is None:
                errors.append(f"generated route {line!r}: {problem}")
                continue
            try:
                table.apply(d)
            except (ValueError, RouteError) as exc:
                errors.append(f"generated route {line!r}: {exc}")
    apply_manual(table, manual, errors)
    table.sort()
    return table, errors


# What of a check decides routes, and whether its service changed: the modify index moves when the
# catalog rewrites a check (as a re-registration of its instance may); the rest is compared
# too, for a catalog that keeps the index on an update.
_MARK_NAMES = ("Node", "CheckID", "ModifyIndex", "Status", "ServiceID", "ServiceName")
_MARK_FIELDS = operator.itemgetter(*_MARK_NAMES)
_Mark = tuple[Any, ...]  # the values of _MARK_NAMES


# What of an instance decides routes (a whole answer entry is about ten times larger).
_INSTANCE_FIELDS = (
    "Node",
    "Address",
    "ServiceID",
    "ServiceName",
    "ServiceTags",
    "ServiceAddress",
    "ServicePort",
)


# Between changes the builder keeps each instance and check as a tuple of those fields'
# values, strings interned: a dict per instance and per check, and each answer's own copy
# of the same node, service and check names, were half of what the router held per
# instance. A dict is made again only for a service whose routes are generated.
_Row = tuple[Any, ...]


class _Absent:
    """A field the entry did not have (not the same as one that was null); false, as a
    missing ServiceID or ServiceName reads."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Any = _Absent()
_intern = sys.intern


def _kept(value: Any) -> Any:
    if type(value) is str:
        return _intern(value)
    if type(value) is list and all(type(v) is str for v in value):
        return tuple(map(_intern, value))  # ServiceTags: read, never changed
    return value


_TAGS_AT = _INSTANCE_FIELDS.index("ServiceTags")


def _instance_row(entry: Mapping[str, Any], tags_of: dict[Any, Any]) -> _Row:
    """`tags_of`: the tag tuples of the answer's other instances, one kept for equal tags
    (a service's instances mostly have the same)."""
    row = [_kept(entry.get(k, _ABSENT)) for k in _INSTANCE_FIELDS]
    tags = row[_TAGS_AT]
    if type(tags) is tuple:
        row[_TAGS_AT] = tags_of.setdefault(tags, tags)
    return tuple(row)


def _instance_entry(row: _Row) -> dict[str, Any]:
    return {k: v for k, v in zip(_INSTANCE_FIELDS, row, strict=True) if v is not _ABSENT}


def _row_node(row: _Row) -> str:
    return "" if row[0] is _ABSENT else str(row[0])


def _check_entry(mark: _Mark) -> dict[str, Any]:
    """A check as `passing_instances` reads it, from its mark."""
    return {k: v for k, v in zip(_MARK_NAMES, mark, strict=True) if v is not _ABSENT}


def _kept_mark(mark: _Mark) -> _Mark:
    return tuple(map(_kept, mark))


def _mark_of(c: Any) -> _Mark | None:
    """A check's mark (None for an entry that is no object)."""
    try:
        return _MARK_FIELDS(c)  # type: ignore[no-any-return]
    except (KeyError, TypeError):
        if not isinstance(c, Mapping):
            return None
        return tuple(c.get(f, _ABSENT) for f in _MARK_NAMES)


def _checks_by_service(checks: Iterable[Check]) -> tuple[dict[str, list[Check]], set[str]]:
    """The service checks grouped by service name ("": those naming no service), and the
    nodes whose checks block every instance on them (maintenance, serfHealth critical).
    The answer's own entries, not the builder's tuples: the table from scratch is what the
    builder is tested against."""
    by_name: dict[str, list[Check]] = {}
    blocked: set[str] = set()
    for c in checks:
        if not isinstance(c, Mapping):
            continue
        if c.get("ServiceID"):
            by_name.setdefault(str(c.get("ServiceName") or ""), []).append(c)
        if _blocks_node(c):
            blocked.add(str(c.get("Node", "")))
    return by_name, blocked


def build_table(
    services: Mapping[str, Sequence[str]],
    instances: Mapping[str, Sequence[Instance]],
    checks: Iterable[Check],
    manual: Iterable[RouteDef],
    rules: Rules,
    env: Mapping[str, str],
) -> tuple[Table, list[str]]:
    """The table from scratch, as Fabio builds it: every routed service's instances that
    pass, in service-name order, then the manual routes. Returns it with the errors."""
    by_name, blocked = _checks_by_service(checks)
    orphans = by_name.get("", [])
    generated = [
        _generate(instances.get(name, ()), by_name.get(name, []) + orphans, blocked, rules, env)
        for name in routed_names(services, rules.tag_prefix)
    ]
    return _assemble(generated, manual, rules)


@dataclass
class TableBuilder:
    """The table kept in step with the catalog service by service.

    Feed it each new answer (`set_services`, `set_checks`, `set_instances`); `stale()`
    says which routed services must be read from the catalog again; `table()` assembles
    the table, regenerating only the services whose instances or checks changed."""

    rules: Rules = field(default_factory=Rules)
    env: dict[str, str] = field(default_factory=dict)
    services: dict[str, list[str]] = field(default_factory=dict)
    _instances: dict[str, tuple[_Row, ...]] = field(default_factory=dict)
    _stale: set[str] = field(default_factory=set)  # routed, to be read again
    _regen: set[str] = field(default_factory=set)  # read, commands to be regenerated
    _errors: dict[str, list[str]] = field(default_factory=dict)  # of generating, when any
    # what each check looked like, by node and check ID (a dict per node rather than a
    # (node, check ID) key per check: one tuple fewer per check kept), and each service's
    _marks: dict[Any, dict[Any, _Mark]] = field(default_factory=dict)
    # (tuples, made again once per answer for the services it changes: a set was 216 bytes)
    _by_name: dict[str, tuple[_Mark, ...]] = field(default_factory=dict)
    _blocked: set[str] = field(default_factory=set)
    _checks_seen: bool = False
    _routed: list[str] = field(default_factory=list)  # routed_names(services), kept
    _assembly: RouteAssembly = field(default_factory=RouteAssembly)
    _routed_set: set[str] = field(default_factory=set)

    # what the catalog said -------------------------------------------------------------

    def set_rules(self, rules: Rules) -> None:
        if rules != self.rules:
            self.rules = rules
            self._regen.update(self._instances)
            self.set_services(self.services)

    def set_env(self, env: Mapping[str, str]) -> None:
        if dict(env) != self.env:
            self.env = dict(env)
            self._regen.update(self._instances)

    def set_services(self, services: Mapping[str, Sequence[str]]) -> None:
        """A new answer of `/v1/catalog/services`: services whose tags changed, or which
        came or went, are read again."""
        # interned: the names and tags are kept until the next answer, and are the same
        # strings as the instances' (a copy of each per service was ~1 MB at 10,000)
        new = {_intern(str(k)): list(map(_intern, map(str, v or ()))) for k, v in services.items()}
        old = self.services
        self._stale.update(name for name, tags in new.items() if old.get(name) != tags)
        self._stale.update(name for name in old if name not in new)
        self.services = new
        self._routed = routed_names(new, self.rules.tag_prefix)
        routed = self._routed_set = set(self._routed)
        for name in [n for n in self._instances if n not in routed]:
            self._forget(name)
        self._stale &= routed

    def set_checks(self, checks: Iterable[Check]) -> set[str]:
        """A new answer of `/v1/health/state/any`; returns the services it changes.

        Only the checks that differ from the last answer's are looked at further: a health
        flap among 30,000 checks costs one comparison per check, not a regrouping."""
        # Updated in place: an unchanged check costs a lookup, and the kept tuples and keys
        # stay the ones first made (a new dict and key per check for every answer were
        # garbage the size of the table, the answer's own strings referenced besides).
        marks, by_name = self._marks, self._by_name
        seen: dict[Any, set[Any]] = {}  # check IDs by node
        blocked: set[str] = set()
        own: set[str] = set()  # services whose own checks changed
        gone: set[_Mark] = set()  # their marks replaced or removed
        added: dict[str, list[_Mark]] = {}
        # The loop runs once per check of the catalog on every change: kept to one C-level
        # multi-get and a comparison (30,000 checks: a tenth of a second on the 2-core
        # machine, half of it this loop).
        for c in checks:
            got = _mark_of(c)
            if got is None:
                continue
            mark = got
            node, cid = mark[0], mark[1]
            try:
                on_node = seen.get(node)
                if on_node is None:
                    on_node = seen[node] = set()
                on_node.add(cid)
            except TypeError:
                continue  # a node or check ID that is an array or object: no check
            if cid == NODE_MAINT or (cid == "serfHealth" and mark[3] == "critical"):
                blocked.add(node)
            kept = marks.get(node)
            prev = None if kept is None else kept.get(cid)
            if prev is not None and prev == mark:
                continue  # the kept tuple stays: the answer is freed whole
            mark = _kept_mark(mark)
            try:
                hash(mark)  # before anything changes: the update is in place
            except TypeError:
                on_node.discard(cid)  # a field that is an array or object: gone, as no check
                continue
            # keys from the kept tuple (an existing one stays in its dict as it was)
            if kept is None:
                kept = marks[mark[0]] = {}
            kept[cid if prev is not None else mark[1]] = mark
            if prev is not None and prev[4]:
                own.add(prev[5] or "")
                gone.add(prev)
            if mark[4]:
                name = mark[5] or ""
                own.add(name)
                added.setdefault(name, []).append(mark)
        for node in list(marks):
            kept, still = marks[node], seen.get(node, ())
            for cid in [k for k in kept if k not in still]:
                prev = kept.pop(cid)
                if prev[4]:
                    own.add(prev[5] or "")
                    gone.add(prev)
            if not kept:
                del marks[node]
        for name in own:
            now = [m for m in by_name.get(name, ()) if m not in gone]
            now += added.get(name, ())
            if now:
                by_name[name] = tuple(now)
            else:
                by_name.pop(name, None)
        # A service whose own checks changed is read again (one request: its instances
        # may have changed with them); one only behind a newly blocked node is regenerated.
        changed = set(own)
        nodes = blocked ^ self._blocked
        if "" in own or not self._checks_seen:
            changed.update(self._instances)  # checks naming no service: any service's
        elif nodes:
            changed.update(
                name
                for name, insts in self._instances.items()
                if any(_row_node(i) in nodes for i in insts)
            )
        self._blocked = blocked
        self._checks_seen = True
        self._regen.update(name for name in changed if name in self._instances)
        self._stale.update(own & self._routed_set)
        return changed

    def routed(self) -> list[str]:
        """The routed services, in table order."""
        return list(self._routed)

    def take_stale(self) -> list[str]:
        """The routed services to read again (`/v1/catalog/service/:name`), sorted; they
        count as read from now on, so a change arriving while they are read marks them
        again (`mark_stale` puts them back if the read fails)."""
        routed = self._routed_set
        stale = sorted((self._stale | (routed - self._instances.keys())) & routed)
        self._stale.clear()
        return stale

    def mark_stale(self, names: Iterable[str]) -> None:
        self._stale.update(names)

    def set_instances(self, name: str, instances: Sequence[Instance]) -> None:
        tags_of: dict[Any, Any] = {}
        rows = tuple(_instance_row(i, tags_of) for i in instances)
        if self._instances.get(name) == rows:
            return  # read again and unchanged (most of a read of every service)
        self._instances[name] = rows
        self._regen.add(name)

    def _forget(self, name: str) -> None:
        self._instances.pop(name, None)
        self._errors.pop(name, None)
        self._regen.discard(name)
        self._assembly.set(name, None)

    # the table -------------------------------------------------------------------------

    def table(self, manual: Iterable[RouteDef]) -> tuple[Table, list[str]]:
        """The table as `build_table` would build it from what was fed so far."""
        orphans = [_check_entry(m) for m in self._by_name.get("", ())]
        for name in self._regen:
            if name in self._instances:
                g = _generate(
                    map(_instance_entry, self._instances[name]),
                    [*map(_check_entry, self._by_name.get(name, ())), *orphans],
                    self._blocked,
                    self.rules,
                    self.env,
                )
                if g.errors:
                    self._errors[name] = g.errors
                else:
                    self._errors.pop(name, None)
                self._assembly.set(name, service_routes(g.defs))
        self._regen.clear()
        errors = [e for n in self._routed for e in self._errors.get(n, ())]
        errors += self._assembly.errors(self._routed)
        table = self._assembly.table(glob=self.rules.glob)
        apply_manual(table, manual, errors)
        table.sort()
        return table, errors
