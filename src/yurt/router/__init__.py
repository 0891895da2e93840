"""The Fabio role: routes from the catalog's `urlprefix-` tags and manual routes, an HTTP and
TCP proxy, and Fabio's UI and API.

`Router(RouterConfig)` is the component; `Table`, `parse` and `service_commands` are the
routing table, the route command language and the tag grammar for those who need them alone.
"""

from yurt.router.commands import RouteDef, RouteSyntaxError, parse
from yurt.router.config import ConfigError, Listener, RouterConfig, load
from yurt.router.server import Router
from yurt.router.table import Table, Target
from yurt.router.tags import parse_urlprefix, service_commands

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
