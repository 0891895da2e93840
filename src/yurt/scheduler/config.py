"""The scheduler server's configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from yurt.api.durations import SECOND
from yurt.api.limits import HTTPLimits, nomad_limits
from yurt.api.tls import TLSConfig
from yurt.scheduler.gc import GCThresholds
from yurt.storage.config import StoreConfig


@dataclass
class SchedulerConfig:
    """How a `SchedulerServer` listens, where it keeps state, and how it advertises itself.

    `http_port=0` binds a free port; `start()` records the bound port back here.
    """

    http_host: str = "127.0.0.1"
    http_port: int = 4646
    data_dir: Path | str = field(default_factory=lambda: Path(".yurt/scheduler"))
    region: str = "global"
    datacenter: str = "dc1"
    consul_addr: str | None = None
    server_service_name: str = "nomad"
    # How long a node may go without a heartbeat before it is marked down (Nomad's
    # min_heartbeat_ttl is 10s; a grace period is added on top).
    heartbeat_ttl: int = 10 * SECOND
    heartbeat_grace: int = 10 * SECOND
    # "binpack" (Nomad's default) or "spread", as `nomad operator scheduler set-config`.
    scheduler_algorithm: str = "binpack"
    node_name: str = "yurt-scheduler"
    # Seconds between garbage collections (Nomad's job_gc_interval is 5 minutes), and the
    # ages past which finished state is collected (Nomad's *_gc_threshold settings).
    gc_interval: float = 300.0
    gc_thresholds: GCThresholds = field(default_factory=GCThresholds)
    # Nomad's `acl { enabled }`.
    acl_enabled: bool = False
    # The token this server presents to the catalog (Nomad's `consul { token }`).
    consul_token: str = ""
    # Origins besides the listener's own whose browser requests are let through.
    allowed_origins: list[str] = field(default_factory=list)
    # Nomad's `tls { }`: HTTPS on the API, and how this server calls clients (forwarding).
    tls: TLSConfig = field(default_factory=lambda: TLSConfig(verify_server_hostname=False))
    # Nomad's `consul { ssl, ... }`: how this server calls the catalog.
    consul_tls: TLSConfig = field(default_factory=TLSConfig)
    # Nomad's `limits { }` on the API listener (docs/security.md, Limits).
    http_limits: HTTPLimits = field(default_factory=nomad_limits)
    # Nomad's `consul { tags }` on this server's service; `advertise { http }` as its address.
    consul_tags: list[str] = field(default_factory=list)
    advertise_http: str = ""
    # yurt's `store { }`: SQLite in data_dir (default), or etcd under `<prefix>/scheduler`.
    store: StoreConfig = field(default_factory=StoreConfig)

    @property
    def address(self) -> str:
        return f"{self.http_host}:{self.http_port}"
