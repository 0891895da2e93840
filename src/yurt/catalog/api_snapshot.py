"""`/v1/snapshot`: save (GET) and restore (PUT) the whole catalog state.

The state is yurt's own archive (`storage/archive.py`: gzip'ed JSON lines of every table,
ACLs included, and the index), not Consul's Raft snapshot format: a yurt snapshot restores
into any yurt catalog, of any storage backend, and not into Consul. It travels in Consul's
envelope (`snapshot_envelope.py`), which the real `consul snapshot save` checks; a bare
archive (what yurt sent before) is still restored. As Consul's, it needs a management
token (`acl:write`).

After a restore the agent's own side follows the new state, as Consul's anti-entropy makes
it: the node registers itself again, the checks of the local node run (and those gone stop)
and the sessions' TTLs are armed again.
"""

from __future__ import annotations

import time

from aiohttp import web

from yurt.api import routes
from yurt.api.errors import APIError
from yurt.catalog.acl_http import requires
from yurt.catalog.api_common import check_datacenter, consul_headers, server_of
from yurt.catalog.server import CatalogServer
from yurt.catalog.snapshot_envelope import EnvelopeError, SnapshotMeta, is_envelope, unwrap, wrap
from yurt.storage.archive import ArchiveError

# what the archive is: gzip'ed, as Consul's snapshots are
CONTENT_TYPE = "application/x-gzip"


@requires("acl", "write")
async def save(request: web.Request) -> web.Response:
    check_datacenter(request)
    server = server_of(request)
    index = server.store.index
    meta = SnapshotMeta(
        index=index,
        server_id=server.node_id,
        address=f"{server.config.advertise_addr}:{server.config.server_port}",
        millis=int(time.time() * 1000),
    )
    data = wrap(server.store.snapshot(), meta)
    headers = consul_headers(index)
    return web.Response(body=data, headers=headers, content_type=CONTENT_TYPE)


@requires("acl", "write")
async def restore(request: web.Request) -> web.Response:
    check_datacenter(request)
    server = server_of(request)
    data = await request.read()
    if not data:
        raise APIError(500, "failed to read snapshot: the request body is empty")
    try:
        if is_envelope(data):
            data = unwrap(data)
        server.store.restore(data)
    except EnvelopeError as exc:
        raise APIError(500, str(exc)) from None
    except ArchiveError as exc:
        raise APIError(500, f"failed to read snapshot: {exc}") from None
    follow_restore(server)
    return web.Response(status=200)


def follow_restore(server: CatalogServer) -> None:
    """The agent's runners and timers after the store's state was replaced."""
    store = server.store
    runners = server.runners
    for cid in runners.running():
        if (server.node_name, cid) not in store.checks:
            runners.stop(cid)
    server.session_timers.close()
    for session in list(store.sessions.values()):
        server.session_timers.arm(session)
    server._register_self()  # anti-entropy: the agent is always in its own catalog
    for check in server.local_checks():
        if check.definition.kind:
            runners.start(check)


# This resource's endpoints; `yurt.catalog.app` installs every table.
ROUTES = (
    routes.get("/v1/snapshot", save),
    routes.put("/v1/snapshot", restore),
)
