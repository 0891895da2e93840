"""Serving a single-page UI from aiohttp: static assets and the HTML shell for its paths."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from aiohttp import web

from yurt.api import routes

STATIC_DIR = Path(__file__).parent / "static"
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("yurt.ui", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)

Nav = tuple[str, str]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Shell:
    """What a component's pages share: product name, navigation, and its JS file."""

    product: str
    home: str
    assets: str
    static_dir: Path
    app_js: str
    nav: Sequence[Nav] = field(default_factory=tuple)
    # Shown without JavaScript: where the same data is in the API.
    noscript: str = ""

    def render(self) -> str:
        return _TEMPLATES.get_template("shell.html").render(
            product=self.product,
            home=self.home,
            assets=self.assets,
            app_js=self.app_js,
            nav=list(self.nav),
            noscript=self.noscript,
            v={
                "css": _version(STATIC_DIR / "yurt.css"),
                "js": _version(STATIC_DIR / "yurt.js"),
                "app": _version(self.static_dir / self.app_js),
            },
        )


def _version(path: Path) -> str:
    """A digest of a static file for its URL, so a browser never runs a stale copy after an
    upgrade while still caching it between pages."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _page(html: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        # The shell is tiny and names no data; never let a browser keep a stale one.
        return web.Response(
            text=html, content_type="text/html", headers={"Cache-Control": "no-cache"}
        )

    return handler


def _redirect(to: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(to)

    return handler


def add_shell_routes(
    app: web.Application,
    shell: Shell,
    *,
    pages: Sequence[str],
    redirects: Sequence[tuple[str, str]] = (),
) -> None:
    """Serve the shared and the component's static files under `shell.assets`, the shell at
    each of `pages` (aiohttp route patterns), and the given redirects."""
    app.router.add_static(f"{shell.assets}/yurt", STATIC_DIR, append_version=False)
    app.router.add_static(f"{shell.assets}/app", shell.static_dir, append_version=False)
    handler = _page(shell.render())
    table = [routes.get(path, _redirect(to)) for path, to in redirects]
    table += [routes.get(path, handler) for path in pages]
    routes.add_routes(app.router, table)
