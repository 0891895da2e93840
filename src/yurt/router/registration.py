"""The router's own services in the catalog: itself (`registry.consul.register.*`) and the
aliases that routes ask for with `register=<name>`.

Each is registered as Fabio registers itself: the UI address, the configured tags, an HTTP
check on `/health`, plus a TTL check that the router keeps passing (so that a router that
hangs goes critical even while its UI port still answers). A registration that fails because
the catalog is not there yet is retried on every TTL round; all are removed on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterable

from yurt.router.config import RouterConfig, split_addr
from yurt.router.consul import ConsulClient, ConsulError

log = logging.getLogger(__name__)

Body = dict[str, object]


class Registrations:
    """Services registered on behalf of the router, by service ID."""

    def __init__(self, consul: ConsulClient, config: RouterConfig) -> None:
        self.consul = consul
        self.config = config
        self.bodies: dict[str, Body] = {}
        self._pending: set[str] = set()  # registered in our view, not yet in the catalog
        self._aliases: dict[str, str] = {}  # alias name -> its service ID
        self._ttl_task: asyncio.Task[None] | None = None
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
        await self._put(sid)
        return sid

    def _track(self, name: str) -> str:
        body = self.body(name)
        sid = str(body["ID"])
        self.bodies[sid] = body
        if self._ttl_task is None:
            self._ttl_task = asyncio.get_running_loop().create_task(self._ttl_loop())
        return sid

    async def remove(self, sid: str) -> None:
        if self.bodies.pop(sid, None) is None:
            return
        self._pending.discard(sid)
        try:
            await self.consul.put(f"/v1/agent/service/deregister/{sid}")
            log.info("deregistered %s", sid)
        except ConsulError as exc:
            log.warning("deregistering %s: %s", sid, exc)

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
                    await self._put(sid)
            if wanted == self._wanted_aliases:
                return

    async def close(self) -> None:
        """Deregister everything; stop refreshing and ignore later tables."""
        self._closed = True
        for task in (self._sync_task, self._ttl_task):
            if task is not None:
                task.cancel()
        self._sync_task = self._ttl_task = None
        for sid in list(self.bodies):
            await self.remove(sid)
        self._aliases.clear()
        self._wanted_aliases = ()

    async def _put(self, sid: str) -> None:
        try:
            await self.consul.put("/v1/agent/service/register", self.bodies[sid])
            await self.consul.put(f"/v1/agent/check/pass/{sid}-ttl")
            self._pending.discard(sid)
            log.info("registered as %s", sid)
        except ConsulError as exc:
            if sid not in self._pending:
                log.warning("registering %s: %s; will retry", sid, exc)
            self._pending.add(sid)

    async def _ttl_loop(self) -> None:
        interval = max(self.config.check_ttl / 3, 0.2)
        while True:
            await asyncio.sleep(interval)
            for sid in list(self.bodies):
                if sid in self._pending:
                    await self._put(sid)
                    continue
                try:
                    await self.consul.put(f"/v1/agent/check/pass/{sid}-ttl")
                except ConsulError:
                    # Gone from the catalog (restarted, reaped): register it again.
                    await self._put(sid)
