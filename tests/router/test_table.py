"""Routing table: building, deleting, weights on the 10,000-slot ring, lookups."""

from __future__ import annotations

from collections import Counter

import pytest

from yurt.router.table import (
    MATCHERS,
    PICKERS,
    RouteError,
    Table,
    normalize_host,
    redirect_url,
)

rr = PICKERS["rr"]
prefix = MATCHERS["prefix"]


def dsts(t: Table) -> list[tuple[str, str, str]]:
    return [(r["service"], r["src"], r["dst"]) for r in t.api_routes() or []]


def test_empty_table_is_null() -> None:
    assert Table.from_text("").api_routes() is None


def test_api_routes_fields_and_order() -> None:
    t = Table.from_text(
        "route add b /b http://h:2/\n"
        'route add a /a http://h:1/ tags "x,y" opts "strip=/a host=dst"\n'
        "route add c www.example.com/ http://h:3/\n"
    )
    routes = t.api_routes()
    assert routes is not None
    assert [r["src"] for r in routes] == ["/b", "/a", "www.example.com/"]
    a = routes[1]
    assert a == {
        "service": "a",
        "host": "",
        "path": "/a",
        "src": "/a",
        "dst": "http://h:1/",
        "opts": "host=dst strip=/a",
        "weight": 1.0,
        "tags": ["x", "y"],
        "cmd": "route add",
        "rate1": 0,
        "pct99": 0,
    }
    assert "tags" not in routes[0]


def test_aliases_are_the_register_options_in_table_order_each_once() -> None:
    t = Table.from_text(
        'route add a b.example/ http://10.0.0.1:80/ opts "register=b-alias"\n'
        'route add a a.example/ http://10.0.0.2:80/ opts "register=a-alias strip=/x"\n'
        'route add c a.example/ http://10.0.0.3:80/ opts "register=a-alias"\n'
        "route add d /plain http://10.0.0.4:80/\n"
        'route add e /gone http://10.0.0.5:80/ opts "register=gone"\n'
        "route del e\n"
    )
    assert t.aliases() == ["a-alias", "b-alias"]  # hosts in name order
    assert Table().aliases() == []


def test_add_dedups_and_groups_targets() -> None:
    t = Table.from_text(
        "route add s /p http://h:1/\nroute add s /p http://h:1/\nroute add s /p http://h:2/"
    )
    assert [r["weight"] for r in t.api_routes() or []] == [0.5, 0.5]


@pytest.mark.parametrize(
    ("cmd", "left"),
    [
        ("route del a", [("b", "/p", "http://h:2/"), ("b", "/q", "http://h:3/")]),
        (
            "route del a /p",
            [("a", "/q", "http://h:4/"), ("b", "/p", "http://h:2/"), ("b", "/q", "http://h:3/")],
        ),
        (
            "route del b /p http://h:2/",
            [("a", "/q", "http://h:4/"), ("b", "/q", "http://h:3/"), ("a", "/p", "http://h:1/")],
        ),
        ('route del tags "blue"', [("a", "/q", "http://h:4/"), ("a", "/p", "http://h:1/")]),
        (
            'route del a tags "green"',
            [("b", "/q", "http://h:3/"), ("a", "/q", "http://h:4/"), ("b", "/p", "http://h:2/")],
        ),
        ("route del nobody", None),
    ],
)
def test_delete_forms(cmd: str, left: list[tuple[str, str, str]] | None) -> None:
    base = (
        'route add a /p http://h:1/ tags "green"\n'
        'route add b /p http://h:2/ tags "blue"\n'
        'route add b /q http://h:3/ tags "blue"\n'
        'route add a /q http://h:4/ tags "red"\n'
    )
    t = Table.from_text(base + cmd)
    if left is None:
        assert len(dsts(t)) == 4
    else:
        assert sorted(dsts(t)) == sorted(left)


def test_delete_removes_empty_routes_and_hosts() -> None:
    t = Table.from_text("route add a x.com/ http://h:1/\nroute del a")
    assert t.hosts == {}


