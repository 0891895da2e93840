"""The routing table: routes grouped by host, targets weighed on Fabio's 10,000-slot ring.

A table is built once from route commands and never changed afterwards; the watcher swaps a
whole new table in, so the proxy reads a consistent one without locks.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import itertools
import logging
import random
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from yurt.router.commands import NO_OPTS, Cmd, RouteDef, parse, quote

log = logging.getLogger(__name__)

MAX_SLOTS = 10_000
"""Slots on the weighted ring of one route: every target with weight > 0 gets at least one."""

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RouteError(ValueError):
    """A command that parses but cannot be applied (bad target URL, empty prefix)."""


@dataclass(eq=False, slots=True)
class Target:
    """One upstream of a route: a service instance, or a redirect."""

    service: str
    dst: str
    scheme: str
    host: str
    port: int
    url_path: str
    url_query: str
    tags: tuple[str, ...] = ()
    opts: Mapping[str, str] = field(
        default_factory=lambda: NO_OPTS
    )  # the command's, shared (read only)
    fixed_weight: float = 0.0
    weight: float = 0.0
    strip_path: str = ""
    prepend_path: str = ""
    host_header: str = ""
    tls_skip_verify: bool = False
    redirect_code: int = 0
    auth_scheme: str = ""  # `auth=NAME`: a scheme of proxy.auth
    # The route the target belongs to (for metrics and views).
    route_host: str = ""
    route_path: str = ""
    allow: tuple[IPNetwork, ...] = ()
    deny: tuple[IPNetwork, ...] = ()
    # The Host value `host=dst` sends: computed once.
    netloc: str = ""
    # Pooled upstream connections are shared by targets with the same key: the URL's
    # host[:port], and for TLS its mode, so `tlsskipverify` never leaks (`pool_key`).
    pool_key: str = ""

    @property
    def has_access_rules(self) -> bool:
        return bool(self.allow or self.deny)

    def access_denied(self, ips: Iterable[str]) -> bool:
        """Fabio's rule: with `allow` only listed networks pass; else `deny` blocks its own.

        Every address given is checked (the peer and each X-Forwarded-For hop).
        """
        for text in ips:
            try:
                ip = ipaddress.ip_address(text.strip())
            except ValueError:
                continue
            if self._deny_ip(ip):
                return True
        return False

    def _deny_ip(self, ip: IPAddress) -> bool:
        if self.allow:
            return not any(ip in net for net in self.allow if net.version == ip.version)
        return any(ip in net for net in self.deny if net.version == ip.version)


# (scheme, host, port, path, query, netloc)
_URLParts = tuple[str, str, int, str, str, str]

# Each table build parses every target URL again (30,000 at 10,000 services x 3, a third
# of the build); the same URLs come back build after build. Emptied when it grows past
# the bound (targets that came and went).
_URL_CACHE: dict[str, _URLParts] = {}
_URL_CACHE_MAX = 200_000


def _url_parts(dst: str) -> _URLParts:
    cached = _URL_CACHE.get(dst)
    if cached is not None:
        return cached
    parts = urlsplit(dst)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError as exc:
        raise RouteError(f"route: invalid target {dst!r}: {exc}") from None
    if port is None:
        port = 443 if scheme == "https" else 80
    got = (scheme, parts.hostname or "", port, parts.path, parts.query, parts.netloc)
    if len(_URL_CACHE) >= _URL_CACHE_MAX:
        _URL_CACHE.clear()
    _URL_CACHE[dst] = got
    return got


def pool_key(netloc: str, scheme: str, *, tls_skip_verify: bool) -> str:
    """The key of a target's pooled upstream connections. A plain target's is its URL's
    netloc, the string its target already holds: a tuple of its own was 64 bytes a target,
    ~2 MB at 30,000. A space never occurs in a netloc, so a TLS key never equals a plain one."""
    if scheme != "https":
        return netloc
    return netloc + (" tls-unverified" if tls_skip_verify else " tls")


def _target(
    service: str, dst: str, weight: float, tags: tuple[str, ...], opts: Mapping[str, str]
) -> Target:
    if not dst:
        raise RouteError("route: target must not be empty")
    scheme, host, port, url_path, url_query, netloc = _url_parts(dst)
    t = Target(
        service=service,
        dst=dst,
        scheme=scheme,
        host=host,
        port=port,
        url_path=url_path,
        url_query=url_query,
        tags=tags,
        opts=opts,
        fixed_weight=max(weight, 0.0),
        strip_path=opts.get("strip", ""),
        prepend_path=opts.get("prepend", ""),
        host_header=opts.get("host", ""),
        tls_skip_verify=opts.get("tlsskipverify", "") == "true",
        auth_scheme=opts.get("auth", ""),
        netloc=netloc,
    )
    t.pool_key = pool_key(netloc, scheme, tls_skip_verify=t.tls_skip_verify)
    if "redirect" in opts:
        code = opts["redirect"]
        if code.isdigit() and 300 <= int(code) <= 399:
            t.redirect_code = int(code)
        else:
            log.error("redirect status code should be numeric in 3xx range. Got: %s", code)
    allow, deny = opts.get("allow", ""), opts.get("deny", "")
    if allow and deny:
        log.error("route %s -> %s: allow and deny on the same route is not supported", service, dst)
    if allow:
        t.allow = _access_rules(allow)
    elif deny:
        t.deny = _access_rules(deny)
    return t


def _access_rules(text: str) -> tuple[IPNetwork, ...]:
    nets: list[IPNetwork] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        kind, _, value = item.partition(":")
        if kind != "ip" or not value:
            log.error("invalid access rule %r: expected ip:<address or CIDR>", item)
            continue
        try:
            nets.append(ipaddress.ip_network(value, strict=False))
        except ValueError as exc:
            log.error("invalid access rule %r: %s", item, exc)
    return tuple(nets)


@dataclass(eq=False, slots=True)
class Route:
    host: str
    path: str
    targets: list[Target] = field(default_factory=list)
    ring: list[Target] = field(default_factory=list)
    path_lower: str = ""
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def add_target(self, t: Target) -> None:
        for have in self.targets:
            if (
                have.service == t.service
                and have.dst == t.dst
                and have.fixed_weight == t.fixed_weight
                and have.tags == t.tags
            ):
                return
        self.targets.append(t)
        self.weigh()

    def filter(self, drop: Callable[[Target], bool]) -> None:
        self.targets = [t for t in self.targets if not drop(t)]
        self.weigh()

    def matching(self, service: str, tags: tuple[str, ...]) -> list[Target]:
        """The targets a `route weight` for `service` and `tags` sets."""
        return [
            t
            for t in self.targets
            if (not service or t.service == service) and (not tags or contains(t.tags, tags))
        ]

    def set_weight(self, service: str, weight: float, tags: tuple[str, ...]) -> int:
        matching = self.matching(service, tags)
        if not matching:
            return 0
        # The weight is for all matching targets together.
        share = weight / len(matching)
        for t in matching:
            t.fixed_weight = share
        self.weigh()
        return len(matching)

    def weigh(self) -> None:
        """Fabio's weighTargets: fixed weights first, the rest shared evenly, then the ring."""
        targets = self.targets
        if not targets:
            self.ring = []
            return
        fixed = [t for t in targets if t.fixed_weight > 0]
        if not fixed:
            w = 1.0 / len(targets)
            for t in targets:
                t.weight = w
            # the targets themselves, not a copy per route: they change only through
            # add_target, filter and set_weight, each of which weighs again
            self.ring = targets
            return
        sum_fixed = sum(t.fixed_weight for t in fixed)
        scale = 1.0
        if sum_fixed > 1 or (len(fixed) == len(targets) and sum_fixed < 1):
            scale = 1 / sum_fixed
        n_dynamic = len(targets) - len(fixed)
        dynamic = max((1 - sum_fixed) / n_dynamic, 0.0) if n_dynamic else 0.0
        for t in targets:
            t.weight = t.fixed_weight * scale if t.fixed_weight > 0 else dynamic

        counts: list[tuple[int, int]] = []
        used = 0
        for i, t in enumerate(targets):
            n = int(MAX_SLOTS * t.weight)
            if n == 0 and t.weight > 0:
                n = 1
            counts.append((n, i))
            used += n
        # Targets with few slots go first so that they are spread evenly over the ring.
        counts.sort(key=lambda c: c[0])
        ring: list[Target | None] = [None] * used
        for n, i in counts:
            if n <= 0:
                continue
            nxt, step = 0, used // n
            for _ in range(n):
                while ring[nxt] is not None:
                    nxt = (nxt + 1) % used
                ring[nxt] = targets[i]
                nxt = (nxt + step) % used
        self.ring = [t for t in ring if t is not None]


