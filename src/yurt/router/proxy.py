"""The HTTP data path: asyncio protocols, httptools parsers, pooled upstream connections.

Each client connection is one `_ClientProtocol`; a request is routed when its headers are
complete, its head is rewritten (Fabio's forwarding headers, `strip=`, `prepend=`, `host=`),
and it is sent on an idle keep-alive connection to the target (or a new one). Bodies are
streamed in both directions as they arrive, with back-pressure: a side whose peer cannot keep
up stops reading. Writes produced while one packet is parsed are joined into one send.
WebSocket upgrades become a raw two-way pipe after the request head, as in Fabio.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, cast

import httptools

from yurt.router.access_log import AccessLog
from yurt.router.paths import lookup_path
from yurt.router.table import Matcher, Picker, Table, Target, redirect_url

log = logging.getLogger(__name__)

STATUS_CLIENT_CLOSED = 499

# Hop-by-hop headers (RFC 7230 6.1) that a proxy must not forward.
_HOP = frozenset(
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
    499: b"Client Closed Request",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    504: b"Gateway Timeout",
}
_NO_BODY_STATUS = frozenset({204, 304})

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
) = range(1, 13)
_REQ_SPECIAL: dict[bytes, int] = {name: _H_HOP for name in _HOP}
_REQ_SPECIAL.update(
    {
        b"transfer-encoding": _H_TE,
        b"upgrade": _H_UPGRADE,
        b"host": _H_HOST,
        b"x-forwarded-for": _H_XFF,
        b"forwarded": _H_FORWARDED,
        b"x-forwarded-prefix": _H_XFPREFIX,
        b"content-length": _H_CL,
        b"x-forwarded-proto": _H_XFPROTO,
        b"x-forwarded-port": _H_XFPORT,
        b"x-forwarded-host": _H_XFHOST,
        b"x-real-ip": _H_REALIP,
    }
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
    access_log: AccessLog | None = None


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
        conns = self.idle.setdefault(conn.key, [])
        if len(conns) >= self.settings.max_idle_per_upstream:
            conn.close()
            return
        conn.idle_since = time.monotonic()
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
            limit = time.monotonic() - timeout
            for conns in self.idle.values():
                old = [c for c in conns if c.idle_since < limit]
                for c in old:
                    conns.remove(c)
                    c.close()


class _UpstreamProtocol(asyncio.Protocol):
    """One connection to an upstream; serves one exchange at a time for a client."""

    __slots__ = (
        "_interim",
        "_out",
        "_reason",
        "_skip_body",
        "client",
        "headers",
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
        self.headers: list[tuple[bytes, bytes]] = []
        self._reason = b""
        self._out: list[bytes] = []
        self._interim = False
        self._skip_body = False
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
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass
        except httptools.HttpParserError as exc:
            log.warning("bad response from %s:%d: %s", self.key[0], self.key[1], exc)
            self.client = None
            self.close()
            client.upstream_failed(self, 502)
            return
        if self._skip_body:
            # A response to HEAD has no body whatever its headers say; start afresh.
            self._skip_body = False
            self.parser = httptools.HttpResponseParser(self)
            self.on_message_complete()
        if self._out:
            out, self._out = self._out, []
            client.write_out(out)

    def pause_writing(self) -> None:
        if self.client is not None and self.client.transport is not None:
            self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.client is not None and self.client.transport is not None:
            self.client.transport.resume_reading()

    # httptools callbacks -------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        client = self.client
        if client is None:
            return
        status = self.parser.get_status_code()
        headers, self.headers = self.headers, []
        reason, self._reason = self._reason, b""
        if status < 200 and status != 101:
            self._interim = True
            head = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
            for name, value in headers:
                head += (name, b": ", value, b"\r\n")
            head.append(b"\r\n")
            self._out.append(b"".join(head))
            return
        self._out.append(client.response_head(self, status, reason, headers))
        if client.head_request:
            self._skip_body = True

    def on_body(self, body: bytes) -> None:
        client = self.client
        if client is not None:
            client.response_body(self._out, body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        client = self.client
        if client is not None and not self._skip_body:
            client.response_complete(self, self._out)

    # -------------------------------------------------------------------------

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _ClientProtocol(asyncio.Protocol):
    """One client connection: parses requests, routes them, relays responses."""

    __slots__ = (
        "_body_sent_ok",
        "_connecting",
        "_head_bytes",
        "_headers",
        "_out",
        "_paused",
        "_pending",
        "_pipeline",
        "_retry_ok",
        "_timer",
        "_url",
        "access",
        "busy",
        "chunked_out",
        "close_after",
        "close_delimited",
        "head_request",
        "ids",
        "log_line",
        "parser",
        "pool",
        "remote_ip",
        "req_chunked",
        "req_complete",
        "req_has_body",
        "resp_bytes",
        "resp_status",
        "settings",
        "started",
        "target",
        "transport",
        "tunnel",
        "upstream",
    )

    def __init__(self, settings: ProxySettings, pool: UpstreamPool, ids: _RequestIds) -> None:
        self.settings = settings
        self.pool = pool
        self.ids = ids
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.remote_ip = ""
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._out: list[bytes] = []
        self._pending: list[bytes] | None = None
        self._pipeline: deque[tuple[Any, ...]] = deque()
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

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
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
            return
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
            self._bad_request(str(exc))
            return
        self._flush_up()

    def pause_writing(self) -> None:
        up = self.upstream
        if up is not None and up.transport is not None:
            up.transport.pause_reading()

    def resume_writing(self) -> None:
        up = self.upstream
        if up is not None and up.transport is not None:
            up.transport.resume_reading()

    # httptools callbacks: the request ------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        p = self.parser
        request = (
            p.get_method(),
            self._url,
            self._headers,
            p.get_http_version(),
            p.should_keep_alive(),
            p.should_upgrade(),
        )
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
        self._feed_body(body)

    def _feed_body(self, body: bytes) -> None:
        if self.req_chunked:
            body = b"%x\r\n%b\r\n" % (len(body), body)
        if self._pending is not None:
            self._pending.append(body)
        else:
            self._out.append(body)

    def on_message_complete(self) -> None:
        if self._pipeline:
            req, body, _ = self._pipeline[-1]
            self._pipeline[-1] = (req, body, True)
            return
        self._end_body()

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
        self.resp_status = 0
        self.resp_bytes = 0
        self.req_complete = False
        self.req_chunked = False
        self._body_sent_ok = True
        self.head_request = method == b"HEAD"
        self.close_after = not keep_alive
        self.chunked_out = False
        self.close_delimited = False
        self.target = None
        if s.access_log is not None:
            self.started = time.time()
            self.access = (method, url, headers, version)

        raw_path, _, query = url.partition(b"?")
        if raw_path[:1] != b"/":
            # absolute-form (`GET http://host/path`) or `*`
            if raw_path.startswith((b"http://", b"https://")):
                rest = raw_path.split(b"://", 1)[1]
                slash = rest.find(b"/")
                raw_path = rest[slash:] if slash >= 0 else b"/"
            else:
                raw_path = b"/" + raw_path
        path_text = raw_path.decode("latin-1")
        path = lookup_path(path_text)

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
        out_headers: list[bytes] = []
        add = out_headers.append
        rid = s.request_id_header.lower().encode() if s.request_id_header else b""
        cip = s.client_ip_header.lower().encode() if s.client_ip_header else b""
        special = _REQ_SPECIAL
        for name, value in headers:
            lname = name.lower()
            kind = special.get(lname, 0)
            if kind == 0:
                if (rid and lname == rid) or (cip and lname == cip):
                    continue
                add(name + b": " + value + b"\r\n")
                continue
            if kind == _H_HOP:
                continue
            if kind == _H_TE:
                is_chunked = b"chunked" in value.lower()
            elif kind == _H_UPGRADE:
                upgrade_value = value
            elif kind == _H_HOST:
                host = value
            elif kind == _H_XFF:
                xff = value if not xff else xff + b", " + value
            elif kind == _H_FORWARDED:
                forwarded = value
            elif kind == _H_XFPREFIX:
                xfprefix = value
            else:
                # Kept as they are, but their presence matters below.
                if kind == _H_CL:
                    has_body = value.strip() not in (b"0", b"")
                elif kind == _H_XFPROTO:
                    xfproto = value
                elif kind == _H_XFPORT:
                    xfport = value
                elif kind == _H_XFHOST:
                    xfhost = value
                elif kind == _H_REALIP:
                    real_ip = value
                if (rid and lname == rid) or (cip and lname == cip):
                    continue
                add(name + b": " + value + b"\r\n")

        has_body = has_body or is_chunked
        self.req_has_body = has_body
        host_text = host.decode("latin-1")
        websocket = bool(upgrade) and upgrade_value.lower() == b"websocket"
        scheme = self._scheme(xfproto, forwarded, websocket)
        table = s.table
        assert s.pick is not None and s.match is not None
        target = table.lookup(
            host_text,
            path,
            s.pick,
            s.match,
            scheme="https" if scheme in ("https", "wss") else "http",
            query=query.decode("latin-1"),
        )
        if target is None:
            html = s.noroute_html
            self._respond(
                s.noroute_status,
                html,
                b"text/html; charset=utf-8" if html else b"",
                drain=True,
            )
            return
        self.target = target
        if target.has_access_rules:
            ips = [self.remote_ip]
            if xff:
                ips += xff.decode("latin-1").split(",")
            if target.access_denied(ips):
                self._respond(403, b"access denied\n", b"text/plain; charset=utf-8", drain=True)
                return
        if target.redirect_code:
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
        strip = target.strip_path
        if strip and path_text.startswith(strip):
            up_path = raw_path[len(strip) :]
            if up_path[:1] != b"/":
                up_path = b"/" + up_path
        if target.prepend_path:
            up_path = target.prepend_path.encode() + up_path
            if up_path[:1] != b"/":
                up_path = b"/" + up_path
        tq = target.url_query
        if tq:
            query = tq.encode() + (b"&" + query if query else b"")
        if query:
            up_path += b"?" + query

        remote = self.remote_ip.encode()
        if target.host_header == "dst":
            up_host = target.netloc.encode()
        elif target.host_header:
            up_host = target.host_header.encode()
        else:
            up_host = host
        if up_host:
            add(b"Host: " + up_host + b"\r\n")
        if websocket:
            add(b"X-Forwarded-For: " + remote + b"\r\n")
            add(b"Connection: Upgrade\r\nUpgrade: " + upgrade_value + b"\r\n")
        else:
            add(b"X-Forwarded-For: " + (xff + b", " + remote if xff else remote) + b"\r\n")
        if not real_ip:
            add(b"X-Real-Ip: " + remote + b"\r\n")
        if cip:
            add(s.client_ip_header.encode() + b": " + remote + b"\r\n")
        if rid:
            add(s.request_id_header.encode() + b": " + self.ids.next() + b"\r\n")
        if not xfproto:
            xp = (
                b"http"
                if scheme in ("http", "ws")
                else b"https"
                if scheme == "wss"
                else scheme.encode()
            )
            add(b"X-Forwarded-Proto: " + xp + b"\r\n")
        if not xfport:
            colon = host.rfind(b":")
            port = (
                host[colon + 1 :]
                if 0 < colon < len(host) - 1 and b"]" not in host[colon:]
                else b"80"
            )
            add(b"X-Forwarded-Port: " + port + b"\r\n")
        if not xfhost and host:
            add(b"X-Forwarded-Host: " + host + b"\r\n")
        if strip:
            add(b"X-Forwarded-Prefix: " + strip.encode() + b"\r\n")
        elif xfprefix:
            add(b"X-Forwarded-Prefix: " + xfprefix + b"\r\n")
        fwd = forwarded or b"for=" + remote + b"; proto=" + scheme.encode()
        if s.local_ip:
            fwd += b"; by=" + s.local_ip.encode()
        fwd += b"; httpproto=http/" + version.encode()
        add(b"Forwarded: " + fwd + b"\r\n")

        if is_chunked:
            add(b"Transfer-Encoding: chunked\r\n")
        self.req_chunked = is_chunked
        head = b"%s %s HTTP/1.1\r\n%s\r\n" % (method, up_path, b"".join(out_headers))

        if websocket:
            self.tunnel = True
            self._pending = [head]
            self._connect(target, pooled=False)
            return
        up = self.pool.get(target.pool_key)
        self._retry_ok = up is not None and not has_body
        self._head_bytes = head if self._retry_ok else b""
        if up is not None:
            up.client = self
            up.received = False
            self.upstream = up
            self._out.append(head)
            self._arm_timer()
        else:
            self._pending = [head]
            self._connect(target, pooled=True)

    @staticmethod
    def _scheme(xfproto: bytes, forwarded: bytes, websocket: bool) -> str:
        if xfproto and not forwarded:
            return xfproto.decode("latin-1")
        if forwarded and not xfproto:
            _, sep, rest = forwarded.decode("latin-1").partition("proto=")
            if sep:
                return rest.split(";", 1)[0].strip()
        return "ws" if websocket else "http"

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

    def response_head(
        self,
        up: _UpstreamProtocol,
        status: int,
        reason: bytes,
        headers: list[tuple[bytes, bytes]],
    ) -> bytes:
        self._cancel_timer()
        self.resp_status = status
        if status == 101:
            up.tunnel = True
            self.tunnel = True
        out = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
        length = False
        chunked = False
        for name, value in headers:
            lname = name.lower()
            if lname in _HOP:
                if lname == b"transfer-encoding":
                    chunked = True
                elif status == 101 and lname in (b"connection", b"upgrade"):
                    out += (name, b": ", value, b"\r\n")
                continue
            if lname == b"content-length":
                length = True
            out += (name, b": ", value, b"\r\n")
        bodiless = self.head_request or status in _NO_BODY_STATUS or status == 101
        self.close_delimited = not bodiless and not length and not chunked
        if not bodiless and not length:
            if self.parser.get_http_version() == "1.1":
                out.append(b"Transfer-Encoding: chunked\r\n")
                self.chunked_out = True
            else:
                self.close_after = True
        elif chunked and self.head_request:
            out.append(b"Transfer-Encoding: chunked\r\n")
        if self.close_after:
            out.append(b"Connection: close\r\n")
        elif self.parser.get_http_version() == "1.0":
            out.append(b"Connection: keep-alive\r\n")
        out.append(b"\r\n")
        return b"".join(out)

    def response_body(self, out: list[bytes], body: bytes) -> None:
        self.resp_bytes += len(body)
        if self.chunked_out:
            out.append(b"%x\r\n%b\r\n" % (len(body), body))
        else:
            out.append(body)

    def response_complete(self, up: _UpstreamProtocol, out: list[bytes]) -> None:
        if self.chunked_out:
            out.append(b"0\r\n\r\n")
        self.upstream = None
        up.client = None
        reusable = up.parser.should_keep_alive() and self.req_complete and self._body_sent_ok
        if out:
            data, out[:] = b"".join(out), []
            self.write_raw(data)
        if reusable:
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
            if self.chunked_out:
                self.write_raw(b"0\r\n\r\n")
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
        self._log()
        self.busy = False
        self.tunnel = False
        self.upstream = None
        self._pending = None
        if self.close_after:
            if self.transport is not None:
                self.transport.close()
            return
        if self._pipeline:
            self._resume_pipeline()

    def _resume_pipeline(self) -> None:
        while self._pipeline and not self.busy:
            request, body, complete = self._pipeline.popleft()
            self._start(request)
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

    def _bad_request(self, why: str) -> None:
        self.close_after = True
        if self.busy or self.transport is None:
            if self.transport is not None:
                self.transport.close()
            return
        body = f"400 Bad Request: {why}\n".encode()
        self.busy = True
        self._respond(400, body, b"text/plain; charset=utf-8", drain=False)

    def _log(self) -> None:
        al = self.settings.access_log
        if al is None or self.access is None:
            return
        method, url, headers, version = self.access
        self.access = None
        t = self.target
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
            f"{t.host}:{t.port}" if t else "",
            t.service if t else "",
        )


class _RequestIds:
    """Request IDs in the UUID text form, as Fabio makes them: a random generator prefix
    and a counter (fastuuid's scheme), unique without a system call per request."""

    __slots__ = ("_n", "_prefix")

    def __init__(self) -> None:
        self._n = 0
        self._prefix = b""
        self._reseed()

    def _reseed(self) -> None:
        b = bytearray(os.urandom(16))
        b[6] = (b[6] & 0x0F) | 0x40  # version 4
        b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
        h = b.hex().encode()
        self._prefix = b"%s-%s-%s-%s-" % (h[:8], h[8:12], h[12:16], h[16:20])
        self._n = int(h[20:], 16)

    def next(self) -> bytes:
        n = self._n = self._n + 1
        if n >= 1 << 48:
            self._reseed()
            n = self._n
        return self._prefix + b"%012x" % n


def _html_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")


class HTTPProxy:
    """A listener serving the proxy on host:port (port 0 binds a free port)."""

    def __init__(self, settings: ProxySettings) -> None:
        self.settings = settings
        self.pool = UpstreamPool(settings)
        self.ids = _RequestIds()
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    def protocol(self) -> _ClientProtocol:
        """The protocol of one client connection (the listener's factory)."""
        return _ClientProtocol(self.settings, self.pool, self.ids)

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self.protocol, host, port, reuse_address=True, backlog=1024
        )
        self.pool.start()
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self.pool.close()
