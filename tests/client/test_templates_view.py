"""The rules a template watcher applies to each answer, checked on
their own (the end-to-end behaviour is in test_templates.py)."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from tests.catalog.conftest import CatalogProcess
from tests.client.test_templates import CountingProxy
from tests.support.process import wait_for
from yurt.client.config import TemplateConfig
from yurt.client.templates import AllocCatalog, Dependency, View
from yurt.consul_api.client import ConsulClient


def _kv(value: str, modify: int) -> list[dict[str, object]]:
    raw = base64.b64encode(value.encode()).decode()
    return [{"Key": "k", "Value": raw, "ModifyIndex": modify}]


def test_answers_change_the_data_only_when_what_templates_see_changed() -> None:
    dep = Dependency.key("k")
    view = View(dep, AllocCatalog(ConsulClient("http://127.0.0.1:1")))
    assert view.take(dep.decode(_kv("a", 5)), 5) is True
    assert (view.data, view.index) == ("a", 5)
    # A write of the same value: a new index, nothing a template could see.
    assert view.take(dep.decode(_kv("a", 9)), 9) is False
    assert view.index == 9
    assert view.take(dep.decode(_kv("b", 12)), 12) is True
    assert view.data == "b"


def test_an_index_going_backwards_restarts_the_watch_from_zero() -> None:
    dep = Dependency.key("k")
    view = View(dep, AllocCatalog(ConsulClient("http://127.0.0.1:1")))
    view.take(dep.decode(_kv("a", 50)), 50)
    assert view.take(dep.decode(_kv("z", 3)), 3) is False
    assert (view.index, view.data) == (0, "a")
    # The plain read that follows takes the new server's data and index.
    assert view.take(dep.decode(_kv("z", 3)), 3) is True
    assert (view.index, view.data) == (3, "z")


def test_an_index_of_zero_counts_as_one() -> None:
    dep = Dependency.key("missing")
    view = View(dep, AllocCatalog(ConsulClient("http://127.0.0.1:1")))
    assert view.take(dep.decode(None), 0) is True
    assert view.index == 1 and view.received and view.data is None


def test_dependencies_name_the_query_consul_template_makes() -> None:
    svc = Dependency.service("web.api@dc2")
    assert svc.path == "/v1/health/service/api"
    assert dict(svc.params) == {"passing": "1", "tag": "web", "dc": "dc2"}
    assert str(svc) == "health.service(web.api@dc2)"
    assert Dependency.prefix("/app/cfg").path == "/v1/kv/app/cfg"
    assert dict(Dependency.prefix("app").params) == {"recurse": ""}
    assert Dependency.key("a b/c").path == "/v1/kv/a%20b/c"
    assert Dependency.services().path == "/v1/catalog/services"
    # Equal dependencies are one watcher.
    assert Dependency.key("/x") == Dependency.key("x")


def test_service_data_leaves_out_what_templates_cannot_see() -> None:
    dep = Dependency.service("api")
    entry = {
        "Node": {"Node": "n1", "Address": "10.0.0.1", "Meta": {"rack": "r1"}},
        "Service": {"ID": "api-1", "Service": "api", "Port": 80, "Tags": ["v1"], "Meta": {}},
        "Checks": [{"Status": "passing", "Output": "HTTP GET: 200 OK"}],
    }
    again = {**entry, "Checks": [{"Status": "passing", "Output": "HTTP GET: 200 OK (2)"}]}
    # A check's output moves the index, not the data: no re-render for it.
    assert dep.decode([entry]) == dep.decode([again])
    assert dict(dep.decode([entry])[0])["Address"] == "10.0.0.1"  # the node's, when unset
    services = Dependency.services()
    assert services.decode({"web": ["a"], "db": None}) == (("db", ()), ("web", ("a",)))


class _Subscriber:
    def __init__(self) -> None:
        self.dirty = 0

    def mark_dirty(self, i: int) -> None:
        self.dirty += 1


def test_block_query_wait_of_the_client_config_is_the_wait_asked_for(tmp_path: Path) -> None:
    catalog = CatalogProcess(tmp_path / "catalog", "-dev").start()
    proxy = CountingProxy(catalog.port)
    try:

        async def watch() -> None:
            cat = AllocCatalog(
                ConsulClient(f"http://127.0.0.1:{proxy.port}"), TemplateConfig(block_query_wait=7)
            )
            sub = _Subscriber()
            cat.subscribe((sub, 0), [Dependency.key("bq/k")])  # type: ignore[arg-type]
            while len(proxy.to("/v1/kv/bq/k")) < 2:
                await asyncio.sleep(0.01)
            await cat.close()
            assert sub.dirty == 1  # the first answer (no such key) is data

        asyncio.run(asyncio.wait_for(watch(), 20))
        reads = wait_for(lambda: proxy.to("/v1/kv/bq/k"), what="the reads")
        assert "wait" not in reads[0].query
        assert reads[1].query["wait"] == "7000ms" and int(reads[1].query["index"]) >= 1
    finally:
        proxy.close()
        catalog.proc.stop()


def test_views_present_the_agents_consul_token() -> None:
    """Under Consul ACLs a template's reads must carry the client's `consul { token }`."""
    from aiohttp import web

    seen: list[str] = []

    async def kv(request: web.Request) -> web.Response:
        seen.append(request.headers.get("X-Consul-Token", ""))
        return web.json_response(_kv("v", 4), headers={"X-Consul-Index": "4"})

    async def watch() -> None:
        app = web.Application()
        app.router.add_get("/v1/kv/{key:.*}", kv)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        cat = AllocCatalog(ConsulClient(f"http://127.0.0.1:{port}", token="s3cret"))
        sub = _Subscriber()
        try:
            cat.subscribe((sub, 0), [Dependency.key("k")])  # type: ignore[arg-type]
            while not seen:
                await asyncio.sleep(0.01)
        finally:
            await cat.close()
            await runner.cleanup()

    asyncio.run(asyncio.wait_for(watch(), 20))
    assert seen[0] == "s3cret"
