"""The route command language, from Fabio's documented forms."""

from __future__ import annotations

import pytest

from yurt.router.commands import Cmd, RouteDef, RouteSyntaxError, parse, parse_line


@pytest.mark.parametrize(
    ("line", "want"),
    [
        (
            "route add svc /foo http://1.2.3.4:5000/",
            RouteDef(Cmd.ADD, "svc", "/foo", "http://1.2.3.4:5000/"),
        ),
        (
            "route   add  svc  /foo   http://1.2.3.4:5000/",
            RouteDef(Cmd.ADD, "svc", "/foo", "http://1.2.3.4:5000/"),
        ),
        (
            'route add svc /foo http://1.2.3.4:5000/ weight 0.2 tags "a,b"',
            RouteDef(Cmd.ADD, "svc", "/foo", "http://1.2.3.4:5000/", 0.2, ("a", "b")),
        ),
        (
            'route add svc /foo http://1.2.3.4:5000/ tags " a , b "',
            RouteDef(Cmd.ADD, "svc", "/foo", "http://1.2.3.4:5000/", 0, ("a", "b")),
        ),
        (
            'route add svc /foo http://1.2.3.4:5000/ opts "strip=/foo prepend=/bar host=dst"',
            RouteDef(
                Cmd.ADD,
                "svc",
                "/foo",
                "http://1.2.3.4:5000/",
                opts={"strip": "/foo", "prepend": "/bar", "host": "dst"},
            ),
        ),
        (
            'route add svc www.a.com/ http://1.2.3.4:5000/ weight 0.5 tags "t" opts "proto=https"',
            RouteDef(
                Cmd.ADD,
                "svc",
                "www.a.com/",
                "http://1.2.3.4:5000/",
                0.5,
                ("t",),
                {"proto": "https"},
            ),
        ),
        (
            "route add tcp :1234 tcp://1.2.3.4:5000",
            RouteDef(Cmd.ADD, "tcp", ":1234", "tcp://1.2.3.4:5000"),
        ),
        ("route del svc", RouteDef(Cmd.DEL, "svc")),
        ("route del svc /foo", RouteDef(Cmd.DEL, "svc", "/foo")),
        (
            "route del svc /foo http://1.2.3.4:5000/",
            RouteDef(Cmd.DEL, "svc", "/foo", "http://1.2.3.4:5000/"),
        ),
        ('route del svc tags "a,b"', RouteDef(Cmd.DEL, "svc", tags=("a", "b"))),
        ('route del tags "a"', RouteDef(Cmd.DEL, tags=("a",))),
        ("route weight svc /foo weight 0.1", RouteDef(Cmd.WEIGHT, "svc", "/foo", weight=0.1)),
        (
            'route weight svc /foo weight 0.1 tags "v2"',
            RouteDef(Cmd.WEIGHT, "svc", "/foo", weight=0.1, tags=("v2",)),
        ),
        (
            'route weight /foo weight 0.1 tags "v2"',
            RouteDef(Cmd.WEIGHT, "", "/foo", weight=0.1, tags=("v2",)),
        ),
    ],
)
def test_parse_line(line: str, want: RouteDef) -> None:
    assert parse_line(line) == want


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("route add svc /foo", "syntax error: 'route add' invalid"),
        ("route add svc /foo http://x/ weight abc", "syntax error: weight value invalid"),
        ("route del", "syntax error: 'route del' invalid"),
        ("route weight svc /foo", "syntax error: 'route weight' invalid"),
        ("route weight /foo weight 0.1", "syntax error: 'route weight' invalid"),
        (
            "rout add svc /foo http://x/",
            "syntax error: expected 'route add', 'route del' or 'route weight'",
        ),
        (
            "add svc /foo http://x/",
            "syntax error: expected 'route add', 'route del' or 'route weight'",
        ),
    ],
)
def test_parse_line_errors(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_line(line)


def test_parse_skips_comments_and_blank_lines() -> None:
    text = "# comment\n\n// another\n  route add a /a http://h:1/\n\troute del b\n"
    assert [d.cmd for d in parse(text)] == [Cmd.ADD, Cmd.DEL]


def test_parse_error_names_the_line_and_source() -> None:
    text = "route add a /a http://h:1/\n# fine\nroute add broken\n"
    with pytest.raises(RouteSyntaxError) as info:
        parse(text, source="fabio/config/x")
    assert info.value.line == 3
    assert str(info.value).startswith("fabio/config/x:3: syntax error: 'route add' invalid")
