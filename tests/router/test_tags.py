"""urlprefix- tags -> route commands, as Fabio's Consul backend generates them."""

from __future__ import annotations

from typing import Any

import pytest

from yurt.router.tags import TagError, URLPrefix, parse_urlprefix, service_commands

P = "urlprefix-"


@pytest.mark.parametrize(
    ("tag", "want"),
    [
        ("urlprefix-/", URLPrefix("/", "")),
        ("urlprefix-/foo", URLPrefix("/foo", "")),
        ("urlprefix-/Foo/Bar", URLPrefix("/Foo/Bar", "")),
        ("urlprefix-WWW.Example.COM/Path", URLPrefix("www.example.com/Path", "")),
        ("urlprefix-*.example.com/", URLPrefix("*.example.com/", "")),
        ("urlprefix-/foo strip=/foo", URLPrefix("/foo", "strip=/foo")),
        ("  urlprefix-/foo   strip=/foo  host=dst ", URLPrefix("/foo", "strip=/foo  host=dst")),
        ("urlprefix-:1234 proto=tcp", URLPrefix(":1234", "proto=tcp")),
        # tcp-dynamic listeners: an address to listen on, for TCP routes only
        ("urlprefix-10.0.0.5:1234 proto=tcp", URLPrefix("10.0.0.5:1234", "proto=tcp")),
        ("urlprefix-$DC.example.com/", URLPrefix("dc1.example.com/", "")),
        ("urlprefix-/$DC/x", URLPrefix("/dc1/x", "")),
        ("nginx-tag", None),
        ("other-/foo", None),
    ],
)
def test_parse_urlprefix(tag: str, want: URLPrefix | None) -> None:
    assert parse_urlprefix(tag, P, {"DC": "dc1"}) == want


@pytest.mark.parametrize(
    ("tag", "env", "want"),
    [
        # Rows in the spirit of Fabio's registry/consul TestParseTag, prefix "p-".
        ("p", None, None),
        ("p-/", None, URLPrefix("/", "")),
        (" p-/", None, URLPrefix("/", "")),
        ("p-/ ", None, URLPrefix("/", "")),
        ("p- / ", None, URLPrefix("/", "")),
        ("p- /foo", None, URLPrefix("/foo", "")),
        ("p-bar/foo/foo", None, URLPrefix("bar/foo/foo", "")),
        ("p-WWW.BAR.COM/Foo", None, URLPrefix("www.bar.com/Foo", "")),
        ("p-bar/foo a b c", None, URLPrefix("bar/foo", "a b c")),
        (
            "p-www.bar.com:80/foo redirect=302,https://x",
            None,
            URLPrefix("www.bar.com:80/foo", "redirect=302,https://x"),
        ),
        # No path: taken as written (the table reads "host" as "host/").
        ("p-Example.COM", None, URLPrefix("Example.COM", "")),
        ("p-1.1.1.1:999", None, URLPrefix("1.1.1.1:999", "")),
        ("p-1.1.1.1:999 proto=tcp", None, URLPrefix("1.1.1.1:999", "proto=tcp")),
        # $x and ${x}: from the variables given, unset ones to "", in the host and path only.
        ("p-$x/$y", None, URLPrefix("/", "")),
        ("p-${x}/${y}", {}, URLPrefix("/", "")),
        ("p-$x/$Y", {"x": "Xx", "Y": "Yy"}, URLPrefix("xx/Yy", "")),
        ("p-${x}/${Y}", {"x": "Xx", "Y": "Yy"}, URLPrefix("xx/Yy", "")),
        ("p-$DCx/a${DC}b/$", {"DC": "dc1"}, URLPrefix("/adc1b/$", "")),
        ("p-/e${}f/g${h", {"DC": "dc1"}, URLPrefix("/ef/gh", "")),
        ("p-/t$1x/$$", {"DC": "dc1"}, URLPrefix("/tx/", "")),
        ("p-/$DC strip=/$DC", {"DC": "dc1"}, URLPrefix("/dc1", "strip=/$DC")),
        (
            "p-/r redirect=301,https://b.com$path",
            {"DC": "dc1"},
            URLPrefix("/r", "redirect=301,https://b.com$path"),
        ),
        ("p-$DC:80", {"DC": "dc1"}, URLPrefix("$DC:80", "")),
    ],
)
def test_parse_tag_as_fabio(tag: str, env: dict[str, str] | None, want: URLPrefix | None) -> None:
    assert parse_urlprefix(tag, "p-", env) == want


