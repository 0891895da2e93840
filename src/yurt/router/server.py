"""`Router`: the Fabio role as a `yurt.component.Component`."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys

from aiohttp import web

from yurt.api.http import start_site
from yurt.router.access_log import AccessLog
from yurt.router.admin import build_app
from yurt.router.config import RouterConfig, format_listeners, split_addr
from yurt.router.consul import ConsulClient, ConsulError
from yurt.router.proxy import HTTPProxy, ProxySettings
from yurt.router.table import MATCHERS, PICKERS, Table
from yurt.router.tcp import TCPProxy
from yurt.router.watcher import CatalogWatcher

log = logging.getLogger(__name__)


class Router:
    """Proxy listeners, the admin UI/API, the catalog watcher and the self-registration."""

    name = "router"

    def __init__(self, config: RouterConfig) -> None:
        self.config = config
        self.settings = ProxySettings(
            pick=PICKERS[config.strategy],
            match=MATCHERS[config.matcher],
            noroute_status=config.noroute_status,
            dial_timeout=config.dial_timeout,
            response_header_timeout=config.response_header_timeout,
            keepalive_timeout=config.keepalive_timeout,
            max_idle_per_upstream=config.max_idle_per_upstream,
            local_ip=config.local_ip,
            client_ip_header=config.client_ip_header,
            request_id_header=config.request_id_header,
        )
        if config.access_log_target == "stdout":
            self.settings.access_log = AccessLog(config.access_log_format, sys.stdout)
        self.consul = ConsulClient(config.consul_url, config.consul_token)
        self.watcher = CatalogWatcher(self.consul, config, self._set_table, self._set_noroute)
        self._listeners: list[HTTPProxy | TCPProxy] = []
        self._admin: web.AppRunner | None = None
        self._ttl_task: asyncio.Task[None] | None = None
        self.service_id = ""
        self.table_version = 0

    @property
    def errors(self) -> list[str]:
        return self.watcher.errors

    def _set_table(self, table: Table) -> None:
        old, self.settings.table = self.settings.table, table
        self.table_version += 1
        _log_table_change(old, table, self.config.routes_log_format)

    def _set_noroute(self, html: bytes) -> None:
        self.settings.noroute_html = html

    async def start(self) -> None:
        cfg = self.config
        try:
            listeners = cfg.listeners
            for li in listeners:
                server: HTTPProxy | TCPProxy
                server = TCPProxy(self.settings) if li.proto == "tcp" else HTTPProxy(self.settings)
                li.port = await server.start(li.host, li.port)
                self._listeners.append(server)
                log.info("proxy listening on %s (%s)", li.address, li.proto)
            cfg.proxy_addr = format_listeners(listeners)
            self._admin = await start_site(build_app(self), cfg.ui_host, cfg.ui_port)
            if cfg.ui_port == 0:
                cfg.ui_addr = f"{cfg.ui_host}:{_bound_port(self._admin)}"
            log.info("ui and api on %s", cfg.ui_address)
            await self.watcher.start()
            if cfg.register:
                await self._register()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._ttl_task is not None:
            self._ttl_task.cancel()
            self._ttl_task = None
        if self.service_id:
            try:
                await self.consul.put(f"/v1/agent/service/deregister/{self.service_id}")
                log.info("deregistered %s", self.service_id)
            except ConsulError as exc:
                log.warning("deregistering %s: %s", self.service_id, exc)
            self.service_id = ""
            if self.config.shutdown_wait > 0:
                await asyncio.sleep(self.config.shutdown_wait)
        await self.watcher.stop()
        for server in self._listeners:
            await server.stop()
        self._listeners = []
        if self._admin is not None:
            await self._admin.cleanup()
            self._admin = None
        await self.consul.close()

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Until the first table from the catalog is in place."""
        await asyncio.wait_for(self.watcher.ready.wait(), timeout)

    # self-registration ----------------------------------------------------------

    def _registration(self) -> dict[str, object]:
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
        hostname = socket.gethostname()
        self.service_id = f"{cfg.service_name}-{hostname}-{port}"
        return {
            "ID": self.service_id,
            "Name": cfg.service_name,
            "Tags": list(cfg.register_tags),
            "Address": host,
            "Port": port,
            "Checks": [
                {
                    "CheckID": f"{self.service_id}-ttl",
                    "Name": f"{cfg.service_name} TTL",
                    "TTL": f"{cfg.check_ttl:g}s",
                    "DeregisterCriticalServiceAfter": cfg.check_deregister_after,
                },
                {
                    "CheckID": f"{self.service_id}-http",
                    "Name": f"{cfg.service_name} health",
                    "HTTP": f"http://{host}:{port}/health",
                    "Interval": cfg.check_interval,
                    "Timeout": cfg.check_timeout,
                    "DeregisterCriticalServiceAfter": cfg.check_deregister_after,
                },
            ],
        }

    async def _register(self) -> None:
        body = self._registration()
        try:
            await self.consul.put("/v1/agent/service/register", body)
            await self._pass_ttl()
            log.info("registered as %s", self.service_id)
        except ConsulError as exc:
            # The catalog may come up later: keep trying in the TTL loop.
            log.warning("registering %s: %s; will retry", self.service_id, exc)
        self._ttl_task = asyncio.get_running_loop().create_task(self._ttl_loop(body))

    async def _pass_ttl(self) -> None:
        await self.consul.put(f"/v1/agent/check/pass/{self.service_id}-ttl")

    async def _ttl_loop(self, body: dict[str, object]) -> None:
        interval = max(self.config.check_ttl / 3, 0.2)
        while True:
            await asyncio.sleep(interval)
            try:
                await self._pass_ttl()
            except ConsulError:
                try:
                    await self.consul.put("/v1/agent/service/register", body)
                    await self._pass_ttl()
                except ConsulError as exc:
                    log.debug("TTL refresh: %s", exc)


def _bound_port(runner: web.AppRunner) -> int:
    for site in runner.sites:
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            return int(server.sockets[0].getsockname()[1])
    raise RuntimeError("admin site has no socket")


def _log_table_change(old: Table, new: Table, fmt: str) -> None:
    """Fabio's `log.routes.format`: `delta` logs the added and removed routes, `detail` and
    `all` the whole new table (with weights for `detail`)."""
    if not log.isEnabledFor(logging.INFO):
        return
    if fmt == "delta":
        before, after = set(old.config()), new.config()
        added = [line for line in after if line not in before]
        removed = sorted(before.difference(after))
        if added or removed:
            log.info(
                "routing table updated:%s",
                "".join(f"\n+ {line}" for line in added)
                + "".join(f"\n- {line}" for line in removed),
            )
        return
    lines = new.config(with_weight=fmt == "detail")
    log.info("routing table:%s", "".join(f"\n{line}" for line in lines) or " (empty)")
