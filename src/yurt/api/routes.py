"""Declarative route tables: every API (catalog, scheduler, client, router admin) declares its
endpoints the same way, as a list of `Route`s that one function installs.

A table is data, so a test can enumerate it (the ACL tests prove each route guarded or open)
and a reader sees a resource's whole surface in one place. `write()` is Nomad's convention
that every write endpoint takes both PUT and POST, declared once instead of twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    """One path, the methods it answers and the handler that answers them."""

    methods: tuple[str, ...]
    path: str
    handler: Handler

    def __post_init__(self) -> None:
        if not self.methods:
            raise ValueError(f"route {self.path}: no methods")
        if not self.path.startswith("/"):
            raise ValueError(f"route {self.path!r}: a path starts with /")


def get(path: str, handler: Handler) -> Route:
    """GET (aiohttp answers HEAD for it too)."""
    return Route(("GET",), path, handler)


def put(path: str, handler: Handler) -> Route:
    return Route(("PUT",), path, handler)


def post(path: str, handler: Handler) -> Route:
    return Route(("POST",), path, handler)


def delete(path: str, handler: Handler) -> Route:
    return Route(("DELETE",), path, handler)


def write(path: str, handler: Handler) -> Route:
    """A Nomad write endpoint: PUT and POST mean the same."""
    return Route(("PUT", "POST"), path, handler)


def any_method(path: str, handler: Handler) -> Route:
    """Every method; the handler dispatches (proxies and forwarders)."""
    return Route(("*",), path, handler)


def add_routes(router: web.UrlDispatcher, routes: Iterable[Route]) -> None:
    """Install a table; a path declared twice for one method is a programming error."""
    seen: set[tuple[str, str]] = set()
    for route in routes:
        for method in route.methods:
            key = (method, route.path)
            if key in seen:
                raise ValueError(f"route {method} {route.path} declared twice")
            seen.add(key)
            if method == "GET":
                router.add_get(route.path, route.handler)
            else:
                router.add_route(method, route.path, route.handler)
