"""The Fabio role: routes from the catalog's `urlprefix-` tags and manual routes, an HTTP and
TCP proxy, and Fabio's UI and API.

`Router(RouterConfig)` is the component; `Table`, `parse` and `service_commands` are the
routing table, the route command language and the tag grammar for those who need them alone.
All load lazily, so that `yurt.router.table` imports without the proxy or aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from yurt import lazy

if TYPE_CHECKING:
    from yurt.router.commands import RouteDef, RouteSyntaxError, parse
    from yurt.router.config import ConfigError, Listener, RouterConfig, load
    from yurt.router.server import Router
    from yurt.router.table import Table, Target
    from yurt.router.tags import parse_urlprefix, service_commands

_EXPORTS = {
    "ConfigError": "yurt.router.config",
    "Listener": "yurt.router.config",
    "RouteDef": "yurt.router.commands",
    "RouteSyntaxError": "yurt.router.commands",
    "Router": "yurt.router.server",
    "RouterConfig": "yurt.router.config",
    "Table": "yurt.router.table",
    "Target": "yurt.router.table",
    "load": "yurt.router.config",
    "parse": "yurt.router.commands",
    "parse_urlprefix": "yurt.router.tags",
    "service_commands": "yurt.router.tags",
}

__all__ = [
    "ConfigError",
    "Listener",
    "RouteDef",
    "RouteSyntaxError",
    "Router",
    "RouterConfig",
    "Table",
    "Target",
    "load",
    "parse",
    "parse_urlprefix",
    "service_commands",
]


def __getattr__(name: str) -> object:
    return lazy.load(__name__, _EXPORTS, name)
