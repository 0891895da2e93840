"""`Router`: the Fabio role as a `yurt.component.Component`."""

from __future__ import annotations

import asyncio
import logging
import ssl
import sys
from collections.abc import Callable

from aiohttp import web

from yurt.api.durations import SECOND, parse_go_duration
from yurt.api.http import start_site
from yurt.consul_api.client import ConsulClient
from yurt.router.access_log import AccessLog
from yurt.router.admin import build_app
from yurt.router.auth import ExternalAuth, parse_auth_schemes
from yurt.router.certs import CertStore, parse_cert_sources
from yurt.router.config import Listener, RouterConfig, format_listeners
from yurt.router.consul_certs import ConsulCertStore
from yurt.router.http_certs import HTTPCertStore
from yurt.router.prometheus import PrometheusListener
from yurt.router.proxy import HTTPProxy, ProxySettings
from yurt.router.registration import Registrations
from yurt.router.remote_certs import RemoteCertStore
from yurt.router.static_registry import StaticRegistry
from yurt.router.table import MATCHERS, PICKERS, Table
from yurt.router.tcp import DynamicTCPProxy, TCPProxy
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
            tls_header=config.tls_header,
            tls_header_value=config.tls_header_value,
            sts_value=config.sts_value,
            gzip_types=config.gzip_types(),
            metrics=config.metrics(),
        )
        if config.access_log_target == "stdout":
            self.settings.access_log = AccessLog(config.access_log_format, sys.stdout)
        self.consul = ConsulClient(
            config.consul_url, token=config.consul_token, ssl_context=config.consul_tls()
        )
        self.watcher: CatalogWatcher | StaticRegistry
        if config.registry_backend == "consul":
            self.watcher = CatalogWatcher(self.consul, config, self._set_table, self._set_noroute)
        else:
            self.watcher = StaticRegistry(config, self._set_table, self._set_noroute)
        self._listeners: list[HTTPProxy | TCPProxy | DynamicTCPProxy | PrometheusListener] = []
        self._admin: web.AppRunner | None = None
        self.registrations = Registrations(self.consul, config)
        self.service_id = ""
        self.table_version = 0
        self._refreshers: list[asyncio.Task[None]] = []
        self._remote_certs: list[RemoteCertStore] = []

    @property
    def errors(self) -> list[str]:
        return self.watcher.errors

    def _set_table(self, table: Table) -> None:
        old, self.settings.table = self.settings.table, table
        self.table_version += 1
        _log_table_change(old, table, self.config.routes_log_format)
        if self.settings.metrics is not None:
            self.settings.metrics.forget_targets(table.all_targets())
        if self.config.registry_backend == "consul":
            self.registrations.want_aliases(table.aliases())
        for listener in self._listeners:
            if isinstance(listener, DynamicTCPProxy):
                listener.table_changed()

    def _set_noroute(self, html: bytes) -> None:
        self.settings.noroute_html = html

    async def start(self) -> None:
        cfg = self.config
        for key in cfg.inert_properties:
            log.warning("%s is a Fabio property that yurt accepts and ignores", key)
        try:
            self.settings.auth = parse_auth_schemes(cfg.auth_schemes)
            for scheme in self.settings.auth.values():
                if isinstance(scheme, ExternalAuth):
                    log.info("auth %s: decisions from %s", scheme.name, scheme.endpoint)
                    continue
                scheme.load()
                log.info("auth %s: %d users from %s", scheme.name, scheme.users, scheme.file)
                if scheme.refresh > 0:
                    self._refreshers.append(
                        asyncio.create_task(_every(scheme.refresh, scheme.reload_if_changed))
                    )
            listeners = cfg.listeners
            for li in listeners:
                server: HTTPProxy | TCPProxy | DynamicTCPProxy | PrometheusListener
                tls = await self._tls(li) if li.cs else None
                pxy = li.proxy_header_timeout
                if li.proto == "tcp-dynamic":
                    refresh = _duration(li.refresh) if li.refresh else 5.0
                    server = DynamicTCPProxy(
                        self.settings,
                        refresh,
                        timeouts=cfg.timeouts(li),
                        max_conns_per_client=cfg.max_conns_per_client,
                    )
                elif li.proto == "prometheus":
                    assert self.settings.metrics is not None  # checked by the config
                    server = PrometheusListener(self.settings.metrics, cfg.prometheus_path)
                elif li.proto in ("tcp", "tcp+sni", "https+tcp+sni"):
                    server = TCPProxy(
                        self.settings,
                        tls=tls,
                        sni=li.proto != "tcp",
                        https_fallback=li.proto == "https+tcp+sni",
                        proxy_protocol=pxy,
                        timeouts=cfg.timeouts(li),
                        max_conns_per_client=cfg.max_conns_per_client,
                    )
                else:
                    server = HTTPProxy(
                        self.settings,
                        tls,
                        proxy_protocol=pxy,
                        timeouts=cfg.timeouts(li),
                        max_conns_per_client=cfg.max_conns_per_client,
                    )
                li.port = await server.start(li.host, li.port)
                self._listeners.append(server)
                log.info("proxy listening on %s (%s)", li.address, li.proto)
            cfg.proxy_addr = format_listeners(listeners)
            ui = cfg.ui_listener
            ui_tls = await self._tls(ui) if ui.cs else None
            self._admin = await start_site(
                build_app(self),
                ui.host,
                ui.port,
                tls=ui_tls,
                allowed_origins=cfg.ui_allowed_origins,
                advertise=[cfg.register_addr.rsplit(":", 1)[0]] if cfg.register_addr else [],
                limits=cfg.ui_limits,
            )
            if ui.port == 0:
                cfg.with_ui_port(self._admin.port)
            log.info("ui and api on %s", cfg.ui_address)
            await self.watcher.start()
            if cfg.register and cfg.registry_backend == "consul":
                self.service_id = await self.registrations.add(cfg.service_name)
        except BaseException:
            await self.stop()
            raise

    async def _tls(self, li: Listener) -> ssl.SSLContext:
        """The TLS context of a listener with `cs=`: its certificate source, kept current
        (a `path` source looked at every `refresh`, a `consul` one followed)."""
        source = parse_cert_sources(self.config.cert_sources)[li.cs]
        if source.type in ("consul", "http"):
            kind = ConsulCertStore if source.type == "consul" else HTTPCertStore
            remote = kind(source, li.tls_min, li.tls_max, li.tls_ciphers)
            self._remote_certs.append(remote)
            store = await remote.start(self.config.registry_retry)
        else:
            store = CertStore(source, li.tls_min, li.tls_max, li.tls_ciphers)
            if source.refresh > 0:
                self._refreshers.append(asyncio.create_task(_every(source.refresh, store.refresh)))
        return store.context

    async def stop(self) -> None:
        registered = bool(self.registrations.bodies)
        await self.registrations.close()
        self.service_id = ""
        if registered and self.config.shutdown_wait > 0:
            await asyncio.sleep(self.config.shutdown_wait)
        await self.watcher.stop()
        for task in self._refreshers:
            task.cancel()
        self._refreshers = []
        for remote in self._remote_certs:
            await remote.stop()
        self._remote_certs = []
        for scheme in self.settings.auth.values():
            if isinstance(scheme, ExternalAuth):
                await scheme.close()
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


async def _every(seconds: float, refresh: Callable[[], object]) -> None:
    """Fabio's `refresh=` (htpasswd files, certificate directories): look again every so
    often; the callee reads its files again only when they changed."""
    while True:
        await asyncio.sleep(seconds)
        refresh()


def _duration(text: str) -> float:
    return parse_go_duration(text) / SECOND


def _log_table_change(old: Table, new: Table, fmt: str) -> None:
    """Fabio's `log.routes.format`: `delta` logs the added and removed routes, `detail` and
    `all` the whole new table (with weights for `detail`)."""
    if not log.isEnabledFor(logging.INFO):
        return
    if fmt == "delta":
        added, removed = new.delta(old)
        if added or removed:
            log.info(
                "routing table updated:%s",
                "".join(f"\n+ {line}" for line in added)
                + "".join(f"\n- {line}" for line in removed),
            )
        return
    lines = new.config(with_weight=fmt == "detail")
    log.info("routing table:%s", "".join(f"\n{line}" for line in lines) or " (empty)")
