"""TCP listeners: raw bytes both ways to the target a connection is routed to.

- `proto=tcp`: by the listener's port, to `urlprefix-:port proto=tcp` routes; with `cs=` the
  listener terminates TLS first (Fabio's TCP proxy with a certificate store).
- `proto=tcp+sni`: by the server name in the TLS ClientHello, to the routes of that host
  (`urlprefix-host/`); the TLS session is the upstream's, passed through undecrypted.
- `proto=https+tcp+sni;cs=NAME`: the same for names whose route is a TCP one
  (`urlprefix-host/ proto=tcp`); any other connection has its TLS terminated here and is
  served as a `proto=https` listener would serve it.

A target with `pxyproto=true` is told who the client is first, by a PROXY protocol (v1)
line, as Fabio does, since it sees only the router's address otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl
import time
from asyncio.sslproto import SSLProtocol
from collections.abc import Callable
from typing import cast

from yurt.router.backpressure import Relay
from yurt.router.limits import ClientCounter, Sweeper, Timeouts
from yurt.router.listener import Listener
from yurt.router.proxy import HTTPProxy, ProxySettings
from yurt.router.sni import NotClientHello, read_client_hello
from yurt.router.table import Table, Target

log = logging.getLogger(__name__)


class _Upstream(Relay):
    def __init__(self, client: _Client) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.client.transport is not None:
            self.client.transport.write(data)

    def eof_received(self) -> bool | None:
        if self.client.transport is not None and self.client.transport.can_write_eof():
            self.client.transport.write_eof()
            return True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.client.transport is not None:
            self.client.transport.close()

    def peer_transport(self) -> asyncio.Transport | None:
        return self.client.transport


class _Client(Relay):
    metric = "tcp_"  # Fabio's counters: tcp_conn, tcp_connfail, tcp_noroute
    by_server_name = False  # routed by the ClientHello's server name (SNI listeners)

    def __init__(
        self,
        settings: ProxySettings,
        port_key: str,
        sweeper: Sweeper | None = None,
        counter: ClientCounter | None = None,
    ) -> None:
        self.settings = settings
        self.port_key = port_key
        self.sweeper = sweeper
        self.counter = counter
        self.counted = ""  # the address counted in `counter`
        self.routed = not self.by_server_name  # False while waiting for the ClientHello
        self.hello = b""  # the ClientHello read so far (SNI listeners)
        self.since = 0.0  # when the connection opened
        self.last_read = 0.0  # when the client last sent bytes
        self.transport: asyncio.Transport | None = None
        self.upstream: _Upstream | None = None
        self.pending: list[bytes] = []
        self.eof = False
        self.proxy_line = False  # the target wants a PROXY protocol line first
        self.client: tuple[str, int] | None = None  # from a PROXY header on this listener

    def set_client_address(self, address: tuple[str, int]) -> None:
        self.client = address

    def _admit(self, transport: asyncio.BaseTransport) -> bool:
        """Count the connection against its client's cap (closing it when over) and let the
        sweeper watch it."""
        self.transport = cast(asyncio.Transport, transport)
        self.since = self.last_read = time.monotonic()
        if self.counter is not None:
            peer = transport.get_extra_info("peername")
            ip = peer[0] if peer else ""
            if not self.counter.admit(ip):
                log.info("%s: %s is over proxy.maxconnsperclient", self.port_key, ip)
                self.transport.close()
                return False
            self.counted = ip
        if self.sweeper is not None:
            self.sweeper.conns.add(self)
        return True

    def _forget(self) -> None:
        """Undo `_admit` (the connection closed, or another protocol took it over)."""
        if self.counted and self.counter is not None:
            self.counter.release(self.counted)
            self.counted = ""
        if self.sweeper is not None:
            self.sweeper.conns.discard(self)

    def check_timeouts(self, t: Timeouts, now: float) -> None:
        """As Fabio's TCP proxy: `proxy.readtimeout` (`rt=`) bounds each wait for the
        client's bytes; an SNI listener gives the ClientHello the header timeout."""
        if self.transport is None:
            return
        if not self.routed:
            if t.header and now - self.since > t.header:
                log.info("%s: no ClientHello within %gs", self.port_key, t.header)
                self.transport.close()
        elif t.read and now - self.last_read > t.read:
            log.info("%s: nothing from the client within %gs", self.port_key, t.read)
            self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._admit(transport):
            return
        assert self.transport is not None
        s = self.settings
        assert s.pick is not None
        target = s.table.lookup_tcp(self.port_key, s.pick)
        if target is None:
            log.info("tcp %s: no route", self.port_key)
            self._count("noroute")
            self.transport.close()
            return
        self._dial(target)

    def _count(self, what: str) -> None:
        m = self.settings.metrics
        if m is not None:
            getattr(m, self.metric + what).value += 1

    def _dial(self, target: Target) -> None:
        assert self.transport is not None
        self.transport.pause_reading()
        self.proxy_line = target.opts.get("pxyproto") == "true"
        asyncio.get_running_loop().create_task(self._connect(target.host, target.port))

    async def _connect(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.settings.dial_timeout or None):
                _, up = await loop.create_connection(lambda: _Upstream(self), host, port)
        except (OSError, TimeoutError) as exc:
            log.info("tcp %s -> %s:%d: %s", self.port_key, host, port, exc)
            self._count("connfail")
            if self.transport is not None:
                self.transport.close()
            return
        if self.transport is None:
            if up.transport is not None:
                up.transport.close()
            return
        self.upstream = up
        self._count("conn")
        if self.proxy_line:
            self.pending.insert(0, proxy_protocol_line(self.transport, self.client))
        if self.pending and up.transport is not None:
            up.transport.write(b"".join(self.pending))
            self.pending = []
        self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.last_read = time.monotonic()
        up = self.upstream
        if up is not None and up.transport is not None:
            up.transport.write(data)
        elif up is None and self.transport is not None:
            # Still dialing: uvloop delivers what came with the connection although reading
            # was paused in connection_made. Kept for the upstream, and reading paused again.
            self.pending.append(data)
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        up = self.upstream
        if up is not None and up.transport is not None and up.transport.can_write_eof():
            up.transport.write_eof()
            return True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._forget()
        up = self.upstream
        if up is not None and up.transport is not None:
            up.transport.close()

    def peer_transport(self) -> asyncio.Transport | None:
        up = self.upstream
        return up.transport if up is not None else None


