"""The request head the router sends upstream, as a table in the style of Fabio's
`proxy/http_headers_test.go`: the client's header lines, the listener's settings and the
route's options in; the exact header lines out (those of the client that pass, then Host
and the forwarding headers); and the upstream request target for `strip=`, `prepend=` and
a target's own query."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from yurt.router.forward_headers import (
    ListenerLines,
    TargetBytes,
    forward_headers,
    request_scheme,
    upstream_target,
)
from yurt.router.request_head import read_headers
from yurt.router.route_cache import RouteCache
from yurt.router.table import MATCHERS, PICKERS, Table, Target

H = list[tuple[bytes, bytes]]
REMOTE = b"1.2.3.4"


def target(dst: str = "http://10.0.0.1:8080/", opts: str = "") -> Target:
    table = Table.from_text(
        f'route add svc / {dst} opts "{opts}"' if opts else f"route add svc / {dst}"
    )
    t = table.lookup("a.com", "/", PICKERS["rr"], MATCHERS["prefix"])
    assert t is not None
    return t


@dataclass
class Case:
    desc: str
    headers: H
    want: list[str]
    tls: bool = False
    opts: str = ""
    version: str = "1.1"
    settings: dict[str, str] = field(default_factory=dict)  # client_ip_header, local_ip, tls


def send(c: Case) -> bytes:
    """What the connection sends for these lines: the routing and forwarding headers read
    with the listener's header names, the scheme as the connection picks it."""
    routes = RouteCache(c.tls, "X-Tls" if c.settings.get("tls") else "", "on")
    routes.replaced_headers(
        "", c.settings.get("client_ip_header", ""), c.settings.get("local_ip", "")
    )
    h = read_headers(c.headers, routes.special)
    websocket = h.upgrade.lower() == b"websocket"
    scheme = routes.ws_scheme if websocket else routes.scheme
    if h.xfproto or h.forwarded:
        scheme = request_scheme(h.xfproto, h.forwarded, scheme)
    t = TargetBytes(target(opts=c.opts))
    forward = forward_headers(t, h, h.host, REMOTE, scheme, c.version, websocket, routes.lines)
    return h.passthrough + forward


FORWARDED = "Forwarded: for=1.2.3.4; proto=http; httpproto=http/1.1"
PLAIN = [
    "X-Forwarded-For: 1.2.3.4",
    "X-Real-Ip: 1.2.3.4",
    "X-Forwarded-Proto: http",
    "X-Forwarded-Port: 80",
    "X-Forwarded-Host: a.com",
    FORWARDED,
]

