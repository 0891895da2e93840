"""The data path's byte-level relay: response heads cut from the received bytes (the cut
itself: test_response_head.py), bodies relayed as raw slices, route lookups cached per
table; against a raw socket upstream that sends exactly the bytes a test gives it, in the
pieces it gives them."""

from __future__ import annotations

import asyncio
import io
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from yurt.router.access_log import AccessLog
from yurt.router.proxy import HTTPProxy, ProxySettings
from yurt.router.route_cache import RequestIds
from yurt.router.table import MATCHERS, PICKERS, Table

# -- a proxy in front of a scripted upstream ------------------------------------------------


@dataclass
class Upstream:
    """Answers each request head with the next scripted reply, sent in the given pieces."""

    replies: list[list[bytes]] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    port: int = 0


@dataclass
class Env:
    proxy: HTTPProxy
    settings: ProxySettings
    up: Upstream
    log: io.StringIO

    async def exchange(
        self, request: bytes, *, until: bytes = b"", count: int = 1, close: bool = False
    ) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.proxy.port)
        writer.write(request)
        await writer.drain()
        try:
            if close:
                return await asyncio.wait_for(reader.read(), 5)
            data = b""
            while not data.endswith(until) or data.count(until) < count:
                chunk = await asyncio.wait_for(reader.read(65536), 5)
                if not chunk:
                    break
                data += chunk
            return data
        finally:
            writer.close()


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    up = Upstream()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                up.requests.append(head)
                reply = up.replies.pop(0)
                for piece in reply:
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.005)
                if b"\r\nConnection: close\r\n" in reply[0]:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    up.port = server.sockets[0].getsockname()[1]
    log = io.StringIO()
    settings = ProxySettings(
        pick=PICKERS["rr"], match=MATCHERS["prefix"], access_log=AccessLog("common", log)
    )
    settings.table = Table.from_text(f"route add svc / http://127.0.0.1:{up.port}/")
    proxy = HTTPProxy(settings)
    await proxy.start("127.0.0.1", 0)
    yield Env(proxy, settings, up, log)
    await proxy.stop()
    server.close()


GET = b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"


async def test_head_and_body_in_one_byte_pieces(env: Env) -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: keep-alive\r\nX-A: b\r\n\r\n"
    env.up.replies.append([bytes([b]) for b in reply + b"0123456789"])
    data = await env.exchange(GET, until=b"0123456789")
    assert data == b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-A: b\r\n\r\n0123456789"
    assert '"GET /x HTTP/1.1" 200 10' in env.log.getvalue()


async def test_body_split_across_packets_and_connection_reused(env: Env) -> None:
    body = bytes(range(256)) * 400
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
    for _ in range(2):
        env.up.replies.append([head + body[:1000], body[1000:50000], body[50000:]])
    two = GET + GET
    data = await env.exchange(two, until=body, count=2)
    assert data == head + body + head + body
    assert env.up.connections == 1


