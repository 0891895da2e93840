"""The upstream side of the HTTP data path: pooled keep-alive connections to the targets
(`UpstreamPool`) and the protocol of one such connection (`UpstreamProtocol`), which reads
a response as it arrives and hands its head and body to the client connection it serves.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from typing import TYPE_CHECKING, cast

import httptools

from yurt.router.backpressure import Relay
from yurt.router.limits import MAX_RESPONSE_HEADER_BYTES
from yurt.router.proxy_settings import ProxySettings
from yurt.router.response_head import status_line_11

if TYPE_CHECKING:
    from yurt.router.exchange import Exchange

log = logging.getLogger(__name__)

_monotonic = time.monotonic


class UpstreamPool:
    """Idle keep-alive connections per `Target.pool_key`; closed after `keepalive_timeout`."""

    def __init__(self, settings: ProxySettings) -> None:
        self.settings = settings
        self.idle: dict[str, list[UpstreamProtocol]] = {}
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

    def get(self, key: str) -> UpstreamProtocol | None:
        conns = self.idle.get(key)
        while conns:
            conn = conns.pop()
            if conn.transport is not None and not conn.transport.is_closing():
                return conn
        return None

    def put(self, conn: UpstreamProtocol) -> None:
        """Keep a connection whose exchange is over for the next one to the same upstream."""
        conn._in_head = True
        conn._hbuf = conn._buf = b""
        conn._hstart = 0
        conn.raw = conn._complete = False
        conns = self.idle.get(conn.key)
        if conns is None:
            conns = self.idle[conn.key] = []
        if len(conns) >= self.settings.max_idle_per_upstream:
            conn.close()
            return
        conn.idle_since = _monotonic()
        conns.append(conn)

    def discard(self, conn: UpstreamProtocol) -> None:
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


class UpstreamProtocol(Relay):
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
        "_out",
        "_skip_body",
        "client",
        "idle_since",
        "keep_alive",
        "key",
        "left",
        "parser",
        "pool",
        "raw",
        "received",
        "transport",
        "tunnel",
    )

    def __init__(self, pool: UpstreamPool, key: str) -> None:
        self.pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.client: Exchange | None = None
        self.parser = httptools.HttpResponseParser(self)
        self._out: list[bytes] = []
        self._buf = b""
        self._hbuf = b""
        self._hstart = 0
        self._body_at = -1
        self._in_head = True
        self._interim = False
        self._skip_body = False
        self.raw = False
        self.left = 0
        self._complete = False
        self.keep_alive = False
        self.received = False
        self.tunnel = False
        self.idle_since = 0.0

    # asyncio callbacks ---------------------------------------------------------

    @property
    def upstream(self) -> str:
        """host[:port] of the upstream, for the log (no user info, no TLS mode)."""
        return self.key.partition(" ")[0].rpartition("@")[2]

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
            log.warning("bad response from %s: %s", self.upstream, exc)
            if not self._complete:
                self.client = None
                self.close()
                client.upstream_failed(self, 502)
                return
            # Bytes after a complete response: it is relayed, the connection is not reused.
            self.keep_alive = False
        out = self._out
        if self._in_head:
            self._hbuf = buf[self._hstart :]
            self._hstart = 0
            if len(self._hbuf) > MAX_RESPONSE_HEADER_BYTES:
                log.warning(
                    "response head from %s over %d bytes",
                    self.upstream,
                    MAX_RESPONSE_HEADER_BYTES,
                )
                self.client = None
                self.close()
                client.upstream_failed(self, 502)
                return
        elif self.raw:
            at = self._body_at
            left = self.left
            if at >= 0 and left:
                chunk = buf if at == 0 and len(buf) <= left else buf[at : at + left]
                self.left = left - len(chunk)
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

    def peer_transport(self) -> asyncio.Transport | None:
        client = self.client
        return client.transport if client is not None else None

    # httptools callbacks -------------------------------------------------------

    def on_headers_complete(self) -> None:
        client = self.client
        if client is None:
            return
        if self._complete:
            # A second response in the same bytes, not asked for: it is not relayed, and the
            # connection is not reused.
            self.keep_alive = False
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
            self._out.append(status_line_11(head) + b"\r\n\r\n")
            return
        self._in_head = False
        self._body_at = after
        self.keep_alive = self.parser.should_keep_alive()
        self._out.append(client.response_head(self, status, head))
        if client.head_request:
            self._skip_body = True

    def on_body(self, body: bytes) -> None:
        if self.raw or self._complete:
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