def _copy_target(t: Target) -> Target:
    return Target(**{name: getattr(t, name) for name in Target.__slots__})


def _keep_all(t: Target) -> bool:
    return False


def contains(have: tuple[str, ...], want: tuple[str, ...]) -> bool:
    return all(w in have for w in want)


def hostpath(src: str) -> tuple[str, str]:
    """Fabio's hostpath: 'host/path' -> ('host', '/path'), ':port' (TCP) -> (src, ''),
    and a source without a slash ('host', 'ip:port') -> ('host', '/')."""
    if src.startswith(":"):
        return src, ""
    host, sep, path = src.partition("/")
    if not sep:
        return host, "/"
    # a source without a host is its path: the same string, not a copy per route
    return host, "/" + path if host else src


Picker = Callable[[Route], Target]
Matcher = Callable[[str, Route], bool]


def pick_random(route: Route) -> Target:
    ring = route.ring
    return ring[int(random.random() * len(ring))]


def pick_round_robin(route: Route) -> Target:
    ring = route.ring
    return ring[next(route.counter) % len(ring)]


PICKERS: dict[str, Picker] = {"rnd": pick_random, "rr": pick_round_robin}


def match_prefix(path: str, route: Route) -> bool:
    return path.startswith(route.path)


def match_iprefix(path: str, route: Route) -> bool:
    return path.lower().startswith(route.path_lower)


