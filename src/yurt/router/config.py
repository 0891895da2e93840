"""The router's configuration, read as Fabio reads its own.

Fabio's properties (`proxy.addr`, `registry.consul.addr`, ...) come, lowest precedence first,
from defaults, a properties file (`-cfg`), `FABIO_*` environment variables (`FABIO_proxy_addr`;
the upper-case spelling is accepted too) and command-line flags (`-proxy.addr :9999`).

This module owns `RouterConfig` (the settings, checked when made) and `load`; the property
table and its readers are in `config_properties`, listener addresses in `config_listeners`,
the value syntax and `ConfigError` in `config_values`. Their public names are re-exported
here, where the rest of the router imports them from.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yurt.api.limits import HTTPLimits
from yurt.router.access_log import AccessLog, AccessLogError
from yurt.router.auth import parse_auth_schemes
from yurt.router.certs import check_ciphers, parse_cert_sources
from yurt.router.config_listeners import (
    Listener,
    format_listeners,
    parse_listeners,
    parse_ui_listener,
    split_addr,
)
from yurt.router.config_properties import (
    INERT_PROPERTIES,
    PROPERTIES,
    canonical_key,
    env_properties,
    parse_flags,
    read_properties,
)
from yurt.router.config_values import (
    ConfigError,
    duration_seconds,
    go_duration,
    parse_bool,
    parse_int,
    split_unquoted,
)
from yurt.router.limits import Timeouts
from yurt.router.metrics import ProxyMetrics, metrics_prefix, parse_buckets

__all__ = [
    "INERT_PROPERTIES",
    "PROPERTIES",
    "ConfigError",
    "Listener",
    "RouterConfig",
    "canonical_key",
    "env_properties",
    "format_listeners",
    "load",
    "parse_flags",
    "parse_listeners",
    "parse_ui_listener",
    "read_properties",
    "split_addr",
    "split_unquoted",
]


def _sts_value(p: Mapping[str, str]) -> str:
    """Fabio's HSTS header value: `max-age=N[; includeSubdomains][; preload]`, or ""."""
    max_age = parse_int("proxy.header.sts.maxage", p["proxy.header.sts.maxage"])
    if max_age <= 0:
        return ""
    value = f"max-age={max_age}"
    if parse_bool("proxy.header.sts.subdomains", p["proxy.header.sts.subdomains"]):
        value += "; includeSubdomains"
    if parse_bool("proxy.header.sts.preload", p["proxy.header.sts.preload"]):
        value += "; preload"
    return value


_UI_CAP = "-ui.maxconnsperclient"


