"""The whole router against a Consul-API catalog and real upstream servers on real sockets."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from tests.router.conftest import Catalog, start_catalog
from tests.support.process import free_port
from yurt.router import Router, RouterConfig

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def until(cond: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0) -> None:
    """Wait for a condition (checked every 10 ms), failing after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if inspect.isawaitable(got):
            got = await got
        if got:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@dataclass
class Upstream:
    name: str
    port: int
    runner: web.AppRunner


async def start_upstream(name: str) -> Upstream:
    async def handle(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "upstream": name,
                "path": request.raw_path,
                "headers": {k.lower(): v for k, v in request.headers.items()},
            }
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner, port = await serve_app(app)
    return Upstream(name, port, runner)


async def serve_app(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve an upstream (or decision endpoint, certificate server) on a free port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


async def until_answers(
    session: aiohttp.ClientSession, url: str, status: int = 200, **kw: Any
) -> None:
    """Wait until a GET of `url` (through a router) answers `status`: the route is in."""

    async def answered() -> bool:
        async with session.get(url, **kw) as r:
            return r.status == status

    await until(answered)


_markers = itertools.count()


@dataclass
class Env:
    consul: Catalog
    router: Router
    ups: dict[str, Upstream]
    session: aiohttp.ClientSession
    tcp_port: int

    @property
    def proxy(self) -> str:
        return "http://" + self.router.config.proxy_address

    @property
    def ui(self) -> str:
        return "http://" + self.router.config.ui_address

    async def get(self, path: str, **kw: object) -> tuple[int, str]:
        async with self.session.get(self.proxy + path, **kw) as r:  # type: ignore[arg-type]
            return r.status, await r.text()

    async def upstream_of(self, path: str) -> str | None:
        status, body = await self.get(path)
        return str(json.loads(body)["upstream"]) if status == 200 else None

    async def routed_to(self, path: str, name: str | None) -> bool:
        return await self.upstream_of(path) == name

    async def settle(self) -> None:
        """Until the router has seen every catalog change made so far: a marker service
        registered after them shows up in the table only when they have been read too."""
        name = f"marker{next(_markers)}"
        self.consul.register(name, name, self.ups["a"].port, [f"urlprefix-/{name}"])
        await until(lambda: self.routed_to(f"/{name}", "a"))
        self.consul.deregister(name)
        await until(lambda: self.routed_to(f"/{name}", None))

    async def routes(self) -> list[dict[str, object]]:
        async with self.session.get(self.ui + "/api/routes") as r:
            return list(await r.json() or [])


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(consul: Catalog) -> AsyncIterator[Env]:
    ups = {n: await start_upstream(n) for n in ("a", "b", "c")}
    config = RouterConfig(
        proxy_addr="127.0.0.1:0,127.0.0.1:0;proto=tcp",
        ui_addr="127.0.0.1:0",
        consul_addr=consul.addr,
        service_name="fabio",
        strategy="rr",
    )
    router = Router(config)
    await router.start()
    await router.wait_ready()
    tcp_port = router.config.listeners[1].port
    async with aiohttp.ClientSession() as session:
        yield Env(consul, router, ups, session, tcp_port)
    await router.stop()
    for u in ups.values():
        await u.runner.cleanup()


def second_router(consul_addr: str, **config: Any) -> Router:
    """A router beside the module's, on free ports, for a test that needs other settings."""
    settings: dict[str, Any] = {"proxy_addr": "127.0.0.1:0", "ui_addr": "127.0.0.1:0"}
    return Router(RouterConfig(consul_addr=consul_addr, **{**settings, **config}))


async def test_bound_addresses_are_recorded(env: Env) -> None:
    cfg = env.router.config
    assert cfg.ui_port != 0 and cfg.listeners[0].port != 0 and env.tcp_port != 0
    async with env.session.get(env.ui + "/health") as r:
        assert (r.status, await r.text()) == (200, "OK")


async def test_registers_itself_with_ttl_and_http_checks(env: Env) -> None:
    cfg = env.router.config
    sid = env.router.service_id
    svc = env.consul.services()[sid]
    assert (svc["Service"], svc["Port"]) == ("fabio", cfg.ui_port)
    checks = [c for c in env.consul.checks().values() if c["ServiceID"] == sid]
    assert sorted(c["Type"] for c in checks) == ["http", "ttl"]
    http = next(c for c in checks if c["Type"] == "http")
    assert http["Definition"]["HTTP"] == f"http://127.0.0.1:{cfg.ui_port}/health"

    # The catalog runs the HTTP check against /health; the router passes its TTL check.
    def all_passing() -> bool:
        own = [c for c in env.consul.checks().values() if c["ServiceID"] == sid]
        return all(c["Status"] == "passing" for c in own)

    await until(all_passing)


async def test_service_routed_while_healthy(env: Env) -> None:
    a, b = env.ups["a"], env.ups["b"]
    env.consul.register("web-a", "web", a.port, ["urlprefix-/web", "v1"])
    await until(lambda: env.routed_to("/web/x", "a"))
    _, body = await env.get("/web/x?q=1")
    seen = json.loads(body)
    assert seen["path"] == "/web/x?q=1"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert seen["headers"]["x-forwarded-proto"] == "http"
    assert "x-forwarded-prefix" not in seen["headers"]  # Fabio sets it with strip= only

    env.consul.set_check("service:web-a", "critical")
    await until(lambda: env.routed_to("/web/x", None))
    assert (await env.get("/web/x"))[0] == 404

    env.consul.set_check("service:web-a", "warning")
    await env.settle()  # warning is not passing by default: stays unrouted
    assert await env.upstream_of("/web/x") is None
    env.consul.set_check("service:web-a", "passing")
    await until(lambda: env.routed_to("/web/x", "a"))

    # A second instance shares the route; rr alternates over the ring.
    env.consul.register("web-b", "web", b.port, ["urlprefix-/web"])
    await until(lambda: env.routed_to("/web/x", "b"))
    seen_names = {await env.upstream_of("/web/x") for _ in range(6)}
    assert seen_names == {"a", "b"}
    routes = [r for r in await env.routes() if r["service"] == "web"]
    assert {r["dst"] for r in routes} == {
        f"http://127.0.0.1:{a.port}/",
        f"http://127.0.0.1:{b.port}/",
    }
    assert all(r["weight"] == 0.5 for r in routes)
    assert next(r for r in routes if str(r["dst"]).endswith(f"{a.port}/"))["tags"] == ["v1"]

    env.consul.deregister("web-a")
    env.consul.deregister("web-b")
    await until(lambda: env.routed_to("/web/x", None))


async def test_maintenance_stops_routing(env: Env) -> None:
    env.consul.register("maint-a", "maint", env.ups["a"].port, ["urlprefix-/maint"])
    await until(lambda: env.routed_to("/maint", "a"))
    env.consul.service_maintenance("maint-a", True)
    await until(lambda: env.routed_to("/maint", None))
    env.consul.service_maintenance("maint-a", False)
    await until(lambda: env.routed_to("/maint", "a"))
    env.consul.node_maintenance(True)
    await until(lambda: env.routed_to("/maint", None))
    env.consul.node_maintenance(False)
    await until(lambda: env.routed_to("/maint", "a"))
    env.consul.deregister("maint-a")
    await until(lambda: env.routed_to("/maint", None))


async def test_instances_without_checks_are_not_routed(env: Env) -> None:
    env.consul.register("nocheck-a", "nocheck", env.ups["a"].port, ["urlprefix-/nocheck"])
    env.consul.register("plain-b", "plain", env.ups["b"].port, ["urlprefix-/plain"], status=None)
    await until(lambda: env.routed_to("/nocheck", "a"))
    await env.settle()
    assert await env.upstream_of("/plain") is None
    env.consul.deregister("nocheck-a")
    env.consul.deregister("plain-b")


async def test_one_bad_tag_does_not_freeze_the_table(env: Env) -> None:
    env.consul.register("bad-a", "bad", env.ups["a"].port, ["urlprefix-", "urlprefix-/bad"])
    env.consul.register("good-b", "good", env.ups["b"].port, ["urlprefix-/good"])
    await until(lambda: env.routed_to("/good", "b"))
    assert await env.upstream_of("/bad") == "a"  # its well-formed tag still routes
    assert any("'bad'" in e and "must not be empty" in e for e in env.router.errors)
    env.consul.deregister("bad-a")
    env.consul.deregister("good-b")
    await until(lambda: env.routed_to("/good", None))
    assert not any("'bad'" in e for e in env.router.errors)


async def test_dc_and_host_routes(env: Env) -> None:
    env.consul.register("dc-c", "dc", env.ups["c"].port, ["urlprefix-$DC.Example.com/"])
    hdr = {"Host": "dc1.example.com"}

    async def routed() -> bool:
        status, body = await env.get("/any", headers=hdr)
        return status == 200 and json.loads(body)["upstream"] == "c"

    await until(routed)
    assert (await env.get("/any", headers={"Host": "dc2.example.com"}))[0] == 404
    env.consul.deregister("dc-c")
    await until(lambda: env.routed_to("/", None))


async def test_manual_routes_from_kv(env: Env) -> None:
    a, b = env.ups["a"], env.ups["b"]
    env.consul.register("man-a", "man", a.port, ["urlprefix-/man"])
    await until(lambda: env.routed_to("/man", "a"))
    # Manual routes come after the generated ones: add a target, then weigh it.
    env.consul.kv_put("fabio/config/10-extra", f"route add extra /man http://127.0.0.1:{b.port}/\n")
    env.consul.kv_put("fabio/config/20-weight", "route weight extra /man weight 1.0\n")
    await until(lambda: env.routed_to("/man", "b"))
    assert {await env.upstream_of("/man") for _ in range(4)} == {"b"}

    # A syntax error keeps the last good table and is reported with its line.
    env.consul.kv_put("fabio/config/20-weight", "route weight extra /man weight 1.0\nroute bogus")
    await until(lambda: any("fabio/config/20-weight" in e for e in env.router.errors))
    err = next(e for e in env.router.errors if "20-weight" in e)
    assert "fabio/config/20-weight:2: syntax error" in err and "'route bogus'" in err
    assert await env.upstream_of("/man") == "b"

    env.consul.kv_put("fabio/config/20-weight", "route del man\n")
    await until(lambda: not env.router.errors)
    await until(lambda: env.routed_to("/man", "b"))
    assert {await env.upstream_of("/man") for _ in range(4)} == {"b"}

    env.consul.kv_delete("fabio/config/10-extra")
    env.consul.kv_delete("fabio/config/20-weight")
    await until(lambda: env.routed_to("/man", "a"))
    env.consul.deregister("man-a")
    await until(lambda: env.routed_to("/man", None))


async def test_noroute_html_from_kv(env: Env) -> None:
    assert await env.get("/nothing-here") == (404, "")
    env.consul.kv_put("fabio/noroute.html", "<h1>no route</h1>")

    async def page() -> bool:
        return await env.get("/nothing-here") == (404, "<h1>no route</h1>")

    await until(page)
    env.consul.kv_delete("fabio/noroute.html")

    async def empty() -> bool:
        return await env.get("/nothing-here") == (404, "")

    await until(empty)


async def test_admin_api(env: Env) -> None:
    env.consul.register("adm-a", "adm", env.ups["a"].port, ["urlprefix-/adm strip=/adm"])
    await until(lambda: env.routed_to("/adm/x", "a"))
    routes = [r for r in await env.routes() if r["service"] == "adm"]
    assert routes == [
        {
            "service": "adm",
            "host": "",
            "path": "/adm",
            "src": "/adm",
            "dst": f"http://127.0.0.1:{env.ups['a'].port}/",
            "opts": "strip=/adm",
            "weight": 1.0,
            "cmd": "route add",
            "rate1": 0,
            "pct99": 0,
        }
    ]
    assert json.loads((await env.get("/adm/x"))[1])["path"] == "/x"

    async with env.session.get(env.ui + "/api/config") as r:
        conf = await r.json()
    assert conf["registry.consul.addr"] == env.consul.addr
    assert conf["ui.addr"] == env.router.config.ui_address
    async with env.session.get(env.ui + "/", allow_redirects=False) as r:
        assert r.status in (301, 302) and r.headers["Location"] == "/routes"
    async with env.session.get(env.ui + "/api/version") as r:
        assert r.status == 200 and "1.7" in await r.text()

    url = env.ui + "/api/manual/ui"
    async with env.session.get(url) as r:
        assert await r.json() == {"value": "", "version": "0"}
    text = f"route add uiman /uiman http://127.0.0.1:{env.ups['c'].port}/"
    async with env.session.put(url, json={"value": text, "version": "0"}) as r:
        assert r.status == 200
    async with env.session.get(url) as r:
        got = await r.json()
    assert got["value"] == text and int(got["version"]) > 0
    async with env.session.put(url, json={"value": "", "version": "0"}) as r:
        assert r.status == 409
    async with env.session.put(
        url, json={"value": "route nonsense", "version": got["version"]}
    ) as r:
        assert r.status == 400
        assert "fabio/config/ui:1: syntax error" in await r.text()
    await until(lambda: env.routed_to("/uiman", "c"))
    async with env.session.get(env.ui + "/api/paths") as r:
        assert "/ui" in await r.json()
    async with env.session.put(url, json={"value": "", "version": got["version"]}) as r:
        assert r.status == 200
    await until(lambda: env.routed_to("/uiman", None))
    env.consul.deregister("adm-a")
    await until(lambda: env.routed_to("/adm/x", None))


async def test_tcp_route(env: Env) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(b"echo:" + data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    env.consul.register("tcp-1", "tcpsvc", port, [f"urlprefix-:{env.tcp_port} proto=tcp"])

    async def routed() -> bool:
        return any(r["dst"] == f"tcp://127.0.0.1:{port}" for r in await env.routes())

    await until(routed)
    reader, writer = await asyncio.open_connection("127.0.0.1", env.tcp_port)
    writer.write(b"hello")
    await writer.drain()
    assert await reader.readexactly(10) == b"echo:hello"
    writer.close()
    env.consul.deregister("tcp-1")
    server.close()
    await server.wait_closed()


async def test_route_change_under_load_fails_no_request(env: Env) -> None:
    a, b, c = env.ups["a"], env.ups["b"], env.ups["c"]
    env.consul.register("load-a", "load", a.port, ["urlprefix-/load"])
    env.consul.register("load-b", "load", b.port, ["urlprefix-/load"])
    await until(lambda: env.routed_to("/load", "a"))
    results: list[str | None] = []
    stop = asyncio.Event()

    async def client() -> None:
        while not stop.is_set():
            results.append(await env.upstream_of("/load"))

    clients = [asyncio.create_task(client()) for _ in range(8)]
    await until(lambda: len(results) > 50)
    env.consul.register("load-c", "load", c.port, ["urlprefix-/load"])
    await until(lambda: "c" in results)
    env.consul.deregister("load-a")
    mark = len(results)
    await until(lambda: len(results) > mark + 100)
    env.consul.set_check("service:load-b", "critical")
    mark = len(results)
    await until(lambda: len(results) > mark + 100)
    stop.set()
    await asyncio.gather(*clients)
    assert None not in results, f"{results.count(None)} of {len(results)} failed"
    assert set(results) == {"a", "b", "c"}
    env.consul.deregister("load-b")
    env.consul.deregister("load-c")
    await until(lambda: env.routed_to("/load", None))


async def test_router_started_before_the_catalog_catches_up(env: Env, tmp_path: Path) -> None:
    port = free_port()
    router = second_router(f"127.0.0.1:{port}", check_ttl=1.5, registry_retry=0.1)
    await router.start()  # no catalog yet: starts anyway, serving 404s
    try:
        url = "http://" + router.config.proxy_address
        async with env.session.get(url + "/late") as r:
            assert r.status == 404
        proc = await asyncio.to_thread(start_catalog, tmp_path, port)
        try:
            late = Catalog(f"127.0.0.1:{port}")
            late.register("late-a", "late", env.ups["a"].port, ["urlprefix-/late"])

            async def routed() -> bool:
                async with env.session.get(url + "/late") as r:
                    return r.status == 200

            await until(routed, timeout=15)
            await until(lambda: router.service_id in late.services(), timeout=15)
            await router.stop()
            assert router.service_id == ""
            assert not any(s["Service"] == "fabio" for s in late.services().values())
        finally:
            await asyncio.to_thread(proc.stop, 3)
    finally:
        await router.stop()


async def test_unchecked_instances_routed_when_configured(env: Env) -> None:
    router = second_router(env.consul.addr, route_unchecked=True, register=False)
    await router.start()
    try:
        await router.wait_ready()
        url = "http://" + router.config.proxy_address
        env.consul.register("bare-b", "bare", env.ups["b"].port, ["urlprefix-/bare"], status=None)

        async def routed() -> bool:
            async with env.session.get(url + "/bare") as r:
                return r.status == 200

        await until(routed)
        await env.settle()
        assert await env.upstream_of("/bare") is None  # the default router does not
        # Node maintenance stops them too.
        env.consul.node_maintenance(True)
        await until(lambda: not_(routed))
        env.consul.node_maintenance(False)
        await until(routed)
        env.consul.deregister("bare-b")
        await until(lambda: not_(routed))
    finally:
        await router.stop()


async def test_an_instance_moved_under_unchanged_tags_is_followed(env: Env) -> None:
    """An unchecked instance re-registered on another port changes neither the services
    answer nor the health answer: only the router's paced read of every service sees it."""
    router = second_router(env.consul.addr, route_unchecked=True, register=False)
    await router.start()
    try:
        await router.wait_ready()
        url = "http://" + router.config.proxy_address

        async def upstream() -> str | None:
            async with env.session.get(url + "/moving") as r:
                body = await r.text()
                return str(json.loads(body)["upstream"]) if r.status == 200 else None

        a, b = env.ups["a"], env.ups["b"]
        env.consul.register("moving-1", "moving", a.port, ["urlprefix-/moving"], status=None)
        await until(lambda: eq(upstream, "a"))
        env.consul.register("moving-1", "moving", b.port, ["urlprefix-/moving"], status=None)
        await until(lambda: eq(upstream, "b"), timeout=15.0)
        env.consul.deregister("moving-1")
        await until(lambda: eq(upstream, None))
    finally:
        await router.stop()


async def eq(probe: Callable[[], Awaitable[object]], want: object) -> bool:
    return await probe() == want


async def test_register_option_registers_the_router_as_an_alias(env: Env) -> None:
    # Fabio's `register=<name>`: the router registers itself as `name` while a route asks for
    # it (also with its own registration switched off), as it registers itself.
    router = second_router(env.consul.addr, register=False, check_ttl=1.5)
    await router.start()
    try:
        await router.wait_ready()
        ui_port = router.config.ui_port
        alias_id = f"shop-example-{socket.gethostname()}-{ui_port}"
        env.consul.register(
            "shop-a", "shop", env.ups["a"].port, ["urlprefix-shop.example/ register=shop-example"]
        )
        await until(lambda: alias_id in env.consul.services())
        svc = env.consul.services()[alias_id]
        assert (svc["Service"], svc["Address"], svc["Port"]) == (
            "shop-example",
            "127.0.0.1",
            ui_port,
        )
        assert router.registrations.aliases == {"shop-example": alias_id}

        def alias_checks() -> dict[str, str]:
            return {
                c["Type"]: c["Status"]
                for c in env.consul.checks().values()
                if c["ServiceID"] == alias_id
            }

        # The HTTP check on the UI's /health passes; the TTL check is kept passing past its TTL.
        await until(lambda: alias_checks() == {"http": "passing", "ttl": "passing"})
        await asyncio.sleep(2.0)
        assert alias_checks() == {"http": "passing", "ttl": "passing"}

        # A manual route asks for a second alias; the route going away removes the first.
        env.consul.kv_put(
            "fabio/config/alias",
            f"route add manual /m http://127.0.0.1:{env.ups['b'].port}/"
            ' opts "register=manual-alias"',
        )
        manual_id = f"manual-alias-{socket.gethostname()}-{ui_port}"
        await until(lambda: manual_id in env.consul.services())
        env.consul.deregister("shop-a")
        await until(lambda: alias_id not in env.consul.services())
        assert manual_id in env.consul.services()

        # Shutting down deregisters what is left.
        await router.stop()
        assert manual_id not in env.consul.services()
    finally:
        env.consul.kv_delete("fabio/config/alias")
        await router.stop()


async def not_(cond: Callable[[], Awaitable[bool]]) -> bool:
    return not await cond()
