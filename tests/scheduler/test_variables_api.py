"""Nomad's Variables API on an in-process scheduler: python-nomad as the client where it has
the call (read, create with `cas`, delete, list with prefix), raw HTTP for the rest (lock
operations, blocking reads, pagination, conflict bodies, texts and statuses), the items
sealed at rest, and ACLs per path with a task's workload identity."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nomad
import pytest
import requests
from nomad.api import exceptions as nomad_exc

from tests.scheduler.jobs import job
from yurt.scheduler import SchedulerConfig, SchedulerServer
from yurt.scheduler import store as s
from yurt.scheduler import workload_identity as wi
from yurt.scheduler.ops_variables import variable_key

Obj = dict[str, Any]


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[SchedulerServer]:
    server = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _url(server: SchedulerServer) -> str:
    return server.address


def _api(server: SchedulerServer, token: str | None = None) -> nomad.Nomad:
    host, _, port = server.address.removeprefix("http://").rpartition(":")
    return nomad.Nomad(host=host, port=int(port), token=token, timeout=15)


def call(method: str, server: SchedulerServer, path: str, token: str = "", **kw: Any) -> Any:
    """One raw request, off the event loop the server runs on."""
    headers = {"X-Nomad-Token": token} if token else {}
    return asyncio.to_thread(
        requests.request, method, _url(server) + path, headers=headers, timeout=15, **kw
    )


async def test_python_nomad_creates_reads_lists_and_deletes(srv: SchedulerServer) -> None:
    api = _api(srv)
    made = await asyncio.to_thread(
        api.variable.create_variable, "app/db", {"Items": {"user": "me", "pass": "pw"}}
    )
    assert made["Namespace"] == "default" and made["Path"] == "app/db"
    assert made["Items"] == {"user": "me", "pass": "pw"}
    assert made["CreateIndex"] == made["ModifyIndex"] > 0
    assert made["CreateTime"] == made["ModifyTime"] > 0
    got = await asyncio.to_thread(api.variable.get_variable, "app/db")
    assert got["Items"] == {"user": "me", "pass": "pw"}
    assert got["ModifyIndex"] == made["ModifyIndex"]
    await asyncio.to_thread(api.variable.create_variable, "app/cache", {"Items": {"a": "1"}})
    await asyncio.to_thread(api.variable.create_variable, "other/x", {"Items": {"a": "1"}})
    listed = await asyncio.to_thread(api.variables.get_variables, "app/")
    assert [x["Path"] for x in listed] == ["app/cache", "app/db"]
    assert all("Items" not in x for x in listed)
    await asyncio.to_thread(api.variable.delete_variable, "app/db")
    with pytest.raises(nomad_exc.URLNotFoundNomadException):
        await asyncio.to_thread(api.variable.get_variable, "app/db")


async def test_an_update_keeps_create_index_and_cas_conflicts_show_the_variable(
    srv: SchedulerServer,
) -> None:
    first = (await call("PUT", srv, "/v1/var/cfg?cas=0", json={"Items": {"v": "1"}})).json()
    again = await call("PUT", srv, "/v1/var/cfg?cas=0", json={"Items": {"v": "2"}})
    assert again.status_code == 409
    assert again.json()["Items"] == {"v": "1"}
    assert again.headers["X-Nomad-Index"] == str(first["ModifyIndex"])
    second = await call(
        "PUT", srv, f"/v1/var/cfg?cas={first['ModifyIndex']}", json={"Items": {"v": "2"}}
    )
    assert second.status_code == 200
    body = second.json()
    assert (
        body["CreateIndex"] == first["CreateIndex"] and body["ModifyIndex"] > first["ModifyIndex"]
    )
    assert second.headers["X-Nomad-Index"] == str(body["ModifyIndex"])
    stale = await call("DELETE", srv, f"/v1/var/cfg?cas={first['ModifyIndex']}")
    assert stale.status_code == 409 and stale.json()["Items"] == {"v": "2"}
    missing = await call("PUT", srv, "/v1/var/none?cas=7", json={"Items": {"v": "1"}})
    assert missing.status_code == 409
    assert missing.json() == {
        "Namespace": "default",
        "Path": "none",
        "CreateIndex": 0,
        "CreateTime": 0,
        "ModifyIndex": 0,
        "ModifyTime": 0,
        "Items": None,
    }
    gone = await call("DELETE", srv, f"/v1/var/cfg?cas={body['ModifyIndex']}")
    assert gone.status_code == 204 and gone.text == ""
    assert int(gone.headers["X-Nomad-Index"]) > body["ModifyIndex"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "text"),
    [
        ("PUT", "/v1/var/x", {}, 400, "variable missing required Items object"),
        ("PUT", "/v1/var/x", {"Items": {}}, 400, "variable missing required Items object"),
        ("PUT", "/v1/var/has.dot", {"Items": {"a": "b"}}, 400, 'invalid path "has.dot"'),
        ("PUT", "/v1/var/nomad", {"Items": {"a": "b"}}, 400, '"nomad" is a reserved'),
        ("PUT", "/v1/var/nomad/x", {"Items": {"a": "b"}}, 400, 'only paths at "nomad/jobs"'),
        ("PUT", "/v1/var/x?cas=abc", {"Items": {"a": "b"}}, 400, "can not parse cas"),
        ("GET", "/v1/var/", None, 400, "missing variable path"),
        ("GET", "/v1/var/absent", None, 404, "variable not found"),
        ("PUT", "/v1/var/x?lock-acquire&lock-release", {}, 400, "multiple lock operations"),
    ],
)
async def test_refusals_in_nomads_words(
    srv: SchedulerServer, method: str, path: str, body: Obj | None, status: int, text: str
) -> None:
    resp = await call(method, srv, path, json=body)
    assert resp.status_code == status
    assert resp.text.startswith(text)


async def test_items_are_sealed_at_rest(srv: SchedulerServer, tmp_path: Path) -> None:
    await call("PUT", srv, "/v1/var/sealed", json={"Items": {"password": "hunter2-secret"}})
    stored = srv.store.tables[s.VARIABLE][variable_key("default", "sealed")]
    assert "hunter2-secret" not in json.dumps(stored)
    with sqlite3.connect(tmp_path / "scheduler.db") as db:
        dump = "\n".join(db.iterdump())
    assert "hunter2-secret" not in dump and "sealed" in dump
    # the root key is in the store (every server of it shares it), not in the data dir
    assert stored["KeyID"] in srv.store.tables[s.KEYRING]
    assert not (tmp_path / "keyring").exists()


async def test_a_blocking_read_returns_when_the_variable_changes(srv: SchedulerServer) -> None:
    made = (await call("PUT", srv, "/v1/var/watched", json={"Items": {"v": "1"}})).json()
    index = made["ModifyIndex"]
    parked = call("GET", srv, f"/v1/var/watched?index={index}&wait=10s")
    waiter = asyncio.ensure_future(parked)
    await asyncio.sleep(0.3)
    assert not waiter.done()
    await call("PUT", srv, "/v1/var/watched", json={"Items": {"v": "2"}})
    resp = await asyncio.wait_for(waiter, 5)
    assert resp.json()["Items"] == {"v": "2"}
    assert int(resp.headers["X-Nomad-Index"]) > index
    listed = call("GET", srv, f"/v1/vars?index={resp.headers['X-Nomad-Index']}&wait=10s")
    list_waiter = asyncio.ensure_future(listed)
    await asyncio.sleep(0.3)
    assert not list_waiter.done()
    await call("DELETE", srv, "/v1/var/watched")
    assert (await asyncio.wait_for(list_waiter, 5)).json() == []


async def test_namespaces_and_pagination(srv: SchedulerServer) -> None:
    for ns, path in (("default", "a"), ("default", "b"), ("prod", "a"), ("prod", "c")):
        resp = await call("PUT", srv, f"/v1/var/{path}?namespace={ns}", json={"Items": {"k": ns}})
        assert resp.status_code == 200 and resp.json()["Namespace"] == ns
    in_prod = (await call("GET", srv, "/v1/vars?namespace=prod")).json()
    assert [(x["Namespace"], x["Path"]) for x in in_prod] == [("prod", "a"), ("prod", "c")]
    everywhere = await call("GET", srv, "/v1/vars?namespace=*&per_page=3")
    assert [(x["Namespace"], x["Path"]) for x in everywhere.json()] == [
        ("default", "a"),
        ("default", "b"),
        ("prod", "a"),
    ]
    token = everywhere.headers["X-Nomad-NextToken"]
    assert token == "prod.c"
    rest = await call("GET", srv, f"/v1/vars?namespace=*&per_page=3&next_token={token}")
    assert [x["Path"] for x in rest.json()] == ["c"] and "X-Nomad-NextToken" not in rest.headers
    read = (await call("GET", srv, "/v1/var/a?namespace=prod")).json()
    assert read["Items"] == {"k": "prod"}
    wild = await call("PUT", srv, "/v1/var/a?namespace=*", json={"Items": {"k": "v"}})
    assert wild.status_code == 400 and "wildcard" in wild.text


async def test_locks_acquire_renew_release(srv: SchedulerServer) -> None:
    acquired = await call(
        "PUT",
        srv,
        "/v1/var/leader?lock-acquire",
        json={"Items": {"holder": "a"}, "Lock": {"TTL": "15s", "LockDelay": "1m"}},
    )
    assert acquired.status_code == 200, acquired.text
    held = acquired.json()
    lock = held["Lock"]
    assert lock["TTL"] == "15s" and lock["LockDelay"] == "1m0s" and len(lock["ID"]) == 36
    assert held["Items"] == {"holder": "a"}
    # another acquire, or a plain write without the lock's ID: 409 with the variable
    other = await call("PUT", srv, "/v1/var/leader?lock-acquire", json={})
    assert other.status_code == 409 and other.json()["Items"] == {"holder": "a"}
    blind = await call("PUT", srv, "/v1/var/leader", json={"Items": {"holder": "b"}})
    assert blind.status_code == 409
    cannot_delete = await call("DELETE", srv, "/v1/var/leader")
    assert cannot_delete.status_code == 409
    # the holder may write, and keeps the lock
    mine = await call(
        "PUT", srv, "/v1/var/leader", json={"Items": {"holder": "a2"}, "Lock": {"ID": lock["ID"]}}
    )
    assert mine.status_code == 200 and mine.json()["Lock"]["ID"] == lock["ID"]
    renewed = await call("PUT", srv, "/v1/var/leader?lock-renew", json={"Lock": {"ID": lock["ID"]}})
    assert renewed.status_code == 200
    assert renewed.json()["Lock"]["ID"] == lock["ID"] and "Items" not in renewed.json()
    wrong = await call("PUT", srv, "/v1/var/leader?lock-renew", json={"Lock": {"ID": "nope"}})
    assert wrong.status_code == 409
    with_items = await call(
        "PUT",
        srv,
        "/v1/var/leader?lock-release",
        json={"Items": {"x": "y"}, "Lock": {"ID": lock["ID"]}},
    )
    assert with_items.status_code == 400
    assert with_items.text == "lock release operation doesn't take variable items"
    released = await call(
        "PUT", srv, "/v1/var/leader?lock-release", json={"Lock": {"ID": lock["ID"]}}
    )
    assert released.status_code == 200 and "Lock" not in released.json()
    read = (await call("GET", srv, "/v1/var/leader")).json()
    assert read["Items"] == {"holder": "a2"} and "Lock" not in read
    again = await call("PUT", srv, "/v1/var/leader?lock-release", json={"Lock": {"ID": lock["ID"]}})
    assert again.status_code == 409 and again.text == "variable doesn't hold a lock"
    absent = await call("PUT", srv, "/v1/var/ghost?lock-renew", json={"Lock": {"ID": "x"}})
    assert absent.status_code == 404 and absent.text == "variable doesn't exist"
    short = await call("PUT", srv, "/v1/var/l2?lock-acquire", json={"Lock": {"TTL": "1s"}})
    assert short.status_code == 400 and short.text == "TTL must be between 10 seconds and 24 hours"


async def test_a_lost_lock_blocks_for_its_delay_then_frees(srv: SchedulerServer) -> None:
    acquired = await call("PUT", srv, "/v1/var/lease?lock-acquire", json={"Items": {"a": "1"}})
    lock_id = acquired.json()["Lock"]["ID"]
    key = variable_key("default", "lease")
    now = srv.store.tables[s.VARIABLE][key]

    def age(by_ns: int) -> None:
        # Move the lock's expiry back instead of waiting out its TTL.
        current = srv.store.tables[s.VARIABLE][key]
        lock = {**current["Lock"], "Expires": current["Lock"]["Expires"] - by_ns}
        with srv.store.write() as txn:
            txn.put(s.VARIABLE, key, {**current, "Lock": lock})

    ttl = int(now["Lock"]["TTL"])
    age(ttl + 1_000_000_000)  # past its TTL: lost, within its delay
    renew = await call("PUT", srv, "/v1/var/lease?lock-renew", json={"Lock": {"ID": lock_id}})
    assert renew.status_code == 409
    taken = await call("PUT", srv, "/v1/var/lease?lock-acquire", json={})
    assert taken.status_code == 409
    age(int(now["Lock"]["LockDelay"]))  # past the delay too: free
    taken = await call("PUT", srv, "/v1/var/lease?lock-acquire", json={})
    assert taken.status_code == 200 and taken.json()["Lock"]["ID"] != lock_id
    assert (await call("GET", srv, "/v1/var/lease")).json()["Items"] == {"a": "1"}


# --- ACLs ------------------------------------------------------------------------------------


@pytest.fixture
async def acl_srv(tmp_path: Path) -> AsyncIterator[SchedulerServer]:
    server = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path, acl_enabled=True))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


POLICY = """
namespace "default" {
  variables {
    path "app/*" { capabilities = ["read"] }
    path "ops/*" { capabilities = ["write", "list"] }
  }
}
"""


async def test_acls_per_path(acl_srv: SchedulerServer) -> None:
    root = (await call("POST", acl_srv, "/v1/acl/bootstrap")).json()["SecretID"]
    pol = await call(
        "POST", acl_srv, "/v1/acl/policy/vars", root, json={"Name": "vars", "Rules": POLICY}
    )
    assert pol.status_code == 200, pol.text
    made = await call(
        "POST", acl_srv, "/v1/acl/token", root, json={"Type": "client", "Policies": ["vars"]}
    )
    token = made.json()["SecretID"]
    for path in ("app/db", "ops/deploy", "hidden/x"):
        resp = await call("PUT", acl_srv, f"/v1/var/{path}", root, json={"Items": {"k": path}})
        assert resp.status_code == 200
    assert (await call("GET", acl_srv, "/v1/var/app/db")).status_code == 403
    assert (await call("GET", acl_srv, "/v1/var/app/db", token)).json()["Items"] == {"k": "app/db"}
    assert (await call("GET", acl_srv, "/v1/var/hidden/x", token)).status_code == 403
    denied = await call("PUT", acl_srv, "/v1/var/app/db", token, json={"Items": {"k": "v"}})
    assert denied.status_code == 403 and denied.text == "Permission denied"
    wrote = await call("PUT", acl_srv, "/v1/var/ops/deploy", token, json={"Items": {"k": "v"}})
    assert wrote.status_code == 200
    # a conflict for a caller who may not read: metadata only
    conflict = await call(
        "PUT", acl_srv, "/v1/var/ops/deploy?cas=0", token, json={"Items": {"k": "w"}}
    )
    assert conflict.status_code == 409 and conflict.json()["Items"] is None
    assert (await call("DELETE", acl_srv, "/v1/var/ops/deploy", token)).status_code == 403
    listed = (await call("GET", acl_srv, "/v1/vars", token)).json()
    assert [x["Path"] for x in listed] == ["app/db", "ops/deploy"]
    assert (await call("GET", acl_srv, "/v1/vars")).json() == []


async def test_a_tasks_identity_reads_its_own_variables(acl_srv: SchedulerServer) -> None:
    root = (await call("POST", acl_srv, "/v1/acl/bootstrap")).json()["SecretID"]
    for path in ("nomad/jobs/web", "nomad/jobs/web/web/web", "nomad/jobs/api", "app/x"):
        resp = await call("PUT", acl_srv, f"/v1/var/{path}", root, json={"Items": {"k": path}})
        assert resp.status_code == 200
    alloc = {
        "ID": "11111111-2222-3333-4444-555555555555",
        "Namespace": "default",
        "JobID": "web",
        "TaskGroup": "web",
        "NodeID": "n1",
        "DesiredStatus": "run",
        "ClientStatus": "running",
        "Job": job("web"),
    }
    with acl_srv.store.write() as txn:
        txn.put(s.ALLOC, alloc["ID"], alloc)
    token = wi.issue(acl_srv.ops.keyring_at(acl_srv.config.data_dir), alloc["ID"], "web")
    own = await call("GET", acl_srv, "/v1/var/nomad/jobs/web/web/web", token)
    assert own.status_code == 200 and own.json()["Items"] == {"k": "nomad/jobs/web/web/web"}
    assert (await call("GET", acl_srv, "/v1/var/nomad/jobs/api", token)).status_code == 403
    assert (await call("GET", acl_srv, "/v1/var/app/x", token)).status_code == 403
    listed = (await call("GET", acl_srv, "/v1/vars?prefix=nomad/jobs", token)).json()
    assert [x["Path"] for x in listed] == ["nomad/jobs/web", "nomad/jobs/web/web/web"]
    write = await call("PUT", acl_srv, "/v1/var/nomad/jobs/web", token, json={"Items": {"a": "b"}})
    assert write.status_code == 403
    # one hex digit of the signature changed (a fixed "00" would be the real one 1 time in 256)
    forged = token[:-1] + ("1" if token.endswith("0") else "0")
    assert (await call("GET", acl_srv, "/v1/var/nomad/jobs/web", forged)).status_code == 403