class _SNIClient(_Client):
    """Waits for the ClientHello, routes by its server name, then replays it upstream."""

    metric = "tcp_sni_"
    label = "tcp+sni"
    by_server_name = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._admit(transport)

    def data_received(self, data: bytes) -> None:
        if self.routed:
            super().data_received(data)
            return
        self.hello += data
        try:
            hello = read_client_hello(self.hello)
        except NotClientHello as exc:
            log.info("%s %s: %s", self.label, self.port_key, exc)
            self._close()
            return
        if hello is None:
            return
        target = self._route(hello.server_name)
        if target is None:
            self._unrouted(hello.server_name)
            return
        self.routed = True
        self.last_read = time.monotonic()
        self.pending = [self.hello]
        self.hello = b""
        self._dial(target)

    def _route(self, server_name: str) -> Target | None:
        """The target of the host route for this name (as for `https://<name>/`)."""
        s = self.settings
        if not server_name:
            return None
        assert s.pick is not None and s.match is not None
        target = s.table.lookup(server_name, "/", s.pick, s.match, tls=True, scheme="https")
        return None if target is None or target.redirect_code else target

    def _unrouted(self, server_name: str) -> None:
        log.info("tcp+sni %s: no route for %r", self.port_key, server_name)
        self._count("noroute")
        self._close()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _MixedSNIClient(_SNIClient):
    """`https+tcp+sni`: TCP routes pass through; everything else is HTTPS, terminated here."""

    label = "https+tcp+sni"

    def __init__(
        self,
        settings: ProxySettings,
        port_key: str,
        https: HTTPProxy,
        sweeper: Sweeper | None = None,
        counter: ClientCounter | None = None,
    ) -> None:
        super().__init__(settings, port_key, sweeper, counter)
        self.https = https

    def _route(self, server_name: str) -> Target | None:
        target = super()._route(server_name)
        if target is None or not (target.scheme == "tcp" or target.opts.get("proto") == "tcp"):
            return None
        return target

    def _unrouted(self, server_name: str) -> None:
        self._terminate_tls()

    def _terminate_tls(self) -> None:
        """Hand the connection, with the bytes read so far, to a TLS layer in front of the
        HTTPS listener's own protocol."""
        transport, self.transport = self.transport, None
        if transport is None:
            return
        # The HTTPS protocol counts and times the connection from here on.
        self._forget()
        assert self.https.tls is not None
        loop = asyncio.get_running_loop()
        handshake: asyncio.Future[None] = loop.create_future()
        # A failed handshake is the client's business (logged by the TLS layer at debug).
        handshake.add_done_callback(lambda f: f.cancelled() or f.exception())
        # Whole seconds: what SSLProtocol's signature takes.
        hs = self.https.sweeper.timeouts.handshake()
        tls = SSLProtocol(
            loop,
            self.https.protocol(),
            self.https.tls,
            handshake,
            server_side=True,
            ssl_handshake_timeout=None if hs is None else math.ceil(hs),
        )
        transport.set_protocol(tls)
        tls.connection_made(transport)
        data, self.hello = self.hello, b""
        while data:
            buf = tls.get_buffer(len(data))
            n = min(len(buf), len(data))
            buf[:n] = data[:n]
            tls.buffer_updated(n)
            data = data[n:]


