"""How the data path reads a request's header lines, as a table: what is forwarded as it is,
what is read for the forwarding headers, and what a Connection line takes away."""

from __future__ import annotations

import pytest

from yurt.router.request_head import DROP, REQUEST_SPECIAL, HeadLines, read_headers

H = list[tuple[bytes, bytes]]


def read(headers: H) -> HeadLines:
    return read_headers(headers, REQUEST_SPECIAL)


@pytest.mark.parametrize(
    ("headers", "passthrough"),
    [
        ([(b"Host", b"a"), (b"Accept", b"*/*")], b"Accept: */*\r\n"),
        ([(b"Host", b"a"), (b"Keep-Alive", b"5"), (b"TE", b"trailers")], b""),
        ([(b"Proxy-Authorization", b"x"), (b"X-A", b"1")], b"X-A: 1\r\n"),
        ([(b"Content-Length", b"3")], b"Content-Length: 3\r\n"),
        ([(b"X-Forwarded-Proto", b"https")], b"X-Forwarded-Proto: https\r\n"),
        ([(b"X-Forwarded-For", b"10.0.0.1")], b""),  # extended by the proxy, not passed
        # RFC 9110 section 7.6.1: what Connection names goes too.
        ([(b"Connection", b"X-Secret"), (b"X-Secret", b"s"), (b"X-B", b"b")], b"X-B: b\r\n"),
        ([(b"connection", b"close, x-a"), (b"X-A", b"a"), (b"x-a", b"a2")], b""),
        # Framing and routing headers stay whatever Connection says.
        ([(b"Connection", b"Content-Length"), (b"Content-Length", b"0")], b"Content-Length: 0\r\n"),
    ],
)
def test_passthrough(headers: H, passthrough: bytes) -> None:
    assert read(headers).passthrough == passthrough


@pytest.mark.parametrize(
    ("headers", "field", "value"),
    [
        ([(b"Host", b"a"), (b"Host", b"b")], "hosts", 2),
        ([(b"Host", b"a"), (b"Host", b"b")], "head_ok", False),
        ([(b"Host", b"a")], "head_ok", True),
        ([(b"Host", b"a b")], "head_ok", False),
        ([], "hosts", 0),
        ([(b"Host", b"a"), (b"Transfer-Encoding", b"gzip")], "has_te", True),
        ([(b"Transfer-Encoding", b"Chunked")], "chunked", True),
        ([(b"Content-Length", b"0")], "has_body", False),
        ([(b"Content-Length", b"12")], "has_body", True),
        ([(b"X-Forwarded-For", b"1.1.1.1"), (b"X-Forwarded-For", b"2.2.2.2")], "xff",
         b"1.1.1.1, 2.2.2.2"),
        ([(b"X-Forwarded-For", b"1.1.1.1"), (b"Connection", b"X-Forwarded-For")], "xff", b""),
        ([(b"Accept", b"*/*")], "plain", True),
        ([(b"Forwarded", b"for=x")], "plain", False),
        ([(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")], "upgrade", b"websocket"),
    ],
)  # fmt: skip
def test_fields(headers: H, field: str, value: object) -> None:
    assert getattr(read(headers), field) == value


def test_a_replaced_header_is_dropped_but_read() -> None:
    special = dict(REQUEST_SPECIAL)
    special[b"x-real-ip"] |= DROP  # as when proxy.header.clientip names it
    got = read_headers([(b"X-Real-Ip", b"9.9.9.9"), (b"X-A", b"1")], special)
    assert (got.passthrough, got.real_ip) == (b"X-A: 1\r\n", b"9.9.9.9")
