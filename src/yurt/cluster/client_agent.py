"""A catalog agent in client mode (Consul's client agents; `yurt catalog -client -servers
a,b,c`): it keeps its own node's services and checks in its local store and runs their
checks itself; everything else it is asked is answered by a server; and anti-entropy keeps
the servers' copy of its node equal to its own.

- `/v1/agent/*` is answered here, as any agent answers it for its own node.
- Every other request is sent to the first server of the list that accepts a connection,
  the answer returned as it is (Consul's client agents forward their RPCs to a server).
  A server that refuses the connection is skipped (the request never reached it); one that
  breaks later answers 500 with the reason, since a write may have been applied.
- Anti-entropy (`anti_entropy.plan`, pure): every `interval` the agent reads its own
  services and checks and the servers' view of its node and sends the difference; check
  status changes so reach the servers within an interval. On a clean stop the node leaves
  (deregistered from the servers), as a Consul client agent's `leave_on_terminate`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Middleware

from yurt.api.http import Handler
from yurt.cluster.anti_entropy import Node, Plan, plan
from yurt.cluster.forward import send
from yurt.cluster.leader import Member
from yurt.consul_api.client import ConsulClient
from yurt.consul_api.errors import ConsulError

log = logging.getLogger(__name__)

LOCAL_PREFIX = "/v1/agent/"
INTERVAL = 1.0


class ClientAgent:
    """`servers` are the catalog servers' HTTP addresses (`host:port` or URLs);
    `local_url` this agent's own HTTP API, known once it is bound."""

    def __init__(
        self,
        node: Node,
        servers: list[str],
        local_url: Callable[[], str],
        session: Callable[[], aiohttp.ClientSession],
        *,
        token: str = "",
        interval: float = INTERVAL,
    ) -> None:
        if not servers:
            raise ValueError("client mode needs at least one server address")
        self.node = node
        self.servers = [s if "://" in s else f"http://{s}" for s in servers]
        self._current = 0
        self._local_url = local_url
        self._session = session
        self._token = token
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._servers_client = ConsulClient(",".join(self.servers), token=token)
        self.last_error = ""

    # -- forwarding ----------------------------------------------------------------------

    def middleware(self) -> Middleware:
        @web.middleware
        async def to_a_server(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.startswith(LOCAL_PREFIX):
                return await handler(request)
            body = await request.read()
            refused: list[str] = []
            for _ in range(len(self.servers)):
                server = self.servers[self._current]
                try:
                    # no total timeout: a blocking query is held by the server
                    return await send(
                        request, body, Member(server, server), self._session(), "", timeout=None
                    )
                except aiohttp.ClientConnectorError as exc:
                    refused.append(f"{server}: {exc}")
                    self._current = (self._current + 1) % len(self.servers)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    return web.Response(status=500, text=f"server {server} failed: {exc}")
            return web.Response(status=500, text="No known Consul servers: " + "; ".join(refused))

        return to_a_server

    # -- anti-entropy --------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self, *, leave: bool = True) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if leave:
            try:
                await self._servers_client.put("/v1/catalog/deregister", {"Node": self.node.name})
            except ConsulError as exc:
                log.warning("client agent %s: leaving failed: %s", self.node.name, exc)
        await self._servers_client.close()

    async def _loop(self) -> None:
        while True:
            try:
                done = await self.sync()
                if self.last_error:
                    log.info("client agent %s: in sync again", self.node.name)
                self.last_error = ""
                if not done.empty:
                    log.debug("client agent %s: synced %s", self.node.name, done)
            except ConsulError as exc:
                if str(exc) != self.last_error:
                    log.warning("client agent %s: anti-entropy: %s", self.node.name, exc)
                self.last_error = str(exc)
            await asyncio.sleep(self.interval)

    async def sync(self) -> Plan:
        """One round: read both sides, send the difference; what was sent."""
        async with ConsulClient(self._local_url(), token=self._token) as local:
            services, _ = await local.get("/v1/agent/services")
            checks, _ = await local.get("/v1/agent/checks")
        name = quote(self.node.name)
        servers = self._servers_client
        remote, _ = await servers.get(f"/v1/catalog/node-services/{name}")
        remote_checks, _ = await servers.get(f"/v1/health/node/{name}")
        remote_obj: dict[str, Any] = remote or {}
        todo = plan(
            self.node,
            services or {},
            checks or {},
            remote_obj.get("Node"),
            remote_obj.get("Services") or [],
            remote_checks or [],
        )
        for body in todo.register:
            await servers.put("/v1/catalog/register", body)
        for body in todo.deregister:
            await servers.put("/v1/catalog/deregister", body)
        return todo
