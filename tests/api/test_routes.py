"""The declarative route table: what each constructor declares and how a table installs."""

from __future__ import annotations

import pytest
from aiohttp import web

from yurt.api import routes


async def _ok(request: web.Request) -> web.StreamResponse:
    return web.Response(text=request.method)


@pytest.mark.parametrize(
    ("make", "methods"),
    [
        (routes.get, ("GET",)),
        (routes.put, ("PUT",)),
        (routes.post, ("POST",)),
        (routes.delete, ("DELETE",)),
        (routes.write, ("PUT", "POST")),
        (routes.any_method, ("*",)),
    ],
)
def test_each_constructor_declares_its_methods(make, methods) -> None:  # type: ignore[no-untyped-def]
    route = make("/v1/x", _ok)
    assert route.methods == methods
    assert route.path == "/v1/x"
    assert route.handler is _ok


def test_a_path_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="starts with /"):
        routes.get("v1/x", _ok)


def test_installing_a_table_registers_every_method() -> None:
    app = web.Application()
    routes.add_routes(app.router, [routes.get("/v1/a", _ok), routes.write("/v1/b", _ok)])
    got = sorted(
        (r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None
    )
    assert got == [("GET", "/v1/a"), ("HEAD", "/v1/a"), ("POST", "/v1/b"), ("PUT", "/v1/b")]


def test_a_route_declared_twice_is_refused() -> None:
    app = web.Application()
    with pytest.raises(ValueError, match="PUT /v1/b declared twice"):
        routes.add_routes(app.router, [routes.write("/v1/b", _ok), routes.put("/v1/b", _ok)])
