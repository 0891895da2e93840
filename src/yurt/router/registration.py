"""The router's own services in the catalog: itself (`registry.consul.register.*`) and the
aliases that routes ask for with `register=<name>`.

Each is registered as Fabio registers itself: the UI address, the configured tags, an HTTP
check on `/health`, plus a TTL check that the router keeps passing (so that a router that
hangs goes critical even while its UI port still answers). Each is kept by the one
self-registration loop (`yurt.consul_api.registration`): the TTL passed every third of its
period, registered again when the catalog lost it, retried with backoff while the catalog is
not there; all are removed on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterable

from yurt.consul_api.backoff import Backoff
from yurt.consul_api.client import ConsulClient
from yurt.consul_api.registration import ServiceRegistration
from yurt.router.config import RouterConfig, split_addr

log = logging.getLogger(__name__)

Body = dict[str, object]


class Registrations:
    """Services registered on behalf of the router, by service ID."""

    def __init__(self, consul: ConsulClient, config: RouterConfig) -> None:
        self.consul = consul
        self.config = config
        self.bodies: dict[str, Body] = {}
        self._kept: dict[str, ServiceRegistration] = {}  # by service ID
        self._aliases: dict[str, str] = {}  # alias name -> its service ID
        self._sync_task: asyncio.Task[None] | None = None
        self._wanted_aliases: tuple[str, ...] = ()
        self._closed = False

    @property
    def aliases(self) -> dict[str, str]:
        """The `register=` names registered now, with their service IDs."""
        return dict(self._aliases)

    # the registration body --------------------------------------------------------

    def body(self, name: str) -> Body:
        """Fabio's registration of the router under `name`; the ID is `<name>-<host>-<port>`."""
        cfg = self.config
        host, port = (
            split_addr("registry.consul.register.addr", cfg.register_addr)
            if cfg.register_addr
            else (cfg.ui_host, cfg.ui_port)
        )
        if cfg.register_addr and port == 9998 and cfg.ui_port != 9998:
            port = cfg.ui_port  # the default address follows a moved UI
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        sid = f"{name}-{socket.gethostname()}-{port}"
        scheme = "https" if cfg.ui_listener.cs else "http"
        return {
            "ID": sid,
            "Name": name,
            "Tags": list(cfg.register_tags),
            "Address": host,
            "Port": port,
            "Checks": [
                {
                    "CheckID": f"{sid}-ttl",
                    "Name": f"{name} TTL",
                    "TTL": f"{cfg.check_ttl:g}s",
                    "DeregisterCriticalServiceAfter": cfg.check_deregister_after,
                },
                {
                    "CheckID": f"{sid}-http",
                    "Name": f"{name} health",
                    # Fabio: https when the UI is served over TLS (`ui.addr` with `cs=`).
                    "HTTP": f"{scheme}://{host}:{port}/health",
                    "TLSSkipVerify": cfg.check_tls_skip_verify,
                    "Interval": cfg.check_interval,
                    "Timeout": cfg.check_timeout,
                    "DeregisterCriticalServiceAfter": cfg.check_deregister_after,
                },
            ],
        }

    # registering ------------------------------------------------------------------

    async def add(self, name: str) -> str:
        """Register the router as `name` (retried in the background if the catalog is not
        reachable); the service ID."""
        sid = self._track(name)
        await self._open(sid)
        return sid

    def _track(self, name: str) -> str:
        body = self.body(name)
        sid = str(body["ID"])
        if sid in self._kept:
            return sid  # already kept: one loop per service
        self.bodies[sid] = body
        interval = max(self.config.check_ttl / 3, 0.2)
        kept = ServiceRegistration(
            self.consul,
            body,
            ttl_check_id=f"{sid}-ttl",
            keepalive=interval,
            backoff=Backoff(initial=min(0.25, interval), cap=interval),
        )
        self._kept[sid] = kept
        return sid

    async def _open(self, sid: str) -> None:
        kept = self._kept[sid]
        await kept.attempt()
        kept.start()

    async def remove(self, sid: str) -> None:
        self.bodies.pop(sid, None)
        kept = self._kept.pop(sid, None)
        if kept is not None:
            await kept.stop(unconfirmed=True)

    def want_aliases(self, names: Iterable[str]) -> None:
        """The `register=` names of the current routing table: registered and deregistered
        in the background, in table order, as the table changes."""
        wanted = tuple(dict.fromkeys(n for n in names if n))
        if self._closed or wanted == self._wanted_aliases:
            return
        self._wanted_aliases = wanted
        if self._sync_task is None or self._sync_task.done():
            self._sync_task = asyncio.get_running_loop().create_task(self._sync_aliases())

    async def _sync_aliases(self) -> None:
        # Loops until what is registered matches the latest wish, which may change while
        # it awaits the catalog.
        while True:
            wanted = self._wanted_aliases
            own = self.config.service_name if self.config.register else None
            for name in [n for n in self._aliases if n not in wanted]:
                await self.remove(self._aliases.pop(name))
            for name in wanted:
                if name not in self._aliases and name != own:
                    sid = self._aliases[name] = self._track(name)
                    await self._open(sid)
            if wanted == self._wanted_aliases:
                return

    async def close(self) -> None:
        """Deregister everything; stop refreshing and ignore later tables."""
        self._closed = True
        if self._sync_task is not None:
            self._sync_task.cancel()
        self._sync_task = None
        for sid in list(self.bodies):
            await self.remove(sid)
        self._aliases.clear()
        self._wanted_aliases = ()