async def test_interim_100_then_response_in_one_packet(env: Env) -> None:
    env.up.replies.append(
        [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]
    )
    data = await env.exchange(GET, until=b"ok")
    assert data == b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def test_http10_upstream_is_answered_as_http11(env: Env) -> None:
    env.up.replies.append([b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    data = await env.exchange(GET, until=b"ok")
    assert data == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def test_empty_body_and_bytes_after_the_response_are_not_relayed(env: Env) -> None:
    env.up.replies.append([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
    data = await env.exchange(GET, until=b"\r\n\r\n")
    assert data == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    env.up.replies.append([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK"])
    data = await env.exchange(GET, until=b"ok")
    await asyncio.sleep(0.05)
    assert data == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def test_close_delimited_body_is_chunked_for_the_client(env: Env) -> None:
    env.up.replies.append([b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc", b"def"])

    data = await env.exchange(GET, until=b"0\r\n\r\n")
    assert data == (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"
    )


async def test_route_cache_follows_table_swaps(env: Env) -> None:
    reply = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]
    env.up.replies.append(reply)
    assert (await env.exchange(GET, until=b"ok")).endswith(b"ok")
    env.settings.table = Table.from_text(f"route add svc /y http://127.0.0.1:{env.up.port}/")
    data = await env.exchange(GET, until=b"\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 404 ")
    env.settings.table = Table.from_text(
        f'route add svc / http://127.0.0.1:{env.up.port}/ opts "strip=/x"'
    )
    env.up.replies.append(reply)
    assert (await env.exchange(GET, until=b"ok")).endswith(b"ok")
    assert env.up.requests[-1].startswith(b"GET / HTTP/1.1\r\n")
    assert b"\r\nX-Forwarded-Prefix: /x\r\n" in env.up.requests[-1]


async def test_forwarding_headers_follow_each_request(env: Env) -> None:
    """A keep-alive connection reuses the last request's forwarding headers only while the
    client sends nothing that changes them."""
    reply = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]
    env.up.replies += [reply, reply, reply]
    env.settings.request_id_header = "X-Request-Id"
    await env.exchange(
        GET + b"GET /x HTTP/1.1\r\nHost: h2:81\r\nX-Forwarded-For: 9.9.9.9\r\n\r\n" + GET,
        until=b"ok",
        count=3,
    )
    first, second, third = env.up.requests[-3:]
    assert b"\r\nX-Forwarded-For: 127.0.0.1\r\n" in first
    assert b"\r\nX-Forwarded-Port: 80\r\nX-Forwarded-Host: h\r\n" in first
    assert b"\r\nX-Forwarded-For: 9.9.9.9, 127.0.0.1\r\n" in second
    assert b"\r\nX-Forwarded-Port: 81\r\nX-Forwarded-Host: h2:81\r\n" in second
    assert third.replace(third[third.index(b"X-Request-Id: ") :], b"") == first.replace(
        first[first.index(b"X-Request-Id: ") :], b""
    )
    ids = {r.split(b"X-Request-Id: ")[1].split(b"\r\n")[0] for r in (first, second, third)}
    assert len(ids) == 3


def test_request_ids_are_uuid_shaped_and_unique() -> None:
    ids = RequestIds()
    made = [ids.next() for _ in range(3 * RequestIds.BATCH + 7)]
    assert len(set(made)) == len(made)
    for rid in made[:3] + made[-3:]:
        u = uuid.UUID(rid.decode())
        assert (u.version, u.variant) == (4, uuid.RFC_4122)
    # another generator (another router process) starts from another random prefix
    assert RequestIds().next()[:24] != made[0][:24]


async def test_pooled_upstream_connections_have_nagle_off(env: Env) -> None:
    env.up.replies.append([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    await env.exchange(GET, until=b"ok")
    (conns,) = env.proxy.pool.idle.values()
    sock = conns[0].transport.get_extra_info("socket")  # type: ignore[union-attr]
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


async def test_a_second_response_in_the_same_packet_is_not_relayed(env: Env) -> None:
    env.up.replies.append(
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra"
        ]
    )
    data = await env.exchange(GET, until=b"ok")
    await asyncio.sleep(0.05)
    assert data == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    # the upstream connection that said too much is not reused
    env.up.replies.append([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    data = await env.exchange(GET, until=b"ok")
    assert data.endswith(b"ok")
    assert env.up.connections == 2


async def test_repeated_header_lines_are_read_again_when_settings_change(env: Env) -> None:
    reply = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]
    env.up.replies += [reply, reply, reply]
    req = b"GET /x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 9.9.9.9\r\nX-Client: spoofed\r\n\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", env.proxy.port)
    try:
        for i in range(3):
            if i == 2:
                env.settings.client_ip_header = "X-Client"
            writer.write(req)
            data = b""
            while not data.endswith(b"ok"):
                data += await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
    first, second, third = env.up.requests[-3:]
    assert first == second
    assert b"\r\nX-Forwarded-For: 9.9.9.9, 127.0.0.1\r\n" in second
    assert b"\r\nX-Client: spoofed\r\n" in second
    assert b"X-Client: spoofed" not in third
    assert b"\r\nX-Client: 127.0.0.1\r\n" in third
    assert b"\r\nX-Forwarded-For: 9.9.9.9, 127.0.0.1\r\n" in third
