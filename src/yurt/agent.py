"""The dev agent: the catalog, the scheduler, one client node and the router in one process.

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

import aiohttp

from yurt.agent_config import AgentConfig
from yurt.api.http import split_host_port
from yurt.component import Component

log = logging.getLogger(__name__)


class AgentStartError(Exception):
    """A component could not start (most often: its address is in use)."""


@dataclass(frozen=True)
class AgentAddresses:
    catalog: str
    scheduler: str
    router_ui: str
    proxy: str


class Agent:
    """`yurt up`: a Component made of components, started in order and stopped in reverse."""

    name = "agent"

    def __init__(self, config: AgentConfig, *, dev: bool = False) -> None:
        self.config = config
        self.dev = dev
        self._tmp: str | None = None
        if dev:
            self._tmp = tempfile.mkdtemp(prefix="yurt-dev-")
            config.data_dir = Path(self._tmp)
        self.components: list[Component] = self._build()

    def _build(self) -> list[Component]:
        cfg = self.config
        # Absolute, as Nomad requires: tasks get paths under it in their environment.
        data = Path(cfg.data_dir).resolve()
        consul_addr = cfg.consul_address
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
                        consul_addr=consul_addr if cfg.auto_advertise else None,
                        server_service_name=cfg.server_service_name,
                        gc_thresholds=GCThresholds(**cfg.gc_thresholds),
                        gc_interval=(cfg.gc_interval_ns / SECOND if cfg.gc_interval_ns else 300.0),
                        acl_enabled=cfg.acl_enabled,
                        consul_token=cfg.consul_token,
                        allowed_origins=list(cfg.http_allowed_origins),
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
                        consul_addr=consul_addr,
                        auto_advertise=cfg.auto_advertise,
                        client_service_name=cfg.client_service_name,
                        http_host=cfg.bind_addr,
                        http_port=0,
                        templates=cfg.client_template,
                        consul_token=cfg.consul_token,
                        allowed_origins=list(cfg.http_allowed_origins),
                    )
                )
            )
        if cfg.router_enabled:
            from yurt.router import Router, RouterConfig

            components.append(
                Router(
                    RouterConfig(
                        proxy_addr=cfg.proxy_addr,
                        ui_addr=cfg.ui_addr,
                        consul_addr=consul_addr,
                        service_name=cfg.router_service_name,
                        consul_token=cfg.consul_token,
                        ui_allowed_origins=tuple(cfg.http_allowed_origins),
                    )
                )
            )
        return components

    @property
    def addresses(self) -> AgentAddresses:
        cfg = self.config
        return AgentAddresses(
            catalog=f"http://{cfg.consul_address}",
            scheduler=f"http://{cfg.bind_addr}:{cfg.http_port}",
            router_ui=f"http://{cfg.ui_addr}",
            proxy=f"http://{cfg.proxy_addr}",
        )

    async def start(self) -> None:
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
        if cfg.auto_advertise and cfg.server_enabled:
            names.append(cfg.server_service_name)
        if cfg.auto_advertise and cfg.client_enabled:
            names.append(cfg.client_service_name)
        if cfg.router_enabled:
            names.append(cfg.router_service_name)
        return names

    async def wait_until_healthy(self, timeout: float = 60.0) -> None:
        """Block until every agent service passes in the catalog, asking it over HTTP.

        Raises TimeoutError naming the services that are still not passing."""
        wanted = set(self.agent_service_names())
        url = f"{self.addresses.catalog}/v1/health/state/any"
        missing = set(wanted)
        index = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession() as session:
            while missing:
                left = deadline - loop.time()
                if left <= 0:
                    raise TimeoutError(f"not passing after {timeout:.0f}s: {sorted(missing)}")
                wait = max(1, min(int(left), 10))
                try:
                    async with session.get(
                        url, params={"index": str(index), "wait": f"{wait}s"}
                    ) as resp:
                        checks = await resp.json() if resp.status == 200 else []
                        index = int(resp.headers.get("X-Consul-Index", "0") or 0)
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
                    continue
                missing = wanted - _passing_services(checks)


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
