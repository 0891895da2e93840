from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nomad
import pytest

from tests.scheduler.ops_fixture import ops as ops  # the operations' unit tests
from tests.support.process import YurtProcess, free_port


class SchedulerProcess:
    def __init__(self, tmp: Path, *extra: str) -> None:
        self.port = free_port()
        self.data_dir = tmp / "data"
        self.extra = list(extra)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = self._make()

    def _make(self) -> YurtProcess:
        return YurtProcess(
            [
                "scheduler",
                "-http-addr",
                f"127.0.0.1:{self.port}",
                "-data-dir",
                str(self.data_dir),
                *self.extra,
            ],
            ready_url=f"{self.url}/v1/agent/health",
            log_path=self.data_dir.parent / "scheduler.log",
        )

    def start(self) -> SchedulerProcess:
        self.proc = self._make()
        self.proc.start()
        return self

    def client(self) -> nomad.Nomad:
        return nomad.Nomad(host="127.0.0.1", port=self.port, timeout=15)


@pytest.fixture(scope="module")
def sched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchedulerProcess]:
    proc = SchedulerProcess(
        tmp_path_factory.mktemp("sched"), "-heartbeat-ttl", "1s", "-heartbeat-grace", "1s"
    ).start()
    try:
        yield proc
    finally:
        proc.proc.stop()


@pytest.fixture(scope="module")
def api(sched: SchedulerProcess) -> nomad.Nomad:
    return sched.client()
