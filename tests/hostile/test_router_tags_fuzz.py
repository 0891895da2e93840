"""The router's route language and tag parser on any text (Hypothesis, bounded example counts):
every input gives routes or a clear error (a ValueError that says what is wrong), never
another exception; one bad tag never takes a service's other tags, or other services, down.

The text is drawn from the grammar's own words (`route add`, `urlprefix-`, `opts`, `tags`,
`weight`, quotes, `proto=`, `redirect=`, `$DC`, IPv6 brackets) mixed with arbitrary text,
so most examples reach deep into the parsers instead of failing at the first word.
"""

from __future__ import annotations

from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from yurt.router.commands import RouteSyntaxError, parse, parse_line
from yurt.router.table import Table
from yurt.router.tags import TagError, parse_urlprefix, service_commands

PREFIX = "urlprefix-"

_words = st.sampled_from(
    [
        "route",
        "add",
        "del",
        "weight",
        "tags",
        "opts",
        '"',
        '""',
        '"a,b"',
        '"strip=/x proto=https"',
        "svc",
        "/",
        "/api",
        "example.com/",
        "*.example.com/x",
        ":1234",
        "[::1]:80",
        "http://127.0.0.1:1/",
        "https://[::1]:8443/",
        "tcp://127.0.0.1:5000",
        "http://",
        "http://:99999/",
        "http://[::1/",
        "http://a:b@c/",
        "0.5",
        "-1",
        "nan",
        "inf",
        "1e999",
        "proto=tcp",
        "proto=https",
        "proto=grpc",
        "strip=/x",
        "prepend=/y",
        "redirect=301,https://x/$path",
        "redirect=,",
        "redirect=999",
        "host=dst",
        "allow=ip:10.0.0.0/8",
        "deny=ip:300.0.0.0/99",
        "tlsskipverify=true",
        "auth=nope",
        "register=x",
        "\\",
        "\t",
        "#",
        "//",
        "$DC",
        "\u00e9",
        "\x00",
    ]
)
_free = st.text(max_size=12)
_token = _words | _free
_line = st.lists(_token, max_size=10).map(" ".join)
_text = st.lists(_line, max_size=6).map("\n".join)

_tag_bodies = st.lists(_words | st.text(max_size=8), max_size=5).map(" ".join)
_tags = st.one_of(
    st.builds(
        lambda a, b: PREFIX + a + b,
        st.sampled_from(["", "/", "x/", ":80", "[::1]:1 "]),
        _tag_bodies,
    ),
    _tag_bodies,
    st.text(max_size=30),
)


@settings(max_examples=300, deadline=None, database=None)
@given(_text)
def test_any_command_text_parses_or_names_its_line(text: str) -> None:
    try:
        defs = parse(text, source="routes.txt")
    except RouteSyntaxError as exc:
        event("syntax error")
        assert 1 <= exc.line <= text.count("\n") + 1
        assert str(exc).startswith(f"routes.txt:{exc.line}: ")
        return
    event("parsed")
    try:
        Table.from_defs(defs)
    except ValueError as exc:
        event("route error")
        assert str(exc)


@settings(max_examples=300, deadline=None, database=None)
@given(_line)
def test_any_single_command_builds_a_table_or_is_a_value_error(line: str) -> None:
    try:
        d = parse_line(line.strip())
    except ValueError as exc:
        assert str(exc).startswith("syntax error: ")
        return
    try:
        Table.from_defs([d])
    except ValueError as exc:
        assert str(exc)


@settings(max_examples=300, deadline=None, database=None)
@given(_tags, st.sampled_from([{}, {"DC": "dc1"}, {"DC": "a b"}, {"DC": "/"}]))
def test_any_tag_is_a_route_or_a_tag_error(tag: str, env: dict[str, str]) -> None:
    try:
        parsed = parse_urlprefix(tag, PREFIX, env)
    except TagError as exc:
        assert tag in str(exc) or repr(tag) in str(exc)
        return
    if parsed is None:
        assert not tag.strip().startswith(PREFIX)
        return
    # Fabio splits the route from its options at the first space only, as here.
    assert parsed.route and " " not in parsed.route


_names = st.sampled_from(["web", "api-v2", "", "a b", 'q"uote', "\u00e9", "x" * 300]) | st.text(
    max_size=10
)
_addrs = st.sampled_from(["127.0.0.1", "::1", "fe80::1%eth0", "", "host name", "[::1]", "a:b"])


@st.composite
def _instances(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "ServiceName": draw(_names),
        "ServiceID": draw(st.text(max_size=8)),
        "ServiceTags": draw(st.lists(_tags, max_size=5)),
        "ServiceAddress": draw(_addrs | st.text(max_size=10)),
        "Address": "127.0.0.1",
        "ServicePort": draw(st.integers(min_value=0, max_value=70000)),
    }


@settings(max_examples=300, deadline=None, database=None)
@given(_instances())
def test_service_tags_give_routes_or_named_errors(inst: dict[str, Any]) -> None:
    errors: list[str] = []
    lines = service_commands(inst, PREFIX, {"DC": "dc1"}, errors)
    # Each bad tag is one error that names the service; the others still make commands.
    assert all(repr(inst["ServiceName"]) in e for e in errors)
    assert len(lines) + len(errors) <= len(inst["ServiceTags"])
    for line in lines:
        # What the watcher does with a generated line: apply it or report it, line by line.
        try:
            Table.from_defs([parse_line(line)])
        except ValueError as exc:
            event("generated line rejected")
            assert str(exc)
        else:
            event("generated line routed")


def test_a_bad_tag_does_not_take_the_good_one_down() -> None:
    inst = {
        "ServiceName": "web",
        "ServiceID": "web-1",
        "ServiceTags": [PREFIX, PREFIX + "/ok weight=x", PREFIX + "/good"],
        "Address": "127.0.0.1",
        "ServicePort": 8080,
    }
    errors: list[str] = []
    lines = service_commands(inst, PREFIX, None, errors)
    assert lines == ["route add web /good http://127.0.0.1:8080/"]
    assert errors == [
        "service 'web' (web-1): invalid urlprefix- tag 'urlprefix-': the route must not be empty",
        "service 'web' (web-1): invalid weight 'x' in 'weight=x': expected a number",
    ]
