"""Allocation files are streamed in chunks: the client's memory does not grow with them.

A real catalog, scheduler and `yurt client` (processes); the requests go through the
scheduler, which forwards them to the client, as `nomad alloc fs` does.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.client.conftest import Cluster, running_cluster

ROOT = Path(__file__).resolve().parents[2]
BIG = 300 * 1024 * 1024
MB = 1024 * 1024


@pytest.fixture(scope="module")
def alloc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str, Path]]:
    with running_cluster(tmp_path_factory.mktemp("hostile-fs")) as cluster:
        cluster.run((ROOT / "jobs" / "job.sleep.nomad").read_text())
        alloc_id = cluster.wait_alloc("job-sleep", "running")["ID"]
        shared = cluster.client.data_dir / "alloc" / alloc_id / "alloc" / "data"
        shared.mkdir(parents=True, exist_ok=True)
        yield cluster, alloc_id, shared


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class _PeakRSS:
    """The highest RSS of a process while the block runs, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = _rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> _PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _big_file(shared: Path) -> Path:
    """300 MB, mostly a hole, with marks at known places to check what arrives."""
    path = shared / "big.bin"
    if not path.exists():
        with path.open("wb") as f:
            f.truncate(BIG)
            for offset in (0, 100 * MB, BIG - 5):
                f.seek(offset)
                f.write(b"MARK!")
    return path


@pytest.mark.parametrize(
    ("endpoint", "params"),
    [("cat", {}), ("readat", {"offset": "0", "limit": "-1"})],
)
def test_a_300_mb_file_is_streamed_with_bounded_memory(
    alloc: tuple[Cluster, str, Path], endpoint: str, params: dict[str, str]
) -> None:
    cluster, alloc_id, shared = alloc
    _big_file(shared)
    pid = cluster.client.proc.proc.pid
    before = _rss(pid)
    received = 0
    marks: list[int] = []
    with (
        _PeakRSS(pid) as peak,
        requests.get(
            f"{cluster.sched.url}/v1/client/fs/{endpoint}/{alloc_id}",
            params={"path": "alloc/data/big.bin", **params},
            stream=True,
            timeout=120,
        ) as resp,
    ):
        assert resp.status_code == 200
        for chunk in resp.iter_content(1 << 20):
            at = chunk.find(b"MARK!")
            if at >= 0:
                marks.append(received + at)
            received += len(chunk)
    after = _rss(pid)
    assert received == BIG
    assert marks[0] == 0 and 100 * MB in marks
    assert peak.peak - before < 50 * MB, (before, peak.peak)
    assert after - before < 50 * MB, (before, after)


def test_readat_reads_the_window_asked_for(alloc: tuple[Cluster, str, Path]) -> None:
    cluster, alloc_id, shared = alloc
    (shared / "small.txt").write_bytes(bytes(range(256)) * 1000)
    url = f"{cluster.sched.url}/v1/client/fs/readat/{alloc_id}"
    resp = requests.get(
        url, params={"path": "alloc/data/small.txt", "offset": "1000", "limit": "70000"}
    )
    assert resp.content == (bytes(range(256)) * 1000)[1000:71000]
    past_end = requests.get(
        url, params={"path": "alloc/data/small.txt", "offset": "999999", "limit": "10"}
    )
    assert past_end.status_code == 200 and past_end.content == b""
    negative = requests.get(url, params={"path": "alloc/data/small.txt", "offset": "-1"})
    assert negative.status_code == 400
    assert negative.text == "offset must be a positive value"


def test_fs_stream_sends_frames_from_an_offset_and_follows(
    alloc: tuple[Cluster, str, Path],
) -> None:
    cluster, alloc_id, shared = alloc
    path = shared / "growing.txt"
    path.write_bytes(b"0123456789")
    url = f"{cluster.sched.url}/v1/client/fs/stream/{alloc_id}"
    # Not following: the frames up to the end, from the offset asked for.
    resp = requests.get(
        url,
        params={"path": "alloc/data/growing.txt", "offset": "4", "follow": "false"},
        timeout=10,
    )
    frame = json.loads(resp.text)
    assert base64.b64decode(frame["Data"]) == b"456789"
    assert frame["Offset"] == 10 and frame["File"] == "alloc/data/growing.txt"
    # From the end, plain.
    tail = requests.get(
        url,
        params={
            "path": "alloc/data/growing.txt",
            "origin": "end",
            "offset": "3",
            "follow": "false",
            "plain": "true",
        },
        timeout=10,
    )
    assert tail.text == "789"
    # Following (the default): bytes appended later arrive on the open stream.
    got = b""
    with requests.get(
        url,
        params={"path": "alloc/data/growing.txt", "plain": "true"},
        stream=True,
        timeout=10,
    ) as follow:
        chunks = follow.iter_content(None)
        got += next(chunks)
        with path.open("ab") as f:
            f.write(b"abc")
        while len(got) < 13:
            got += next(chunks)
    assert got == b"0123456789abc"


def test_fs_stream_of_a_missing_file_is_a_400(alloc: tuple[Cluster, str, Path]) -> None:
    cluster, alloc_id, _ = alloc
    resp = requests.get(
        f"{cluster.sched.url}/v1/client/fs/stream/{alloc_id}",
        params={"path": "alloc/data/nope.txt"},
        timeout=10,
    )
    assert resp.status_code == 400
    # Nomad's text: its client stats the path before it streams
    assert resp.text == "stat alloc/data/nope.txt: no such file or directory"


def test_logs_still_stream_after_the_move_to_chunked_reads(
    alloc: tuple[Cluster, str, Path],
) -> None:
    cluster, alloc_id, _ = alloc
    logs = cluster.client.data_dir / "alloc" / alloc_id / "alloc" / "logs"
    (logs / "sleep.stdout.0").write_bytes(b"x" * 200_000 + b"END")
    resp = requests.get(
        f"{cluster.sched.url}/v1/client/fs/logs/{alloc_id}",
        params={"task": "sleep", "type": "stdout", "plain": "true"},
        timeout=20,
    )
    assert resp.status_code == 200
    assert resp.content == b"x" * 200_000 + b"END"