def proxy_protocol_line(
    transport: asyncio.BaseTransport, client: tuple[str, int] | None = None
) -> bytes:
    """PROXY protocol v1: the client's address (`client`, when a PROXY header named it, or
    the TCP peer) and the one it connected to."""
    peer = client or transport.get_extra_info("peername")
    local = transport.get_extra_info("sockname")
    if not peer or not local:
        return b"PROXY UNKNOWN\r\n"
    family = "TCP6" if ":" in peer[0] else "TCP4"
    return f"PROXY {family} {peer[0]} {local[0]} {peer[1]} {local[1]}\r\n".encode()


class TCPProxy(Listener):
    """Routes connections on host:port: by the table's `:port` routes, or (`sni`) by the
    server name a TLS client asks for. With `tls`, TLS is terminated here first; with
    `https_fallback` (and `sni`), only for connections that no TCP route takes."""

    def __init__(
        self,
        settings: ProxySettings,
        *,
        tls: ssl.SSLContext | None = None,
        sni: bool = False,
        https_fallback: bool = False,
        proxy_protocol: float | None = None,
        route_key: str = "",
        timeouts: Timeouts | None = None,
        max_conns_per_client: int = 0,
    ) -> None:
        super().__init__(tls, proxy_protocol, timeouts, max_conns_per_client)
        self.settings = settings
        self.sni = sni
        self.https = HTTPProxy(settings, tls, timeouts=timeouts) if https_fallback else None
        if self.https is not None:
            self.https.counter = self.counter  # one count per client for the listener
        self.route_key = route_key  # the table key its connections look up (default ":port")

    async def start(self, host: str, port: int) -> int:
        holder: dict[str, str] = {}
        factory: Callable[[], asyncio.Protocol]
        https = self.https
        sweeper, counter = self.sweeper, self.counter
        if https is not None:
            https.pool.start()
            https.sweeper.start()
            factory = lambda: _MixedSNIClient(  # noqa: E731
                self.settings, holder["key"], https, sweeper, counter
            )
        else:
            kind = _SNIClient if self.sni else _Client
            factory = lambda: kind(self.settings, holder["key"], sweeper, counter)  # noqa: E731
        await self._listen(factory, host, port, None if https else self.tls)
        # Routes name the port the proxy was asked for (":port"); a free port maps to itself.
        holder["key"] = self.route_key or f":{port or self.port}"
        return self.port

    async def stop(self) -> None:
        await super().stop()
        if self.https is not None:
            self.https.sweeper.stop()
            self.https.pool.close()


def dynamic_keys(table: Table) -> set[str]:
    """The `ip:port` TCP routes of a table: where a `tcp-dynamic` listener listens."""
    return {
        key
        for key, routes in table.hosts.items()
        if not key.startswith(":")
        and key.rpartition(":")[2].isdigit()
        and any(t.scheme == "tcp" for r in routes for t in r.targets)
    }


class DynamicTCPProxy:
    """Fabio's `proto=tcp-dynamic`: a TCP listener on every `ip:port` that a route names
    (`urlprefix-10.0.0.1:1234 proto=tcp`), opened and closed as the table changes. An
    address that cannot be bound (not local) is logged and tried again every `refresh`."""

    def __init__(
        self,
        settings: ProxySettings,
        refresh: float = 5.0,
        *,
        timeouts: Timeouts | None = None,
        max_conns_per_client: int = 0,
    ) -> None:
        self.settings = settings
        self.refresh = refresh
        self.timeouts = timeouts
        self.max_conns_per_client = max_conns_per_client
        self.servers: dict[str, TCPProxy] = {}
        self._lock = asyncio.Lock()
        self._retry: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        await self.reconcile()
        self._retry = asyncio.create_task(self._retry_loop())
        return port

    def table_changed(self) -> None:
        asyncio.get_running_loop().create_task(self.reconcile())

    async def reconcile(self) -> None:
        async with self._lock:
            wanted = dynamic_keys(self.settings.table)
            for key in sorted(set(self.servers) - wanted):
                await self.servers.pop(key).stop()
                log.info("tcp-dynamic: stopped listening on %s", key)
            for key in sorted(wanted - set(self.servers)):
                host, _, port = key.rpartition(":")
                server = TCPProxy(
                    self.settings,
                    route_key=key,
                    timeouts=self.timeouts,
                    max_conns_per_client=self.max_conns_per_client,
                )
                try:
                    await server.start(host.strip("[]"), int(port))
                except OSError as exc:
                    log.warning("tcp-dynamic: cannot listen on %s: %s", key, exc)
                    continue
                self.servers[key] = server
                log.info("tcp-dynamic: listening on %s", key)

    async def _retry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh)
            if dynamic_keys(self.settings.table) - set(self.servers):
                await self.reconcile()

    async def stop(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        async with self._lock:
            for server in self.servers.values():
                await server.stop()
            self.servers = {}
