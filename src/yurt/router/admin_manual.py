"""The manual routes, kept in the catalog's KV under `registry.consul.kvpath`:
`/api/paths` lists them, `GET /api/manual[/key]` reads one with its version, and `PUT`
writes one with compare-and-set (409 when the version is stale), as Fabio's UI does.

The static and file backends have none: Fabio answers an empty value and takes no write."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.consul_api.client import ConsulError
from yurt.router.admin_common import json_answer, router_of
from yurt.router.commands import RouteSyntaxError, parse


def _in_catalog(request: web.Request) -> bool:
    return router_of(request).config.registry_backend == "consul"


def _key(request: web.Request) -> str:
    sub = request.match_info.get("key", "")
    # Dot segments (`%2E%2E%2F` arrives decoded) would leave kvpath once the catalog's URL
    # is normalised: `..%2F..%2Fx` read and wrote the KV key `x`. Go's ServeMux never
    # lets such a path reach Fabio's handler.
    if any(part in (".", "..") for part in sub.split("/")):
        raise web.HTTPBadRequest(
            text=f"invalid manual path {sub!r}: '.' and '..' segments are not allowed\n"
        )
    return router_of(request).config.kv_path + ("/" + sub.strip("/") if sub.strip("/") else "")


def _text(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n")


async def paths(request: web.Request) -> web.Response:
    if not _in_catalog(request):
        return json_answer(request, [])
    router = router_of(request)
    prefix = router.config.kv_path
    try:
        keys = await router.consul.kv_keys(prefix)
    except ConsulError as exc:
        return _text(500, str(exc))
    found = sorted(k[len(prefix) :] for k in keys if k == prefix or k.startswith(prefix + "/"))
    return json_answer(request, found)


async def read(request: web.Request) -> web.Response:
    if not _in_catalog(request):
        return json_answer(request, {"value": "", "version": "0"})
    try:
        value, version, _ = await router_of(request).consul.kv_get(_key(request))
    except ConsulError as exc:
        return _text(500, str(exc))
    return json_answer(
        request,
        {"value": (value or b"").decode("utf-8", "replace"), "version": str(version)},
    )


def _decode(raw: bytes) -> tuple[Any, web.Response | None]:
    """The body as JSON, or the 400 that says why it is not."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, _text(400, f"request body is not UTF-8: invalid byte at offset {exc.start}")
    try:
        return json.loads(text or "null"), None
    except json.JSONDecodeError as exc:
        return None, _text(400, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
    except RecursionError:
        return None, _text(400, "invalid JSON: nested too deeply")


async def write(request: web.Request) -> web.Response:
    router = router_of(request)
    cfg = router.config
    if cfg.ui_access != "rw":
        return _text(403, "forbidden: ui.access is ro")
    if not _in_catalog(request):
        return _text(
            400,
            f"manual routes need registry.backend=consul (this router uses {cfg.registry_backend})",
        )
    body, refused = _decode(await request.read())
    if refused is not None:
        return refused
    if not isinstance(body, dict) or not isinstance(body.get("value", ""), str):
        return _text(400, 'expected {"value": "<route commands>", "version": "<index>"}')
    value = body.get("value", "")
    raw_version = body.get("version", "0")
    try:
        version = int(str(raw_version or "0"))
    except ValueError:
        return _text(400, f"version: expected an integer string, got {raw_version!r}")
    key = _key(request)
    try:
        parse(value, source=key)
    except RouteSyntaxError as exc:
        return _text(400, str(exc))
    try:
        ok = await router.consul.kv_cas(key, value, version)
    except ConsulError as exc:
        return _text(500, str(exc))
    if not ok:
        return _text(409, "version mismatch")
    return web.Response(status=200)


ROUTES = (
    routes.get("/api/paths", paths),
    routes.get("/api/manual", read),
    routes.put("/api/manual", write),
    routes.get("/api/manual/{key:.*}", read),
    routes.put("/api/manual/{key:.*}", write),
)
