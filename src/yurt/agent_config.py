"""The dev agent's configuration: HCL shaped like a Nomad agent config (the seed's server.hcl),
plus yurt's own `catalog {}` and `router {}` blocks for the Consul and Fabio roles.

```hcl
datacenter = "dc1"
data_dir   = ".yurt"
consul {
  address             = "127.0.0.1:8500"
  server_service_name = "nomad-1-server"
  client_service_name = "nomad-1-client"
}
server { enabled = true }
client { enabled = true }
plugin "raw_exec" { config { enabled = true } }
router { proxy_addr = "127.0.0.1:9999"  ui_addr = "127.0.0.1:9998" }
```

Unknown keys are errors with file:line:column, as Nomad rejects them. Nomad's keys that yurt
does not implement are errors too, saying why (`encrypt`, `server_join`, `telemetry`, ...):
nothing is silently ignored. A few are accepted only with the value that describes what yurt
does anyway (`bootstrap_expect = 1`, `server_auto_join = true`, ...), so the seed's file loads
unchanged. docs/security-tls.md lists them.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from yurt.api.durations import parse_go_duration
from yurt.api.limits import LIMIT_KEYS, HTTPLimits, apply_limit, nomad_limits
from yurt.api.tls import TLSConfig, TLSConfigError, parse_min_version
from yurt.catalog.acl_config import apply_acl_block
from yurt.catalog.config import ConsulACLConfig
from yurt.client.config import TemplateConfig
from yurt.jobspec.diagnostics import Collector, JobspecError, did_you_mean
from yurt.jobspec.evaluate import EvalError, Scope, evaluate
from yurt.jobspec.functions import functions
from yurt.jobspec.hcljson import BlockShape, parse_json_config
from yurt.jobspec.syntax import Block, Body, parse_body
from yurt.storage import config as store_config
from yurt.storage.config import EtcdTLS, StoreConfig

ConfigError = JobspecError


@dataclass
class AgentConfig:
    """Everything `yurt up` needs to compose the four components."""

    datacenter: str = "dc1"
    region: str = "global"
    name: str = field(default_factory=socket.gethostname)
    data_dir: Path = Path(".yurt")
    bind_addr: str = "127.0.0.1"
    # Origins besides each listener's own whose browser requests are let through (a reverse
    # proxy in front of the UIs); their host names are accepted in `Host` too.
    http_allowed_origins: list[str] = field(default_factory=list)
    # Nomad's `acl { enabled }` (the scheduler and the client).
    acl_enabled: bool = False
    # Nomad's `acl { token_ttl }`: how long a client caches a resolved token (ns).
    acl_token_ttl_ns: int = 30 * 1_000_000_000
    # The token the scheduler and the client present to the catalog (`consul { token }`).
    consul_token: str = ""
    # Nomad's `tls { }`: the scheduler's and the client's HTTPS, and how they call each other.
    # Nomad checks a server's name only with verify_server_hostname (default off).
    tls: TLSConfig = field(default_factory=lambda: TLSConfig(verify_server_hostname=False))
    # Nomad's `consul { ssl, verify_ssl, ca_file, cert_file, key_file }`; None: not given,
    # so the catalog's own TLS (yurt up's catalog) decides.
    consul_tls: TLSConfig | None = None
    # Nomad's `consul { tags }`: added to the server's and the client's own services.
    consul_tags: list[str] = field(default_factory=list)
    # Nomad's `log_level` ("" leaves the command's default).
    log_level: str = ""
    # Nomad's `advertise { http }`: the address the scheduler registers in the catalog.
    advertise_http: str = ""
    # Nomad's `limits { }`: the scheduler's and the client's API listeners (yurt.api.limits).
    http_limits: HTTPLimits = field(default_factory=nomad_limits)
    # Nomad's `tls { rpc }`: only meaningful together with `http` (see `_TLS`).
    tls_rpc: bool = False
    # Nomad's `server { heartbeat_grace }` (None: the scheduler's default).
    heartbeat_grace_ns: int | None = None
    # Nomad's `client { cpu_total_compute, memory_total_mb }`: override the fingerprint (0: no).
    cpu_total_compute: int = 0
    memory_total_mb: int = 0
    # scheduler (Nomad server)
    server_enabled: bool = True
    http_port: int = 4646
    server_service_name: str = "nomad"
    # Garbage collection (Nomad's server block): GCThresholds field -> ns; interval in ns.
    gc_thresholds: dict[str, int] = field(default_factory=dict)
    gc_interval_ns: int | None = None
    # client (Nomad client)
    client_enabled: bool = True
    client_service_name: str = "nomad-client"
    node_class: str = ""
    client_meta: dict[str, str] = field(default_factory=dict)
    client_servers: list[str] = field(default_factory=list)
    # Nomad's `client { network_interface }`: whose address the node's allocations get.
    network_interface: str = ""
    client_template: TemplateConfig = field(default_factory=TemplateConfig)
    raw_exec_enabled: bool = False
    docker_endpoint: str | None = None
    docker_allow_privileged: bool = False
    docker_volumes_enabled: bool = False
    # catalog (Consul)
    consul_address: str = "127.0.0.1:8500"
    auto_advertise: bool = True
    catalog_enabled: bool = True
    catalog_node_name: str | None = None
    catalog_config_dirs: list[Path] = field(default_factory=list)
    # Consul's `acl { }`, inside yurt's `catalog { }` block.
    catalog_acl: ConsulACLConfig = field(default_factory=ConsulACLConfig)
    # router (Fabio)
    router_enabled: bool = True
    proxy_addr: str = "127.0.0.1:9999"
    ui_addr: str = "127.0.0.1:9998"
    router_service_name: str = "fabio"
    sources: list[str] = field(default_factory=list)
    # yurt's `store { }`: where the catalog's and the scheduler's state lives (SQLite in
    # data_dir, or etcd: yurt.storage.config).
    store: StoreConfig = field(default_factory=StoreConfig)


Setter = Callable[[AgentConfig, Any], None]


def _set(name: str) -> Setter:
    def setter(cfg: AgentConfig, value: Any) -> None:
        setattr(cfg, name, value)

    return setter


def _positive_duration(text: str) -> int:
    ns = parse_go_duration(text)
    if ns <= 0:
        raise ValueError(f'expected a positive duration such as "4h", got "{text}"')
    return ns


def _gc_threshold(name: str) -> Setter:
    def setter(cfg: AgentConfig, value: Any) -> None:
        cfg.gc_thresholds[name] = _positive_duration(str(value))

    return setter


def _origins(values: list[Any]) -> list[str]:
    from yurt.api.guard import parse_origin

    return [parse_origin(str(v)) for v in values]


def _ignored(cfg: AgentConfig, value: Any) -> None:
    """Read by another part of yurt (the ACL settings), not by this table."""


def _accept(cfg: AgentConfig, value: Any) -> None:
    """Accepted: every value of it describes what yurt does (see the table's comment)."""


def _unsupported(key: str, why: str) -> Setter:
    def setter(cfg: AgentConfig, value: Any) -> None:
        raise ValueError(f'yurt does not support "{key}": {why}')

    return setter


def _only(expected: Any, key: str, why: str) -> Setter:
    """A key whose one supported value is what yurt does anyway."""

    def setter(cfg: AgentConfig, value: Any) -> None:
        if value != expected:
            shown = str(expected).lower() if isinstance(expected, bool) else expected
            raise ValueError(f"yurt supports only {key} = {shown}: {why}")

    return setter


def _bootstrap_expect(cfg: AgentConfig, value: Any) -> None:
    if isinstance(value, bool) or value < 1:
        raise ValueError(f"must be 1 or more (got {value})")
    # more than 1 needs servers sharing etcd: checked when the store opens (docs/cluster.md)
    cfg.store.bootstrap_expect = value


def _host_port(text: str) -> str:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f'expected "host:port", got "{text}"')
    return text


