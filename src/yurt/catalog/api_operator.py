"""`/v1/operator/*`: Raft, Autopilot, the gossip keyring and usage, answered as a Consul
datacenter of one server answers them.

yurt's catalog is its own leader and only voter, so the Raft configuration names it alone,
removing a peer finds nobody else, and a leadership transfer has nobody to go to. The
keyring has no gossip to protect but keeps Consul's rules (one primary key, install before
use, the primary cannot be removed) so that `consul keyring` and scripts behave as with
Consul. The Autopilot configuration is kept in memory, with Consul's defaults and `?cas=`.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from yurt import CONSUL_VERSION
from yurt.api import routes
from yurt.api.autopilot import cas_of, server_health
from yurt.api.casing import get_field
from yurt.api.errors import APIError
from yurt.api.http import expect_object, read_json
from yurt.catalog.acl_http import requires
from yurt.catalog.api_common import answer, check_datacenter, server_of
from yurt.catalog.server import CONSUL_SERVICE

# -- the keyring ---------------------------------------------------------------------------


class KeyringError(ValueError):
    """A keyring operation memberlist refuses; the text is memberlist's."""


def _validate_key(key: str) -> None:
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyringError(f"Invalid key: {exc}") from None
    if len(raw) not in (16, 24, 32):
        raise KeyringError("key size must be 16, 24 or 32 bytes")


@dataclass
class Keyring:
    """Gossip encryption keys, the first one primary (memberlist's Keyring)."""

    keys: list[str] = field(default_factory=list)

    @classmethod
    def generated(cls) -> Keyring:
        return cls([base64.b64encode(os.urandom(32)).decode()])

    def install(self, key: str) -> None:
        _validate_key(key)
        if key not in self.keys:
            self.keys.append(key)

    def use(self, key: str) -> None:
        _validate_key(key)
        if key not in self.keys:
            raise KeyringError("Requested key is not in the keyring")
        self.keys.remove(key)
        self.keys.insert(0, key)

    def remove(self, key: str) -> None:
        _validate_key(key)
        if self.keys and key == self.keys[0]:
            raise KeyringError("Removing the primary key is not allowed")
        if key in self.keys:
            self.keys.remove(key)


def keyring_failure(node: str, dc: str, message: str) -> str:
    """Consul's answer when every node (here: the one) refused: a multierror over the WAN
    pool and the datacenter's LAN pool."""
    lines = [
        "WAN error: 1/1 nodes reported failure",
        f"{node}.{dc}: {message}",
        f"{dc} (LAN) error: 1/1 nodes reported failure",
        f"{node}: {message}",
    ]
    return f"{len(lines)} errors occurred:\n" + "".join(f"\t* {line}\n" for line in lines) + "\n"


# -- Autopilot ---------------------------------------------------------------------------------

AUTOPILOT_DEFAULTS: dict[str, Any] = {
    "CleanupDeadServers": True,
    "LastContactThreshold": "200ms",
    "MaxTrailingLogs": 250,
    "MinQuorum": 0,
    "ServerStabilizationTime": "10s",
    "RedundancyZoneTag": "",
    "DisableUpgradeMigration": False,
    "UpgradeVersionTag": "",
}
_AUTOPILOT_TYPES: dict[str, type] = {k: type(v) for k, v in AUTOPILOT_DEFAULTS.items()}


@dataclass
class OperatorState:
    """What the operator endpoints keep in memory for the life of the process."""

    keyring: Keyring = field(default_factory=Keyring.generated)
    autopilot: dict[str, Any] = field(default_factory=lambda: dict(AUTOPILOT_DEFAULTS))
    autopilot_index: int = 1
    started: float = field(default_factory=time.time)


OPERATOR_KEY: web.AppKey[OperatorState] = web.AppKey("yurt.catalog.operator", OperatorState)


def _state(request: web.Request) -> OperatorState:
    return request.app[OPERATOR_KEY]


def _server_address(request: web.Request) -> str:
    cfg = server_of(request).config
    return f"{cfg.advertise_addr}:{cfg.server_port}"


