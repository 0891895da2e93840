"""`nomad agent`'s command-line flags for `yurt up`, applied over the config files as Nomad
applies them: a flag given wins over every file, `-meta` adds keys to the files' `meta`, and
`-servers` is one comma-separated list. Pure: values in, changed config or ValueError out."""

from __future__ import annotations

from dataclasses import dataclass

from yurt.agent_config import AgentConfig, parse_log_level


@dataclass(frozen=True)
class AgentFlags:
    """The flags as given; None (or empty) is "not given", which leaves the config's value."""

    node: str | None = None
    dc: str | None = None
    region: str | None = None
    bind: str | None = None
    servers: str | None = None
    meta: tuple[str, ...] = ()
    node_class: str | None = None
    log_level: str | None = None
    acl_enabled: bool = False


def parse_meta(pairs: tuple[str, ...]) -> dict[str, str]:
    """`-meta key=value`, repeatable; the value may hold "=" (split at the first)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            # Nomad's text, with what yurt expects added
            raise ValueError(f"Error parsing Client.Meta value: {pair} (expected key=value)")
        out[key] = value
    return out


def parse_servers(text: str) -> list[str]:
    servers = [s.strip() for s in text.split(",") if s.strip()]
    if not servers:
        raise ValueError(f'-servers: expected "host:port[,host:port...]", got "{text}"')
    return servers


def _not_empty(flag: str, value: str) -> str:
    if not value.strip():
        raise ValueError(f"-{flag} must not be empty")
    return value


def apply_flags(cfg: AgentConfig, flags: AgentFlags) -> AgentConfig:
    """Apply the given flags to `cfg` (in place, returned for chaining)."""
    if flags.node is not None:
        cfg.name = _not_empty("node", flags.node)
    if flags.dc is not None:
        cfg.datacenter = _not_empty("dc", flags.dc)
    if flags.region is not None:
        cfg.region = _not_empty("region", flags.region)
    if flags.bind is not None:
        cfg.bind_addr = _not_empty("bind", flags.bind)
    if flags.servers is not None:
        cfg.client_servers = parse_servers(flags.servers)
    if flags.meta:
        cfg.client_meta = {**cfg.client_meta, **parse_meta(flags.meta)}
    if flags.node_class is not None:
        cfg.node_class = flags.node_class
    if flags.log_level is not None:
        try:
            cfg.log_level = parse_log_level(flags.log_level)
        except ValueError as exc:
            raise ValueError(f"-log-level: {exc}") from None
    if flags.acl_enabled:
        cfg.acl_enabled = True
        cfg.catalog_acl.enabled = True
        cfg.catalog_acl.default_policy = "deny"
    return cfg
