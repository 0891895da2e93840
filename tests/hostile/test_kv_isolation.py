"""A huge KV read does not stall the other roles (issue 15, "Isolation").

`yurt up -dev` runs every role on one event loop. `GET /v1/kv/<prefix>?recurse` over 200
values of Consul's 512 KB maximum (a 140 MB answer) used to encode the whole answer at once
and hold the loop for 0.8-1.7 s, and a transaction of 64 `get`s (45 MB) for 0.27 s; both
are now streamed an entry at a time. A probe times the
scheduler's port meanwhile. The issue's goal is 100 ms; the bound asserted is 250 ms, generous
so that a loaded test machine does not fail it, and still far below the stall it guards
against. The streamed bytes are the ones the unstreamed encoding gives, `?pretty` included,
and blocking reads and py-consul work on it unchanged.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import consul
import pytest
import requests

from tests.support.process import YurtProcess, free_port

KEYS = 200
VALUE_SIZE = 512 * 1024
BOUND_S = 0.250


@dataclass
class Up:
    catalog_port: int
    nomad_port: int
    values: dict[str, bytes]


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    tmp = tmp_path_factory.mktemp("kv-isolation")
    catalog_port, nomad_port = free_port(), free_port()
    config = tmp / "agent.hcl"
    config.write_text(
        f"ports {{ http = {nomad_port} }}\n"
        f'consul {{ address = "127.0.0.1:{catalog_port}" }}\n'
        f'router {{\n  proxy_addr = "127.0.0.1:{free_port()}"\n'
        f'  ui_addr = "127.0.0.1:{free_port()}"\n}}\n'
    )
    proc = YurtProcess(
        ["up", "-dev", "-data-dir", str(tmp / "data"), "-config", str(config)],
        ready_url=f"http://127.0.0.1:{nomad_port}/v1/agent/health",
        log_path=tmp / "up.log",
        timeout=60,
    )
    with proc:
        values = {f"big/{i:04d}": os.urandom(VALUE_SIZE) for i in range(KEYS)}
        with requests.Session() as s:
            for key, value in values.items():
                resp = s.put(f"http://127.0.0.1:{catalog_port}/v1/kv/{key}", data=value, timeout=30)
                assert resp.status_code == 200, resp.text
        yield Up(catalog_port, nomad_port, values)


class Probe:
    """GET /v1/agent/health on the scheduler's port every few ms, in a thread of its own."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self._stop.is_set():
            start = time.perf_counter()
            conn.request("GET", "/v1/agent/health")
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200
            self.latencies.append(time.perf_counter() - start)
            time.sleep(0.005)
        conn.close()

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)


def _read(
    port: int, path: str, method: str = "GET", body: object = None
) -> tuple[int, dict[str, str], bytes]:
    # http.client reads in C-sized pieces and lets the probe thread run between them.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(method, path, body=None if body is None else json.dumps(body).encode())
    resp = conn.getresponse()
    chunks = []
    while chunk := resp.read(1 << 20):
        chunks.append(chunk)
    conn.close()
    return resp.status, dict(resp.getheaders()), b"".join(chunks)


def test_a_huge_recursive_read_does_not_stall_another_port(up: Up) -> None:
    with Probe(up.nomad_port) as probe:
        time.sleep(0.2)
        status, headers, body = _read(up.catalog_port, "/v1/kv/big/?recurse")
        time.sleep(0.2)
    assert status == 200
    assert len(body) > KEYS * VALUE_SIZE  # the whole answer went through while probing
    assert len(probe.latencies) > 20
    worst = max(probe.latencies)
    assert worst < BOUND_S, f"the scheduler's port stalled {worst * 1000:.0f} ms"
    assert int(headers["X-Consul-Index"]) >= KEYS


def test_a_huge_transaction_read_does_not_stall_another_port(up: Up) -> None:
    # One `get-tree` reads the whole prefix; 64 `get`s read 32 MB.
    tree = [{"KV": {"Verb": "get-tree", "Key": "big/"}}]
    gets = [{"KV": {"Verb": "get", "Key": key}} for key in sorted(up.values)[:64]]
    for ops, expected in ((tree, KEYS), (gets, 64)):
        with Probe(up.nomad_port) as probe:
            time.sleep(0.2)
            status, _, body = _read(up.catalog_port, "/v1/txn", "PUT", ops)
            time.sleep(0.2)
        assert status == 200, body[:300]
        worst = max(probe.latencies)
        assert worst < BOUND_S, f"the scheduler's port stalled {worst * 1000:.0f} ms"
        answer = json.loads(body)
        assert body == json.dumps(answer).encode()
        assert answer["Errors"] is None and len(answer["Results"]) == expected
        first = answer["Results"][0]["KV"]
        assert base64.b64decode(first["Value"]) == up.values[first["Key"]]


def test_the_streamed_answer_is_the_unstreamed_encoding(up: Up) -> None:
    status, _, body = _read(up.catalog_port, "/v1/kv/big/?recurse")
    assert status == 200
    entries = json.loads(body)
    assert body == json.dumps(entries).encode()
    assert [e["Key"] for e in entries] == sorted(up.values)
    assert all(base64.b64decode(e["Value"]) == up.values[e["Key"]] for e in entries)
    # `?keys` wins over `?recurse`: names only, never streamed entries.
    status, _, keys = _read(up.catalog_port, "/v1/kv/big/?keys&recurse")
    assert status == 200 and json.loads(keys) == sorted(up.values)
    status, _, pretty = _read(up.catalog_port, "/v1/kv/big/?recurse&pretty")
    assert status == 200
    assert pretty == json.dumps(entries, indent=4).encode()


def test_blocking_recursive_reads_and_py_consul_still_work(up: Up) -> None:
    c = consul.Consul(host="127.0.0.1", port=up.catalog_port, connections_timeout=60)
    index, entries = c.kv.get("big/", recurse=True)
    assert entries is not None and len(entries) == KEYS
    assert entries[0]["Value"] == up.values["big/0000"]

    got: dict[str, object] = {}

    def blocked() -> None:
        got["answer"] = c.kv.get("big/", recurse=True, index=index, wait="20s")

    waiter = threading.Thread(target=blocked)
    start = time.monotonic()
    waiter.start()
    time.sleep(0.3)
    assert c.kv.put("big/zzzz", b"late")
    waiter.join(30)
    assert time.monotonic() - start < 15  # woken by the write, not by the wait running out
    new_index, after = got["answer"]  # type: ignore[misc]
    assert int(new_index) > int(index)
    assert [e["Key"] for e in after][-1] == "big/zzzz"
    assert after[-1]["Value"] == b"late"
    assert c.kv.delete("big/zzzz")