# -- Raft --------------------------------------------------------------------------------------


@requires("operator", "read")
async def raft_configuration(request: web.Request) -> web.Response:
    check_datacenter(request)
    server = server_of(request)
    leader = server.leader()
    servers = []
    for peer in server.peers():
        # several servers on etcd: each one's node ID from the node it registered
        node = server.store.nodes.get(peer.name)
        servers.append(
            {
                "ID": node.node_id if node is not None else server.node_id,
                "Node": peer.name,
                "Address": peer.rpc,
                "Leader": peer == leader,
                "ProtocolVersion": "3",
                "Voter": True,
            }
        )
    data = {
        "Servers": servers,
        # the index of the log entry holding the configuration: the bootstrap one
        "Index": 0,
    }
    return answer(request, data)


@requires("operator", "write")
async def raft_remove_peer(request: web.Request) -> web.Response:
    check_datacenter(request)
    server = server_of(request)
    peer_id = request.query.get("id", "")
    address = request.query.get("address", "")
    if not peer_id and not address:
        raise APIError.bad_request(
            "Bad request: Must specify either ?id with the server's ID or ?address with "
            "IP:port of peer to remove"
        )
    if peer_id:
        if peer_id != server.node_id:
            raise APIError(500, f'id "{peer_id}" was not found in the Raft configuration')
    elif address != _server_address(request):
        raise APIError(500, f'address "{address}" was not found in the Raft configuration')
    # the one server removing itself would leave the datacenter without a leader
    raise APIError(
        500, f'cannot remove "{server.node_name}": it is the only server of the datacenter'
    )


@requires("operator", "write")
async def raft_transfer_leader(request: web.Request) -> web.Response:
    check_datacenter(request)
    # hashicorp/raft's answer when no other voter exists to hand leadership to
    raise APIError(500, "cannot find peer")


# -- Autopilot -------------------------------------------------------------------------------


@requires("operator", "read")
async def autopilot_get(request: web.Request) -> web.Response:
    check_datacenter(request)
    state = _state(request)
    data = {
        **state.autopilot,
        "CreateIndex": 1,
        "ModifyIndex": state.autopilot_index,
    }
    return answer(request, data)


@requires("operator", "write")
async def autopilot_put(request: web.Request) -> web.Response:
    check_datacenter(request)
    state = _state(request)
    body = expect_object(await read_json(request), "request body")
    new = dict(AUTOPILOT_DEFAULTS)
    for key, kind in _AUTOPILOT_TYPES.items():
        value = get_field(body, key)
        if value is None:
            continue
        if kind is int and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise APIError.bad_request(f"Error parsing autopilot config: {key}: expected a number")
        if kind is not int and not isinstance(value, kind):
            raise APIError.bad_request(
                f"Error parsing autopilot config: {key}: expected {kind.__name__}"
            )
        new[key] = int(value) if kind is int else value
    cas = cas_of(request.query)
    if cas is not None and cas != state.autopilot_index:
        return answer(request, False)
    state.autopilot = new
    state.autopilot_index = max(state.autopilot_index, server_of(request).store.index) + 1
    return answer(request, True)


def _server_health(request: web.Request) -> dict[str, Any]:
    server = server_of(request)
    return server_health(
        server_id=server.node_id,
        name=server.node_name,
        address=_server_address(request),
        version=CONSUL_VERSION,
        last_index=server.store.index,
        since=_rfc3339(_state(request).started),
    )


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@requires("operator", "read")
async def autopilot_health(request: web.Request) -> web.Response:
    check_datacenter(request)
    data = {"Healthy": True, "FailureTolerance": 0, "Servers": [_server_health(request)]}
    return answer(request, data)