def _check_host_port(text: str) -> None:
    _host_port(text)


def _positive(value: int) -> int:
    if value <= 0:
        raise ValueError(f"expected a positive number, got {value}")
    return value


_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF")


def parse_log_level(text: str) -> str:
    level = text.strip().upper()
    level = "WARN" if level == "WARNING" else level
    if level not in _LOG_LEVELS:
        raise ValueError(f'unknown level "{text}"; expected one of ' + ", ".join(_LOG_LEVELS))
    return level


def _min_version(text: str) -> str:
    try:
        parse_min_version(text)
    except TLSConfigError as exc:
        raise ValueError(str(exc)) from None
    return text


def _tls(change: Callable[[TLSConfig, Any], TLSConfig]) -> Setter:
    def setter(cfg: AgentConfig, value: Any) -> None:
        cfg.tls = change(cfg.tls, value)

    return setter


def _consul_tls(change: Callable[[TLSConfig, Any], TLSConfig]) -> Setter:
    def setter(cfg: AgentConfig, value: Any) -> None:
        # Nomad's consul client verifies the catalog's certificate and name by default.
        cfg.consul_tls = change(cfg.consul_tls or TLSConfig(), value)

    return setter


_AUTO_JOIN = "yurt's client joins the agent's own scheduler or client.servers"
_NO_RPC = "yurt's RPC travels on the HTTP port; remove it"
_NO_SERF = "yurt has no gossip (Serf) port; remove it"

