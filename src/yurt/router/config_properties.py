"""Fabio's property names and where they are read from: the table of properties with their
defaults and help, the ones yurt accepts but does not act on, a Java-style properties file
(`-cfg`), `FABIO_*` environment variables and Go-style command-line flags.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from yurt.router.config_values import ConfigError

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
    "registry.consul.addr": (
        "localhost:8500",
        "Consul's HTTP address (host:port or URL); yurt: a comma list of servers, in turn",
    ),
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
