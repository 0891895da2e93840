"""The HTTP data path: asyncio protocols, httptools parsers, pooled upstream connections.

Each client connection is one `_ClientProtocol`; a request is routed when its headers are
complete, its head is rewritten (Fabio's forwarding headers, `strip=`, `prepend=`, `host=`),
and it is sent on an idle keep-alive connection to the target (or a new one). Bodies are
streamed in both directions as they arrive, with back-pressure: a side whose peer cannot keep
up stops reading. Writes produced while one packet is parsed are joined into one send.
WebSocket upgrades become a raw two-way pipe after the request head, as in Fabio.

Built for requests per second (docs/router.md, Performance): no task or future per request;
route lookups cached per table (`_RouteCache`); a connection's forwarding headers reused
while the client sends none of its own; response heads relayed as received less their
hop-by-hop lines; fixed-length bodies relayed as the raw bytes that arrive.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httptools

from yurt.router.access_log import AccessLog
from yurt.router.auth import AuthScheme, ExternalAuth, ExternalDecision
from yurt.router.limits import (
    BUSY,
    HEAD,
    HEADER_SLACK,
    IDLE,
    MAX_HEADER_BYTES,
    MAX_HEADER_COUNT,
    MAX_RESPONSE_HEADER_BYTES,
    MAX_URL_BYTES,
    TOO_MANY_CONNS,
    ClientCounter,
    Sweeper,
    Timeouts,
    expired,
)
from yurt.router.metrics import ProxyMetrics
from yurt.router.paths import lookup_path
from yurt.router.proxy_protocol import with_proxy_protocol
from yurt.router.request_checks import MALFORMED_HOST, absolute_form, head_problem, valid_host
from yurt.router.request_head import DROP, KEEP, REQUEST_SPECIAL, read_headers
from yurt.router.table import Matcher, Picker, Table, Target, redirect_url

log = logging.getLogger(__name__)

STATUS_CLIENT_CLOSED = 499

_REASONS = {
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
_NO_BODY_STATUS = frozenset({204, 304})

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


@dataclass
class ProxySettings:
    """What the data path reads on every request; `table` is swapped whole on updates."""

    table: Table = field(default_factory=Table)
    pick: Picker | None = None
    match: Matcher | None = None
    noroute_status: int = 404
    noroute_html: bytes = b""
    dial_timeout: float = 30.0
    response_header_timeout: float = 0.0
    keepalive_timeout: float = 90.0
    max_idle_per_upstream: int = 10000
    local_ip: str = ""
    client_ip_header: str = ""
    request_id_header: str = ""
    tls_header: str = ""  # proxy.header.tls: set on requests that came over TLS
    tls_header_value: str = ""
    sts_value: str = ""  # proxy.header.sts.*: Strict-Transport-Security on TLS responses
    access_log: AccessLog | None = None
    auth: dict[str, AuthScheme] = field(default_factory=dict)  # proxy.auth, by name
    gzip_types: re.Pattern[str] | None = None  # proxy.gzip.contenttype; None: off
    metrics: ProxyMetrics | None = None  # metrics.target=prometheus; None: off


class UpstreamPool:
    """Idle keep-alive connections per (host, port, tls); closed after `keepalive_timeout`."""

    def __init__(self, settings: ProxySettings) -> None:
        self.settings = settings
        self.idle: dict[tuple[str, int, int], list[_UpstreamProtocol]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._ssl_verify: ssl.SSLContext | None = None
        self._ssl_noverify: ssl.SSLContext | None = None

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conns in self.idle.values():
            for c in conns:
                c.close()
        self.idle.clear()

    def get(self, key: tuple[str, int, int]) -> _UpstreamProtocol | None:
        conns = self.idle.get(key)
        while conns:
            conn = conns.pop()
            if conn.transport is not None and not conn.transport.is_closing():
                return conn
        return None

    def put(self, conn: _UpstreamProtocol) -> None:
        conns = self.idle.get(conn.key)
        if conns is None:
            conns = self.idle[conn.key] = []
        if len(conns) >= self.settings.max_idle_per_upstream:
            conn.close()
            return
        conn.idle_since = _monotonic()
        conns.append(conn)

    def discard(self, conn: _UpstreamProtocol) -> None:
        conns = self.idle.get(conn.key)
        if conns and conn in conns:
            conns.remove(conn)

    def ssl_context(self, verify: bool) -> ssl.SSLContext:
        if verify:
            if self._ssl_verify is None:
                self._ssl_verify = ssl.create_default_context()
            return self._ssl_verify
        if self._ssl_noverify is None:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self._ssl_noverify = ctx
        return self._ssl_noverify

    async def _sweep(self) -> None:
        while True:
            timeout = self.settings.keepalive_timeout
            await asyncio.sleep(min(max(timeout / 4, 0.5), 5.0))
            limit = _monotonic() - timeout
            for conns in self.idle.values():
                old = [c for c in conns if c.idle_since < limit]
                for c in old:
                    conns.remove(c)
                    c.close()


class _UpstreamProtocol(asyncio.Protocol):
    """One connection to an upstream; serves one exchange at a time for a client.

    The response head is taken from the bytes as received (the parser only says where it
    ends), its hop-by-hop lines are cut out and the rest is relayed as it is. A body with a
    Content-Length is relayed as the raw slices of what arrives; chunked and close-delimited
    bodies go through the parser's `on_body` and are re-framed for the client.
    """

    __slots__ = (
        "_body_at",
        "_buf",
        "_complete",
        "_hbuf",
        "_hstart",
        "_in_head",
        "_interim",
        "_keep_alive",
        "_left",
        "_out",
        "_raw",
        "_skip_body",
        "client",
        "idle_since",
        "key",
        "parser",
        "pool",
        "received",
        "transport",
        "tunnel",
    )

    def __init__(self, pool: UpstreamPool, key: tuple[str, int, int]) -> None:
        self.pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.client: _ClientProtocol | None = None
        self.parser = httptools.HttpResponseParser(self)
        self._out: list[bytes] = []
        self._buf = b""
        self._hbuf = b""
        self._hstart = 0
        self._body_at = -1
        self._in_head = True
        self._interim = False
        self._skip_body = False
        self._raw = False
        self._left = 0
        self._complete = False
        self._keep_alive = False
        self.received = False
        self.tunnel = False
        self.idle_since = 0.0

    # asyncio callbacks ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        client = self.client
        if client is None:
            self.pool.discard(self)
            return
        self.client = None
        client.upstream_lost(self, exc)

    def data_received(self, data: bytes) -> None:
        client = self.client
        if client is None:
            # Nothing is expected on an idle connection: drop it.
            self.close()
            return
        self.received = True
        if self.tunnel:
            client.write_raw(data)
            return
        in_head = self._in_head
        buf = self._buf = self._hbuf + data if in_head and self._hbuf else data
        self._body_at = -1 if in_head else 0
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # 101: what follows the head already belongs to the tunnel.
            if self._body_at >= 0 and self._body_at < len(buf):
                self._out.append(buf[self._body_at :])
            self._body_at = -1
        except httptools.HttpParserError as exc:
            log.warning("bad response from %s:%d: %s", self.key[0], self.key[1], exc)
            if not self._complete:
                self.client = None
                self.close()
                client.upstream_failed(self, 502)
                return
            # Bytes after a complete response: it is relayed, the connection is not reused.
            self._keep_alive = False
        out = self._out
        if self._in_head:
            self._hbuf = buf[self._hstart :]
            self._hstart = 0
            if len(self._hbuf) > MAX_RESPONSE_HEADER_BYTES:
                log.warning(
                    "response head from %s:%d over %d bytes",
                    self.key[0],
                    self.key[1],
                    MAX_RESPONSE_HEADER_BYTES,
                )
                self.client = None
                self.close()
                client.upstream_failed(self, 502)
                return
        elif self._raw:
            at = self._body_at
            left = self._left
            if at >= 0 and left:
                chunk = buf if at == 0 and len(buf) <= left else buf[at : at + left]
                self._left = left - len(chunk)
                client.resp_bytes += len(chunk)
                out.append(chunk)
        if self._skip_body:
            # A response to HEAD has no body whatever its headers say; start afresh.
            self._skip_body = False
            self.parser = httptools.HttpResponseParser(self)
            self._complete = True
        if self._complete:
            self._out = []
            client.response_complete(self, out)
        elif out:
            self._out = []
            client.write_out(out)

    def pause_writing(self) -> None:
        if self.client is not None and self.client.transport is not None:
            self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.client is not None and self.client.transport is not None:
            self.client.transport.resume_reading()

    # httptools callbacks -------------------------------------------------------

    def on_headers_complete(self) -> None:
        client = self.client
        if client is None:
            return
        if self._complete:
            # A second response in the same bytes, not asked for: it is not relayed, and the
            # connection is not reused.
            self._keep_alive = False
            return
        buf = self._buf
        start = self._hstart
        end = buf.find(b"\r\n\r\n", start)
        if end < 0:  # pragma: no cover - the parser accepts CRLF line ends only
            raise httptools.HttpParserError("response head end not found")
        head = buf[start:end]
        after = end + 4
        self._hstart = after
        status = self.parser.get_status_code()
        if status < 200 and status != 101:
            self._interim = True
            self._out.append(_status_line_11(head) + b"\r\n\r\n")
            return
        self._in_head = False
        self._body_at = after
        self._keep_alive = self.parser.should_keep_alive()
        self._out.append(client.response_head(self, status, head))
        if client.head_request:
            self._skip_body = True

    def on_body(self, body: bytes) -> None:
        if self._raw or self._complete:
            return  # relayed from the received bytes; or not asked for
        client = self.client
        if client is not None:
            client.response_body(self._out, body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self._complete = True

    # -------------------------------------------------------------------------

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _hop_cut(head: bytes, status: int) -> tuple[bytes, int, bool]:
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


def _gzip_head(head: bytes, types: re.Pattern[str]) -> bytes | None:
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


def _status_line_11(head: bytes) -> bytes:
    """The head with its status line said as HTTP/1.1, the version the proxy speaks."""
    return head if head.startswith(b"HTTP/1.1 ") else b"HTTP/1.1" + head[8:]


class _HeadLimit(Exception):
    """Raised from a parser callback to stop reading a head over a limit (`_limit` says
    which); httptools re-raises it as an HttpParserCallbackError."""


_HEAD_LIMIT = MAX_HEADER_BYTES + HEADER_SLACK
_monotonic = time.monotonic
# Reads of a request body (or a WebSocket's first bytes) kept while the upstream is being
# dialed (up to proxy.dialtimeout): past this many, the client is not read until it is up.
_PENDING_READS = 16


class _ClientProtocol(asyncio.Protocol):
    """One client connection: parses requests, routes them, relays responses."""

    __slots__ = (
        "_auth_wait",
        "_body_sent_ok",
        "_connecting",
        "_counted",
        "_ext_decision",
        "_gz",
        "_gzip_ok",
        "_h_headers",
        "_h_parsed",
        "_h_special",
        "_head_bytes",
        "_headers",
        "_hlen",
        "_idle",
        "_limit",
        "_m_cip",
        "_m_host",
        "_m_local_ip",
        "_m_tail",
        "_m_target",
        "_m_version",
        "_out",
        "_paused",
        "_pending",
        "_pipeline",
        "_remote",
        "_resp_extra",
        "_retry_ok",
        "_since",
        "_timed",
        "_timer",
        "_url",
        "_ws_open",
        "access",
        "busy",
        "chunked_out",
        "close_after",
        "close_delimited",
        "counter",
        "head_request",
        "ids",
        "log_line",
        "parser",
        "pool",
        "remote_ip",
        "req_chunked",
        "req_complete",
        "req_has_body",
        "req_version",
        "resp_bytes",
        "resp_status",
        "routes",
        "settings",
        "started",
        "sweeper",
        "target",
        "transport",
        "tunnel",
        "upstream",
    )

    def __init__(
        self,
        settings: ProxySettings,
        pool: UpstreamPool,
        ids: _RequestIds,
        routes: _RouteCache,
        sweeper: Sweeper | None = None,
        counter: ClientCounter | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.ids = ids
        self.routes = routes
        # The listener's limits: its timeouts' sweeper and its per-client connection count.
        self.sweeper = sweeper
        self.counter = counter
        self._counted = ""  # the address counted in `counter` for this connection
        self._timed = sweeper is not None and bool(sweeper.timeouts.read or sweeper.timeouts.write)
        # When the current phase began (see check_timeouts); whether the connection is
        # between requests; the bytes of an unfinished request head; a limit it broke.
        self._since = 0.0
        self._idle = False
        self._hlen = 0
        self._limit: tuple[int, str] | None = None
        self._remote = b""
        # The last request's header lines, and what was read from them.
        self._h_headers: list[tuple[bytes, bytes]] | None = None
        self._h_special: dict[bytes, int] | None = None
        self._h_parsed: tuple[Any, ...] = ()
        # The last plain request's forwarding headers, and what they were made from.
        self._m_target: Target | None = None
        self._m_host = b""
        self._m_version = ""
        self._m_cip = ""
        self._m_local_ip = ""
        self._m_tail = b""
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.remote_ip = ""
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._out: list[bytes] = []
        self._pending: list[bytes] | None = None
        self._pipeline: deque[tuple[Any, ...]] = deque()
        # A request held while a worker thread checks its credentials: [request, body, done].
        self._auth_wait: list[Any] | None = None
        # An external decision for the held request, and the response header lines it adds.
        self._ext_decision: ExternalDecision | None = None
        self._resp_extra = b""
        # proxy.gzip.contenttype: whether the client takes gzip, and the response's compressor.
        self._gzip_ok = False
        self._gz: Any = None
        self._ws_open = False  # counted in the ws_conn gauge
        self._connecting: asyncio.Task[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._head_bytes = b""
        self._retry_ok = False
        self._body_sent_ok = True
        self._paused = False
        self.upstream: _UpstreamProtocol | None = None
        self.target: Target | None = None
        self.busy = False
        self.tunnel = False
        self.req_chunked = False
        self.req_complete = False
        self.head_request = False
        self.chunked_out = False
        self.close_after = False
        self.close_delimited = False
        self.req_has_body = False
        self.req_version = "1.1"
        self.resp_status = 0
        self.resp_bytes = 0
        self.started = 0.0
        self.access: Any = None
        self.log_line: Any = None

    # asyncio callbacks ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.remote_ip = peer[0] if peer else ""
        self._remote = self.remote_ip.encode()
        self._since = _monotonic()
        counter = self.counter
        if counter is not None:
            if not counter.admit(self.remote_ip):
                # Nomad's answer to a client over http_max_conns_per_client.
                self.transport.write(
                    b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8"
                    b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%b"
                    % (len(TOO_MANY_CONNS), TOO_MANY_CONNS)
                )
                self.transport.close()
                return
            self._counted = self.remote_ip
        if self.sweeper is not None:
            self.sweeper.conns.add(self)

    def set_client_address(self, address: tuple[str, int]) -> None:
        """The client named by a PROXY header (`pxyproto=true` listeners)."""
        self.remote_ip = address[0]
        self._remote = self.remote_ip.encode()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self._counted and self.counter is not None:
            self.counter.release(self._counted)
            self._counted = ""
        if self.sweeper is not None:
            self.sweeper.conns.discard(self)
        if self._ws_open:
            self._ws_open = False
            m = self.settings.metrics
            if m is not None:
                m.ws_conn.value -= 1
        if self._connecting is not None:
            self._connecting.cancel()
        self._cancel_timer()
        up = self.upstream
        if up is not None:
            # Mid-exchange: the upstream connection is in an unknown state; drop it.
            self.upstream = None
            up.client = None
            up.close()
            if self.busy and not self.tunnel and self.resp_status == 0:
                self.resp_status = STATUS_CLIENT_CLOSED
                self._log()
        self._pipeline.clear()

    def data_received(self, data: bytes) -> None:
        if self.tunnel:
            up = self.upstream
            if up is not None and up.transport is not None:
                up.transport.write(data)
            elif self._pending is not None:
                self._pending.append(data)
                if len(self._pending) >= _PENDING_READS:
                    self._hold()
            return
        if self._idle:
            # The first bytes of the next request: its head has the header timeout now.
            self._idle = False
            self._since = _monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args else len(data)
            rest = data[offset:]
            if self.tunnel:
                if rest:
                    self.data_received(rest)
            else:
                # An upgrade other than WebSocket: answered as a plain request, then closed.
                self.close_after = True
        except httptools.HttpParserError as exc:
            if self._limit is not None:
                self._refuse(*self._limit)
            else:
                self._bad_request(str(exc))
            return
        if self._url:
            # A head still unfinished: bounded as Go bounds it (MaxHeaderBytes and the
            # reader's slack), counted in whole reads, before httptools buffers more of it.
            self._hlen += len(data)
            limit = self._over_limit(self._hlen)
            if limit is not None:
                self._refuse(*limit)
                return
        out = self._out
        if out:
            self._out = []
            up = self.upstream
            if up is not None and up.transport is not None:
                up.transport.write(b"".join(out) if len(out) > 1 else out[0])
            else:
                self._body_sent_ok = False

    def pause_writing(self) -> None:
        up = self.upstream
        if up is not None and up.transport is not None:
            up.transport.pause_reading()

    def resume_writing(self) -> None:
        up = self.upstream
        if up is not None and up.transport is not None:
            up.transport.resume_reading()

    # httptools callbacks: the request ------------------------------------------

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def _over_limit(self, size: int) -> tuple[int, str] | None:
        """The limit a request head being read breaks, if any, with `size` bytes of it."""
        if len(self._url) > MAX_URL_BYTES:
            return 414, f"request target over {MAX_URL_BYTES} bytes"
        if len(self._headers) > MAX_HEADER_COUNT:
            return 431, f"more than {MAX_HEADER_COUNT} header fields"
        if size > _HEAD_LIMIT:
            return 431, f"request head over {MAX_HEADER_BYTES} bytes"
        return None

    def on_headers_complete(self) -> None:
        if self._hlen or len(self._url) > MAX_URL_BYTES or len(self._headers) > MAX_HEADER_COUNT:
            # Over a limit, or a head that spanned reads (every head over one read does):
            # its size, now that it is all here, since the read that ended it was not counted.
            size = 0
            if self._hlen:
                size = len(self._url) + sum(len(n) + len(v) + 4 for n, v in self._headers)
            self._limit = self._over_limit(size)
            if self._limit is not None:
                raise _HeadLimit
            self._hlen = 0
        p = self.parser
        request = (
            p.get_method(),
            self._url,
            self._headers,
            p.get_http_version(),
            p.should_keep_alive(),
            p.should_upgrade(),
        )
        self._url = b""
        self._headers = []
        if self.busy:
            # A pipelined request: wait for the current exchange; hold its body too.
            self._pipeline.append((request, [], False))
            if self.transport is not None and not self._paused:
                self._paused = True
                self.transport.pause_reading()
            return
        self._start(request)

    def on_body(self, body: bytes) -> None:
        if self._pipeline:
            self._pipeline[-1][1].append(body)
            return
        if self._auth_wait is not None:
            self._auth_wait[1].append(body)
            return
        self._feed_body(body)

    def _feed_body(self, body: bytes) -> None:
        if self.req_chunked:
            body = b"%x\r\n%b\r\n" % (len(body), body)
        pending = self._pending
        if pending is not None:
            pending.append(body)
            if len(pending) >= _PENDING_READS:
                self._hold()
        else:
            self._out.append(body)

    def on_message_complete(self) -> None:
        if self._pipeline:
            req, body, _ = self._pipeline[-1]
            self._pipeline[-1] = (req, body, True)
            return
        if self._auth_wait is not None:
            self._auth_wait[2] = True
            return
        if self.req_chunked:
            self._end_body()
        else:
            self.req_complete = True

    def _end_body(self) -> None:
        self.req_complete = True
        if self.req_chunked:
            if self._pending is not None:
                self._pending.append(b"0\r\n\r\n")
            else:
                self._out.append(b"0\r\n\r\n")

    # routing and the upstream request ----------------------------------------

    def _start(self, request: tuple[Any, ...]) -> None:
        method, url, headers, version, keep_alive, upgrade = request
        s = self.settings
        self.busy = True
        if self._timed:
            self._since = _monotonic()
        self.resp_status = 0
        self.resp_bytes = 0
        self.req_complete = False
        self.req_chunked = False
        self._body_sent_ok = True
        self.head_request = method == b"HEAD"
        self.req_version = version
        self.close_after = not keep_alive
        self.chunked_out = False
        self.close_delimited = False
        self.target = None
        if s.access_log is not None:
            self.started = time.time()
            self.access = (method, url, headers, version)
        elif s.metrics is not None:
            self.started = time.time()
        if s.gzip_types is not None:
            self._gz = None
            self._gzip_ok = any(
                n.lower() == b"accept-encoding" and b"gzip" in v for n, v in headers
            )

        raw_path, _, query = url.partition(b"?")
        # The host an absolute-form target names; b"*" for `OPTIONS *`; None for neither.
        url_host: bytes | None = None
        if raw_path[:1] != b"/":
            # absolute-form (`GET http://host/path`): its authority is the host, whatever
            # Host says (RFC 9112 section 3.2.2); `*` and CONNECT's authority-form are paths.
            target_form = absolute_form(raw_path)
            if target_form is not None:
                url_host, raw_path = target_form
            else:
                if raw_path == b"*" and method == b"OPTIONS":
                    url_host = b"*"
                raw_path = b"/" + raw_path

        routes = self.routes
        if s.request_id_header is not routes.rid or s.client_ip_header is not routes.cip:
            routes.replaced_headers(s.request_id_header, s.client_ip_header)
        special = routes.special
        if headers == self._h_headers and special is self._h_special:
            # The same header lines as the connection's previous request (a client on a
            # keep-alive connection repeats them): the same reading of them.
            parsed = self._h_parsed
        else:
            parsed = read_headers(headers, special)
            self._h_headers = headers
            self._h_special = special
            self._h_parsed = parsed
        (
            passthrough,
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
            head_ok,
        ) = parsed
        if not head_ok:
            problem = head_problem(version, method, hosts, host, has_te)
            if problem:
                self._refuse(400, problem)
                return
        if url_host is not None:
            if url_host == b"*":
                # About the server, not a resource: Go's server answers it itself.
                self.req_has_body = has_body or is_chunked
                self._respond(200, b"", b"", drain=True)
                return
            if not valid_host(url_host):
                self._refuse(400, MALFORMED_HOST)
                return
            host = url_host
        # out[0] becomes the request line once the target is known.
        out = [b"", passthrough]

        has_body = has_body or is_chunked
        self.req_has_body = has_body
        websocket = bool(upgrade) and upgrade_value.lower() == b"websocket"
        if xfproto or forwarded:
            scheme = self._scheme(xfproto, forwarded, websocket)
        else:
            scheme = routes.ws_scheme if websocket else routes.scheme

        table = s.table
        if routes.table is not table or routes.match is not s.match:
            routes.reset(table, s.match)
        key = host + b" " + raw_path
        route = routes.entries.get(key, _UNKNOWN)
        if route is _UNKNOWN:
            route = routes.resolve(key, host, raw_path)
        target: Target | None
        if route is None:
            target = None
        elif route is _UNCACHEABLE:
            assert s.pick is not None and s.match is not None
            target = table.lookup(
                host.decode("latin-1"),
                lookup_path(raw_path.decode("latin-1")),
                s.pick,
                s.match,
                scheme="https" if scheme in ("https", "wss") else "http",
                query=query.decode("latin-1"),
            )
        else:
            ring = route.ring
            if len(ring) == 1:
                target = ring[0]
            else:
                assert s.pick is not None
                target = s.pick(route)
        if target is None:
            if s.metrics is not None:
                s.metrics.notfound.value += 1
            html = s.noroute_html
            self._respond(
                s.noroute_status,
                html,
                b"text/html; charset=utf-8" if html else b"",
                drain=True,
            )
            return
        self.target = target
        t = routes.targets.get(target)
        if t is None:
            t = routes.target_info(target)
        if t.access_rules:
            ips = [self.remote_ip]
            if xff:
                ips += xff.decode("latin-1").split(",")
            if target.access_denied(ips):
                self._respond(403, b"access denied\n", b"text/plain; charset=utf-8", drain=True)
                return
        if t.auth and not self._authorized(t.auth, headers, request):
            return
        if target.redirect_code:
            if s.metrics is not None:
                s.metrics.redirect(target.redirect_code)
            host_text = host.decode("latin-1")
            path = lookup_path(raw_path.decode("latin-1"))
            location = redirect_url(target, host_text, path, query.decode("latin-1"))
            body = b""
            if method in (b"GET", b"HEAD"):
                body = b'<a href="%s">%s</a>.\n\n' % (
                    _html_escape(location).encode(),
                    _REASONS.get(target.redirect_code, b"Redirect"),
                )
            self._respond(
                target.redirect_code,
                body,
                b"text/html; charset=utf-8" if body else b"",
                extra=b"Location: " + location.encode() + b"\r\n",
                drain=True,
            )
            return

        # The upstream request line: strip=, prepend=, the target's own query.
        up_path = raw_path
        if t.strip and raw_path.startswith(t.strip):
            up_path = raw_path[len(t.strip) :]
            if up_path[:1] != b"/":
                up_path = b"/" + up_path
        if t.prepend:
            up_path = t.prepend + up_path
            if up_path[:1] != b"/":
                up_path = b"/" + up_path
        if t.query:
            query = t.query + (b"&" + query if query else b"")
        if query:
            up_path += b"?" + query
        out[0] = method + b" " + up_path + b" HTTP/1.1\r\n"

        if plain:
            # Nothing of the client's bears on the forwarding headers: the same as for the
            # last request of this connection, if it went to the same target and Host.
            if (
                target is self._m_target
                and host == self._m_host
                and version == self._m_version
                and s.client_ip_header is self._m_cip
                and s.local_ip is self._m_local_ip
            ):
                out.append(self._m_tail)
            else:
                tail = self._forward_headers(
                    t, host, b"", b"", b"", b"", b"", b"", b"", b"", routes.scheme, version
                )
                self._m_target = target
                self._m_host = host
                self._m_version = version
                self._m_cip = s.client_ip_header
                self._m_local_ip = s.local_ip
                self._m_tail = tail
                out.append(tail)
        else:
            out.append(
                self._forward_headers(
                    t,
                    host,
                    xff,
                    xfproto,
                    xfport,
                    xfhost,
                    xfprefix,
                    forwarded,
                    real_ip,
                    upgrade_value if websocket else b"",
                    scheme,
                    version,
                )
            )
        if s.request_id_header:
            batch = self.ids.batch
            out += (routes.rid_prefix, batch.pop() if batch else self.ids.refill(), b"\r\n")
        if is_chunked:
            out.append(b"Transfer-Encoding: chunked\r\n")
        out.append(b"\r\n")
        self.req_chunked = is_chunked
        head = b"".join(out)

        if websocket:
            self.tunnel = True
            if s.metrics is not None and not self._ws_open:
                self._ws_open = True
                s.metrics.ws_conn.value += 1
            self._pending = [head]
            self._connect(target, pooled=False)
            return
        up = None
        idle = self.pool.idle.get(target.pool_key)
        while idle:
            up = idle.pop()
            if up.transport is not None and not up.transport.is_closing():
                break
            up = None
        self._retry_ok = up is not None and not has_body
        self._head_bytes = head if self._retry_ok else b""
        if up is not None:
            up.client = self
            up.received = False
            self.upstream = up
            self._out.append(head)
            if s.response_header_timeout > 0:
                self._arm_timer()
        else:
            self._pending = [head]
            self._connect(target, pooled=True)

    def _forward_headers(
        self,
        t: _TargetBytes,
        host: bytes,
        xff: bytes,
        xfproto: bytes,
        xfport: bytes,
        xfhost: bytes,
        xfprefix: bytes,
        forwarded: bytes,
        real_ip: bytes,
        websocket_upgrade: bytes,
        scheme: str,
        version: str,
    ) -> bytes:
        """Host and the forwarding headers as Fabio sets them, given what the client sent."""
        s = self.settings
        remote = self._remote
        out: list[bytes] = []
        # No Host from the client (HTTP/1.0, or an empty one): the target's, as Go's
        # transport sends, since an HTTP/1.1 request must carry one.
        up_host = t.host if t.host is not None else host or t.netloc
        if up_host:
            out += (b"Host: ", up_host, b"\r\n")
        if websocket_upgrade:
            out += (b"X-Forwarded-For: ", remote, b"\r\nConnection: Upgrade\r\nUpgrade: ")
            out += (websocket_upgrade, b"\r\n")
        elif xff:
            out += (b"X-Forwarded-For: ", xff, b", ", remote, b"\r\n")
        else:
            out += (b"X-Forwarded-For: ", remote, b"\r\n")
        if not real_ip:
            out += (b"X-Real-Ip: ", remote, b"\r\n")
        if s.client_ip_header:
            out += (s.client_ip_header.encode(), b": ", remote, b"\r\n")
        if self.routes.tls_line:
            out.append(self.routes.tls_line)
        if not xfproto:
            if scheme == "http" or scheme == "ws":
                out.append(b"X-Forwarded-Proto: http\r\n")
            else:
                out += (b"X-Forwarded-Proto: ", b"https" if scheme == "wss" else scheme.encode())
                out.append(b"\r\n")
        if not xfport or not xfhost:
            port_line, host_line = self.routes.host_lines(host)
            if not xfport:
                out.append(port_line)
            if not xfhost:
                out.append(host_line)
        if t.prefix_line:
            out.append(t.prefix_line)
        elif xfprefix:
            out += (b"X-Forwarded-Prefix: ", xfprefix, b"\r\n")
        if forwarded:
            out += (b"Forwarded: ", forwarded)
        else:
            out += (b"Forwarded: for=", remote, b"; proto=", scheme.encode())
        if s.local_ip:
            out += (b"; by=", s.local_ip.encode())
        out += (b"; httpproto=http/", version.encode(), b"\r\n")
        return b"".join(out)

    def _scheme(self, xfproto: bytes, forwarded: bytes, websocket: bool) -> str:
        if xfproto and not forwarded:
            return xfproto.decode("latin-1")
        if forwarded and not xfproto:
            _, sep, rest = forwarded.decode("latin-1").partition("proto=")
            if sep:
                return rest.split(";", 1)[0].strip()
        return self.routes.ws_scheme if websocket else self.routes.scheme

    def _connect(self, target: Target, *, pooled: bool) -> None:
        loop = asyncio.get_running_loop()
        self._connecting = loop.create_task(self._open(target, pooled))

    async def _open(self, target: Target, pooled: bool) -> None:
        s = self.settings
        key = target.pool_key
        loop = asyncio.get_running_loop()
        ssl_ctx = self.pool.ssl_context(key[2] == 1) if key[2] else None
        try:
            async with asyncio.timeout(s.dial_timeout or None):
                _, proto = await loop.create_connection(
                    lambda: _UpstreamProtocol(self.pool, key),
                    target.host,
                    target.port,
                    ssl=ssl_ctx,
                    server_hostname=target.host if ssl_ctx is not None else None,
                )
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            self._connecting = None
            self._fail(504)
            return
        except OSError as exc:
            log.info("upstream %s:%d: %s", target.host, target.port, exc)
            self._connecting = None
            self._fail(502)
            return
        self._connecting = None
        if self.transport is None:
            proto.close()
            return
        proto.client = self
        proto.tunnel = not pooled
        self.upstream = proto
        pending, self._pending = self._pending or [], None
        if proto.transport is not None:
            proto.transport.write(b"".join(pending))
        if self._paused and not self._pipeline and self._auth_wait is None:
            # Held while dialing (see _PENDING_READS): the upstream takes the rest.
            self._paused = False
            if self.transport is not None:
                self.transport.resume_reading()
        if not self.tunnel:
            self._arm_timer()

    def _flush_up(self) -> None:
        if self._out:
            up = self.upstream
            out, self._out = self._out, []
            if up is not None and up.transport is not None:
                up.transport.write(b"".join(out) if len(out) > 1 else out[0])
            else:
                self._body_sent_ok = False

    def _arm_timer(self) -> None:
        t = self.settings.response_header_timeout
        if t > 0:
            self._timer = asyncio.get_running_loop().call_later(t, self._timeout)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timeout(self) -> None:
        self._timer = None
        up = self.upstream
        if up is not None:
            self.upstream = None
            up.client = None
            up.close()
        self._fail(504)

    # the response -------------------------------------------------------------

    def response_head(self, up: _UpstreamProtocol, status: int, head: bytes) -> bytes:
        """The client's response head from the upstream's (status line and header lines, no
        blank line): hop-by-hop lines cut out, framing and connection lines of our own added.
        Tells `up` whether the body can be relayed as raw slices (it has a Content-Length)."""
        if self._timer is not None:
            self._cancel_timer()
        self.resp_status = status
        if status == 101:
            up.tunnel = True
            self.tunnel = True
        head, length, chunked = _hop_cut(head, status)
        if not head.startswith(b"HTTP/1.1 "):
            head = _status_line_11(head)
        if self.routes.sts_line:
            head += self.routes.sts_line
        if self._resp_extra:
            head += self._resp_extra
        bodiless = self.head_request or status in _NO_BODY_STATUS or status == 101
        self.close_delimited = not bodiless and length == -1 and not chunked
        types = self.settings.gzip_types
        if types is not None and status != 101:
            head += b"\r\nVary: Accept-Encoding"  # as Fabio: on every response
            if self._gzip_ok and not bodiless:
                gz_head = _gzip_head(head, types)
                if gz_head is not None:
                    # The body goes through the parser and the compressor, framed as one
                    # of unknown length.
                    head, length, chunked = gz_head, -1, False
                    self._gz = zlib.compressobj(6, zlib.DEFLATED, 31)
        extra = b""
        if not bodiless:
            if length >= 0 and not chunked:
                up._raw = True
                up._left = length
            elif length == -1:
                if self.req_version == "1.1":
                    extra = b"\r\nTransfer-Encoding: chunked"
                    self.chunked_out = True
                elif not chunked:
                    self.close_after = True
                else:
                    # Chunked upstream, HTTP/1.0 client: the body is sent as it is decoded
                    # and its end is the end of the connection.
                    self.close_after = True
        elif chunked and self.head_request:
            extra = b"\r\nTransfer-Encoding: chunked"
        if self.close_after:
            return head + extra + b"\r\nConnection: close\r\n\r\n"
        if self.req_version == "1.0":
            return head + extra + b"\r\nConnection: keep-alive\r\n\r\n"
        return head + extra + b"\r\n\r\n"

    def response_body(self, out: list[bytes], body: bytes) -> None:
        if self._gz is not None:
            body = self._gz.compress(body)
            if not body:
                return
        self.resp_bytes += len(body)
        if self.chunked_out:
            out.append(b"%x\r\n%b\r\n" % (len(body), body))
        else:
            out.append(body)

    def _gzip_end(self, out: list[bytes]) -> None:
        gz, self._gz = self._gz, None
        if gz is not None:
            tail = gz.flush()
            self.resp_bytes += len(tail)
            out.append(b"%x\r\n%b\r\n" % (len(tail), tail) if self.chunked_out else tail)

    def response_complete(self, up: _UpstreamProtocol, out: list[bytes]) -> None:
        if self._gz is not None:
            self._gzip_end(out)
        m = self.settings.metrics
        if m is not None:
            m.response(self.target, self.resp_status, time.time() - self.started)
        if self.chunked_out:
            out.append(b"0\r\n\r\n")
        self.upstream = None
        up.client = None
        reusable = up._keep_alive and self.req_complete and self._body_sent_ok
        transport = self.transport
        if out and transport is not None:
            transport.write(b"".join(out) if len(out) > 1 else out[0])
        if reusable:
            up._in_head = True
            up._hbuf = up._buf = b""
            up._hstart = 0
            up._raw = up._complete = False
            self.pool.put(up)
        else:
            up.close()
        self._finish()

    def write_out(self, out: list[bytes]) -> None:
        if self.transport is not None:
            self.transport.write(b"".join(out) if len(out) > 1 else out[0])

    def write_raw(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def upstream_lost(self, up: _UpstreamProtocol, exc: Exception | None) -> None:
        if self.upstream is not up:
            return
        self.upstream = None
        if self.tunnel:
            if self.transport is not None:
                self.transport.close()
            return
        if self.resp_status == 0:
            # Nothing came back. A request without a body on a reused connection that the
            # upstream had just closed is sent again on a fresh one, as Go's transport does.
            if not up.received and self._retry_ok and self._head_bytes and self.target:
                self._retry_ok = False
                self._pending = [self._head_bytes]
                self._connect(self.target, pooled=True)
                return
            self._fail(502)
            return
        if self.close_delimited:
            # A body without length or chunking ends when the upstream closes.
            end: list[bytes] = []
            self._gzip_end(end)
            m = self.settings.metrics
            if m is not None:
                m.response(self.target, self.resp_status, time.time() - self.started)
            if self.chunked_out:
                end.append(b"0\r\n\r\n")
            if end:
                self.write_raw(b"".join(end))
            self._finish()
            return
        # The response was cut short: the client cannot be told; close its connection.
        if self.transport is not None:
            self.transport.close()
        self._log()

    def upstream_failed(self, up: _UpstreamProtocol, status: int) -> None:
        if self.upstream is up:
            self.upstream = None
        if self.resp_status == 0:
            self._fail(status)
        elif self.transport is not None:
            self.transport.close()

    def _fail(self, status: int) -> None:
        self._cancel_timer()
        self.close_after = True
        self._respond(status, b"", b"", drain=False)

    def _respond(
        self, status: int, body: bytes, ctype: bytes, *, extra: bytes = b"", drain: bool
    ) -> None:
        """A response of the router's own (no route, redirect, errors)."""
        self.resp_status = status
        self.resp_bytes = len(body)
        if drain and self.req_has_body and not self.req_complete:
            # The request body is still coming: simplest correct answer is to close after.
            self.close_after = True
        head = b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Status"))
        if ctype:
            head += b"Content-Type: " + ctype + b"\r\n"
        head += extra + b"Content-Length: %d\r\n" % len(body)
        if self.close_after:
            head += b"Connection: close\r\n"
        if self.head_request:
            body = b""
        self._pending = None
        self._out = []
        self.write_raw(head + b"\r\n" + body)
        self._finish()

    def _finish(self) -> None:
        if self._resp_extra or self._ext_decision is not None:
            self._resp_extra = b""
            self._ext_decision = None
        if self.access is not None:
            self._log()
        self.busy = False
        self.tunnel = False
        self.upstream = None
        self._pending = None
        if self.close_after:
            if self.transport is not None:
                self.transport.close()
            return
        self._idle = True
        self._since = _monotonic()
        if self._pipeline:
            self._resume_pipeline()

    def _resume_pipeline(self) -> None:
        while self._pipeline and not self.busy:
            request, body, complete = self._pipeline.popleft()
            self._start(request)
            if self._auth_wait is not None:
                self._auth_wait[1:] = [body, complete]
                break
            for chunk in body:
                self._feed_body(chunk)
            if complete:
                self._end_body()
            self._flush_up()
            if not complete:
                break
        if not self._pipeline and self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    # Fabio's auth= ------------------------------------------------------------

    def _authorized(
        self, name: str, headers: list[tuple[bytes, bytes]], request: tuple[Any, ...]
    ) -> bool:
        """Whether the request may go on; when not, it has been answered or is held."""
        scheme = self.settings.auth.get(name)
        if scheme is None:
            log.error("route auth=%s: no such scheme in proxy.auth", name)
            self._respond(401, b"authorization failed\n", b"text/plain; charset=utf-8", drain=True)
            return False
        if isinstance(scheme, ExternalAuth):
            return self._external(scheme, headers, request)
        value = b""
        for hname, hvalue in headers:
            if len(hname) == 13 and hname.lower() == b"authorization":
                value = hvalue
                break
        verdict = scheme.known_verdict(value)
        if verdict is None:
            # Not seen since the file was read: check it off the loop (bcrypt takes tens of
            # milliseconds), holding this request's body and any pipelined request behind it.
            self._auth_wait = [request, [], False]
            self._hold()
            done = asyncio.get_running_loop().run_in_executor(None, scheme.check, value)
            done.add_done_callback(self._auth_checked)
            return False
        if not verdict:
            self._respond(
                401,
                b"authorization failed\n",
                b"text/plain; charset=utf-8",
                extra=scheme.challenge,
                drain=True,
            )
            return False
        return True

    def _hold(self) -> None:
        """Stop reading while the held request waits for its decision."""
        if self.transport is not None and not self._paused:
            self._paused = True
            self.transport.pause_reading()

    def _auth_checked(self, done: asyncio.Future[bool]) -> None:
        held, self._auth_wait = self._auth_wait, None
        if held is None or self.transport is None:
            return
        if done.cancelled() or done.exception() is not None:
            self.close_after = True
            self._respond(500, b"", b"", drain=False)
            return
        # The verdict is remembered now: the request starts over and finds it.
        self._restart_held(held)

    def _restart_held(self, held: list[Any]) -> None:
        self.busy = False
        self._pipeline.appendleft(tuple(held))
        self._resume_pipeline()

    def _external(
        self, scheme: ExternalAuth, headers: list[tuple[bytes, bytes]], request: tuple[Any, ...]
    ) -> bool:
        """Fabio's external auth: each request waits for the decision endpoint's answer."""
        decision, self._ext_decision = self._ext_decision, None
        if decision is None:
            method, url = request[0].decode("latin-1"), request[1].decode("latin-1")
            host = next((v for n, v in headers if n.lower() == b"host"), b"")
            self._auth_wait = [request, [], False]
            self._hold()
            task = asyncio.ensure_future(
                scheme.decide(method, url, host.decode("latin-1"), headers)
            )
            task.add_done_callback(self._external_decided)
            return False
        if decision.status == 200:
            self._resp_extra = decision.header_lines
            return True
        if decision.status == 302:
            location = decision.location.encode("latin-1", "replace")
            body = b""
            if request[0] in (b"GET", b"HEAD"):
                body = b'<a href="%s">Found</a>.\n\n' % _html_escape(decision.location).encode()
            self._respond(
                302,
                body,
                b"text/html; charset=utf-8" if body else b"",
                extra=b"Location: " + location + b"\r\n",
                drain=True,
            )
            return False
        self._respond(401, b"authorization failed\n", b"text/plain; charset=utf-8", drain=True)
        return False

    def _external_decided(self, task: asyncio.Future[ExternalDecision]) -> None:
        held, self._auth_wait = self._auth_wait, None
        if held is None or self.transport is None:
            return
        failed = task.cancelled() or task.exception() is not None
        self._ext_decision = ExternalDecision(401) if failed else task.result()
        self._restart_held(held)

    def _bad_request(self, why: str) -> None:
        """A request httptools could not read (its head, or its body's framing)."""
        if why == "Request has invalid `Transfer-Encoding`":
            # Go's answer to a transfer coding other than chunked.
            self._refuse(501, "Unsupported transfer encoding")
        else:
            self._refuse(400, why)

    def _refuse(self, status: int, why: str) -> None:
        """Answer a request the proxy will not forward (`status`, with `why` in the body, as
        Go's server words them), and close the connection. A request already being
        forwarded is abandoned while nothing of its response has been relayed yet."""
        self.close_after = True
        if self.transport is None:
            return
        if self.busy:
            if self.resp_status or self.tunnel or self.req_complete or self._pipeline:
                # A response under way, or the fault is in a later pipelined request:
                # the client cannot be told in order; the connection is closed.
                self.transport.close()
                return
            self._abandon_exchange()
        body = b"%d %b: %b\n" % (status, _REASONS.get(status, b"Error"), why.encode())
        self.busy = True
        self.head_request = False
        self._respond(status, body, b"text/plain; charset=utf-8", drain=False)

    def _abandon_exchange(self) -> None:
        """Drop the upstream side of the current exchange: its dial, its connection, its
        timer, a held request and the requests pipelined behind it."""
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        self._cancel_timer()
        up = self.upstream
        if up is not None:
            self.upstream = None
            up.client = None
            up.close()
        self._auth_wait = None
        self._pipeline.clear()

    def check_timeouts(self, t: Timeouts, now: float) -> None:
        """Close the connection if it has run out of time in its phase (the sweeper calls
        this). As Go's server: no response, the connection is just closed."""
        if self.tunnel or self.transport is None:
            return
        phase = BUSY if self.busy else IDLE if self._idle else HEAD
        why = expired(t, phase, self._since, self._since, self.req_complete, now)
        if why:
            log.debug("closing the connection from %s: %s timeout", self.remote_ip, why)
            self.close_after = True
            self.transport.close()

    def _log(self) -> None:
        al = self.settings.access_log
        if al is None or self.access is None:
            return
        method, url, headers, version = self.access
        self.access = None
        t = self.target
        info = self.routes.targets.get(t) if t is not None else None
        al.log(
            self.started,
            time.time(),
            self.remote_ip,
            method,
            url,
            version,
            headers,
            self.resp_status,
            self.resp_bytes,
            info.upstream if info is not None else _addr(t),
            t.service if t else "",
        )