# attribute name -> (expected type, setter)
_TOP: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "datacenter": (str, _set("datacenter")),
    "region": (str, _set("region")),
    "name": (str, _set("name")),
    "data_dir": (str, lambda c, v: setattr(c, "data_dir", Path(v))),
    "bind_addr": (str, _set("bind_addr")),
    "http_allowed_origins": (list, lambda c, v: setattr(c, "http_allowed_origins", _origins(v))),
    "log_level": (str, lambda c, v: setattr(c, "log_level", parse_log_level(v))),
    "log_json": (bool, _unsupported("log_json", "yurt logs plain text lines")),
    "enable_debug": (bool, _unsupported("enable_debug", "yurt has no /v1/agent/pprof endpoints")),
    # yurt deregisters its agents from the catalog on SIGINT and SIGTERM, which is what
    # leaving is for a one-server cluster; asking it not to is an error.
    "leave_on_interrupt": (bool, _only(True, "leave_on_interrupt", "yurt always leaves")),
    "leave_on_terminate": (bool, _only(True, "leave_on_terminate", "yurt always leaves")),
    # yurt never calls out to check for updates, so either value holds.
    "disable_update_check": (bool, _accept),
}
_CONSUL: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "address": (str, _set("consul_address")),
    "server_service_name": (str, _set("server_service_name")),
    "client_service_name": (str, _set("client_service_name")),
    "auto_advertise": (bool, _set("auto_advertise")),
    # With one server in the process, auto-join is what yurt does: the client talks to the
    # agent's own scheduler (or to `client { servers }`); false cannot be honoured.
    "server_auto_join": (bool, _only(True, "server_auto_join", _AUTO_JOIN)),
    "client_auto_join": (bool, _only(True, "client_auto_join", _AUTO_JOIN)),
    "token": (str, _set("consul_token")),
    "ssl": (bool, _consul_tls(lambda t, v: replace(t, http=v))),
    "verify_ssl": (bool, _consul_tls(lambda t, v: replace(t, verify_outgoing=v))),
    "ca_file": (str, _consul_tls(lambda t, v: replace(t, ca_file=v))),
    "cert_file": (str, _consul_tls(lambda t, v: replace(t, cert_file=v))),
    "key_file": (str, _consul_tls(lambda t, v: replace(t, key_file=v))),
    "tags": (list, lambda c, v: setattr(c, "consul_tags", [str(t) for t in v])),
}
_SERVER: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "enabled": (bool, _set("server_enabled")),
    "bootstrap_expect": (int, _bootstrap_expect),
    "encrypt": (str, _unsupported("encrypt", "yurt has no gossip (Serf) traffic to encrypt")),
    "num_schedulers": (
        int,
        _unsupported("num_schedulers", "yurt runs one scheduling worker per server"),
    ),
    "heartbeat_grace": (
        str,
        lambda c, v: setattr(c, "heartbeat_grace_ns", _positive_duration(v)),
    ),
    "job_gc_threshold": (str, _gc_threshold("job_ns")),
    "eval_gc_threshold": (str, _gc_threshold("eval_ns")),
    "batch_eval_gc_threshold": (str, _gc_threshold("batch_eval_ns")),
    "deployment_gc_threshold": (str, _gc_threshold("deployment_ns")),
    "node_gc_threshold": (str, _gc_threshold("node_ns")),
    "job_gc_interval": (str, lambda c, v: setattr(c, "gc_interval_ns", _positive_duration(v))),
}
_CLIENT: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "enabled": (bool, _set("client_enabled")),
    "servers": (list, lambda c, v: setattr(c, "client_servers", [str(s) for s in v])),
    "node_class": (str, _set("node_class")),
    "meta": (dict, lambda c, v: setattr(c, "client_meta", {k: str(x) for k, x in v.items()})),
    "network_interface": (str, _set("network_interface")),
    "cpu_total_compute": (int, lambda c, v: setattr(c, "cpu_total_compute", _positive(v))),
    "memory_total_mb": (int, lambda c, v: setattr(c, "memory_total_mb", _positive(v))),
}
_ADVERTISE: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "http": (str, lambda c, v: setattr(c, "advertise_http", _host_port(v))),
    # yurt has no RPC or Serf listener (its RPC is on the HTTP port); the seed's server.hcl
    # sets them, so they are checked as addresses and otherwise have nothing to advertise.
    "rpc": (str, lambda c, v: _check_host_port(v)),
    "serf": (str, lambda c, v: _check_host_port(v)),
}
_PORTS: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "http": (int, _set("http_port")),
    "rpc": (int, _unsupported("rpc", _NO_RPC)),
    "serf": (int, _unsupported("serf", _NO_SERF)),
}
_TLS: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "http": (bool, _tls(lambda t, v: replace(t, http=v))),
    # yurt's RPC (client <-> server) runs on the HTTP listener, so it is encrypted exactly
    # when `http` is; `rpc = true` without `http = true` is refused in `_check_tls`.
    "rpc": (bool, lambda c, v: setattr(c, "tls_rpc", v)),
    "ca_file": (str, _tls(lambda t, v: replace(t, ca_file=v))),
    "cert_file": (str, _tls(lambda t, v: replace(t, cert_file=v))),
    "key_file": (str, _tls(lambda t, v: replace(t, key_file=v))),
    "verify_https_client": (bool, _tls(lambda t, v: replace(t, verify_incoming=v))),
    "verify_server_hostname": (bool, _tls(lambda t, v: replace(t, verify_server_hostname=v))),
    "tls_min_version": (str, _tls(lambda t, v: replace(t, tls_min_version=_min_version(v)))),
    "tls_cipher_suites": (
        str,
        _unsupported("tls_cipher_suites", "yurt uses OpenSSL's default suites"),
    ),
    "tls_prefer_server_cipher_suites": (
        bool,
        _unsupported("tls_prefer_server_cipher_suites", "yurt uses OpenSSL's default order"),
    ),
    "rpc_upgrade_mode": (
        bool,
        _unsupported("rpc_upgrade_mode", "yurt's RPC is on the HTTP listener: see tls.http"),
    ),
}
_CATALOG: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "enabled": (bool, _set("catalog_enabled")),
    "node_name": (str, _set("catalog_node_name")),
    "config_dir": (
        (str, list),
        lambda c, v: setattr(
            c, "catalog_config_dirs", [Path(p) for p in (v if isinstance(v, list) else [v])]
        ),
    ),
}
_ROUTER: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "enabled": (bool, _set("router_enabled")),
    "proxy_addr": (str, _set("proxy_addr")),
    "ui_addr": (str, _set("ui_addr")),
    "service_name": (str, _set("router_service_name")),
}
_STORE: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "backend": (str, lambda c, v: setattr(c.store, "backend", store_config.backend(v))),
    "endpoints": (
        list,
        lambda c, v: setattr(c.store, "endpoints", [store_config.endpoint(str(e)) for e in v]),
    ),
    "prefix": (str, lambda c, v: setattr(c.store, "prefix", store_config.prefix(v))),
}


