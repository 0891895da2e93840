"""The catalog's configuration."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from yurt.api.limits import HTTPLimits, consul_limits
from yurt.api.tls import TLSConfig
from yurt.storage.config import StoreConfig


def _hostname() -> str:
    return socket.gethostname().split(".")[0] or "yurt"


@dataclass
class ConsulACLConfig:
    """Consul's `acl { }` block: off by default, as Consul.

    `initial_management` is the bootstrap management token's secret given in the config
    (Consul's `tokens { initial_management }`); `agent` is the token the catalog uses for its
    own node's updates; `default` is the token of requests that carry none (empty: anonymous).
    """

    enabled: bool = False
    default_policy: str = "allow"
    down_policy: str = "extend-cache"
    enable_token_persistence: bool = False
    initial_management: str = ""
    agent: str = ""
    default: str = ""
    # Consul's `tokens { agent_recovery }`: the local agent's endpoints, even without a
    # bootstrap.
    agent_recovery: str = ""


@dataclass
class CatalogConfig:
    """What `yurt catalog` and `yurt up` set; `http_port=0` binds a free port, which
    `CatalogServer.start()` writes back here."""

    http_host: str = "127.0.0.1"
    http_port: int = 8500
    data_dir: Path = field(default_factory=lambda: Path(".yurt/catalog"))
    node_name: str = field(default_factory=_hostname)
    datacenter: str = "dc1"
    config_dirs: list[Path] = field(default_factory=list)
    advertise_addr: str = "127.0.0.1"
    # Consul's server RPC port, advertised in the `consul` service and /v1/status/leader.
    server_port: int = 8300
    # `-dev`: keep state in memory, as `consul agent -dev` does.
    dev: bool = False
    # the shortest session TTL accepted (Consul's session_ttl_min)
    session_ttl_min_s: float = 10.0
    # Consul's enable_script_checks (script checks from the API and files) and
    # enable_local_script_checks (from config files only); both off, as in Consul
    enable_script_checks: bool = False
    enable_local_script_checks: bool = False
    acl: ConsulACLConfig = field(default_factory=ConsulACLConfig)
    # Origins besides the listener's own whose browser requests are let through.
    allowed_origins: list[str] = field(default_factory=list)
    # Consul's `tls { defaults / https }` and `ports { https }`: the HTTPS listener, off at
    # -1 as in Consul; `http_port = -1` turns plain HTTP off.
    tls: TLSConfig = field(default_factory=TLSConfig)
    https_port: int = -1
    # Consul's `limits { http_max_conns_per_client, https_handshake_timeout }` (config files).
    http_limits: HTTPLimits = field(default_factory=consul_limits)
    # yurt's `store { }`: SQLite in data_dir (default), or etcd under `<prefix>/catalog`.
    store: StoreConfig = field(default_factory=StoreConfig)
    # Client mode (`-client -servers a,b`, Consul's client agents): the catalog servers'
    # HTTP addresses; this agent keeps only its own node and forwards the rest
    # (cluster/client_agent.py). Empty: a server.
    servers: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.http_host}:{self.http_port}"
