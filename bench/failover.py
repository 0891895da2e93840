"""Failover of several servers on one etcd: three `yurt catalog` processes (127.0.0.1-3),
a writer doing KV PUTs through a follower, the leader killed with SIGKILL in the middle.

Prints, per round: the time from the kill to the new leader (as the survivors report it),
the longest write (the one that waited out the election), the writes acknowledged before
and after and how many of them are missing afterwards (must be 0), and the write
throughput before the kill and after the new leader was elected.

The etcd is started here (Debian's etcd-server, one member on loopback) unless `-etcd URL`
names one.

.venv/bin/python bench/failover.py [-rounds 3] [-seconds 3] [-etcd http://127.0.0.1:2379]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.etcd import Etcd
from tests.support.process import YurtProcess, free_port


@dataclass
class Writes:
    """What the writer saw: (monotonic time acknowledged, key, seconds it took)."""

    acked: list[tuple[float, str, float]] = field(default_factory=list)
    failed: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


def start_servers(tmp: Path, endpoint: str, prefix: str) -> tuple[list[YurtProcess], list[str]]:
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "agent.hcl"
    config.write_text(
        f'store {{\n  backend = "etcd"\n  endpoints = ["{endpoint}"]\n  prefix = "{prefix}"\n}}\n'
    )
    procs, urls = [], []
    for i in range(3):
        host = f"127.0.0.{i + 1}"
        port = free_port(host)
        url = f"http://{host}:{port}"
        args = ["catalog", "-http-addr", f"{host}:{port}", "-advertise", host]
        args += ["-node", f"server-{i}", "-data-dir", str(tmp / f"c{i}"), "-config", str(config)]
        proc = YurtProcess(
            args, ready_url=f"{url}/v1/status/leader", log_path=tmp / f"c{i}.log", timeout=60
        )
        procs.append(proc.start())
        urls.append(url)
    return procs, urls


def writer(url: str, writes: Writes, round_no: int) -> None:
    session = requests.Session()
    n = 0
    while not writes.stop.is_set():
        key = f"bench/{round_no}/{n:06d}"
        started = time.monotonic()
        try:
            got = session.put(f"{url}/v1/kv/{key}", data=b"x", timeout=30)
            ok = got.status_code == 200 and got.json() is True
        except (requests.RequestException, ValueError):
            ok = False
        if ok:
            writes.acked.append((time.monotonic(), key, time.monotonic() - started))
        else:
            writes.failed += 1
        n += 1


def leader_of(url: str) -> str:
    try:
        return str(requests.get(f"{url}/v1/status/leader", timeout=1).json())
    except (requests.RequestException, ValueError):
        return ""


def one_round(tmp: Path, endpoint: str, round_no: int, seconds: float) -> str:
    procs, urls = start_servers(tmp / f"r{round_no}", endpoint, f"/bench-failover/{time.time_ns()}")
    writes = Writes()
    try:
        old = leader_of(urls[2])
        thread = threading.Thread(target=writer, args=(urls[2], writes, round_no), daemon=True)
        thread.start()
        time.sleep(seconds)
        killed = time.monotonic()
        procs[0].kill()
        new = ""
        while time.monotonic() - killed < 30:
            new = leader_of(urls[1])
            if new and new != old:
                break
            time.sleep(0.02)
        elected = time.monotonic()
        time.sleep(seconds)
        writes.stop.set()
        thread.join(35)
        keys = set(requests.get(f"{urls[1]}/v1/kv/bench/{round_no}/?keys", timeout=10).json())
        before = [a for a in writes.acked if a[0] < killed]
        after = [a for a in writes.acked if a[0] >= elected]
        lost = [key for _at, key, _took in writes.acked if key not in keys]
        longest = max((took for _at, _key, took in writes.acked), default=0.0)
        rate_before = len(before) / seconds
        window = writes.acked[-1][0] - elected if after else 0.0
        rate_after = len(after) / window if window > 0 else 0.0
        return (
            f"{round_no:>5} {elected - killed:>13.2f} {longest:>15.2f} {len(writes.acked):>7} "
            f"{len(lost):>5} {writes.failed:>7} {rate_before:>13.0f} {rate_after:>12.0f}"
        )
    finally:
        writes.stop.set()
        for proc in procs:
            proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-rounds", type=int, default=3)
    parser.add_argument("-seconds", type=float, default=3.0, help="writing before and after")
    parser.add_argument("-etcd", default="", help="an etcd to use instead of starting one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yurt-bench-failover-") as tmp_name:
        tmp = Path(tmp_name)
        etcd: Etcd | None = None
        endpoint = args.etcd
        if not endpoint:
            etcd = Etcd(tmp / "etcd").start()
            endpoint = etcd.endpoint
        print(
            f"{'round':>5} {'new leader s':>13} {'longest write s':>15} {'acked':>7} "
            f"{'lost':>5} {'failed':>7} {'writes/s before':>13} {'writes/s after':>12}"
        )
        try:
            for round_no in range(1, args.rounds + 1):
                print(one_round(tmp, endpoint, round_no, args.seconds), flush=True)
        finally:
            if etcd is not None:
                etcd.stop()


if __name__ == "__main__":
    main()
