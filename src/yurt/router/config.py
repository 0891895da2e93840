"""The router's configuration, read as Fabio reads its own.

Fabio's properties (`proxy.addr`, `registry.consul.addr`, ...) come, lowest precedence first,
from defaults, a properties file (`-cfg`), `FABIO_*` environment variables (`FABIO_proxy_addr`;
the upper-case spelling is accepted too) and command-line flags (`-proxy.addr :9999`).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yurt.api.durations import SECOND, format_go_duration, parse_go_duration
from yurt.api.limits import HTTPLimits
from yurt.router.access_log import AccessLog, AccessLogError
from yurt.router.limits import Timeouts

if TYPE_CHECKING:
    from yurt.router.metrics import ProxyMetrics


class ConfigError(ValueError):
    """A bad setting: names the property (and file:line for the properties file)."""


# property -> (default, help). The order is the order of `-help`.
PROPERTIES: dict[str, tuple[str, str]] = {
    "proxy.addr": (
        ":9999",
        "listen addresses, comma-separated: ':9999', ':443;proto=https;cs=NAME', "
        "':1234;proto=tcp[;cs=NAME]', ':8443;proto=tcp+sni'",
    ),
    "proxy.cs": (
        "",
        "certificate sources: 'cs=NAME;type=file|path;cert=...;key=...', comma-separated",
    ),
    "proxy.auth": (
        "",
        "auth schemes for auth=NAME routes: 'name=NAME;type=basic;file=PATH[;realm=R]"
        "[;refresh=D]', comma-separated",
    ),
    "proxy.gzip.contenttype": (
        "",
        "regular expression of the Content-Types to gzip for clients that accept it (empty: off)",
    ),
    "proxy.strategy": ("rnd", "target selection: rnd or rr"),
    "proxy.matcher": ("prefix", "path matching: prefix, iprefix or glob"),
    "proxy.noroutestatus": ("404", "status code when no route matches"),
    "proxy.dialtimeout": ("30s", "connect timeout for upstreams"),
    "proxy.responseheadertimeout": ("0s", "max wait for an upstream's response headers (0: none)"),
    "proxy.keepalivetimeout": (
        "0s",
        "yurt's older name for proxy.idleconntimeout: when set, it wins (0: not set)",
    ),
    "proxy.idleconntimeout": ("15s", "idle time of a pooled upstream connection (0: 90s)"),
    "proxy.readtimeout": (
        "0s",
        "time to read a whole request, head and body (0: none); listener option rt=",
    ),
    "proxy.writetimeout": (
        "0s",
        "time from the end of a request head to the end of its response (0: none); "
        "listener option wt=",
    ),
    "proxy.readheadertimeout": (
        "10s",
        "yurt: time to read a request head (0: proxy.readtimeout)",
    ),
    "proxy.idletimeout": (
        "60s",
        "yurt: how long a client's keep-alive connection may wait for its next request "
        "(0: proxy.readtimeout)",
    ),
    "proxy.maxconnsperclient": (
        "0",
        "yurt: open connections one client address may have on a listener (0: no limit)",
    ),
    "proxy.maxconn": ("10000", "max idle pooled connections per upstream"),
    "proxy.localip": ("", "the proxy's own address for 'Forwarded: by='"),
    "proxy.header.clientip": ("", "extra header set to the client's IP"),
    "proxy.header.requestid": ("", "header set to a fresh request id (empty: off)"),
    "proxy.header.tls": ("", "header set on TLS connections"),
    "proxy.header.tls.value": ("", "value of proxy.header.tls"),
    "proxy.header.sts.maxage": ("0", "HSTS max-age on responses over TLS (0: no header)"),
    "proxy.header.sts.subdomains": ("false", "HSTS with includeSubdomains"),
    "proxy.header.sts.preload": ("false", "HSTS with preload"),
    "proxy.shutdownwait": ("0s", "time to keep serving after the deregistration on shutdown"),
    "ui.addr": (":9998", "address of the UI and the API"),
    "ui.access": ("rw", "ro or rw: whether /manual can be edited"),
    "ui.title": ("", "title shown in the UI"),
    "ui.allowedorigins": ("", "yurt: other origins that may call the UI, comma-separated"),
    "ui.readheadertimeout": ("10s", "yurt: time to read a request head on ui.addr (0: none)"),
    "ui.idletimeout": (
        "60s",
        "yurt: how long a keep-alive connection to ui.addr may wait for its next request (0: none)",
    ),
    "ui.maxconnsperclient": (
        "100",
        "yurt: open connections one client address may have on ui.addr (0: no limit)",
    ),
    "ui.color": ("light-green", "colour of the UI's title bar"),
    "registry.backend": ("consul", "where routes come from: consul, static or file"),
    "registry.static.routes": ("", "route commands of the static backend"),
    "registry.static.noroutehtml": ("", "no-route page of the static backend"),
    "registry.file.path": ("", "file of route commands of the file backend, read at start"),
    "registry.file.noroutehtmlpath": ("", "file with the no-route page of the file backend"),
    "registry.timeout": ("10s", "how long to wait for the registry at startup"),
    "registry.retry": ("500ms", "retry interval after a failed registry call"),
    "registry.consul.addr": ("localhost:8500", "Consul's HTTP address (host:port or URL)"),
    "registry.consul.scheme": ("http", "http or https"),
    "registry.consul.token": ("", "ACL token"),
    "registry.consul.tls.cafile": ("", "CA certificate to verify an https Consul with"),
    "registry.consul.tls.capath": ("", "directory of CA certificates to verify Consul with"),
    "registry.consul.tls.certfile": ("", "client certificate for Consul"),
    "registry.consul.tls.keyfile": ("", "key of the client certificate for Consul"),
    "registry.consul.tls.insecureskipverify": ("false", "do not verify Consul's certificate"),
    "registry.consul.kvpath": ("/fabio/config", "KV prefix holding manual routes"),
    "registry.consul.noroutehtmlpath": ("/fabio/noroute.html", "KV key of the no-route page"),
    "registry.consul.tagprefix": ("urlprefix-", "prefix of the tags that define routes"),
    "registry.consul.service.status": ("passing", "accepted check states: passing[,warning]"),
    "registry.consul.checksRequired": ("one", "one or all checks must pass"),
    "registry.consul.routeUnchecked": ("false", "yurt: also route instances without checks"),
    "registry.consul.register.enabled": ("true", "register the router as a service"),
    "registry.consul.register.addr": (":9998", "address registered for the router"),
    "registry.consul.register.name": ("fabio", "service name of the router"),
    "registry.consul.register.tags": ("", "tags of the router's service"),
    "registry.consul.register.checkInterval": ("1s", "interval of the router's HTTP check"),
    "registry.consul.register.checkTimeout": ("3s", "timeout of the router's HTTP check"),
    "registry.consul.register.checkTLSSkipVerify": (
        "false",
        "the router's HTTPS check (ui.addr with cs=) does not verify the certificate",
    ),
    "registry.consul.register.checkTTL": ("15s", "TTL of the router's TTL check"),
    "registry.consul.register.checkDeregisterCriticalServiceAfter": ("90m", "reap after"),
    "glob.matching.disabled": ("false", "match hosts exactly instead of as globs"),
    "metrics.target": ("", "metrics backend: prometheus (served by a proto=prometheus listener)"),
    "metrics.prefix": ("default", "namespace of the metrics ({{clean .Hostname}}.{{clean .Exec}})"),
    "metrics.prometheus.subsystem": ("", "Prometheus subsystem of the metric names"),
    "metrics.prometheus.path": ("/metrics", "path of a proto=prometheus listener"),
    "metrics.prometheus.buckets": ("", "histogram buckets in seconds (empty: Prometheus' default)"),
    "log.access.target": ("", "'stdout' to write an access log"),
    "log.access.format": ("common", "common, combined or a $field pattern"),
    "log.routes.format": ("delta", "how table changes are logged: delta, detail or all"),
}

# Fabio's properties that yurt reads but does not act on (Go runtime and profiling, metrics
# backends other than Prometheus, tracing, BGP, gRPC, the custom registry, ...): a
# fabio.properties file that sets them still loads, and the router warns about each one set.
INERT_PROPERTIES = frozenset(
    {
        "insecure",
        "proxy.deregistergraceperiod",
        "proxy.flushinterval",
        "proxy.globalflushinterval",
        "proxy.grpcmaxrxmsgsize",
        "proxy.grpcmaxtxmsgsize",
        "proxy.grpcshutdowntimeout",
        "proxy.log.routes",
        "aws.apigw.cert.cn",
        "log.level",
        "metrics.names",
        "metrics.interval",
        "metrics.timeout",
        "metrics.retry",
        "metrics.graphite.addr",
        "metrics.statsd.addr",
        "metrics.dogstatsd.addr",
        "metrics.circonus.apikey",
        "metrics.circonus.apiapp",
        "metrics.circonus.apiurl",
        "metrics.circonus.brokerid",
        "metrics.circonus.checkid",
        "metrics.circonus.submissionurl",
        "registry.consul.serviceMonitors",
        "registry.consul.pollinterval",
        "registry.consul.requireConsistent",
        "registry.consul.allowStale",
        "registry.custom.host",
        "registry.custom.scheme",
        "registry.custom.noroutehtml",
        "registry.custom.checkTLSSkipVerify",
        "registry.custom.timeout",
        "registry.custom.pollinterval",
        "registry.custom.path",
        "registry.custom.queryparams",
        "runtime.gogc",
        "runtime.gomaxprocs",
        "ui.routingtable.source.linkenabled",
        "ui.routingtable.source.newtab",
        "ui.routingtable.source.scheme",
        "ui.routingtable.source.host",
        "ui.routingtable.source.port",
        "profile.mode",
        "profile.path",
        "tracing.TracingEnabled",
        "tracing.CollectorType",
        "tracing.ConnectString",
        "tracing.ServiceName",
        "tracing.SpanName",
        "tracing.Topic",
        "tracing.SamplerRate",
        "tracing.SpanHost",
        "tracing.TraceID128Bit",
        "glob.cache.size",
        "bgp.enabled",
        "bgp.asn",
        "bgp.anycastaddresses",
        "bgp.routerid",
        "bgp.listenport",
        "bgp.listenaddresses",
        "bgp.peers",
        "bgp.enablegrpc",
        "bgp.grpclistenaddress",
        "bgp.nexthop",
        "bgp.gobgpdcfgfile",
    }
)

_LOWER_KEYS = {k.lower(): k for k in (*PROPERTIES, *INERT_PROPERTIES)}


def _duration_seconds(key: str, text: str) -> float:
    try:
        return parse_go_duration(text) / SECOND
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _go_duration(seconds: float) -> str:
    return format_go_duration(round(seconds * SECOND))


def _bool(key: str, text: str) -> bool:
    low = text.strip().lower()
    if low in ("true", "1", "t", "yes"):
        return True
    if low in ("false", "0", "f", "no", ""):
        return False
    raise ConfigError(f"{key}: expected true or false, got {text!r}")


def _sts_value(p: Mapping[str, str]) -> str:
    """Fabio's HSTS header value: `max-age=N[; includeSubdomains][; preload]`, or ""."""
    max_age = _int("proxy.header.sts.maxage", p["proxy.header.sts.maxage"])
    if max_age <= 0:
        return ""
    value = f"max-age={max_age}"
    if _bool("proxy.header.sts.subdomains", p["proxy.header.sts.subdomains"]):
        value += "; includeSubdomains"
    if _bool("proxy.header.sts.preload", p["proxy.header.sts.preload"]):
        value += "; preload"
    return value


