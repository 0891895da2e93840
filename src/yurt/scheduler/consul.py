"""Registering the scheduler in Consul's catalog, as a Nomad server does with
`consul { auto_advertise = true }`: service `server_service_name`, tag "http", an HTTP
check on `/v1/agent/health?type=server`. The one self-registration loop
(`yurt.consul_api.registration`) keeps it there and removes it on stop."""

from __future__ import annotations

import asyncio
import hashlib

from yurt.api.tls import TLSConfig, agent_http_check
from yurt.consul_api.client import ConsulClient
from yurt.consul_api.registration import ServiceRegistration


class ConsulRegistration:
    def __init__(
        self,
        consul_addr: str,
        service_name: str,
        host: str,
        port: int,
        *,
        consul_tls: TLSConfig | None = None,
        http_tls: TLSConfig | None = None,
        tags: list[str] | None = None,
        token: str = "",
    ) -> None:
        # `consul_tls`: how to reach the catalog (Nomad's consul { ssl ... }); `http_tls`:
        # this server's own API, which decides the scheme of its health check; `token`:
        # Nomad's consul { token }, the catalog's ACL token, on every call.
        self.client = ConsulClient.from_tls(consul_addr, consul_tls, token)
        self.http_tls = http_tls or TLSConfig()
        self.service_name = service_name
        self.host = host
        self.port = port
        self.tags = list(tags or [])
        digest = hashlib.sha1(f"{host}:{port}".encode()).hexdigest()[:32]
        self.service_id = f"_nomad-server-{digest}"
        self._kept = ServiceRegistration(self.client, self.payload())

    @property
    def registered(self) -> asyncio.Event:
        return self._kept.registered

    def payload(self) -> dict[str, object]:
        check_host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        payload: dict[str, object] = {
            "ID": self.service_id,
            "Name": self.service_name,
            "Tags": ["http", *self.tags],
            "Address": check_host,
            "Port": self.port,
        }
        check = agent_http_check(
            "Nomad Server HTTP Check", check_host, self.port, "server", self.http_tls
        )
        if check is not None:
            payload["Check"] = check
        return payload

    def start(self) -> None:
        self._kept.start()

    async def stop(self) -> None:
        try:
            await self._kept.stop()
        finally:
            await self.client.close()