def _store_tls(name: str) -> Setter:
    def setter(cfg: AgentConfig, value: Any) -> None:
        tls = cfg.store.tls or EtcdTLS()
        cfg.store.tls = replace(tls, **{name: store_config.tls_file(str(value))})

    return setter


_STORE_TLS = {name: (str, _store_tls(name)) for name in ("ca_file", "cert_file", "key_file")}
_RAW_EXEC: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "enabled": (bool, _set("raw_exec_enabled")),
    # yurt's raw_exec puts no task in a cgroup: that is no_cgroups = true.
    "no_cgroups": (bool, _only(True, "no_cgroups", "yurt's raw_exec does not use cgroups")),
}
_DOCKER: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "endpoint": (str, _set("docker_endpoint")),
    "allow_privileged": (bool, _set("docker_allow_privileged")),
    "volumes": (dict, lambda c, v: setattr(c, "docker_volumes_enabled", bool(v.get("enabled")))),
    "gc": (dict, _unsupported("gc", "yurt's docker driver does not collect images")),
}


def _limit(key: str) -> Setter:
    def setter(cfg: AgentConfig, value: Any) -> None:
        cfg.http_limits = apply_limit(cfg.http_limits, key, value)

    return setter


_RPC_ON_HTTP = (
    "yurt's RPC travels on the HTTP listener, which http_max_conns_per_client and "
    "https_handshake_timeout bound"
)
# Nomad's `limits { }`, plus yurt's http_read_header_timeout and http_idle_timeout.
_LIMITS: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    **{key: (kind, _limit(key)) for key, kind in LIMIT_KEYS.items()},
    "rpc_handshake_timeout": (str, _unsupported("rpc_handshake_timeout", _RPC_ON_HTTP)),
    "rpc_max_conns_per_client": (int, _unsupported("rpc_max_conns_per_client", _RPC_ON_HTTP)),
}


