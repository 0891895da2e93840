"""TCP listeners and TLS: `proto=tcp+sni` passes a TLS session through to the upstream the
server name picks, `proto=tcp;cs=NAME` terminates TLS in the router; real sockets, real
certificates (openssl), a real catalog."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from pathlib import Path

import pytest

from tests.router.conftest import Catalog
from tests.router.test_router_live import second_router, start_upstream, until
from tests.router.test_tls_listener import make_cert
from tests.support.process import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def start_server(
    greeting: bytes, tls: ssl.SSLContext | None = None
) -> tuple[asyncio.Server, int]:
    """Says `greeting`, then echoes one line."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting + b"\n")
        await writer.drain()
        line = await reader.readline()
        writer.write(b"echo " + line)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    return server, server.sockets[0].getsockname()[1]


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def talk(port: int, server_name: str | None, cafile: Path) -> tuple[bytes, bytes]:
    """A TLS client that checks the certificate against `cafile` and the name."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.check_hostname = server_name is not None
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        f = tls.makefile("rwb")
        greeting = f.readline()
        f.write(b"ping\n")
        f.flush()
        return greeting, f.readline()


async def test_tcp_sni_routes_tls_by_server_name(consul: Catalog, tmp_path: Path) -> None:
    cert_a, key_a = make_cert(tmp_path, "a", "a.sni.test")
    cert_b, key_b = make_cert(tmp_path, "b", "b.sni.test")
    server_a, port_a = await start_server(b"I am A", server_tls(cert_a, key_a))
    server_b, port_b = await start_server(b"I am B", server_tls(cert_b, key_b))
    consul.register("sni-a", "sni-a", port_a, ["urlprefix-a.sni.test/"])
    consul.register("sni-b", "sni-b", port_b, ["urlprefix-b.sni.test/"])
    router = second_router(consul.addr, proxy_addr="127.0.0.1:0;proto=tcp+sni", register=False)
    await router.start()
    try:
        await router.wait_ready()
        port = router.config.listeners[0].port
        assert router.config.proxy_addr.endswith(";proto=tcp+sni")

        await until(lambda: bool(router.settings.table.hosts.get("b.sni.test")))
        # The upstreams' own certificates reach the client: TLS is not terminated here.
        got_a = await asyncio.to_thread(talk, port, "a.sni.test", cert_a)
        got_b = await asyncio.to_thread(talk, port, "b.sni.test", cert_b)
        assert got_a == (b"I am A\n", b"echo ping\n")
        assert got_b == (b"I am B\n", b"echo ping\n")

        # A name without a route, or no name at all: the connection is closed.
        for name in ("c.sni.test", None):
            with pytest.raises((ssl.SSLError, OSError)):
                await asyncio.to_thread(talk, port, name, cert_a)
        # Not TLS at all: closed as well, without an answer.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: a.sni.test\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    finally:
        await router.stop()
        consul.deregister("sni-a")
        consul.deregister("sni-b")
        for server in (server_a, server_b):
            server.close()


async def test_tcp_listener_terminates_tls(consul: Catalog, tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "db", "db.test")
    plain, plain_port = await start_server(b"plain upstream")
    router = second_router(
        consul.addr,
        proxy_addr="127.0.0.1:0;proto=tcp;cs=db",
        cert_sources=f"cs=db;type=file;cert={cert};key={key}",
        register=False,
    )
    await router.start()
    try:
        port = router.config.listeners[0].port
        assert router.config.proxy_addr.endswith(";proto=tcp;cs=db")
        consul.register("tcp-tls", "tcp-tls", plain_port, [f"urlprefix-:{port} proto=tcp"])
        await until(lambda: bool(router.settings.table.hosts.get(f":{port}")))
        got = await asyncio.to_thread(talk, port, "db.test", cert)
        assert got == (b"plain upstream\n", b"echo ping\n")
    finally:
        await router.stop()
        consul.deregister("tcp-tls")
        plain.close()


async def test_pxyproto_tells_the_upstream_who_the_client_is(consul: Catalog) -> None:
    upstream, upstream_port = await start_server(b"hello")
    router = second_router(consul.addr, proxy_addr="127.0.0.1:0;proto=tcp", register=False)
    await router.start()
    try:
        port = router.config.listeners[0].port
        consul.register(
            "tcp-pxy", "tcp-pxy", upstream_port, [f"urlprefix-:{port} proto=tcp pxyproto=true"]
        )
        await until(lambda: bool(router.settings.table.hosts.get(f":{port}")))

        def exchange() -> tuple[bytes, int]:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                f = s.makefile("rwb")
                f.write(b"ping\n")
                f.flush()
                return f.readline() + f.readline(), s.getsockname()[1]

        # The upstream's first line is the PROXY header; it echoes that line back.
        got, client_port = await asyncio.to_thread(exchange)
        assert (
            got == f"hello\necho PROXY TCP4 127.0.0.1 127.0.0.1 {client_port} {port}\r\n".encode()
        )
    finally:
        await router.stop()
        consul.deregister("tcp-pxy")
        upstream.close()


async def test_https_tcp_sni_passes_tcp_routes_and_terminates_the_rest(
    consul: Catalog, tmp_path: Path
) -> None:
    pass_cert, pass_key = make_cert(tmp_path, "pass", "pass.sni.test")
    web_cert, web_key = make_cert(tmp_path, "web", "web.sni.test")
    tls_up, tls_up_port = await start_server(b"passed through", server_tls(pass_cert, pass_key))
    web = await start_upstream("web")
    consul.register("mix-pass", "mix-pass", tls_up_port, ["urlprefix-pass.sni.test/ proto=tcp"])
    consul.register("mix-web", "mix-web", web.port, ["urlprefix-web.sni.test/"])
    router = second_router(
        consul.addr,
        proxy_addr="127.0.0.1:0;proto=https+tcp+sni;cs=web",
        cert_sources=f"cs=web;type=file;cert={web_cert};key={web_key}",
        register=False,
    )
    await router.start()
    try:
        port = router.config.listeners[0].port
        await until(lambda: len(router.settings.table.hosts) >= 2)
        # A TCP route: the upstream's own TLS session and certificate.
        got = await asyncio.to_thread(talk, port, "pass.sni.test", pass_cert)
        assert got == (b"passed through\n", b"echo ping\n")

        # Any other name: TLS ends here, with the listener's certificate, and HTTP is routed.
        def https_get(server_name: str | None, host: str) -> bytes:
            ctx = ssl.create_default_context(cafile=str(web_cert))
            ctx.check_hostname = server_name is not None
            with (
                socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
                ctx.wrap_socket(raw, server_hostname=server_name) as conn,
            ):
                conn.sendall(
                    f"GET /x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
                )
                out = b""
                while chunk := conn.recv(65536):
                    out += chunk
            return out

        raw = await asyncio.to_thread(https_get, "web.sni.test", "web.sni.test")
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        seen = json.loads(body)
        assert seen["upstream"] == "web" and seen["headers"]["x-forwarded-proto"] == "https"
        # Without SNI: terminated too (the default certificate), routed by Host.
        raw = await asyncio.to_thread(https_get, None, "web.sni.test")
        assert raw.startswith(b"HTTP/1.1 200")
    finally:
        await router.stop()
        consul.deregister("mix-pass")
        consul.deregister("mix-web")
        tls_up.close()
        await web.runner.cleanup()


async def test_tcp_dynamic_listens_where_routes_say(consul: Catalog) -> None:
    upstream, upstream_port = await start_server(b"dynamic")
    router = second_router(
        consul.addr, proxy_addr="0.0.0.0:0;proto=tcp-dynamic;refresh=1s", register=False
    )
    await router.start()
    port = free_port()
    try:
        assert router.config.proxy_addr.endswith(";proto=tcp-dynamic;refresh=1s")

        def exchange() -> bytes:
            with socket.create_connection(("127.0.0.2", port), timeout=5) as s:
                f = s.makefile("rwb")
                f.write(b"ping\n")
                f.flush()
                return f.readline() + f.readline()

        def refused() -> bool:
            try:
                socket.create_connection(("127.0.0.2", port), timeout=1).close()
            except OSError:
                return True
            return False

        assert refused()
        # A route on 127.0.0.2:<port>: the router starts listening there.
        consul.register("dyn", "dyn", upstream_port, [f"urlprefix-127.0.0.2:{port} proto=tcp"])
        await until(lambda: not refused())
        assert await asyncio.to_thread(exchange) == b"dynamic\necho ping\n"
        # The route goes: so does the listener.
        consul.deregister("dyn")
        await until(refused)
    finally:
        await router.stop()
        upstream.close()
