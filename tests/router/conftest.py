"""A Consul-HTTP-API-shaped server for the router's live tests.

The router talks to the catalog only through Consul's public HTTP API, so these tests stand an
external product's API in front of it: the endpoints the router calls, with Consul's response
shapes and its blocking-query semantics (`?index=&wait=`, `X-Consul-Index`), served from memory
by a real aiohttp server on a real socket in its own thread (so a router in another process
can use it too). It is not yurt's catalog, which is tested on its own.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from aiohttp import web

from yurt.api.durations import SECOND, parse_go_duration

T = TypeVar("T")
NODE = "node1"


@dataclass
class _State:
    index: int = 10
    services: dict[str, dict[str, Any]] = field(default_factory=dict)  # by ServiceID
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # by CheckID
    kv: dict[str, dict[str, Any]] = field(default_factory=dict)
    registrations: list[dict[str, Any]] = field(default_factory=list)


class ConsulAPI:
    """In-memory catalog behind Consul's HTTP API; mutate it with the methods below."""

    def __init__(self) -> None:
        self.state = _State()
        self.state.checks["serfHealth"] = _check(NODE, "serfHealth", "", "", "passing", 1)
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Condition | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stop: asyncio.Event | None = None

    # lifecycle -----------------------------------------------------------------

    def start(self) -> ConsulAPI:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self._serve(ready))
            loop.close()

        self._thread = threading.Thread(target=run, name="consul-api", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("Consul API double did not start")
        return self

    async def _serve(self, ready: threading.Event) -> None:
        self._changed = asyncio.Condition()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_get("/v1/health/state/{state}", self._health_state)
        app.router.add_get("/v1/catalog/services", self._catalog_services)
        app.router.add_get("/v1/catalog/service/{name}", self._catalog_service)
        app.router.add_get("/v1/kv/{key:.*}", self._kv_get)
        app.router.add_put("/v1/kv/{key:.*}", self._kv_put)
        app.router.add_delete("/v1/kv/{key:.*}", self._kv_delete)
        app.router.add_get("/v1/agent/self", self._agent_self)
        app.router.add_put("/v1/agent/service/register", self._register)
        app.router.add_put("/v1/agent/service/deregister/{id}", self._deregister)
        for verb in ("pass", "warn", "fail"):
            app.router.add_put(f"/v1/agent/check/{verb}/{{id}}", self._check_update)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        ready.set()
        await self._stop.wait()
        await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    @property
    def addr(self) -> str:
        return self.url.removeprefix("http://")

    # mutations (from any thread) -------------------------------------------------

    def _mutate(self, fn: Callable[[_State], T]) -> T:
        async def apply() -> T:
            assert self._changed is not None
            async with self._changed:
                out = fn(self.state)
                self.state.index += 1
                self._changed.notify_all()
            return out

        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(apply(), self._loop).result(10)

    def register(
        self,
        service_id: str,
        name: str,
        port: int,
        tags: list[str],
        *,
        status: str | None = "passing",
        address: str = "127.0.0.1",
        node: str = NODE,
    ) -> None:
        """An instance with one check in `status` (None: without checks)."""

        def fn(s: _State) -> None:
            s.services[service_id] = _service(node, service_id, name, tags, address, port, s.index)
            if status is not None:
                s.checks[f"service:{service_id}"] = _check(
                    node, f"service:{service_id}", service_id, name, status, s.index
                )

        self._mutate(fn)

    def set_check(self, check_id: str, status: str, *, service_id: str = "") -> None:
        def fn(s: _State) -> None:
            c = s.checks.get(check_id)
            if c is None:
                svc = s.services.get(service_id, {})
                c = _check(
                    svc.get("Node", NODE),
                    check_id,
                    service_id,
                    svc.get("ServiceName", ""),
                    status,
                    s.index,
                )
                s.checks[check_id] = c
            c["Status"] = status
            c["ModifyIndex"] = s.index + 1

        self._mutate(fn)

    def remove_check(self, check_id: str) -> None:
        self._mutate(lambda s: s.checks.pop(check_id, None))

    def deregister(self, service_id: str) -> None:
        def fn(s: _State) -> None:
            s.services.pop(service_id, None)
            for cid in [k for k, c in s.checks.items() if c["ServiceID"] == service_id]:
                del s.checks[cid]

        self._mutate(fn)

    def kv_put(self, key: str, value: str) -> None:
        self._mutate(lambda s: _kv_set(s, key, value.encode()))

    def kv_delete(self, key: str) -> None:
        self._mutate(lambda s: s.kv.pop(key, None))

    def snapshot(self) -> _State:
        async def copy_state() -> _State:
            return copy.deepcopy(self.state)

        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(copy_state(), self._loop).result(10)

    # Consul's HTTP API -------------------------------------------------------------

    async def _block(self, request: web.Request) -> None:
        """Consul's blocking query: wait while the index is not past `?index=`."""
        assert self._changed is not None
        raw = request.query.get("index")
        if not raw:
            return
        min_index = int(raw)
        wait = parse_go_duration(request.query.get("wait", "5m")) / SECOND
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.state.index > min_index), wait
                )

    def _reply(self, data: Any, status: int = 200) -> web.Response:
        resp = web.json_response(data, status=status)
        resp.headers["X-Consul-Index"] = str(self.state.index)
        return resp

    async def _health_state(self, request: web.Request) -> web.Response:
        await self._block(request)
        state = request.match_info["state"]
        checks = [
            dict(c) for c in self.state.checks.values() if state == "any" or c["Status"] == state
        ]
        return self._reply(checks)

    async def _catalog_services(self, request: web.Request) -> web.Response:
        await self._block(request)
        out: dict[str, list[str]] = {}
        for svc in self.state.services.values():
            tags = out.setdefault(svc["ServiceName"], [])
            tags.extend(t for t in svc["ServiceTags"] if t not in tags)
        return self._reply(out)

    async def _catalog_service(self, request: web.Request) -> web.Response:
        await self._block(request)
        name = request.match_info["name"]
        return self._reply(
            [dict(s) for s in self.state.services.values() if s["ServiceName"] == name]
        )

    async def _kv_get(self, request: web.Request) -> web.Response:
        await self._block(request)
        key = request.match_info["key"]
        if "keys" in request.query:
            keys = sorted(k for k in self.state.kv if k.startswith(key))
            return self._reply(keys) if keys else self._reply(None, 404)
        if "recurse" in request.query:
            entries = [dict(e) for k, e in sorted(self.state.kv.items()) if k.startswith(key)]
        else:
            entries = [dict(self.state.kv[key])] if key in self.state.kv else []
        if not entries:
            resp = web.Response(status=404)
            resp.headers["X-Consul-Index"] = str(self.state.index)
            return resp
        return self._reply(entries)

    async def _kv_put(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        body = await request.read()
        cas = request.query.get("cas")
        assert self._changed is not None
        async with self._changed:
            have = self.state.kv.get(key)
            if cas is not None:
                want = int(cas)
                current = have["ModifyIndex"] if have else 0
                if want != current:
                    return web.json_response(False)
            _kv_set(self.state, key, body)
            self.state.index += 1
            self._changed.notify_all()
        return web.json_response(True)

    async def _kv_delete(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        self.state.kv.pop(key, None)
        assert self._changed is not None
        async with self._changed:
            self.state.index += 1
            self._changed.notify_all()
        return web.json_response(True)

    async def _agent_self(self, request: web.Request) -> web.Response:
        return web.json_response({"Config": {"Datacenter": "dc1", "NodeName": NODE}})

    async def _register(self, request: web.Request) -> web.Response:
        body = await request.json()
        assert self._changed is not None
        async with self._changed:
            s = self.state
            s.registrations.append(body)
            sid = body.get("ID") or body["Name"]
            s.services[sid] = _service(
                NODE,
                sid,
                body["Name"],
                list(body.get("Tags") or []),
                body.get("Address", ""),
                int(body.get("Port", 0)),
                s.index,
            )
            checks = list(body.get("Checks") or []) + ([body["Check"]] if "Check" in body else [])
            for i, c in enumerate(checks):
                cid = c.get("CheckID") or f"service:{sid}:{i + 1}"
                # As in Consul, a new check starts critical until it is run or passed.
                s.checks[cid] = _check(NODE, cid, sid, body["Name"], "critical", s.index)
            s.index += 1
            self._changed.notify_all()
        return web.Response()

    async def _deregister(self, request: web.Request) -> web.Response:
        sid = request.match_info["id"]
        if sid not in self.state.services:
            return web.Response(status=404, text=f'Unknown service ID "{sid}"')
        assert self._changed is not None
        async with self._changed:
            self.state.services.pop(sid)
            for cid in [k for k, c in self.state.checks.items() if c["ServiceID"] == sid]:
                del self.state.checks[cid]
            self.state.index += 1
            self._changed.notify_all()
        return web.Response()

    async def _check_update(self, request: web.Request) -> web.Response:
        cid = request.match_info["id"]
        verb = request.path.split("/")[-2]
        new = {"pass": "passing", "warn": "warning", "fail": "critical"}[verb]
        c = self.state.checks.get(cid)
        if c is None:
            return web.Response(status=404, text=f'Unknown check ID "{cid}"')
        assert self._changed is not None
        async with self._changed:
            if c["Status"] != new:
                c["Status"] = new
                self.state.index += 1
                self._changed.notify_all()
        return web.Response()


def _service(
    node: str, sid: str, name: str, tags: list[str], address: str, port: int, index: int
) -> dict[str, Any]:
    return {
        "ID": "",
        "Node": node,
        "Address": "127.0.0.1",
        "Datacenter": "dc1",
        "TaggedAddresses": {},
        "NodeMeta": {},
        "ServiceKind": "",
        "ServiceID": sid,
        "ServiceName": name,
        "ServiceTags": tags,
        "ServiceAddress": address,
        "ServicePort": port,
        "ServiceMeta": {},
        "ServiceEnableTagOverride": False,
        "CreateIndex": index,
        "ModifyIndex": index,
    }


def _check(node: str, cid: str, sid: str, name: str, status: str, index: int) -> dict[str, Any]:
    return {
        "Node": node,
        "CheckID": cid,
        "Name": f"Service '{name}' check" if sid else cid,
        "Status": status,
        "Notes": "",
        "Output": "",
        "ServiceID": sid,
        "ServiceName": name,
        "ServiceTags": [],
        "Type": "",
        "CreateIndex": index,
        "ModifyIndex": index,
    }


def _kv_set(s: _State, key: str, value: bytes) -> None:
    have = s.kv.get(key)
    s.kv[key] = {
        "LockIndex": 0,
        "Key": key,
        "Flags": 0,
        "Value": base64.b64encode(value).decode() if value else None,
        "CreateIndex": have["CreateIndex"] if have else s.index + 1,
        "ModifyIndex": s.index + 1,
    }


@pytest.fixture(scope="module")
def consul() -> Iterator[ConsulAPI]:
    api = ConsulAPI().start()
    yield api
    api.stop()
