"""`yurt up` with `store { backend = "etcd" }`: the catalog's and the scheduler's state lives
in etcd, not in the data dir -- a restart on an empty data dir finds it, and a kill -9 in
the middle of writes loses none that was acknowledged."""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path

import requests

from tests.support.etcd import shared_endpoint
from tests.support.process import YurtProcess, free_port, wait_for
from yurt.storage.etcd import EtcdBackend

JOB = {
    "Job": {
        "ID": "sleeper",
        "Name": "sleeper",
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {
                "Name": "g",
                "Count": 1,
                "Tasks": [
                    {
                        "Name": "t",
                        "Driver": "raw_exec",
                        "Config": {"command": "/bin/sleep", "args": ["300"]},
                    }
                ],
            }
        ],
    }
}


class Up:
    """`yurt up` on etcd with its own ports; `start(data_dir)` runs it."""

    def __init__(self, tmp_path: Path, prefix: str) -> None:
        self.tmp = tmp_path
        self.nomad, self.consul = free_port(), free_port()
        self.config = tmp_path / "agent.hcl"
        self.config.write_text(
            f"ports {{ http = {self.nomad} }}\n"
            'plugin "raw_exec" {\n  config {\n    enabled = true\n  }\n}\n'
            f'consul {{ address = "127.0.0.1:{self.consul}" }}\n'
            f'router {{\n  proxy_addr = "127.0.0.1:{free_port()}"\n'
            f'  ui_addr = "127.0.0.1:{free_port()}"\n}}\n'
            f'store {{\n  backend = "etcd"\n  endpoints = ["{shared_endpoint()}"]\n'
            f'  prefix = "{prefix}"\n}}\n'
        )

    def process(self, data: Path) -> YurtProcess:
        return YurtProcess(
            ["up", "-data-dir", str(data), "-config", str(self.config)],
            ready_url=f"http://127.0.0.1:{self.nomad}/v1/status/leader",
            log_path=self.tmp / "up.log",
            timeout=60,
        )

    @property
    def kv(self) -> str:
        return f"http://127.0.0.1:{self.consul}/v1/kv"

    @property
    def nomad_url(self) -> str:
        return f"http://127.0.0.1:{self.nomad}/v1"


def test_the_state_lives_in_etcd_across_a_restart_on_an_empty_data_dir(tmp_path: Path) -> None:
    prefix = f"/t{tmp_path}"
    up = Up(tmp_path, prefix)
    with up.process(tmp_path / "first"):
        wait_for(lambda: _ok(f"{up.kv}/?keys"), timeout=30, what="the catalog")
        assert requests.put(f"{up.kv}/cluster/greeting", data=b"hello", timeout=10).json()
        resp = requests.post(f"{up.nomad_url}/jobs", json=JOB, timeout=10)
        assert resp.status_code == 200, resp.text
        wait_for(
            lambda: requests.get(f"{up.nomad_url}/job/sleeper/allocations", timeout=5).json(),
            timeout=30,
            what="the job's allocation",
        )
    # nothing of the state went to SQLite files
    assert not (tmp_path / "first" / "catalog" / "catalog.db").exists()
    assert not (tmp_path / "first" / "scheduler" / "scheduler.db").exists()
    # it is in etcd, under the prefix of each component
    catalog = EtcdBackend([shared_endpoint()], f"{prefix}/catalog")
    scheduler = EtcdBackend([shared_endpoint()], f"{prefix}/scheduler")
    try:
        assert catalog.get("kv", "cluster/greeting")["key"] == "cluster/greeting"
        assert scheduler.get("job", "default\0sleeper")["ID"] == "sleeper"
    finally:
        catalog.close()
        scheduler.close()

    with up.process(tmp_path / "second"):
        got = requests.get(f"{up.kv}/cluster/greeting?raw", timeout=10)
        assert got.status_code == 200 and got.content == b"hello"
        job = requests.get(f"{up.nomad_url}/job/sleeper", timeout=10)
        assert job.status_code == 200 and job.json()["ID"] == "sleeper"
        allocs = requests.get(f"{up.nomad_url}/job/sleeper/allocations", timeout=10).json()
        assert allocs  # the first run's placement is there too


def test_kill9_loses_no_acknowledged_kv_write(tmp_path: Path) -> None:
    prefix = f"/t{tmp_path}"
    up = Up(tmp_path, prefix)
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        session = requests.Session()
        i = 0
        while not stop.is_set():
            key = f"load/{i:05d}"
            try:
                resp = session.put(f"{up.kv}/{key}", data=key.encode(), timeout=5)
            except requests.RequestException:
                return  # the server is gone: this write was not acknowledged
            if resp.status_code == 200 and resp.json() is True:
                acknowledged.append(key)
            i += 1

    proc = up.process(tmp_path / "data").start()
    try:
        wait_for(lambda: _ok(f"{up.kv}/?keys"), timeout=30, what="the catalog")
        thread = threading.Thread(target=writer)
        thread.start()
        wait_for(lambda: len(acknowledged) >= 50, timeout=60, what="50 acknowledged writes")
        proc.kill()  # SIGKILL in the middle of the workload
        stop.set()
        thread.join(10)
    finally:
        proc.stop()
    catalog = EtcdBackend([shared_endpoint()], f"{prefix}/catalog")
    try:
        stored = {key: value for key, value in catalog.load("kv")}
    finally:
        catalog.close()
    assert len(acknowledged) >= 50
    missing = [key for key in acknowledged if key not in stored]
    assert missing == []
    assert all(base64.b64decode(stored[k]["value"]).decode() == k for k in acknowledged)


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code in (200, 404)
    except requests.RequestException:
        time.sleep(0.1)
        return False
