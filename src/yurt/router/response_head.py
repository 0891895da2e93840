"""The response head the client gets: the upstream's head less its hop-by-hop lines
(`hop_cut`), its status line said as HTTP/1.1, the gzip decision (`gzip_head`), and the
heads of the router's own responses (no route, redirects, errors: `own_response`).

Pure functions of bytes, tested by tables; the connection adds its framing and connection
lines to what they return.
"""

from __future__ import annotations

import re

STATUS_CLIENT_CLOSED = 499

REASONS = {
    200: b"OK",
    301: b"Moved Permanently",
    302: b"Found",
    303: b"See Other",
    307: b"Temporary Redirect",
    308: b"Permanent Redirect",
    400: b"Bad Request",
    403: b"Forbidden",
    404: b"Not Found",
    414: b"URI Too Long",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
    499: b"Client Closed Request",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    502: b"Bad Gateway",
    504: b"Gateway Timeout",
}
NO_BODY_STATUS = frozenset({204, 304})
HTML = b"text/html; charset=utf-8"
TEXT = b"text/plain; charset=utf-8"

# Response header lines the proxy looks at, in the lower-cased head: the hop-by-hop ones (cut
# out, with their continuation lines) and Content-Length (kept; its value frames the body).
# It starts at the LF, not at an optional CR, so that the regex engine can skip to each LF.
_RESP_SPECIAL = re.compile(
    rb"\n(connection|keep-alive|proxy-connection|proxy-authenticate|proxy-authorization"
    rb"|te|trailer|transfer-encoding|upgrade|content-length)[ \t]*:"
    rb"[ \t]*([^\r\n]*)(?:\r?\n[ \t][^\r\n]*)*"
)
# The hop-by-hop headers other than Connection: when none is there, a quicker path.
_RESP_RARE = re.compile(
    rb"\n(?:keep-alive|proxy-connection|proxy-authenticate|proxy-authorization"
    rb"|te|trailer|transfer-encoding|upgrade)[ \t]*:"
)


def hop_cut(head: bytes, status: int) -> tuple[bytes, int, bool]:
    """(the head without its hop-by-hop lines, its Content-Length or -1 (-2: unreadable),
    whether it had a Transfer-Encoding). 101 keeps Connection and Upgrade."""
    lower = head.lower()
    if status != 101 and _RESP_RARE.search(lower) is None:
        # The usual head: at most one Connection line (one line, no continuation) to cut.
        length = -1
        i = lower.find(b"\ncontent-length:")
        if i >= 0:
            e = lower.find(b"\n", i + 16)
            try:
                length = int(lower[i + 16 : e if e >= 0 else len(lower)])
            except ValueError:
                length = -2
        i = lower.find(b"\nconnection:")
        if i < 0:
            return head, length, False
        e = lower.find(b"\n", i + 12)
        if e < 0:
            return head[: i - 1 if lower[i - 1] == 13 else i], length, False
        if lower.find(b"\nconnection:", e) < 0 and lower[e + 1 : e + 2] not in (b" ", b"\t"):
            stop = e - 1 if lower[e - 1] == 13 else e
            return head[: i - 1 if lower[i - 1] == 13 else i] + head[stop:], length, False
    parts: list[bytes] = []
    pos = 0
    length = -1
    chunked = False
    for m in _RESP_SPECIAL.finditer(lower):
        name = m[1]
        if name == b"content-length":
            try:
                length = int(m[2])
            except ValueError:
                length = -2  # the parser frames it; we just do not relay it raw
            continue
        if name == b"transfer-encoding":
            chunked = True
        elif status == 101 and (name == b"connection" or name == b"upgrade"):
            continue
        start = m.start()
        if lower[start - 1] == 13:  # the CR of the CRLF
            start -= 1
        parts.append(head[pos:start])
        pos = m.end()
    if pos:
        parts.append(head[pos:])
        head = b"".join(parts)
    return head, length, chunked


def gzip_head(head: bytes, types: re.Pattern[str]) -> bytes | None:
    """The head of a response whose body the proxy compresses, or None when it does not: the
    body is already encoded, or its Content-Type does not match `proxy.gzip.contenttype`."""
    lines = head.split(b"\r\n")
    out = [lines[0]]
    ctype: str | None = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-encoding" and value.strip():
            return None
        if name == b"content-length":
            continue
        if name == b"content-type" and ctype is None:
            ctype = value.strip().decode("latin-1")
        out.append(line)
    if not types.search(ctype or ""):
        return None
    out.append(b"Content-Encoding: gzip")
    return b"\r\n".join(out)


def status_line_11(head: bytes) -> bytes:
    """The head with its status line said as HTTP/1.1, the version the proxy speaks."""
    return head if head.startswith(b"HTTP/1.1 ") else b"HTTP/1.1" + head[8:]


def own_response(
    status: int, body: bytes, ctype: bytes, extra: bytes, close: bool, head_only: bool
) -> bytes:
    """A whole response of the router's own: `extra` header lines (each with its CRLF), a
    Content-Length, `Connection: close` when the connection ends after it, and the body
    unless the request was a HEAD."""
    head = b"HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, b"Status"))
    if ctype:
        head += b"Content-Type: " + ctype + b"\r\n"
    head += extra + b"Content-Length: %d\r\n" % len(body)
    if close:
        head += b"Connection: close\r\n"
    return head + b"\r\n" + (b"" if head_only else body)


def redirect_body(status: int, location: str, method: bytes) -> bytes:
    """Go's http.Redirect body: a link to `location` for GET and HEAD, nothing otherwise."""
    if method not in (b"GET", b"HEAD"):
        return b""
    return b'<a href="%s">%s</a>.\n\n' % (
        html_escape(location).encode(),
        REASONS.get(status, b"Redirect"),
    )


def refusal_body(status: int, why: str) -> bytes:
    """The body of a refused request, as Go's server words it: `400 Bad Request: why`."""
    return b"%d %b: %b\n" % (status, REASONS.get(status, b"Error"), why.encode())


def html_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
