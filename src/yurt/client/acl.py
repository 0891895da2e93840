"""Nomad's ACLs on the client's own HTTP API (`/v1/client/*` served on the client's port).

As a Nomad client does, the client resolves a request's token by asking its server (the
token with `GET /v1/acl/token/self`, then each of its policies, which a token may read) and
caches the result for `token_ttl`. Whether ACLs are on at all is the server's answer too:
"ACL support disabled" lets every request through. The capability each path needs is the
scheduler's table (`yurt.scheduler.acl_enforce.client_tail_need`), so that a request is
judged the same whether it comes through the server or straight to the client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from yurt.api.errors import APIError
from yurt.scheduler import acl_policy as p
from yurt.scheduler.acl_enforce import (
    MANAGEMENT,
    OPEN_NEED,
    Need,
    allowed,
    client_tail_need,
    request_token,
)
from yurt.scheduler.acl_state import ACL_DISABLED, TOKEN_NOT_FOUND, denied, parse_go_time

if TYPE_CHECKING:
    from yurt.client.agent import ClientAgent

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DEFAULT_TOKEN_TTL = 30.0


@dataclass
class _Cached:
    acl: p.ACL | None  # None: ACLs are off on the server
    until: float


class TokenResolver:
    """Secret -> ACL through the client's server, cached."""

    def __init__(self, agent: ClientAgent, ttl: float = DEFAULT_TOKEN_TTL) -> None:
        self.agent = agent
        self.ttl = ttl
        self._cache: dict[str, _Cached] = {}
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            conn = self.agent.conn
            ssl: Any = True
            if conn is not None and conn.tls.http:
                ssl = conn.tls.client_context()
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=10, sock_connect=5),
                connector=aiohttp.TCPConnector(ssl=ssl),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _get(self, path: str, secret: str) -> tuple[int, Any]:
        conn = self.agent.conn
        if conn is None:
            raise APIError(500, "the client has no server connection yet to resolve the token")
        headers = {"X-Nomad-Token": secret} if secret else {}
        try:
            async with self._http().get(conn.server + path, headers=headers) as resp:
                text = await resp.text()
                if resp.status == 200:
                    return 200, await resp.json(content_type=None)
                return resp.status, text.strip()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise APIError(
                500, f"cannot resolve the ACL token: server {conn.server} unreachable: {exc}"
            ) from None

    async def resolve(self, secret: str) -> p.ACL | None:
        now = time.monotonic()
        cached = self._cache.get(secret)
        if cached is not None and cached.until > now:
            return cached.acl
        async with self._lock:
            acl, until = await self._ask(secret)
        if len(self._cache) > 1024:
            self._cache.clear()  # bounded: a flood of bogus secrets cannot grow it
        self._cache[secret] = _Cached(acl, min(until, time.monotonic() + self.ttl))
        return acl

    async def _ask(self, secret: str) -> tuple[p.ACL | None, float]:
        forever = float("inf")
        if not secret:
            status, body = await self._get("/v1/acl/policy/anonymous", "")
            if status == 400 and body == ACL_DISABLED:
                return None, forever
            if status == 200:
                return p.compile_acl([self._parse(body)]), forever
            return p.ACL(), forever
        status, body = await self._get("/v1/acl/token/self", secret)
        if status == 400 and body == ACL_DISABLED:
            return None, forever
        if status in (403, 404):
            raise APIError(403, str(body) or TOKEN_NOT_FOUND)
        if status != 200:
            raise APIError(500, f"cannot resolve the ACL token: {status} {body}")
        until = forever
        if body.get("ExpirationTime"):
            left = (parse_go_time(body["ExpirationTime"]).timestamp()) - time.time()
            until = time.monotonic() + max(left, 0.0)
        if body.get("Type") == "management":
            return p.MANAGEMENT, until
        policies = []
        for name in body.get("Policies") or []:
            status, doc = await self._get(f"/v1/acl/policy/{name}", secret)
            if status == 200:
                policies.append(self._parse(doc))
        return p.compile_acl(policies), until

    @staticmethod
    def _parse(doc: Any) -> p.Policy:
        try:
            return p.parse_policy(str((doc or {}).get("Rules") or ""))
        except p.PolicyError:
            log.warning("the server sent a policy that does not parse; it grants nothing")
            return p.Policy()


def client_need(path: str) -> Need:
    """What a request to `path` on the client's API needs."""
    if path == "/v1/agent/health":
        return OPEN_NEED
    if path.startswith("/v1/client/"):
        return client_tail_need(path[len("/v1/client/") :])[0]
    return MANAGEMENT


def client_acl_middleware(agent: ClientAgent, resolver: TokenResolver) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.route.resource is None:
            return await handler(request)  # the router's own 404/405
        need = client_need(request.path)
        if need.kind == "open":
            return await handler(request)
        acl = await resolver.resolve(request_token(request))
        if acl is None:
            return await handler(request)
        namespace = "default"
        alloc: dict[str, Any] | None = None
        alloc_id = request.match_info.get("alloc", "")
        if alloc_id:
            runner = agent.find_runner(alloc_id)
            if runner is not None:
                alloc = runner.alloc
                namespace = str(alloc.get("Namespace") or "default")
        if not allowed(need, acl, namespace, alloc, request.query.get("task", "")):
            raise denied()
        return await handler(request)

    return middleware


def install(app: web.Application, agent: ClientAgent, ttl: float = DEFAULT_TOKEN_TTL) -> None:
    """Guard the client's application; the resolver's session closes with it."""
    resolver = TokenResolver(agent, ttl)
    app.middlewares.append(client_acl_middleware(agent, resolver))

    async def close(_: web.Application) -> None:
        await resolver.close()

    app.on_cleanup.append(close)
