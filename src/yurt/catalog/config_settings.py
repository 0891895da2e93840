"""The agent settings of Consul config files (`-config-dir`) besides service definitions:
TLS and ports, which yurt's catalog implements, and every other key, which is an error that
names it at its file:line:column.

Read, as Consul reads them, from `tls { defaults { ... } https { ... } }` (Consul 1.12+), or
from the older top-level `cert_file`, `key_file`, `ca_file`, `ca_path`, `verify_incoming`,
`verify_incoming_https`, `tls_min_version`; `ports { http, https }` (-1 turns a listener
off; HTTPS is off unless `ports { https }` is set, as in Consul); and `limits {
http_max_conns_per_client, https_handshake_timeout }` with yurt's `http_read_header_timeout`
and `http_idle_timeout` (yurt.api.limits). Files are merged in order, later ones overriding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yurt.api.limits import LIMIT_KEYS, HTTPLimits, apply_limit
from yurt.api.tls import TLSConfig, TLSConfigError, parse_min_version
from yurt.catalog.config import CatalogConfig

# Top-level keys that other readers handle (service definitions; the ACL settings).
HANDLED_ELSEWHERE = frozenset({"service", "services", "acl"})

# Consul's switches for script checks (CatalogConfig's fields of the same names)
SCRIPT_KEYS = ("enable_script_checks", "enable_local_script_checks")
# Consul's settings that describe what yurt's catalog is anyway: accepted with these values.
_ONLY: dict[str, tuple[Any, str]] = {
    "server": (True, "yurt's catalog is always a server"),
    "bootstrap": (True, "yurt's catalog is always its own leader"),
    "bootstrap_expect": (1, "yurt's catalog is one server"),
}
_JOIN = (
    "yurt's catalog servers find each other in the etcd of the agent config's store { } "
    "(docs/cluster.md), and runs one server without it: there is no address to join"
)
# Consul's settings yurt's catalog does not implement, with what to do instead.
_HINTS: dict[str, str] = {
    "datacenter": "use `yurt catalog -datacenter`",
    "node_name": "use `yurt catalog -node`",
    "data_dir": "use `yurt catalog -data-dir`",
    "bind_addr": "use `yurt catalog -http-addr`",
    "client_addr": "use `yurt catalog -http-addr`",
    "advertise_addr": "use `yurt catalog -advertise`",
    "addresses": "use `yurt catalog -http-addr`",
    "log_level": "set log_level in yurt's agent config, or YURT_LOG_LEVEL",
    "encrypt": "yurt's catalog has no gossip (Serf) traffic to encrypt",
    # several servers share etcd instead of gossiping (docs/cluster.md)
    "retry_join": _JOIN,
    "start_join": _JOIN,
    "connect": "yurt's catalog has no service mesh",
    "auto_encrypt": "yurt's catalog issues no certificates",
    "auto_config": "yurt's catalog issues no certificates",
    "telemetry": "yurt's catalog has no metrics sinks",
    "performance": "yurt's catalog has no Raft to tune",
}
_DISABLED_PORTS = {
    "dns": "yurt's catalog has no DNS interface",
    "grpc": "yurt's catalog has no gRPC interface",
    "grpc_tls": "yurt's catalog has no gRPC interface",
    "serf_lan": "yurt's catalog has no gossip",
    "serf_wan": "yurt's catalog has no gossip",
    "server": "yurt's catalog has no server RPC",
}
_TLS_FIELDS: dict[str, str] = {
    "ca_file": "ca_file",
    "ca_path": "ca_path",
    "cert_file": "cert_file",
    "key_file": "key_file",
    "verify_incoming": "verify_incoming",
    "tls_min_version": "tls_min_version",
}
# Keys about outgoing RPC to other servers: yurt's catalog makes none, so there is nothing
# for them to protect, and accepting them changes nothing a user relies on.
_OUTGOING_ONLY = frozenset({"verify_outgoing", "verify_server_hostname"})
_LEGACY_TLS = frozenset({*_TLS_FIELDS, "verify_incoming_https", *_OUTGOING_ONLY})


class SettingsError(ValueError):
    """A setting yurt's catalog cannot honour; the message starts with file:line:column."""


@dataclass
class CatalogSettings:
    """What the config files say about the listeners; None where they say nothing."""

    tls: dict[str, Any] = field(default_factory=dict)
    http_port: int | None = None
    https_port: int | None = None
    # Consul's `limits { }`: the keys given, in file order, for `apply_limit`.
    limits: dict[str, Any] = field(default_factory=dict)
    # enable_script_checks / enable_local_script_checks, where a file sets them
    scripts: dict[str, bool] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def tls_config(self) -> TLSConfig | None:
        if not self.tls:
            return None
        try:
            return TLSConfig(http=True, **self.tls)
        except TypeError as exc:  # a field name typo here is a bug, not user input
            raise AssertionError(exc) from None