_UI_CAP = "-ui.maxconnsperclient"


def _ui_limits(p: Mapping[str, str]) -> HTTPLimits:
    cap = _int("ui.maxconnsperclient", p["ui.maxconnsperclient"])
    if cap < 0:
        raise ConfigError(f"ui.maxconnsperclient: expected 0 or more, got {cap}")
    header, idle = (
        _duration_seconds(key, p[key]) for key in ("ui.readheadertimeout", "ui.idletimeout")
    )
    for key, value in (("ui.readheadertimeout", header), ("ui.idletimeout", idle)):
        if value < 0:
            raise ConfigError(f"{key}: expected 0 or more, got {p[key]}")
    return HTTPLimits(
        header_timeout=header,
        idle_timeout=idle,
        max_conns_per_client=cap,
        setting=_UI_CAP,
    )


def _int(key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{key}: expected an integer, got {text!r}") from None


@dataclass(slots=True)
class Listener:
    """One `proxy.addr` entry: `host:port[;proto=http|https|tcp|tcp+sni][;cs=NAME]...`."""

    host: str
    port: int
    proto: str = "http"
    cs: str = ""  # the certificate source of a proto=https (or TLS-terminating tcp) listener
    tls_min: str = ""
    tls_max: str = ""
    tls_ciphers: str = ""  # Go's cipher suite names or numbers, comma-separated
    proxy_protocol: bool = False  # pxyproto=true: connections may start with a PROXY header
    proxy_timeout: str = ""  # pxytimeout: how long to wait for it (Fabio's default 250ms)
    refresh: str = ""  # tcp-dynamic: how often to retry addresses it could not listen on
    read_timeout: str = ""  # rt=: this listener's proxy.readtimeout
    write_timeout: str = ""  # wt=: this listener's proxy.writetimeout

    @property
    def proxy_header_timeout(self) -> float | None:
        """Seconds to wait for a PROXY header, or None when the listener reads none."""
        if not self.proxy_protocol:
            return None
        return _duration_seconds("proxy.addr: pxytimeout", self.proxy_timeout or "250ms")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


_LISTENER_OPTIONS = (
    "proto",
    "cs",
    "tlsmin",
    "tlsmax",
    "tlsciphers",
    "rt",
    "wt",
    "pxyproto",
    "pxytimeout",
    "refresh",
)


_PROTOS = ("http", "https", "tcp", "tcp+sni", "https+tcp+sni", "tcp-dynamic", "prometheus")


def split_unquoted(text: str, sep: str) -> list[str]:
    """Split at `sep` outside double quotes (Fabio: `tlsciphers="0xc02f,0xc030"`)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _parse_listener(key: str, item: str, allowed: Sequence[str]) -> Listener:
    """One listener: `host:port;opt=value;...` with the options `allowed` for `key`."""
    addr, *opts = split_unquoted(item, ";")
    li = Listener("", 0)
    for opt in opts:
        k, _, v = opt.strip().partition("=")
        v = v.strip('"')
        if k not in allowed:
            raise ConfigError(
                f"{key}: unknown option {k!r} in {item!r} (expected one of {', '.join(allowed)})"
            )
        if k == "proto":
            if v not in _PROTOS:
                raise ConfigError(
                    f"{key}: proto={v!r} in {item!r} is not supported (yurt serves "
                    f"proto={', '.join(_PROTOS)} listeners)"
                )
            li.proto = v
        elif k == "cs":
            li.cs = v
        elif k == "tlsmin":
            li.tls_min = v
        elif k == "tlsmax":
            li.tls_max = v
        elif k == "tlsciphers":
            li.tls_ciphers = v
        elif k == "pxyproto":
            li.proxy_protocol = _bool(f"{key}: {item!r}: pxyproto", v)
        elif k == "refresh":
            li.refresh = v
            _duration_seconds(f"{key}: {item!r}: refresh", v)
        elif k == "pxytimeout":
            li.proxy_timeout = v
            _duration_seconds(f"{key}: {item!r}: pxytimeout", v)
        elif k == "rt":
            li.read_timeout = v
            _duration_seconds(f"{key}: {item!r}: rt", v)
        elif k == "wt":
            li.write_timeout = v
            _duration_seconds(f"{key}: {item!r}: wt", v)
    if li.proto in ("https", "https+tcp+sni") and not li.cs:
        raise ConfigError(f"{key}: {item!r}: a proto={li.proto} listener needs cs=NAME")
    # (ui.addr has no proto: cs= alone serves it over TLS.)
    if li.cs and key == "proxy.addr" and li.proto not in ("https", "tcp", "https+tcp+sni"):
        raise ConfigError(
            f"{key}: {item!r}: cs= is supported on proto=https and proto=tcp "
            "listeners only (a tcp+sni listener passes TLS through undecrypted)"
        )
    if li.proxy_protocol and li.cs:
        raise ConfigError(
            f"{key}: {item!r}: pxyproto=true is supported on listeners without TLS "
            "(put the PROXY header reader in front of the TLS terminator)"
        )
    li.host, li.port = split_addr(key, addr)
    return li


def parse_listeners(text: str) -> list[Listener]:
    out: list[Listener] = []
    for item in split_unquoted(text, ","):
        item = item.strip()
        if item:
            out.append(_parse_listener("proxy.addr", item, _LISTENER_OPTIONS))
    if not out:
        raise ConfigError("proxy.addr: no listen address")
    return out


def format_listeners(listeners: Sequence[Listener]) -> str:
    """The inverse of `parse_listeners`."""
    out = []
    for li in listeners:
        text = li.address + ("" if li.proto == "http" else f";proto={li.proto}")
        for key, value in (
            ("cs", li.cs),
            ("tlsmin", li.tls_min),
            ("tlsmax", li.tls_max),
            ("tlsciphers", f'"{li.tls_ciphers}"' if "," in li.tls_ciphers else li.tls_ciphers),
            ("pxyproto", "true" if li.proxy_protocol else ""),
            ("pxytimeout", li.proxy_timeout),
            ("refresh", li.refresh),
            ("rt", li.read_timeout),
            ("wt", li.write_timeout),
        ):
            if value:
                text += f";{key}={value}"
        out.append(text)
    return ",".join(out)


def parse_ui_listener(text: str) -> Listener:
    """`ui.addr`: `host:port[;cs=NAME][;tlsmin=V][;tlsmax=V][;tlsciphers=...]` (with `cs`,
    served over TLS)."""
    return _parse_listener("ui.addr", text, ("cs", "tlsmin", "tlsmax", "tlsciphers"))


def split_addr(key: str, addr: str) -> tuple[str, int]:
    text = addr.strip()
    for scheme in ("http://", "https://"):
        if text.startswith(scheme):
            text = text[len(scheme) :].rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"{key}: expected host:port, got {addr!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


@dataclass
class RouterConfig:
    """What `yurt.router.Router` needs, in Fabio's terms.

    `proxy_addr` is Fabio's `proxy.addr` (`host:port[;proto=tcp]`, comma-separated) and
    `ui_addr` its `ui.addr`. Port 0 binds a free port: `Router.start()` writes the bound
    addresses back into these fields. `service_name` is `registry.consul.register.name`.
    """

    proxy_addr: str = ":9999"
    ui_addr: str = ":9998"
    consul_addr: str = "127.0.0.1:8500"
    service_name: str = "fabio"
    ui_access: str = "rw"
    ui_title: str = ""
    ui_allowed_origins: tuple[str, ...] = ()
    # ui.readheadertimeout, ui.idletimeout, ui.maxconnsperclient (docs/security.md, Limits).
    ui_limits: HTTPLimits = field(default_factory=lambda: HTTPLimits(setting=_UI_CAP))
    consul_scheme: str = "http"
    consul_cafile: str = ""
    consul_capath: str = ""
    consul_certfile: str = ""
    consul_keyfile: str = ""
    consul_insecure: bool = False
    consul_token: str = ""
    strategy: str = "rnd"
    matcher: str = "prefix"
    tag_prefix: str = "urlprefix-"
    kv_path: str = "fabio/config"
    noroute_html_path: str = "fabio/noroute.html"
    service_status: tuple[str, ...] = ("passing",)
    checks_required: str = "one"
    route_unchecked: bool = False
    noroute_status: int = 404
    dial_timeout: float = 30.0
    response_header_timeout: float = 0.0
    keepalive_timeout: float = 15.0  # the upstream pool's idle time (proxy.idleconntimeout)
    max_idle_per_upstream: int = 10000
    read_timeout: float = 0.0  # proxy.readtimeout
    write_timeout: float = 0.0  # proxy.writetimeout
    read_header_timeout: float = 10.0  # proxy.readheadertimeout
    idle_timeout: float = 60.0  # proxy.idletimeout
    max_conns_per_client: int = 0  # proxy.maxconnsperclient
    local_ip: str = ""
    client_ip_header: str = ""
    request_id_header: str = ""
    tls_header: str = ""
    tls_header_value: str = ""
    sts_value: str = ""  # the Strict-Transport-Security value, from proxy.header.sts.*
    glob_disabled: bool = False
    access_log_target: str = ""
    access_log_format: str = "common"
    routes_log_format: str = "delta"
    register: bool = True
    register_addr: str = ""
    register_tags: tuple[str, ...] = ()
    check_interval: str = "1s"
    check_timeout: str = "3s"
    check_tls_skip_verify: bool = False
    check_ttl: float = 15.0
    check_deregister_after: str = "90m"
    shutdown_wait: float = 0.0
    registry_retry: float = 0.5
    datacenter: str = ""
    data_dir: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    cert_sources: str = ""  # Fabio's proxy.cs
    auth_schemes: str = ""  # Fabio's proxy.auth
    gzip_content_type: str = ""  # Fabio's proxy.gzip.contenttype
    registry_backend: str = "consul"  # consul, static or file
    static_routes: str = ""
    static_noroute_html: str = ""
    file_routes_path: str = ""
    file_noroute_html_path: str = ""
    metrics_target: str = ""  # "" or "prometheus"
    metrics_prefix: str = "default"
    prometheus_subsystem: str = ""
    prometheus_path: str = "/metrics"
    prometheus_buckets: str = ""

    def __post_init__(self) -> None:
        # Fail at construction, not at start(), on an address that cannot be parsed.
        from yurt.router.auth import parse_auth_schemes
        from yurt.router.certs import check_ciphers, parse_cert_sources

        parse_auth_schemes(self.auth_schemes)
        self.gzip_types()
        self.consul_tls()
        if self.metrics_target not in ("", "prometheus"):
            raise ConfigError(
                f"metrics.target: {self.metrics_target!r} is not supported (yurt reports to "
                "prometheus only; graphite, statsd, dogstatsd and circonus are not implemented)"
            )
        self.metrics()
        serving = any(li.proto == "prometheus" for li in parse_listeners(self.proxy_addr))
        if serving and self.metrics_target != "prometheus":
            raise ConfigError(
                "proxy.addr: a proto=prometheus listener needs metrics.target=prometheus"
            )

        sources = parse_cert_sources(self.cert_sources)
        for li in parse_listeners(self.proxy_addr):
            check_ciphers(li.tls_ciphers)
            if li.cs and li.cs not in sources:
                raise ConfigError(
                    f"proxy.addr: cs={li.cs!r} names no certificate source in proxy.cs"
                )
        ui = parse_ui_listener(self.ui_addr)
        check_ciphers(ui.tls_ciphers)
        if ui.cs and ui.cs not in sources:
            raise ConfigError(f"ui.addr: cs={ui.cs!r} names no certificate source in proxy.cs")
        if self.strategy not in ("rnd", "rr"):
            raise ConfigError(f"proxy.strategy: expected rnd or rr, got {self.strategy!r}")
        if self.matcher not in ("prefix", "iprefix", "glob"):
            raise ConfigError(
                f"proxy.matcher: expected prefix, iprefix or glob, got {self.matcher!r}"
            )
        if self.checks_required not in ("one", "all"):
            raise ConfigError(
                f"registry.consul.checksRequired: expected one or all, got {self.checks_required!r}"
            )

    def metrics(self) -> ProxyMetrics | None:
        """The metrics to record (a new set each call), or None when they are off."""
        if self.metrics_target != "prometheus":
            return None
        from yurt.router.metrics import ProxyMetrics, metrics_prefix, parse_buckets

        return ProxyMetrics(
            metrics_prefix(self.metrics_prefix),
            self.prometheus_subsystem,
            parse_buckets(self.prometheus_buckets),
        )

    def gzip_types(self) -> re.Pattern[str] | None:
        if not self.gzip_content_type:
            return None
        try:
            return re.compile(self.gzip_content_type)
        except re.error as exc:
            raise ConfigError(
                f"proxy.gzip.contenttype: {self.gzip_content_type!r} is not a regular "
                f"expression: {exc}"
            ) from None

    @property
    def listeners(self) -> list[Listener]:
        return parse_listeners(self.proxy_addr)

    def timeouts(self, li: Listener) -> Timeouts:
        """A listener's timeouts: its `rt=`/`wt=` over `proxy.readtimeout`/`writetimeout`,
        as Fabio takes them; a negative duration is none."""
        read = _duration_seconds("rt", li.read_timeout) if li.read_timeout else self.read_timeout
        write = (
            _duration_seconds("wt", li.write_timeout) if li.write_timeout else self.write_timeout
        )
        return Timeouts(
            header=max(self.read_header_timeout, 0.0),
            read=max(read, 0.0),
            write=max(write, 0.0),
            idle=max(self.idle_timeout, 0.0),
        )

    @property
    def ui_host(self) -> str:
        return self.ui_listener.host

    @property
    def ui_port(self) -> int:
        return self.ui_listener.port

    @property
    def ui_listener(self) -> Listener:
        return parse_ui_listener(self.ui_addr)

    def with_ui_port(self, port: int) -> None:
        """Record the port the UI was bound to, keeping the address's options."""
        _, sep, opts = self.ui_addr.partition(";")
        self.ui_addr = f"{self.ui_host}:{port}" + (sep + opts if sep else "")

    # The contract's names for the UI listener.
    @property
    def http_host(self) -> str:
        return self.ui_host

    @property
    def http_port(self) -> int:
        return self.ui_port

    @property
    def proxy_address(self) -> str:
        """The first proxy listener as host:port."""
        return self.listeners[0].address

    @property
    def ui_address(self) -> str:
        return f"{self.ui_host}:{self.ui_port}"

    def consul_tls(self) -> ssl.SSLContext | None:
        """The TLS settings for an https Consul (`registry.consul.tls.*`); None for http."""
        if not self.consul_url.startswith("https://"):
            return None
        try:
            ctx = ssl.create_default_context(
                cafile=self.consul_cafile or None, capath=self.consul_capath or None
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"registry.consul.tls.cafile/capath: {exc}") from None
        if self.consul_insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.consul_certfile:
            try:
                ctx.load_cert_chain(self.consul_certfile, self.consul_keyfile or None)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"registry.consul.tls.certfile/keyfile: {exc}") from None
        return ctx

    @property
    def consul_url(self) -> str:
        addr = self.consul_addr
        if "://" in addr:
            return addr.rstrip("/")
        return f"{self.consul_scheme}://{addr}"

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> RouterConfig:
        """Build from Fabio property names; missing ones take Fabio's defaults."""
        p = {k: v for k, (v, _) in PROPERTIES.items()}
        for key, value in props.items():
            p[canonical_key(key)] = value
        try:
            AccessLog(p["log.access.format"])
        except AccessLogError as exc:
            raise ConfigError(str(exc)) from None
        if p["log.access.target"] not in ("", "stdout"):
            raise ConfigError(
                f"log.access.target: expected stdout or empty, got {p['log.access.target']!r}"
            )
        if p["log.routes.format"] not in ("delta", "detail", "all"):
            raise ConfigError(
                f"log.routes.format: expected delta, detail or all, got {p['log.routes.format']!r}"
            )
        if p["registry.backend"] not in ("consul", "static", "file"):
            raise ConfigError(
                "registry.backend: expected consul, static or file "
                f"(custom and gcp are not implemented), got {p['registry.backend']!r}"
            )
        status = tuple(s.strip() for s in p["registry.consul.service.status"].split(",") if s)
        for s in status:
            if s not in ("passing", "warning", "critical"):
                raise ConfigError(f"registry.consul.service.status: unknown status {s!r}")
        keepalive = _duration_seconds("proxy.keepalivetimeout", p["proxy.keepalivetimeout"])
        idle_conn = _duration_seconds("proxy.idleconntimeout", p["proxy.idleconntimeout"])
        max_per_client = _int("proxy.maxconnsperclient", p["proxy.maxconnsperclient"])
        if max_per_client < 0:
            raise ConfigError(f"proxy.maxconnsperclient: expected 0 or more, got {max_per_client}")
        return cls(
            proxy_addr=p["proxy.addr"],
            cert_sources=p["proxy.cs"],
            auth_schemes=p["proxy.auth"],
            gzip_content_type=p["proxy.gzip.contenttype"],
            registry_backend=p["registry.backend"],
            static_routes=p["registry.static.routes"],
            static_noroute_html=p["registry.static.noroutehtml"],
            file_routes_path=p["registry.file.path"],
            file_noroute_html_path=p["registry.file.noroutehtmlpath"],
            metrics_target=p["metrics.target"],
            metrics_prefix=p["metrics.prefix"],
            prometheus_subsystem=p["metrics.prometheus.subsystem"],
            prometheus_path=p["metrics.prometheus.path"],
            prometheus_buckets=p["metrics.prometheus.buckets"],
            ui_addr=p["ui.addr"],
            ui_access=p["ui.access"],
            ui_title=p["ui.title"],
            ui_allowed_origins=_origin_list(p["ui.allowedorigins"]),
            ui_limits=_ui_limits(p),
            consul_addr=p["registry.consul.addr"],
            consul_scheme=p["registry.consul.scheme"],
            consul_cafile=p["registry.consul.tls.cafile"],
            consul_capath=p["registry.consul.tls.capath"],
            consul_certfile=p["registry.consul.tls.certfile"],
            consul_keyfile=p["registry.consul.tls.keyfile"],
            consul_insecure=_bool(
                "registry.consul.tls.insecureskipverify",
                p["registry.consul.tls.insecureskipverify"],
            ),
            consul_token=p["registry.consul.token"],
            strategy=p["proxy.strategy"],
            matcher=p["proxy.matcher"],
            tag_prefix=p["registry.consul.tagprefix"],
            kv_path=p["registry.consul.kvpath"].strip("/"),
            noroute_html_path=p["registry.consul.noroutehtmlpath"].strip("/"),
            service_status=status or ("passing",),
            checks_required=p["registry.consul.checksRequired"],
            route_unchecked=_bool(
                "registry.consul.routeUnchecked", p["registry.consul.routeUnchecked"]
            ),
            noroute_status=_int("proxy.noroutestatus", p["proxy.noroutestatus"]),
            dial_timeout=_duration_seconds("proxy.dialtimeout", p["proxy.dialtimeout"]),
            response_header_timeout=_duration_seconds(
                "proxy.responseheadertimeout", p["proxy.responseheadertimeout"]
            ),
            keepalive_timeout=keepalive or idle_conn or 90.0,
            max_idle_per_upstream=_int("proxy.maxconn", p["proxy.maxconn"]),
            read_timeout=_duration_seconds("proxy.readtimeout", p["proxy.readtimeout"]),
            write_timeout=_duration_seconds("proxy.writetimeout", p["proxy.writetimeout"]),
            read_header_timeout=_duration_seconds(
                "proxy.readheadertimeout", p["proxy.readheadertimeout"]
            ),
            idle_timeout=_duration_seconds("proxy.idletimeout", p["proxy.idletimeout"]),
            max_conns_per_client=max_per_client,
            local_ip=p["proxy.localip"],
            client_ip_header=p["proxy.header.clientip"],
            request_id_header=p["proxy.header.requestid"],
            tls_header=p["proxy.header.tls"],
            tls_header_value=p["proxy.header.tls.value"],
            sts_value=_sts_value(p),
            glob_disabled=_bool("glob.matching.disabled", p["glob.matching.disabled"]),
            access_log_target=p["log.access.target"],
            access_log_format=p["log.access.format"],
            routes_log_format=p["log.routes.format"],
            register=_bool(
                "registry.consul.register.enabled", p["registry.consul.register.enabled"]
            ),
            service_name=p["registry.consul.register.name"],
            register_addr=p["registry.consul.register.addr"],
            register_tags=tuple(
                t.strip() for t in p["registry.consul.register.tags"].split(",") if t.strip()
            ),
            check_interval=p["registry.consul.register.checkInterval"],
            check_timeout=p["registry.consul.register.checkTimeout"],
            check_tls_skip_verify=_bool(
                "registry.consul.register.checkTLSSkipVerify",
                p["registry.consul.register.checkTLSSkipVerify"],
            ),
            check_ttl=_duration_seconds(
                "registry.consul.register.checkTTL", p["registry.consul.register.checkTTL"]
            ),
            check_deregister_after=p[
                "registry.consul.register.checkDeregisterCriticalServiceAfter"
            ],
            shutdown_wait=_duration_seconds("proxy.shutdownwait", p["proxy.shutdownwait"]),
            registry_retry=_duration_seconds("registry.retry", p["registry.retry"]),
            properties=p,
        )

    @property
    def inert_properties(self) -> list[str]:
        """The Fabio properties set here that yurt does not act on."""
        return sorted(k for k in self.properties if k in INERT_PROPERTIES)

    def api_config(self) -> dict[str, Any]:
        """/api/config: the effective configuration in Fabio's property names (the token
        left out), from the fields whether the config came from properties or from code."""
        out = {k: v for k, (v, _) in PROPERTIES.items()}
        out.update(self.properties)
        out.update(
            {
                "proxy.addr": self.proxy_addr,
                "proxy.cs": self.cert_sources,
                "proxy.auth": self.auth_schemes,
                "proxy.gzip.contenttype": self.gzip_content_type,
                "registry.backend": self.registry_backend,
                "metrics.target": self.metrics_target,
                "metrics.prefix": self.metrics_prefix,
                "metrics.prometheus.subsystem": self.prometheus_subsystem,
                "metrics.prometheus.path": self.prometheus_path,
                "metrics.prometheus.buckets": self.prometheus_buckets,
                "proxy.readtimeout": _go_duration(self.read_timeout),
                "proxy.writetimeout": _go_duration(self.write_timeout),
                "proxy.readheadertimeout": _go_duration(self.read_header_timeout),
                "proxy.idletimeout": _go_duration(self.idle_timeout),
                "proxy.idleconntimeout": _go_duration(self.keepalive_timeout),
                "proxy.maxconnsperclient": str(self.max_conns_per_client),
                "ui.readheadertimeout": _go_duration(self.ui_limits.header_timeout),
                "ui.idletimeout": _go_duration(self.ui_limits.idle_timeout),
                "ui.maxconnsperclient": str(self.ui_limits.max_conns_per_client),
                "proxy.strategy": self.strategy,
                "proxy.matcher": self.matcher,
                "proxy.noroutestatus": str(self.noroute_status),
                "proxy.localip": self.local_ip,
                "proxy.header.clientip": self.client_ip_header,
                "proxy.header.requestid": self.request_id_header,
                "ui.addr": self.ui_addr,
                "ui.access": self.ui_access,
                "ui.title": self.ui_title,
                "ui.allowedorigins": ",".join(self.ui_allowed_origins),
                "registry.consul.addr": self.consul_addr,
                "registry.consul.scheme": self.consul_scheme,
                "registry.consul.kvpath": "/" + self.kv_path,
                "registry.consul.noroutehtmlpath": "/" + self.noroute_html_path,
                "registry.consul.tagprefix": self.tag_prefix,
                "registry.consul.service.status": ",".join(self.service_status),
                "registry.consul.checksRequired": self.checks_required,
                "registry.consul.routeUnchecked": str(self.route_unchecked).lower(),
                "registry.consul.register.enabled": str(self.register).lower(),
                "registry.consul.register.name": self.service_name,
                "registry.consul.register.tags": ",".join(self.register_tags),
                "glob.matching.disabled": str(self.glob_disabled).lower(),
                "log.access.target": self.access_log_target,
                "log.access.format": self.access_log_format,
                "log.routes.format": self.routes_log_format,
            }
        )
        out.pop("registry.consul.token", None)
        return out


