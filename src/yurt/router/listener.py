"""What the HTTP and the TCP proxy listeners share: the server socket's lifecycle (bind,
optional PROXY-protocol header, TLS handshake timeout, the bound port), the idle sweeper and
the per-client connection cap. `HTTPProxy` and `TCPProxy` add their own connection
factories on top."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from yurt.router.limits import ClientCounter, Sweeper, Timeouts
from yurt.router.proxy_protocol import with_proxy_protocol


class Listener:
    """A server socket on host:port (port 0 binds a free port) with one sweeper and one
    per-client counter for all its connections."""

    def __init__(
        self,
        tls: ssl.SSLContext | None,
        proxy_protocol: float | None,
        timeouts: Timeouts | None,
        max_conns_per_client: int,
    ) -> None:
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
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    async def _listen(
        self,
        factory: Callable[[], asyncio.Protocol],
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
        backlog: int = 100,  # asyncio's default
    ) -> int:
        """Bind and serve `factory`'s protocols (after a PROXY header when configured) and
        start the sweeper; the bound port."""
        if self.proxy_protocol is not None:
            factory = with_proxy_protocol(factory, self.proxy_protocol)
        self._server = await asyncio.get_running_loop().create_server(
            factory,
            host,
            port,
            reuse_address=True,
            ssl=tls,
            ssl_handshake_timeout=self.sweeper.timeouts.handshake() if tls else None,
            backlog=backlog,
        )
        self.sweeper.start()
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self.sweeper.stop()