def read_settings(path: Path, data: Mapping[str, Any], into: CatalogSettings) -> None:
    """Merges one file's settings into `into`; SettingsError at the first one refused."""
    at = _Locator(path)
    legacy = {k: data[k] for k in _LEGACY_TLS if k in data}
    for key, value in data.items():
        if key in HANDLED_ELSEWHERE or key in _LEGACY_TLS:
            continue
        if key == "tls":
            _tls_block(at, _object(at, ["tls"], value), into)
        elif key == "ports":
            _ports(at, _object(at, ["ports"], value), into)
        elif key == "limits":
            _limits(at, _object(at, ["limits"], value), into)
        elif key in ("ui", "ui_config"):
            _ui(at, key, value)
        elif key in SCRIPT_KEYS:
            if not isinstance(value, bool):
                raise at.error([key], f"{key}: expected true or false")
            into.scripts[key] = value
        elif key in _ONLY:
            expected, why = _ONLY[key]
            if value != expected:
                shown = str(expected).lower() if isinstance(expected, bool) else expected
                raise at.error([key], f"yurt supports only {key} = {shown}: {why}")
        else:
            hint = _HINTS.get(key, "remove it")
            raise at.error(
                [key], f'yurt\'s catalog does not support "{key}" in config files: {hint}'
            )
    if legacy:
        if "verify_incoming_https" in legacy:
            legacy["verify_incoming"] = legacy.pop("verify_incoming_https")
        _tls_fields(at, [], legacy, into)
    if into.tls:
        into.sources.append(str(path))


def check(settings: CatalogSettings) -> None:
    """Settings that only make sense together: certificates need the HTTPS port."""
    cfg = settings.tls_config()
    where = ", ".join(settings.sources)
    if cfg is not None and (settings.https_port is None or settings.https_port < 0):
        raise SettingsError(
            f"{where}: TLS files are set but ports {{ https }} is not: yurt's catalog uses "
            "certificates only for its HTTPS listener (Consul's default port is 8501)"
        )
    if settings.https_port is not None and settings.https_port >= 0 and cfg is None:
        raise SettingsError("ports { https } is set but no cert_file and key_file are")
    if settings.http_port == -1 and cfg is None:
        raise SettingsError(
            "ports { http = -1 } turns off the catalog's only listener: set ports { https } "
            "and the TLS files too"
        )
    if cfg is not None:
        try:
            cfg.server_context()
        except TLSConfigError as exc:
            raise SettingsError(f"{where}: {exc}") from None


def _tls_block(at: _Locator, block: Mapping[str, Any], into: CatalogSettings) -> None:
    for section in ("defaults", "https"):
        if section in block:
            _tls_fields(at, ["tls", section], _object(at, ["tls", section], block[section]), into)
    for section, value in block.items():
        if section in ("defaults", "https"):
            continue
        if section == "internal_rpc":
            # TLS for RPC between servers: yurt's catalog has none; checked, nothing to apply.
            for key in _object(at, ["tls", section], value):
                if key not in (*_TLS_FIELDS, *_OUTGOING_ONLY):
                    raise at.error(["tls", section, key], f'unknown key "{key}" in tls.{section}')
            continue
        raise at.error(
            ["tls", section],
            f'yurt\'s catalog does not support "tls.{section}": it reads tls.defaults and '
            "tls.https (and accepts tls.internal_rpc, having no RPC)",
        )


def _tls_fields(
    at: _Locator, where: list[str], fields: Mapping[str, Any], into: CatalogSettings
) -> None:
    for key, value in fields.items():
        path = [*where, key]
        if key in _OUTGOING_ONLY:
            if not isinstance(value, bool):
                raise at.error(path, f'"{key}" must be a bool')
            continue
        name = _TLS_FIELDS.get(key)
        if name is None:
            raise at.error(path, f'yurt\'s catalog does not support "{".".join(path)}"')
        expected = bool if key == "verify_incoming" else str
        if not isinstance(value, expected):
            kind = "a bool" if expected is bool else "a string"
            raise at.error(path, f'"{key}" must be {kind}')
        if key == "tls_min_version":
            try:
                parse_min_version(str(value))
            except TLSConfigError as exc:
                raise at.error(path, str(exc)) from None
        into.tls[name] = value


def _ports(at: _Locator, ports: Mapping[str, Any], into: CatalogSettings) -> None:
    for key, value in ports.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < -1 or value > 65535:
            raise at.error(["ports", key], f'"{key}" must be a port number, or -1 for off')
        if key == "http":
            into.http_port = value
        elif key == "https":
            into.https_port = value
        elif key in _DISABLED_PORTS:
            if value != -1:
                raise at.error(
                    ["ports", key],
                    f"yurt supports only ports.{key} = -1: {_DISABLED_PORTS[key]}",
                )
        else:
            raise at.error(["ports", key], f'yurt\'s catalog does not support "ports.{key}"')


