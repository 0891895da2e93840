"""Fabio's metrics, for Prometheus (`metrics.target=prometheus`).

The names and labels are Fabio's: `requests`, `http_status{code}`,
`route{service,host,path,target}` (histograms of seconds), `notfound`,
`http_redirect_count{code}`, `tcp_conn`, `tcp_connfail`, `tcp_noroute`, `tcp_sni_conn`,
`tcp_sni_connfail`, `tcp_sni_noroute` (counters) and `ws_conn` (a gauge), under the namespace
`metrics.prefix` and the subsystem `metrics.prometheus.subsystem`. A `proto=prometheus`
listener serves them at `metrics.prometheus.path` in Prometheus' text format.

Recording is a few list and attribute increments, made on the data path only when metrics
are on; the text is rendered when scraped.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from yurt.router.config_values import ConfigError

if TYPE_CHECKING:
    from yurt.router.table import Target

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Prometheus' default histogram buckets, which Fabio uses unless told otherwise."""

DEFAULT_PREFIX = "{{clean .Hostname}}.{{clean .Exec}}"
_PREFIX_PART = re.compile(r"\{\{\s*(clean\s+)?\.(Hostname|Exec)\s*\}\}")


def clean(text: str) -> str:
    """Fabio's `clean`: dots and colons to underscores, lower case; "" becomes "_"."""
    if not text:
        return "_"
    return text.replace(".", "_").replace(":", "_").lower()


def metrics_prefix(template: str, hostname: str = "", exec_name: str = "") -> str:
    """Evaluate `metrics.prefix` (Go template syntax, `.Hostname` and `.Exec` only)."""
    if template == "default":
        template = DEFAULT_PREFIX
    values = {
        "Hostname": hostname or socket.gethostname(),
        "Exec": exec_name or os.path.basename(sys.argv[0] or "yurt"),
    }

    def part(m: re.Match[str]) -> str:
        value = values[m[2]]
        return clean(value) if m[1] else value

    out = _PREFIX_PART.sub(part, template)
    if "{{" in out:
        raise ConfigError(
            f"metrics.prefix: {template!r}: only {{{{.Hostname}}}}, {{{{.Exec}}}} and their "
            "{{clean ...}} forms are supported"
        )
    return out


def _prom_name(text: str) -> str:
    # Prometheus allows [a-zA-Z_:][a-zA-Z0-9_:]*; Fabio's clean() leaves '-' of host names,
    # which Prometheus' Go client refuses: those become '_' too.
    name = re.sub(r"[^a-zA-Z0-9_]", "_", clean(text))
    return "_" + name if name[:1].isdigit() else name


def parse_buckets(text: str) -> tuple[float, ...]:
    if not text.strip():
        return DEFAULT_BUCKETS
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(
            f"metrics.prometheus.buckets: expected comma-separated numbers, got {text!r}"
        ) from None
    if list(values) != sorted(set(values)):
        raise ConfigError(f"metrics.prometheus.buckets: {text!r} must increase")
    return values


class Counter:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0


class Histogram:
    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1


class _Family:
    """A metric name with its labels and one child per set of label values."""

    def __init__(self, name: str, kind: str, help_text: str, labels: Sequence[str]) -> None:
        self.name = name
        self.kind = kind
        self.help = help_text
        self.labels = tuple(labels)
        self.children: dict[tuple[str, ...], Counter | Histogram] = {}


