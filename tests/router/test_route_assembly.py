"""The routes kept service by service: a route several services add to, as they come and go."""

from __future__ import annotations

from yurt.router.commands import parse_line
from yurt.router.route_assembly import RouteAssembly, ServiceRoutes, service_routes


def _routes(*lines: str) -> ServiceRoutes:
    return service_routes((line, parse_line(line), "") for line in lines)


def _targets(a: RouteAssembly) -> dict[str, list[str]]:
    table = a.table(glob=False)
    return {
        r.path: sorted(t.dst for t in r.targets) for routes in table.hosts.values() for r in routes
    }


def test_a_route_two_services_add_to_keeps_the_one_left() -> None:
    a = RouteAssembly()
    a.set("api", _routes("route add api /a http://10.0.0.1:1/"))
    a.set(
        "web", _routes("route add web /a http://10.0.0.2:1/", "route add web /w http://10.0.0.2:1/")
    )
    assert _targets(a) == {
        "/a": ["http://10.0.0.1:1/", "http://10.0.0.2:1/"],
        "/w": ["http://10.0.0.2:1/"],
    }
    a.set("api", None)
    assert _targets(a) == {"/a": ["http://10.0.0.2:1/"], "/w": ["http://10.0.0.2:1/"]}
    a.set("api", _routes("route add api /a http://10.0.0.1:1/"))
    a.set("web", _routes("route add web /w http://10.0.0.2:1/"))  # leaves /a only
    assert _targets(a) == {"/a": ["http://10.0.0.1:1/"], "/w": ["http://10.0.0.2:1/"]}
    a.set("web", None)
    a.set("api", None)
    assert _targets(a) == {}
    assert a._adders == {}


def test_a_service_set_twice_counts_once() -> None:
    a = RouteAssembly()
    a.set("api", _routes("route add api /a http://10.0.0.1:1/"))
    a.set("api", _routes("route add api /a http://10.0.0.9:1/"))
    assert _targets(a) == {"/a": ["http://10.0.0.9:1/"]}
    a.set("api", None)
    assert _targets(a) == {}


def test_errors_of_generated_routes_are_kept_in_order() -> None:
    routes = service_routes(
        [
            ("bad one", None, "unknown command"),
            ("route add a /x http://h:1/", parse_line("route add a /x http://h:1/"), ""),
        ]
    )
    assert routes.errors == ("generated route 'bad one': unknown command",)
    assert _routes("route add a /x http://h:1/").errors == ()


def test_a_service_adding_to_two_routes_keeps_each_ones_commands() -> None:
    routes = _routes(
        "route add a /x http://h:1/", "route add a /y http://h:2/", "route add a /x http://h:3/"
    )
    assert routes.keys() == {("", "/x"), ("", "/y")}
    assert [d.dst for d in routes.defs(("", "/x"))] == ["http://h:1/", "http://h:3/"]
    assert routes.defs(("", "/z")) == ()
