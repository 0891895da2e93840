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

Unknown keys are errors with file:line:column, as Nomad rejects them; keys that matter only
to a multi-server Nomad (`bootstrap_expect`, `server_join`, `encrypt`, ...) are accepted and
ignored, so the seed's file loads unchanged.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yurt.api.durations import parse_go_duration
from yurt.catalog.config import ConsulACLConfig
from yurt.client.config import TemplateConfig
from yurt.jobspec.diagnostics import Collector, JobspecError, did_you_mean
from yurt.jobspec.evaluate import EvalError, Scope, evaluate
from yurt.jobspec.functions import functions
from yurt.jobspec.syntax import Block, Body, parse_body

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
    # The token the scheduler and the client present to the catalog (`consul { token }`).
    consul_token: str = ""
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
    """Accepted for compatibility with Nomad agent configs; one process needs none of it."""


# attribute name -> (expected type, setter)
_TOP: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "datacenter": (str, _set("datacenter")),
    "region": (str, _set("region")),
    "name": (str, _set("name")),
    "data_dir": (str, lambda c, v: setattr(c, "data_dir", Path(v))),
    "bind_addr": (str, _set("bind_addr")),
    "http_allowed_origins": (list, lambda c, v: setattr(c, "http_allowed_origins", _origins(v))),
    "log_level": (str, _ignored),
    "log_json": (bool, _ignored),
    "enable_debug": (bool, _ignored),
    "leave_on_interrupt": (bool, _ignored),
    "leave_on_terminate": (bool, _ignored),
    "disable_update_check": (bool, _ignored),
}
_CONSUL: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "address": (str, _set("consul_address")),
    "server_service_name": (str, _set("server_service_name")),
    "client_service_name": (str, _set("client_service_name")),
    "auto_advertise": (bool, _set("auto_advertise")),
    "server_auto_join": (bool, _ignored),
    "client_auto_join": (bool, _ignored),
    "token": (str, _ignored),
    "ssl": (bool, _ignored),
    "tags": (list, _ignored),
}
_SERVER: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "enabled": (bool, _set("server_enabled")),
    "bootstrap_expect": (int, _ignored),
    "encrypt": (str, _ignored),
    "num_schedulers": (int, _ignored),
    "heartbeat_grace": (str, _ignored),
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
    "network_interface": (str, _ignored),
    "cpu_total_compute": (int, _ignored),
    "memory_total_mb": (int, _ignored),
}
_PORTS: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "http": (int, _set("http_port")),
    "rpc": (int, _ignored),
    "serf": (int, _ignored),
}
_ADVERTISE: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "http": (str, _ignored),
    "rpc": (str, _ignored),
    "serf": (str, _ignored),
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
_RAW_EXEC: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "enabled": (bool, _set("raw_exec_enabled")),
    "no_cgroups": (bool, _ignored),
}
_DOCKER: dict[str, tuple[type | tuple[type, ...], Setter]] = {
    "endpoint": (str, _set("docker_endpoint")),
    "allow_privileged": (bool, _set("docker_allow_privileged")),
    "volumes": (dict, lambda c, v: setattr(c, "docker_volumes_enabled", bool(v.get("enabled")))),
    "gc": (dict, _ignored),
}
_IGNORED_BLOCKS = {"advertise", "telemetry", "acl", "tls", "ui", "server_join", "vault", "audit"}
_BLOCKS: dict[str, dict[str, tuple[type | tuple[type, ...], Setter]]] = {
    "consul": _CONSUL,
    "server": _SERVER,
    "client": _CLIENT,
    "ports": _PORTS,
    "addresses": {"http": (str, _set("bind_addr"))},
    "catalog": _CATALOG,
    "router": _ROUTER,
}
_PLUGINS = {"raw_exec": _RAW_EXEC, "docker": _DOCKER}
_TYPE_NAMES = {str: "a string", bool: "a bool", int: "a number", list: "a list", dict: "a map"}


def load_agent_config(paths: list[Path], base: AgentConfig | None = None) -> AgentConfig:
    """Read HCL config files in order (later ones override); ConfigError lists every problem."""
    cfg = base or AgentConfig()
    for path in paths:
        files = sorted(path.glob("*.hcl")) if path.is_dir() else [path]
        for file in files:
            _apply(cfg, file.read_text(), str(file))
            cfg.sources.append(str(file))
    return cfg


def parse_agent_config(text: str, filename: str, base: AgentConfig | None = None) -> AgentConfig:
    cfg = base or AgentConfig()
    _apply(cfg, text, filename)
    return cfg


def _apply(cfg: AgentConfig, text: str, filename: str) -> None:
    body = parse_body(text, filename)
    collector = Collector(filename)
    scope = Scope({}, {}, functions(None))
    _attributes(cfg, body, _TOP, scope, collector, "the agent config")
    for block in body.blocks:
        if block.type in _BLOCKS:
            _attributes(cfg, block.body, _BLOCKS[block.type], scope, collector, block.type)
            _no_blocks(
                block, collector, allowed={"meta", "template"} if block.type == "client" else set()
            )
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
        else:
            known = [*_BLOCKS, "plugin", *_IGNORED_BLOCKS]
            collector.error(
                block.pos, f'unknown block "{block.type}"{did_you_mean(block.type, known)}'
            )
    collector.raise_if_any()


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
                schema[sub.type][1](cfg, values)
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