def _check_acl_ttl(text: str) -> None:
    _positive_duration(text)


_ACL: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "enabled": (bool, _set("acl_enabled")),
    "token_ttl": (str, lambda c, v: setattr(c, "acl_token_ttl_ns", _positive_duration(v))),
    # Checked, not stored: a client caches a token with its policies, for token_ttl.
    "policy_ttl": (str, lambda c, v: _check_acl_ttl(v)),
    "role_ttl": (str, lambda c, v: _check_acl_ttl(v)),
    "replication_token": (
        str,
        _unsupported("replication_token", "yurt runs one region: there is nothing to replicate"),
    ),
    "token_min_expiration_ttl": (
        str,
        _unsupported("token_min_expiration_ttl", "token TTLs are Nomad's default, 1m to 24h"),
    ),
    "token_max_expiration_ttl": (
        str,
        _unsupported("token_max_expiration_ttl", "token TTLs are Nomad's default, 1m to 24h"),
    ),
}
_IGNORED_BLOCKS: set[str] = set()
# Blocks of a Nomad agent config that yurt does not implement: an error that says why.
_UNSUPPORTED_BLOCKS = {
    "telemetry": "yurt has no metrics sinks; the APIs' /v1/metrics are not served",
    "ui": "yurt always serves its UI on the HTTP API's address",
    "server_join": "servers find each other through the etcd of store { endpoints } "
    "(docs/cluster.md): there are no addresses to join",
    "vault": "yurt has no Vault integration",
    "audit": "yurt has no audit log",
    "sentinel": "yurt has no Sentinel policies",
    "autopilot": "yurt has no Raft: several servers share etcd, whose quorum is the "
    "availability bound (docs/cluster.md)",
}
_BLOCKS: dict[str, dict[str, tuple[type | tuple[type, ...], Setter]]] = {
    "consul": _CONSUL,
    "server": _SERVER,
    "client": _CLIENT,
    "ports": _PORTS,
    "addresses": {
        "http": (str, _set("bind_addr")),
        "rpc": (str, _unsupported("rpc", _NO_RPC)),
        "serf": (str, _unsupported("serf", _NO_SERF)),
    },
    "tls": _TLS,
    "limits": _LIMITS,
    "acl": _ACL,
    "advertise": _ADVERTISE,
    "catalog": _CATALOG,
    "router": _ROUTER,
    "store": _STORE,
}
_PLUGINS = {"raw_exec": _RAW_EXEC, "docker": _DOCKER}
_TYPE_NAMES = {str: "a string", bool: "a bool", int: "a number", list: "a list", dict: "a map"}


