"""Three `yurt catalog` processes on one real etcd, each on its own loopback address
(127.0.0.1-3) with its own data dir: one leads, KV and catalog writes on a follower are
forwarded to it and read on every server (blocking queries included), CAS keeps its
meaning, and when the leader is killed (SIGKILL) another leads within 5 s and writes go
on."""

from __future__ import annotations

import threading
from pathlib import Path

import requests

from tests.support.etcd import shared_endpoint
from tests.support.process import YurtProcess, free_port, wait_for


class Catalogs:
    def __init__(self, tmp_path: Path) -> None:
        config = tmp_path / "agent.hcl"
        config.write_text(
            f'store {{\n  backend = "etcd"\n  endpoints = ["{shared_endpoint()}"]\n'
            f'  prefix = "/test{tmp_path}"\n}}\n'
        )
        self.hosts = [f"127.0.0.{i + 1}" for i in range(3)]
        self.ports = [free_port(host) for host in self.hosts]
        self.procs = [
            YurtProcess(
                [
                    "catalog",
                    "-http-addr",
                    f"{host}:{port}",
                    "-advertise",
                    host,
                    "-node",
                    f"server-{i}",
                    "-data-dir",
                    str(tmp_path / f"c{i}"),
                    "-config",
                    str(config),
                ],
                ready_url=f"http://{host}:{port}/v1/status/leader",
                log_path=tmp_path / f"c{i}.log",
            )
            for i, (host, port) in enumerate(zip(self.hosts, self.ports, strict=True))
        ]

    def url(self, i: int) -> str:
        return f"http://{self.hosts[i]}:{self.ports[i]}"

    def leader_seen_by(self, i: int) -> str:
        try:
            return str(requests.get(f"{self.url(i)}/v1/status/leader", timeout=2).json())
        except (requests.RequestException, ValueError):
            return "?"

    def kv(self, i: int, key: str) -> str | None:
        got = requests.get(f"{self.url(i)}/v1/kv/{key}?raw", timeout=5)
        return got.text if got.status_code == 200 else None


def test_three_catalogs_one_leader_and_a_failover(tmp_path: Path) -> None:
    cats = Catalogs(tmp_path)
    try:
        for proc in cats.procs:
            proc.start()
        for i in range(3):
            assert cats.leader_seen_by(i) == "127.0.0.1:8300"
            wait_for(
                lambda i=i: (
                    sorted(requests.get(f"{cats.url(i)}/v1/status/peers").json())
                    == ["127.0.0.1:8300", "127.0.0.2:8300", "127.0.0.3:8300"]
                ),
                5,
                f"catalog {i} to list the three servers",
            )
        # a blocking query on one follower wakes on a write made on the other
        first = requests.get(f"{cats.url(2)}/v1/kv/app/config")
        index = first.headers["X-Consul-Index"]
        woken: list[requests.Response] = []
        reader = threading.Thread(
            target=lambda: woken.append(
                requests.get(f"{cats.url(2)}/v1/kv/app/config?index={index}&wait=10s")
            )
        )
        reader.start()
        put = requests.put(
            f"{cats.url(1)}/v1/kv/app/config?flags=42",  # the query goes with the write
            data=b"v1",
            # the token goes with it; the follower's own origin (its UI) passes its guard
            # and is not shown to the leader's, which would refuse it
            headers={"X-Consul-Token": "anonymous", "Origin": cats.url(1)},
        )
        assert put.json() is True, put.text
        reader.join(15)
        assert woken and woken[0].status_code == 200
        assert int(woken[0].headers["X-Consul-Index"]) > int(index)
        for i in range(3):
            wait_for(lambda i=i: cats.kv(i, "app/config") == "v1", 5, f"the key on {i}")

        # CAS on a follower: decided by the leader, on the index every server shows
        entry = requests.get(f"{cats.url(2)}/v1/kv/app/config").json()[0]
        assert entry["Flags"] == 42
        modify = entry["ModifyIndex"]
        stale = requests.put(f"{cats.url(2)}/v1/kv/app/config?cas={modify - 1}", data=b"no")
        assert stale.json() is False
        fresh = requests.put(f"{cats.url(2)}/v1/kv/app/config?cas={modify}", data=b"v2")
        assert fresh.json() is True
        wait_for(lambda: cats.kv(0, "app/config") == "v2", 5, "the CAS write on the leader")

        # a catalog registration on a follower shows on every server
        reg = {"Node": "ext", "Address": "10.0.0.9", "Service": {"Service": "db", "Port": 5432}}
        assert requests.put(f"{cats.url(1)}/v1/catalog/register", json=reg).json() is True
        for i in range(3):
            wait_for(
                lambda i=i: "db" in requests.get(f"{cats.url(i)}/v1/catalog/services").json(),
                5,
                f"the service on {i}",
            )

        # the leader dies; a write on a follower waits for the next leader and succeeds
        cats.procs[0].kill()
        after = requests.put(f"{cats.url(2)}/v1/kv/after/failover", data=b"ok", timeout=30)
        assert after.status_code == 200 and after.json() is True, (after.status_code, after.text)
        new = wait_for(
            lambda: (
                cats.leader_seen_by(1) in ("127.0.0.2:8300", "127.0.0.3:8300")
                and cats.leader_seen_by(1)
            ),
            5,
            "a new leader within 5 s",
        )
        wait_for(lambda: cats.leader_seen_by(2) == new, 5, "both survivors agree")
        for i in (1, 2):
            wait_for(lambda i=i: cats.kv(i, "after/failover") == "ok", 5, f"the key on {i}")
            assert cats.kv(i, "app/config") == "v2"  # nothing acknowledged was lost
    finally:
        for proc in cats.procs:
            proc.stop()
