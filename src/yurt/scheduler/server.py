"""`SchedulerServer`: the Nomad server role as a yurt component."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from yurt.api.blocking import WatchHub
from yurt.api.durations import SECOND
from yurt.api.http import start_site
from yurt.cluster.leader import Member
from yurt.scheduler import model as m
from yurt.scheduler import plan_apply
from yurt.scheduler import store as s
from yurt.scheduler.acl_state import ACLState
from yurt.scheduler.broker import EvalBroker
from yurt.scheduler.config import SchedulerConfig
from yurt.scheduler.consul import ConsulRegistration
from yurt.scheduler.event_buffer import EventBuffer
from yurt.scheduler.gc import GarbageCollector, GCResult
from yurt.scheduler.heartbeat import Heartbeats
from yurt.scheduler.http_api import build_app
from yurt.scheduler.operations import Operations
from yurt.scheduler.reconcile import Scheduler

if TYPE_CHECKING:
    from yurt.cluster.role import ClusterRole
    from yurt.storage.interface import RemoteChange

log = logging.getLogger(__name__)


class SchedulerServer:
    name = "scheduler"

    def __init__(self, config: SchedulerConfig | None = None) -> None:
        self.config = config or SchedulerConfig()
        self.hub = WatchHub()
        backend = self.config.store.open("scheduler", Path(self.config.data_dir) / "scheduler.db")
        self.store = s.Store(backend, self.hub)
        # several servers on one etcd prefix: one leads (docs/cluster.md); None on SQLite
        self.cluster = self._cluster(backend)
        self.events = EventBuffer.attach(self.store)
        self.broker = EvalBroker()
        self.scheduler = Scheduler(self.store, algorithm=self._stored_algorithm())
        self.heartbeats = Heartbeats(
            self.config.heartbeat_ttl / SECOND,
            self.config.heartbeat_grace / SECOND,
            self._node_expired,
        )
        self.ops = Operations(
            self.store,
            self.broker,
            self.scheduler,
            heartbeat_ttl=self.config.heartbeat_ttl,
            on_node_alive=self.heartbeats.reset,
        )
        self.ops.makes_keys = self.cluster is None  # a cluster's leader makes them (`_lead`)
        self.gc = GarbageCollector(self.store, self.config.gc_thresholds)
        self.acl = ACLState(self.store, self.config.data_dir)
        self.server_id = self._server_id()
        # `stats.client` of /v1/agent/self when this agent also runs a client (`yurt up`)
        self.local_client: Callable[[], dict[str, str]] | None = None
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._leader_tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._consul: ConsulRegistration | None = None
        self._stopped = False
        self._unpaused = asyncio.Event()

    @property
    def rpc_addr(self) -> str:
        return f"{self.config.http_host}:{self.config.http_port + 1}"

    @property
    def address(self) -> str:
        return f"{self.config.tls.scheme}://{self.config.http_host}:{self.config.http_port}"

    def _cluster(self, backend: object) -> ClusterRole | None:
        from yurt.storage.etcd import EtcdBackend

        if not isinstance(backend, EtcdBackend):
            return None
        from yurt.cluster.role import ClusterRole

        return ClusterRole(backend, self.config.store, "scheduler", self._apply_remote)

    def _apply_remote(self, changes: list[RemoteChange]) -> None:
        """Another server's commit into memory. On the leader, a pending evaluation in it
        goes to the broker: the last commits of a leader that just died can reach the new
        leader's memory after it took over and restored the pending ones (Nomad's new
        leader waits on a Raft barrier for the same reason)."""
        self.store.apply_remote(changes)
        if not self._leader_tasks:
            return
        for change in changes:
            ev = self.store.evals.get(change.key) if change.table == s.EVAL else None
            if ev is not None and ev["Status"] == m.EVAL_PENDING:
                self.broker.enqueue(ev)

    def _member(self) -> Member:
        """This server as the others see it: its advertised HTTP address, and the RPC
        address Nomad's status endpoints show (the HTTP port plus one, as `rpc_addr`)."""
        adv_host, _, adv_port = self.config.advertise_http.rpartition(":")
        host = adv_host or self.config.http_host
        port = int(adv_port) if adv_host else self.config.http_port
        address = f"{self.config.tls.scheme}://{host}:{port}"
        return Member(self.config.node_name, address, f"{host}:{port + 1}")

    def peers(self) -> list[Member]:
        """The servers sharing this one's store (itself alone on SQLite), by address."""
        return self.cluster.peers if self.cluster is not None else [self._member()]

    def leader(self) -> Member | None:
        """Who leads (None during an election)."""
        return self.cluster.leader if self.cluster is not None else self._member()

    def _server_id(self) -> str:
        conf = self.store.tables[s.CONFIG].get("server-id")
        if conf is not None:
            return str(conf["ID"])
        ident = str(uuid.uuid4())
        conflicts: tuple[type[Exception], ...] = ()  # catches nothing without a cluster
        if self.cluster is not None:
            from yurt.storage.etcd import IndexConflict

            conflicts = (IndexConflict,)
        try:
            with self.store.write() as txn:
                txn.put(s.CONFIG, "server-id", {"ID": ident})
        except conflicts:
            # another server on the same etcd prefix started at the same moment: its ID
            stored = self.store.backend.get(s.CONFIG, "server-id")
            if stored is None:
                raise
            return str(stored["ID"])
        return ident

    def _stored_algorithm(self) -> str:
        conf = self.store.tables[s.CONFIG].get("scheduler")
        if conf is not None:
            return str(conf["SchedulerAlgorithm"])
        return self.config.scheduler_algorithm

    def scheduler_config(self) -> dict[str, Any]:
        conf = self.store.tables[s.CONFIG].get("scheduler") or {}
        return {
            "SchedulerAlgorithm": self.scheduler.algorithm,
            "PreemptionConfig": {
                "SystemSchedulerEnabled": True,
                "SysBatchSchedulerEnabled": False,
                "BatchSchedulerEnabled": False,
                "ServiceSchedulerEnabled": False,
            },
            "MemoryOversubscriptionEnabled": False,
            "RejectJobRegistration": False,
            "PauseEvalBroker": bool(conf.get("PauseEvalBroker", False)),
            "CreateIndex": conf.get("CreateIndex", 1),
            "ModifyIndex": conf.get("ModifyIndex", 1),
        }

    def set_scheduler_config(self, algorithm: str, pause_broker: bool) -> int:
        old = self.store.tables[s.CONFIG].get("scheduler") or {}
        with self.store.write() as txn:
            txn.put(
                s.CONFIG,
                "scheduler",
                {
                    "SchedulerAlgorithm": algorithm,
                    "PauseEvalBroker": pause_broker,
                    "CreateIndex": old.get("CreateIndex", txn.index),
                    "ModifyIndex": txn.index,
                },
            )
        self.scheduler.algorithm = algorithm
        self._apply_pause()
        return txn.index

    def _apply_pause(self) -> None:
        conf = self.store.tables[s.CONFIG].get("scheduler") or {}
        if conf.get("PauseEvalBroker"):
            self._unpaused.clear()
        else:
            self._unpaused.set()

    def http_session(self) -> aiohttp.ClientSession:
        """The session that forwards `/v1/client/*` to nodes. Under TLS it presents this
        server's certificate (a node may ask for one) and trusts the cluster's CA; a node's
        name is not checked, as Nomad's servers do not check the names of clients."""
        if self._session is None or self._session.closed:
            tls = self.config.tls
            ctx = replace(tls, verify_server_hostname=False).client_context() if tls.http else None
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=ctx if ctx is not None else True)
            )
        return self._session

    def _node_expired(self, node_id: str) -> None:
        try:
            self.ops.node_down(node_id)
        except Exception:
            log.exception("marking node %s down failed", node_id)

    async def start(self) -> None:
        self.app = build_app(self)
        if self.cluster is not None:
            from yurt.cluster.forward import forward_middleware, reads_and

            # after the error middleware, before ACLs: the leader checks the token
            local = reads_and("/v1/client/", "/v1/agent/")
            self.app.middlewares.insert(
                1, forward_middleware(self.cluster, self.http_session, local)
            )
        self._runner = await start_site(
            self.app,
            self.config.http_host,
            self.config.http_port,
            tls=self.config.tls.server_context() if self.config.tls.http else None,
            allowed_origins=self.config.allowed_origins,
            limits=self.config.http_limits,
        )
        if self.config.http_port == 0:
            self.config.http_port = self._runner.port
        if self.cluster is None:
            self._lead()
        else:
            self.cluster.on_lead = self._lead
            self.cluster.on_step_down = self._step_down
            self.cluster.start(self._member())
        if self.config.consul_addr:
            adv_host, _, adv_port = self.config.advertise_http.rpartition(":")
            self._consul = ConsulRegistration(
                self.config.consul_addr,
                self.config.server_service_name,
                adv_host or self.config.http_host,
                int(adv_port) if adv_host else self.config.http_port,
                consul_tls=self.config.consul_tls,
                http_tls=self.config.tls,
                tags=self.config.consul_tags,
                token=self.config.consul_token,
            )
            self._consul.start()
        log.info("scheduler serving Nomad's API on %s", self.address)

    def _lead(self) -> None:
        """Start the leader's work: after a restart or a failover, nodes get a fresh TTL
        (as Nomad's new leader gives them) and every pending evaluation goes back to the
        broker."""
        for node in self.store.nodes.values():
            if node.get("Status") == m.NODE_READY:
                self.heartbeats.reset(node["ID"])
        self.ops.restore()
        self._apply_pause()
        self._make_keyring()
        self._leader_tasks = [
            asyncio.create_task(self._worker(), name="scheduler-worker"),
            asyncio.create_task(self._periodic(), name="periodic-launcher"),
            asyncio.create_task(self._collect_garbage(), name="gc"),
        ]

    def _make_keyring(self) -> None:
        """The variables' root key, made (or imported) now as Nomad's new leader does, so
        that followers have it before anyone asks them."""
        from yurt.storage.etcd_client import EtcdError

        self.ops.makes_keys = True
        try:
            self.ops.keyring_at(self.config.data_dir)
        except EtcdError as exc:  # deposed at once: the next leader makes it
            log.warning("variables keyring: %s", exc)

    def _step_down(self) -> None:
        """Stop it at once: another server leads, and has the evaluations and timers."""
        self.ops.makes_keys = False
        for task in self._leader_tasks:
            task.cancel()
        self._tasks += self._leader_tasks  # awaited by `stop()`
        self._leader_tasks = []
        self.heartbeats.close()
        self.broker.clear()

    async def _worker(self) -> None:
        while True:
            # `PauseEvalBroker` in the scheduler configuration holds evaluations pending.
            await self._unpaused.wait()
            eval_id = await self.broker.dequeue()
            if not self._unpaused.is_set():
                self.broker.enqueue(
                    self.store.evals.get(eval_id) or {"ID": eval_id, "CreateIndex": 0}
                )
                continue
            try:
                self.ops.process_eval(eval_id)
            except Exception:
                log.exception("processing evaluation %s", eval_id)
            if not self.broker.stats()["TotalReady"]:
                plan_apply.LONG_LIVED.when_idle()
            # Let the HTTP server breathe between evaluations.
            await asyncio.sleep(0)

    async def _periodic(self) -> None:
        while True:
            now = datetime.now(UTC)
            try:
                self.ops.check_deployment_deadlines()
            except Exception:
                log.exception("checking deployment progress deadlines")
            due = self.ops.periodic_due(now)
            if not due:
                await asyncio.sleep(1.0)
                continue
            soonest = min(when for _, when in due)
            delay = (soonest - datetime.now(UTC)).total_seconds()
            await asyncio.sleep(max(min(delay, 1.0), 0.0))
            now = datetime.now(UTC)
            for job, when in due:
                if when <= now:
                    try:
                        self.ops.launch_periodic(job, when)
                    except Exception:
                        log.exception("launching periodic job %s", job["ID"])

    async def _collect_garbage(self) -> None:
        while True:
            await asyncio.sleep(self.config.gc_interval)
            self.collect_garbage(force=False)

    def collect_garbage(self, *, force: bool) -> GCResult:
        """One garbage collection (`force`: `nomad system gc`, every threshold at zero)."""
        try:
            result = self.gc.run(force=force)
        except Exception:
            log.exception("garbage collection")
            return GCResult()
        if result.total:
            log.info(
                "garbage collected %d jobs, %d evaluations, %d allocations, %d deployments, "
                "%d nodes",
                result.jobs,
                result.evals,
                result.allocs,
                result.deployments,
                result.nodes,
            )
        return result

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.store.hub.close()
        if self.cluster is not None:
            await asyncio.to_thread(self.cluster.stop)  # revokes its lease: hands over
        if self._consul is not None:
            await self._consul.stop()
        self._tasks += self._leader_tasks
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.heartbeats.close()
        self.broker.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
        self.store.close()
