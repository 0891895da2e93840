"""The request-head rules the proxy applies before routing, as tables (Go's net/http cases)."""

from __future__ import annotations

import pytest

from yurt.router.request_checks import (
    MALFORMED_HOST,
    MISSING_HOST,
    TE_ON_HTTP10,
    TOO_MANY_HOSTS,
    absolute_form,
    connection_tokens,
    head_problem,
    request_target,
    valid_host,
)


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        (b"", True),  # HTTP/1.0 style: Go takes it
        (b"foo.com", True),
        (b"foo-bar.com", True),
        (b"x_y.example", True),
        (b"foo.com:80", True),
        (b"1.2.3.4", True),
        (b"1.2.3.4:8080", True),
        (b"[::1]", True),
        (b"[::1]:80", True),
        (b"[fe80::1%25en0]:80", True),  # zone, percent-encoded
        (b"a b", False),
        (b"a\tb", False),
        (b"a\x00b", False),
        (b"user@host", False),
        (b"foo.com/path", False),
        (b"foo.com\r\nX: y", False),
        (b"caf\xc3\xa9.example", False),  # raw UTF-8: hosts go as punycode
    ],
)
def test_valid_host(host: bytes, ok: bool) -> None:
    assert valid_host(host) is ok


@pytest.mark.parametrize(
    ("target", "want"),
    [
        (b"/path", None),
        (b"*", None),
        (b"example.com:443", None),  # CONNECT's authority-form
        (b"ftp://example.com/x", None),
        (b"http://example.com/p", (b"example.com", b"/p")),
        (b"HTTP://Example.com:8080/a/b", (b"Example.com:8080", b"/a/b")),
        (b"https://example.com", (b"example.com", b"/")),
        (b"http://user:pw@example.com/x", (b"example.com", b"/x")),
        (b"http://[::1]:80/x", (b"[::1]:80", b"/x")),
        (b"http://example.com?q", (b"example.com", b"/?q")),
    ],
)
def test_absolute_form(target: bytes, want: tuple[bytes, bytes] | None) -> None:
    assert absolute_form(target) == want


@pytest.mark.parametrize(
    ("values", "want"),
    [
        ([b"close"], set()),
        ([b"keep-alive"], set()),
        ([b"Upgrade"], set()),
        ([b"X-Secret, keep-alive"], {b"x-secret"}),
        ([b"x-a", b"X-B ,, close"], {b"x-a", b"x-b"}),
        ([b"Host, Content-Length, Transfer-Encoding"], set()),  # framing and routing stay
        ([b"X-Forwarded-For"], {b"x-forwarded-for"}),
    ],
)
def test_connection_tokens(values: list[bytes], want: set[bytes]) -> None:
    assert connection_tokens(values) == want


@pytest.mark.parametrize(
    ("version", "method", "hosts", "host", "te", "want"),
    [
        ("1.1", b"GET", 1, b"a", False, ""),
        ("1.1", b"GET", 0, b"", False, MISSING_HOST),
        ("1.0", b"GET", 0, b"", False, ""),
        ("1.1", b"CONNECT", 0, b"", False, ""),
        ("1.1", b"GET", 2, b"b", False, TOO_MANY_HOSTS),
        ("1.0", b"GET", 2, b"b", False, TOO_MANY_HOSTS),
        ("1.1", b"GET", 1, b"a b", False, MALFORMED_HOST),
        ("1.1", b"GET", 1, b"", False, ""),
        ("1.0", b"POST", 1, b"a", True, TE_ON_HTTP10),
        ("1.0", b"POST", 0, b"", True, TE_ON_HTTP10),
        ("1.1", b"POST", 1, b"a", True, ""),
    ],
)
def test_head_problem(
    version: str, method: bytes, hosts: int, host: bytes, te: bool, want: str
) -> None:
    assert head_problem(version, method, hosts, host, te) == want


@pytest.mark.parametrize(
    ("method", "target", "want"),
    [
        (b"GET", b"http://a.com:81/x?q", (b"a.com:81", b"/x?q")),
        (b"GET", b"https://u@a.com", (b"a.com", b"/")),
        (b"OPTIONS", b"*", (b"*", b"/*")),
        (b"GET", b"*", (None, b"/*")),  # `*` is for OPTIONS only: a path otherwise
        (b"CONNECT", b"a.com:443", (None, b"/a.com:443")),
        (b"GET", b"x/y", (None, b"/x/y")),
    ],
)
def test_request_target(method: bytes, target: bytes, want: tuple[bytes | None, bytes]) -> None:
    assert request_target(method, target) == want
