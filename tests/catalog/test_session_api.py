"""Sessions and KV locks, through py-consul and raw HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import consul
import pytest
import requests

from tests.catalog.conftest import CatalogProcess, wait_for


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogProcess]:
    """A catalog that accepts short session TTLs, so expiry is seen in a test."""
    proc = CatalogProcess(tmp_path_factory.mktemp("sessions"), "-session-ttl-min", "100ms")
    proc.start()
    try:
        yield proc
    finally:
        proc.proc.stop()


def test_create_info_list_destroy(c: consul.Consul) -> None:
    sid = c.session.create(name="web-lock", ttl=30)
    _, info = c.session.info(sid)
    assert info["Name"] == "web-lock"
    assert info["Node"] == "node1"
    assert info["TTL"] == "30s"
    assert info["Behavior"] == "release"
    assert info["LockDelay"] == 15 * 10**9
    assert info["NodeChecks"] == ["serfHealth"]
    _, listed = c.session.list()
    assert sid in {s["ID"] for s in listed}
    _, on_node = c.session.node("node1")
    assert sid in {s["ID"] for s in on_node}
    renewed = c.session.renew(sid)
    assert renewed["ID"] == sid
    assert c.session.destroy(sid) is True
    _, gone = c.session.info(sid)
    assert gone is None


def test_bad_sessions(catalog: CatalogProcess) -> None:
    r = catalog.put("/v1/session/create", json={"TTL": "1s"})
    assert r.status_code == 400
    assert "Invalid Session TTL" in r.text
    r = catalog.put("/v1/session/create", json={"Behavior": "explode"})
    assert r.status_code == 400
    r = catalog.put("/v1/session/create", json={"NodeChecks": ["no-such-check"]})
    assert (r.status_code, r.text) == (400, "Missing check 'no-such-check' registration")
    r = catalog.put("/v1/session/renew/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404


def test_acquire_release_lock(c: consul.Consul, catalog: CatalogProcess) -> None:
    a = c.session.create(lock_delay=0)
    b = c.session.create(lock_delay=0)
    assert c.kv.put("locks/leader", "a", acquire=a) is True
    assert c.kv.put("locks/leader", "b", acquire=b) is False
    _, entry = c.kv.get("locks/leader")
    assert (entry["Session"], entry["LockIndex"], entry["Value"]) == (a, 1, b"a")
    # the holder may write again without counting a new acquisition
    assert c.kv.put("locks/leader", "a2", acquire=a) is True
    assert c.kv.get("locks/leader")[1]["LockIndex"] == 1
    assert c.kv.put("locks/leader", "x", release=b) is False
    assert c.kv.put("locks/leader", "free", release=a) is True
    _, entry = c.kv.get("locks/leader")
    assert "Session" not in entry
    assert c.kv.put("locks/leader", "b", acquire=b) is True
    assert c.kv.get("locks/leader")[1]["LockIndex"] == 2
    r = catalog.put("/v1/kv/locks/other?acquire=not-a-session", data=b"x")
    assert r.status_code == 500
    assert "invalid session" in r.text
    c.session.destroy(a)
    c.session.destroy(b)
    _, entry = c.kv.get("locks/leader")
    assert "Session" not in entry  # released with the session


def test_lock_delay_after_invalidation(c: consul.Consul) -> None:
    a = c.session.create(lock_delay=1)
    assert c.kv.put("locks/delayed", "a", acquire=a)
    c.session.destroy(a)
    b = c.session.create(lock_delay=0)
    assert c.kv.put("locks/delayed", "b", acquire=b) is False
    time.sleep(1.1)
    assert c.kv.put("locks/delayed", "b", acquire=b) is True
    c.session.destroy(b)


def test_delete_behavior(c: consul.Consul) -> None:
    sid = c.session.create(behavior="delete", lock_delay=0)
    assert c.kv.put("locks/ephemeral", "x", acquire=sid)
    c.session.destroy(sid)
    _, gone = c.kv.get("locks/ephemeral")
    assert gone is None


def test_session_dies_with_its_check(c: consul.Consul, catalog: CatalogProcess) -> None:
    body = {"Name": "guarded", "Check": {"CheckID": "guard", "TTL": "60s", "Status": "passing"}}
    assert catalog.put("/v1/agent/service/register", json=body).status_code == 200
    r = catalog.put(
        "/v1/session/create",
        json={"NodeChecks": ["serfHealth"], "ServiceChecks": [{"ID": "guard"}], "LockDelay": 0},
    )
    sid = r.json()["ID"]
    assert c.kv.put("locks/guarded", "x", acquire=sid)
    c.agent.check.ttl_fail("guard")
    _, gone = c.session.info(sid)
    assert gone is None
    assert "Session" not in c.kv.get("locks/guarded")[1]


def test_ttl_expiry_and_renew(fast: CatalogProcess) -> None:
    r = fast.put("/v1/session/create", json={"TTL": "300ms", "LockDelay": "0s"})
    sid = r.json()["ID"]
    assert fast.put(f"/v1/kv/locks/ttl?acquire={sid}", data=b"x").json() is True
    # renewing keeps it alive past 2 x TTL
    for _ in range(5):
        time.sleep(0.2)
        assert fast.put(f"/v1/session/renew/{sid}").status_code == 200
    wait_for(lambda: fast.get(f"/v1/session/info/{sid}").json() == [], timeout=3, what="expiry")
    assert "Session" not in fast.get("/v1/kv/locks/ttl").json()[0]


def test_session_survives_restart(fast: CatalogProcess) -> None:
    sid = fast.put("/v1/session/create", json={"Name": "durable", "LockDelay": "0s"}).json()["ID"]
    assert fast.put(f"/v1/kv/locks/durable?acquire={sid}", data=b"x").json() is True
    fast.proc.kill()
    fast.start()
    assert fast.get(f"/v1/session/info/{sid}").json()[0]["Name"] == "durable"
    assert fast.get("/v1/kv/locks/durable").json()[0]["Session"] == sid


def test_session_list_blocks(fast: CatalogProcess) -> None:
    import threading

    index = fast.get("/v1/session/list").headers["X-Consul-Index"]
    out: dict[str, object] = {}

    def watch() -> None:
        out["r"] = fast.get(f"/v1/session/list?index={index}&wait=20s")

    t = threading.Thread(target=watch)
    t.start()
    time.sleep(0.2)
    fast.put("/v1/session/create", json={"Name": "wakes"})
    t.join(5)
    assert not t.is_alive()
    answer = out["r"]
    assert isinstance(answer, requests.Response)
    assert int(answer.headers["X-Consul-Index"]) > int(index)
    assert "wakes" in {s["Name"] for s in answer.json()}