def canonical_key(key: str) -> str:
    k = _LOWER_KEYS.get(key.lower())
    if k is None:
        raise ConfigError(f"unknown property {key!r}")
    return k


_PROP_LINE = re.compile(r"^\s*([^=:\s]+)\s*[=:]?\s*(.*?)\s*$")


def read_properties(path: Path) -> dict[str, str]:
    """A Java-style properties file: `key = value`, `#`/`!` comments, `\\` continuations."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    props: dict[str, str] = {}
    pending = ""
    start = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.strip() if not pending else raw.lstrip()
        if not pending and (not line or line[0] in "#!"):
            continue
        if not pending:
            start = number
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending += line[:-1]
            continue
        line, pending = pending + line, ""
        m = _PROP_LINE.match(line)
        if not m:
            raise ConfigError(f"{path}:{start}:1: expected 'key = value', got {line!r}")
        try:
            props[canonical_key(m[1])] = m[2]
        except ConfigError as exc:
            raise ConfigError(f"{path}:{start}:1: {exc}") from None
    return props


def env_properties(environ: Mapping[str, str]) -> dict[str, str]:
    """`FABIO_proxy_addr` (Fabio's spelling) or `FABIO_PROXY_ADDR` -> proxy.addr."""
    by_env = {"FABIO_" + k.replace(".", "_").lower(): k for k in PROPERTIES}
    out: dict[str, str] = {}
    for name, value in environ.items():
        if not name.upper().startswith("FABIO_"):
            continue
        key = by_env.get("FABIO_" + name[6:].lower())
        if key is not None:
            out[key] = value
    return out


def parse_flags(args: Sequence[str]) -> tuple[dict[str, str], str | None]:
    """Go-style flags (`-k v`, `-k=v`, `--k=v`) -> (properties, properties file or None)."""
    props: dict[str, str] = {}
    cfg: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-") or arg in ("-", "--"):
            raise ConfigError(f"unexpected argument {arg!r}: flags look like -proxy.addr :9999")
        name, eq, value = arg.lstrip("-").partition("=")
        if not eq:
            if i + 1 >= len(args):
                raise ConfigError(f"flag needs an argument: -{name}")
            value = args[i + 1]
            i += 1
        i += 1
        if name == "cfg":
            cfg = value
            continue
        try:
            props[canonical_key(name)] = value
        except ConfigError:
            raise ConfigError(f"flag provided but not defined: -{name}") from None
    return props, cfg


def load(args: Sequence[str], environ: Mapping[str, str]) -> RouterConfig:
    """Fabio's precedence: defaults < properties file < FABIO_* environment < flags."""
    flags, cfg = parse_flags(args)
    props: dict[str, str] = {}
    if cfg:
        props.update(read_properties(Path(cfg)))
    props.update(env_properties(environ))
    props.update(flags)
    return RouterConfig.from_properties(props)


def _origin_list(text: str) -> tuple[str, ...]:
    from yurt.api.guard import parse_origin

    try:
        return tuple(parse_origin(o) for o in text.split(",") if o.strip())
    except ValueError as exc:
        raise ConfigError(f"ui.allowedorigins: {exc}") from None