@pytest.mark.parametrize(
    ("cmds", "want"),
    [
        # no fixed weights: equal shares
        ("", {"a1": 1 / 3, "a2": 1 / 3, "b1": 1 / 3}),
        # 20% to b, the rest shared by a1 and a2
        ("route weight b /p weight 0.2", {"a1": 0.4, "a2": 0.4, "b1": 0.2}),
        # the weight is shared by all matching targets
        ("route weight a /p weight 0.5", {"a1": 0.25, "a2": 0.25, "b1": 0.5}),
        # sum of fixed weights > 1 is normalized, dynamic ones get nothing
        (
            "route weight a /p weight 1.0\nroute weight b /p weight 1.0",
            {"a1": 0.25, "a2": 0.25, "b1": 0.5},
        ),
        # all fixed, sum < 1: scaled up
        (
            "route weight a /p weight 0.2\nroute weight b /p weight 0.2",
            {"a1": 0.25, "a2": 0.25, "b1": 0.5},
        ),
        # by tags only
        ('route weight /p weight 0.1 tags "v2"', {"a1": 0.45, "a2": 0.1, "b1": 0.45}),
    ],
)
def test_weights(cmds: str, want: dict[str, float]) -> None:
    t = Table.from_text(
        "route add a /p http://a1:1/\n"
        'route add a /p http://a2:1/ tags "v2"\n'
        "route add b /p http://b1:1/\n" + cmds
    )
    route = t.hosts[""][0]
    got = {tg.host: tg.weight for tg in route.targets}
    assert got == pytest.approx(want)
    # The ring holds the targets in proportion to their weights.
    counts = Counter(tg.host for tg in route.ring)
    total = len(route.ring)
    for host, w in want.items():
        assert counts[host] / total == pytest.approx(w, abs=0.001)


def test_ring_is_10000_slots_and_interleaved() -> None:
    t = Table.from_text(
        "route add a /p http://a:1/\nroute add b /p http://b:1/\nroute weight a /p weight 0.5"
    )
    ring = t.hosts[""][0].ring
    assert len(ring) == 10_000
    # evenly spread: no long runs of one target
    assert [x.host for x in ring[:4]] in (["a", "b", "a", "b"], ["b", "a", "b", "a"])


def test_small_weight_gets_at_least_one_slot() -> None:
    t = Table.from_text(
        "route add a /p http://a:1/\nroute add b /p http://b:1/\nroute weight b /p weight 0.00001"
    )
    ring = t.hosts[""][0].ring
    assert sum(1 for x in ring if x.host == "b") == 1


def test_weight_without_match_is_an_error() -> None:
    with pytest.raises(RouteError, match="no target match"):
        Table.from_text("route add a /p http://a:1/\nroute weight z /p weight 0.5")


def test_round_robin_follows_the_ring() -> None:
    t = Table.from_text("route add a /p http://a:1/\nroute add a /p http://b:1/")
    seen = [t.lookup("", "/p", rr, prefix).host for _ in range(4)]  # type: ignore[union-attr]
    assert sorted(seen) == ["a", "a", "b", "b"]
    assert seen[0] != seen[1]


def test_random_picks_by_weight() -> None:
    t = Table.from_text(
        "route add a /p http://a:1/\nroute add a /p http://b:1/\nroute weight a /p weight 0.9 "
        'tags "x"\n'.replace(' tags "x"', "")
    )
    # a and b share the 90% here (both are service a); just check both are picked
    hits = Counter(t.lookup("", "/p", PICKERS["rnd"], prefix).host for _ in range(2000))  # type: ignore[union-attr]
    assert set(hits) == {"a", "b"}


LOOKUP_TABLE = """
route add root / http://root:1/
route add foo /foo http://foo:1/
route add foobar /foo/bar http://foobar:1/
route add host www.example.com/ http://www:1/
route add hostfoo www.example.com/foo http://wwwfoo:1/
route add glob *.example.com/ http://glob:1/
route add deeper *.a.example.com/ http://deeper:1/
route add port example.org:8080/ http://port:1/
route add Case /Mixed http://mixed:1/
"""


@pytest.mark.parametrize(
    ("host", "path", "want"),
    [
        ("", "/", "root"),
        ("other.com", "/x", "root"),
        ("other.com", "/foo", "foo"),
        ("other.com", "/foo/", "foo"),
        ("other.com", "/foo/bar/baz", "foobar"),
        ("other.com", "/foobar", "foo"),
        ("www.example.com", "/", "www"),
        ("WWW.Example.com", "/", "www"),
        ("www.example.com:80", "/", "www"),
        ("www.example.com", "/foo/x", "wwwfoo"),
        ("api.example.com", "/", "glob"),
        ("x.a.example.com", "/", "deeper"),
        ("example.org:8080", "/", "port"),
        ("example.org", "/", "root"),
        ("h", "/mixed", "root"),
        ("h", "/Mixed/x", "mixed"),
    ],
)
def test_lookup(host: str, path: str, want: str) -> None:
    t = Table.from_text(LOOKUP_TABLE)
    target = t.lookup(host, path, rr, prefix)
    assert target is not None and target.host == want


def test_host_route_falls_back_to_hostless_when_no_path_matches() -> None:
    t = Table.from_text("route add h www.a.com/foo http://h:1/\nroute add r / http://r:1/")
    target = t.lookup("www.a.com", "/bar", rr, prefix)
    assert target is not None and target.host == "r"