def match_glob(path: str, route: Route) -> bool:
    return fnmatch.fnmatchcase(path, route.path)


MATCHERS: dict[str, Matcher] = {
    "prefix": match_prefix,
    "iprefix": match_iprefix,
    "glob": match_glob,
}


def normalize_host(host: str, tls: bool = False) -> str:
    """Lower-case, without the scheme's default port."""
    if not tls and host.endswith(":80"):
        host = host[:-3]
    elif tls and host.endswith(":443"):
        host = host[:-4]
    return host.lower()


def _reverse_host(host: str) -> str:
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and not name.endswith("]"):
        return name[::-1] + ":" + port
    return host[::-1]


RouteKey = tuple[str, str]  # (host, lower case; path)


def route_key(d: RouteDef) -> RouteKey:
    """Where a `route add` puts its target; RouteError for an empty prefix."""
    if not d.src:
        raise RouteError("route: prefix must not be empty")
    host, path = hostpath(d.src)
    return host.lower(), path


def check_target(d: RouteDef) -> RouteKey:
    """The key of a `route add` that `Table.apply` would apply; RouteError as it would raise."""
    key = route_key(d)
    _target(d.service, d.dst, d.weight, d.tags, d.opts)
    return key


def _lower(path: str) -> str:
    """`path` in lower case; `path` itself when it is (a route keeps both)."""
    lower = path.lower()
    return path if lower == path else lower


