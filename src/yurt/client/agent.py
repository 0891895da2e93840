"""`ClientAgent`: the Nomad client role. It fingerprints the node, registers with the
scheduler and heartbeats, watches its allocations with blocking queries, runs them through
allocation runners and reports what they do; it serves `/v1/client/*` on its own port and
registers itself in the catalog."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from yurt.api.durations import format_go_duration
from yurt.api.http import start_site
from yurt.api.tls import agent_http_check
from yurt.client.alloc_runner import AllocRunner, ClientEnv
from yurt.client.config import ClientConfig
from yurt.client.drivers import marker
from yurt.client.drivers.base import Driver, DriverHealth
from yurt.client.events import rfc3339
from yurt.client.fingerprint import NodeNetwork, host_attributes, node_network
from yurt.client.server_conn import ServerConnection, ServerError, Unreachable
from yurt.client.state import StateStore
from yurt.client.taskenv import NodeView
from yurt.consul_api.client import ConsulClient
from yurt.consul_api.registration import ServiceRegistration

log = logging.getLogger(__name__)
Obj = dict[str, Any]
_TERMINAL = ("complete", "failed", "lost")
_NOT_ON_NODE = re.compile(r"allocation (\S+) is not on node")
_KEEP_FINISHED = 50  # Nomad's gc_max_allocs: terminal allocations kept for their logs


def _make_drivers(config: ClientConfig) -> list[Driver]:
    from yurt.client.drivers.docker import DockerDriver
    from yurt.client.drivers.exec import ExecDriver
    from yurt.client.drivers.raw_exec import RawExecDriver

    return [
        RawExecDriver(config.raw_exec_enabled),
        ExecDriver(),
        DockerDriver(
            config.docker_endpoint,
            allow_privileged=config.docker_allow_privileged,
            volumes_enabled=config.docker_volumes_enabled,
        ),
    ]


class ClientAgent:
    name = "client"

    def __init__(self, config: ClientConfig) -> None:
        # Tasks see paths under data_dir (NOMAD_TASK_DIR, ...): they must not depend on the
        # working directory, so it is made absolute here as Nomad requires it to be.
        config.data_dir = Path(config.data_dir).resolve()
        self.config = config
        self.runners: dict[str, AllocRunner] = {}
        self._finished: collections.OrderedDict[str, AllocRunner] = collections.OrderedDict()
        # allocations collected (`collect_garbage`) that the server still lists
        self._collected: set[str] = set()
        self._orphans_checked = False
        self._dirty: set[str] = set()
        self._dirty_event = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._bg: set[asyncio.Task[None]] = set()
        self._unknown: set[str] = set()  # allocations the scheduler said it does not have
        self._http: web.AppRunner | None = None
        self._registered = asyncio.Event()
        self._reregister = asyncio.Event()
        self.ttl = 10.0
        self._last_heartbeat = 0.0  # time.monotonic() of the last accepted heartbeat
        self.node_id = ""  # the node's identity, read from the state store at start
        self.drivers: dict[str, Driver] = {}
        self.driver_health: dict[str, DriverHealth] = {}
        self.consul: ConsulClient | None = None
        self.conn: ServerConnection | None = None
        self.env: ClientEnv | None = None
        self._stopped = False
        self._advertised: ServiceRegistration | None = None

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        if cfg.network_interface:
            net = node_network(cfg.network_interface)  # NetworkError: the start fails
            cfg.network_ip, cfg.network_device = net.ip, net.device
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = StateStore(cfg.data_dir)
        self.node_id, self.secret = self.store.node_identity()
        for driver in _make_drivers(cfg):
            self.drivers[driver.name] = driver
        await self._fingerprint_drivers()
        self.attributes = host_attributes(cfg.data_dir)
        from yurt.client.http_api import build_app

        self._http = await start_site(
            build_app(self),
            cfg.http_host,
            cfg.http_port,
            tls=cfg.tls.server_context() if cfg.tls.http else None,
            allowed_origins=cfg.allowed_origins,
            advertise=[cfg.network_ip],
            limits=cfg.http_limits,
        )
        if cfg.http_port == 0:
            cfg.http_port = self._http.port
        self.consul = (
            ConsulClient.from_tls(cfg.consul_addr, cfg.consul_tls, cfg.consul_token)
            if cfg.consul_addr
            else None
        )
        node_view = NodeView(
            id=self.node_id,
            name=cfg.node_name,
            datacenter=cfg.datacenter,
            region=cfg.region,
            node_class=cfg.node_class,
            node_pool=cfg.node_pool,
            attributes=self.node_attributes(),
            meta=dict(cfg.meta),
        )
        from yurt.client.hooks import default_hooks

        self.env = ClientEnv(
            data_dir=cfg.data_dir,
            node=node_view,
            node_ip=cfg.network_ip,
            drivers={n: d for n, d in self.drivers.items() if self.driver_health[n].healthy},
            driver_problems={
                n: f'driver "{n}" is not usable on this node: {h.description}'
                for n, h in self.driver_health.items()
                if not h.healthy
            },
            consul=self.consul,
            store=self.store,
            notify=self._notify,
            templates=cfg.templates,
        )
        self.env.prestart_hooks.extend(default_hooks(self.env))
        self._recover()
        self.conn = ServerConnection(
            cfg.servers, self.node_id, self.secret, tls=cfg.tls, region=cfg.region
        )
        self.env.nomad_services = self.conn
        self._tasks = [
            asyncio.create_task(self._forever(self._heartbeat_loop), name="client-heartbeat"),
            asyncio.create_task(self._forever(self._watch_loop), name="client-watch"),
            asyncio.create_task(self._forever(self._update_loop), name="client-updates"),
            asyncio.create_task(self._forever(self._fingerprint_loop), name="client-fingerprint"),
        ]
        if self.consul is not None and cfg.auto_advertise:
            self._advertise(self.consul)
        log.info(
            "client %s (%s) serving on %s://%s, servers %s",
            cfg.node_name,
            cfg.tls.scheme,
            self.node_id,
            cfg.address,
            ", ".join(cfg.servers),
        )

    @staticmethod
    async def _forever(loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Keep a background loop alive: a bug in one round must not end the node's work."""
        while True:
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("client loop %s failed; restarting it", loop.__name__)
                await asyncio.sleep(1)

    @property
    def stopping(self) -> bool:
        return self._stopped

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # Everything this client started goes with it: `yurt up` leaves no orphans. The
        # scheduler is not told these allocations ended: a Nomad client that stops leaves
        # its tasks running, so to the cluster they still run, and the next start of this
        # client runs them again (unless the node was marked down meanwhile and the
        # scheduler replaced them). Their directories and logs stay.
        interrupted = [r for r in self.runners.values() if not r.finished.is_set()]
        await asyncio.gather(*(r.kill_now() for r in interrupted))
        for runner in interrupted:
            self.store.delete_alloc(runner.id)
        if self.conn is not None:
            finished = {a for a in self._dirty if a not in {r.id for r in interrupted}}
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._send_updates(finished), 2)
            await self.conn.close()
        if self._advertised is not None:
            await self._advertised.stop()
        if self.consul is not None:
            await self.consul.close()
        for driver in self.drivers.values():
            with contextlib.suppress(Exception):
                await driver.close()
        if self._http is not None:
            await self._http.cleanup()
            self._http = None

    # --- the node -----------------------------------------------------------------------

    async def _fingerprint_drivers(self) -> bool:
        changed = False
        for name, driver in self.drivers.items():
            health = await asyncio.to_thread(driver.fingerprint)
            old = self.driver_health.get(name)
            if old is None or (old.healthy, old.detected) != (health.healthy, health.detected):
                changed = True
            self.driver_health[name] = health
        if changed and self.env is not None:
            self.env.drivers = {
                n: self.drivers[n] for n, h in self.driver_health.items() if h.healthy
            }
        return changed

    def node_attributes(self) -> dict[str, str]:
        attrs = dict(self.attributes)
        attrs["nomad.advertise.address"] = self.config.address
        # Nomad's network fingerprint sets it: the address the node's allocations get.
        attrs["unique.network.ip-address"] = self.config.network_ip
        # Nomad's client { cpu_total_compute, memory_total_mb }: the operator's numbers win.
        if self.config.cpu_total_compute:
            attrs["cpu.totalcompute"] = str(self.config.cpu_total_compute)
        if self.config.memory_total_mb:
            attrs["memory.totalbytes"] = str(self.config.memory_total_mb * 1024 * 1024)
        for health in self.driver_health.values():
            if health.detected:
                attrs.update(health.attributes)
        return attrs

    def node_json(self) -> Obj:
        cfg = self.config
        attrs = self.node_attributes()
        now = rfc3339()
        mem_mb = int(attrs["memory.totalbytes"]) // (1024 * 1024)
        return {
            "ID": self.node_id,
            "SecretID": self.secret,
            "Name": cfg.node_name,
            "Datacenter": cfg.datacenter,
            "NodeClass": cfg.node_class,
            "NodePool": cfg.node_pool,
            "HTTPAddr": cfg.address,
            "TLSEnabled": cfg.tls.http,
            "Attributes": attrs,
            "Meta": dict(cfg.meta),
            "Drivers": {
                n: h.to_json(now)
                for n, h in self.driver_health.items()
                if h.detected or n == "raw_exec"
            },
            "NodeResources": {
                "Cpu": {
                    "CpuShares": int(attrs["cpu.totalcompute"]),
                    "TotalCpuCores": int(attrs["cpu.numcores"]),
                },
                "Memory": {"MemoryMB": mem_mb},
                "Disk": {"DiskMB": int(attrs["unique.storage.bytesfree"]) // (1024 * 1024)},
                "Networks": [
                    {
                        "Device": cfg.network_device
                        or ("lo" if cfg.network_ip.startswith("127.") else ""),
                        "IP": cfg.network_ip,
                        "CIDR": NodeNetwork(cfg.network_device, cfg.network_ip).cidr,
                        "Mode": "host",
                    }
                ],
                "MinDynamicPort": cfg.min_dynamic_port,
                "MaxDynamicPort": cfg.max_dynamic_port,
            },
            "ReservedResources": {
                "Cpu": {"CpuShares": 0},
                "Memory": {"MemoryMB": 0},
                "Networks": {"ReservedHostPorts": ""},
            },
            "HostNetworks": {},
            "Links": {},
        }

    async def _register(self) -> None:
        assert self.conn is not None
        delay = 0.1
        while True:
            try:
                self.ttl = await self.conn.register(self.node_json())
                self._last_heartbeat = time.monotonic()
                log.info("registered node %s with %s", self.node_id, self.conn.server)
                self._registered.set()
                self._reregister.clear()
                return
            except (Unreachable, ServerError) as exc:
                log.info("registration failed (%s); retrying", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _heartbeat_loop(self) -> None:
        assert self.conn is not None
        await self._register()
        while True:
            wait = max(self.ttl / 2, 0.1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reregister.wait(), wait)
            if self._reregister.is_set():
                self._registered.clear()
                await self._register()
                continue
            try:
                self.ttl = await self.conn.heartbeat()
                self._last_heartbeat = time.monotonic()
            except ServerError as exc:
                if exc.status == 404:
                    log.info("the scheduler does not know this node; registering again")
                    self._reregister.set()
                else:
                    log.warning("heartbeat refused: %s", exc)
            except Unreachable as exc:
                log.info("heartbeat failed: %s", exc)
                self.ttl = min(self.ttl, 2.0)

    async def _fingerprint_loop(self) -> None:
        while True:
            await asyncio.sleep(15)
            if await self._fingerprint_drivers():
                self._reregister.set()

    # --- allocations --------------------------------------------------------------------

    async def _watch_loop(self) -> None:
        assert self.conn is not None
        index = 0
        while True:
            await self._registered.wait()
            try:
                allocs, new_index = await self.conn.allocations(index, 30.0)
            except ServerError as exc:
                if exc.status == 404:
                    self._reregister.set()
                    self._registered.clear()
                    index = 0
                else:
                    log.warning("allocation watch refused: %s", exc)
                    await asyncio.sleep(1)
                continue
            except Unreachable as exc:
                log.info("allocation watch failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            # A scheduler that lost its state restarts its index: start over.
            index = 0 if new_index < index else new_index
            self._reconcile(allocs)

    def _reconcile(self, allocs: list[Obj]) -> None:
        assert self.env is not None
        listed = set()
        for alloc in allocs:
            alloc_id = str(alloc["ID"])
            listed.add(alloc_id)
            runner = self.runners.get(alloc_id)
            desired = alloc.get("DesiredStatus")
            if runner is None:
                if alloc_id in self._finished or alloc_id in self._collected:
                    continue
                if desired != "run":
                    if alloc.get("ClientStatus") not in _TERMINAL:
                        # Never ran here (or its state is gone): nothing to stop.
                        self._report_unknown(alloc)
                    continue
                if alloc.get("ClientStatus") in _TERMINAL:
                    continue
                try:
                    runner = AllocRunner(self.env, alloc)
                except ValueError as exc:
                    log.warning("%s", exc)
                    continue
                self.runners[alloc_id] = runner
                log.info("running allocation %s (%s)", alloc_id, alloc.get("Name"))
                runner.start()
                self._notify(alloc_id)
            elif desired != "run":
                if not runner.stopping:
                    log.info("stopping allocation %s (%s)", alloc_id, desired)
                    self._background(runner.stop())
            elif alloc.get("AllocModifyIndex") != runner.alloc.get("AllocModifyIndex") or (
                alloc.get("DeploymentID") != runner.alloc.get("DeploymentID")
            ):
                runner.update(alloc)
        if not self._orphans_checked:
            self._orphans_checked = True
            self._kill_orphans()
        self._collected &= listed
        for alloc_id in [a for a in self.runners if a not in listed]:
            runner = self.runners[alloc_id]
            if runner.finished.is_set():
                self._retire(alloc_id)
            elif not runner.stopping:
                # The scheduler forgot it (garbage collected, or lost its state).
                self._background(runner.stop("allocation no longer known to the server"))

    def _report_unknown(self, alloc: Obj) -> None:
        async def send() -> None:
            assert self.conn is not None
            with contextlib.suppress(Unreachable, ServerError):
                await self.conn.update_allocs(
                    [
                        {
                            "ID": alloc["ID"],
                            "ClientStatus": "complete",
                            "ClientDescription": "allocation was not running on this client",
                            "TaskStates": alloc.get("TaskStates") or {},
                        }
                    ]
                )

        self._background(send())

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    def collect_garbage(self, alloc_id: str | None) -> bool:
        """Nomad's client GC: destroy the directory of one finished allocation (False when
        `alloc_id` is not one), or of every finished one (None). A collected allocation the
        server still lists is not run again: its ID is kept until the server drops it."""
        finished = [
            rid
            for rid, r in [*self._finished.items(), *self.runners.items()]
            if r.finished.is_set() and (alloc_id is None or rid == alloc_id)
        ]
        if alloc_id is not None and not finished:
            return False
        for rid in finished:
            runner = self._finished.pop(rid, None) or self.runners.pop(rid)
            self._collected.add(rid)
            runner.destroy()
        return True

    def _retire(self, alloc_id: str) -> None:
        runner = self.runners.pop(alloc_id)
        self._finished[alloc_id] = runner
        while len(self._finished) > _KEEP_FINISHED:
            _, old = self._finished.popitem(last=False)
            old.destroy()

    def _recover(self) -> None:
        """Re-attach to the allocations of an earlier run of this client."""
        assert self.env is not None
        for saved in self.store.load_allocs():
            alloc = saved.get("Alloc") or {}
            try:
                runner = AllocRunner(self.env, alloc, saved)
            except (ValueError, KeyError) as exc:
                log.warning("cannot restore allocation: %s", exc)
                continue
            if all(t.state.state == "dead" for t in runner.tasks.values()):
                # Finished before the restart: kept for its logs, nothing to run or register.
                runner.finished.set()
                self._finished[runner.id] = runner
                self._notify(runner.id)  # the scheduler may not have heard the end
                continue
            self.runners[runner.id] = runner
            runner.start()
            self._notify(runner.id)

    def _kill_orphans(self) -> None:
        """After the first list from the server: task processes of allocations that neither
        this client's state nor the server has (the client died between spawning them and
        persisting the allocation) must not outlive it untracked. Those of allocations it
        runs are adopted by their drivers instead (`drivers.marker`)."""
        assert self.env is not None
        keep = {str(r.alloc_dir.root) for r in self.runners.values()}
        for orphan in marker.kill_orphans(self.env.data_dir / "alloc", keep):
            log.warning("killed orphaned task process %d (%s)", orphan.pid, orphan.value)

    def runner(self, alloc_id: str) -> AllocRunner | None:
        return self.runners.get(alloc_id) or self._finished.get(alloc_id)

    def find_runner(self, prefix: str) -> AllocRunner | None:
        found = self.runner(prefix)
        if found is not None:
            return found
        matches = [r for k, r in {**self._finished, **self.runners}.items() if k.startswith(prefix)]
        return matches[0] if len(matches) == 1 else None

    # --- reporting ----------------------------------------------------------------------

    def _notify(self, alloc_id: str) -> None:
        self._dirty.add(alloc_id)
        self._dirty_event.set()

    async def _update_loop(self) -> None:
        while True:
            await self._dirty_event.wait()
            await self._registered.wait()
            await asyncio.sleep(self.config.update_interval)  # batch, as Nomad's client does
            self._dirty_event.clear()
            dirty, self._dirty = self._dirty, set()
            try:
                await self._send_updates(dirty)
            except Unreachable as exc:
                log.info("allocation update failed (%s); retrying", exc)
                self._dirty |= dirty
                self._dirty_event.set()
                await asyncio.sleep(0.5)
            except ServerError as exc:
                if exc.status == 404:
                    self._dirty |= dirty
                    self._dirty_event.set()
                    self._reregister.set()
                    self._registered.clear()
                else:
                    log.warning("allocation update refused: %s", exc)

    async def _send_updates(self, alloc_ids: set[str]) -> None:
        assert self.conn is not None
        updates = [
            r.update_payload()
            for a in alloc_ids
            if a not in self._unknown and (r := self.runner(a)) is not None
        ]
        while updates:
            try:
                await self.conn.update_allocs(updates)
                return
            except ServerError as exc:
                # One allocation the server no longer has (it lost its state, or collected
                # it) must not hold back the others: drop it and send the rest.
                gone = _NOT_ON_NODE.match(exc.message)
                if exc.status != 400 or gone is None:
                    raise
                self._unknown.add(gone.group(1))
                updates = [u for u in updates if u["ID"] != gone.group(1)]

    # --- the catalog --------------------------------------------------------------------

    def _advertise(self, consul: ConsulClient) -> None:
        """Nomad's `consul { auto_advertise }`: the client as a service with an HTTP check,
        kept registered by the one self-registration loop."""
        cfg = self.config
        host, port = cfg.address.rsplit(":", 1)
        payload: dict[str, Any] = {
            "ID": f"_nomad-client-{self.node_id}",
            "Name": cfg.client_service_name,
            "Tags": ["http", *cfg.consul_tags],
            "Address": host,
            "Port": int(port),
            "Meta": {"external-source": "nomad"},
        }
        check = agent_http_check("Nomad Client HTTP Check", host, int(port), "client", cfg.tls)
        if check is not None:
            payload["Check"] = {"CheckID": f"_nomad-check-client-{self.node_id}", **check}
        self._advertised = ServiceRegistration(consul, payload)
        self._advertised.start()

    def uptime(self) -> float:
        return time.monotonic()

    def agent_stats(self) -> dict[str, str]:
        """`stats.client` of Nomad's `/v1/agent/self` for an agent that runs this client
        (`nomad node status -self` reads `node_id` from it)."""
        conn = self.conn
        since = time.monotonic() - self._last_heartbeat if self._last_heartbeat else 0.0
        return {
            "node_id": self.node_id,
            "last_heartbeat": format_go_duration(int(since * 1e9)),
            # host:port, as Nomad lists them (its RPC addresses; here the servers' HTTP)
            "known_servers": ",".join(s.split("://", 1)[-1] for s in conn.servers) if conn else "",
            "num_allocations": str(len(self.runners)),
            "heartbeat_ttl": format_go_duration(int(self.ttl * 1e9)),
        }
