"""The UI and API on :9998, as Fabio serves them, built from one route table per resource:
`admin_table` (`/api/routes`), `admin_manual` (`/api/paths`, `/api/manual[/key]`),
`admin_status` (`/health`, `/api/version`, `/api/config`). The HTML pages live in
`yurt.router.ui`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from yurt.api.routes import Route, add_routes
from yurt.router import admin_manual, admin_status, admin_table
from yurt.router import ui as router_ui
from yurt.router.admin_common import ROUTER_KEY

if TYPE_CHECKING:
    from yurt.router.server import Router

API: tuple[Route, ...] = (*admin_status.ROUTES, *admin_table.ROUTES, *admin_manual.ROUTES)


def build_app(router: Router) -> web.Application:
    """The admin application: every route of the UI address is added here."""
    app = web.Application()
    app[ROUTER_KEY] = router
    add_routes(app.router, API)
    # The HTML pages (/, /routes, /manual) belong to src/yurt/router/ui/ and are mounted here.
    router_ui.add_routes(app)
    return app
