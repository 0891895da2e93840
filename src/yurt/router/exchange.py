"""One client connection's exchange with an upstream: its state, the dial, the response
relayed back (head, body, end, the upstream lost or failing), the router's own responses,
timers and the access log line. `connection.ClientProtocol` builds on it with the reading
and routing of requests; `upstream.UpstreamProtocol` calls its response methods.

Built for requests per second (docs/router.md, Performance): no task or future per request;
response heads relayed as received less their hop-by-hop lines; fixed-length bodies relayed
as the raw bytes that arrive.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import deque
from typing import Any

from yurt.router.auth import ExternalDecision
from yurt.router.backpressure import Relay
from yurt.router.forward_headers import target_address
from yurt.router.limits import BUSY, HEAD, IDLE, ClientCounter, Sweeper, Timeouts, expired
from yurt.router.proxy_settings import ProxySettings
from yurt.router.request_head import Request
from yurt.router.response_head import (
    NO_BODY_STATUS,
    TEXT,
    gzip_head,
    hop_cut,
    own_response,
    refusal_body,
    status_line_11,
)
from yurt.router.route_cache import RequestIds, RouteCache
from yurt.router.table import Target
from yurt.router.upstream import UpstreamPool, UpstreamProtocol

log = logging.getLogger(__name__)

_monotonic = time.monotonic


class Exchange(Relay):
    """A client connection's exchanges, one at a time: what the current one is, and its
    response side. Subclassed by the protocol that reads the requests."""

    __slots__ = (
        "_auth_wait",
        "_body_sent_ok",
        "_connecting",
        "_counted",
        "_ext_decision",
        "_gz",
        "_gzip_ok",
        "_head_bytes",
        "_idle",
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
        "_ws_open",
        "access",
        "busy",
        "chunked_out",
        "close_after",
        "close_delimited",
        "counter",
        "head_request",
        "ids",
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
        ids: RequestIds,
        routes: RouteCache,
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
        # between requests.
        self._since = 0.0
        self._idle = False
        self._remote = b""
        self.transport: asyncio.Transport | None = None
        self.remote_ip = ""
        self._out: list[bytes] = []
        self._pending: list[bytes] | None = None
        # Requests read while another is under way, with their bodies so far.
        self._pipeline: deque[Request] = deque()
        # A request held while its credentials are checked (its body is kept with it).
        self._auth_wait: Request | None = None
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
        self.upstream: UpstreamProtocol | None = None
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
        self.access: Request | None = None

    def peer_transport(self) -> asyncio.Transport | None:
        up = self.upstream
        return up.transport if up is not None else None

    def _resume_pipeline(self) -> None:
        """Start the requests read while the last exchange was under way (the subclass)."""
        raise NotImplementedError

    # the upstream connection --------------------------------------------------

    def _connect(self, target: Target, *, pooled: bool) -> None:
        loop = asyncio.get_running_loop()
        self._connecting = loop.create_task(self._open(target, pooled))

    async def _open(self, target: Target, pooled: bool) -> None:
        s = self.settings
        key = target.pool_key
        loop = asyncio.get_running_loop()
        ssl_ctx = (
            self.pool.ssl_context(not target.tls_skip_verify) if target.scheme == "https" else None
        )
        try:
            async with asyncio.timeout(s.dial_timeout or None):
                _, proto = await loop.create_connection(
                    lambda: UpstreamProtocol(self.pool, key),
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
            # Held while dialing (connection._PENDING_READS): the upstream takes the rest.
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

    def response_head(self, up: UpstreamProtocol, status: int, head: bytes) -> bytes:
        """The client's response head from the upstream's (status line and header lines, no
        blank line): hop-by-hop lines cut out, framing and connection lines of our own added.
        Tells `up` whether the body can be relayed as raw slices (it has a Content-Length)."""
        if self._timer is not None:
            self._cancel_timer()
        self.resp_status = status
        if status == 101:
            up.tunnel = True
            self.tunnel = True
        head, length, chunked = hop_cut(head, status)
        if not head.startswith(b"HTTP/1.1 "):
            head = status_line_11(head)
        if self.routes.sts_line:
            head += self.routes.sts_line
        if self._resp_extra:
            head += self._resp_extra
        bodiless = self.head_request or status in NO_BODY_STATUS or status == 101
        self.close_delimited = not bodiless and length == -1 and not chunked
        types = self.settings.gzip_types
        if types is not None and status != 101:
            head += b"\r\nVary: Accept-Encoding"  # as Fabio: on every response
            if self._gzip_ok and not bodiless:
                gz_head = gzip_head(head, types)
                if gz_head is not None:
                    # The body goes through the parser and the compressor, framed as one
                    # of unknown length.
                    head, length, chunked = gz_head, -1, False
                    self._gz = zlib.compressobj(6, zlib.DEFLATED, 31)
        extra = b""
        if not bodiless:
            if length >= 0 and not chunked:
                up.raw = True
                up.left = length
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

    def response_complete(self, up: UpstreamProtocol, out: list[bytes]) -> None:
        if self._gz is not None:
            self._gzip_end(out)
        m = self.settings.metrics
        if m is not None:
            m.response(self.target, self.resp_status, time.time() - self.started)
        if self.chunked_out:
            out.append(b"0\r\n\r\n")
        self.upstream = None
        up.client = None
        reusable = up.keep_alive and self.req_complete and self._body_sent_ok
        transport = self.transport
        if out and transport is not None:
            transport.write(b"".join(out) if len(out) > 1 else out[0])
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

    def upstream_lost(self, up: UpstreamProtocol, exc: Exception | None) -> None:
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

    def upstream_failed(self, up: UpstreamProtocol, status: int) -> None:
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
        self._pending = None
        self._out = []
        self.write_raw(
            own_response(status, body, ctype, extra, self.close_after, self.head_request)
        )
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

    def _hold(self) -> None:
        """Stop reading while the held request waits for its decision."""
        if self.transport is not None and not self._paused:
            self._paused = True
            self.transport.pause_reading()

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
        body = refusal_body(status, why)
        self.busy = True
        self.head_request = False
        self._respond(status, body, TEXT, drain=False)

    def _abandon_exchange(self) -> None:
        """Drop the upstream side of the current exchange: its dial, its connection, its
        timer, a held request and the requests pipelined behind it."""
        self._drop_upstream()
        self._auth_wait = None
        self._pipeline.clear()

    def _drop_upstream(self) -> bool:
        """Cancel a dial and the exchange's timer, and close the upstream connection (in an
        unknown state mid-exchange); whether there was one."""
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        self._cancel_timer()
        up = self.upstream
        if up is None:
            return False
        self.upstream = None
        up.client = None
        up.close()
        return True

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
        req = self.access
        self.access = None
        t = self.target
        info = self.routes.targets.get(t) if t is not None else None
        al.log(
            self.started,
            time.time(),
            self.remote_ip,
            req.method,
            req.url,
            req.version,
            req.headers,
            self.resp_status,
            self.resp_bytes,
            info.upstream if info is not None else target_address(t),
            t.service if t else "",
        )
