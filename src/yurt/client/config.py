"""The client's configuration: what `yurt client` flags and the agent HCL set."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from yurt.api.limits import HTTPLimits, nomad_limits
from yurt.api.tls import TLSConfig


@dataclass
class TemplateConfig:
    """The client's `template` block: how every task's templates watch the catalog.

    Times in seconds. `block_query_wait` is how long one blocking read may be held (Nomad's
    default 5m). `wait_min`/`wait_max` are the `wait` of templates that set none (yurt's
    default: none, so a change is rendered at once; Nomad's is 5s/4m). `wait_bounds` clamps
    every template's own `wait`.
    """

    block_query_wait: float = 300.0
    wait_min: float = 0.0
    wait_max: float = 0.0
    bounds_min: float | None = None
    bounds_max: float | None = None


@dataclass
class ClientConfig:
    """One Nomad-style client node.

    `servers` are the schedulers' HTTP addresses (tried in order); `http_port` 0 binds a free
    port and `start()` records the one it got. `consul_addr` None runs without a catalog: no
    service registration, and checks count as passing for deployment health.
    """

    servers: list[str] = field(default_factory=lambda: ["127.0.0.1:4646"])
    data_dir: Path = Path(".yurt/client")
    node_name: str = field(default_factory=socket.gethostname)
    datacenter: str = "dc1"
    region: str = "global"
    node_class: str = ""
    node_pool: str = "default"
    meta: dict[str, str] = field(default_factory=dict)
    raw_exec_enabled: bool = False
    docker_endpoint: str | None = None
    docker_allow_privileged: bool = False
    docker_volumes_enabled: bool = True
    consul_addr: str | None = "127.0.0.1:8500"
    client_service_name: str = "nomad-client"
    auto_advertise: bool = True
    http_host: str = "127.0.0.1"
    http_port: int = 0
    # The address the node's ports are allocated on and its services advertise, and the
    # interface holding it: what `fingerprint.node_network` chose (loopback by default).
    network_ip: str = "127.0.0.1"
    network_device: str = ""
    # Nomad's `client { network_interface }`: when set, `start()` takes that interface's
    # address instead (and fails if the host has no such interface).
    network_interface: str = ""
    min_dynamic_port: int = 20000
    max_dynamic_port: int = 32000
    # Seconds between allocation-update batches sent to the scheduler.
    update_interval: float = 0.1
    templates: TemplateConfig = field(default_factory=TemplateConfig)
    # The token this client presents to the catalog (Nomad's `consul { token }`).
    consul_token: str = ""
    # Origins besides the listener's own whose browser requests are let through.
    allowed_origins: list[str] = field(default_factory=list)
    # Seconds a token resolved through the server is trusted (Nomad's `acl { token_ttl }`).
    acl_token_ttl: float = 30.0
    # Nomad's `tls { }`: HTTPS on the client's API and to its servers.
    tls: TLSConfig = field(default_factory=lambda: TLSConfig(verify_server_hostname=False))
    # Nomad's `consul { ssl, ... }`: how this client calls the catalog.
    consul_tls: TLSConfig = field(default_factory=TLSConfig)
    # Nomad's `limits { }` on the client's API listener (docs/security.md, Limits).
    http_limits: HTTPLimits = field(default_factory=nomad_limits)
    # Nomad's `consul { tags }` on the client's own service.
    consul_tags: list[str] = field(default_factory=list)
    # Nomad's `client { cpu_total_compute, memory_total_mb }` (0: as fingerprinted).
    cpu_total_compute: int = 0
    memory_total_mb: int = 0

    @property
    def address(self) -> str:
        host = "127.0.0.1" if self.http_host in ("0.0.0.0", "", "::") else self.http_host
        return f"{host}:{self.http_port}"
