"""Writes on a follower go to the leader, as Nomad's and Consul's servers forward their
write RPCs: the request is sent again to the leader's HTTP address with its method, path,
query, headers (the caller's token among them) and body, and the leader's answer is the
answer. Reads and blocking queries are answered from the follower's own memory.

As Nomad's `RPCHoldTimeout`, a write that finds no leader (an election in progress) waits
up to `HOLD` seconds for one before answering 500 "No cluster leader"; a leader that
cannot be connected to is waited out the same way (the request never reached it, so
sending it to the next leader cannot apply it twice).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.typedefs import Middleware

from yurt.api.http import Handler
from yurt.cluster.leader import Member
from yurt.cluster.role import ClusterRole
from yurt.storage.etcd import NotLeader

HOLD = 5.0
NO_LEADER = "No cluster leader"
# set on a forwarded request: the server it reaches answers it itself or fails, never
# forwards it again (two servers with stale views must not bounce it between them)
FORWARDED = "X-Yurt-Forwarded-By"
READS = frozenset({"GET", "HEAD", "OPTIONS"})
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "host",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
        # the browser guard of the server that was asked checked these already; the
        # leader's would refuse an origin that names the follower (`api/guard.py`)
        "origin",
        "sec-fetch-site",
        "sec-fetch-mode",
        "sec-fetch-dest",
        "sec-fetch-user",
    }
)

Local = Callable[[web.Request], bool]


def reads_and(*prefixes: str) -> Local:
    """Requests answered where they arrive: reads, and writes under `prefixes` (what
    belongs to the agent that was asked, such as Nomad's `/v1/client/`)."""

    def local(request: web.Request) -> bool:
        return request.method in READS or request.path.startswith(prefixes)

    return local


def forward_middleware(
    role: ClusterRole, session: Callable[[], aiohttp.ClientSession], local: Local
) -> Middleware:
    @web.middleware
    async def forward(request: web.Request, handler: Handler) -> web.StreamResponse:
        if local(request) or role.leading:
            return await _own(request, handler)
        if FORWARDED in request.headers:
            return web.Response(status=500, text=NO_LEADER)
        body = await request.read()
        deadline = time.monotonic() + HOLD
        tried: Member | None = None
        while True:
            leader = await _leader(role, deadline, not_this=tried)
            if role.leading:  # became the leader while waiting: the body is read already
                return await _own(_with_body(request, body), handler)
            if leader is None:
                return web.Response(status=500, text=NO_LEADER)
            try:
                return await send(request, body, leader, session(), role.me.name)
            except aiohttp.ClientConnectorError:
                tried = leader  # not sent: wait for the next leader and send it there
            except (aiohttp.ClientError, TimeoutError) as exc:
                return web.Response(
                    status=500, text=f"forwarding to the leader {leader.name} failed: {exc}"
                )

    return forward


async def _own(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NotLeader:  # deposed while answering: nothing of the write was applied
        return web.Response(status=500, text=NO_LEADER)


def _with_body(request: web.Request, body: bytes) -> web.Request:
    """The request again with its body unread, for a handler that streams it (Consul's KV
    PUT reads `request.content` with its own size limit)."""
    reader = StreamReader(request.protocol, 2**16, loop=asyncio.get_running_loop())
    reader.feed_data(body)
    reader.feed_eof()
    # aiohttp has no public way to give a request its body again (and cannot clone one
    # whose body was read): the stream is replaced; `request.read()` keeps its cached copy
    request._payload = reader
    return request


async def _leader(role: ClusterRole, deadline: float, *, not_this: Member | None) -> Member | None:
    while True:
        leader = role.leader
        if role.leading or (leader is not None and leader != not_this and leader != role.me):
            return leader
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.05)


async def send(
    request: web.Request,
    body: bytes,
    leader: Member,
    session: aiohttp.ClientSession,
    me: str,
    *,
    timeout: float | None = 60,
) -> web.Response:
    """`request` sent again to `leader`'s address, its answer returned. `me` marks it as
    forwarded by a server (never forwarded again); empty, it is not marked (a client
    agent's request, which the server it reaches may forward to its leader)."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
    if me:
        headers[FORWARDED] = me
    url = leader.address.rstrip("/") + request.path_qs
    async with session.request(
        request.method,
        url,
        headers=headers,
        data=body,
        allow_redirects=False,
        auto_decompress=False,
        timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=10),
    ) as resp:
        data = await resp.read()
        out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
        return web.Response(status=resp.status, body=data, headers=out)
