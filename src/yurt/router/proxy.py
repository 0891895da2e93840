"""The HTTP data path's listener (`HTTPProxy`), and the one place its parts are named from.

The data path is in three parts, each in its own modules:

- the request and response heads, pure functions of bytes tested by tables:
  `request_head` (reading a request's header lines), `request_checks` (what Go's server
  refuses), `forward_headers` (the upstream request line, Host and Fabio's forwarding
  headers), `response_head` (hop-by-hop cuts, gzip, the router's own responses);
- the upstream side: `upstream` (the keep-alive pool and the protocol of one upstream
  connection);
- the connection state machine: `exchange` (an exchange's state and its response side) and
  `connection` (reading, routing and sending requests), with `route_cache` (route lookups
  per table) and `backpressure` (shared with `tcp`).

Built for requests per second (docs/router.md, Performance): no task or future per request;
route lookups cached per table; a connection's forwarding headers reused while the client
sends none of its own; response heads relayed as received less their hop-by-hop lines;
fixed-length bodies relayed as the raw bytes that arrive.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from yurt.router.connection import ClientProtocol
from yurt.router.limits import ClientCounter, Sweeper, Timeouts
from yurt.router.proxy_protocol import with_proxy_protocol
from yurt.router.proxy_settings import ProxySettings
from yurt.router.route_cache import RequestIds, RouteCache
from yurt.router.upstream import UpstreamPool

__all__ = ["HTTPProxy", "ProxySettings"]


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
        self.ids = RequestIds()
        self.routes = RouteCache(
            tls is not None, settings.tls_header, settings.tls_header_value, settings.sts_value
        )
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    def protocol(self) -> ClientProtocol:
        """The protocol of one client connection (the listener's factory)."""
        return ClientProtocol(
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