def test_lookup_without_route() -> None:
    t = Table.from_text("route add foo /foo http://foo:1/")
    assert t.lookup("h", "/bar", rr, prefix) is None


def test_glob_disabled_matches_exactly() -> None:
    t = Table.from_text("route add g *.a.com/ http://g:1/", glob=False)
    assert t.lookup("x.a.com", "/", rr, prefix) is None


@pytest.mark.parametrize(
    ("matcher", "path", "want"),
    [
        ("prefix", "/API/x", None),
        ("iprefix", "/API/x", "api"),
        ("glob", "/img/a.png", "png"),
        ("glob", "/img/a.gif", None),
    ],
)
def test_matchers(matcher: str, path: str, want: str | None) -> None:
    t = Table.from_text("route add a /api http://api:1/\nroute add p /img/*.png http://png:1/")
    target = t.lookup("", path, rr, MATCHERS[matcher])
    assert (target.host if target else None) == want


@pytest.mark.parametrize(
    ("dst", "path", "query", "want"),
    [
        ("https://www.b.com/", "/x", "", "https://www.b.com/"),
        ("https://www.b.com$path", "/x/y", "q=1", "https://www.b.com/x/y?q=1"),
        ("https://www.b.com/$path", "/x", "", "https://www.b.com/x"),
        ("https://www.b.com/new$path", "/x", "", "https://www.b.com/new/x"),
        ("https://$host$path", "/x", "", "https://a.com/x"),
        ("https://www.b.com/?a=b", "/x", "q=1", "https://www.b.com/?a=b"),
    ],
)
def test_redirect_urls(dst: str, path: str, query: str, want: str) -> None:
    t = Table.from_text(f'route add r a.com/ {dst} opts "redirect=301"')
    target = t.hosts["a.com"][0].targets[0]
    assert target.redirect_code == 301
    assert redirect_url(target, "a.com", path, query) == want


@pytest.mark.parametrize(
    ("route", "opts", "path", "query", "want"),
    [
        # Rows in the spirit of Fabio's TestTarget_BuildRedirectURL (request host foo.com).
        ("/ http://bar.com/", "", "/a/b/c", "aaa=1", "http://bar.com/"),
        ("/ http://bar.com/a/b/c?foo=bar", "", "/abc", "aaa=1", "http://bar.com/a/b/c?foo=bar"),
        ("*:80/ https://$host/", "", "/abc", "", "https://foo.com/"),
        ("/ http://bar.com/$path", "", "/abc/", "aaa=1", "http://bar.com/abc/?aaa=1"),
        ("*:80/ https://$host/bbb$path", "", "/a/b/c", "", "https://foo.com/bbb/a/b/c"),
        ("/stripme http://bar.com/$path", "strip=/stripme", "/stripme/", "", "http://bar.com/"),
        (
            "/stripme http://bar.com/$path",
            "strip=/stripme",
            "/stripme/abc/",
            "aaa=1",
            "http://bar.com/abc/?aaa=1",
        ),
        # strip= comes off the request path before it goes into the target's path...
        (
            "/stripme https://bar.com/bbb$path",
            "strip=/stripme",
            "/stripme/abc",
            "",
            "https://bar.com/bbb/abc",
        ),
        (
            "/stripme https://bar.com/bbb/$path",
            "strip=/stripme",
            "/stripme",
            "",
            "https://bar.com/bbb",
        ),
        # ... then prepend= goes in front of it.
        (
            "/pp https://bar.com$path",
            "prepend=/pre",
            "/pp/abc",
            "",
            "https://bar.com/pre/pp/abc",
        ),
        (
            "/pp https://bar.com/x$path",
            "strip=/pp prepend=/pre",
            "/pp/abc",
            "q=1",
            "https://bar.com/x/pre/abc?q=1",
        ),
        # Without $path neither applies.
        ("/pp https://bar.com/x", "strip=/pp prepend=/pre", "/pp/abc", "", "https://bar.com/x"),
    ],
)
def test_redirect_urls_as_fabio(route: str, opts: str, path: str, query: str, want: str) -> None:
    t = Table.from_text(f'route add svc {route} opts "redirect=301 {opts}"')
    target = t.all_targets()[0]
    assert target.redirect_code == 301
    assert redirect_url(target, "foo.com", path, query) == want


def test_redirect_to_itself_is_skipped() -> None:
    t = Table.from_text(
        'route add r a.com/ http://a.com$path opts "redirect=301"\nroute add s / http://s:1/'
    )
    target = t.lookup("a.com", "/x", rr, prefix, scheme="http")
    assert target is not None and target.host == "s"
    target = t.lookup("a.com", "/x", rr, prefix, scheme="https")
    assert target is not None and target.redirect_code == 301


