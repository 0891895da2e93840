"""The client's side of yurt's internal protocol (docs/internal-protocol.md): register,
heartbeat, watch allocations, report allocation updates, keep the native service
registrations; across the configured servers."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from yurt.api.tls import TLSConfig

log = logging.getLogger(__name__)
Obj = dict[str, Any]
PROTOCOL_VERSION = 1


class ServerError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


class Unreachable(Exception):
    pass


class ServerConnection:
    def __init__(
        self,
        servers: list[str],
        node_id: str,
        secret: str,
        *,
        tls: TLSConfig | None = None,
        region: str = "global",
    ) -> None:
        if not servers:
            raise ValueError("the client needs at least one server address")
        self.tls = tls or TLSConfig()
        self.servers = [self.tls.url(s) for s in servers]
        self.node_id = node_id
        self.secret = secret
        # Nomad's verify_server_hostname: a server's certificate must name
        # server.<region>.nomad, whatever address it was dialled at.
        self._ssl = self.tls.client_context() if self.tls.http else None
        self._server_name = (
            f"server.{region}.nomad" if self.tls.http and self.tls.verify_server_hostname else None
        )
        self._current = 0
        self._session: aiohttp.ClientSession | None = None

    @property
    def server(self) -> str:
        return self.servers[self._current].rstrip("/")

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"X-Yurt-Node-Secret": self.secret},
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
                connector=aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else True),
            )
        return self._session

    async def _call(
        self, method: str, path: str, body: Any = None, *, timeout: float = 15.0, **params: str
    ) -> tuple[Any, int]:
        try:
            async with self._http().request(
                method,
                f"{self.server}{path}",
                json=body,
                params=params or None,
                timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=5),
                server_hostname=self._server_name,
            ) as resp:
                text = await resp.text()
                if resp.status >= 300:
                    raise ServerError(resp.status, text.strip())
                index = int(resp.headers.get("X-Nomad-Index") or 0)
                return (await resp.json(content_type=None) if text else None), index
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            failed = self.server
            self._current = (self._current + 1) % len(self.servers)
            raise Unreachable(f"server {failed} unreachable: {exc or type(exc).__name__}") from None

    async def register(self, node: Obj) -> float:
        """Register (or re-register) the node; returns the heartbeat TTL in seconds."""
        body, _ = await self._call(
            "PUT", "/v1/internal/node/register", {"ProtocolVersion": PROTOCOL_VERSION, "Node": node}
        )
        return int(body["HeartbeatTTL"]) / 1e9

    async def heartbeat(self) -> float:
        body, _ = await self._call("PUT", f"/v1/internal/node/{self.node_id}/heartbeat", {})
        return int(body["HeartbeatTTL"]) / 1e9

    async def allocations(self, index: int, wait: float) -> tuple[list[Obj], int]:
        body, _ = await self._call(
            "GET",
            f"/v1/internal/node/{self.node_id}/allocations",
            timeout=wait + 15,
            index=str(index),
            wait=f"{int(wait * 1000)}ms",
        )
        return list(body.get("Allocs") or []), int(body.get("Index") or 0)

    async def update_allocs(self, updates: list[Obj]) -> None:
        await self._call(
            "PUT", f"/v1/internal/node/{self.node_id}/allocations", {"Allocs": updates}
        )

    async def sync_services(self, upserts: list[Obj], removals: list[str]) -> None:
        """Upsert and remove this node's native service registrations."""
        await self._call(
            "PUT",
            f"/v1/internal/node/{self.node_id}/services",
            {"Upsert": upserts, "Remove": removals},
        )

    async def identity(self, alloc_id: str, task: str) -> str:
        """The workload identity token of one task of an allocation on this node."""
        body, _ = await self._call(
            "GET", f"/v1/internal/node/{self.node_id}/identity", alloc=alloc_id, task=task
        )
        return str(body["Token"])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
