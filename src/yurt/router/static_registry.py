"""Fabio's `static` and `file` registry backends: a routing table from route commands in
the configuration (`registry.static.routes`) or in a file read once at start
(`registry.file.path`), with no catalog at all. As in Fabio, the router then registers
nothing and has no manual routes; the no-route page comes from `registry.static.noroutehtml`
or the file `registry.file.noroutehtmlpath`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from yurt.router.commands import RouteSyntaxError, parse
from yurt.router.config import ConfigError, RouterConfig
from yurt.router.table import RouteError, Table


class StaticRegistry:
    """Builds the one table at start; the same surface as the catalog watcher."""

    def __init__(
        self,
        config: RouterConfig,
        on_table: Callable[[Table], None],
        on_noroute: Callable[[bytes], None],
    ) -> None:
        self.config = config
        self.on_table = on_table
        self.on_noroute = on_noroute
        self.errors: list[str] = []
        self.ready = asyncio.Event()

    def _sources(self) -> tuple[str, str, str]:
        """(route commands, where they came from, the no-route HTML)."""
        cfg = self.config
        if cfg.registry_backend == "static":
            return cfg.static_routes, "registry.static.routes", cfg.static_noroute_html
        path = cfg.file_routes_path
        if not path:
            raise ConfigError("registry.file.path: the file backend needs a routes file")
        try:
            routes = Path(path).read_text(encoding="utf-8")
            html = ""
            if cfg.file_noroute_html_path:
                html = Path(cfg.file_noroute_html_path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"registry.file: cannot read {exc.filename}: {exc.strerror}"
            ) from None
        return routes, path, html

    async def start(self) -> None:
        routes, source, html = self._sources()
        try:
            defs = parse(routes)
        except RouteSyntaxError as exc:
            raise ConfigError(f"{source}:{exc.line}: {exc.message}") from None
        table = Table(glob=not self.config.glob_disabled)
        for d in defs:
            try:
                table.apply(d)
            except RouteError as exc:
                raise ConfigError(f"{source}: {exc}") from None
        for host_routes in table.hosts.values():
            host_routes.sort(key=lambda r: r.path, reverse=True)
        self.on_noroute(html.encode())
        self.on_table(table)
        self.ready.set()

    async def stop(self) -> None:
        return None
