"""Target URLs parsed once and kept between table builds: the same targets, the same
errors, whatever was parsed before."""

from __future__ import annotations

import pytest

from yurt.router.commands import parse_line
from yurt.router.table import RouteError, Table, hostpath


def _targets(line: str) -> list[tuple[str, str, int, str, str, str, str]]:
    table = Table()
    table.apply(parse_line(line))
    return [
        (t.scheme, t.host, t.port, t.url_path, t.url_query, t.netloc, t.pool_key)
        for routes in table.hosts.values()
        for r in routes
        for t in r.targets
    ]


@pytest.mark.parametrize(
    ("dst", "want"),
    [
        ("http://10.0.0.1:8080/", ("http", "10.0.0.1", 8080, "/", "", "10.0.0.1:8080")),
        ("HTTPS://Web.Example/x?y=1", ("https", "web.example", 443, "/x", "y=1", "Web.Example")),
        ("http://[::1]/", ("http", "::1", 80, "/", "", "[::1]")),
    ],
)
def test_a_target_built_twice_is_the_same(dst: str, want: tuple[str, ...]) -> None:
    line = f"route add svc /p {dst}"
    first, again = _targets(line), _targets(line)
    assert first == again
    assert first[0][:6] == want


def test_a_bad_port_is_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(RouteError, match="invalid target"):
            _targets("route add svc /p http://h:99999/")


@pytest.mark.parametrize(
    ("line", "want"),
    [
        ("route add svc /p http://10.0.0.1:8080/", "10.0.0.1:8080"),
        ("route add svc /p http://[::1]/", "[::1]"),
        ("route add svc /p https://10.0.0.1:8443/", "10.0.0.1:8443 tls"),
        (
            'route add svc /p https://10.0.0.1:8443/ opts "tlsskipverify=true"',
            "10.0.0.1:8443 tls-unverified",
        ),
    ],
)
def test_pool_keys_keep_plain_verified_and_unverified_apart(line: str, want: str) -> None:
    table = Table()
    table.apply(parse_line(line))
    (target,) = (t for routes in table.hosts.values() for r in routes for t in r.targets)
    assert target.pool_key == want
    if target.scheme == "http":
        assert target.pool_key is target.netloc  # no string of its own


@pytest.mark.parametrize(
    ("src", "want"),
    [
        ("/a/b", ("", "/a/b")),
        ("Host.Example/a", ("Host.Example", "/a")),
        ("host", ("host", "/")),
        (":1234", (":1234", "")),
    ],
)
def test_hostpath_splits_as_fabio_does(src: str, want: tuple[str, str]) -> None:
    assert hostpath(src) == want
    if src.startswith("/"):
        assert hostpath(src)[1] is src  # kept per route: no copy of its own


def test_a_lower_case_route_keeps_one_path_string() -> None:
    table = Table()
    table.apply(parse_line("route add svc /p/q http://h:1/"))
    table.apply(parse_line("route add svc /P/Q http://h:1/"))
    routes = {r.path: r for routes in table.hosts.values() for r in routes}
    assert routes["/p/q"].path_lower is routes["/p/q"].path
    assert routes["/P/Q"].path_lower == "/p/q"


def test_an_unweighted_route_rings_its_targets_and_a_weighted_one_its_own_ring() -> None:
    table = Table()
    table.apply(parse_line("route add svc /p http://h:1/"))
    table.apply(parse_line("route add svc /p http://h:2/"))
    (route,) = (r for routes in table.hosts.values() for r in routes)
    assert route.ring is route.targets
    table.apply(parse_line("route add svc /p http://h:3/ weight 0.5"))
    (route,) = (r for routes in table.hosts.values() for r in routes)
    assert route.ring is not route.targets
    assert len(route.ring) == 10_000
    assert sum(t.dst == "http://h:3/" for t in route.ring) == 5_000
