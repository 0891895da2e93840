"""Blocking queries: wake on the change they watch, not on others; Consul's index rules."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import consul

from tests.catalog.conftest import CatalogProcess


def _in_background(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        start = time.monotonic()
        out["result"] = fn()
        out["elapsed"] = time.monotonic() - start

    t = threading.Thread(target=run, daemon=True)
    t.start()
    time.sleep(0.2)  # let the request park on the server
    return t, out


def test_kv_blocking_wakes_on_write(c: consul.Consul) -> None:
    c.kv.put("watch/me", "1")
    index, _ = c.kv.get("watch/me")
    t, out = _in_background(lambda: c.kv.get("watch/me", index=index, wait="20s"))
    assert t.is_alive()
    c.kv.put("watch/me", "2")
    t.join(5)
    assert not t.is_alive()
    new_index, entry = out["result"]
    assert int(new_index) > int(index)
    assert entry["Value"] == b"2"


def test_kv_blocking_times_out_on_other_key(catalog: CatalogProcess, c: consul.Consul) -> None:
    c.kv.put("watch/quiet", "1")
    index, _ = c.kv.get("watch/quiet")
    t, out = _in_background(lambda: c.kv.get("watch/quiet", index=index, wait="1s"))
    c.kv.put("watch/other", "x")
    t.join(5)
    same_index, _ = out["result"]
    assert same_index == index
    assert out["elapsed"] >= 0.9


def test_health_blocking_wakes_on_status_change_only(catalog: CatalogProcess) -> None:
    catalog.put("/v1/agent/service/register", json={"Name": "bq", "Check": {"TTL": "60s"}})
    r = catalog.get("/v1/health/service/bq")
    index = r.headers["X-Consul-Index"]
    # output-only change: nobody wakes
    catalog.put("/v1/agent/check/fail/service:bq?note=still+down")

    def blocked(wait: str) -> Any:
        return catalog.get(f"/v1/health/service/bq?index={index}&wait={wait}")

    t, out = _in_background(lambda: blocked("1s"))
    catalog.put("/v1/agent/check/fail/service:bq?note=still+down+again")
    t.join(5)
    assert out["result"].headers["X-Consul-Index"] == index
    assert out["elapsed"] >= 0.9
    # the new output is shown (no stale cached answer), under the same index
    now = catalog.get("/v1/health/service/bq")
    assert now.headers["X-Consul-Index"] == index
    assert now.json()[0]["Checks"][-1]["Output"] == "still down again"
    # a status change wakes at once
    t, out = _in_background(lambda: blocked("20s"))
    catalog.put("/v1/agent/check/pass/service:bq")
    t.join(5)
    assert not t.is_alive()
    assert int(out["result"].headers["X-Consul-Index"]) > int(index)
    assert out["result"].json()[0]["Checks"][-1]["Status"] == "passing"


def test_router_paths_block(catalog: CatalogProcess) -> None:
    for path in ("/v1/health/state/any", "/v1/catalog/service/rsvc", "/v1/kv/fabio/config?recurse"):
        r = catalog.get(path)
        assert int(r.headers["X-Consul-Index"]) >= 1, path
    r = catalog.get("/v1/health/state/any")
    index = r.headers["X-Consul-Index"]
    t, out = _in_background(lambda: catalog.get(f"/v1/health/state/any?index={index}&wait=20s"))
    catalog.put("/v1/agent/service/register", json={"Name": "rsvc", "Check": {"TTL": "5m"}})
    t.join(5)
    assert not t.is_alive()
    assert "service:rsvc" in {c["CheckID"] for c in out["result"].json()}


def test_index_ahead_of_store_answers_at_once(catalog: CatalogProcess) -> None:
    r = catalog.get("/v1/catalog/services?index=999999999&wait=10s", timeout=5)
    assert r.status_code == 200
    assert int(r.headers["X-Consul-Index"]) < 999999999


def test_wait_as_go_duration(catalog: CatalogProcess) -> None:
    index = catalog.get("/v1/catalog/nodes").headers["X-Consul-Index"]
    start = time.monotonic()
    r = catalog.get(f"/v1/catalog/nodes?index={index}&wait=300ms")
    assert r.status_code == 200
    assert 0.25 <= time.monotonic() - start < 3


def test_agent_service_hash_blocking(catalog: CatalogProcess) -> None:
    catalog.put("/v1/agent/service/register", json={"Name": "hashed", "Port": 1})
    first = catalog.get("/v1/agent/service/hashed")
    digest = first.headers["X-Consul-ContentHash"]
    assert first.json()["ContentHash"] == digest
    # unchanged: waits out ?wait=
    start = time.monotonic()
    same = catalog.get(f"/v1/agent/service/hashed?hash={digest}&wait=300ms")
    assert same.headers["X-Consul-ContentHash"] == digest
    assert time.monotonic() - start >= 0.25
    # a change answers at once with the new hash
    t, out = _in_background(lambda: catalog.get(f"/v1/agent/service/hashed?hash={digest}&wait=20s"))
    catalog.put("/v1/agent/service/register", json={"Name": "hashed", "Port": 2})
    t.join(5)
    assert not t.is_alive()
    assert out["result"].json()["Port"] == 2
    assert out["result"].headers["X-Consul-ContentHash"] != digest
