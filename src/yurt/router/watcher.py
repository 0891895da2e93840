"""Keeps the routing table in step with the catalog, through Consul's HTTP API only.

Four blocking queries run side by side: `/v1/health/state/any` (which instances pass),
`/v1/catalog/services` (which services exist, with their tags), the KV prefix of the manual
routes and the no-route page. Any change marks the table dirty; one rebuilder reads the
instances of the routed services that changed (`/v1/catalog/service/:name`; the table
builder remembers the others' and their route commands), appends the manual routes and swaps
the new table in whole. Nothing polls: each query runs in the one blocking-query loop
(`yurt.consul_api.watch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from yurt import jsonfast
from yurt.consul_api.backoff import Backoff
from yurt.consul_api.client import Answer, ConsulClient, ConsulError, decode, kv_value
from yurt.consul_api.watch import watch
from yurt.router.commands import RouteDef, RouteSyntaxError, parse
from yurt.router.config import RouterConfig
from yurt.router.table import Table
from yurt.router.table_builder import Rules, TableBuilder

log = logging.getLogger(__name__)

# Reading every routed service again (after a catalog change no answer attributes to a
# service) happens at most this often.
FULL_READ_EVERY_S = 2.0
FULL_READ_SHARE = 10  # and waits ten times as long as the last one took
FULL_READ_PART = 256  # services read per table build while one is under way
# It also waits until the services answer has been still this long: while registrations
# stream in, each read of every service was thousands of requests the catalog answered
# between the writes (half of the router's reads in a burst of 30,000), for changes the
# health and services answers had mostly named already.
FULL_READ_QUIET_S = 1.0
# ... but never longer than this after the first change it is for, however long the stream.
FULL_READ_MAX_DEFER_S = 30.0

# After a changed answer of a whole-catalog query (every check, every service), the next
# one waits in proportion to its size: while writes stream in (10,000 registrations), each
# would otherwise make the catalog encode and the router decode the whole catalog again, a
# quadratic cost that starved the writes of the process both share (`yurt up`). Waiting
# lets one answer carry many changes; a small catalog waits well under a millisecond.
PACE_S_PER_ITEM = 20e-6
PACE_MAX_S = 0.25
# While changes stream in, the router also waits twice what its last cycle of a query cost
# it (decoding, comparing, assembling), so that it takes at most a third of the process it
# may share with the catalog, however large the catalog; never longer than this, so the
# table follows within a second.
PACE_COST_FACTOR = 2.0
PACE_COST_MAX_S = 0.5


def pace(items: int, cost_s: float = 0.0) -> float:
    """Seconds to wait before asking again after a changed answer of `items` entries whose
    handling cost `cost_s`."""
    by_cost = min(PACE_COST_MAX_S, PACE_COST_FACTOR * cost_s)
    return max(min(PACE_MAX_S, items * PACE_S_PER_ITEM), by_cost)


def pace_after(items: int, waited_s: float, cost_s: float = 0.0) -> float:
    """The wait after a changed answer that took `waited_s` to come: `pace(items, cost_s)`
    while changes stream in (the answer came at once), none after a quiet spell (it blocked
    at least that long), so that a lone change, a health flap, reaches the table unpaced."""
    wait = pace(items, cost_s)
    return wait if waited_s < wait else 0.0


def full_read_at(allowed_at: float, changed_at: float, first_change_at: float) -> float:
    """When the read of every routed service may start: not before `allowed_at` (the reads
    take at most a tenth of the time), and once the services answer has been still
    FULL_READ_QUIET_S since its last change (`changed_at`), or FULL_READ_MAX_DEFER_S after
    the first change the read is for (`first_change_at`)."""
    settled = min(changed_at + FULL_READ_QUIET_S, first_change_at + FULL_READ_MAX_DEFER_S)
    return max(allowed_at, settled)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection inside (synchronous code only: nothing else runs meanwhile)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass
class WatchState:
    checks: int = 0  # entries of the last `/v1/health/state/any` answer (kept by the builder)
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
        self.builder = TableBuilder(self._rules())
        # Catalog reads of one rebuild in flight at once (10,000 at once would queue in the
        # client's pool anyway, holding every answer in memory).
        self._reads = asyncio.Semaphore(64)
        self._full_read_due = False
        self._full_pending: list[str] = []  # of the read of every service under way
        self._full_cost = 0.0  # seconds its parts took so far
        self._next_full_read = 0.0
        self._services_changed_at = 0.0  # the services answer's last change
        self._first_unread_change = 0.0  # its first change no read of every service saw
        self._full_read_timer: asyncio.TimerHandle | None = None

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
        if self._full_read_timer is not None:
            self._full_read_timer.cancel()
            self._full_read_timer = None
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

    async def _get(self, path: str, index: int) -> tuple[Answer, float, float]:
        """A blocking read: (answer, seconds it took to come, when it came)."""
        asked = time.monotonic()
        answer = await self.client.request("GET", path, index=index, allow_404=True)
        arrived = time.monotonic()
        return answer, arrived - asked, arrived

    def _data(self, answer: Answer, path: str) -> Any:
        # orjson: the whole-catalog answers are megabytes (see yurt.jsonfast)
        return None if answer.status == 404 else decode(answer, "GET", path, jsonfast.loads)

    async def _health(self, index: int) -> int:
        path = "/v1/health/state/any"
        answer, waited, arrived = await self._get(path, index)
        if answer.index != index or not self._seen_health:
            # Decoding the whole answer makes a container per check; the collector would
            # scan them over and over while they are compared (at 30,000 checks, as long
            # as the comparison itself), and they hold no cycles: freed as they are dropped.
            with collector_paused():
                checks = list(self._data(answer, path) or [])
                self.state.checks = len(checks)
                self.builder.set_checks(checks)
                del checks  # the whole answer is large: the builder keeps what routes
            self._seen_health = True
            self._dirty.set()
            cost = time.monotonic() - arrived
            new_index = answer.index
            del answer  # megabytes: not kept through the wait
            await asyncio.sleep(pace_after(self.state.checks, waited, cost))
            return new_index
        return answer.index

    async def _services(self, index: int) -> int:
        path = "/v1/catalog/services"
        answer, waited, arrived = await self._get(path, index)
        new_index = answer.index
        if new_index != index or not self._seen_services:
            with collector_paused():
                services = self._data(answer, path) or {}
                if not isinstance(services, dict):
                    raise ValueError(f"{path}: expected an object, got {type(services).__name__}")
            # The index moved: besides the services whose tags changed (read again at
            # once), an instance may have been added, removed or moved keeping its
            # service's tags, which shows nowhere but in the instances (not in the health
            # answer when it has no checks): every routed service is read again, at a
            # bounded rate (see `rebuild`).
            if self._seen_services:
                if not self._full_read_due:
                    self._first_unread_change = arrived
                self._full_read_due = True
                self._services_changed_at = arrived
            self.builder.set_services(services)
            self.state.services = self.builder.services
            self._seen_services = True
            self._dirty.set()
            cost = time.monotonic() - arrived
            count = len(services)
            del answer, services  # not kept through the wait
            await asyncio.sleep(pace_after(count, waited, cost))
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
            started = time.monotonic()
            try:
                await self.rebuild()
            except asyncio.CancelledError:
                raise
            except ConsulError as exc:
                log.warning("rebuilding the routing table: %s; retrying", exc)
                await asyncio.sleep(self.config.registry_retry or 0.5)
                self._dirty.set()
                continue
            # When changes came during this build, they stream in: the next build takes
            # all that come while it waits twice what this one cost (a build costs what
            # changed, not the table's size, which the whole-catalog queries' pace
            # follows). A lone change after a quiet spell is built at once.
            if self._dirty.is_set():
                await asyncio.sleep(pace(0, time.monotonic() - started))

    async def rebuild(self) -> Table:
        builder = self.builder
        builder.set_rules(self._rules())
        builder.set_env(self._env)
        now = time.monotonic()
        if self._full_read_due and not self._full_pending:
            start_at = full_read_at(
                self._next_full_read, self._services_changed_at, self._first_unread_change
            )
            if now >= start_at:
                self._full_read_due = False
                self._full_pending = builder.routed()
                self._full_cost = 0.0
            elif self._full_read_timer is None:
                self._full_read_timer = asyncio.get_running_loop().call_later(
                    start_at - now, self._full_read_wakeup
                )
        # Reading every service takes seconds at 10,000: it goes a part per build, so
        # what the answers name (a health flap, a new instance) never waits behind it.
        part = self._full_pending[:FULL_READ_PART]
        del self._full_pending[:FULL_READ_PART]
        builder.mark_stale(part)
        stale = builder.take_stale()
        try:
            answers = await asyncio.gather(*(self._read_service(n) for n in stale))
        except BaseException:
            builder.mark_stale(stale)
            raise
        for name, data in zip(stale, answers, strict=True):
            builder.set_instances(name, data)
        if part:
            self._full_cost += time.monotonic() - now
            if self._full_pending:
                self._dirty.set()
            else:
                # Whole reads take at most a tenth of the time.
                self._next_full_read = time.monotonic() + max(
                    FULL_READ_EVERY_S, FULL_READ_SHARE * self._full_cost
                )
                if self._full_read_due:
                    # a change came during this read: the next build schedules its own
                    self._dirty.set()
        table, errors = builder.table(self.state.manual_defs)
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

    def _full_read_wakeup(self) -> None:
        self._full_read_timer = None
        self._dirty.set()

    def _rules(self) -> Rules:
        cfg = self.config
        return Rules(
            tag_prefix=cfg.tag_prefix,
            service_status=tuple(cfg.service_status),
            require_all=cfg.checks_required == "all",
            route_unchecked=cfg.route_unchecked,
            glob=not cfg.glob_disabled,
        )

    async def _read_service(self, name: str) -> list[dict[str, Any]]:
        async with self._reads:
            data, _ = await self.client.get("/v1/catalog/service/" + quote(name, safe=""))
        return list(data or [])