def build_route(key: RouteKey, defs: Iterable[RouteDef]) -> Route | None:
    """The route at `key` as `Table.apply` leaves it after these `route add`s, in order
    (each checked by `check_target` first); None when there are none."""
    route: Route | None = None
    for d in defs:
        target = _target(d.service, d.dst, d.weight, d.tags, d.opts)
        target.route_host, target.route_path = key
        if route is None:
            route = Route(host=key[0], path=key[1], path_lower=_lower(key[1]))
        route.add_target(target)
    return route


class Table:
    """Routes by host; each host's routes sorted by path in reverse lexical order.

    A table made by `borrowing` starts from routes that a previous table may hold too (the
    table builder keeps the routes of unchanged services from build to build): a command
    that would change one of those changes a copy, so a table once swapped in never
    changes."""

    __slots__ = ("_borrowed", "_glob", "_host_cache", "_owned", "_paths", "hosts")

    def __init__(self, hosts: dict[str, list[Route]] | None = None, *, glob: bool = True) -> None:
        self.hosts: dict[str, list[Route]] = hosts or {}
        self._glob = glob
        self._host_cache: dict[str, tuple[str, ...]] = {}
        # (host, path) -> its route: building a table of n routes on one host is then O(n),
        # not the O(n^2) of a scan per command (10,000 services route under one host).
        self._paths: dict[tuple[str, str], Route] = {}
        self._index_paths()
        self._borrowed = False
        self._owned: set[Route] = set()

    @classmethod
    def borrowing(cls, hosts: dict[str, list[Route]], *, glob: bool = True) -> Table:
        """A table of routes shared with others (the lists are its own)."""
        t = cls(hosts, glob=glob)
        t._borrowed = True
        return t

    def _writable(self, r: Route) -> Route:
        """`r`, or its copy put in its place when `r` is borrowed."""
        if not self._borrowed or r in self._owned:
            return r
        copy = Route(host=r.host, path=r.path, path_lower=r.path_lower, counter=r.counter)
        copy.targets = [_copy_target(t) for t in r.targets]
        copy.weigh()
        routes = self.hosts[r.host]
        routes[next(i for i, have in enumerate(routes) if have is r)] = copy
        self._paths[(r.host, r.path)] = copy
        self._owned.add(copy)
        return copy

    def sort(self) -> None:
        """Each host's routes by path, longest match first; the hosts by name."""
        for routes in self.hosts.values():
            routes.sort(key=lambda r: r.path, reverse=True)
        self.hosts = dict(sorted(self.hosts.items()))

    def _index_paths(self) -> None:
        self._paths = {}
        for host, routes in self.hosts.items():
            for r in routes:
                self._paths.setdefault((host, r.path), r)

    def __len__(self) -> int:
        return sum(len(r.targets) for routes in self.hosts.values() for r in routes)

    def aliases(self) -> list[str]:
        """The service names that routes ask the router to register as (`register=`), in
        table order, each once."""
        names = (
            t.opts.get("register", "")
            for routes in self.hosts.values()
            for r in routes
            for t in r.targets
        )
        return list(dict.fromkeys(n for n in names if n))

    # building -----------------------------------------------------------------

    @classmethod
    def from_defs(cls, defs: Iterable[RouteDef], *, glob: bool = True) -> Table:
        t = cls(glob=glob)
        for d in defs:
            t.apply(d)
        t.sort()
        return t

    @classmethod
    def from_text(cls, text: str, *, glob: bool = True) -> Table:
        return cls.from_defs(parse(text), glob=glob)

    def apply(self, d: RouteDef) -> None:
        """Apply one command; RouteError if it cannot be (a `route weight` matching nothing)."""
        if d.cmd is Cmd.ADD:
            self._add(d)
        elif d.cmd is Cmd.DEL:
            self._delete(d)
        else:
            self._weigh(d)

    def _add(self, d: RouteDef) -> None:
        host, path = route_key(d)
        target = _target(d.service, d.dst, d.weight, d.tags, d.opts)
        target.route_host, target.route_path = host, path
        found = self._paths.get((host, path))
        if found is not None:
            self._writable(found).add_target(target)
            return
        r = Route(host=host, path=path, path_lower=_lower(path))
        r.add_target(target)
        self.hosts.setdefault(host, []).append(r)
        self._paths[(host, path)] = r
        self._owned.add(r)

    def _weigh(self, d: RouteDef) -> None:
        if not d.src:
            raise RouteError("route: prefix must not be empty")
        route = self._route(*hostpath(d.src))
        if route is None or not route.matching(d.service, d.tags):
            raise RouteError(f"route: no target match for {d.src}")
        self._writable(route).set_weight(d.service, d.weight, d.tags)

    def _delete(self, d: RouteDef) -> None:
        drop: Callable[[Target], bool]
        if d.tags:

            def drop(t: Target) -> bool:
                return (not d.service or t.service == d.service) and contains(t.tags, d.tags)

        elif not d.src and not d.dst:

            def drop(t: Target) -> bool:
                return t.service == d.service

        else:
            found = self._route(*hostpath(d.src))
            if found is not None:
                if d.dst:
                    self._filter(found, lambda t: t.service == d.service and t.dst == d.dst)
                else:
                    self._filter(found, lambda t: t.service == d.service)
            drop = _keep_all
        if drop is not _keep_all:
            for routes in self.hosts.values():
                for r in list(routes):
                    self._filter(r, drop)
        for host in list(self.hosts):
            kept = [r for r in self.hosts[host] if r.targets]
            if kept:
                self.hosts[host] = kept
            else:
                del self.hosts[host]
        self._index_paths()

    def _filter(self, r: Route, drop: Callable[[Target], bool]) -> None:
        if any(drop(t) for t in r.targets):
            self._writable(r).filter(drop)

    def _route(self, host: str, path: str) -> Route | None:
        return self._paths.get((host.lower(), path))

    # lookup -------------------------------------------------------------------

    def matching_hosts(self, host: str, tls: bool = False) -> tuple[str, ...]:
        """Host patterns of the table matching the request's Host, most specific first,
        then "" (routes without a host)."""
        key = host if not tls else "\x00" + host
        hit = self._host_cache.get(key)
        if hit is not None:
            return hit
        name = normalize_host(host, tls)
        found: list[str] = []
        for pattern in self.hosts:
            if not pattern or pattern.startswith(":"):
                continue
            norm = normalize_host(pattern, tls)
            if norm == name or (self._glob and fnmatch.fnmatchcase(name, norm)):
                found.append(pattern)
        # DNS names are most specific at the front: compare them reversed.
        found.sort(key=_reverse_host, reverse=True)
        found.append("")
        result = tuple(found)
        if len(self._host_cache) < 4096:
            self._host_cache[key] = result
        return result

    def lookup_route(self, host: str, path: str, match: Matcher) -> Route | None:
        for r in self.hosts.get(host, ()):
            if match(path, r):
                return r
        return None

    def lookup(
        self,
        host: str,
        path: str,
        pick: Picker,
        match: Matcher,
        *,
        tls: bool = False,
        scheme: str = "http",
        query: str = "",
    ) -> Target | None:
        """The target for a request, or None: hosts by specificity, then host-less routes.

        A redirect back to the very same scheme, host and path is skipped (Fabio does so to
        avoid loops) and the next host pattern is tried.
        """
        for h in self.matching_hosts(host, tls):
            routes = self.hosts.get(h)
            if not routes:
                continue
            for r in routes:
                if match(path, r):
                    ring = r.ring
                    if not ring:
                        target = None
                    elif len(ring) == 1:
                        target = ring[0]
                    else:
                        target = pick(r)
                    break
            else:
                continue
            if target is None:
                continue
            if target.redirect_code:
                url = redirect_url(target, host, path, query)
                parts = urlsplit(url)
                if parts.scheme == scheme and parts.netloc == host and parts.path == path:
                    continue
            return target
        return None

    def all_targets(self) -> list[Target]:
        return [t for routes in self.hosts.values() for r in routes for t in r.targets]

    def lookup_tcp(self, port_key: str, pick: Picker) -> Target | None:
        for r in self.hosts.get(port_key, ()):
            if r.ring:
                return r.ring[0] if len(r.ring) == 1 else pick(r)
        return None

    # views --------------------------------------------------------------------

    def api_routes(self) -> list[dict[str, Any]] | None:
        """Fabio's /api/routes: one object per target, hosts sorted; None when empty."""
        out: list[dict[str, Any]] = []
        for host in sorted(self.hosts):
            for r in self.hosts[host]:
                for t in r.targets:
                    item: dict[str, Any] = {
                        "service": t.service,
                        "host": r.host,
                        "path": r.path,
                        "src": r.host + r.path,
                        "dst": t.dst,
                        "opts": " ".join(f"{k}={v}" for k, v in sorted(t.opts.items())),
                        "weight": t.weight,
                    }
                    if t.tags:
                        item["tags"] = list(t.tags)
                    item.update({"cmd": "route add", "rate1": 0, "pct99": 0})
                    out.append(item)
        return out or None

    def config(self, *, with_weight: bool = False, skip: Container[Route] = ()) -> list[str]:
        """The table as route commands (Fabio's `?raw` form): host routes first; the
        routes in `skip` left out."""
        hosts = sorted((h for h in self.hosts if h), reverse=True)
        hosts.append("")
        lines: list[str] = []
        for host in hosts:
            for r in self.hosts.get(host, ()):
                if r in skip:
                    continue
                for t in r.targets:
                    if t.weight <= 0:
                        continue
                    s = f"route add {t.service} {r.host}{r.path} {t.dst}"
                    if with_weight:
                        s += f" weight {t.weight:2.4f}"
                    elif t.fixed_weight > 0:
                        s += f" weight {t.fixed_weight:.4f}"
                    if t.tags:
                        s += " tags " + quote(",".join(t.tags))
                    if t.opts:
                        # Fabio prints the options sorted by name, quoted without escaping.
                        s += ' opts "' + " ".join(f"{k}={v}" for k, v in sorted(t.opts.items()))
                        s += '"'
                    lines.append(s)
        return lines

    def __str__(self) -> str:
        return "\n".join(self.config())

    def delta(self, old: Table) -> tuple[list[str], list[str]]:
        """The route commands this table has and `old` has not (in table order), and those
        `old` has and this has not (sorted). Routes both hold (a table builder shares the
        routes of unchanged services) are the same in both and not looked at: at 30,000
        targets, comparing whole tables after each change cost a tenth of a second."""
        mine = {r for routes in self.hosts.values() for r in routes}
        shared = mine.intersection(r for routes in old.hosts.values() for r in routes)
        before = set(old.config(skip=shared))
        after = self.config(skip=shared)
        now = set(after)
        return [line for line in after if line not in before], sorted(before - now)


def redirect_url(t: Target, host: str, path: str, query: str) -> str:
    """Fabio's BuildRedirectURL: `$path` takes the request path less `strip=` and after
    `prepend=`, `$host` the request host; the request query is kept when the target has
    none."""
    r_host = t.netloc
    r_path = t.url_path
    r_query = t.url_query
    if r_host.endswith("$path"):
        r_host = r_host[: -len("$path")]
        r_path = "$path"
    if "/$path" in r_path:
        r_path = r_path.replace("/$path", "$path", 1)
    if "$path" in r_path:
        if t.strip_path and path.startswith(t.strip_path):
            path = path[len(t.strip_path) :]
        r_path = r_path.replace("$path", t.prepend_path + path, 1)
        if not r_query and query:
            r_query = query
    if not r_path:
        r_path = "/"
    if "$host" in r_host:
        r_host = r_host.replace("$host", host.split(":", 1)[0] if ":" in host else host, 1)
    url = f"{t.scheme}://{r_host}{r_path}"
    if r_query:
        url += "?" + r_query
    return url
