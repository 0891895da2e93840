"""The dev agent: the catalog, the scheduler and one client node in one process, the router
in a child process of its own (`router/process.py`).

This is the composition root: the only place that knows all four components. They still
talk to each other only through their public HTTP APIs (the client registers with the
scheduler and registers services in the catalog; the router watches the catalog), so the
agent only builds their configs from one `AgentConfig` and starts them in dependency order.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from yurt.agent_config import AgentConfig
from yurt.api.http import split_host_port
from yurt.api.limits import HTTPLimits
from yurt.api.tls import TLSConfig
from yurt.component import Component
from yurt.consul_api.client import ConsulClient, ConsulError
from yurt.consul_api.watch import next_index

log = logging.getLogger(__name__)


class AgentStartError(Exception):
    """A component could not start (most often: its address is in use)."""


@dataclass(frozen=True)
class AgentAddresses:
    catalog: str
    scheduler: str
    router_ui: str
    proxy: str


class _NomadAgentArgs(TypedDict):
    """The config fields SchedulerConfig and ClientConfig share, passed as `**kwargs`."""

    consul_token: str
    allowed_origins: list[str]
    tls: TLSConfig
    consul_tls: TLSConfig
    http_limits: HTTPLimits
    consul_tags: list[str]


class Agent:
    """`yurt up`: a Component made of components, started in order and stopped in reverse."""

    name = "agent"

    def __init__(self, config: AgentConfig, *, dev: bool = False) -> None:
        self.config = config
        self.dev = dev
        if config.log_level:
            logging.getLogger().setLevel(_LOG_LEVELS[config.log_level])
        # A catalog config dir that cannot be served (bad TLS files) fails `start()`.
        self._settings_error: str | None = None
        self.consul_url, self.consul_tls = self._catalog_endpoint()
        self._tmp: str | None = None
        if dev:
            self._tmp = tempfile.mkdtemp(prefix="yurt-dev-")
            config.data_dir = Path(self._tmp)
        self._internal_consul_token()
        self.components: list[Component] = self._build()
        self._link_local_client()

    def _link_local_client(self) -> None:
        """The server's `/v1/agent/self` tells of the client this agent runs, as a Nomad
        agent with both roles does (`nomad node status -self` needs it)."""
        if not (self.config.server_enabled and self.config.client_enabled):
            return
        from yurt.client import ClientAgent
        from yurt.scheduler import SchedulerServer

        servers = [c for c in self.components if isinstance(c, SchedulerServer)]
        clients = [c for c in self.components if isinstance(c, ClientAgent)]
        if servers and clients:
            servers[0].local_client = clients[0].agent_stats

    def _internal_consul_token(self) -> None:
        """With the catalog's ACLs on, the scheduler, client and router need a token: the
        configured `consul { token }` or `acl { tokens { agent } }`, else a secret of their
        own (kept in the catalog's data dir, 0600) that the catalog creates at start as its
        agent token; the user's one-time bootstrap stays theirs."""
        cfg = self.config
        if not (cfg.catalog_enabled and cfg.catalog_acl.enabled) or cfg.consul_token:
            return
        if not cfg.catalog_acl.agent:
            from yurt.catalog.acl_setup import agent_token_secret

            cfg.catalog_acl.agent = agent_token_secret(Path(cfg.data_dir).resolve() / "catalog")
        cfg.consul_token = cfg.catalog_acl.agent

    def _catalog_endpoint(self) -> tuple[str, TLSConfig]:
        """Where the agents reach the catalog, and with what TLS: Nomad's `consul { ssl ...}`
        if given; else, for the catalog in this process, HTTPS whenever its config files
        turn HTTPS on (with its CA, and its certificate for a catalog that asks for one)."""
        cfg = self.config
        host, port = split_host_port(cfg.consul_address, 8500)
        if cfg.consul_tls is not None:
            return cfg.consul_tls.url(f"{host}:{port}"), cfg.consul_tls
        if not cfg.catalog_enabled:
            return f"http://{host}:{port}", TLSConfig()
        from yurt.catalog.config_settings import SettingsError, load_settings

        try:
            settings = load_settings(list(cfg.catalog_config_dirs))
        except (SettingsError, ValueError) as exc:
            self._settings_error = str(exc)
            return f"http://{host}:{port}", TLSConfig()
        tls = settings.tls_config()
        if tls is None or settings.https_port is None or settings.https_port < 0:
            return f"http://{host}:{port}", TLSConfig()
        client = TLSConfig(
            http=True,
            ca_file=tls.ca_file,
            ca_path=tls.ca_path,
            cert_file=tls.cert_file,
            key_file=tls.key_file,
            tls_min_version=tls.tls_min_version,
        )
        return f"https://{host}:{settings.https_port}", client

    def _nomad_agent_args(self) -> _NomadAgentArgs:
        """What the scheduler and the client agent take alike from the one config: the
        catalog token, CORS origins, their own and the catalog's TLS, HTTP limits, tags."""
        cfg = self.config
        return _NomadAgentArgs(
            consul_token=cfg.consul_token,
            allowed_origins=list(cfg.http_allowed_origins),
            tls=cfg.tls,
            consul_tls=self.consul_tls,
            http_limits=cfg.http_limits,
            consul_tags=list(cfg.consul_tags),
        )

    def _build(self) -> list[Component]:
        cfg = self.config
        # Absolute, as Nomad requires: tasks get paths under it in their environment.
        data = Path(cfg.data_dir).resolve()
        consul_addr = cfg.consul_address
        # What the other components dial: the catalog's HTTPS URL when it serves TLS.
        consul_url = self.consul_url
        components: list[Component] = []
        if cfg.catalog_enabled:
            from yurt.catalog import CatalogConfig, CatalogServer

            host, port = split_host_port(consul_addr, 8500)
            components.append(
                CatalogServer(
                    CatalogConfig(
                        http_host=host,
                        http_port=port,
                        data_dir=data / "catalog",
                        node_name=cfg.catalog_node_name or cfg.name,
                        datacenter=cfg.datacenter,
                        config_dirs=list(cfg.catalog_config_dirs),
                        acl=cfg.catalog_acl,
                        allowed_origins=list(cfg.http_allowed_origins),
                        store=cfg.store,
                    )
                )
            )
        if cfg.server_enabled:
            from yurt.api.durations import SECOND
            from yurt.scheduler import SchedulerConfig, SchedulerServer
            from yurt.scheduler.gc import GCThresholds

            components.append(
                SchedulerServer(
                    SchedulerConfig(
                        http_host=cfg.bind_addr,
                        http_port=cfg.http_port,
                        data_dir=data / "scheduler",
                        region=cfg.region,
                        datacenter=cfg.datacenter,
                        consul_addr=consul_url if cfg.auto_advertise else None,
                        server_service_name=cfg.server_service_name,
                        gc_thresholds=GCThresholds(**cfg.gc_thresholds),
                        gc_interval=(cfg.gc_interval_ns / SECOND if cfg.gc_interval_ns else 300.0),
                        acl_enabled=cfg.acl_enabled,
                        **self._nomad_agent_args(),
                        advertise_http=cfg.advertise_http,
                        heartbeat_grace=cfg.heartbeat_grace_ns or SchedulerConfig.heartbeat_grace,
                        store=cfg.store,
                    )
                )
            )
        if cfg.client_enabled:
            from yurt.client import ClientAgent, ClientConfig

            servers = cfg.client_servers or [f"{cfg.bind_addr}:{cfg.http_port}"]
            components.append(
                ClientAgent(
                    ClientConfig(
                        servers=servers,
                        data_dir=data / "client",
                        node_name=cfg.name,
                        datacenter=cfg.datacenter,
                        region=cfg.region,
                        node_class=cfg.node_class,
                        meta=dict(cfg.client_meta),
                        raw_exec_enabled=cfg.raw_exec_enabled,
                        docker_endpoint=cfg.docker_endpoint,
                        docker_allow_privileged=cfg.docker_allow_privileged,
                        docker_volumes_enabled=cfg.docker_volumes_enabled,
                        # Task services go to the catalog whatever auto_advertise says: it
                        # only decides whether the client registers itself.
                        consul_addr=consul_url,
                        auto_advertise=cfg.auto_advertise,
                        client_service_name=cfg.client_service_name,
                        http_host=cfg.bind_addr,
                        http_port=0,
                        network_interface=cfg.network_interface,
                        templates=cfg.client_template,
                        **self._nomad_agent_args(),
                        cpu_total_compute=cfg.cpu_total_compute,
                        memory_total_mb=cfg.memory_total_mb,
                        acl_token_ttl=cfg.acl_token_ttl_ns / 1e9,
                    )
                )
            )
        if cfg.router_enabled:
            from yurt.router.process import RouterProcess

            components.append(RouterProcess(self.router_properties()))
        return components

    def router_properties(self) -> dict[str, str]:
        """The router's settings as Fabio's properties (the router runs as `yurt router`,
        in a process of its own: `router/process.py`)."""
        cfg = self.config
        scheme, addr = self.consul_url.split("://", 1)
        tls = self.consul_tls
        return {
            "proxy.addr": cfg.proxy_addr,
            "ui.addr": cfg.ui_addr,
            "registry.consul.addr": addr,
            "registry.consul.scheme": scheme,
            "registry.consul.tls.cafile": tls.ca_file,
            "registry.consul.tls.capath": tls.ca_path,
            "registry.consul.tls.certfile": tls.cert_file,
            "registry.consul.tls.keyfile": tls.key_file,
            "registry.consul.tls.insecureskipverify": str(not tls.verify_outgoing).lower(),
            "registry.consul.register.name": cfg.router_service_name,
            "registry.consul.token": cfg.consul_token,
            "ui.allowedorigins": ",".join(cfg.http_allowed_origins),
        }

    @property
    def addresses(self) -> AgentAddresses:
        cfg = self.config
        return AgentAddresses(
            catalog=self.consul_url,
            scheduler=f"{cfg.tls.scheme}://{cfg.bind_addr}:{cfg.http_port}",
            router_ui=f"http://{cfg.ui_addr}",
            proxy=f"http://{cfg.proxy_addr}",
        )

    async def start(self) -> None:
        if self._settings_error is not None:
            raise AgentStartError(f"the catalog could not start: {self._settings_error}")
        started: list[Component] = []
        try:
            for component in self.components:
                try:
                    await component.start()
                except OSError as exc:
                    raise AgentStartError(f"the {component.name} could not start: {exc}") from exc
                started.append(component)
        except BaseException:
            for component in reversed(started):
                await component.stop()
            raise

    async def stop(self) -> None:
        for component in reversed(self.components):
            try:
                await component.stop()
            except Exception:
                log.exception("error stopping %s", component.name)
        await self.cleanup()

    async def cleanup(self) -> None:
        """Removes the `-dev` state directory; safe to call more than once."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def agent_service_names(self) -> list[str]:
        """The services that must pass in the catalog before the agent counts as ready."""
        cfg = self.config
        names: list[str] = []
        if cfg.catalog_enabled:
            names.append("consul")
        # Under verify_https_client the Nomad agents register no health check (as Nomad:
        # the catalog's checker has no certificate), so there is nothing to wait for.
        checked = not (cfg.tls.http and cfg.tls.verify_incoming)
        if cfg.auto_advertise and cfg.server_enabled and checked:
            names.append(cfg.server_service_name)
        if cfg.auto_advertise and cfg.client_enabled and checked:
            names.append(cfg.client_service_name)
        if cfg.router_enabled:
            names.append(cfg.router_service_name)
        return names

    async def wait_until_healthy(self, timeout: float = 60.0) -> None:
        """Block until every agent service passes in the catalog, asking it over HTTP.

        Raises TimeoutError naming the services that are still not passing."""
        wanted = set(self.agent_service_names())
        missing = set(wanted)
        index = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with ConsulClient.from_tls(
            self.addresses.catalog, self.consul_tls, self.config.consul_token
        ) as consul:
            while missing:
                left = deadline - loop.time()
                if left <= 0:
                    raise TimeoutError(f"not passing after {timeout:.0f}s: {sorted(missing)}")
                wait = max(1, min(int(left), 10))
                try:
                    checks, answered = await consul.get(
                        "/v1/health/state/any", index=index, wait=f"{wait}s"
                    )
                except ConsulError:
                    await asyncio.sleep(0.1)
                    continue
                index = next_index(index, answered)
                missing = wanted - _passing_services(checks or [])


_LOG_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "OFF": logging.CRITICAL + 1,
}


def _passing_services(checks: list[dict[str, object]]) -> set[str]:
    """Services whose every check passes; `consul` stands for the catalog node's serfHealth."""
    failing: set[str] = set()
    seen: set[str] = set()
    for check in checks:
        name = str(check.get("ServiceName") or "")
        if check.get("CheckID") == "serfHealth":
            name = "consul"
        if not name:
            continue
        seen.add(name)
        if check.get("Status") != "passing":
            failing.add(name)
    return seen - failing