def load_agent_config(paths: list[Path], base: AgentConfig | None = None) -> AgentConfig:
    """Read HCL config files in order (later ones override); ConfigError lists every problem."""
    cfg = base or AgentConfig()
    for path in paths:
        for file in config_files(path):
            _apply(cfg, file.read_text(), str(file))
            cfg.sources.append(str(file))
    return cfg


def _temporary(name: str) -> bool:
    """Editors' files that Nomad skips in a config directory (`x~`, `.#x`, `#x#`)."""
    return name.endswith("~") or name.startswith(".#") or (name[:1] == name[-1:] == "#")


def config_files(path: Path) -> list[Path]:
    """A `-config` path as Nomad reads it: a file itself; a directory's `*.hcl` and `*.json`
    files (not its subdirectories or editors' temporary files) in lexical order."""
    if not path.is_dir():
        return [path]
    return sorted(
        p
        for p in path.iterdir()
        if p.suffix in (".hcl", ".json") and p.is_file() and not _temporary(p.name)
    )


def parse_agent_config(text: str, filename: str, base: AgentConfig | None = None) -> AgentConfig:
    cfg = base or AgentConfig()
    _apply(cfg, text, filename)
    return cfg


# Blocks inside the blocks above: client { meta {} template {} }, catalog { acl {} }.
_NESTED_BLOCKS = {"client": {"meta", "template"}, "catalog": {"acl"}, "store": {"tls"}}


def _json_shape() -> BlockShape:
    """Which keys of a JSON agent config are blocks (the rest are attributes)."""
    plain: BlockShape = {}
    nested: dict[str, BlockShape] = {
        "client": {
            "meta": (0, plain),
            "template": (0, {"wait": (0, plain), "wait_bounds": (0, plain)}),
        },
        "catalog": {"acl": (0, {"tokens": (0, plain)})},
        "store": {"tls": (0, plain)},
    }
    shape: dict[str, tuple[int, BlockShape]] = {
        name: (0, nested.get(name, plain)) for name in (*_BLOCKS, *_UNSUPPORTED_BLOCKS)
    }
    shape["plugin"] = (1, {"config": (0, plain)})
    return shape