CASES = [
    Case("http request", [(b"Host", b"a.com")], ["Host: a.com", *PLAIN]),
    Case(
        "other headers pass first, hop-by-hop ones do not",
        [(b"Host", b"a.com"), (b"Accept", b"*/*"), (b"Keep-Alive", b"5"), (b"TE", b"x")],
        ["Accept: */*", "Host: a.com", *PLAIN],
    ),
    Case(
        "port from Host",
        [(b"Host", b"a.com:9999")],
        [
            "Host: a.com:9999",
            *PLAIN[:3],
            "X-Forwarded-Port: 9999",
            "X-Forwarded-Host: a.com:9999",
            FORWARDED,
        ],
    ),
    Case(
        "https request",
        [(b"Host", b"a.com")],
        [
            "Host: a.com",
            *PLAIN[:2],
            "X-Forwarded-Proto: https",
            "X-Forwarded-Port: 443",
            "X-Forwarded-Host: a.com",
            "Forwarded: for=1.2.3.4; proto=https; httpproto=http/1.1",
        ],
        tls=True,
    ),
    Case(
        "X-Forwarded-For extended",
        [(b"Host", b"a.com"), (b"X-Forwarded-For", b"10.0.0.9")],
        ["Host: a.com", "X-Forwarded-For: 10.0.0.9, 1.2.3.4", *PLAIN[1:]],
    ),
    Case(
        "X-Real-Ip of the client kept",
        [(b"Host", b"a.com"), (b"X-Real-Ip", b"9.9.9.9")],
        ["X-Real-Ip: 9.9.9.9", "Host: a.com", PLAIN[0], *PLAIN[2:]],
    ),
    Case(
        "X-Forwarded-Proto of the client kept, and the scheme it names",
        [(b"Host", b"a.com"), (b"X-Forwarded-Proto", b"https")],
        [
            "X-Forwarded-Proto: https",
            "Host: a.com",
            *PLAIN[:2],
            *PLAIN[3:5],
            "Forwarded: for=1.2.3.4; proto=https; httpproto=http/1.1",
        ],
    ),
    Case(
        "Forwarded of the client kept, its proto the scheme",
        [(b"Host", b"a.com"), (b"Forwarded", b"for=9.9.9.9;proto=https")],
        [
            "Host: a.com",
            *PLAIN[:2],
            "X-Forwarded-Proto: https",
            *PLAIN[3:5],
            "Forwarded: for=9.9.9.9;proto=https; httpproto=http/1.1",
        ],
    ),
    Case(
        "X-Forwarded-Port and -Host of the client kept",
        [(b"Host", b"a.com"), (b"X-Forwarded-Port", b"1"), (b"X-Forwarded-Host", b"b")],
        ["X-Forwarded-Port: 1", "X-Forwarded-Host: b", "Host: a.com", *PLAIN[:3], FORWARDED],
    ),
    Case(
        "proxy.header.clientip set, the client's own dropped",
        [(b"Host", b"a.com"), (b"Client-Ip", b"6.6.6.6")],
        ["Host: a.com", *PLAIN[:2], "Client-Ip: 1.2.3.4", *PLAIN[2:]],
        settings={"client_ip_header": "Client-Ip"},
    ),
    Case(
        "proxy.localip in Forwarded",
        [(b"Host", b"a.com")],
        [
            "Host: a.com",
            *PLAIN[:5],
            "Forwarded: for=1.2.3.4; proto=http; by=5.6.7.8; httpproto=http/1.1",
        ],
        settings={"local_ip": "5.6.7.8"},
    ),
    Case(
        "proxy.header.tls on a TLS listener, the client's own dropped",
        [(b"Host", b"a.com"), (b"X-Tls", b"forged")],
        [
            "Host: a.com",
            *PLAIN[:2],
            "X-Tls: on",
            "X-Forwarded-Proto: https",
            "X-Forwarded-Port: 443",
            "X-Forwarded-Host: a.com",
            "Forwarded: for=1.2.3.4; proto=https; httpproto=http/1.1",
        ],
        tls=True,
        settings={"tls": "on"},
    ),
    Case(
        "host=dst: the target's address",
        [(b"Host", b"a.com")],
        ["Host: 10.0.0.1:8080", *PLAIN],
        opts="host=dst",
    ),
    Case(
        "host=NAME",
        [(b"Host", b"a.com")],
        ["Host: example.org", *PLAIN],
        opts="host=example.org",
    ),
    Case(
        "no Host (HTTP/1.0): the target's, no X-Forwarded-Host",
        [],
        [
            "Host: 10.0.0.1:8080",
            *PLAIN[:4],
            "Forwarded: for=1.2.3.4; proto=http; httpproto=http/1.0",
        ],
        version="1.0",
    ),
    Case(
        "strip= names the prefix",
        [(b"Host", b"a.com"), (b"X-Forwarded-Prefix", b"/client")],
        ["Host: a.com", *PLAIN[:5], "X-Forwarded-Prefix: /api", FORWARDED],
        opts="strip=/api",
    ),
    Case(
        "X-Forwarded-Prefix of the client kept without strip=",
        [(b"Host", b"a.com"), (b"X-Forwarded-Prefix", b"/client")],
        ["Host: a.com", *PLAIN[:5], "X-Forwarded-Prefix: /client", FORWARDED],
    ),
    Case(
        "websocket upgrade",
        [(b"Host", b"a.com"), (b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")],
        [
            "Host: a.com",
            "X-Forwarded-For: 1.2.3.4",
            "Connection: Upgrade",
            "Upgrade: websocket",
            *PLAIN[1:5],
            "Forwarded: for=1.2.3.4; proto=ws; httpproto=http/1.1",
        ],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.desc for c in CASES])
def test_forwarded_head(case: Case) -> None:
    assert send(case).decode().split("\r\n")[:-1] == case.want


@pytest.mark.parametrize(
    ("opts", "path", "query", "want"),
    [
        ("", b"/a/b", b"", b"/a/b"),
        ("", b"/a/b", b"x=1", b"/a/b?x=1"),
        ("strip=/a", b"/a/b", b"", b"/b"),
        ("strip=/a", b"/a", b"", b"/"),
        ("strip=/a", b"/ab", b"", b"/b"),  # a prefix of the text, not of path segments
        ("strip=/a", b"/x/b", b"", b"/x/b"),
        ("prepend=/v1", b"/b", b"", b"/v1/b"),
        ("strip=/a prepend=/v1", b"/a/b", b"q", b"/v1/b?q"),
    ],
)
def test_upstream_target(opts: str, path: bytes, query: bytes, want: bytes) -> None:
    assert upstream_target(TargetBytes(target(opts=opts)), path, query) == want


@pytest.mark.parametrize(
    ("dst", "path", "query", "want"),
    [
        ("http://10.0.0.1:8080/?k=v", b"/b", b"", b"/b?k=v"),
        ("http://10.0.0.1:8080/?k=v", b"/b", b"x=1", b"/b?k=v&x=1"),
    ],
)
def test_upstream_target_query(dst: str, path: bytes, query: bytes, want: bytes) -> None:
    assert upstream_target(TargetBytes(target(dst)), path, query) == want


@pytest.mark.parametrize(
    ("xfproto", "forwarded", "want"),
    [
        (b"", b"", "http"),
        (b"https", b"", "https"),
        (b"", b"for=x; proto=https", "https"),
        (b"", b"for=x", "http"),
        (b"https", b"proto=https", "http"),  # both sent: the listener's own
    ],
)
def test_request_scheme(xfproto: bytes, forwarded: bytes, want: str) -> None:
    assert request_scheme(xfproto, forwarded, "http") == want


def test_host_lines_of_ipv6_host_without_port() -> None:
    lines = ListenerLines(tls=True)
    assert lines.host_lines(b"[::1]") == (
        b"X-Forwarded-Port: 443\r\n",
        b"X-Forwarded-Host: [::1]\r\n",
    )
