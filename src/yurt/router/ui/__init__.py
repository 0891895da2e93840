"""The router's web UI on its UI address (Fabio's :9998): the routing table with a filter and
the manual-routes editor, rendered in the browser from Fabio's /api/ endpoints."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from yurt.ui import Shell, add_shell_routes

SHELL = Shell(
    product="router",
    home="/routes",
    assets="/assets",
    static_dir=Path(__file__).parent / "static",
    app_js="router.js",
    nav=(("/routes", "Routes"), ("/manual", "Manual overrides")),
    noscript=(
        "The routing table is at /api/routes (JSON; /api/routes?raw for route commands), "
        "the manual routes at /api/manual, the configuration at /api/config."
    ),
)


def add_routes(app: web.Application) -> None:
    """`/routes` (the table) and `/manual[/path]` (the editor); `/` redirects to `/routes`,
    as Fabio's UI does."""
    add_shell_routes(
        app,
        SHELL,
        pages=("/routes", "/manual", "/manual/{path:.*}"),
        redirects=(("/", "/routes"),),
    )