def _apply(cfg: AgentConfig, text: str, filename: str) -> None:
    # `*.json` files are HCL's JSON syntax, as Nomad reads them in a config directory.
    if filename.endswith(".json"):
        body = parse_json_config(text, filename, _json_shape())
    else:
        body = parse_body(text, filename)
    collector = Collector(filename)
    scope = Scope({}, {}, functions(None))
    _attributes(cfg, body, _TOP, scope, collector, "the agent config")
    for block in body.blocks:
        if block.type in _BLOCKS:
            _attributes(cfg, block.body, _BLOCKS[block.type], scope, collector, block.type)
            if block.type in ("tls", "consul"):
                _check_tls(cfg, block, collector)
            _no_blocks(block, collector, allowed=_NESTED_BLOCKS.get(block.type, set()))
            if block.type == "store":
                _store_block(cfg, block, scope, collector)
            if block.type == "catalog":
                for acl in block.body.blocks_of("acl"):
                    apply_acl_block(cfg.catalog_acl, acl.body, collector)
            if block.type == "client":
                for meta in block.body.blocks_of("meta"):
                    values = {
                        name: str(_value(attr.expr, scope, collector))
                        for name, attr in meta.body.attributes.items()
                    }
                    cfg.client_meta.update(values)
                for tmpl in block.body.blocks_of("template"):
                    _client_template(cfg, tmpl, scope, collector)
        elif block.type == "plugin":
            _plugin(cfg, block, scope, collector)
        elif block.type in _IGNORED_BLOCKS:
            continue
        elif block.type in _UNSUPPORTED_BLOCKS:
            collector.error(
                block.pos,
                f'yurt does not support the "{block.type}" block: '
                f"{_UNSUPPORTED_BLOCKS[block.type]}",
            )
        else:
            known = [*_BLOCKS, "plugin", *_IGNORED_BLOCKS, *_UNSUPPORTED_BLOCKS]
            collector.error(
                block.pos, f'unknown block "{block.type}"{did_you_mean(block.type, known)}'
            )
    collector.raise_if_any()


def _store_block(cfg: AgentConfig, block: Block, scope: Scope, collector: Collector) -> None:
    """`store { tls { } }` and the checks of the block as a whole, at its position."""
    for tls in block.body.blocks_of("tls"):
        _attributes(cfg, tls.body, _STORE_TLS, scope, collector, "store tls")
        _no_blocks(tls, collector, allowed=set())
    etcd_keys = bool({"endpoints", "prefix"} & set(block.body.attributes))
    etcd_keys = etcd_keys or bool(block.body.blocks_of("tls"))
    # endpoints given but refused have their own error already
    given = "endpoints" in block.body.attributes
    for problem in store_config.problems(cfg.store, etcd_keys_set=etcd_keys, endpoints_given=given):
        collector.error(block.pos, f"store: {problem}")


def _check_tls(cfg: AgentConfig, block: Block, collector: Collector) -> None:
    """A `tls` or `consul` block whose files cannot be used fails here, at its position,
    rather than when the agent starts."""
    if block.type == "tls":
        rpc = block.body.attributes.get("rpc")
        if cfg.tls_rpc and not cfg.tls.http and rpc is not None:
            collector.error(
                rpc.pos,
                "tls: rpc = true needs http = true: yurt's RPC travels on the HTTP listener, "
                "so it is encrypted only when the HTTP API is",
            )
        try:
            cfg.tls.check()
        except TLSConfigError as exc:
            collector.error(block.pos, f"tls: {exc}")
    elif cfg.consul_tls is not None and cfg.consul_tls.http:
        try:
            cfg.consul_tls.client_context()
        except TLSConfigError as exc:
            collector.error(block.pos, f"consul: {exc}")


def _seconds(text: str) -> float:
    return _positive_duration(text) / 1e9


_TEMPLATE: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "block_query_wait": (
        str,
        lambda c, v: setattr(c.client_template, "block_query_wait", _seconds(v)),
    ),
    # Checked, not stored: with one catalog server every read is as fresh as a stale one.
    "max_stale": (str, lambda c, v: _check_duration(v)),
}


