"""`pxyproto=true` listeners: the client named by a PROXY header, behind a balancer, is the
client for the forwarding headers, the access rules and an outgoing PROXY line."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from tests.router.conftest import Catalog
from tests.router.test_proxy_protocol import v2_tcp4
from tests.router.test_router_live import second_router, start_upstream, until
from tests.router.test_tcp_tls_live import start_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

V1 = b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n"


def exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: pxy.test\r\nConnection: close\r\n\r\n".encode()


async def test_http_and_tcp_listeners_read_proxy_headers(consul: Catalog) -> None:
    up = await start_upstream("pxy")
    tcp_up, tcp_up_port = await start_server(b"tcp upstream")
    router = second_router(
        consul.addr,
        proxy_addr="127.0.0.1:0;pxyproto=true,127.0.0.1:0;proto=tcp;pxyproto=true",
        register=False,
    )
    await router.start()
    try:
        http_port = router.config.listeners[0].port
        tcp_port = router.config.listeners[1].port
        consul.register("pxy-open", "pxy-open", up.port, ["urlprefix-pxy.test/open"])
        consul.register(
            "pxy-ranged",
            "pxy-ranged",
            up.port,
            ["urlprefix-pxy.test/ranged allow=ip:203.0.113.0/24"],
        )
        consul.register(
            "pxy-tcp", "pxy-tcp", tcp_up_port, [f"urlprefix-:{tcp_port} proto=tcp pxyproto=true"]
        )
        await until(lambda: bool(router.settings.table.hosts.get(f":{tcp_port}")))
        await until(lambda: len(router.settings.table.hosts.get("pxy.test", [])) == 2)

        def upstream_saw(raw: bytes) -> dict[str, str]:
            head, _, body = raw.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            return dict(json.loads(body)["headers"])

        # v1, v2 and no header at all, on the same listener.
        seen = upstream_saw(await asyncio.to_thread(exchange, http_port, V1 + get("/open")))
        assert seen["x-forwarded-for"] == "203.0.113.7"
        assert seen["x-real-ip"] == "203.0.113.7"
        assert "for=203.0.113.7" in seen["forwarded"]
        raw = await asyncio.to_thread(
            exchange, http_port, v2_tcp4("198.51.100.9", 4000) + get("/open")
        )
        assert upstream_saw(raw)["x-forwarded-for"] == "198.51.100.9"
        raw = await asyncio.to_thread(exchange, http_port, get("/open"))
        assert upstream_saw(raw)["x-forwarded-for"] == "127.0.0.1"

        # allow= judges the client the header names.
        raw = await asyncio.to_thread(exchange, http_port, V1 + get("/ranged"))
        assert raw.startswith(b"HTTP/1.1 200")
        raw = await asyncio.to_thread(exchange, http_port, get("/ranged"))
        assert raw.startswith(b"HTTP/1.1 403")

        # A broken header: closed without an answer.
        assert (
            await asyncio.to_thread(exchange, http_port, b"PROXY TCP4 x\r\n" + get("/open")) == b""
        )

        # TCP: the header's client goes on in the PROXY line the route asks for.
        raw = await asyncio.to_thread(exchange, tcp_port, V1 + b"ping\n")
        assert raw == (
            b"tcp upstream\necho PROXY TCP4 203.0.113.7 127.0.0.1 5555 "
            + str(tcp_port).encode()
            + b"\r\n"
        )

        # A client that waits for the server to speak first (no header, no bytes): after
        # pxytimeout the connection is routed as it is.
        def greeting() -> bytes:
            with socket.create_connection(("127.0.0.1", tcp_port), timeout=5) as s:
                return s.makefile("rb").readline()

        assert await asyncio.to_thread(greeting) == b"tcp upstream\n"
    finally:
        await router.stop()
        for sid in ("pxy-open", "pxy-ranged", "pxy-tcp"):
            consul.deregister(sid)
        await up.runner.cleanup()
        tcp_up.close()
