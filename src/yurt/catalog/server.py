"""The catalog server: its store, its node's check runners and its HTTP API."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from yurt import CONSUL_VERSION
from yurt.api.blocking import WatchHub
from yurt.api.http import start_site
from yurt.catalog.acl_http import ACLResolver
from yurt.catalog.acl_setup import start_acl
from yurt.catalog.api_common import AnswerCache
from yurt.catalog.checks import CheckRunners
from yurt.catalog.config import CatalogConfig
from yurt.catalog.config_settings import SettingsError, load_settings
from yurt.catalog.config_settings import apply as apply_settings
from yurt.catalog.configdir import (
    CONFIG_SOURCE,
    ConfigDirError,
    load_acl_settings,
    load_services,
)
from yurt.catalog.definitions import ScriptsDisabled, ServiceDefinition, refuse_disabled_scripts
from yurt.catalog.model import (
    CRITICAL,
    NODE_MAINT_CHECK_ID,
    PASSING,
    SERF_CHECK_ID,
    SERVICE_MAINT_PREFIX,
    Check,
    CheckDefinition,
    Node,
    Service,
    Session,
)
from yurt.catalog.sessions import SessionTimers
from yurt.catalog.store import CatalogStore
from yurt.cluster.leader import Member

if TYPE_CHECKING:
    from yurt.cluster.client_agent import ClientAgent
    from yurt.cluster.role import ClusterRole

log = logging.getLogger(__name__)

CONSUL_SERVICE = "consul"
# Registered by Consul's leader, not by the local agent: absent from /v1/agent/* answers.
LEADER_MANAGED_SERVICES = frozenset({CONSUL_SERVICE})
LEADER_MANAGED_CHECKS = frozenset({SERF_CHECK_ID})

SERVICE_MAINT_DEFAULT = (
    "Maintenance mode is enabled for this service, but no reason was provided. "
    "This is a default message."
)
NODE_MAINT_DEFAULT = (
    "Maintenance mode is enabled for this node, but no reason was provided. "
    "This is a default message."
)


class CatalogServer:
    """A Consul agent in server mode, for one node and one datacenter."""

    name = "catalog"

    def __init__(self, config: CatalogConfig) -> None:
        from yurt.catalog.app import build_app

        self.config = config
        self.hub = WatchHub()
        self._store: CatalogStore | None = None
        self._answers: AnswerCache | None = None
        self._session_timers: SessionTimers | None = None
        self._runners: CheckRunners | None = None
        self._site: web.AppRunner | None = None
        self.node_id = ""
        self._acl: ACLResolver | None = None
        self.cluster: ClusterRole | None = None
        self._forwarding: aiohttp.ClientSession | None = None
        self._client_agent: ClientAgent | None = None
        self.app = build_app(self)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def store(self) -> CatalogStore:
        if self._store is None:
            raise RuntimeError("the catalog is not started")
        return self._store

    @property
    def acl(self) -> ACLResolver:
        if self._acl is None:
            raise RuntimeError("the catalog is not started")
        return self._acl

    @property
    def answers(self) -> AnswerCache:
        if self._answers is None:
            raise RuntimeError("the catalog is not started")
        return self._answers

    @property
    def runners(self) -> CheckRunners:
        if self._runners is None:
            raise RuntimeError("the catalog is not started")
        return self._runners

    @property
    def node_name(self) -> str:
        return self.config.node_name

    async def start(self) -> None:
        cfg = self.config
        definitions = load_services(cfg.config_dirs, cfg.node_name)
        # TLS and ports from the config files; a bad certificate stops the start here.
        try:
            apply_settings(load_settings(cfg.config_dirs), cfg)
        except SettingsError as exc:
            raise ConfigDirError(str(exc)) from None
        tls = cfg.tls.server_context() if cfg.https_port >= 0 else None
        if cfg.dev:
            db_path: Path | str = ":memory:"
            self.node_id = str(uuid.uuid4())
        else:
            cfg.data_dir.mkdir(parents=True, exist_ok=True)
            db_path = cfg.data_dir / "catalog.db"
            self.node_id = self._node_id(cfg.data_dir)
        store = self._store = CatalogStore(cfg.store.open("catalog", db_path), self.hub)
        # several servers on one etcd prefix follow each other from here on (before any
        # write of this one) and elect a leader once the HTTP port is bound
        self.cluster = self._cluster()
        self._answers = AnswerCache(lambda: store.generation)
        load_acl_settings(cfg.config_dirs, cfg.acl)
        self._acl = start_acl(cfg, store)
        self._runners = CheckRunners(self._store, cfg.node_name, self._deregister_from_runner)
        self._register_self_once()
        self._session_timers = SessionTimers(store)
        if self.cluster is None:
            self._lead()
        for check in list(self._store.checks.values()):
            if check.node == cfg.node_name and check.definition.kind:
                self._runners.start(check)
        self._sync_config_services(definitions)
        if self.cluster is not None:
            from yurt.cluster.forward import forward_middleware, reads_and

            # after the error middleware, before the handlers' ACL checks: the leader
            # checks the token. /v1/agent/ is this agent's own (its node's services and
            # checks), written from here as its check runners write.
            forward = forward_middleware(
                self.cluster, self._forward_session, reads_and("/v1/agent/")
            )
            self.app.middlewares.insert(1, forward)
        if cfg.servers:
            self._client_agent = self._client_mode()
            self.app.middlewares.insert(1, self._client_agent.middleware())
        self._site = await start_site(
            self.app,
            cfg.http_host,
            cfg.http_port,
            tls=tls,
            https_port=cfg.https_port if tls is not None else None,
            allowed_origins=cfg.allowed_origins,
            advertise=[cfg.advertise_addr],
            limits=cfg.http_limits,
        )
        # Port 0 binds a free port: record what each listener got (plain first, then TLS).
        bound = list(self._site.ports)
        if tls is not None and bound:
            cfg.https_port = bound.pop()
        if cfg.http_port == 0 and bound:
            cfg.http_port = bound[0]
        for scheme, port in (("http", cfg.http_port), ("https", cfg.https_port)):
            if port >= 0 and (scheme == "http" or tls is not None):
                log.info(
                    "catalog: node %s in %s, HTTP API on %s://%s:%s",
                    cfg.node_name,
                    cfg.datacenter,
                    scheme,
                    cfg.http_host,
                    port,
                )

        if self.cluster is not None:
            self.cluster.on_lead = self._lead
            self.cluster.on_step_down = self._step_down
            self.cluster.start(self._member())
        if self._client_agent is not None:
            self._client_agent.start()

    def _client_mode(self) -> ClientAgent:
        from yurt.cluster.anti_entropy import Node as AgentNode
        from yurt.cluster.client_agent import ClientAgent

        cfg = self.config
        host = "127.0.0.1" if cfg.http_host in ("", "0.0.0.0") else cfg.http_host
        return ClientAgent(
            AgentNode(cfg.node_name, cfg.advertise_addr, cfg.datacenter),
            cfg.servers,
            lambda: f"http://{host}:{cfg.http_port}",
            self._forward_session,
            token=cfg.acl.agent if cfg.acl.enabled else "",
        )

    def _cluster(self) -> ClusterRole | None:
        from yurt.storage.etcd import EtcdBackend

        backend = self.store.backend
        if not isinstance(backend, EtcdBackend):
            return None
        from yurt.cluster.role import ClusterRole

        return ClusterRole(backend, self.config.store, "catalog", self.store.apply_remote)

    def _member(self) -> Member:
        """This server as the others see it: its HTTP API (the first listener), and the
        server RPC address Consul's status endpoints show."""
        cfg = self.config
        scheme, port = ("http", cfg.http_port) if cfg.http_port >= 0 else ("https", cfg.https_port)
        host = cfg.advertise_addr
        if host == "127.0.0.1" and cfg.http_host not in ("", "0.0.0.0", "::"):
            # the default advertise address, but the API listens on one address: that one
            # (`yurt up` with `bind_addr`), as Consul's advertise defaults to its bind
            host = cfg.http_host
        return Member(cfg.node_name, f"{scheme}://{host}:{port}", f"{host}:{cfg.server_port}")

    def peers(self) -> list[Member]:
        """The servers sharing this one's store (itself alone on SQLite)."""
        return self.cluster.peers if self.cluster is not None else [self._member()]

    def leader(self) -> Member | None:
        """Who leads (None during an election)."""
        return self.cluster.leader if self.cluster is not None else self._member()

    def _lead(self) -> None:
        """The leader's work: the sessions' TTL timers (they write when they expire)."""
        timers = self.session_timers
        for session in list(self.store.sessions.values()):
            timers.arm(session)

    def _step_down(self) -> None:
        if self._session_timers is not None:
            self._session_timers.close()

    def _forward_session(self) -> aiohttp.ClientSession:
        """The session that forwards writes to the leader; under TLS it trusts the
        cluster's CA and presents this agent's certificate."""
        if self._forwarding is None or self._forwarding.closed:
            tls = self.config.tls
            ctx = tls.client_context() if self.config.https_port >= 0 else None
            connector = aiohttp.TCPConnector(ssl=ctx if ctx is not None else True)
            self._forwarding = aiohttp.ClientSession(connector=connector)
        return self._forwarding

    async def stop(self) -> None:
        # Parked blocking reads answer at once: the app closes the hub as its site shuts down.
        if self._client_agent is not None:
            await self._client_agent.stop()  # the node leaves the servers' catalog
            self._client_agent = None
        if self.cluster is not None:
            await asyncio.to_thread(self.cluster.stop)  # revokes its lease: hands over
            self.cluster = None
        if self._forwarding is not None:
            await self._forwarding.close()
        if self._site is not None:
            await self._site.cleanup()
            self._site = None
        if self._runners is not None:
            await self._runners.close()
            self._runners = None
        if self._session_timers is not None:
            self._session_timers.close()
            self._session_timers = None
        if self._store is not None:
            self._store.close()
            self._store = None
            self._answers = None

    @staticmethod
    def _node_id(data_dir: Path) -> str:
        path = data_dir / "node-id"
        if path.exists():
            text = path.read_text().strip()
            if text:
                return text
        node_id = str(uuid.uuid4())
        path.write_text(node_id)
        return node_id

    def _register_self_once(self) -> None:
        """`_register_self`, again when another server sharing the etcd prefix took the
        index at the same moment (the failed write reloaded memory: the next try is
        decided on the other's commit)."""
        if self.cluster is None:
            self._register_self()
            return
        from yurt.storage.etcd import IndexConflict

        for attempt in range(5):
            try:
                self._register_self()
                return
            except IndexConflict:
                if attempt == 4:
                    raise

    def _register_self(self) -> None:
        """The node, its serfHealth check and the `consul` service, as Consul's leader
        registers them."""
        cfg = self.config
        addr = cfg.advertise_addr
        self.store.upsert_node(
            Node(
                name=cfg.node_name,
                node_id=self.node_id,
                address=addr,
                datacenter=cfg.datacenter,
                tagged_addresses={"lan": addr, "lan_ipv4": addr, "wan": addr, "wan_ipv4": addr},
                meta={"consul-network-segment": ""},
            )
        )
        consul = Service(
            node=cfg.node_name,
            id=CONSUL_SERVICE,
            name=CONSUL_SERVICE,
            port=cfg.server_port,
            meta={
                "non_voter": "false",
                "raft_version": "3",
                "read_replica": "false",
                "serf_protocol_current": "2",
                "serf_protocol_max": "5",
                "serf_protocol_min": "1",
                "version": CONSUL_VERSION,
            },
        )
        serf = Check(
            node=cfg.node_name,
            check_id=SERF_CHECK_ID,
            name="Serf Health Status",
            status=PASSING,
            output="Agent alive and reachable",
            definition=CheckDefinition(),
        )
        self.store.register_service(consul, [])
        stored = self.store.register_check(serf)
        self.store.update_check(cfg.node_name, stored.check_id, PASSING, serf.output)

    # -- agent operations (the local node) ---------------------------------------------

    def local_services(self) -> list[Service]:
        return [
            s
            for (node, sid), s in self.store.services.items()
            if node == self.node_name and sid not in LEADER_MANAGED_SERVICES
        ]

    def local_checks(self) -> list[Check]:
        return [
            c
            for (node, cid), c in self.store.checks.items()
            if node == self.node_name and cid not in LEADER_MANAGED_CHECKS
        ]

    def register_service(
        self, definition: ServiceDefinition, *, replace_checks: bool = False
    ) -> None:
        before = {
            c.check_id
            for c in self.store.checks.values()
            if c.node == self.node_name and c.service_id == definition.service.id
        }
        stored = self.store.register_service(
            definition.service, definition.checks, replace_checks=replace_checks
        )
        for check in stored:
            self.runners.start(check)
        if replace_checks:
            for cid in before - {c.check_id for c in stored}:
                self.runners.stop(cid)

    def deregister_service(self, service_id: str) -> bool:
        svc = self.store.deregister_service(self.node_name, service_id)
        if svc is None:
            return False
        for cid in list(self.runners.running()):
            if (self.node_name, cid) not in self.store.checks:
                self.runners.stop(cid)
        return True

    def reload(self) -> list[str]:
        """Read the config directories again, as `consul reload` does: services defined in
        files are added or updated (with exactly the checks of their file), and those whose
        definition is gone are deregistered. Raises ConfigDirError, changing nothing, when a
        file is invalid. Returns the IDs of the services defined in files."""
        definitions = load_services(self.config.config_dirs, self.node_name)
        self._sync_config_services(definitions)
        return [d.service.id for d in definitions]

    def _sync_config_services(self, definitions: list[ServiceDefinition]) -> None:
        for definition in definitions:
            try:
                refuse_disabled_scripts(
                    definition.checks,
                    remote=False,
                    enable_script=self.config.enable_script_checks,
                    enable_local=self.config.enable_local_script_checks,
                )
            except ScriptsDisabled as exc:
                raise ConfigDirError(f"service {definition.service.id!r}: {exc}") from None
        wanted = {d.service.id for d in definitions}
        for svc in self.local_services():
            if svc.source == CONFIG_SOURCE and svc.id not in wanted:
                log.info("service %s: its definition left the config directory", svc.id)
                self.deregister_service(svc.id)
        for definition in definitions:
            self.register_service(definition, replace_checks=True)

    # -- sessions -----------------------------------------------------------------------------

    @property
    def session_timers(self) -> SessionTimers:
        if self._session_timers is None:
            raise RuntimeError("the catalog is not started")
        return self._session_timers

    def create_session(self, session: Session) -> Session:
        stored = self.store.session_create(session)
        self.session_timers.arm(stored)
        return stored

    def destroy_session(self, session_id: str) -> bool:
        self.session_timers.cancel(session_id)
        return self.store.session_destroy(session_id) is not None

    def renew_session(self, session_id: str) -> Session | None:
        session = self.store.sessions.get(session_id)
        if session is not None:
            self.session_timers.arm(session)
        return session

    def _deregister_from_runner(self, service_id: str) -> None:
        self.deregister_service(service_id)

    def register_check(self, check: Check) -> Check:
        stored = self.store.register_check(check)
        self.runners.start(stored)
        return stored

    def deregister_check(self, check_id: str) -> bool:
        self.runners.stop(check_id)
        return self.store.deregister_check(self.node_name, check_id) is not None

    def update_ttl(self, check_id: str, status: str, output: str) -> None:
        """Raises KeyError for an unknown check, ValueError for one that is not a TTL check."""
        check = self.store.checks.get((self.node_name, check_id))
        if check is None or check_id in LEADER_MANAGED_CHECKS:
            raise KeyError(check_id)
        if check.definition.kind != "ttl":
            raise ValueError(f'CheckID "{check_id}" does not have associated TTL')
        self.runners.update_ttl(check_id, status, output)

    def service_maintenance(self, service_id: str, enable: bool, reason: str) -> bool:
        svc = self.store.services.get((self.node_name, service_id))
        if svc is None:
            return False
        cid = SERVICE_MAINT_PREFIX + service_id
        if enable:
            self.store.register_check(
                Check(
                    node=self.node_name,
                    check_id=cid,
                    name="Service Maintenance Mode",
                    status=CRITICAL,
                    notes=reason or SERVICE_MAINT_DEFAULT,
                    service_id=svc.id,
                    service_name=svc.name,
                    service_tags=list(svc.tags),
                )
            )
        else:
            self.store.deregister_check(self.node_name, cid)
        return True

    def node_maintenance(self, enable: bool, reason: str) -> None:
        if enable:
            self.store.register_check(
                Check(
                    node=self.node_name,
                    check_id=NODE_MAINT_CHECK_ID,
                    name="Node Maintenance Mode",
                    status=CRITICAL,
                    notes=reason or NODE_MAINT_DEFAULT,
                )
            )
        else:
            self.store.deregister_check(self.node_name, NODE_MAINT_CHECK_ID)