@requires("operator", "read")
async def autopilot_state(request: web.Request) -> web.Response:
    check_datacenter(request)
    server = server_of(request)
    one = _server_health(request)
    entry = {
        "ID": one["ID"],
        "Name": one["Name"],
        "Address": one["Address"],
        "NodeStatus": "alive",
        "Version": CONSUL_VERSION,
        "LastContact": "0s",
        "LastTerm": 1,
        "LastIndex": one["LastIndex"],
        "Healthy": True,
        "StableSince": one["StableSince"],
        "ReadReplica": False,
        "Status": "leader",
        "Meta": {"consul-network-segment": ""},
        "NodeType": "voter",
    }
    data = {
        "Healthy": True,
        "FailureTolerance": 0,
        "OptimisticFailureTolerance": 0,
        "Servers": {server.node_id: entry},
        "Leader": server.node_id,
        "Voters": [server.node_id],
    }
    return answer(request, data)


# -- keyring ---------------------------------------------------------------------------------


@requires("keyring", "read")
async def keyring_list(request: web.Request) -> web.Response:
    server = server_of(request)
    keys = _state(request).keyring.keys
    dc = server.config.datacenter

    def pool(wan: bool) -> dict[str, Any]:
        return {
            "WAN": wan,
            "Datacenter": dc,
            "Segment": "",
            "Keys": {k: 1 for k in keys},
            "PrimaryKeys": {keys[0]: 1} if keys else {},
            "NumNodes": 1,
        }

    return answer(request, [pool(True), pool(False)])


async def _keyring_change(request: web.Request, op: str) -> web.Response:
    server = server_of(request)
    body = expect_object(await read_json(request), "request body")
    key = get_field(body, "Key", "")
    if not isinstance(key, str):
        raise APIError.bad_request("Request decode failed: Key: expected a string")
    ring = _state(request).keyring
    try:
        getattr(ring, op)(key)
    except KeyringError as exc:
        text = keyring_failure(server.node_name, server.config.datacenter, str(exc))
        return web.Response(status=500, text=text)
    return web.Response(status=200)


@requires("keyring", "write")
async def keyring_install(request: web.Request) -> web.Response:
    return await _keyring_change(request, "install")


@requires("keyring", "write")
async def keyring_use(request: web.Request) -> web.Response:
    return await _keyring_change(request, "use")


@requires("keyring", "write")
async def keyring_remove(request: web.Request) -> web.Response:
    return await _keyring_change(request, "remove")


# -- usage -----------------------------------------------------------------------------------

_CONNECT_KINDS = (
    "api-gateway",
    "connect-native",
    "connect-proxy",
    "ingress-gateway",
    "mesh-gateway",
    "terminating-gateway",
)


@requires("operator", "read")
async def usage(request: web.Request) -> web.Response:
    check_datacenter(request)
    server = server_of(request)
    store = server.store
    instances = list(store.services.values())
    connect = dict.fromkeys(_CONNECT_KINDS, 0)
    for svc in instances:
        kind = svc.kind
        if kind in connect:
            connect[kind] += 1
    data = {
        "Usage": {
            server.config.datacenter: {
                "Services": len(store.service_names()),
                "ServiceInstances": len(instances),
                "ConnectServiceInstances": connect,
                # Consul bills neither its own service nor the mesh's proxies and gateways
                "BillableServiceInstances": sum(
                    1 for s in instances if s.name != CONSUL_SERVICE and not s.kind
                ),
                "Nodes": len(store.nodes),
            }
        }
    }
    return answer(request, data, index=store.index)


# This resource's endpoints; `yurt.catalog.app` installs every table.
ROUTES = (
    routes.get("/v1/operator/raft/configuration", raft_configuration),
    routes.delete("/v1/operator/raft/peer", raft_remove_peer),
    routes.post("/v1/operator/raft/transfer-leader", raft_transfer_leader),
    routes.get("/v1/operator/autopilot/configuration", autopilot_get),
    routes.put("/v1/operator/autopilot/configuration", autopilot_put),
    routes.get("/v1/operator/autopilot/health", autopilot_health),
    routes.get("/v1/operator/autopilot/state", autopilot_state),
    routes.get("/v1/operator/keyring", keyring_list),
    routes.post("/v1/operator/keyring", keyring_install),
    routes.put("/v1/operator/keyring", keyring_use),
    routes.delete("/v1/operator/keyring", keyring_remove),
    routes.get("/v1/operator/usage", usage),
)