def test_a_route_that_expands_to_a_space_is_an_error() -> None:
    # found by tests/hostile/test_router_tags_fuzz.py: `$DC` set to "a b"
    with pytest.raises(TagError, match="expands to '/a b', which holds a space"):
        parse_urlprefix("urlprefix-/$DC", "urlprefix-", {"DC": "a b"})
    with pytest.raises(TagError, match="holds a space"):
        parse_urlprefix("urlprefix-${DC}.example/", "urlprefix-", {"DC": "a\tb"})
    assert parse_urlprefix("urlprefix-/$DC", "urlprefix-", {"DC": "dc1"}) == URLPrefix("/dc1", "")


@pytest.mark.parametrize("tag", ["urlprefix-", "urlprefix- ", "  urlprefix-  "])
def test_empty_route_is_an_error(tag: str) -> None:
    # Fabio generates a `route add` without a source that its parser rejects.
    with pytest.raises(TagError, match="must not be empty"):
        parse_urlprefix(tag, P)


def inst(tags: list[str], **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Node": "n1",
        "Address": "10.0.0.1",
        "ServiceID": "web-1",
        "ServiceName": "web",
        "ServiceAddress": "10.0.0.2",
        "ServicePort": 8080,
        "ServiceTags": tags,
    }
    base.update(kw)
    return base


@pytest.mark.parametrize(
    ("tags", "kw", "want"),
    [
        (["urlprefix-/"], {}, ["route add web / http://10.0.0.2:8080/"]),
        (
            ["nginx-tag", "urlprefix-/"],
            {},
            ['route add web / http://10.0.0.2:8080/ tags "nginx-tag"'],
        ),
        (["urlprefix-/"], {"ServiceAddress": ""}, ["route add web / http://10.0.0.1:8080/"]),
        (["urlprefix-/"], {"ServiceAddress": "::1"}, ["route add web / http://[::1]:8080/"]),
        (
            ["urlprefix-/a strip=/a", "urlprefix-/b"],
            {},
            [
                'route add web /a http://10.0.0.2:8080/ opts "strip=/a"',
                "route add web /b http://10.0.0.2:8080/",
            ],
        ),
        (
            ["urlprefix-/ weight=0.3 proto=https tlsskipverify=true"],
            {},
            ['route add web / https://10.0.0.2:8080 weight 0.3 opts "tlsskipverify=true"'],
        ),
        (["urlprefix-:2000 proto=tcp"], {}, ["route add web :2000 tcp://10.0.0.2:8080"]),
        (
            ["urlprefix-127.0.0.2:2000 proto=tcp"],
            {},
            ["route add web 127.0.0.2:2000 tcp://10.0.0.2:8080"],
        ),
        (
            ["urlprefix-a.com/ redirect=301,https://b.com$path"],
            {},
            ['route add web a.com/ https://b.com$path opts "redirect=301"'],
        ),
        (
            ["nginx-tag", " urlprefix-/a ", "  x  "],
            {},
            ['route add web /a http://10.0.0.2:8080/ tags "nginx-tag,x"'],
        ),
        (["urlprefix-1.1.1.1:999"], {}, ["route add web 1.1.1.1:999 http://10.0.0.2:8080/"]),
        (["urlprefix-Example.com"], {}, ["route add web Example.com http://10.0.0.2:8080/"]),
        (
            ["urlprefix-/s strip=/s prepend=/p redirect=302,https://b.com/x$path"],
            {},
            ['route add web /s https://b.com/x$path opts "strip=/s prepend=/p redirect=302"'],
        ),
        (
            ["urlprefix-/ allow=ip:10.0.0.0/8,ip:127.0.0.1"],
            {},
            ['route add web / http://10.0.0.2:8080/ opts "allow=ip:10.0.0.0/8,ip:127.0.0.1"'],
        ),
    ],
)
def test_service_commands(tags: list[str], kw: dict[str, Any], want: list[str]) -> None:
    assert service_commands(inst(tags, **kw), P) == want


def test_bad_tags_are_reported_and_skipped() -> None:
    errors: list[str] = []
    got = service_commands(
        inst(
            [
                "urlprefix-",
                "urlprefix-/x redirect=301",
                "urlprefix-/ok weight=x",
                "urlprefix-/good",
            ]
        ),
        P,
        errors=errors,
    )
    assert got == ["route add web /good http://10.0.0.2:8080/"]
    assert len(errors) == 3
    assert "must not be empty" in errors[0]
    assert "redirect=<code>,<url>" in errors[1]
    assert "weight" in errors[2]


def test_custom_prefix() -> None:
    assert service_commands(inst(["lb-/x", "urlprefix-/y"]), "lb-") == [
        'route add web /x http://10.0.0.2:8080/ tags "urlprefix-/y"'
    ]


def test_datacenter_expands_in_routes() -> None:
    got = service_commands(inst(["urlprefix-$DC.a.com/${DC}/x"]), P, {"DC": "eu1"})
    assert got == ["route add web eu1.a.com/eu1/x http://10.0.0.2:8080/"]