def test_redirect_code_outside_3xx_is_ignored() -> None:
    t = Table.from_text('route add r / http://x:1/ opts "redirect=200"')
    assert t.hosts[""][0].targets[0].redirect_code == 0


@pytest.mark.parametrize(
    ("opts", "ip", "denied"),
    [
        ("allow=ip:10.0.0.0/8", "10.1.2.3", False),
        ("allow=ip:10.0.0.0/8", "192.168.1.1", True),
        ("allow=ip:10.0.0.0/8,ip:127.0.0.1", "127.0.0.1", False),
        ("deny=ip:127.0.0.0/8", "127.0.0.1", True),
        ("deny=ip:127.0.0.0/8", "10.0.0.1", False),
        ("deny=ip:fe80::/10", "fe80::1", True),
    ],
)
def test_access_rules(opts: str, ip: str, denied: bool) -> None:
    t = Table.from_text(f'route add a / http://a:1/ opts "{opts}"')
    assert t.hosts[""][0].targets[0].access_denied([ip]) is denied


def test_tcp_routes() -> None:
    t = Table.from_text("route add db :6379 tcp://10.0.0.1:6379")
    target = t.lookup_tcp(":6379", rr)
    assert target is not None and (target.host, target.port) == ("10.0.0.1", 6379)
    assert t.api_routes() == [
        {
            "service": "db",
            "host": ":6379",
            "path": "",
            "src": ":6379",
            "dst": "tcp://10.0.0.1:6379",
            "opts": "",
            "weight": 1.0,
            "cmd": "route add",
            "rate1": 0,
            "pct99": 0,
        }
    ]


def test_routes_sorted_reverse_lexically() -> None:
    t = Table.from_text(
        "route add a / http://a:1/\nroute add b /b http://b:1/\nroute add c /bb http://c:1/"
    )
    assert [r.path for r in t.hosts[""]] == ["/bb", "/b", "/"]


@pytest.mark.parametrize(
    ("cmd", "want"),
    [
        # The text form Fabio prints (`/api/routes?raw`, the route log): options sorted by
        # name after the tags.
        (
            'route add svc-a / http://aaa.com/ weight 0.5 opts "strip=/foo"',
            'route add svc-a / http://aaa.com/ weight 0.5000 opts "strip=/foo"',
        ),
        (
            'route add s /p http://a:1/ tags "x,y" opts "strip=/p prepend=/q host=dst"',
            'route add s /p http://a:1/ tags "x,y" opts "host=dst prepend=/q strip=/p"',
        ),
        (
            'route add s /r https://b.com/bbb$path opts "strip=/r redirect=301"',
            'route add s /r https://b.com/bbb$path opts "redirect=301 strip=/r"',
        ),
        (
            'route add s / http://a:1/ opts "tlsskipverify"',
            'route add s / http://a:1/ opts "tlsskipverify="',
        ),
        # Fabio's hostpath: a source without a slash is the host's "/" route.
        ("route add s 1.1.1.1:999 http://a:1/", "route add s 1.1.1.1:999/ http://a:1/"),
        ("route add s Foo.COM http://a:1/", "route add s foo.com/ http://a:1/"),
        ("route add s 1.2.3.4:88 tcp://a:1", "route add s 1.2.3.4:88/ tcp://a:1"),
        ("route add s :88 tcp://a:1", "route add s :88 tcp://a:1"),
    ],
)
def test_raw_config_lines(cmd: str, want: str) -> None:
    assert Table.from_text(cmd).config() == [want]


def test_host_without_path_routes_http_and_tcp() -> None:
    t = Table.from_text("route add h 1.1.1.1:999 http://h:1/\nroute add t 1.2.3.4:88 tcp://t:2")
    target = t.lookup("1.1.1.1:999", "/any", rr, prefix)
    assert target is not None and target.host == "h"
    target = t.lookup_tcp("1.2.3.4:88", rr)
    assert target is not None and (target.host, target.port) == ("t", 2)


def test_raw_config_round_trips() -> None:
    text = (
        'route add a /p http://a:1/ weight 0.2500 tags "x" opts "strip=/p"\n'
        "route add b /p http://b:1/"
    )
    t = Table.from_text(text)
    again = Table.from_text(str(t))
    assert again.api_routes() == t.api_routes()


@pytest.mark.parametrize(
    ("host", "tls", "want"),
    [("A.com:80", False, "a.com"), ("a.com:443", True, "a.com"), ("a.com:443", False, "a.com:443")],
)
def test_normalize_host(host: str, tls: bool, want: str) -> None:
    assert normalize_host(host, tls) == want
