"""The catalog's web UI at /ui/<dc>/ (Consul's URL scheme): services with their instances and
checks, nodes, and the key/value browser and editor, rendered in the browser from Consul's
HTTP API."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from yurt.catalog.api_common import SERVER_KEY
from yurt.ui import Shell, add_shell_routes

STATIC_DIR = Path(__file__).parent / "static"


def shell(datacenter: str) -> Shell:
    base = f"/ui/{datacenter}"
    return Shell(
        product="catalog",
        home=f"{base}/services",
        assets="/ui/assets",
        static_dir=STATIC_DIR,
        app_js="catalog.js",
        nav=(
            (f"{base}/services", "Services"),
            (f"{base}/nodes", "Nodes"),
            (f"{base}/kv/", "Key/Value"),
            (f"{base}/acls/tokens", "Tokens"),
        ),
        noscript="Services: /v1/catalog/services, nodes: /v1/catalog/nodes, keys: /v1/kv/.",
    )


def add_routes(app: web.Application) -> None:
    """Serve the UI's pages and files; `/` and `/ui/` lead to this datacenter's services."""
    datacenter = app[SERVER_KEY].config.datacenter
    add_shell_routes(
        app,
        shell(datacenter),
        redirects=(("/", "/ui/"), ("/ui", "/ui/"), ("/ui/", f"/ui/{datacenter}/services")),
        pages=("/ui/{dc:[^/]+}/{page:(services|nodes|kv|acls).*}",),
    )
