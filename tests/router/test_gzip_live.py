"""`proxy.gzip.contenttype`: responses of the matching types compressed for clients that
accept gzip, as Fabio's gzip handler does; everything else relayed as it came."""

from __future__ import annotations

import asyncio
import gzip
import socket

import aiohttp
import pytest
from aiohttp import web

from tests.router.conftest import Catalog
from tests.router.test_router_live import second_router, serve_app, until_answers

pytestmark = pytest.mark.asyncio(loop_scope="module")

PAGE = b"<html>" + b"hello yurt " * 2000 + b"</html>"


async def start_origin() -> tuple[web.AppRunner, int]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html")

    async def streamed(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)  # chunked: no length
        for _ in range(3):
            await resp.write(b'{"part": "' + b"x" * 3000 + b'"}\n')
        await resp.write_eof()
        return resp

    async def binary(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="application/octet-stream")

    async def encoded(request: web.Request) -> web.Response:
        return web.Response(
            body=gzip.compress(PAGE),
            headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
        )

    app = web.Application()
    app.router.add_get("/gz/page", page)
    app.router.add_get("/gz/stream", streamed)
    app.router.add_get("/gz/binary", binary)
    app.router.add_get("/gz/encoded", encoded)
    return await serve_app(app)


def http10(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /gz/page HTTP/1.0\r\nHost: gz.test\r\nAccept-Encoding: gzip\r\n\r\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


async def test_gzip_by_content_type(consul: Catalog) -> None:
    runner, port = await start_origin()
    consul.register("gz", "gz", port, ["urlprefix-/gz"])
    router = second_router(
        consul.addr,
        gzip_content_type=r"^(text/.*|application/(javascript|json|xml))(;.*)?$",
        register=False,
    )
    await router.start()
    try:
        proxy = f"http://127.0.0.1:{router.config.listeners[0].port}"
        gz = {"Accept-Encoding": "gzip, deflate"}
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            await until_answers(session, proxy + "/gz/page")

            async with session.get(proxy + "/gz/page", headers=gz) as r:
                assert r.headers["Content-Encoding"] == "gzip"
                assert "Content-Length" not in r.headers
                assert r.headers["Transfer-Encoding"] == "chunked"
                assert r.headers["Vary"] == "Accept-Encoding"
                body = await r.read()
            assert len(body) < len(PAGE) // 10 and gzip.decompress(body) == PAGE

            async with session.get(proxy + "/gz/stream", headers=gz) as r:
                assert r.headers["Content-Encoding"] == "gzip"
                lines = gzip.decompress(await r.read()).splitlines()
            assert len(lines) == 3 and lines[0].startswith(b'{"part": "xxx')

            # A client that does not take gzip, a type that does not match, a body that is
            # already encoded: as they came (with Vary, as Fabio adds it).
            plain = {"Accept-Encoding": "identity"}  # aiohttp asks for gzip by default
            async with session.get(proxy + "/gz/page", headers=plain) as r:
                assert "Content-Encoding" not in r.headers
                assert r.headers["Content-Length"] == str(len(PAGE))
                assert r.headers["Vary"] == "Accept-Encoding"
                assert await r.read() == PAGE
            async with session.get(proxy + "/gz/binary", headers=gz) as r:
                assert "Content-Encoding" not in r.headers
                assert await r.read() == PAGE
            async with session.get(proxy + "/gz/encoded", headers=gz) as r:
                assert r.headers["Content-Encoding"] == "gzip"
                assert gzip.decompress(await r.read()) == PAGE  # compressed once, not twice
            async with session.head(proxy + "/gz/page", headers=gz) as r:
                assert r.status == 200 and "Content-Encoding" not in r.headers

        # HTTP/1.0: no chunking; the body ends with the connection.
        raw = await asyncio.to_thread(http10, router.config.listeners[0].port)
        head, _, body = raw.partition(b"\r\n\r\n")
        assert b"Content-Encoding: gzip" in head and b"Connection: close" in head
        assert gzip.decompress(body) == PAGE
    finally:
        await router.stop()
        consul.deregister("gz")
        await runner.cleanup()
