"""The client side of the HTTP data path: one `ClientProtocol` per client connection reads
requests with httptools, routes each when its head is complete and sends it on, in steps:
the head's reading (`request_head`), its refusals (`_routed_host`, `request_checks`), the
route (`_route`, through the listener's `RouteCache`), access rules, `auth=` and redirects
(`_admitted`), and the upstream head (`forward_headers`) sent on a pooled or new connection
(`_forward`).

Request bodies are streamed as they arrive, with back-pressure (`backpressure.Relay`);
requests pipelined behind one under way, or held for an auth decision, wait as `Request`s
with their bodies. Writes produced while one packet is parsed are joined into one send.
WebSocket upgrades become a raw two-way pipe after the request head, as in Fabio.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import cast

import httptools

from yurt.router.auth import ExternalAuth, ExternalDecision
from yurt.router.exchange import Exchange
from yurt.router.forward_headers import (
    TargetBytes,
    forward_headers,
    request_scheme,
    upstream_target,
)
from yurt.router.limits import (
    HEADER_SLACK,
    MAX_HEADER_BYTES,
    MAX_HEADER_COUNT,
    MAX_URL_BYTES,
    TOO_MANY_CONNS,
    ClientCounter,
    Sweeper,
)
from yurt.router.paths import lookup_path
from yurt.router.proxy_settings import ProxySettings
from yurt.router.request_checks import MALFORMED_HOST, head_problem, request_target, valid_host
from yurt.router.request_head import HeadLines, Request, read_headers
from yurt.router.response_head import (
    HTML,
    STATUS_CLIENT_CLOSED,
    TEXT,
    redirect_body,
)
from yurt.router.route_cache import UNCACHEABLE, UNKNOWN, RequestIds, RouteCache
from yurt.router.table import Target, redirect_url
from yurt.router.upstream import UpstreamPool

log = logging.getLogger(__name__)

_monotonic = time.monotonic


class _HeadLimit(Exception):
    """Raised from a parser callback to stop reading a head over a limit (`_limit` says
    which); httptools re-raises it as an HttpParserCallbackError."""


_HEAD_LIMIT = MAX_HEADER_BYTES + HEADER_SLACK
# Reads of a request body (or a WebSocket's first bytes) kept while the upstream is being
# dialed (up to proxy.dialtimeout): past this many, the client is not read until it is up.
_PENDING_READS = 16
_new_request = object.__new__


class ClientProtocol(Exchange):
    """One client connection: parses requests, routes them, relays responses."""

    __slots__ = (
        "_h_headers",
        "_h_parsed",
        "_h_special",
        "_headers",
        "_hlen",
        "_limit",
        "_m_host",
        "_m_lines",
        "_m_tail",
        "_m_target",
        "_m_version",
        "_url",
        "parser",
    )

    def __init__(
        self,
        settings: ProxySettings,
        pool: UpstreamPool,
        ids: RequestIds,
        routes: RouteCache,
        sweeper: Sweeper | None = None,
        counter: ClientCounter | None = None,
    ) -> None:
        super().__init__(settings, pool, ids, routes, sweeper, counter)
        self.parser = httptools.HttpRequestParser(self)
        # The request head being read: its target, its lines, the bytes of it counted so
        # far when it spans reads, and a limit it broke.
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._hlen = 0
        self._limit: tuple[int, str] | None = None
        # The last request's header lines, and what was read from them.
        self._h_headers: list[tuple[bytes, bytes]] | None = None
        self._h_special: dict[bytes, int] | None = None
        self._h_parsed: HeadLines | None = None
        # The last plain request's forwarding headers, and what they were made from.
        self._m_target: Target | None = None
        self._m_host = b""
        self._m_version = ""
        self._m_lines: object = None
        self._m_tail = b""

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
        if self._drop_upstream() and self.busy and not self.tunnel and self.resp_status == 0:
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
        # Made without a call to __init__: a class call costs three times a tuple's making.
        request = _new_request(Request)
        request.method = p.get_method()
        request.url = self._url
        request.headers = self._headers
        request.version = p.get_http_version()
        request.keep_alive = p.should_keep_alive()
        request.upgrade = p.should_upgrade()
        self._url = b""
        self._headers = []
        if self.busy:
            # A pipelined request: wait for the current exchange; hold its body too.
            self._pipeline.append(request.wait())
            if self.transport is not None and not self._paused:
                self._paused = True
                self.transport.pause_reading()
            return
        self._start(request)

    def on_body(self, body: bytes) -> None:
        if self._pipeline:
            self._pipeline[-1].body.append(body)
            return
        if self._auth_wait is not None:
            self._auth_wait.body.append(body)
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
            self._pipeline[-1].complete = True
            return
        if self._auth_wait is not None:
            self._auth_wait.complete = True
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

    def _start(self, req: Request) -> None:
        """Route a request whose head has been read: answer it, or send it upstream."""
        s = self.settings
        self.busy = True
        if self._timed:
            self._since = _monotonic()
        self.resp_status = 0
        self.resp_bytes = 0
        self.req_complete = False
        self.req_chunked = False
        self._body_sent_ok = True
        self.head_request = req.method == b"HEAD"
        self.req_version = req.version
        self.close_after = not req.keep_alive
        self.chunked_out = False
        self.close_delimited = False
        self.target = None
        if s.access_log is not None:
            self.started = time.time()
            self.access = req
        elif s.metrics is not None:
            self.started = time.time()
        if s.gzip_types is not None:
            self._gz = None
            self._gzip_ok = any(
                n.lower() == b"accept-encoding" and b"gzip" in v for n, v in req.headers
            )

        raw_path, _, query = req.url.partition(b"?")
        # The host an absolute-form target names; b"*" for `OPTIONS *`; None for neither.
        url_host: bytes | None = None
        if raw_path[:1] != b"/":
            url_host, raw_path = request_target(req.method, raw_path)

        routes = self.routes
        if (
            s.request_id_header is not routes.rid
            or s.client_ip_header is not routes.cip
            or s.local_ip is not routes.local_ip
        ):
            routes.replaced_headers(s.request_id_header, s.client_ip_header, s.local_ip)
        special = routes.special
        headers = req.headers
        h = self._h_parsed
        if h is None or headers != self._h_headers or special is not self._h_special:
            h = read_headers(headers, special)
            self._h_headers = headers
            self._h_special = special
            self._h_parsed = h
        # else: the same header lines as the connection's previous request (a client on a
        # keep-alive connection repeats them): the same reading of them.
        host = h.host
        if url_host is not None or not h.head_ok:
            checked = self._routed_host(req, h, url_host)
            if checked is None:
                return
            host = checked

        self.req_has_body = h.has_body or h.chunked
        websocket = req.upgrade and h.upgrade.lower() == b"websocket"
        scheme = routes.ws_scheme if websocket else routes.scheme
        if h.xfproto or h.forwarded:
            scheme = request_scheme(h.xfproto, h.forwarded, scheme)

        target = self._route(host, raw_path, query, scheme)
        if target is None:
            self._no_route()
            return
        self.target = target
        t = routes.targets.get(target)
        if t is None:
            t = routes.target_info(target)
        if (t.access_rules or t.auth or target.redirect_code) and not self._admitted(
            req, h, target, t, host, raw_path, query
        ):
            return
        self.req_chunked = h.chunked
        self._forward(req, h, t, target, host, raw_path, query, scheme, websocket)

    def _routed_host(self, req: Request, h: HeadLines, url_host: bytes | None) -> bytes | None:
        """The host a request is routed by when its head is not the usual one, or None when
        it has been answered: a head Go's server refuses, `OPTIONS *`, or an absolute-form
        target, whose authority is the host whatever Host says (RFC 9112 section 3.2.2)."""
        if not h.head_ok:
            problem = head_problem(req.version, req.method, h.hosts, h.host, h.has_te)
            if problem:
                self._refuse(400, problem)
                return None
        if url_host is None:
            return h.host
        if url_host == b"*":
            # About the server, not a resource: Go's server answers it itself.
            self.req_has_body = h.has_body or h.chunked
            self._respond(200, b"", b"", drain=True)
            return None
        if not valid_host(url_host):
            self._refuse(400, MALFORMED_HOST)
            return None
        return url_host

    def _route(self, host: bytes, raw_path: bytes, query: bytes, scheme: str) -> Target | None:
        """The target of a request, from the listener's cache of the current table."""
        s = self.settings
        routes = self.routes
        table = s.table
        if routes.table is not table or routes.match is not s.match:
            routes.reset(table, s.match)
        key = host + b" " + raw_path
        route = routes.entries.get(key, UNKNOWN)
        if route is UNKNOWN:
            route = routes.resolve(key, host, raw_path)
        if route is None:
            return None
        if route is UNCACHEABLE:
            assert s.pick is not None and s.match is not None
            return table.lookup(
                host.decode("latin-1"),
                lookup_path(raw_path.decode("latin-1")),
                s.pick,
                s.match,
                scheme="https" if scheme in ("https", "wss") else "http",
                query=query.decode("latin-1"),
            )
        ring = route.ring
        if len(ring) == 1:
            first: Target = ring[0]
            return first
        assert s.pick is not None
        return s.pick(route)

    def _no_route(self) -> None:
        s = self.settings
        if s.metrics is not None:
            s.metrics.notfound.value += 1
        html = s.noroute_html
        self._respond(s.noroute_status, html, HTML if html else b"", drain=True)

    def _admitted(
        self,
        req: Request,
        h: HeadLines,
        target: Target,
        t: TargetBytes,
        host: bytes,
        raw_path: bytes,
        query: bytes,
    ) -> bool:
        """Whether a request goes on to its target: not when the target's access rules
        deny the client, its `auth=` scheme does not admit it (yet), or it redirects."""
        if t.access_rules:
            ips = [self.remote_ip]
            if h.xff:
                ips += h.xff.decode("latin-1").split(",")
            if target.access_denied(ips):
                self._respond(403, b"access denied\n", TEXT, drain=True)
                return False
        if t.auth and not self._authorized(t.auth, req):
            return False
        code = target.redirect_code
        if code:
            s = self.settings
            if s.metrics is not None:
                s.metrics.redirect(code)
            path = lookup_path(raw_path.decode("latin-1"))
            location = redirect_url(target, host.decode("latin-1"), path, query.decode("latin-1"))
            body = redirect_body(code, location, req.method)
            self._respond(
                code,
                body,
                HTML if body else b"",
                extra=b"Location: " + location.encode() + b"\r\n",
                drain=True,
            )
            return False
        return True

    def _forward(
        self,
        req: Request,
        h: HeadLines,
        t: TargetBytes,
        target: Target,
        host: bytes,
        raw_path: bytes,
        query: bytes,
        scheme: str,
        websocket: bool,
    ) -> None:
        """Send the request head upstream: the request line (`strip=`, `prepend=`, the
        target's query), the client's lines that pass, Host and the forwarding headers, the
        request ID and the framing; on an idle pooled connection to the target, or on a new
        one (a WebSocket always gets a connection of its own)."""
        if t.rewrites:
            up_path = upstream_target(t, raw_path, query)
        else:
            up_path = raw_path + b"?" + query if query else raw_path
        out = [req.method + b" " + up_path + b" HTTP/1.1\r\n", h.passthrough]
        routes = self.routes
        version = req.version
        if h.plain:
            # Nothing of the client's bears on the forwarding headers: the same as for the
            # last request of this connection, if it went to the same target and Host.
            lines = routes.lines
            if (
                target is self._m_target
                and host == self._m_host
                and version == self._m_version
                and lines is self._m_lines
            ):
                out.append(self._m_tail)
            else:
                tail = forward_headers(
                    t, h, host, self._remote, routes.scheme, version, False, lines
                )
                self._m_target = target
                self._m_host = host
                self._m_version = version
                self._m_lines = lines
                self._m_tail = tail
                out.append(tail)
        else:
            out.append(
                forward_headers(t, h, host, self._remote, scheme, version, websocket, routes.lines)
            )
        if self.settings.request_id_header:
            batch = self.ids.batch
            out += (routes.rid_prefix, batch.pop() if batch else self.ids.refill(), b"\r\n")
        if h.chunked:
            out.append(b"Transfer-Encoding: chunked\r\n")
        out.append(b"\r\n")
        head = b"".join(out)

        if websocket:
            self.tunnel = True
            m = self.settings.metrics
            if m is not None and not self._ws_open:
                self._ws_open = True
                m.ws_conn.value += 1
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
        self._retry_ok = up is not None and not self.req_has_body
        self._head_bytes = head if self._retry_ok else b""
        if up is not None:
            up.client = self
            up.received = False
            self.upstream = up
            self._out.append(head)
            if self.settings.response_header_timeout > 0:
                self._arm_timer()
        else:
            self._pending = [head]
            self._connect(target, pooled=True)

    def _resume_pipeline(self) -> None:
        while self._pipeline and not self.busy:
            req = self._pipeline.popleft()
            body, complete = req.body, req.complete
            self._start(req)
            held = self._auth_wait
            if held is not None:
                # Held for its credentials, with the body read behind it so far.
                held.body, held.complete = body, complete
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

    def _authorized(self, name: str, request: Request) -> bool:
        """Whether the request may go on; when not, it has been answered or is held."""
        scheme = self.settings.auth.get(name)
        if scheme is None:
            log.error("route auth=%s: no such scheme in proxy.auth", name)
            self._respond(401, b"authorization failed\n", TEXT, drain=True)
            return False
        if isinstance(scheme, ExternalAuth):
            return self._external(scheme, request)
        value = b""
        for hname, hvalue in request.headers:
            if len(hname) == 13 and hname.lower() == b"authorization":
                value = hvalue
                break
        verdict = scheme.known_verdict(value)
        if verdict is None:
            # Not seen since the file was read: check it off the loop (bcrypt takes tens of
            # milliseconds), holding this request's body and any pipelined request behind it.
            self._auth_wait = request.wait()
            self._hold()
            done = asyncio.get_running_loop().run_in_executor(None, scheme.check, value)
            done.add_done_callback(self._auth_checked)
            return False
        if not verdict:
            self._respond(
                401,
                b"authorization failed\n",
                TEXT,
                extra=scheme.challenge,
                drain=True,
            )
            return False
        return True

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

    def _restart_held(self, held: Request) -> None:
        self.busy = False
        self._pipeline.appendleft(held)
        self._resume_pipeline()

    def _external(self, scheme: ExternalAuth, request: Request) -> bool:
        """Fabio's external auth: each request waits for the decision endpoint's answer."""
        decision, self._ext_decision = self._ext_decision, None
        if decision is None:
            headers = request.headers
            method, url = request.method.decode("latin-1"), request.url.decode("latin-1")
            host = next((v for n, v in headers if n.lower() == b"host"), b"")
            self._auth_wait = request.wait()
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
            body = redirect_body(302, decision.location, request.method)
            self._respond(
                302,
                body,
                HTML if body else b"",
                extra=b"Location: " + decision.location.encode("latin-1", "replace") + b"\r\n",
                drain=True,
            )
            return False
        self._respond(401, b"authorization failed\n", TEXT, drain=True)
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
