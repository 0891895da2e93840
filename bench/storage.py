"""What one store transaction costs, per backend: memory, SQLite and etcd side by side.

Each backend commits the same transactions one after another, as the stores do from the
event loop (the interface is synchronous: the loop waits for each commit): a KV-sized row
with an index, and a batch of 100 rows with one index (a scheduler plan). Prints p50 and
p99 per commit in milliseconds and commits per second.

The etcd is started here (Debian's etcd-server, one member on loopback, its data in a temp
dir, as tests/support/etcd.py starts it) unless `-etcd URL` names one.

.venv/bin/python bench/storage.py [-n 1000] [-etcd http://127.0.0.1:2379]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.etcd import Etcd

from yurt.storage.etcd import EtcdBackend
from yurt.storage.interface import Backend
from yurt.storage.memory import MemoryBackend
from yurt.storage.sqlite import SQLiteBackend

ROW = {
    "key": "app/config/feature-flag",
    "value": "dHJ1ZQ==" * 8,
    "flags": 0,
    "lock_index": 0,
    "session": "",
    "create_index": 10,
    "modify_index": 11,
}


def measure(backend: Backend, n: int, rows: int) -> list[float]:
    """Seconds per commit of `n` transactions of `rows` rows each."""
    times: list[float] = []
    for i in range(n):
        start = time.perf_counter()
        with backend.transaction() as batch:
            for j in range(rows):
                batch.put("kv", f"bench/{i % 500}/{j}", ROW)
            batch.claim_index()
        times.append(time.perf_counter() - start)
    return times


def report(name: str, rows: int, times: list[float]) -> None:
    ordered = sorted(times)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    rate = len(times) / sum(times)
    print(f"{name:<8} {rows:>5} {p50:>9.3f} {p99:>9.3f} {rate:>12,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="commits per backend and size")
    parser.add_argument("-etcd", default="", help="an etcd to use instead of starting one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yurt-bench-storage-") as tmp:
        etcd: Etcd | None = None
        endpoint = args.etcd
        if not endpoint:
            etcd = Etcd(Path(tmp) / "etcd").start()
            endpoint = etcd.endpoint
        prefix = f"/bench/{time.time_ns()}"
        openers: dict[str, Callable[[], Backend]] = {
            "memory": MemoryBackend,
            "sqlite": lambda: SQLiteBackend(Path(tmp) / "state.db"),
            "etcd": lambda: EtcdBackend([endpoint], prefix),
        }
        print(f"{'backend':<8} {'rows':>5} {'p50 ms':>9} {'p99 ms':>9} {'commits/s':>12}")
        try:
            for rows in (1, 100):
                for name, opener in openers.items():
                    backend = opener()
                    try:
                        measure(backend, min(50, args.n), rows)  # warm up
                        report(name, rows, measure(backend, args.n, rows))
                    finally:
                        backend.close()
        finally:
            if etcd is not None:
                etcd.stop()


if __name__ == "__main__":
    main()