def _addr(t: Target | None) -> str:
    """The access log's `$upstream_addr`."""
    return f"{t.host}:{t.port}" if t is not None else ""


class _Unknown:
    """Markers of the route cache: not looked up yet; not cacheable (redirect targets)."""


_UNKNOWN: Any = _Unknown()
_UNCACHEABLE: Any = _Unknown()


class _TargetBytes:
    """What a target adds to a request, encoded once per table."""

    __slots__ = (
        "access_rules",
        "auth",
        "host",
        "netloc",
        "prefix_line",
        "prepend",
        "query",
        "strip",
        "upstream",
    )

    def __init__(self, t: Target) -> None:
        self.access_rules = t.has_access_rules
        self.auth = t.auth_scheme
        self.upstream = _addr(t)
        strip: bytes | None = None
        if t.strip_path:
            try:
                strip = t.strip_path.encode("latin-1")
            except UnicodeEncodeError:
                strip = None  # cannot prefix a path received as bytes
        self.strip = strip
        self.prefix_line = (
            b"X-Forwarded-Prefix: " + t.strip_path.encode() + b"\r\n" if t.strip_path else b""
        )
        self.prepend = t.prepend_path.encode()
        self.query = t.url_query.encode()
        self.netloc = t.netloc.encode()
        if t.host_header == "dst":
            self.host: bytes | None = t.netloc.encode()
        elif t.host_header:
            self.host = t.host_header.encode()
        else:
            self.host = None


