"""The `http` certificate source: a list file and the certificates it names, on a real HTTP
server that wants a header, read again every `refresh`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from tests.router.conftest import Catalog
from tests.router.test_router_live import second_router, serve_app, until
from tests.router.test_tls_listener import make_cert, peer_cn
from yurt.router.certs import parse_cert_sources
from yurt.router.config import ConfigError

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def serve_dir(root: Path, token: str) -> tuple[web.AppRunner, int]:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-Token") != token:
            return web.Response(status=403)
        path = root / request.match_info["name"]
        if not path.is_file():
            return web.Response(status=404)
        return web.Response(body=path.read_bytes())

    app = web.Application()
    app.router.add_get("/certs/{name}", handle)
    return await serve_app(app)


async def test_certificates_from_an_http_server(consul: Catalog, tmp_path: Path) -> None:
    root = tmp_path / "served"
    root.mkdir()
    make_cert(root, "a.http.test", "a.http.test")
    (root / "list").write_text("a.http.test-cert.pem\na.http.test-key.pem\n")
    runner, port = await serve_dir(root, "s3cret")
    router = second_router(
        consul.addr,
        proxy_addr="127.0.0.1:0;proto=https;cs=web",
        cert_sources=(
            f"cs=web;type=http;cert=http://127.0.0.1:{port}/certs/list;refresh=1s;"
            "hdr=X-Token: s3cret"
        ),
        register=False,
    )
    await router.start()
    try:
        listen = router.config.listeners[0].port
        assert await asyncio.to_thread(peer_cn, listen, "a.http.test") == "a.http.test"
        # A new certificate on the server, named in the list: served after the next look.
        make_cert(root, "b.http.test", "b.http.test")
        (root / "list").write_text(
            "a.http.test-cert.pem\na.http.test-key.pem\nb.http.test-cert.pem\nb.http.test-key.pem\n"
        )

        async def serves_b() -> bool:
            return await asyncio.to_thread(peer_cn, listen, "b.http.test") == "b.http.test"

        await until(serves_b)
    finally:
        await router.stop()
        await runner.cleanup()


async def test_a_server_that_refuses_stops_the_start(consul: Catalog, tmp_path: Path) -> None:
    runner, port = await serve_dir(tmp_path, "s3cret")
    router = second_router(
        consul.addr,
        proxy_addr="127.0.0.1:0;proto=https;cs=web",
        cert_sources=f"cs=web;type=http;cert=http://127.0.0.1:{port}/certs/list",  # no header
        register=False,
    )
    try:
        with pytest.raises(ConfigError, match="403"):
            await router.start()
    finally:
        await runner.cleanup()


async def test_http_source_options() -> None:
    [src] = parse_cert_sources(
        "cs=h;type=http;cert=https://h/certs/list;hdr=Authorization: Bearer x y"
    ).values()
    assert (src.refresh, src.headers) == (3.0, (("Authorization", "Bearer x y"),))
    with pytest.raises(ConfigError, match="invalid header"):
        parse_cert_sources("cs=h;type=http;cert=https://h/l;hdr=nocolon")