def _check_duration(text: str) -> None:
    _seconds(text)


_TEMPLATE_WAITS = {"wait": ("wait_min", "wait_max"), "wait_bounds": ("bounds_min", "bounds_max")}


def _client_template(cfg: AgentConfig, block: Block, scope: Scope, collector: Collector) -> None:
    """`client { template { block_query_wait, max_stale, wait {}, wait_bounds {} } }`."""
    _attributes(cfg, block.body, _TEMPLATE, scope, collector, "client template")
    for inner in block.body.blocks:
        fields = _TEMPLATE_WAITS.get(inner.type)
        if fields is None:
            collector.error(
                inner.pos,
                f'unknown block "{inner.type}" in client template; yurt reads '
                '"wait" and "wait_bounds" (consul_retry and vault_retry are not supported)',
            )
            continue
        schema: dict[str, tuple[type | tuple[type, ...], Setter]] = {
            bound: (str, _template_wait(field))
            for bound, field in zip(("min", "max"), fields, strict=True)
        }
        _attributes(cfg, inner.body, schema, scope, collector, f"client template {inner.type}")


def _template_wait(field_name: str) -> Setter:
    def setter(cfg: AgentConfig, value: Any) -> None:
        setattr(cfg.client_template, field_name, _seconds(str(value)))

    return setter


def _plugin(cfg: AgentConfig, block: Block, scope: Scope, collector: Collector) -> None:
    if len(block.labels) != 1:
        collector.error(block.pos, 'plugin blocks take one label, the driver: plugin "docker" {}')
        return
    name = block.labels[0]
    schema = _PLUGINS.get(name)
    if schema is None:
        collector.error(
            block.pos,
            f'unknown plugin "{name}"{did_you_mean(name, _PLUGINS)}; yurt has '
            + ", ".join(f'"{p}"' for p in _PLUGINS),
        )
        return
    for inner in block.body.blocks:
        if inner.type != "config":
            collector.error(inner.pos, f'unknown block "{inner.type}" in plugin "{name}"')
            continue
        _attributes(cfg, inner.body, schema, scope, collector, f'plugin "{name}" config')
        for sub in inner.body.blocks:
            if sub.type in schema and schema[sub.type][0] is dict:
                values = {
                    k: _value(a.expr, scope, collector) for k, a in sub.body.attributes.items()
                }
                try:
                    schema[sub.type][1](cfg, values)
                except ValueError as exc:
                    collector.error(sub.pos, f'"{sub.type}" in plugin "{name}" config: {exc}')
            else:
                collector.error(sub.pos, f'unknown block "{sub.type}" in plugin "{name}" config')


def _no_blocks(block: Block, collector: Collector, allowed: set[str]) -> None:
    for inner in block.body.blocks:
        if inner.type not in allowed:
            collector.error(inner.pos, f'unknown block "{inner.type}" in "{block.type}"')


def _value(expr: Any, scope: Scope, collector: Collector) -> Any:
    try:
        return evaluate(expr, scope)
    except EvalError as exc:
        collector.error(exc.pos, exc.message)
        return None


def _attributes(
    cfg: AgentConfig,
    body: Body,
    schema: Mapping[str, tuple[type | tuple[type, ...], Setter]],
    scope: Scope,
    collector: Collector,
    where: str,
) -> None:
    for name, attr in body.attributes.items():
        entry = schema.get(name)
        if entry is None:
            collector.error(
                attr.pos, f'unknown key "{name}" in {where}{did_you_mean(name, schema)}'
            )
            continue
        expected, setter = entry
        value = _value(attr.expr, scope, collector)
        if value is None:
            continue
        if expected is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        kinds = expected if isinstance(expected, tuple) else (expected,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
            collector.error(attr.pos, f'"{name}" in {where} must be {names}')
            continue
        try:
            setter(cfg, value)
        except ValueError as exc:
            collector.error(attr.pos, f'"{name}" in {where}: {exc}')
