"""A request's header lines as the data path reads them: one pass that sorts each line into
forwarded as it is, replaced by the proxy's own, or read for routing, framing and the
forwarding headers (Fabio's X-Forwarded-*, Forwarded, X-Real-Ip).

Pure: bytes in, a `HeadLines` out, so that the proxy reads a keep-alive connection's lines
once while they repeat, and tests can drive it by tables. `Request` is the parser's reading
of one head, as the connection keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

from yurt.router.request_checks import connection_tokens, valid_host

# Hop-by-hop headers (RFC 9110 section 7.6.1) that a proxy must not forward.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

# Request headers the proxy looks at, by lower-case name: one dict lookup per header.
(
    _H_HOP,
    _H_TE,
    _H_UPGRADE,
    _H_HOST,
    _H_XFF,
    _H_FORWARDED,
    _H_XFPREFIX,
    _H_CL,
    _H_XFPROTO,
    _H_XFPORT,
    _H_XFHOST,
    _H_REALIP,
    _H_CONN,
) = range(1, 14)
# Flags on a kind: the header is forwarded as it is (its value still noted), or it is replaced
# by the proxy's own (`proxy.header.requestid`, `proxy.header.clientip`).
KEEP = 16
DROP = 32
REQUEST_SPECIAL: dict[bytes, int] = {name: _H_HOP for name in HOP_BY_HOP}
REQUEST_SPECIAL.update(
    {
        b"transfer-encoding": _H_TE,
        b"connection": _H_CONN,
        b"upgrade": _H_UPGRADE,
        b"host": _H_HOST,
        b"x-forwarded-for": _H_XFF,
        b"forwarded": _H_FORWARDED,
        b"x-forwarded-prefix": _H_XFPREFIX,
        b"content-length": _H_CL | KEEP,
        b"x-forwarded-proto": _H_XFPROTO | KEEP,
        b"x-forwarded-port": _H_XFPORT | KEEP,
        b"x-forwarded-host": _H_XFHOST | KEEP,
        b"x-real-ip": _H_REALIP | KEEP,
    }
)


class Request:
    """One request head as the parser read it, and, while the request waits (read behind
    another on the connection, or held for an auth decision), the body read with it so far
    and whether that is all of it."""

    __slots__ = ("body", "complete", "headers", "keep_alive", "method", "upgrade", "url", "version")

    # Set field by field by the parser's callback (one per request: no __init__ to call).
    method: bytes
    url: bytes
    headers: list[tuple[bytes, bytes]]
    version: str
    keep_alive: bool
    upgrade: bool
    # Set by `wait`, only for a request that waits: most never do.
    body: list[bytes]
    complete: bool

    def wait(self) -> Request:
        """Start keeping the body read with this request, which waits to be started."""
        self.body = []
        self.complete = False
        return self


@dataclass(slots=True)
class HeadLines:
    """What the data path takes from a request's header lines."""

    passthrough: bytes  # the lines forwarded as they are, each with its CRLF
    host: bytes  # the (last) Host value
    xff: bytes  # X-Forwarded-For values, joined
    xfproto: bytes
    xfport: bytes
    xfhost: bytes
    forwarded: bytes
    real_ip: bytes
    xfprefix: bytes
    upgrade: bytes  # the Upgrade value
    chunked: bool  # Transfer-Encoding names chunked
    has_body: bool  # a Content-Length other than 0
    plain: bool  # no header that shapes the forwarding headers
    hosts: int  # how many Host lines
    has_te: bool  # any Transfer-Encoding line
    head_ok: bool  # one valid Host and no Transfer-Encoding: nothing for head_problem


def read_headers(headers: list[tuple[bytes, bytes]], special: dict[bytes, int]) -> HeadLines:
    """What the data path needs from a request's header lines: the lines it forwards as they
    are, the values that shape the forwarding headers and the framing, and what
    `head_problem` looks at (the number of Host lines, whether there is a Transfer-Encoding).
    Headers that a Connection line names are not forwarded (RFC 9110 section 7.6.1)."""
    host = b""
    xff = b""
    xfproto = b""
    xfport = b""
    xfhost = b""
    forwarded = b""
    real_ip = b""
    xfprefix = b""
    upgrade_value = b""
    is_chunked = False
    has_body = False
    hosts = 0
    has_te = False
    connection: list[bytes] | None = None
    out: list[bytes] = []
    plain = True  # no header that shapes the forwarding headers
    for name, value in headers:
        kind = special.get(name.lower(), 0)
        if not kind:
            out += (name, b": ", value, b"\r\n")
            continue
        if kind & KEEP:
            # Kept as they are (unless replaced), but their presence matters below.
            base = kind & ~(KEEP | DROP)
            if base == _H_CL:
                has_body = value.strip() not in (b"0", b"")
            else:
                plain = False
            if base == _H_XFPROTO:
                xfproto = value
            elif base == _H_XFPORT:
                xfport = value
            elif base == _H_XFHOST:
                xfhost = value
            elif base == _H_REALIP:
                real_ip = value
            if not kind & DROP:
                out += (name, b": ", value, b"\r\n")
        elif kind == _H_HOST:
            host = value
            hosts += 1
        elif kind == _H_XFF:
            xff = value if not xff else xff + b", " + value
            plain = False
        elif kind == _H_TE:
            is_chunked = b"chunked" in value.lower()
            has_te = True
        elif kind == _H_CONN:
            if connection is None:
                connection = []
            connection.append(value)
        elif kind == _H_UPGRADE:
            upgrade_value = value
            plain = False
        elif kind == _H_FORWARDED:
            forwarded = value
            plain = False
        elif kind == _H_XFPREFIX:
            xfprefix = value
            plain = False
        # _H_HOP and DROP: not forwarded
    if connection is not None:
        named = connection_tokens(connection)
        if named:
            kept = [(n, v) for n, v in headers if n.lower() not in named]
            if len(kept) < len(headers):
                # Read again without them: a named X-Forwarded-For, say, is the client's
                # hop-by-hop header, not a forwarding header to extend.
                return read_headers(kept, special)
    return HeadLines(
        b"".join(out),
        host,
        xff,
        xfproto,
        xfport,
        xfhost,
        forwarded,
        real_ip,
        xfprefix,
        upgrade_value,
        is_chunked,
        has_body,
        plain,
        hosts,
        has_te,
        hosts == 1 and not has_te and valid_host(host),
    )
