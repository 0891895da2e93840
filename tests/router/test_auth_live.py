"""Routes with Fabio's `auth=NAME`: basic authentication in front of a real upstream, through
a router on a real catalog, with a bcrypt htpasswd file written by Apache's `htpasswd`."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import subprocess
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.router.conftest import Catalog
from tests.router.test_router_live import second_router, serve_app, until_answers

pytestmark = pytest.mark.asyncio(loop_scope="module")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def start_echo() -> tuple[web.AppRunner, int]:
    """Answers with the path, the Authorization header it got and the body's length."""

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "path": request.raw_path,
                "authorization": request.headers.get("Authorization"),
                "body": len(body),
            }
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return await serve_app(app)


def pipelined(port: int, auth: str) -> list[bytes]:
    """Two requests in one packet on one connection, the first with a body."""
    body = b"x" * 5000
    head = f"Host: auth.test\r\nAuthorization: {auth}\r\n"
    data = (
        f"POST /private/one HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode()
        + body
        + f"GET /private/two HTTP/1.1\r\n{head}Connection: close\r\n\r\n".encode()
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
    return [part for part in received.split(b"HTTP/1.1 ")[1:]]


async def test_basic_auth_route(consul: Catalog, tmp_path: Path) -> None:
    users = tmp_path / "users.htpasswd"
    subprocess.run(
        ["htpasswd", "-b", "-c", "-B", str(users), "alice", "wonderland"],
        check=True,
        capture_output=True,
    )
    runner, port = await start_echo()
    consul.register("auth-a", "auth-svc", port, ["urlprefix-/private auth=members"])
    consul.register("auth-b", "open-svc", port, ["urlprefix-/public"])
    consul.register("auth-c", "typo-svc", port, ["urlprefix-/typo auth=nobody"])
    router = second_router(
        consul.addr,
        auth_schemes=f"name=members;type=basic;file={users};realm=Members only",
        register=False,
    )
    await router.start()
    try:
        await router.wait_ready()
        proxy = f"http://127.0.0.1:{router.config.listeners[0].port}"
        async with aiohttp.ClientSession() as session:
            await until_answers(session, proxy + "/public/x")

            async with session.get(proxy + "/private/x") as r:
                assert r.status == 401
                assert r.headers["WWW-Authenticate"] == 'Basic realm="Members only"'
                assert await r.text() == "authorization failed\n"
            async with session.get(
                proxy + "/private/x", headers={"Authorization": basic("alice", "nope")}
            ) as r:
                assert r.status == 401
                assert "WWW-Authenticate" in r.headers  # so that a browser asks again
            for _ in range(2):  # the second time from the remembered verdict
                async with session.get(
                    proxy + "/private/x", headers={"Authorization": basic("alice", "wonderland")}
                ) as r:
                    assert r.status == 200
                    got = json.loads(await r.text())
                    # Passed on to the upstream, as Fabio does.
                    assert got["authorization"] == basic("alice", "wonderland")
            # A route naming a scheme that proxy.auth lacks refuses everyone.
            async with session.get(
                proxy + "/typo/x", headers={"Authorization": basic("alice", "wonderland")}
            ) as r:
                assert r.status == 401 and "WWW-Authenticate" not in r.headers

        # A request held for its (first) credential check keeps its body and the request
        # pipelined behind it, in order.
        bob = basic("bob", "builder")
        subprocess.run(
            ["htpasswd", "-b", "-B", str(users), "bob", "builder"], check=True, capture_output=True
        )
        router.settings.auth["members"].reload_if_changed()
        replies = await asyncio.to_thread(pipelined, router.config.listeners[0].port, bob)
        assert [r.split(b"\r\n", 1)[0] for r in replies] == [b"200 OK", b"200 OK"]
        first = json.loads(replies[0].split(b"\r\n\r\n", 1)[1])
        second = json.loads(replies[1].split(b"\r\n\r\n", 1)[1])
        assert (first["path"], first["body"]) == ("/private/one", 5000)
        assert second["path"] == "/private/two"
    finally:
        await router.stop()
        for sid in ("auth-a", "auth-b", "auth-c"):
            consul.deregister(sid)
        await runner.cleanup()


async def test_unreadable_htpasswd_file_stops_the_start(consul: Catalog, tmp_path: Path) -> None:
    router = second_router(
        consul.addr,
        auth_schemes=f"name=members;type=basic;file={tmp_path}/missing",
        register=False,
    )
    with pytest.raises(ValueError, match=r"proxy\.auth: members: cannot read"):
        await router.start()


async def start_decider() -> tuple[web.AppRunner, int, list[dict[str, str]]]:
    """A forward-auth endpoint: 200 for the cookie `session=ok`, a redirect to a login page
    without one, 403 (taken as 401) for a banned user."""
    seen: list[dict[str, str]] = []

    async def decide(request: web.Request) -> web.Response:
        seen.append(
            {
                "method": request.method,
                "path_qs": request.path_qs,
                "host": request.host,
                "cookie": request.headers.get("Cookie", ""),
                "body": str(len(await request.read())),
            }
        )
        if "banned" in request.headers.get("Cookie", ""):
            return web.Response(status=403)
        if "session=ok" in request.headers.get("Cookie", ""):
            return web.Response(headers={"X-Auth-User": "alice", "Set-Cookie": "seen=1"})
        return web.Response(status=302, headers={"Location": "http://login.test/?rd=/ext"})

    app = web.Application()
    app.router.add_route("*", "/decide/{tail:.*}", decide)
    runner, port = await serve_app(app)
    return runner, port, seen


async def test_external_auth_route(consul: Catalog) -> None:
    origin, origin_port = await start_echo()
    decider, decider_port, seen = await start_decider()
    consul.register("ext-a", "ext-svc", origin_port, ["urlprefix-/ext auth=sso"])
    router = second_router(
        consul.addr,
        auth_schemes=(
            f"name=sso;type=external;endpoint=http://127.0.0.1:{decider_port}/decide;"
            'set-auth-headers="X-Auth-User";append-auth-headers="Set-Cookie"'
        ),
        register=False,
    )
    await router.start()
    try:
        await router.wait_ready()
        proxy = f"http://127.0.0.1:{router.config.listeners[0].port}"
        async with aiohttp.ClientSession() as session:
            await until_answers(session, proxy + "/ext/a", 302, allow_redirects=False)
            ok = {"Cookie": "session=ok", "Host": "app.test"}
            async with session.post(proxy + "/ext/a?x=1", data=b"payload", headers=ok) as r:
                assert r.status == 200
                assert r.headers["X-Auth-User"] == "alice"
                assert r.headers["Set-Cookie"] == "seen=1"
                got = json.loads(await r.text())
            assert (got["path"], got["body"]) == ("/ext/a?x=1", 7)  # the body went upstream
            asked = seen[-1]
            assert asked == {
                "method": "POST",
                "path_qs": "/decide/ext/a?x=1",
                "host": "app.test",
                "cookie": "session=ok",
                "body": "0",  # the decision endpoint gets no body
            }
            async with session.get(proxy + "/ext/a", allow_redirects=False) as r:
                assert r.status == 302
                assert r.headers["Location"] == "http://login.test/?rd=/ext"
            async with session.get(proxy + "/ext/a", headers={"Cookie": "banned=1"}) as r:
                assert (r.status, await r.text()) == (401, "authorization failed\n")
    finally:
        await router.stop()
        consul.deregister("ext-a")
        await origin.cleanup()
        await decider.cleanup()