class ProxyMetrics:
    """The router's metrics; one instance shared by every listener."""

    def __init__(
        self,
        namespace: str,
        subsystem: str = "",
        buckets: tuple[float, ...] = DEFAULT_BUCKETS,
    ) -> None:
        self.prefix = "_".join(_prom_name(p) for p in (namespace, subsystem) if p)
        self.buckets = buckets
        self._families: list[_Family] = []
        self.requests = self._histogram("requests", "response time of proxied HTTP requests")
        self.notfound = self._counter("notfound", "HTTP requests without a route")
        self.ws_conn = self._counter("ws_conn", "open WebSocket connections", kind="gauge")
        self.tcp_conn = self._counter("tcp_conn", "TCP connections proxied")
        self.tcp_connfail = self._counter("tcp_connfail", "TCP upstream connection failures")
        self.tcp_noroute = self._counter("tcp_noroute", "TCP connections without a route")
        self.tcp_sni_conn = self._counter("tcp_sni_conn", "TCP+SNI connections proxied")
        self.tcp_sni_connfail = self._counter(
            "tcp_sni_connfail", "TCP+SNI upstream connection failures"
        )
        self.tcp_sni_noroute = self._counter(
            "tcp_sni_noroute", "TCP+SNI connections without a route"
        )
        self._status = self._family(
            "http_status", "histogram", "response time by status code", ("code",)
        )
        self._redirects = self._family(
            "http_redirect_count", "counter", "redirects by status code", ("code",)
        )
        self._routes = self._family(
            "route",
            "histogram",
            "response time by route target",
            ("service", "host", "path", "target"),
        )
        # Fast paths to the children the data path touches.
        self._by_status: dict[int, Histogram] = {}
        self._by_target: dict[Target, Histogram] = {}

    # construction ---------------------------------------------------------------

    def _family(self, name: str, kind: str, help_text: str, labels: Sequence[str]) -> _Family:
        fam = _Family(name, kind, help_text, labels)
        self._families.append(fam)
        return fam

    def _counter(self, name: str, help_text: str, kind: str = "counter") -> Counter:
        child = Counter()
        self._family(name, kind, help_text, ()).children[()] = child
        return child

    def _histogram(self, name: str, help_text: str) -> Histogram:
        child = Histogram(self.buckets)
        self._family(name, "histogram", help_text, ()).children[()] = child
        return child

    # recording (the data path) -----------------------------------------------------

    def response(self, target: Target | None, status: int, seconds: float) -> None:
        """A proxied request answered by its upstream."""
        self.requests.observe(seconds)
        by_status = self._by_status.get(status)
        if by_status is None:
            by_status = self._by_status[status] = Histogram(self.buckets)
            self._status.children[(str(status),)] = by_status
        by_status.observe(seconds)
        if target is not None:
            route = self._by_target.get(target)
            if route is None:
                route = self._route_child(target)
            route.observe(seconds)

    def redirect(self, status: int) -> None:
        key = (str(status),)
        child = self._redirects.children.get(key)
        if child is None:
            child = self._redirects.children[key] = Counter()
        assert isinstance(child, Counter)
        child.value += 1

    def _route_child(self, target: Target) -> Histogram:
        key = (target.service, target.route_host, target.route_path, target.dst)
        child = self._routes.children.get(key)
        if not isinstance(child, Histogram):
            child = self._routes.children[key] = Histogram(self.buckets)
        self._by_target[target] = child
        return child

    def forget_targets(self, live: Iterable[Target]) -> None:
        """A new table: drop the series of targets no longer in it (as Fabio 1.6 does)."""
        targets = set(live)
        keys = {(t.service, t.route_host, t.route_path, t.dst) for t in targets}
        self._by_target = {t: h for t, h in self._by_target.items() if t in targets}
        for key in [k for k in self._routes.children if k not in keys]:
            del self._routes.children[key]

    # exposition --------------------------------------------------------------------

    def render(self) -> str:
        """Prometheus' text exposition format, version 0.0.4."""
        out: list[str] = []
        for fam in self._families:
            if fam.labels and not fam.children:
                continue
            name = f"{self.prefix}_{fam.name}" if self.prefix else fam.name
            out.append(f"# HELP {name} {fam.help}")
            out.append(f"# TYPE {name} {fam.kind}")
            for values, child in sorted(fam.children.items()):
                labels = list(zip(fam.labels, values, strict=True))
                if isinstance(child, Histogram):
                    cumulative = 0
                    for bound, n in zip((*child.bounds, float("inf")), child.counts, strict=True):
                        cumulative += n
                        le = [*labels, ("le", _number(bound))]
                        out.append(f"{name}_bucket{_labels(le)} {cumulative}")
                    out.append(f"{name}_sum{_labels(labels)} {_number(child.sum)}")
                    out.append(f"{name}_count{_labels(labels)} {child.count}")
                else:
                    out.append(f"{name}{_labels(labels)} {_number(child.value)}")
        return "\n".join(out) + "\n"


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Sequence[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"
