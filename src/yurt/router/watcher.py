"""Keeps the routing table in step with the catalog, through Consul's HTTP API only.

Four blocking queries run side by side: `/v1/health/state/any` (which instances pass),
`/v1/catalog/services` (which services exist, with their tags), the KV prefix of the manual
routes and the no-route page. Any change marks the table dirty; one rebuilder reads the
instances of the routed services (`/v1/catalog/service/:name`), generates the route commands,
appends the manual ones and swaps the new table in whole. Nothing polls: each query runs in
the one blocking-query loop (`yurt.consul_api.watch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from yurt.consul_api.backoff import Backoff
from yurt.consul_api.client import ConsulClient, ConsulError, kv_value
from yurt.consul_api.watch import watch
from yurt.router.commands import RouteDef, RouteSyntaxError, parse, parse_line
from yurt.router.config import RouterConfig
from yurt.router.health import blocked_nodes, passing_instances, services_with_checks
from yurt.router.table import RouteError, Table
from yurt.router.tags import service_commands

log = logging.getLogger(__name__)


@dataclass
class WatchState:
    checks: list[dict[str, Any]] = field(default_factory=list)
    services: dict[str, list[str]] = field(default_factory=dict)
    manual: list[tuple[str, str]] = field(default_factory=list)  # (key, text), key order
    manual_defs: list[RouteDef] = field(default_factory=list)  # the last good ones
    noroute_html: bytes = b""


class CatalogWatcher:
    """Runs the blocking queries and calls `on_table` with every new table."""

    def __init__(
        self,
        client: ConsulClient,
        config: RouterConfig,
        on_table: Callable[[Table], None],
        on_noroute: Callable[[bytes], None],
    ) -> None:
        self.client = client
        self.config = config
        self.on_table = on_table
        self.on_noroute = on_noroute
        self.state = WatchState()
        self.errors: list[str] = []
        self.manual_error: str = ""
        self.ready = asyncio.Event()
        self.builds = 0
        self.last_build_at = 0.0
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._seen_health = False
        self._seen_services = False
        self._seen_manual = False
        self._env: dict[str, str] = {}
        self._dc_done = False  # $DC is known (or known to be unknown): tags can be expanded

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._watch("health", self._health)),
            loop.create_task(self._watch("services", self._services)),
            loop.create_task(self._watch("manual", self._manual)),
            loop.create_task(self._watch("noroute", self._noroute)),
            loop.create_task(self._rebuilder()),
            loop.create_task(self._datacenter()),
        ]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []

    # the blocking queries -----------------------------------------------------

    def _backoff(self) -> Backoff:
        return Backoff(initial=self.config.registry_retry or 0.5, cap=5.0)

    async def _watch(self, name: str, step: Callable[[int], Awaitable[int]]) -> None:
        await watch(
            name,
            step,
            self._backoff(),
            retry_on=(ConsulError, ValueError, KeyError, TypeError),
            logger=log,
        )

    async def _health(self, index: int) -> int:
        data, new_index = await self.client.get("/v1/health/state/any", index=index)
        if new_index != index or not self._seen_health:
            self.state.checks = list(data or [])
            self._seen_health = True
            self._dirty.set()
        return new_index

    async def _services(self, index: int) -> int:
        data, new_index = await self.client.get("/v1/catalog/services", index=index)
        if new_index != index or not self._seen_services:
            self.state.services = {str(k): list(v or []) for k, v in (data or {}).items()}
            self._seen_services = True
            self._dirty.set()
        return new_index

    async def _manual(self, index: int) -> int:
        entries, new_index = await self.client.kv_list(self.config.kv_path, index=index)
        if new_index != index or not self._seen_manual:
            prefix = self.config.kv_path
            manual = sorted(
                (str(e["Key"]), kv_value(e))
                for e in entries
                if str(e.get("Key", "")) == prefix or str(e.get("Key", "")).startswith(prefix + "/")
            )
            first = not self._seen_manual
            self._seen_manual = True
            if manual != self.state.manual:
                self.state.manual = manual
                self._parse_manual()
                self._dirty.set()
            elif first:
                self._dirty.set()
        return new_index

    def _parse_manual(self) -> None:
        defs: list[RouteDef] = []
        for key, text in self.state.manual:
            try:
                defs.extend(parse(text, source=key))
            except RouteSyntaxError as exc:
                self.manual_error = f"manual routes: {exc}; keeping the last good routes"
                log.error("%s", self.manual_error)
                return
        self.manual_error = ""
        self.state.manual_defs = defs

    async def _noroute(self, index: int) -> int:
        value, _, new_index = await self.client.kv_get(self.config.noroute_html_path, index=index)
        html = value or b""
        if html != self.state.noroute_html:
            self.state.noroute_html = html
            self.on_noroute(html)
        return new_index

    async def _datacenter(self) -> None:
        """`$DC` in tags: the agent's datacenter, asked until the catalog answers."""
        if self.config.datacenter:
            self._env = {"DC": self.config.datacenter}
            self._dc_done = True
            return
        backoff = self._backoff()
        while True:
            try:
                data, _ = await self.client.get("/v1/agent/self")
            except ConsulError as exc:
                log.debug("datacenter from /v1/agent/self: %s; retrying", exc)
                await asyncio.sleep(backoff.next())
                continue
            dc = ((data or {}).get("Config") or {}).get("Datacenter")
            if dc:
                self._env = {"DC": str(dc)}
            else:
                log.info("no datacenter in /v1/agent/self: $DC stays unexpanded")
            self._dc_done = True
            self._dirty.set()
            return

    # building -----------------------------------------------------------------

    async def _rebuilder(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            # Each first answer sets `_dirty` again, so nothing is missed by waiting here.
            if not (
                self._seen_health and self._seen_services and self._seen_manual and self._dc_done
            ):
                continue
            try:
                await self.rebuild()
            except asyncio.CancelledError:
                raise
            except ConsulError as exc:
                log.warning("rebuilding the routing table: %s; retrying", exc)
                await asyncio.sleep(self.config.registry_retry or 0.5)
                self._dirty.set()

    async def rebuild(self) -> Table:
        cfg = self.config
        checks = self.state.checks
        passing = passing_instances(
            checks, cfg.service_status, require_all=cfg.checks_required == "all"
        )
        checked = services_with_checks(checks) if cfg.route_unchecked else set()
        blocked = blocked_nodes(checks) if cfg.route_unchecked else set()
        names = sorted(
            name
            for name, tags in self.state.services.items()
            if any(str(t).strip().startswith(cfg.tag_prefix) for t in tags)
        )
        answers = await asyncio.gather(
            *(self.client.get("/v1/catalog/service/" + quote(n, safe="")) for n in names)
        )
        errors: list[str] = []
        generated: list[str] = []
        for data, _ in answers:
            for inst in data or []:
                key = (str(inst.get("Node", "")), str(inst.get("ServiceID", "")))
                ok = key in passing or (
                    cfg.route_unchecked and key not in checked and key[0] not in blocked
                )
                if ok:
                    generated.extend(service_commands(inst, cfg.tag_prefix, self._env, errors))
        table = Table(glob=not cfg.glob_disabled)
        for line in generated:
            try:
                table.apply(parse_line(line))
            except (ValueError, RouteError) as exc:
                errors.append(f"generated route {line!r}: {exc}")
        for d in self.state.manual_defs:
            try:
                table.apply(d)
            except RouteError as exc:
                # Fabio drops the whole table here; one stale weight should not do that.
                errors.append(f"manual route {d.cmd.value} {d.service} {d.src}: {exc}")
        for routes in table.hosts.values():
            routes.sort(key=lambda r: r.path, reverse=True)
        if self.manual_error:
            errors.insert(0, self.manual_error)
        for e in errors:
            if e not in self.errors:
                log.warning("%s", e)
        self.errors = errors
        self.on_table(table)
        self.builds += 1
        self.last_build_at = time.monotonic()
        self.ready.set()
        return table