class _RouteCache:
    """Lookups of one table, by the request's Host and raw path, and the bytes that go with
    them. Tables are replaced whole, never changed, so a new table starts a new cache."""

    __slots__ = (
        "_hosts",
        "cip",
        "default_port",
        "entries",
        "match",
        "rid",
        "rid_prefix",
        "scheme",
        "special",
        "sts_line",
        "table",
        "targets",
        "tls_line",
        "tls_name",
        "ws_scheme",
    )

    LIMIT = 8192
    KEY_LIMIT = 1024  # longer host+path keys (and Host values) are not cached

    def __init__(
        self, tls: bool = False, tls_header: str = "", tls_value: str = "", sts: str = ""
    ) -> None:
        # What the listener is: the scheme and port the forwarding headers name when the
        # client does not say.
        self.scheme = "https" if tls else "http"
        self.ws_scheme = "wss" if tls else "ws"
        self.default_port = b"443" if tls else b"80"
        self.table: Table | None = None
        self.match: Matcher | None = None
        self.entries: dict[bytes, Any] = {}
        self.targets: dict[Target, _TargetBytes] = {}
        self._hosts: dict[bytes, tuple[bytes, bytes]] = {}
        # The request headers to look at, for these request-ID and client-IP header names.
        self.special = REQUEST_SPECIAL
        self.rid = ""
        self.cip = ""
        self.rid_prefix = b""
        # Fabio's proxy.header.tls, on a TLS listener: sent instead of the client's own.
        self.tls_name = tls_header if tls else ""
        self.tls_line = f"{tls_header}: {tls_value}\r\n".encode("latin-1") if self.tls_name else b""
        if self.tls_name:
            self.replaced_headers("", "")
        self.sts_line = b"\r\nStrict-Transport-Security: " + sts.encode() if tls and sts else b""

    def reset(self, table: Table, match: Matcher | None) -> None:
        self.table = table
        self.match = match
        self.entries = {}
        self.targets = {}

    def resolve(self, key: bytes, host: bytes, raw_path: bytes) -> Any:
        """The route `Table.lookup` would take for this host and path; None for no route;
        _UNCACHEABLE when a redirect target may send the lookup on to another host."""
        table = self.table
        match = self.match
        assert table is not None and match is not None
        path = lookup_path(raw_path.decode("latin-1"))
        result: Any = None
        for h in table.matching_hosts(host.decode("latin-1")):
            for r in table.hosts.get(h, ()):
                if match(path, r):
                    break
            else:
                continue
            if not r.ring:
                continue
            result = _UNCACHEABLE if any(t.redirect_code for t in r.targets) else r
            break
        if len(key) > self.KEY_LIMIT:
            return result  # looked up each time: the cache holds LIMIT short keys at most
        if len(self.entries) >= self.LIMIT:
            self.entries.clear()
        self.entries[key] = result
        return result

    def target_info(self, target: Target) -> _TargetBytes:
        info = self.targets[target] = _TargetBytes(target)
        return info

    def host_lines(self, host: bytes) -> tuple[bytes, bytes]:
        """(`X-Forwarded-Port` line, `X-Forwarded-Host` line or b"") for a Host value."""
        lines = self._hosts.get(host)
        if lines is None:
            colon = host.rfind(b":")
            port = (
                host[colon + 1 :]
                if 0 < colon < len(host) - 1 and b"]" not in host[colon:]
                else self.default_port
            )
            lines = (
                b"X-Forwarded-Port: " + port + b"\r\n",
                b"X-Forwarded-Host: " + host + b"\r\n" if host else b"",
            )
            if len(host) > self.KEY_LIMIT:
                return lines
            if len(self._hosts) >= self.LIMIT:
                self._hosts.clear()
            self._hosts[host] = lines
        return lines

    def replaced_headers(self, rid: str, cip: str) -> None:
        """The request-ID and client-IP header names changed: what to look at, what to send."""
        special = dict(REQUEST_SPECIAL)
        for name in (rid, cip, self.tls_name):
            if name:
                lname = name.lower().encode()
                kind = special.get(lname, 0)
                special[lname] = kind | DROP if kind & KEEP or not kind else kind
        self.special = special
        self.rid = rid
        self.cip = cip
        self.rid_prefix = rid.encode() + b": "


