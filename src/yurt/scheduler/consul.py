"""Registering the scheduler in Consul's catalog, as a Nomad server does with
`consul { auto_advertise = true }`: service `server_service_name`, tag "http", an HTTP
check on `/v1/agent/health?type=server`."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging

import aiohttp

from yurt.api.tls import TLSConfig, agent_http_check

log = logging.getLogger(__name__)


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
        # this server's own API, which decides the scheme of its health check.
        self.consul_tls = consul_tls or TLSConfig()
        self.http_tls = http_tls or TLSConfig()
        self.base = self.consul_tls.url(consul_addr)
        self.ssl = self.consul_tls.client_context() if self.base.startswith("https") else None
        self.service_name = service_name
        self.host = host
        self.port = port
        self.tags = list(tags or [])
        # Nomad's consul { token }: the catalog's ACL token, on every call
        self.headers = {"X-Consul-Token": token} if token else None
        digest = hashlib.sha1(f"{host}:{port}".encode()).hexdigest()[:32]
        self.service_id = f"_nomad-server-{digest}"
        self._task: asyncio.Task[None] | None = None
        self.registered = asyncio.Event()

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
        self._task = asyncio.create_task(self._register_loop(), name="consul-register")

    async def _register_loop(self) -> None:
        delay = 0.25
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=10),
            headers=self.headers,
            connector=aiohttp.TCPConnector(ssl=self.ssl if self.ssl is not None else True),
        ) as session:
            while True:
                try:
                    async with session.put(
                        f"{self.base}/v1/agent/service/register", json=self.payload()
                    ) as resp:
                        if resp.status == 200:
                            log.info("registered %s in Consul at %s", self.service_name, self.base)
                            self.registered.set()
                            return
                        text = await resp.text()
                        log.warning(
                            "Consul refused the registration (%s): %s", resp.status, text.strip()
                        )
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    log.info("Consul at %s not reachable yet (%s); retrying", self.base, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if not self.registered.is_set():
            return
        try:
            async with (
                aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=5),
                    headers=self.headers,
                    connector=aiohttp.TCPConnector(ssl=self.ssl if self.ssl is not None else True),
                ) as session,
                session.put(f"{self.base}/v1/agent/service/deregister/{self.service_id}"),
            ):
                pass
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("could not deregister from Consul: %s", exc)
