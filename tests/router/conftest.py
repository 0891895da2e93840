"""The router's live tests run against a real `yurt catalog` process, changed through Consul's
HTTP API with the real `py-consul` client, exactly as a job's services would be."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import consul as pyconsul
import pytest

from tests.support.process import YurtProcess, free_port


class Catalog:
    """A running catalog and a py-consul client on it, with the changes the tests make."""

    def __init__(self, addr: str) -> None:
        self.addr = addr
        host, port = addr.rsplit(":", 1)
        self.client = pyconsul.Consul(host=host, port=int(port))

    def register(
        self, sid: str, name: str, port: int, tags: list[str], *, status: str | None = "passing"
    ) -> None:
        """An instance on 127.0.0.1 with one TTL check `service:<sid>` in `status`
        (None: an instance without checks)."""
        check = pyconsul.Check.ttl("10m") if status is not None else None
        self.client.agent.service.register(
            name, service_id=sid, address="127.0.0.1", port=port, tags=tags, check=check
        )
        if status is not None:
            self.set_check(f"service:{sid}", status)

    def set_check(self, check_id: str, status: str) -> None:
        update = {
            "passing": self.client.agent.check.ttl_pass,
            "warning": self.client.agent.check.ttl_warn,
            "critical": self.client.agent.check.ttl_fail,
        }[status]
        update(check_id)

    def service_maintenance(self, sid: str, enable: bool) -> None:
        self.client.agent.service.maintenance(sid, enable)

    def node_maintenance(self, enable: bool) -> None:
        self.client.agent.maintenance(enable)

    def deregister(self, sid: str) -> None:
        self.client.agent.service.deregister(sid)

    def kv_put(self, key: str, value: str) -> None:
        self.client.kv.put(key, value)

    def kv_delete(self, key: str) -> None:
        self.client.kv.delete(key)

    def services(self) -> dict[str, dict[str, Any]]:
        return dict(self.client.agent.services())

    def checks(self) -> dict[str, dict[str, Any]]:
        return dict(self.client.agent.checks())


def start_catalog(tmp: Path, port: int = 0) -> YurtProcess:
    port = port or free_port()
    return YurtProcess(
        ["catalog", "-dev", "-http-addr", f"127.0.0.1:{port}", "-data-dir", str(tmp / "data")],
        ready_url=f"http://127.0.0.1:{port}/v1/status/leader",
        log_path=tmp / "catalog.log",
    ).start()


@pytest.fixture(scope="module")
def consul(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    proc = start_catalog(tmp_path_factory.mktemp("catalog"))
    try:
        assert proc.ready_url is not None
        yield Catalog(proc.ready_url.split("/")[2])
    finally:
        # Short: the catalog's shutdown waits for open blocking queries (reported to the lead).
        proc.stop(timeout=3)
