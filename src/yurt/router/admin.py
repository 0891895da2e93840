"""The UI and API on :9998, as Fabio serves them.

`/api/routes` (one object per target, `null` for an empty table; `?raw` for route commands),
`/api/manual[/key]` (GET value and version; PUT with compare-and-set, 409 when stale),
`/api/paths`, `/api/config`, `/api/version`, `/health`. The HTML pages live in
`yurt.router.ui`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from yurt import __version__
from yurt.router import ui as router_ui
from yurt.router.commands import RouteSyntaxError, parse
from yurt.router.consul import ConsulError

if TYPE_CHECKING:
    from yurt.router.server import Router

FABIO_COMPAT_VERSION = "1.7.0"


def _json(request: web.Request, data: Any, status: int = 200) -> web.Response:
    pretty = "pretty" in request.query
    text = json.dumps(data, indent=4 if pretty else None)
    return web.Response(text=text, status=status, content_type="application/json", charset="utf-8")


def build_app(router: Router) -> web.Application:
    """The admin application: every route of the UI address is added here."""
    app = web.Application()
    cfg = router.config

    def manual_key(request: web.Request) -> str:
        sub = request.match_info.get("key", "")
        # Dot segments (`%2E%2E%2F` arrives decoded) would leave kvpath once the catalog's URL
        # is normalised: `..%2F..%2Fx` read and wrote the KV key `x`. Go's ServeMux never
        # lets such a path reach Fabio's handler.
        if any(part in (".", "..") for part in sub.split("/")):
            raise web.HTTPBadRequest(
                text=f"invalid manual path {sub!r}: '.' and '..' segments are not allowed\n"
            )
        return cfg.kv_path + ("/" + sub.strip("/") if sub.strip("/") else "")

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def api_routes(request: web.Request) -> web.Response:
        table = router.settings.table
        if "raw" in request.query:
            return web.Response(text=str(table) + "\n", content_type="text/plain")
        return _json(request, table.api_routes())

    async def api_version(request: web.Request) -> web.Response:
        return web.Response(text=f"{FABIO_COMPAT_VERSION} (yurt {__version__})\n")

    async def api_config(request: web.Request) -> web.Response:
        return _json(request, cfg.api_config())

    # Manual routes live in Consul's KV; the static and file backends have none (Fabio's
    # answer: an empty value, and nothing can be written).
    catalog = cfg.registry_backend == "consul"

    async def api_paths(request: web.Request) -> web.Response:
        if not catalog:
            return _json(request, [])
        try:
            keys = await router.consul.kv_keys(cfg.kv_path)
        except ConsulError as exc:
            return web.Response(status=500, text=str(exc) + "\n")
        prefix = cfg.kv_path
        paths = sorted(k[len(prefix) :] for k in keys if k == prefix or k.startswith(prefix + "/"))
        return _json(request, paths)

    async def api_manual_get(request: web.Request) -> web.Response:
        if not catalog:
            return _json(request, {"value": "", "version": "0"})
        try:
            value, version, _ = await router.consul.kv_get(manual_key(request))
        except ConsulError as exc:
            return web.Response(status=500, text=str(exc) + "\n")
        return _json(
            request,
            {"value": (value or b"").decode("utf-8", "replace"), "version": str(version)},
        )

    async def api_manual_put(request: web.Request) -> web.Response:
        if cfg.ui_access != "rw":
            return web.Response(status=403, text="forbidden: ui.access is ro\n")
        if not catalog:
            return web.Response(
                status=400,
                text=f"manual routes need registry.backend=consul (this router uses "
                f"{cfg.registry_backend})\n",
            )
        raw = await request.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return web.Response(
                status=400, text=f"request body is not UTF-8: invalid byte at offset {exc.start}\n"
            )
        try:
            body = json.loads(text or "null")
        except json.JSONDecodeError as exc:
            return web.Response(
                status=400,
                text=f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}\n",
            )
        except RecursionError:
            return web.Response(status=400, text="invalid JSON: nested too deeply\n")
        if not isinstance(body, dict) or not isinstance(body.get("value", ""), str):
            return web.Response(
                status=400, text='expected {"value": "<route commands>", "version": "<index>"}\n'
            )
        value = body.get("value", "")
        raw_version = body.get("version", "0")
        try:
            version = int(str(raw_version or "0"))
        except ValueError:
            return web.Response(
                status=400, text=f"version: expected an integer string, got {raw_version!r}\n"
            )
        key = manual_key(request)
        try:
            parse(value, source=key)
        except RouteSyntaxError as exc:
            return web.Response(status=400, text=f"{exc}\n")
        try:
            ok = await router.consul.kv_cas(key, value, version)
        except ConsulError as exc:
            return web.Response(status=500, text=str(exc) + "\n")
        if not ok:
            return web.Response(status=409, text="version mismatch\n")
        return web.Response(status=200)

    app.router.add_get("/health", health)
    app.router.add_get("/api/routes", api_routes)
    app.router.add_get("/api/version", api_version)
    app.router.add_get("/api/config", api_config)
    app.router.add_get("/api/paths", api_paths)
    for path in ("/api/manual", "/api/manual/{key:.*}"):
        app.router.add_get(path, api_manual_get)
        app.router.add_put(path, api_manual_put)
    # The HTML pages (/, /routes, /manual) belong to src/yurt/router/ui/ and are mounted here.
    router_ui.add_routes(app)
    return app
