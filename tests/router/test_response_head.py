"""The response head the client gets, as tables: the upstream's head less its hop-by-hop
lines, the gzip decision, the status line, and the router's own responses."""

from __future__ import annotations

import re

import pytest

from yurt.router.response_head import (
    gzip_head,
    hop_cut,
    own_response,
    redirect_body,
    refusal_body,
    status_line_11,
)


@pytest.mark.parametrize(
    ("head", "status", "want", "length", "chunked"),
    [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\nX-A: 1",
            200,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1",
            5,
            False,
        ),
        (  # Connection last, no other hop header
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close",
            200,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5",
            5,
            False,
        ),
        (  # names in any case; Keep-Alive too
            b"HTTP/1.1 200 OK\r\nCONNECTION: keep-alive\r\nkeep-alive: timeout=5\r\nX: y",
            200,
            b"HTTP/1.1 200 OK\r\nX: y",
            -1,
            False,
        ),
        (  # two Connection lines
            b"HTTP/1.1 200 OK\r\nConnection: a\r\nX: 1\r\nConnection: b\r\nContent-Length: 0",
            200,
            b"HTTP/1.1 200 OK\r\nX: 1\r\nContent-Length: 0",
            0,
            False,
        ),
        (  # a folded Connection value goes with its line
            b"HTTP/1.1 200 OK\r\nConnection: a,\r\n b\r\nX: 1",
            200,
            b"HTTP/1.1 200 OK\r\nX: 1",
            -1,
            False,
        ),
        (  # bare LF line ends
            b"HTTP/1.1 200 OK\nConnection: close\nContent-Length: 3\nX: 1",
            200,
            b"HTTP/1.1 200 OK\nContent-Length: 3\nX: 1",
            3,
            False,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X\r\nTE: x\r\nX-Te: 1",
            200,
            b"HTTP/1.1 200 OK\r\nX-Te: 1",
            -1,
            True,
        ),
        (  # a header whose name only starts like a hop-by-hop one is kept
            b"HTTP/1.1 200 OK\r\nConnections: 3\r\nTests: 1\r\nUpgraded: no",
            200,
            b"HTTP/1.1 200 OK\r\nConnections: 3\r\nTests: 1\r\nUpgraded: no",
            -1,
            False,
        ),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket"
            b"\r\nKeep-Alive: 1",
            101,
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket",
            -1,
            False,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 12x",
            200,
            b"HTTP/1.1 200 OK\r\nContent-Length: 12x",
            -2,
            False,
        ),
    ],
)
def test_hop_cut(head: bytes, status: int, want: bytes, length: int, chunked: bool) -> None:
    assert hop_cut(head, status) == (want, length, chunked)


TYPES = re.compile(r"^text/")


@pytest.mark.parametrize(
    ("head", "want"),
    [
        (  # a matching type: Content-Length goes (the length changes), the encoding is said
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\nX: 1",
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX: 1\r\nContent-Encoding: gzip",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 5", None),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5", None),  # no type: not compressed
        (  # already encoded
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: br",
            None,
        ),
        (  # an empty Content-Encoding says nothing
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: ",
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: "
            b"\r\nContent-Encoding: gzip",
        ),
    ],
)
def test_gzip_head(head: bytes, want: bytes | None) -> None:
    assert gzip_head(head, TYPES) == want


@pytest.mark.parametrize(
    ("head", "want"),
    [
        (b"HTTP/1.1 204 No Content", b"HTTP/1.1 204 No Content"),
        (b"HTTP/1.0 200 OK\r\nX: 1", b"HTTP/1.1 200 OK\r\nX: 1"),
    ],
)
def test_status_line_11(head: bytes, want: bytes) -> None:
    assert status_line_11(head) == want


@pytest.mark.parametrize(
    ("args", "want"),
    [
        (
            (404, b"", b"", b"", False, False),
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        ),
        (
            (502, b"", b"", b"", True, False),
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ),
        (
            (301, b"x", b"text/html", b"Location: /a\r\n", False, False),
            b"HTTP/1.1 301 Moved Permanently\r\nContent-Type: text/html\r\nLocation: /a\r\n"
            b"Content-Length: 1\r\n\r\nx",
        ),
        (  # HEAD: the length of the body it would have had, no body
            (403, b"denied", b"text/plain", b"", False, True),
            b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\n",
        ),
        (
            (418, b"", b"", b"", False, False),
            b"HTTP/1.1 418 Status\r\nContent-Length: 0\r\n\r\n",
        ),
    ],
)
def test_own_response(args: tuple[int, bytes, bytes, bytes, bool, bool], want: bytes) -> None:
    assert own_response(*args) == want


@pytest.mark.parametrize(
    ("status", "location", "method", "want"),
    [
        (
            301,
            "/a?b=1&c=<2>",
            b"GET",
            b'<a href="/a?b=1&amp;c=&lt;2&gt;">Moved Permanently</a>.\n\n',
        ),
        (302, "/x", b"HEAD", b'<a href="/x">Found</a>.\n\n'),
        (307, "/x", b"POST", b""),
    ],
)
def test_redirect_body(status: int, location: str, method: bytes, want: bytes) -> None:
    assert redirect_body(status, location, method) == want


def test_refusal_body() -> None:
    assert refusal_body(431, "too big") == b"431 Request Header Fields Too Large: too big\n"
