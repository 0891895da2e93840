"""Consul's KV API through py-consul and raw HTTP."""

from __future__ import annotations

import base64

import consul

from tests.catalog.conftest import CatalogProcess


def test_put_get_delete(c: consul.Consul) -> None:
    assert c.kv.put("app/config", "v1") is True
    index, entry = c.kv.get("app/config")
    assert entry["Value"] == b"v1"
    assert entry["CreateIndex"] == entry["ModifyIndex"] == int(index)
    assert entry["LockIndex"] == 0 and entry["Flags"] == 0
    assert c.kv.put("app/config", "v2") is True
    _, again = c.kv.get("app/config")
    assert again["CreateIndex"] == entry["CreateIndex"]
    assert again["ModifyIndex"] > entry["ModifyIndex"]
    assert c.kv.delete("app/config") is True
    _, gone = c.kv.get("app/config")
    assert gone is None


def test_missing_key_is_404_with_index(catalog: CatalogProcess) -> None:
    r = catalog.get("/v1/kv/does/not/exist")
    assert r.status_code == 404
    assert int(r.headers["X-Consul-Index"]) >= 1
    assert r.headers["X-Consul-KnownLeader"] == "true"


def test_base64_value_and_raw(catalog: CatalogProcess) -> None:
    assert catalog.put("/v1/kv/fabio/noroute.html", data=b"<h1>none</h1>").json() is True
    body = catalog.get("/v1/kv/fabio/noroute.html").json()
    assert base64.b64decode(body[0]["Value"]) == b"<h1>none</h1>"
    raw = catalog.get("/v1/kv/fabio/noroute.html?raw")
    assert raw.content == b"<h1>none</h1>"


def test_recurse_keys_separator(c: consul.Consul) -> None:
    for key in ("tree/a", "tree/b/1", "tree/b/2", "tree/c/x/y"):
        c.kv.put(key, key)
    _, entries = c.kv.get("tree/", recurse=True)
    assert [e["Key"] for e in entries] == ["tree/a", "tree/b/1", "tree/b/2", "tree/c/x/y"]
    _, keys = c.kv.get("tree/", keys=True)
    assert keys == ["tree/a", "tree/b/1", "tree/b/2", "tree/c/x/y"]
    _, keys = c.kv.get("tree/", keys=True, separator="/")
    assert keys == ["tree/a", "tree/b/", "tree/c/"]
    assert c.kv.delete("tree/b", recurse=True) is True
    _, keys = c.kv.get("tree/", keys=True)
    assert keys == ["tree/a", "tree/c/x/y"]
    _, none = c.kv.get("nothing-here/", recurse=True)
    assert none is None


def test_cas(c: consul.Consul) -> None:
    assert c.kv.put("lock", "a", cas=0) is True
    assert c.kv.put("lock", "b", cas=0) is False
    _, entry = c.kv.get("lock")
    assert c.kv.put("lock", "c", cas=entry["ModifyIndex"] + 1000) is False
    assert c.kv.put("lock", "c", cas=entry["ModifyIndex"]) is True
    _, entry2 = c.kv.get("lock")
    assert entry2["Value"] == b"c"
    assert c.kv.delete("lock", cas=entry["ModifyIndex"]) is False
    assert c.kv.delete("lock", cas=entry2["ModifyIndex"]) is True
    # deleting what is already gone succeeds, CAS or not (as Consul answers)
    assert c.kv.delete("lock", cas=entry2["ModifyIndex"]) is True


def test_flags(c: consul.Consul) -> None:
    assert c.kv.put("flagged", "x", flags=42)
    _, entry = c.kv.get("flagged")
    assert entry["Flags"] == 42


def test_unchanged_put_keeps_index(catalog: CatalogProcess) -> None:
    catalog.put("/v1/kv/steady", data=b"same")
    first = catalog.get("/v1/kv/steady").json()[0]["ModifyIndex"]
    catalog.put("/v1/kv/steady", data=b"same")
    assert catalog.get("/v1/kv/steady").json()[0]["ModifyIndex"] == first


def test_oversized_value_rejected(catalog: CatalogProcess) -> None:
    r = catalog.put("/v1/kv/big", data=b"x" * (512 * 1024 + 1))
    assert r.status_code == 413
    assert "too large" in r.text
    assert catalog.get("/v1/kv/big").status_code == 404


def test_bad_query_values(catalog: CatalogProcess) -> None:
    r = catalog.put("/v1/kv/k?flags=abc", data=b"x")
    assert r.status_code == 400
    assert "flags" in r.text
    r = catalog.get("/v1/kv/k?index=x")
    assert r.status_code == 400
    r = catalog.get("/v1/kv/k?index=1&wait=forever")
    assert r.status_code == 400
