"""The generated part of the routing table, kept route by route between builds.

Assembling the table from every service's route commands costs in proportion to the whole
table (30,000 targets: most of a second on the 2-core machine), and the router assembles it
after every change while registrations stream in. Here each service's commands are kept by
the route they add to, and each route is built once and kept until a service adding to it
changes; a build then puts the kept routes into a new table (`Table.borrowing`, which copies
a route before a manual command changes it) and applies the manual commands. The result is
what `Table.apply` of every command in order gives (tests/router/test_table_incremental.py
compares the two).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from yurt.router.commands import Cmd, RouteDef
from yurt.router.table import Route, RouteError, RouteKey, Table, build_route, check_target

Generated = tuple[str, RouteDef | None, str]  # (command line, parsed, parse error)


@dataclass(slots=True)
class ServiceRoutes:
    """One service's `route add` commands by the route they add to, in command order, and
    the errors of those that cannot be applied."""

    # (key, commands) pairs in the order first added to: tuples, not a dict of lists, as
    # most services add to one or two routes (a dict and a list were ~310 bytes a service)
    by_key: tuple[tuple[RouteKey, tuple[RouteDef, ...]], ...] = ()
    errors: tuple[str, ...] = ()  # (an empty list each was 56 bytes a service)

    def keys(self) -> set[RouteKey]:
        return {key for key, _ in self.by_key}

    def defs(self, key: RouteKey) -> tuple[RouteDef, ...]:
        for have, defs in self.by_key:
            if have == key:
                return defs
        return ()


def service_routes(defs: Iterable[Generated]) -> ServiceRoutes:
    out = ServiceRoutes()
    errors: list[str] = []
    by_key: dict[RouteKey, list[RouteDef]] = {}
    for line, d, problem in defs:
        if d is None:
            errors.append(f"generated route {line!r}: {problem}")
            continue
        if d.cmd is not Cmd.ADD:  # tags make `route add` lines only
            errors.append(f"generated route {line!r}: not a route add")
            continue
        try:
            key = check_target(d)
        except ValueError as exc:
            errors.append(f"generated route {line!r}: {exc}")
            continue
        by_key.setdefault(key, []).append(d)
    out.by_key = tuple((key, tuple(defs)) for key, defs in by_key.items())
    out.errors = tuple(errors)
    return out


def apply_manual(table: Table, manual: Iterable[RouteDef], errors: list[str]) -> None:
    for d in manual:
        try:
            table.apply(d)
        except RouteError as exc:
            # Fabio drops the whole table here; one stale weight should not do that.
            errors.append(f"manual route {d.cmd.value} {d.service} {d.src}: {exc}")


@dataclass
class RouteAssembly:
    """The routes of the services' commands, rebuilt only where a service changed."""

    _services: dict[str, ServiceRoutes] = field(default_factory=dict)
    # the services adding to each route: the name itself while there is one (most routes
    # have one service; a set is 216 bytes, ~2 MB at 10,000 routes)
    _adders: dict[RouteKey, str | set[str]] = field(default_factory=dict)
    _routes: dict[str, dict[str, Route]] = field(default_factory=dict)  # host -> path -> route
    _sorted: dict[str, list[Route]] = field(default_factory=dict)  # host -> by path, desc
    _dirty: set[RouteKey] = field(default_factory=set)

    def set(self, name: str, routes: ServiceRoutes | None) -> None:
        """A service's commands changed (None: it has none any more)."""
        old = self._services.pop(name, None)
        if routes is not None:
            self._services[name] = routes
        if old is not None and routes is not None and old.by_key == routes.by_key:
            return
        old_keys = old.keys() if old is not None else set()
        new_keys = routes.keys() if routes is not None else set()
        adders = self._adders
        for key in old_keys - new_keys:
            names = adders.get(key)
            if names is None:
                continue
            if isinstance(names, str):
                if names == name:
                    del adders[key]
                continue
            names.discard(name)
            if len(names) == 1:
                adders[key] = next(iter(names))
        for key in new_keys:
            names = adders.get(key)
            if names is None:
                adders[key] = name
            elif isinstance(names, str):
                if names != name:
                    adders[key] = {names, name}
            else:
                names.add(name)
        self._dirty |= old_keys | new_keys

    def errors(self, names: Iterable[str]) -> list[str]:
        """The errors of the commands of `names`, in that order."""
        return [e for n in names if (s := self._services.get(n)) is not None for e in s.errors]

    def table(self, *, glob: bool) -> Table:
        """A new table of the kept routes (built again where a service changed)."""
        hosts: set[str] = set()
        for key in self._dirty:
            host, path = key
            adders = self._adders.get(key, ())
            names = [adders] if isinstance(adders, str) else sorted(adders)
            route = build_route(key, (d for n in names for d in self._services[n].defs(key)))
            paths = self._routes.setdefault(host, {})
            if route is None:
                paths.pop(path, None)
            else:
                paths[path] = route
            hosts.add(host)
        self._dirty.clear()
        for host in hosts:
            paths = self._routes[host]
            if paths:
                self._sorted[host] = sorted(paths.values(), key=lambda r: r.path, reverse=True)
            else:
                del self._routes[host]
                self._sorted.pop(host, None)
        return Table.borrowing(
            {host: list(self._sorted[host]) for host in sorted(self._sorted)}, glob=glob
        )
