"""`/v1/txn`: KV transactions, all or nothing, through py-consul and raw HTTP."""

from __future__ import annotations

import base64

import consul
import pytest

from tests.catalog.conftest import CatalogProcess


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_txn_applies_all_under_one_index(c: consul.Consul) -> None:
    result = c.txn.put(
        [
            {"KV": {"Verb": "set", "Key": "txn/a", "Value": _b64("1")}},
            {"KV": {"Verb": "set", "Key": "txn/b", "Value": _b64("2"), "Flags": 7}},
            {"KV": {"Verb": "get", "Key": "txn/a"}},
        ]
    )
    assert result["Errors"] is None
    a, b, got = (r["KV"] for r in result["Results"])
    assert a["ModifyIndex"] == b["ModifyIndex"]
    assert a["Value"] is None and got["Value"] == _b64("1")
    assert b["Flags"] == 7
    _, entry = c.kv.get("txn/b")
    assert entry["Value"] == b"2"


def test_txn_failure_changes_nothing(c: consul.Consul, catalog: CatalogProcess) -> None:
    c.kv.put("txn/keep", "old")
    index = c.kv.get("txn/keep")[1]["ModifyIndex"]
    body = [
        {"KV": {"Verb": "set", "Key": "txn/keep", "Value": _b64("new")}},
        {"KV": {"Verb": "delete", "Key": "txn/a"}},
        {"KV": {"Verb": "check-index", "Key": "txn/keep", "Index": index + 100}},
        {"KV": {"Verb": "check-not-exists", "Key": "txn/b"}},
    ]
    r = catalog.put("/v1/txn", json=body)
    assert r.status_code == 409
    errors = r.json()["Errors"]
    assert [e["OpIndex"] for e in errors] == [2, 3]
    assert "modify index" in errors[0]["What"]
    assert c.kv.get("txn/keep")[1]["Value"] == b"old"
    assert c.kv.get("txn/a")[1] is not None
    # and the catalog goes on writing with the next index
    c.kv.put("txn/keep", "later")
    assert c.kv.get("txn/keep")[1]["ModifyIndex"] > index


def test_txn_cas_lock_tree(c: consul.Consul, catalog: CatalogProcess) -> None:
    sid = c.session.create(lock_delay=0)
    body = [
        {"KV": {"Verb": "cas", "Key": "txn/tree/x", "Value": _b64("x"), "Index": 0}},
        {"KV": {"Verb": "lock", "Key": "txn/tree/lock", "Value": _b64("me"), "Session": sid}},
        {"KV": {"Verb": "get-tree", "Key": "txn/tree/"}},
    ]
    result = catalog.put("/v1/txn", json=body).json()
    assert result["Errors"] is None
    tree = [r["KV"]["Key"] for r in result["Results"][2:]]
    assert tree == ["txn/tree/lock", "txn/tree/x"]
    assert result["Results"][1]["KV"]["Session"] == sid
    again = catalog.put("/v1/txn", json=body[:1])
    assert again.status_code == 409
    assert "index is stale" in again.json()["Errors"][0]["What"]
    done = catalog.put(
        "/v1/txn",
        json=[
            {"KV": {"Verb": "check-session", "Key": "txn/tree/lock", "Session": sid}},
            {"KV": {"Verb": "delete-tree", "Key": "txn/tree/"}},
        ],
    )
    assert done.status_code == 200
    assert c.kv.get("txn/tree/", recurse=True)[1] is None
    c.session.destroy(sid)


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"KV": {}}, 400, "array"),
        ([{"Node": {"Verb": "get"}}], 400, "only KV"),
        ([{"KV": {"Verb": "explode", "Key": "k"}}], 400, "unknown verb"),
        ([{"KV": {"Verb": "set", "Key": "k", "Value": "!!"}}], 400, "base64"),
        ([{"KV": {"Verb": "get", "Key": "k"}}] * 65, 413, "too many"),
    ],
)
def test_txn_bad_requests(
    catalog: CatalogProcess, body: object, status: int, fragment: str
) -> None:
    r = catalog.put("/v1/txn", json=body)
    assert r.status_code == status, r.text
    assert fragment in r.text