class _RequestIds:
    """Request IDs in the UUID text form, as Fabio makes them: a random generator prefix
    and a counter (fastuuid's scheme), unique without a system call per request. They are
    made 256 at a time: the data path takes one with `ids.batch.pop()` while there are any,
    else calls `refill()`."""

    __slots__ = ("_n", "_prefix", "batch")

    BATCH = 256

    def __init__(self) -> None:
        self._n = 0
        self._prefix = b""
        self.batch: list[bytes] = []
        self._reseed()

    def _reseed(self) -> None:
        b = bytearray(os.urandom(16))
        b[6] = (b[6] & 0x0F) | 0x40  # version 4
        b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
        h = b.hex().encode()
        self._prefix = b"%s-%s-%s-%s-" % (h[:8], h[8:12], h[12:16], h[16:20])
        self._n = int(h[20:], 16)

    def refill(self) -> bytes:
        """Makes the next batch and returns its first ID."""
        n = self._n
        if n + self.BATCH >= 1 << 48:
            self._reseed()
            n = self._n
        self._n = n + self.BATCH
        prefix = self._prefix
        # Popped from the end: the last made is the first taken, so reverse the counter.
        self.batch = [prefix + b"%012x" % i for i in range(n + self.BATCH, n, -1)]
        return self.batch.pop()

    def next(self) -> bytes:
        return self.batch.pop() if self.batch else self.refill()


