"""The UI and API on :9998, as Fabio serves them.

`/api/routes` (one object per target, `null` for an empty table; `?raw` for route commands),
`/api/manual[/key]` (GET value and version; PUT with compare-and-set, 409 when stale),
`/api/paths`, `/api/config`, `/api/version`, `/health`; `/` redirects to `/routes`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from yurt import __version__
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
    app = web.Application()
    cfg = router.config

    def manual_key(request: web.Request) -> str:
        sub = request.match_info.get("key", "")
        return cfg.kv_path + ("/" + sub.strip("/") if sub.strip("/") else "")

    async def index(request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther("/routes")

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

    async def api_paths(request: web.Request) -> web.Response:
        try:
            keys = await router.consul.kv_keys(cfg.kv_path)
        except ConsulError as exc:
            return web.Response(status=500, text=str(exc) + "\n")
        prefix = cfg.kv_path
        paths = sorted(k[len(prefix) :] for k in keys if k == prefix or k.startswith(prefix + "/"))
        return _json(request, paths)

    async def api_manual_get(request: web.Request) -> web.Response:
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
        try:
            body = json.loads(await request.read() or b"null")
        except json.JSONDecodeError as exc:
            return web.Response(
                status=400,
                text=f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}\n",
            )
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

    async def routes_page(request: web.Request) -> web.Response:
        return web.Response(
            text=_routes_html(router, request.query.get("filter", "")), content_type="text/html"
        )

    async def manual_page(request: web.Request) -> web.Response:
        return web.Response(
            text=_manual_html(router, request.match_info.get("key", "")), content_type="text/html"
        )

    app.router.add_get("/", index)
    app.router.add_get("/health", health)
    app.router.add_get("/routes", routes_page)
    app.router.add_get("/manual", manual_page)
    app.router.add_get("/manual/{key:.*}", manual_page)
    app.router.add_get("/api/routes", api_routes)
    app.router.add_get("/api/version", api_version)
    app.router.add_get("/api/config", api_config)
    app.router.add_get("/api/paths", api_paths)
    for path in ("/api/manual", "/api/manual/{key:.*}"):
        app.router.add_get(path, api_manual_get)
        app.router.add_put(path, api_manual_put)
    return app


_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#222}
header{background:#7cb342;color:#fff;padding:.6em 1em;display:flex;gap:1.5em;align-items:center}
header a{color:#fff;text-decoration:none}
main{padding:1em}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd;font-size:.9em}
input,textarea{font:inherit;padding:.3em}
textarea{width:100%;font-family:monospace}
.err{background:#fdecea;color:#8a1c12;padding:.5em;margin:.5em 0}
"""


def _page(router: Router, title: str, body: str) -> str:
    name = html.escape(router.config.ui_title or "yurt router")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)} - {name}"
        f"</title><style>{_STYLE}</style></head><body><header><strong>{name}</strong>"
        "<a href='/routes'>Routes</a><a href='/manual'>Manual overrides</a></header>"
        f"<main>{body}</main></body></html>"
    )


def _routes_html(router: Router, filt: str) -> str:
    rows: list[str] = []
    routes = router.settings.table.api_routes() or []
    words = filt.lower().split()
    n = 0
    for r in routes:
        text = " ".join(str(r[k]) for k in ("service", "src", "dst", "opts")).lower()
        if words and not all(w in text for w in words):
            continue
        n += 1
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (n, r["service"], r["src"], r["dst"], r["opts"])
            )
            + f"<td>{r['weight'] * 100:.2f}%</td></tr>"
        )
    errors = "".join(f"<div class='err'>{html.escape(e)}</div>" for e in router.errors)
    script = (
        "<script>const f=document.getElementById('filter');f.addEventListener('input',()=>{"
        "const w=f.value.toLowerCase().split(/\\s+/).filter(x=>x);"
        "document.querySelectorAll('tbody tr').forEach(tr=>{const t=tr.textContent.toLowerCase();"
        "tr.style.display=w.every(x=>t.includes(x))?'':'none'});});</script>"
    )
    body = (
        f"<h1>Routing table</h1>{errors}<form method='get'><input id='filter' name='filter' "
        f"placeholder='filter routes' value='{html.escape(filt)}'></form>"
        "<table><thead><tr><th>#</th><th>Service</th><th>Source</th><th>Dest</th>"
        f"<th>Options</th><th>Weight</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        + script
    )
    return _page(router, "Routes", body)


def _manual_html(router: Router, key: str) -> str:
    api = "/api/manual" + ("/" + key if key else "")
    ro = router.config.ui_access != "rw"
    body = (
        f"<h1>Manual overrides{(' : ' + html.escape(key)) if key else ''}</h1>"
        "<div id='msg'></div><textarea id='value' rows='20'"
        + (" readonly" if ro else "")
        + "></textarea><p>"
        + ("" if ro else "<button id='save'>Save</button>")
        + "</p><script>"
        f"const api={json.dumps(api)};let version='0';"
        "const msg=(t,e)=>{const m=document.getElementById('msg');m.textContent=t;"
        "m.className=e?'err':''};"
        "async function load(){const r=await fetch(api);const j=await r.json();"
        "document.getElementById('value').value=j.value;version=j.version;}"
        "const b=document.getElementById('save');if(b)b.onclick=async()=>{"
        "const r=await fetch(api,{method:'PUT',headers:{'Content-Type':'application/json'},"
        "body:JSON.stringify({value:document.getElementById('value').value,version:version})});"
        "if(r.ok){msg('saved');load();}else{msg(r.status+': '+await r.text(),true);}};"
        "load();</script>"
    )
    return _page(router, "Manual", body)


Factory = Callable[[], web.Application]
