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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from yurt.router.commands import RouteDef, parse_line
from yurt.router.health import NODE_MAINT, passing_instances
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
    for d in manual:
        try:
            table.apply(d)
        except RouteError as exc:
            # Fabio drops the whole table here; one stale weight should not do that.
            errors.append(f"manual route {d.cmd.value} {d.service} {d.src}: {exc}")
    for routes in table.hosts.values():
        routes.sort(key=lambda r: r.path, reverse=True)
    return table, errors


def _checks_by_service(checks: Iterable[Check]) -> tuple[dict[str, list[Check]], set[str]]:
    """The service checks grouped by service name ("": those naming no service), and the
    nodes whose checks block every instance on them (maintenance, serfHealth critical)."""
    by_name: dict[str, list[Check]] = {}
    blocked: set[str] = set()
    for c in checks:
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


_Signature = tuple[tuple[str, str, str, str, int], ...]


def _signature(checks: Iterable[Check]) -> _Signature:
    """What of a service's checks can change its routes; the modify index too, which moves
    when the catalog rewrites a check (as a re-registration of its instance may)."""
    return tuple(
        sorted(
            (
                str(c.get("Node", "")),
                str(c.get("CheckID", "")),
                str(c.get("ServiceID", "")),
                str(c.get("Status", "")),
                int(c.get("ModifyIndex") or 0),
            )
            for c in checks
        )
    )


@dataclass
class TableBuilder:
    """The table kept in step with the catalog service by service.

    Feed it each new answer (`set_services`, `set_checks`, `set_instances`); `stale()`
    says which routed services must be read from the catalog again; `table()` assembles
    the table, regenerating only the services whose instances or checks changed."""

    rules: Rules = field(default_factory=Rules)
    env: dict[str, str] = field(default_factory=dict)
    services: dict[str, list[str]] = field(default_factory=dict)
    _instances: dict[str, list[Instance]] = field(default_factory=dict)
    _stale: set[str] = field(default_factory=set)  # routed, to be read again
    _regen: set[str] = field(default_factory=set)  # read, commands to be regenerated
    _generated: dict[str, _Generated] = field(default_factory=dict)
    _by_name: dict[str, list[Check]] = field(default_factory=dict)
    _signatures: dict[str, _Signature] = field(default_factory=dict)
    _blocked: set[str] = field(default_factory=set)
    _checks_seen: bool = False

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
        new = {str(k): [str(t) for t in v or ()] for k, v in services.items()}
        for name in set(self.services) | set(new):
            if self.services.get(name) != new.get(name):
                self._stale.add(name)
        self.services = new
        routed = set(routed_names(new, self.rules.tag_prefix))
        for name in list(self._instances):
            if name not in routed:
                self._forget(name)
        self._stale &= routed

    def set_checks(self, checks: Iterable[Check]) -> set[str]:
        """A new answer of `/v1/health/state/any`; returns the services it changes."""
        by_name, blocked = _checks_by_service(checks)
        signatures = {name: _signature(own) for name, own in by_name.items()}
        # A service whose own checks changed is read again (one request: its instances
        # may have changed with them); one only behind a newly blocked node is regenerated.
        own = {
            name
            for name in set(signatures) | set(self._signatures)
            if signatures.get(name) != self._signatures.get(name)
        }
        changed = set(own)
        nodes = blocked ^ self._blocked
        if "" in own or not self._checks_seen:
            changed.update(self._instances)  # checks naming no service: any service's
        elif nodes:
            changed.update(
                name
                for name, insts in self._instances.items()
                if any(str(i.get("Node", "")) in nodes for i in insts)
            )
        self._by_name, self._signatures, self._blocked = by_name, signatures, blocked
        self._checks_seen = True
        self._regen.update(name for name in changed if name in self._instances)
        self._stale.update(own)
        self._stale &= set(routed_names(self.services, self.rules.tag_prefix))
        return changed

    def read_all(self) -> None:
        """Read every routed service again: the catalog changed in a way none of its
        answers here attributes to a service (an instance's address changed, keeping its
        tags and checks)."""
        self._stale.update(routed_names(self.services, self.rules.tag_prefix))

    def take_stale(self) -> list[str]:
        """The routed services to read again (`/v1/catalog/service/:name`), sorted; they
        count as read from now on, so a change arriving while they are read marks them
        again (`mark_stale` puts them back if the read fails)."""
        routed = set(routed_names(self.services, self.rules.tag_prefix))
        stale = sorted((self._stale | (routed - set(self._instances))) & routed)
        self._stale.clear()
        return stale

    def mark_stale(self, names: Iterable[str]) -> None:
        self._stale.update(names)

    def set_instances(self, name: str, instances: Sequence[Instance]) -> None:
        self._instances[name] = list(instances)
        self._regen.add(name)

    def _forget(self, name: str) -> None:
        self._instances.pop(name, None)
        self._generated.pop(name, None)
        self._regen.discard(name)

    # the table -------------------------------------------------------------------------

    def table(self, manual: Iterable[RouteDef]) -> tuple[Table, list[str]]:
        """The table as `build_table` would build it from what was fed so far."""
        orphans = self._by_name.get("", [])
        for name in self._regen:
            if name in self._instances:
                self._generated[name] = _generate(
                    self._instances[name],
                    self._by_name.get(name, []) + orphans,
                    self._blocked,
                    self.rules,
                    self.env,
                )
        self._regen.clear()
        names = routed_names(self.services, self.rules.tag_prefix)
        empty = _Generated([], [])
        return _assemble((self._generated.get(n, empty) for n in names), manual, self.rules)

    def instances(self, name: str) -> list[Instance]:
        return list(self._instances.get(name, ()))