def _html_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")


class HTTPProxy:
    """A listener serving the proxy on host:port (port 0 binds a free port)."""

    def __init__(
        self,
        settings: ProxySettings,
        tls: ssl.SSLContext | None = None,
        *,
        proxy_protocol: float | None = None,
        timeouts: Timeouts | None = None,
        max_conns_per_client: int = 0,
    ) -> None:
        self.settings = settings
        self.tls = tls
        # With a PROXY header timeout (`pxyproto=true`), connections may start with one.
        self.proxy_protocol = proxy_protocol
        self.sweeper = Sweeper(timeouts or Timeouts())
        # Behind a PROXY-protocol balancer every connection comes from the balancer: the
        # per-client cap would cap the balancer, so it is not applied there.
        self.counter = (
            ClientCounter(max_conns_per_client)
            if max_conns_per_client > 0 and proxy_protocol is None
            else None
        )
        self.pool = UpstreamPool(settings)
        self.ids = _RequestIds()
        self.routes = _RouteCache(
            tls is not None, settings.tls_header, settings.tls_header_value, settings.sts_value
        )
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    def protocol(self) -> _ClientProtocol:
        """The protocol of one client connection (the listener's factory)."""
        return _ClientProtocol(
            self.settings, self.pool, self.ids, self.routes, self.sweeper, self.counter
        )

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        factory: Callable[[], asyncio.Protocol] = self.protocol
        if self.proxy_protocol is not None:
            factory = with_proxy_protocol(factory, self.proxy_protocol)
        self._server = await loop.create_server(
            factory,
            host,
            port,
            reuse_address=True,
            backlog=1024,
            ssl=self.tls,
            ssl_handshake_timeout=self.sweeper.timeouts.handshake() if self.tls else None,
        )
        self.pool.start()
        self.sweeper.start()
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self.sweeper.stop()
        self.pool.close()
