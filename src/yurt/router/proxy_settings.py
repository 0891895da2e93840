"""What the data path reads on every request (`ProxySettings`), shared by a router's
listeners and swapped field by field as the configuration and the routing table change."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from yurt.router.access_log import AccessLog
from yurt.router.auth import AuthScheme
from yurt.router.metrics import ProxyMetrics
from yurt.router.table import Matcher, Picker, Table


@dataclass
class ProxySettings:
    """What the data path reads on every request; `table` is swapped whole on updates."""

    table: Table = field(default_factory=Table)
    pick: Picker | None = None
    match: Matcher | None = None
    noroute_status: int = 404
    noroute_html: bytes = b""
    dial_timeout: float = 30.0
    response_header_timeout: float = 0.0
    keepalive_timeout: float = 90.0
    max_idle_per_upstream: int = 10000
    local_ip: str = ""
    client_ip_header: str = ""
    request_id_header: str = ""
    tls_header: str = ""  # proxy.header.tls: set on requests that came over TLS
    tls_header_value: str = ""
    sts_value: str = ""  # proxy.header.sts.*: Strict-Transport-Security on TLS responses
    access_log: AccessLog | None = None
    auth: dict[str, AuthScheme] = field(default_factory=dict)  # proxy.auth, by name
    gzip_types: re.Pattern[str] | None = None  # proxy.gzip.contenttype; None: off
    metrics: ProxyMetrics | None = None  # metrics.target=prometheus; None: off
