"""What a request head must be before the proxy routes it, as Go's net/http (and so Fabio)
decides: one valid Host, a Host on HTTP/1.1, no Transfer-Encoding on HTTP/1.0; the
absolute-form target's authority in place of Host; the headers a `Connection` line names.

Pure functions of bytes, so that the data path calls them only when a connection's header
lines change, and tests can drive them by tables.
"""

from __future__ import annotations

import re

# Go's httpguts.ValidHostHeader: the bytes RFC 3986 allows in a host and port (unreserved,
# sub-delims, pct-encoded, ':' and the IPv6 brackets); no space, '@', '/' or control bytes.
_HOST = re.compile(rb"[A-Za-z0-9!$%&'()*+,\-.:;=\[\]_~]*\Z")

# Tokens of a Connection header that are options, not header names (RFC 9110 §7.6.1).
_CONNECTION_OPTIONS = frozenset({b"close", b"keep-alive", b"upgrade"})

# Headers the proxy reads for framing or routing: a `Connection` line that names them does
# not take them away (Go keeps Host and the body's framing whatever Connection says).
_NOT_DROPPED = frozenset({b"host", b"content-length", b"transfer-encoding"})

MISSING_HOST = "missing required Host header"
TOO_MANY_HOSTS = "too many Host headers"
MALFORMED_HOST = "malformed Host header"
TE_ON_HTTP10 = "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 section 6.1)"


def valid_host(host: bytes) -> bool:
    """Whether a Host value is one Go's server accepts (empty is: HTTP/1.0 style)."""
    return _HOST.match(host) is not None


def absolute_form(target: bytes) -> tuple[bytes, bytes] | None:
    """(authority, path) of an absolute-form request target (`http://host:port/path`), or
    None for an origin-form one. The path is `/` when the target names none; userinfo is
    not part of the authority that routes (RFC 9112 §3.2.2)."""
    scheme, sep, rest = target.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        return None
    end = len(rest)
    for stop in (b"/", b"?"):
        i = rest.find(stop)
        if 0 <= i < end:
            end = i
    authority = rest[:end].rpartition(b"@")[2]
    path = rest[end:]
    if not path.startswith(b"/"):
        path = b"/" + path
    return authority, path


def request_target(method: bytes, target: bytes) -> tuple[bytes | None, bytes]:
    """(the host a request target names, its path) for a target that is not a path: the
    authority of an absolute-form one, b"*" for `OPTIONS *`, else None (CONNECT's
    authority-form and `*` are taken as paths: `/` is put before them)."""
    form = absolute_form(target)
    if form is not None:
        return form
    return (b"*" if target == b"*" and method == b"OPTIONS" else None), b"/" + target


def connection_tokens(values: list[bytes]) -> frozenset[bytes]:
    """The lower-cased header names that Connection lines ask a proxy to remove, less the
    options (close, keep-alive, upgrade) and the framing and routing headers."""
    names: set[bytes] = set()
    for value in values:
        for token in value.split(b","):
            name = token.strip().lower()
            if name and name not in _CONNECTION_OPTIONS and name not in _NOT_DROPPED:
                names.add(name)
    return frozenset(names)


def head_problem(
    version: str, method: bytes, hosts: int, host: bytes, transfer_encoding: bool
) -> str:
    """Why a request head is refused with 400 ("" when it is not): `hosts` Host lines with
    the value `host`, over HTTP `version`, with or without a Transfer-Encoding line."""
    if hosts > 1:
        return TOO_MANY_HOSTS
    if hosts == 0:
        if version == "1.1" and method != b"CONNECT":
            return MISSING_HOST
    elif not valid_host(host):
        return MALFORMED_HOST
    if transfer_encoding and version == "1.0":
        return TE_ON_HTTP10
    return ""
