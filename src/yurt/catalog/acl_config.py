"""Consul's `acl { }` settings, from `-config-dir` files and from yurt's agent config.

    acl {
      enabled                  = true
      default_policy           = "deny"      # or "allow"
      down_policy              = "extend-cache"
      enable_token_persistence = true
      tokens {
        initial_management = "..."            # also the older `master`
        agent              = "..."
        agent_recovery     = "..."            # also the older `agent_master`
        default            = "..."
      }
    }

Settings that only tune Consul's multi-server machinery (token replication, cache TTLs) are
refused with why: yurt's catalog is one server that resolves every token locally.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from yurt.catalog.config import ConsulACLConfig
from yurt.catalog.config_settings import key_position
from yurt.jobspec.diagnostics import Collector, did_you_mean
from yurt.jobspec.evaluate import EvalError, Scope, evaluate
from yurt.jobspec.syntax import Body

ErrorAt = Callable[[list[str], str], None]

_POLICIES = ("allow", "deny")
_DOWN_POLICIES = ("allow", "deny", "extend-cache", "async-cache")
_TOKEN_FIELDS = {
    "initial_management": "initial_management",
    "master": "initial_management",
    "agent": "agent",
    "agent_recovery": "agent_recovery",
    "agent_master": "agent_recovery",
    "default": "default",
}
_REFUSED = {
    "enable_token_replication": "yurt's catalog is one datacenter's only server: "
    "there is nothing to replicate",
    "token_ttl": "yurt's catalog resolves tokens locally, without a cache to expire",
    "policy_ttl": "yurt's catalog resolves tokens locally, without a cache to expire",
    "role_ttl": "yurt's catalog resolves tokens locally, without a cache to expire",
    "enable_key_list_policy": "yurt's catalog filters key lists by key:read, as Consul's "
    "default does",
    "msp_disable_bootstrap": "not a setting of Consul's open-source agent",
}
_REFUSED_TOKENS = {
    "replication": "yurt's catalog is one datacenter's only server: there is nothing to replicate",
    "config_file_service_registration": "services from config files are registered by the "
    "catalog itself",
    "dns": "yurt's catalog has no DNS interface",
}
_KEYS = ("enabled", "default_policy", "down_policy", "enable_token_persistence", "tokens")


def apply_acl(acl: ConsulACLConfig, data: Mapping[str, Any], error: ErrorAt) -> None:
    """Set `acl` from the decoded `acl` object; report each problem at its key path."""
    for key, value in data.items():
        if key in _REFUSED:
            error([key], f'"acl.{key}" is not supported: {_REFUSED[key]}')
        elif key in ("enabled", "enable_token_persistence"):
            if not isinstance(value, bool):
                error([key], f'"acl.{key}" must be a bool')
            else:
                setattr(acl, key, value)
        elif key in ("default_policy", "down_policy"):
            allowed = _POLICIES if key == "default_policy" else _DOWN_POLICIES
            if value not in allowed:
                error(
                    [key],
                    f'"acl.{key}" must be one of '
                    + ", ".join(f'"{a}"' for a in allowed)
                    + f", got {value!r}",
                )
            else:
                setattr(acl, key, value)
        elif key == "tokens":
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            if not isinstance(value, dict):
                error([key], '"acl.tokens" must be a block')
                continue
            _tokens(acl, value, error)
        else:
            error([key], f'unknown key "acl.{key}"{did_you_mean(key, [*_KEYS, *_REFUSED])}')


def _tokens(acl: ConsulACLConfig, data: Mapping[str, Any], error: ErrorAt) -> None:
    for key, value in data.items():
        if key in _REFUSED_TOKENS:
            error(["tokens", key], f'"acl.tokens.{key}" is not supported: {_REFUSED_TOKENS[key]}')
            continue
        target = _TOKEN_FIELDS.get(key)
        if target is None:
            error(
                ["tokens", key],
                f'unknown key "acl.tokens.{key}"{did_you_mean(key, _TOKEN_FIELDS)}',
            )
        elif not isinstance(value, str):
            error(["tokens", key], f'"acl.tokens.{key}" must be a string')
        else:
            setattr(acl, target, value)


# -- -config-dir files ----------------------------------------------------------------------


class ACLConfigError(ValueError):
    """A bad `acl` setting; the message starts with file:line:column."""


def load_acl(dirs: list[Path], acl: ConsulACLConfig, read: Callable[[Path], Any]) -> None:
    """Apply the `acl` objects of the config files in `dirs`, in name order (as Consul
    merges them); `read` decodes a file to its JSON object."""
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.suffix not in (".json", ".hcl") or not path.is_file():
                continue
            data = read(path)
            for key in data:
                if key.startswith("acl_"):
                    raise ACLConfigError(
                        f"{path}:{_where(path, [key])}: the top-level {key!r} is Consul's "
                        "pre-1.4 form: write it inside an acl { } block (see "
                        "docs/security-consul-acl.md)"
                    )
            value = data.get("acl")
            if value is None:
                continue
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            if not isinstance(value, dict):
                raise ACLConfigError(f'{path}:{_where(path, ["acl"])}: "acl" must be a block')
            problems: list[str] = []

            apply_acl(acl, value, _collect(path, problems))
            if problems:
                raise ACLConfigError("\n".join(problems))


def _collect(path: Path, problems: list[str]) -> ErrorAt:
    def error(keys: list[str], message: str) -> None:
        problems.append(f"{path}:{_where(path, ['acl', *keys])}: {message}")

    return error


def _where(path: Path, keys: list[str]) -> str:
    """line:column of a key path in a config file (the last key found along it)."""
    return "{}:{}".format(*key_position(path, keys))


# -- yurt's agent config (HCL) -------------------------------------------------------------


def apply_acl_block(acl: ConsulACLConfig, body: Body, collector: Collector) -> None:
    """`catalog { acl { ... } }` in yurt's agent config; problems go to `collector` at their
    line:column."""
    scope = Scope({}, {}, {})
    positions: dict[tuple[str, ...], Any] = {}
    data: dict[str, Any] = {}
    for name, attr in body.attributes.items():
        positions[(name,)] = attr.pos
        try:
            data[name] = evaluate(attr.expr, scope)
        except EvalError as exc:
            collector.error(exc.pos, exc.message)
    for block in body.blocks:
        positions[(block.type,)] = block.pos
        if block.type != "tokens" or block.labels:
            collector.error(block.pos, f'unknown block "{block.type}" in catalog acl')
            continue
        tokens: dict[str, Any] = {}
        for name, attr in block.body.attributes.items():
            positions[("tokens", name)] = attr.pos
            try:
                tokens[name] = evaluate(attr.expr, scope)
            except EvalError as exc:
                collector.error(exc.pos, exc.message)
        for inner in block.body.blocks:
            collector.error(inner.pos, f'unknown block "{inner.type}" in catalog acl tokens')
        data["tokens"] = tokens

    def error(keys: list[str], message: str) -> None:
        collector.error(positions.get(tuple(keys), body.pos), message)

    apply_acl(acl, data, error)
