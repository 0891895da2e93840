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


def test_tag_without_slash_is_an_error() -> None:
    with pytest.raises(TagError, match="trailing slash"):
        parse_urlprefix("urlprefix-example.com", P)
    with pytest.raises(TagError, match="trailing slash"):
        parse_urlprefix("urlprefix-example.com:8080", P)  # host:port without proto=tcp


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
                "urlprefix-nohost",
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
    assert "trailing slash" in errors[0]
    assert "redirect=<code>,<url>" in errors[1]
    assert "weight" in errors[2]


def test_custom_prefix() -> None:
    assert service_commands(inst(["lb-/x", "urlprefix-/y"]), "lb-") == [
        'route add web /x http://10.0.0.2:8080/ tags "urlprefix-/y"'
    ]
