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

import ssl

from yurt.router.connection import ClientProtocol
from yurt.router.limits import Timeouts
from yurt.router.listener import Listener
from yurt.router.proxy_settings import ProxySettings
from yurt.router.route_cache import RequestIds, RouteCache
from yurt.router.upstream import UpstreamPool

__all__ = ["HTTPProxy", "ProxySettings"]


class HTTPProxy(Listener):
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
        super().__init__(tls, proxy_protocol, timeouts, max_conns_per_client)
        self.settings = settings
        self.pool = UpstreamPool(settings)
        self.ids = RequestIds()
        self.routes = RouteCache(
            tls is not None, settings.tls_header, settings.tls_header_value, settings.sts_value
        )

    def protocol(self) -> ClientProtocol:
        """The protocol of one client connection (the listener's factory)."""
        return ClientProtocol(
            self.settings, self.pool, self.ids, self.routes, self.sweeper, self.counter
        )

    async def start(self, host: str, port: int) -> int:
        port = await self._listen(self.protocol, host, port, self.tls, backlog=1024)
        self.pool.start()
        return port

    async def stop(self) -> None:
        await super().stop()
        self.pool.close()