# Consul's other `limits { }` keys bound its server RPC, its rate limiter and its KV and
# transaction sizes: yurt's catalog has no RPC, and its body limits are built in.
_LIMITS_NOT_HERE = {
    "rpc_handshake_timeout": "yurt's catalog has no server RPC",
    "rpc_max_conns_per_client": "yurt's catalog has no server RPC",
    "rpc_rate": "yurt's catalog has no server RPC",
    "rpc_max_burst": "yurt's catalog has no server RPC",
    "rpc_client_timeout": "yurt's catalog has no server RPC",
    "request_limits": "yurt's catalog has no request rate limiter",
}


def _limits(at: _Locator, block: Mapping[str, Any], into: CatalogSettings) -> None:
    for key, value in block.items():
        if key in _LIMITS_NOT_HERE:
            raise at.error(
                ["limits", key],
                f'yurt\'s catalog does not support "limits.{key}": {_LIMITS_NOT_HERE[key]}',
            )
        if key not in LIMIT_KEYS:
            raise at.error(
                ["limits", key],
                f'yurt\'s catalog does not support "limits.{key}": it reads '
                + ", ".join(LIMIT_KEYS),
            )
        try:
            apply_limit(HTTPLimits(), key, value)
        except ValueError as exc:
            raise at.error(["limits", key], f'"limits.{key}": {exc}') from None
        into.limits[key] = value


def _ui(at: _Locator, key: str, value: Any) -> None:
    enabled = value.get("enabled", True) if isinstance(value, dict) else value
    extra = [k for k in value if k != "enabled"] if isinstance(value, dict) else []
    if extra:
        raise at.error([key, extra[0]], f'yurt\'s catalog does not support "{key}.{extra[0]}"')
    if enabled is not True:
        raise at.error([key], f"yurt supports only {key} enabled: it always serves its UI")


def _object(at: _Locator, path: list[str], value: Any) -> Mapping[str, Any]:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]  # HCL1-style repeated block decoding
    if not isinstance(value, dict):
        raise at.error(path, f'"{".".join(path)}" must be an object (a block)')
    return value


class _Locator:
    """file:line:column of a key path, found only when an error needs it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, keys: list[str], message: str) -> SettingsError:
        line, column = key_position(self.path, keys)
        return SettingsError(f"{self.path}:{line}:{column}: {message}")


def key_position(path: Path, keys: list[str]) -> tuple[int, int]:
    """line, column of a key path in a config file (the last key found along it)."""
    try:
        text = path.read_text()
    except OSError:
        return 1, 1
    if path.suffix == ".json":
        return _find_json(text, keys)
    return _find_hcl(text, str(path), keys)


def _find_json(text: str, keys: list[str]) -> tuple[int, int]:
    """Each key searched after the previous one's position: good enough for config files,
    whose keys of one path appear in order."""
    start = 0
    found = 0
    for key in keys:
        match = re.compile(r'"' + re.escape(key) + r'"\s*:').search(text, start)
        if match is None:
            break
        found = start = match.start()
    line = text.count("\n", 0, found) + 1
    return line, found - (text.rfind("\n", 0, found) + 1) + 1


def _find_hcl(text: str, filename: str, keys: list[str]) -> tuple[int, int]:
    from yurt.jobspec.diagnostics import JobspecError
    from yurt.jobspec.syntax import parse_body

    try:
        body = parse_body(text, filename)
    except JobspecError:
        return 1, 1
    pos: tuple[int, int] = (1, 1)
    for key in keys:
        attr = body.attributes.get(key)
        if attr is not None:
            return attr.pos.line, attr.pos.column
        blocks = body.blocks_of(key)
        if not blocks:
            break
        pos = (blocks[0].pos.line, blocks[0].pos.column)
        body = blocks[0].body
    return pos


def load_settings(dirs: list[Path]) -> CatalogSettings:
    """The merged settings of every config file in `dirs`, in name order (as Consul)."""
    from yurt.catalog.configdir import read_file

    settings = CatalogSettings()
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.suffix in (".json", ".hcl") and path.is_file():
                read_settings(path, read_file(path), settings)
    check(settings)
    return settings


def apply(settings: CatalogSettings, cfg: CatalogConfig) -> None:
    """Sets a CatalogConfig's listeners from the files' settings (what they say wins)."""
    tls = settings.tls_config()
    if tls is not None:
        cfg.tls = tls
    if settings.https_port is not None:
        cfg.https_port = settings.https_port
    if settings.http_port is not None:
        cfg.http_port = settings.http_port
    for key, value in settings.limits.items():
        cfg.http_limits = apply_limit(cfg.http_limits, key, value)
    # the flags only turn script checks on: a file saying true turns them on as well
    cfg.enable_script_checks |= settings.scripts.get("enable_script_checks", False)
    cfg.enable_local_script_checks |= settings.scripts.get("enable_local_script_checks", False)
