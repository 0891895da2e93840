"""The data path against real upstream servers on real sockets."""

from __future__ import annotations

import asyncio
import io
import json
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web

from yurt.router.access_log import AccessLog
from yurt.router.proxy import HTTPProxy, ProxySettings
from yurt.router.table import MATCHERS, PICKERS, Table


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.raw_path,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body_len": len(body),
            "port": request.transport.get_extra_info("sockname")[1] if request.transport else 0,
            "peer_port": request.transport.get_extra_info("peername")[1]
            if request.transport
            else 0,
        }
    )


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(2)
    return web.Response(text="late")


async def stream(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    for i in range(int(request.query.get("n", "100"))):
        await resp.write(b"%d:" % i + b"x" * 1000 + b"\n")
    await resp.write_eof()
    return resp


async def sse(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    await resp.write(b"data: first\n\n")
    await asyncio.sleep(0.3)
    await resp.write(b"data: second\n\n")
    return resp


async def upload(request: web.Request) -> web.Response:
    total = 0
    async for chunk in request.content.iter_chunked(65536):
        total += len(chunk)
    return web.json_response({"received": total})


async def ws(request: web.Request) -> web.WebSocketResponse:
    sock = web.WebSocketResponse()
    await sock.prepare(request)
    async for msg in sock:
        if msg.type == aiohttp.WSMsgType.TEXT:
            await sock.send_str("echo:" + msg.data)
    return sock


async def nobody(request: web.Request) -> web.Response:
    return web.Response(status=204)


@dataclass
class Env:
    proxy: HTTPProxy
    settings: ProxySettings
    up_port: int
    url: str
    log: io.StringIO

    def routes(self, text: str) -> None:
        self.settings.table = Table.from_text(text.replace("UP", f"127.0.0.1:{self.up_port}"))


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    app = web.Application()
    app.router.add_route("*", "/slow", slow)
    app.router.add_get("/stream", stream)
    app.router.add_get("/sse", sse)
    app.router.add_post("/upload", upload)
    app.router.add_get("/ws", ws)
    app.router.add_get("/nobody", nobody)
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    up_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    buf = io.StringIO()
    settings = ProxySettings(
        pick=PICKERS["rr"],
        match=MATCHERS["prefix"],
        response_header_timeout=1.0,
        access_log=AccessLog("common", buf),
    )
    proxy = HTTPProxy(settings)
    port = await proxy.start("127.0.0.1", 0)
    e = Env(proxy, settings, up_port, f"http://127.0.0.1:{port}", buf)
    e.routes("route add svc / http://UP/")
    yield e
    await proxy.stop()
    await runner.cleanup()


async def get_json(url: str, **kw: object) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as s, s.get(url, **kw) as r:  # type: ignore[arg-type]
        return r.status, await r.json()


async def test_forwarding_headers(env: Env) -> None:
    status, body = await get_json(env.url + "/a/b?x=1", headers={"Host": "www.test.com"})
    assert status == 200
    h = body["headers"]
    assert isinstance(h, dict)
    assert body["path"] == "/a/b?x=1"
    assert h["host"] == "www.test.com"
    assert h["x-forwarded-for"] == "127.0.0.1"
    assert h["x-real-ip"] == "127.0.0.1"
    assert h["x-forwarded-proto"] == "http"
    assert h["x-forwarded-port"] == "80"
    assert h["x-forwarded-host"] == "www.test.com"
    assert h["forwarded"] == "for=127.0.0.1; proto=http; httpproto=http/1.1"
    assert "x-forwarded-prefix" not in h


async def test_existing_forwarding_headers_are_kept_or_appended(env: Env) -> None:
    _, body = await get_json(
        env.url + "/",
        headers={
            "Host": "a.com:8080",
            "X-Forwarded-For": "1.2.3.4",
            "X-Forwarded-Proto": "https",
            "X-Real-Ip": "1.2.3.4",
        },
    )
    h = body["headers"]
    assert isinstance(h, dict)
    assert h["x-forwarded-for"] == "1.2.3.4, 127.0.0.1"
    assert h["x-forwarded-proto"] == "https"
    assert h["x-real-ip"] == "1.2.3.4"
    assert h["x-forwarded-port"] == "8080"
    assert h["forwarded"] == "for=127.0.0.1; proto=https; httpproto=http/1.1"


async def test_strip_prepend_and_host_dst(env: Env) -> None:
    env.routes(
        'route add s /api http://UP/ opts "strip=/api"\n'
        'route add s /v1 http://UP/ opts "prepend=/inner host=dst"\n'
        'route add s /named http://UP/ opts "host=backend.local"\n'
        "route add s /dstpath http://UP/ignored\n"
    )
    _, body = await get_json(env.url + "/api/users?id=3")
    h = body["headers"]
    assert isinstance(h, dict)
    assert body["path"] == "/users?id=3"
    assert h["x-forwarded-prefix"] == "/api"
    _, body = await get_json(env.url + "/api")
    assert body["path"] == "/"
    _, body = await get_json(env.url + "/v1/x")
    h = body["headers"]
    assert isinstance(h, dict)
    assert body["path"] == "/inner/v1/x"
    assert h["host"] == f"127.0.0.1:{env.up_port}"
    _, body = await get_json(env.url + "/named")
    h = body["headers"]
    assert isinstance(h, dict)
    assert h["host"] == "backend.local"
    # Fabio ignores the path of the destination URL
    _, body = await get_json(env.url + "/dstpath/z")
    assert body["path"] == "/dstpath/z"


async def test_target_query_is_merged(env: Env) -> None:
    env.routes("route add s / http://UP/?token=abc")
    _, body = await get_json(env.url + "/x?y=1")
    assert body["path"] == "/x?token=abc&y=1"


async def test_no_route_and_noroute_html(env: Env) -> None:
    env.routes("route add s /only http://UP/")
    async with aiohttp.ClientSession() as s:
        async with s.get(env.url + "/other") as r:
            assert r.status == 404
            assert await r.read() == b""
        env.settings.noroute_html = b"<h1>no route</h1>"
        async with s.get(env.url + "/other") as r:
            assert r.status == 404
            assert r.headers["Content-Type"] == "text/html; charset=utf-8"
            assert await r.text() == "<h1>no route</h1>"
        env.settings.noroute_status = 503
        async with s.get(env.url + "/other") as r:
            assert r.status == 503
        # the connection stays usable after a no-route answer
        async with s.get(env.url + "/only") as r:
            assert r.status == 200


async def test_upstream_refused_is_502(env: Env) -> None:
    from tests.support.process import free_port

    env.routes(f"route add s / http://127.0.0.1:{free_port()}/")
    async with aiohttp.ClientSession() as s, s.get(env.url + "/") as r:
        assert r.status == 502


async def test_upstream_timeout_is_504(env: Env) -> None:
    async with aiohttp.ClientSession() as s, s.get(env.url + "/slow") as r:
        assert r.status == 504


async def test_client_gone_is_logged_as_499(env: Env) -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", env.proxy.port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    for _ in range(50):
        if " 499 " in env.log.getvalue():
            break
        await asyncio.sleep(0.02)
    assert '"GET /slow HTTP/1.1" 499 0' in env.log.getvalue()


async def test_access_log_common_format(env: Env) -> None:
    await get_json(env.url + "/logged")
    line = env.log.getvalue().splitlines()[-1]
    assert line.startswith("127.0.0.1 - - [")
    assert '] "GET /logged HTTP/1.1" 200 ' in line


async def test_redirect(env: Env) -> None:
    env.routes('route add r / https://example.com$path opts "redirect=301"')
    async with (
        aiohttp.ClientSession() as s,
        s.get(env.url + "/a/b?q=1", allow_redirects=False) as r,
    ):
        assert r.status == 301
        assert r.headers["Location"] == "https://example.com/a/b?q=1"


async def test_access_denied(env: Env) -> None:
    env.routes('route add s / http://UP/ opts "deny=ip:127.0.0.0/8"')
    async with aiohttp.ClientSession() as s, s.get(env.url + "/") as r:
        assert r.status == 403


async def test_keep_alive_reuses_upstream_connections(env: Env) -> None:
    async with aiohttp.ClientSession() as s:
        ports = set()
        for _ in range(10):
            async with s.get(env.url + "/") as r:
                ports.add((await r.json())["peer_port"])
    assert len(ports) == 1


async def test_streams_large_chunked_response(env: Env) -> None:
    async with aiohttp.ClientSession() as s, s.get(env.url + "/stream?n=2000") as r:
        assert r.status == 200
        assert r.headers.get("Transfer-Encoding") == "chunked"
        data = await r.read()
    assert data.count(b"\n") == 2000


async def test_streams_large_request_body(env: Env) -> None:
    async def gen() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield b"y" * 65536

    async with aiohttp.ClientSession() as s, s.post(env.url + "/upload", data=gen()) as r:
        assert (await r.json())["received"] == 64 * 65536
    async with aiohttp.ClientSession() as s, s.post(env.url + "/upload", data=b"z" * 300000) as r:
        assert (await r.json())["received"] == 300000


async def test_server_sent_events_arrive_as_sent(env: Env) -> None:
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as s, s.get(env.url + "/sse") as r:
        first = await r.content.readline()
        t_first = loop.time()
        await r.content.readline()
        second = await r.content.readline()
        t_second = loop.time()
    assert first == b"data: first\n"
    assert second == b"data: second\n"
    assert t_second - t_first > 0.2  # the first event was not held back


async def test_websocket(env: Env) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(env.url + "/ws") as sock:
        await sock.send_str("hello")
        msg = await sock.receive(timeout=5)
        assert msg.data == "echo:hello"
        await sock.send_str("again")
        msg = await sock.receive(timeout=5)
        assert msg.data == "echo:again"


async def test_head_and_204(env: Env) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", env.proxy.port)
    writer.write(b"HEAD /x HTTP/1.1\r\nHost: h\r\n\r\nGET /nobody HTTP/1.1\r\nHost: h\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200")
    second = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert second.startswith(b"HTTP/1.1 204")
    writer.close()


async def test_pipelined_requests_are_answered_in_order(env: Env) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", env.proxy.port)
    writer.write(
        b"GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
        b"POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
        b"GET /three HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    paths = [
        json.loads(part.split(b"\r\n\r\n", 1)[1].split(b"HTTP/1.1")[0])["path"]
        for part in data.split(b"HTTP/1.1 200 OK")[1:]
    ]
    assert paths == ["/one", "/two", "/three"]


async def test_bad_request(env: Env) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", env.proxy.port)
    writer.write(b"THIS IS NOT HTTP\r\n\r\n")
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    assert data.startswith(b"HTTP/1.1 400 Bad Request")


async def test_http10_client(env: Env) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", env.proxy.port)
    writer.write(b"GET /stream?n=3 HTTP/1.0\r\nHost: h\r\n\r\n")
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    head, body = data.split(b"\r\n\r\n", 1)
    assert b"chunked" not in head.lower()
    assert body.count(b"\n") == 3


async def test_request_id_header(env: Env) -> None:
    env.settings.request_id_header = "X-Request-Id"
    _, body = await get_json(env.url + "/")
    h = body["headers"]
    assert isinstance(h, dict)
    assert len(h["x-request-id"]) == 36


async def test_glob_host_routes(env: Env) -> None:
    env.routes("route add a *.example.com/ http://UP/\nroute add b / http://127.0.0.1:1/")
    status, _body = await get_json(env.url + "/", headers={"Host": "api.example.com"})
    assert status == 200


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-keyout", key, "-out", cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_https_upstream(env: Env, self_signed: tuple[str, str]) -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*self_signed)
    app = web.Application()
    app.router.add_get("/{tail:.*}", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        env.routes(
            f'route add s /skip https://127.0.0.1:{port}/ opts "tlsskipverify=true"\n'
            f"route add s /verify https://127.0.0.1:{port}/"
        )
        status, body = await get_json(env.url + "/skip/x")
        assert status == 200 and body["path"] == "/skip/x"
        # A certificate that does not verify is a failed upstream: 502.
        async with aiohttp.ClientSession() as s, s.get(env.url + "/verify/x") as r:
            assert r.status == 502
    finally:
        await runner.cleanup()