def _ui_limits(p: Mapping[str, str]) -> HTTPLimits:
    cap = parse_int("ui.maxconnsperclient", p["ui.maxconnsperclient"])
    if cap < 0:
        raise ConfigError(f"ui.maxconnsperclient: expected 0 or more, got {cap}")
    header, idle = (
        duration_seconds(key, p[key]) for key in ("ui.readheadertimeout", "ui.idletimeout")
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
        read = duration_seconds("rt", li.read_timeout) if li.read_timeout else self.read_timeout
        write = duration_seconds("wt", li.write_timeout) if li.write_timeout else self.write_timeout
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
        """`registry.consul.addr` as URLs; yurt takes a comma list of catalog servers (a
        cluster's), followed in turn when one is unreachable (docs/cluster.md)."""
        urls = []
        for addr in self.consul_addr.split(","):
            addr = addr.strip()
            if addr:
                urls.append(addr.rstrip("/") if "://" in addr else f"{self.consul_scheme}://{addr}")
        return ",".join(urls)

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> RouterConfig:
        """Build from Fabio property names; missing ones take Fabio's defaults."""
        p = {k: v for k, (v, _) in PROPERTIES.items()}
        for key, value in props.items():
            p[canonical_key(key)] = value
        # The checked values first, in the order their errors were always reported.
        return cls(**_checked_fields(p), **_text_fields(p), properties=p)

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
                "proxy.readtimeout": go_duration(self.read_timeout),
                "proxy.writetimeout": go_duration(self.write_timeout),
                "proxy.readheadertimeout": go_duration(self.read_header_timeout),
                "proxy.idletimeout": go_duration(self.idle_timeout),
                "proxy.idleconntimeout": go_duration(self.keepalive_timeout),
                "proxy.maxconnsperclient": str(self.max_conns_per_client),
                "ui.readheadertimeout": go_duration(self.ui_limits.header_timeout),
                "ui.idletimeout": go_duration(self.ui_limits.idle_timeout),
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


def _check_choices(p: Mapping[str, str]) -> tuple[str, ...]:
    """Check the properties that name one of a few choices; the accepted check states."""
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
    return status


def _checked_fields(p: Mapping[str, str]) -> dict[str, Any]:
    """The `RouterConfig` fields read from properties whose syntax is checked here."""
    status = _check_choices(p)
    keepalive = duration_seconds("proxy.keepalivetimeout", p["proxy.keepalivetimeout"])
    idle_conn = duration_seconds("proxy.idleconntimeout", p["proxy.idleconntimeout"])
    max_per_client = parse_int("proxy.maxconnsperclient", p["proxy.maxconnsperclient"])
    if max_per_client < 0:
        raise ConfigError(f"proxy.maxconnsperclient: expected 0 or more, got {max_per_client}")

    def seconds(key: str) -> float:
        return duration_seconds(key, p[key])

    def flag(key: str) -> bool:
        return parse_bool(key, p[key])

    return {
        "ui_allowed_origins": _origin_list(p["ui.allowedorigins"]),
        "ui_limits": _ui_limits(p),
        "consul_insecure": flag("registry.consul.tls.insecureskipverify"),
        "service_status": status or ("passing",),
        "route_unchecked": flag("registry.consul.routeUnchecked"),
        "noroute_status": parse_int("proxy.noroutestatus", p["proxy.noroutestatus"]),
        "dial_timeout": seconds("proxy.dialtimeout"),
        "response_header_timeout": seconds("proxy.responseheadertimeout"),
        "keepalive_timeout": keepalive or idle_conn or 90.0,
        "max_idle_per_upstream": parse_int("proxy.maxconn", p["proxy.maxconn"]),
        "read_timeout": seconds("proxy.readtimeout"),
        "write_timeout": seconds("proxy.writetimeout"),
        "read_header_timeout": seconds("proxy.readheadertimeout"),
        "idle_timeout": seconds("proxy.idletimeout"),
        "max_conns_per_client": max_per_client,
        "sts_value": _sts_value(p),
        "glob_disabled": flag("glob.matching.disabled"),
        "register": flag("registry.consul.register.enabled"),
        "check_tls_skip_verify": flag("registry.consul.register.checkTLSSkipVerify"),
        "check_ttl": seconds("registry.consul.register.checkTTL"),
        "shutdown_wait": seconds("proxy.shutdownwait"),
        "registry_retry": seconds("registry.retry"),
    }


def _text_fields(p: Mapping[str, str]) -> dict[str, Any]:
    """The `RouterConfig` fields that take a property's text (checked by `__post_init__`,
    or when used)."""
    return {
        "proxy_addr": p["proxy.addr"],
        "cert_sources": p["proxy.cs"],
        "auth_schemes": p["proxy.auth"],
        "gzip_content_type": p["proxy.gzip.contenttype"],
        "registry_backend": p["registry.backend"],
        "static_routes": p["registry.static.routes"],
        "static_noroute_html": p["registry.static.noroutehtml"],
        "file_routes_path": p["registry.file.path"],
        "file_noroute_html_path": p["registry.file.noroutehtmlpath"],
        "metrics_target": p["metrics.target"],
        "metrics_prefix": p["metrics.prefix"],
        "prometheus_subsystem": p["metrics.prometheus.subsystem"],
        "prometheus_path": p["metrics.prometheus.path"],
        "prometheus_buckets": p["metrics.prometheus.buckets"],
        "ui_addr": p["ui.addr"],
        "ui_access": p["ui.access"],
        "ui_title": p["ui.title"],
        "consul_addr": p["registry.consul.addr"],
        "consul_scheme": p["registry.consul.scheme"],
        "consul_cafile": p["registry.consul.tls.cafile"],
        "consul_capath": p["registry.consul.tls.capath"],
        "consul_certfile": p["registry.consul.tls.certfile"],
        "consul_keyfile": p["registry.consul.tls.keyfile"],
        "consul_token": p["registry.consul.token"],
        "strategy": p["proxy.strategy"],
        "matcher": p["proxy.matcher"],
        "tag_prefix": p["registry.consul.tagprefix"],
        "kv_path": p["registry.consul.kvpath"].strip("/"),
        "noroute_html_path": p["registry.consul.noroutehtmlpath"].strip("/"),
        "checks_required": p["registry.consul.checksRequired"],
        "local_ip": p["proxy.localip"],
        "client_ip_header": p["proxy.header.clientip"],
        "request_id_header": p["proxy.header.requestid"],
        "tls_header": p["proxy.header.tls"],
        "tls_header_value": p["proxy.header.tls.value"],
        "access_log_target": p["log.access.target"],
        "access_log_format": p["log.access.format"],
        "routes_log_format": p["log.routes.format"],
        "service_name": p["registry.consul.register.name"],
        "register_addr": p["registry.consul.register.addr"],
        "register_tags": tuple(
            t.strip() for t in p["registry.consul.register.tags"].split(",") if t.strip()
        ),
        "check_interval": p["registry.consul.register.checkInterval"],
        "check_timeout": p["registry.consul.register.checkTimeout"],
        "check_deregister_after": p["registry.consul.register.checkDeregisterCriticalServiceAfter"],
    }


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
