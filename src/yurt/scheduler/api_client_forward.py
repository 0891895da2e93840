"""`/v1/client/*` through the server, as Nomad forwards it: to the node that runs the named
allocation (or `?node_id=`, or else the client this agent runs, as a Nomad agent with both
roles answers `/v1/client/stats` itself), streamed both ways; `alloc exec` as a WebSocket
relay."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from yurt.api import routes
from yurt.api.errors import APIError
from yurt.api.routes import Route
from yurt.scheduler import model as m
from yurt.scheduler.api_common import lookup, server_of

# Headers of the node's answer passed back to the caller.
_PASSED_BACK = ("Content-Type", "X-Nomad-Index")
# Headers of the caller's request not forwarded (the hop's own).
_HOP_HEADERS = ("host", "content-length", "transfer-encoding")


def alloc_of_tail(tail: str) -> str:
    """The allocation ID a `/v1/client/<tail>` path names ("" none): `fs/<op>/<alloc>` or
    `allocation/<alloc>/...`."""
    parts = tail.split("/")
    if len(parts) >= 3 and parts[0] == "fs":
        return parts[2]
    if len(parts) >= 2 and parts[0] == "allocation":
        return parts[1]
    return ""


def _node_address(request: web.Request) -> tuple[str, str, str]:
    """(node ID, address, scheme) of the node the request goes to."""
    store = server_of(request).store
    node_id = request.query.get("node_id", "")
    alloc_id = alloc_of_tail(request.match_info["tail"])
    if alloc_id:
        node_id = lookup(server_of(request).store.allocs, alloc_id, "Unknown allocation")["NodeID"]
    local = server_of(request).local_client
    if not node_id and local is not None:
        node_id = local().get("node_id", "")
    if not node_id:
        raise APIError.bad_request("missing node_id or allocation ID to route the request")
    node = store.nodes.get(node_id)
    if node is None:
        raise APIError.not_found(f"Unknown node {node_id}")
    if node.get("Status") == m.NODE_DOWN:
        raise APIError(500, f"node {node_id} is down")
    addr = node.get("HTTPAddr") or ""
    if not addr:
        raise APIError(500, f"node {node_id} has no HTTP address")
    # A node that serves HTTPS says so in its registration (Nomad's Node.TLSEnabled).
    return node_id, addr, "https" if node.get("TLSEnabled") else "http"


async def forward_client(request: web.Request) -> web.StreamResponse:
    node_id, addr, scheme = _node_address(request)
    url = f"{scheme}://{addr}{request.rel_url}"
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await _forward_websocket(request, url, node_id, addr)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
    session = server_of(request).http_session()
    try:
        async with session.request(
            request.method,
            url,
            headers=headers,
            data=await request.read(),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
        ) as upstream:
            resp = web.StreamResponse(status=upstream.status)
            for key in _PASSED_BACK:
                if key in upstream.headers:
                    resp.headers[key] = upstream.headers[key]
            await resp.prepare(request)
            async for chunk in upstream.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp
    except (aiohttp.ClientError, OSError) as exc:
        raise APIError(500, f"node {node_id} at {addr} is unreachable: {exc}") from None


async def _forward_websocket(
    request: web.Request, url: str, node_id: str, addr: str
) -> web.StreamResponse:
    """`alloc exec` through the server: one WebSocket each way, frames relayed as they come."""
    session = server_of(request).http_session()
    try:
        upstream = await session.ws_connect(
            url,
            timeout=aiohttp.ClientWSTimeout(ws_close=5),
            headers=forwarded_auth(request),
        )
    except aiohttp.WSServerHandshakeError as exc:
        raise APIError(exc.status, exc.message) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise APIError(500, f"node {node_id} at {addr} is unreachable: {exc}") from None
    downstream = web.WebSocketResponse()
    await downstream.prepare(request)
    async with upstream:
        tasks = [
            asyncio.create_task(_relay(downstream, upstream)),
            asyncio.create_task(_relay(upstream, downstream)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await downstream.close()
    return downstream


async def _relay(
    src: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    dst: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
) -> None:
    async for msg in src:
        if msg.type == aiohttp.WSMsgType.TEXT:
            await dst.send_str(msg.data)
        elif msg.type == aiohttp.WSMsgType.BINARY:
            await dst.send_bytes(msg.data)
        else:
            break
    await dst.close()


def forwarded_auth(request: web.Request) -> dict[str, str]:
    """The caller's token, for the client to check as Nomad's client does."""
    return {
        k: v for k, v in request.headers.items() if k.lower() in ("x-nomad-token", "authorization")
    }


ROUTES: list[Route] = [routes.any_method("/v1/client/{tail:.*}", forward_client)]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)
